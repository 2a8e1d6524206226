#!/usr/bin/env bash
# fuzz.sh - build the fuzz targets with clang (libFuzzer, ASan, UBSan) and run each for a while:
#   scripts/fuzz.sh [SECONDS]      default 60 s per target (make fuzz); make check uses 20 s
# The corpus grows in build-fuzz/corpus/ (the seeds in tests/fuzz/corpus/ stay as they are).
# An input that crashes a target is copied to tests/fuzz/regressions/<target>/, where every
# test run replays it: commit it with the fix. Ends with "fuzz: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

if ! CC=clang cmake -S . -B build-fuzz -DECL_FUZZ=ON -DECL_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
	! cmake --build build-fuzz -j "$jobs" >build-fuzz.log 2>&1; then
	grep -E 'error|Error' build-fuzz.log | head -20
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	what=${name#fuzz_}
	bin=build-fuzz/tests/$name
	if [ ! -x "$bin" ]; then
		echo "fuzz: $name did not build"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "build-fuzz/corpus/$what" "build-fuzz/crashes/$what"
	dict=()
	[ -f "tests/fuzz/$what.dict" ] && dict=(-dict="tests/fuzz/$what.dict")
	seeds=()
	[ "$what" = dsl ] && seeds=(dsl tests/dsl/ok tests/dsl/err)
	log=build-fuzz/$name.log
	if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" \
		-artifact_prefix="build-fuzz/crashes/$what/" -print_final_stats=0 \
		"build-fuzz/corpus/$what" "tests/fuzz/corpus/$what" "tests/fuzz/regressions/$what" "${seeds[@]}" \
		>"$log" 2>&1; then
		runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1)
		echo "fuzz: $name: ${runs:-done} in ${seconds}s, no crash"
		passed=$((passed + 1))
	else
		echo "fuzz: $name FAILED; its last lines:"
		tail -30 "$log"
		for c in build-fuzz/crashes/"$what"/*; do
			[ -f "$c" ] || continue
			cp "$c" "tests/fuzz/regressions/$what/"
			echo "fuzz: saved $c as tests/fuzz/regressions/$what/$(basename "$c")"
		done
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
