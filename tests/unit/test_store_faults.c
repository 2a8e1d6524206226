/*
 * test_store_faults.c - one statement of a store transaction failing, the others having
 * succeeded: a trigger added to the database by hand makes a chosen statement fail at run
 * time (SQLite's "integer overflow" from abs() of the smallest integer). Each transaction
 * must fail whole, naming the file, and leave the database as it was: a commit whose run
 * update fails keeps no checkpoint, a fork whose copy fails leaves no run, a prune whose
 * delete fails removes nothing, a pause whose update fails changes nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define GEN   "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS  "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define FAULT "SELECT abs(-9223372036854775808)" /* fails when it runs */

static char *dir;
static char db[4096], script[4096];

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(script, sizeof(script), "%s/script.json", dir);
	ts_write(script, "{\"generate\": [" GEN ", " GEN "], \"critique\": [" PASS ", " PASS "]}");
}

static void teardown(void)
{
	ts_rmtree(dir);
	free(dir);
}

TestSuite(store_faults, .init = setup, .fini = teardown);

/* A trigger that makes `event` (e.g. "BEFORE INSERT ON steps") fail when `when` holds. */
static void fault_on(const char *event, const char *when)
{
	char text[512];

	snprintf(text, sizeof(text), "CREATE TRIGGER fault %s WHEN %s BEGIN " FAULT "; END", event,
		 when);
	ts_sql(db, text);
}

static void expect_failure(ecl_engine *e, int rc, const char *what)
{
	cr_assert_eq(rc, ECL_ESTORE, "%s: status %d (%s)", what, rc, ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), db), "%s: %s", what, ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "integer overflow"), "%s: %s", what,
		  ecl_engine_errmsg(e));
}

static long long count(const char *query)
{
	return ts_sql_int(db, query);
}

static void expect_intact(void)
{
	char *check = ts_sql_text(db, "PRAGMA integrity_check");

	cr_assert_str_eq(check, "ok");
	free(check);
	cr_assert_eq(count("SELECT count(*) FROM runs r WHERE seq != (SELECT count(*) FROM steps s "
			   "WHERE s.run_id = r.id)"),
		     0, "a run and its checkpoints disagree");
}

static char *status_of(const char *id)
{
	char q[128];

	snprintf(q, sizeof(q), "SELECT status FROM runs WHERE id = '%s'", id);
	return ts_sql_text(db, q);
}

/* Start a critique-revise run of the inputs in e, its id in id; the test fails if it cannot. */
static void start_run(ecl_engine *e, const char *inputs, char *id)
{
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), inputs, id), ECL_OK, "%s",
		     ecl_engine_errmsg(e));
}

/* Check that run id has that status. */
static void expect_status(const char *id, const char *want)
{
	char *st = status_of(id);

	cr_assert_str_eq(st, want);
	free(st);
}

Test(store_faults, a_commit_whose_checkpoint_cannot_be_written_changes_nothing)
{
	ecl_engine *e = ts_engine(db, script, NULL);
	char id[ECL_ID_MAX];

	start_run(e, "{\"topic\": \"t\"}", id);
	fault_on("BEFORE INSERT ON steps", "1");
	expect_failure(e, ecl_run_drive(e, id), "commit");
	cr_assert_eq(count("SELECT count(*) FROM steps"), 0);
	cr_assert_eq(count("SELECT seq FROM runs"), 0);
	expect_intact();
	ts_sql(db, "DROP TRIGGER fault");
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
}

Test(store_faults, a_commit_whose_run_cannot_be_updated_keeps_no_checkpoint)
{
	ecl_engine *e = ts_engine(db, script, NULL);
	char id[ECL_ID_MAX];

	start_run(e, "{\"topic\": \"t\"}", id);
	fault_on("BEFORE UPDATE ON runs", "NEW.seq > OLD.seq");
	expect_failure(e, ecl_run_drive(e, id), "commit");
	cr_assert_eq(count("SELECT count(*) FROM steps"), 0, "the checkpoint was rolled back");
	cr_assert_eq(count("SELECT seq FROM runs"), 0);
	expect_intact();
	ts_sql(db, "DROP TRIGGER fault");
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	expect_status(id, "completed");
	ecl_engine_close(e);
}

