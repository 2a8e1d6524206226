/*
 * test_oom_lifecycle.c - allocation failure injection in what other processes do to runs:
 * snapshots, listings, histories with their prompts, forks, pause and cancel requests,
 * prune, and the check of inputs. For every N until the call gets through, the N-th
 * allocation of the runtime fails; the call must return ECL_ENOMEM, never crash or leak (in
 * the sanitizer build a leak fails the test, see tests/support/leak_check.c), and leave
 * every table of the database as it was (a resume keeps the checkpoints it made), so the
 * same call succeeds once memory is back.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "testhooks.h"

#define GEN    "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1\", \"word_count\": 2}"

static char *dir;
static char db[4096], script[4096];
static char done_id[ECL_ID_MAX], idle_id[ECL_ID_MAX];

static void setup(void)
{
	ecl_engine *e;

	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(script, sizeof(script), "%s/script.json", dir);
	/* the done run's draft is repaired once: its history has calls to read */
	ts_write(script, "{\"generate\": [[\"no JSON\", " GEN "], " GEN "], \"critique\": [" REVISE
			 ", " PASS "], \"revise\": [" REV1 "]}");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(
		ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", done_id),
		ECL_OK);
	cr_assert_eq(ecl_run_drive(e, done_id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(
		ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"u\"}", idle_id),
		ECL_OK);
	ecl_engine_close(e); /* idle_id: interrupted, never driven */
}

