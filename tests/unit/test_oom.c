/*
 * test_oom.c - allocation failure injection: the N-th allocation of the runtime fails, for
 * every N until a whole run gets through. Each time the call that ran out of memory returns
 * ECL_ENOMEM (nothing else: the answers are good and SQLite's own allocations never fail
 * here), nothing crashes or leaks (in the sanitizer build a leak fails the test, see
 * tests/support/leak_check.c), no run ends failed or cancelled, and the database stays
 * intact so that the run completes once memory is back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "testhooks.h"

#define GEN    "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1\", \"word_count\": 2}"

Test(oom, every_allocation_of_a_run_may_fail, .timeout = 300)
{
	char *dir = ts_tmpdir();
	char db[4096], script[4096];
	long n;
	int completed_clean = 0;

	snprintf(script, sizeof(script), "%s/script.json", dir);
	/* the draft is repaired once: the calls a checkpoint stores are allocated too */
	ts_write(script, "{\"generate\": [[\"no JSON\", " GEN
			 "]], \"critique\": [\"Sure: ```json\\n{\\\"decision\\\": "
			 "\\\"revise\\\", \\\"feedback\\\": \\\"more\\\", \\\"quality_score\\\": "
			 "40}\\n```\", " PASS "], \"revise\": [" REV1 "]}");
	for (n = 0; n < 5000 && !completed_clean; n++) {
		ecl_options o;
		ecl_engine *e = NULL;
		char err[512], id[ECL_ID_MAX] = "";
		int rc;

		snprintf(db, sizeof(db), "%s/runs-%ld.db", dir, n);
		o = ts_options(db, script, NULL);
		ecl_test_fail_alloc_after(n);
		rc = ecl_engine_open(&o, &e, err, sizeof(err));
		if (rc == ECL_OK) {
			rc = ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}",
					   id);
			if (rc == ECL_OK)
				rc = ecl_run_drive(e, id);
			snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
			ecl_engine_close(e);
		} else {
			cr_assert_null(e);
		}
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM, "allocation %ld: status %d (%s)", n, rc,
			  err);
		if (rc == ECL_OK) {
			completed_clean = 1;
			break;
		}
		/* Whatever failed said so. */
		cr_assert(strstr(err, "out of memory") || strstr(err, strerror(ENOMEM)),
			  "allocation %ld: %s", n, err);
		/* With memory back, a run that was created finishes from its checkpoint. */
		if (id[0] && ts_sql_count(db, "SELECT count(*) FROM runs") == 1) {
			char *check = ts_sql_text(db, "PRAGMA integrity_check");
			char *status = ts_sql_text(db, "SELECT status FROM runs");

			cr_assert_str_eq(check, "ok", "allocation %ld", n);
			free(check);
			/* Never failed for good: a lack of memory is no fault of the answers. A
			 * failure after the last commit leaves the run completed. */
			cr_assert(status && (strcmp(status, "interrupted") == 0 ||
					     strcmp(status, "completed") == 0),
				  "allocation %ld: the run is %s", n, status ? status : "(none)");
			if (strcmp(status, "completed") != 0) {
				e = ts_engine(db, script, NULL);
				rc = ecl_run_drive(e, id);
				cr_assert_eq(rc, ECL_OK,
					     "allocation %ld: the run did not recover: %s", n,
					     ecl_engine_errmsg(e));
				ecl_engine_close(e);
			}
			free(status);
			cr_assert_eq(ts_sql_count(db, "SELECT count(*) FROM runs WHERE status = "
						      "'completed' AND seq = 4"),
				     1, "allocation %ld: the run did not end completed in 4 steps",
				     n);
		}
	}
	cr_assert(completed_clean, "no run got through in %ld allocations", n);
	cr_log_info("a run needs %ld allocations", n);
	ts_rmtree(dir);
	free(dir);
}

/* The same for a batch whose transitions are committed in groups: whatever allocation fails,
 * the batch ends with an error code (or completes), every run it stored is intact, and each
 * completes from its last checkpoint once memory is back. */
Test(oom, every_allocation_of_a_grouped_batch_may_fail, .timeout = 300)
{
	const char *in_[3] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}", "{\"topic\": \"c\"}"};
	char *dir = ts_tmpdir();
	char db[4096], script[4096];
	long n;
	int completed_clean = 0;

	snprintf(script, sizeof(script), "%s/script.json", dir);
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	for (n = 0; n < 20000 && !completed_clean; n++) {
		ecl_options o;
		ecl_engine *e = NULL;
		char err[512];
		int rc;

		snprintf(db, sizeof(db), "%s/runs-%ld.db", dir, n);
		o = ts_options(db, script, NULL);
		ecl_test_fail_alloc_after(n);
		rc = ecl_engine_open(&o, &e, err, sizeof(err));
		if (rc == ECL_OK) {
			/* (a run stopped by the lack of memory does not stop the batch: it
			 * returns ECL_OK once every input has a run that ended, whatever the end)
			 */
			rc = ecl_batch_drive(e, ts_workflow("critique-revise"), in_, 3, 3, NULL,
					     NULL);
			snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
			ecl_engine_close(e);
		} else {
			cr_assert_null(e);
		}
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM, "allocation %ld: status %d (%s)", n, rc,
			  err);
		if (access(db, F_OK) != 0 ||
		    ts_sql_count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs'") ==
			    0) {
			cr_assert_eq(rc, ECL_ENOMEM, "allocation %ld: no database", n);
			continue;
		}
		if (rc == ECL_OK && ts_sql_count(db, "SELECT count(*) FROM runs WHERE status = "
						     "'completed' AND seq = 4") == 3) {
			completed_clean = 1;
			break;
		}
		{
			char *check = ts_sql_text(db, "PRAGMA integrity_check");

			cr_assert(check && strcmp(check, "ok") == 0, "allocation %ld: %s", n,
				  check ? check : "the database cannot be read");
			free(check);
		}
		/* A lack of memory is no fault of the answers: it never ends a run. */
		cr_assert_eq(ts_sql_count(db, "SELECT count(*) FROM runs WHERE status NOT IN "
					      "('completed', 'interrupted')"),
			     0, "allocation %ld: a run ended %s", n,
			     ts_sql_text(db, "SELECT status FROM runs WHERE status NOT IN "
					     "('completed', 'interrupted')"));
		/* With memory back, every run that was stored finishes from its checkpoint: a
		 * run stopped by a failed allocation gave its lease up. */
		for (;;) {
			char *id =
				ts_sql_text(db, "SELECT id FROM runs WHERE status <> 'completed' "
						"ORDER BY id LIMIT 1");

			if (!id)
				break;
			e = ts_engine(db, script, NULL);
			rc = ecl_run_drive(e, id);
			cr_assert_eq(rc, ECL_OK, "allocation %ld: run %s did not recover: %s", n,
				     id, ecl_engine_errmsg(e));
			ecl_engine_close(e);
			free(id);
		}
		cr_assert_eq(ts_sql_count(db, "SELECT count(*) FROM runs WHERE status <> "
					      "'completed' OR seq <> 4"),
			     0, "allocation %ld: a run ended with a wrong number of steps", n);
	}
	cr_assert(completed_clean, "no batch got through in %ld allocations", n);
	cr_log_info("a batch of 3 needs %ld allocations", n);
	ts_rmtree(dir);
	free(dir);
}
