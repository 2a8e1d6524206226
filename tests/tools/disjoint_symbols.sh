#!/bin/sh
# disjoint_symbols.sh LIB_A LIB_B - fail when a global symbol is defined in both static
# libraries: a program that links both (the tests link libecl and libeclc_core) would get
# whichever object the linker pulled in first, or a duplicate definition, for that name.
set -eu
defined() {
	nm --defined-only "$1" | awk 'NF == 3 && $2 ~ /^[A-Z]$/ { print $3 }' | sort -u
}
a=$(mktemp) b=$(mktemp)
trap 'rm -f "$a" "$b"' EXIT
defined "$1" >"$a"
defined "$2" >"$b"
if [ ! -s "$a" ] || [ ! -s "$b" ]; then
	echo "disjoint_symbols: no defined symbol in $1 or $2" >&2
	exit 1
fi
common=$(comm -12 "$a" "$b")
if [ -n "$common" ]; then
	echo "defined in both $1 and $2:" >&2
	echo "$common" >&2
	exit 1
fi
echo "no symbol defined in both $(basename "$1") ($(wc -l <"$a")) and $(basename "$2") ($(wc -l <"$b"))"