Test(store_faults, a_pause_that_cannot_be_recorded_changes_nothing)
{
	ecl_engine *e = ts_engine(db, script, NULL), *other;
	char idle[ECL_ID_MAX], live[ECL_ID_MAX];

	/* idle: nobody drives it (its lease is given up); live: its lease is held */
	start_run(e, "{\"topic\": \"a\"}", idle);
	ecl_engine_close(e);
	{
		char q[256];

		snprintf(q, sizeof(q), "UPDATE runs SET lease_until_ms = 0 WHERE id = '%s'", idle);
		ts_sql(db, q);
	}
	e = ts_engine(db, script, NULL);
	start_run(e, "{\"topic\": \"b\"}", live);
	other = ts_engine(db, script, NULL);
	fault_on("BEFORE UPDATE ON runs", "NEW.status != OLD.status OR NEW.request IS NOT NULL");
	expect_failure(other, ecl_run_pause(other, idle, NULL), "pause of an idle run");
	expect_failure(other, ecl_run_cancel(other, live, NULL), "cancel of a driven run");
	expect_status(idle, "interrupted");
	cr_assert_eq(count("SELECT count(*) FROM runs WHERE request IS NOT NULL"), 0);
	cr_assert_eq(count("SELECT count(*) FROM notes"), 0, "no note of a request not made");
	ts_sql(db, "DROP TRIGGER fault");
	cr_assert_eq(ecl_run_pause(other, idle, NULL), ECL_OK, "%s", ecl_engine_errmsg(other));
	ecl_engine_close(other);
	ecl_engine_close(e);
}

Test(store_faults, a_fork_whose_checkpoints_cannot_be_copied_leaves_no_run)
{
	ecl_engine *e = ts_engine(db, script, NULL);
	char id[ECL_ID_MAX], copy[ECL_ID_MAX];

	start_run(e, "{\"topic\": \"t\"}", id);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	fault_on("BEFORE INSERT ON steps", "1");
	expect_failure(e, ecl_run_fork(e, id, 1, copy), "fork");
	cr_assert_eq(count("SELECT count(*) FROM runs"), 1, "the new run was rolled back");
	expect_intact();
	ts_sql(db, "DROP TRIGGER fault");
	fault_on("BEFORE INSERT ON runs", "1");
	expect_failure(e, ecl_run_fork(e, id, 1, copy), "fork");
	cr_assert_eq(count("SELECT count(*) FROM runs"), 1);
	cr_assert_eq(count("SELECT count(*) FROM steps"), 2, "no checkpoint was copied");
	ts_sql(db, "DROP TRIGGER fault");
	cr_assert_eq(ecl_run_fork(e, id, 1, copy), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(count("SELECT count(*) FROM runs"), 2);
	ecl_engine_close(e);
}

Test(store_faults, a_prune_whose_delete_fails_removes_nothing)
{
	static const char *const completed[] = {"completed"};
	ecl_run_filter f = {completed, 1, NULL, 0, 0};
	ecl_engine *e = ts_engine(db, script, NULL);
	char id[ECL_ID_MAX];
	int n = -1;

	start_run(e, "{\"topic\": \"t\"}", id);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	fault_on("BEFORE DELETE ON runs", "1");
	expect_failure(e, ecl_prune(e, &f, 0, &n), "prune");
	cr_assert_eq(count("SELECT count(*) FROM runs"), 1);
	cr_assert_eq(count("SELECT count(*) FROM steps"), 2, "its checkpoints are kept too");
	expect_intact();
	ts_sql(db, "DROP TRIGGER fault");
	cr_assert_eq(ecl_prune(e, &f, 0, &n), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(n, 1);
	cr_assert_eq(count("SELECT count(*) FROM runs"), 0);
	ecl_engine_close(e);
}

/* A database another program changed so that a statement of the store no longer prepares (a
 * trigger on a table that does not exist): statements are prepared on first use, so the
 * database opens, and the transition that needs the statement fails naming the file and the
 * reason, committing nothing; once the trigger is gone the same engine drives the run on. */
Test(store_faults, a_statement_that_does_not_prepare_fails_its_transition)
{
	ecl_options o = ts_options(db, script, NULL);
	ecl_engine *e = ts_open(&o);
	char id[ECL_ID_MAX];

	ecl_engine_close(e);
	ts_sql(db, "CREATE TRIGGER other_program AFTER INSERT ON steps BEGIN INSERT INTO elsewhere "
		   "VALUES "
		   "(1); "
		   "END");
	e = ts_open(&o);
	start_run(e, "{\"topic\": \"t\"}", id);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTORE, "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), db), "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "no such table: main.elsewhere"), "%s",
		  ecl_engine_errmsg(e));
	cr_assert_eq(count("SELECT count(*) FROM steps"), 0);
	expect_intact();
	ts_sql(db, "DROP TRIGGER other_program");
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
}

