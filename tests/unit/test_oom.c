/*
 * test_oom.c - allocation failure injection: the N-th allocation of the runtime fails, for
 * every N until a whole run gets through. Each time the run must end with an error code (or
 * succeed), never crash or leak (the sanitizer build checks leaks), and the database must
 * stay intact so that the run completes once memory is back.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	ts_write(script,
		 "{\"generate\": [" GEN "], \"critique\": [\"Sure: ```json\\n{\\\"decision\\\": "
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
			ecl_engine_close(e);
		} else {
			cr_assert_null(e);
		}
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM || rc == ECL_EINPUT ||
				  rc == ECL_EINTERRUPTED || rc == ECL_ESTORE ||
				  rc == ECL_EPROVIDER || rc == ECL_EANSWER || rc == ECL_EFAILED ||
				  rc == ECL_EUSAGE,
			  "allocation %ld: status %d", n, rc);
		if (rc == ECL_OK) {
			completed_clean = 1;
			break;
		}
		/* With memory back, a run that was created finishes from its checkpoint. */
		if (id[0] && ts_sql_int(db, "SELECT count(*) FROM runs") == 1) {
			char *check = ts_sql_text(db, "PRAGMA integrity_check");

			cr_assert_str_eq(check, "ok");
			free(check);
			e = ts_engine(db, script, NULL);
			rc = ecl_run_drive(e, id);
			/* Never failed for good: a lack of memory is no fault of the answers. */
			cr_assert(rc == ECL_OK || rc == ECL_ESTATE,
				  "allocation %ld: the run did not recover: %s", n,
				  ecl_engine_errmsg(e));
			ecl_engine_close(e);
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
			rc = ecl_batch_drive(e, ts_workflow("critique-revise"), in_, 3, 3, NULL,
					     NULL);
			ecl_engine_close(e);
		} else {
			cr_assert_null(e);
		}
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM || rc == ECL_ESTORE ||
				  rc == ECL_EINTERRUPTED || rc == ECL_EINPUT || rc == ECL_EUSAGE,
			  "allocation %ld: status %d", n, rc);
		if (rc == ECL_OK && ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = "
						   "'completed' AND seq = 4") == 3) {
			completed_clean = 1;
			break;
		}
		if (ts_sql_int(db, "SELECT count(*) FROM runs") > 0) {
			char *check = ts_sql_text(db, "PRAGMA integrity_check");

			cr_assert_str_eq(check, "ok");
			free(check);
		}
		/* With memory back, every run that was stored finishes from its checkpoint: a
		 * run stopped by a failed allocation gave its lease up. */
		for (;;) {
			char *id = ts_sql_text(db, "SELECT id FROM runs WHERE status NOT IN "
						   "('completed', 'failed') ORDER BY id LIMIT 1");

			if (!id)
				break;
			e = ts_engine(db, script, NULL);
			rc = ecl_run_drive(e, id);
			cr_assert(rc == ECL_OK || rc == ECL_EFAILED,
				  "allocation %ld: run %s did not recover: %s", n, id,
				  ecl_engine_errmsg(e));
			ecl_engine_close(e);
			free(id);
		}
		cr_assert_leq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed' "
					     "AND seq <> 4"),
			      0, "allocation %ld: a run ended with a wrong number of steps", n);
	}
	cr_assert(completed_clean, "no batch got through in %ld allocations", n);
	cr_log_info("a batch of 3 needs %ld allocations", n);
	ts_rmtree(dir);
	free(dir);
}
