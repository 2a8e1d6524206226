#!/usr/bin/env bash
# check.sh - every test of the project, as `make check` runs it:
#   1. a coverage build: all Criterion tests (unit, integration, end-to-end through the built
#      binaries), then line coverage of runtime/, generator/ and cli/ (95 % each, or it fails)
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build: all tests again
#   3. valgrind on the CLI and the generator
#   4. every fuzz target for 20 s (ECL_FUZZ_SECONDS) on its corpus
#   5. clang-format and clang-tidy on our sources
#   6. the README's first command, make demo, with the test-only packages hidden from pkg-config
# It ends with one line "check: N passed, M failed, K skipped" and exits non-zero when anything
# failed or skipped (no test may skip: one that needs a component fails without it).
# `scripts/check.sh coverage` runs step 1 only and prints branch coverage too, per directory.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=()
skipped=0
skips=()

note() { printf '\n== %s (at %d s)\n' "$*" "$SECONDS"; }
ok() { passed=$((passed + ${2:-1})); }
bad() { failed=$((failed + ${2:-1})); failures+=("$1"); }

# Run ctest in a build directory and add its counts. No test may skip: a Criterion test that
# skipped prints "SKIPPED: suite::test: reason" and fails its program (tests/support/skips.c),
# a test ctest did not run is listed as "(Not Run)" or "(Skipped)"; each is counted in
# `skipped`, failed, and its reason printed in the summary.
run_ctest() {
	local dir=$1 name=$2 log
	log=$(mktemp)
	(cd "$dir" && ctest --output-on-failure -j "$jobs") 2>&1 | tee "$log"
	local line total nfail skip
	line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
	while IFS= read -r skip; do
		[ -n "$skip" ] || continue
		skipped=$((skipped + 1))
		skips+=("$name: $skip")
	done < <(grep -aE '^SKIPPED: |\((Not Run|Skipped|Disabled)\)$' "$log" | sed -E 's/^[[:space:]]+//')
	rm -f "$log"
	if [ -z "$line" ]; then
		bad "$name: ctest did not finish"
		return
	fi
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	nfail=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
	ok "$name" $((total - nfail))
	[ "$nfail" -eq 0 ] || bad "$name: $nfail test programs failed" "$nfail"
}

configure_build() {
	local dir=$1
	shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >/dev/null &&
		cmake --build "$dir" -j "$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^(Consolidate|Scanning)'
	return "${PIPESTATUS[0]}"
}

# Coverage of runtime/ (its folders core/, store/, llm/ and net/ together), generator/ and
# cli/, each directory apart: lines, and with "branches" also branches ("coverage: runtime/
# lines: 95.1% (2600 out of 2734)"). Each directory must keep ECL_COVERAGE_MIN (95) % of its
# lines; below it, or when gcovr itself fails, the check fails.
coverage_report() {
	local d out line pct min=${ECL_COVERAGE_MIN:-95}
	note "coverage of runtime/, generator/ and cli/ (at least $min % of the lines of each)"
	# (the test programs' own counts go; those of ecl_oom, the command built for the tests'
	# out-of-memory sweeps from the sources of cli/, count)
	find build-check -name '*.gcda' -path '*tests*' ! -path '*/ecl_oom.dir/*' -delete
	for d in runtime generator cli; do
		# (the report goes to a file of its own: gcovr 5 deletes the file -o names after
		# checking that it can write it, and as root that would be /dev/null itself)
		if ! out=$(gcovr -r . build-check --filter "$d/" --exclude-unreachable-branches \
			--print-summary -o "build-check/coverage-$d.txt" 2>&1); then
			echo "$out"
			bad "coverage: gcovr failed on $d/"
			continue
		fi
		grep -E "^(lines${1:+|$1}):" <<<"$out" | sed "s|^|coverage: $d/ |"
		line=$(grep -E '^lines: [0-9.]+%' <<<"$out")
		if [ -z "$line" ]; then
			echo "$out"
			bad "coverage: gcovr printed no line coverage for $d/"
			continue
		fi
		pct=$(sed -E 's/^lines: ([0-9.]+)%.*/\1/' <<<"$line")
		if awk -v p="$pct" -v m="$min" 'BEGIN { exit !(p >= m) }'; then
			ok "coverage of $d/"
		else
			bad "coverage: $d/ has $pct % of its lines covered, below $min %"
		fi
	done
}