typedef struct prep_case {
	const char *trigger; /* the event of a trigger on a table that does not exist */
	int what;            /* 0 drive an idle run, 1 pause it, 2 start a run, 3 a batch of 3 */
} prep_case;

static int on_batch_end(void *ctx, const ecl_batch_end *end)
{
	cr_assert_str_eq(end->status, "error");
	cr_assert_str_eq(end->run_id, "");
	++*(int *)ctx;
	return 0;
}

/* Each statement the store prepares when first needed may fail to prepare: the call fails,
 * naming the file and the reason, and stores nothing. */
Test(store_faults, every_kind_of_statement_that_does_not_prepare_changes_nothing)
{
	static const prep_case cases[] = {
		{"AFTER UPDATE OF owner ON runs", 0}, /* taking the lease */
		{"AFTER UPDATE OF seq ON runs", 0},   /* the run's update of a commit */
		{"AFTER UPDATE OF status ON runs", 1}, {"AFTER INSERT ON runs", 2},
		{"AFTER INSERT ON runs", 3},
	};
	static const char *const inputs[] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}",
					     "{\"topic\": \"c\"}"};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecl_engine *e;
		char id[ECL_ID_MAX], nid[ECL_ID_MAX], text[256], *before, *after;
		int rc, ended = 0;

		snprintf(db, sizeof(db), "%s/prep-%zu.db", dir, i);
		e = ts_engine(db, script, NULL);
		start_run(e, "{\"topic\": \"t\"}", id);
		ecl_engine_close(e);
		ts_sql(db, "UPDATE runs SET lease_until_ms = 0"); /* idle: nobody drives it */
		snprintf(text, sizeof(text),
			 "CREATE TRIGGER other_program %s BEGIN INSERT INTO elsewhere VALUES (1); "
			 "END",
			 cases[i].trigger);
		ts_sql(db, text);
		before = ts_sql_text(db, "SELECT group_concat(id || status || seq || "
					 "coalesce(owner, '') || lease_until_ms) FROM runs");
		e = ts_engine(db, script, NULL);
		switch (cases[i].what) {
		case 0: rc = ecl_run_drive(e, id); break;
		case 1: rc = ecl_run_pause(e, id, NULL); break;
		case 2:
			rc = ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"u\"}",
					   nid);
			break;
		default:
			rc = ecl_batch_drive(e, ts_workflow("critique-revise"), inputs, 3, 3,
					     on_batch_end, &ended);
			cr_assert_geq(ended, 1, "the input whose run failed is reported");
		}
		cr_assert_eq(rc, ECL_ESTORE, "%s: status %d (%s)", cases[i].trigger, rc,
			     ecl_engine_errmsg(e));
		cr_assert(strstr(ecl_engine_errmsg(e), db), "%s: %s", cases[i].trigger,
			  ecl_engine_errmsg(e));
		cr_assert(strstr(ecl_engine_errmsg(e), "no such table: main.elsewhere"), "%s: %s",
			  cases[i].trigger, ecl_engine_errmsg(e));
		ecl_engine_close(e);
		after = ts_sql_text(db, "SELECT group_concat(id || status || seq || "
					"coalesce(owner, '') || lease_until_ms) FROM runs");
		if (cases[i].what != 0 || strstr(cases[i].trigger, "owner"))
			cr_assert_str_eq(after, before, "%s changed the runs", cases[i].trigger);
		cr_assert_eq(count("SELECT count(*) FROM steps"), 0, "%s", cases[i].trigger);
		cr_assert_eq(count("SELECT count(*) FROM runs"), 1, "%s", cases[i].trigger);
		free(before);
		free(after);
		expect_intact();
	}
}
