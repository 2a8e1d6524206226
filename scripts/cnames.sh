#!/usr/bin/env bash
# cnames.sh - list the names a code step's C function cannot have (generator/cnames.c): every
# identifier of the system's headers and of the compilers' own (with the f, l, f128... forms
# of each refused one), declared as `int NAME(ecl_call *);` after `#include "ecl.h"` and
# compiled with gcc and clang in C11, GNU11 with _GNU_SOURCE, and C2x, warnings as errors. A
# name is printed, one a line and sorted, when one of them refuses it. Names with `__`, or
# beginning with `_` or `ecl_`, are refused by rule and left out. C's keywords (C11 and C23)
# are added by hand in cnames.c. Takes a few minutes:
#   scripts/cnames.sh >names.txt
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
modes=("gcc -std=c11" "gcc -std=gnu11 -D_GNU_SOURCE" "clang -std=c11" "clang -std=gnu11 -D_GNU_SOURCE"
	"gcc -std=c2x" "clang -std=c2x")

# The names of list $1 that some mode refuses, compiled all at once (one declaration a line,
# so the line of each error names the culprit).
refused_batch() {
	local m limit
	{
		echo '#include "ecl.h"'
		sed 's/.*/int &(ecl_call *);/' "$1"
	} >"$tmp/t.c"
	for m in "${modes[@]}"; do
		case $m in gcc*) limit=-fmax-errors=0 ;; *) limit=-ferror-limit=0 ;; esac
		$m $limit -fsyntax-only -Wall -Wextra -Werror -pedantic -Iruntime "$tmp/t.c" 2>&1 |
			grep -oE '^[^ :]*t\.c:[0-9]+:[0-9]+: (error|warning)' |
			sed -E 's/^[^ :]*t\.c:([0-9]+):.*/\1/' |
			while read -r l; do sed -n "$((l - 1))p" "$1"; done
	done | sort -u
}

# Of list $1, the names some mode refuses alone (an error may follow from the line before).
refused_alone() {
	local n m
	while read -r n; do
		printf '#include "ecl.h"\nint %s(ecl_call *);\n' "$n" >"$tmp/one.c"
		for m in "${modes[@]}"; do
			if ! $m -fsyntax-only -Wall -Wextra -Werror -pedantic -Iruntime "$tmp/one.c" \
				2>/dev/null; then
				echo "$n"
				break
			fi
		done
	done <"$1"
}

headers=(/usr/include/*.h /usr/include/*/bits/*.h /usr/include/*/sys/*.h
	/usr/lib/gcc/*/*/include/*.h /usr/lib/llvm-*/lib/clang/*/include/*.h)
cat "${headers[@]}" 2>/dev/null | grep -oE '\b[A-Za-z][A-Za-z0-9_]*\b' |
	grep -vE '__|^[Ee][Cc][Ll]_' | LC_ALL=C sort -u >"$tmp/cand"
refused_batch "$tmp/cand" >"$tmp/batch"
refused_alone "$tmp/batch" >"$tmp/found"
# the float, long double and _FloatN forms of a refused name, which macros make
LC_ALL=C sort -u "$tmp/found" -o "$tmp/found"
while read -r n; do
	for s in f l f128 f32 f64 f32x f64x _r; do echo "$n$s"; done
done <"$tmp/found" | LC_ALL=C sort -u | LC_ALL=C comm -23 - "$tmp/found" >"$tmp/more"
refused_batch "$tmp/more" >"$tmp/batch2"
refused_alone "$tmp/batch2" >>"$tmp/found"
LC_ALL=C sort -u "$tmp/found"