note "coverage build: build-check"
if configure_build build-check -DECL_COVERAGE=ON; then
	find build-check -name '*.gcda' -delete
	run_ctest build-check "tests (coverage build)"
	if [ "${1:-}" = coverage ]; then coverage_report branches; else coverage_report; fi
else
	bad "the coverage build failed"
fi
if [ "${1:-}" = coverage ]; then
	for f in "${skips[@]}"; do echo "SKIPPED (a failure: no test may skip): $f"; done
	for f in "${failures[@]}"; do echo "FAILED: $f"; done
	echo "coverage: $passed passed, $failed failed, $skipped skipped"
	exit $((failed + skipped > 0))
fi

note "sanitizer build: build-asan (AddressSanitizer, UndefinedBehaviorSanitizer)"
if configure_build build-asan -DECL_SANITIZE=ON; then
	ASAN_OPTIONS=detect_leaks=1 run_ctest build-asan "tests (sanitizer build)"
else
	bad "the sanitizer build failed"
fi

note "valgrind"
vdb=$(mktemp -d)
if valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	build-check/ecl --db "$vdb/v.db" run critique-revise --topic "valgrind" >/dev/null; then
	ok "valgrind ecl run"
else
	bad "valgrind: ecl run"
fi
printf '{"topic": "one"}\n{"topic": "two"}\n' >"$vdb/in.jsonl"
if valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	build-check/ecl --db "$vdb/v.db" batch "$vdb/in.jsonl" --workflow critique-revise \
	--concurrency 2 >/dev/null; then
	ok "valgrind ecl batch (the network module loaded)"
else
	bad "valgrind: ecl batch"
fi
if valgrind -q --error-exitcode=9 --leak-check=full build-check/eclc --check dsl/*.ecl; then
	ok "valgrind eclc"
else
	bad "valgrind: eclc"
fi
rm -rf "$vdb"

note "fuzzing: every target for ${ECL_FUZZ_SECONDS:-20} s"
if fuzz_out=$(scripts/fuzz.sh "${ECL_FUZZ_SECONDS:-20}"); then
	echo "$fuzz_out"
	ok "fuzz" "$(grep -c 'no crash' <<<"$fuzz_out")"
else
	echo "$fuzz_out"
	bad "fuzz: a target crashed (the input is saved under tests/fuzz/regressions/)"
fi

# make demo must need the build packages only (scripts/deps.sh build): a brand-new machine has
# nothing else when it runs it. The .pc files of the test-only packages are hidden from
# pkg-config, so a configure step that reaches for one of them fails here as it would there.
note "make demo with the test-only packages hidden from pkg-config"
pcdir=$(mktemp -d)
for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
	for f in "$d"/*.pc; do [ -e "$f" ] && ln -sf "$f" "$pcdir/"; done
done
for p in $(scripts/deps.sh list test-only); do
	dpkg -L "$p" 2>/dev/null | grep '\.pc$' | while read -r f; do rm -f "$pcdir/$(basename "$f")"; done
done
if [ -e "$pcdir/criterion.pc" ]; then
	bad "make demo: criterion.pc could not be hidden"
elif PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_PATH= make --no-print-directory demo BUILD=build-demo \
	TOPIC="check" >"$pcdir.log" 2>&1 && grep -q "completed successfully" "$pcdir.log"; then
	ok "make demo (build packages only)"
else
	tail -n 30 "$pcdir.log"
	bad "make demo with the test-only packages hidden"
fi
rm -rf "$pcdir" "$pcdir.log"

note "clang-format"
mapfile -t sources < <(git ls-files '*.c' '*.h' | grep -v '^generated/')
if clang-format --dry-run -Werror "${sources[@]}"; then
	ok "clang-format"
else
	bad "clang-format: run make format"
fi

note "clang-tidy"
mapfile -t units < <(git ls-files 'runtime/*.c' 'generator/*.c' 'cli/*.c')
tidy_out=$(clang-tidy -p build-check --quiet "${units[@]}" 2>&1)
if grep -E 'warning:|error:' <<<"$tidy_out"; then
	bad "clang-tidy"
else
	ok "clang-tidy"
fi

note "summary"
for f in "${skips[@]}"; do echo "SKIPPED (a failure: no test may skip): $f"; done
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "check: $passed passed, $failed failed, $skipped skipped, in $SECONDS s"
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
