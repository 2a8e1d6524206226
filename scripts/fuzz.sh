#!/usr/bin/env bash
# fuzz.sh - build the fuzz targets and run each for a while:
#   scripts/fuzz.sh [SECONDS]        libFuzzer (clang, ASan, UBSan) in build-fuzz/; default 60 s
#                                    per target (make fuzz); make check uses 20 s
#   scripts/fuzz.sh --afl [SECONDS]  the same targets built with afl-clang-fast (AFL++, ASan,
#                                    UBSan) in build-afl/, run by afl-fuzz (make fuzz-afl)
# The corpus grows in build-fuzz/corpus/ or build-afl/out/ (the seeds in tests/fuzz/corpus/ stay
# as they are). An input that crashes a target is copied to tests/fuzz/regressions/<target>/,
# where every test run replays it: commit it with the fix. Ends with "fuzz: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
engine=libfuzzer
if [ "${1:-}" = --afl ]; then
	engine=afl
	shift
fi
seconds=${1:-60}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

if [ "$engine" = afl ]; then
	dir=build-afl
	cc=afl-clang-fast
	if ! command -v afl-fuzz >/dev/null || ! command -v "$cc" >/dev/null; then
		echo "fuzz: AFL++ is missing: scripts/deps.sh afl installs it (Debian package afl++)"
		echo "fuzz: 0 passed, 1 failed"
		exit 1
	fi
	export AFL_QUIET=1
	buildlog=$dir/build.log
else
	dir=build-fuzz
	cc=clang
	buildlog=$dir.log
fi

if ! CC=$cc cmake -S . -B "$dir" -DECL_FUZZ=ON -DECL_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
	! cmake --build "$dir" -j "$jobs" >"$buildlog" 2>&1; then
	grep -E 'error|Error' "$buildlog" | head -20
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

# Keep an input that crashed a target as a regression test.
save_crash() {
	local what=$1 c=$2 name
	name=$(basename "$c")
	[ "$engine" = afl ] && name=afl-$(sha1sum "$c" | cut -c1-16)
	cp "$c" "tests/fuzz/regressions/$what/$name"
	echo "fuzz: saved $c as tests/fuzz/regressions/$what/$name"
}

# libFuzzer: one process per target, the seed directories as its corpus.
run_libfuzzer() {
	local name=$1 what=$2 bin=$3 log=$4
	shift 4
	mkdir -p "$dir/corpus/$what" "$dir/crashes/$what"
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "$@" \
		-artifact_prefix="$dir/crashes/$what/" -print_final_stats=0 \
		"$dir/corpus/$what" "${seeds[@]}" >"$log" 2>&1
	local rc=$?
	runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1)
	for c in "$dir"/crashes/"$what"/*; do
		[ -f "$c" ] && save_crash "$what" "$c"
	done
	return $rc
}

# AFL++: afl-fuzz with one input directory made of the seeds; crashes are files in its output.
run_afl() {
	local name=$1 what=$2 bin=$3 log=$4
	shift 4
	local in=$dir/in/$what out=$dir/out/$what
	rm -rf "$in" "$out"
	mkdir -p "$in" "$dir/out"
	for d in "${seeds[@]}"; do
		for f in "$d"/*; do
			[ -f "$f" ] && [ -s "$f" ] && cp "$f" "$in/$(basename "$d")-$(basename "$f")"
		done
	done
	AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
		AFL_NO_AFFINITY=1 ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=1 \
		afl-fuzz -V "$seconds" -m none -t 10000 "$@" -i "$in" -o "$out" -- "$bin" \
		>"$log" 2>&1
	local rc=$? crashes=0
	runs=$(grep -oE 'execs_done *: *[0-9]+' "$out/default/fuzzer_stats" 2>/dev/null |
		grep -oE '[0-9]+$')
	[ -n "$runs" ] && runs="Done $runs runs"
	for c in "$out"/default/crashes/id:*; do
		[ -f "$c" ] || continue
		save_crash "$what" "$c"
		crashes=$((crashes + 1))
	done
	[ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]
}

for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	what=${name#fuzz_}
	bin=$dir/tests/$name
	if [ ! -x "$bin" ]; then
		echo "fuzz: $name did not build"
		failed=$((failed + 1))
		continue
	fi
	dict=()
	if [ -f "tests/fuzz/$what.dict" ]; then
		if [ "$engine" = afl ]; then dict=(-x "tests/fuzz/$what.dict"); else dict=(-dict="tests/fuzz/$what.dict"); fi
	fi
	seeds=("tests/fuzz/corpus/$what" "tests/fuzz/regressions/$what")
	[ "$what" = dsl ] && seeds+=(dsl tests/dsl/ok tests/dsl/err)
	log=$dir/$name.log
	runs=
	if "run_$engine" "$name" "$what" "$bin" "$log" "${dict[@]}"; then
		echo "fuzz: $name ($engine): ${runs:-done} in ${seconds}s, no crash"
		passed=$((passed + 1))
	else
		echo "fuzz: $name ($engine) FAILED; its last lines:"
		tail -30 "$log"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
