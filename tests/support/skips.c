/*
 * skips.c - no test may skip. Criterion counts a skipped test apart and says why only with
 * --verbose, the program exits 0 and ctest shows it as passed: a test that cannot get what it
 * needs would pass in silence. These hooks (run in the runner process, which sees every
 * test's end) print each skip with its reason, then one line that tests/CMakeLists.txt's
 * FAIL_REGULAR_EXPRESSION turns into a failure of the program; scripts/check.sh counts the
 * SKIPPED lines in its summary.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>

/* Named by every test program's link (tests/CMakeLists.txt), so that this file is linked in
 * although no test calls into it. */
int ts_skips_are_failures = 1;

/* Tests that skipped: Criterion's own count also has those --filter left out. */
static size_t skipped;

ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
	if (stats->test_status != CR_STATUS_SKIPPED)
		return;
	skipped++;
	fprintf(stderr, "SKIPPED: %s::%s: %s\n", stats->test->category, stats->test->name,
		stats->message && *stats->message ? stats->message : "(no reason given)");
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	if (skipped)
		fprintf(stderr,
			"%zu test(s) skipped: no test may skip (a test that needs a component "
			"fails without it)\n",
			skipped);
}