static void teardown(void)
{
	ecl_test_fail_alloc_after(-1);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(oom_lifecycle, .init = setup, .fini = teardown);

typedef int (*call_fn)(ecl_engine *e, void *ctx);

/* The ctx of calls that have no engine to leave their detail on. */
#define NO_DETAIL ((void *)1)

/* What a call may do to the database. */
enum {
	READS,     /* nothing, even when it succeeds */
	WRITES,    /* its change once it succeeds; nothing when it fails */
	PROGRESSES /* a resume: the checkpoints it committed before memory ran out stay */
};

/* Fail the n-th allocation of `call` for every n until it succeeds: every failure is
 * ECL_ENOMEM with a detail, and (but for a resume) leaves every table as it was. */
static void sweep(const char *what, call_fn call, void *ctx, int writes)
{
	ecl_engine *e = ts_engine(db, script, NULL);
	char *before = ts_sql_dump(db);
	long n;
	int rc = -1;

	for (n = 0; n < 20000; n++) {
		ecl_test_fail_alloc_after(n);
		rc = call(e, ctx);
		ecl_test_fail_alloc_after(-1);
		if (rc == ECL_OK)
			break;
		cr_assert_eq(rc, ECL_ENOMEM, "%s, allocation %ld: status %d (%s)", what, n, rc,
			     ecl_engine_errmsg(e));
		if (ctx != NO_DETAIL)
			cr_assert(strstr(ecl_engine_errmsg(e), "out of memory"),
				  "%s, allocation %ld: the detail is \"%s\"", what, n,
				  ecl_engine_errmsg(e));
		if (writes != PROGRESSES) {
			char *after = ts_sql_dump(db);

			cr_assert_str_eq(
				after, before,
				"%s, allocation %ld: the database changed from\n%s\nto\n%s", what,
				n, before, after);
			free(after);
		}
	}
	cr_assert_eq(rc, ECL_OK, "%s never got through: %s", what, ecl_engine_errmsg(e));
	cr_log_info("%s needs %ld allocations", what, n);
	ecl_engine_close(e);
	{
		char *check = ts_sql_text(db, "PRAGMA integrity_check");
		char *after = ts_sql_dump(db);

		cr_assert_str_eq(check, "ok");
		free(check);
		if (writes == READS)
			cr_assert_str_eq(after, before, "%s changed the database", what);
		else
			cr_assert_str_neq(after, before, "%s did not change the database", what);
		free(after);
	}
	free(before);
}

static int count_run(void *ctx, const ecl_run_info *info)
{
	(*(int *)ctx)++;
	return info->step_count < 0;
}

static int count_entry(void *ctx, const ecl_history_entry *h)
{
	(*(int *)ctx)++;
	return h->seq < 0;
}

static int do_info(ecl_engine *e, void *ctx)
{
	ecl_run_info *info = NULL;
	int rc = ecl_run_info_get(e, done_id, &info);

	if (rc == ECL_OK) {
		cr_assert_eq(info->step_count, 4);
		cr_assert_eq(info->revisions, 1);
	} else {
		cr_assert_null(info);
	}
	ecl_run_info_free(info);
	return rc;
}

static int do_list(ecl_engine *e, void *ctx)
{
	int n = 0, rc = ecl_run_list(e, NULL, count_run, &n);

	cr_assert(rc != ECL_OK || n == 2, "listed %d", n);
	return rc;
}

static int do_history(ecl_engine *e, void *ctx)
{
	int n = 0, rc = ecl_run_history(e, done_id, 1, count_entry, &n);

	/* the done run's 4 steps, no more, no less */
	cr_assert(rc != ECL_OK || n == 4, "history of %d entries", n);
	return rc;
}

static int do_fork(ecl_engine *e, void *ctx)
{
	char id[ECL_ID_MAX];

	return ecl_run_fork(e, done_id, 2, id);
}

static int do_pause(ecl_engine *e, void *ctx)
{
	int applied = -1, rc = ecl_run_pause(e, idle_id, &applied);

	/* the run is interrupted, not running: the pause applies at once */
	cr_assert(rc != ECL_OK || applied == 1, "applied %d", applied);
	return rc;
}

static int do_prune(ecl_engine *e, void *ctx)
{
	int count = -1, rc = ecl_prune(e, NULL, 0, &count);

	/* the done run goes, the idle one stays */
	cr_assert(rc != ECL_OK || count == 1, "pruned %d runs", count);
	return rc;
}

static int do_prune_dry_run(ecl_engine *e, void *ctx)
{
	int count = -1, rc = ecl_prune(e, NULL, 1, &count);

	cr_assert(rc != ECL_OK || count == 1, "would prune %d runs", count);
	return rc;
}

static int do_check_inputs(ecl_engine *e, void *ctx)
{
	char err[256];
	int rc =
		ecl_workflow_check_inputs(ts_workflow("critique-revise"),
					  "{\"topic\": \"t\", \"min_words\": 3}", err, sizeof(err));

	/* the inputs are good: a failure is the lack of memory, and says so */
	if (rc != ECL_OK)
		cr_assert(strstr(err, "out of memory"), "status %d: %s", rc, err);
	return rc;
}

static int do_resume(ecl_engine *e, void *ctx)
{
	int rc = ecl_run_drive(e, idle_id);

	/* a failed resume leaves the run interrupted, never failed; the next one goes on from
	 * there */
	if (rc != ECL_OK) {
		char *status = ts_sql_text(db, "SELECT status FROM runs WHERE id = (SELECT max(id) "
					       "FROM runs)");

		cr_assert_str_eq(status, "interrupted", "after status %d (%s)", rc,
				 ecl_engine_errmsg(e));
		free(status);
	}
	return rc;
}

Test(oom_lifecycle, snapshots)
{
	sweep("ecl_run_info_get", do_info, NULL, READS);
}

Test(oom_lifecycle, listings)
{
	sweep("ecl_run_list", do_list, NULL, READS);
}

Test(oom_lifecycle, histories_with_prompts)
{
	sweep("ecl_run_history", do_history, NULL, READS);
}

Test(oom_lifecycle, forks)
{
	sweep("ecl_run_fork", do_fork, NULL, WRITES);
}

Test(oom_lifecycle, requests)
{
	sweep("ecl_run_pause", do_pause, NULL, WRITES);
}

Test(oom_lifecycle, prune)
{
	sweep("ecl_prune", do_prune, NULL, WRITES);
}

Test(oom_lifecycle, prune_dry_run)
{
	sweep("ecl_prune (dry run)", do_prune_dry_run, NULL, READS);
}

Test(oom_lifecycle, input_checks)
{
	sweep("ecl_workflow_check_inputs", do_check_inputs, NO_DETAIL, READS);
}

Test(oom_lifecycle, resumes)
{
	char *status;

	sweep("ecl_run_drive (resume)", do_resume, NULL, PROGRESSES);
	status = ts_sql_text(db, "SELECT status FROM runs WHERE id = (SELECT max(id) FROM runs)");
	cr_assert_str_eq(status, "completed");
	free(status);
}
