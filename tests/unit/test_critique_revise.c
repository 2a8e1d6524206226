/*
 * test_critique_revise.c - the critique-revise workflow driven through the runtime with the
 * scripted provider on a temporary database: every path through its loop, the records it
 * leaves, answers that need repair, provider failures, and recovery after a SIGKILL.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define GEN    "{\"content\": \"Draft v0 on tea\", \"word_count\": 4}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"add an example\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1 on tea\", \"word_count\": 4}"
#define REV2   "{\"content\": \"Draft v2 on tea\", \"word_count\": 4}"
#define REV3   "{\"content\": \"Draft v3 on tea\", \"word_count\": 4}"

static const char two_revisions[] = "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE
				    ", " PASS "], \"revise\": [" REV1 ", " REV2 "]}";

typedef struct outcome {
	char *dir;
	const char *db;
	char id[ECL_ID_MAX];
	int rc;
	ecl_run_info *info;
	char err[1024];
} outcome;

/* Run critique-revise once with the given script, on a fresh database. */
static void run_script(const char *script, outcome *o)
{
	ecl_engine *e;

	memset(o, 0, sizeof(*o));
	o->dir = ts_tmpdir();
	o->db = strdup(ts_path(o->dir, "runs.db"));
	ts_write(ts_path(o->dir, "script.json"), script);
	e = ts_engine(o->db, ts_path(o->dir, "script.json"), ts_path(o->dir, "calls.log"));
	cr_assert_eq(
		ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"tea\"}", o->id),
		ECL_OK, "%s", ecl_engine_errmsg(e));
	o->rc = ecl_run_drive(e, o->id);
	snprintf(o->err, sizeof(o->err), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, o->id, &o->info), ECL_OK);
	ecl_engine_close(e);
}

static void outcome_free(outcome *o)
{
	ecl_run_info_free(o->info);
	free((char *)o->db);
	ts_rmtree(o->dir);
	free(o->dir);
}

static int calls(outcome *o, const char *needle)
{
	return ts_count_lines(ts_path(o->dir, "calls.log"), needle);
}

Test(critique_revise, happy_path)
{
	outcome o;

	run_script("{\"generate\": [" GEN "], \"critique\": [" PASS "]}", &o);
	cr_assert_eq(o.rc, ECL_OK, "%s", o.err);
	cr_assert_str_eq(o.info->status, "completed");
	cr_assert_eq(o.info->step_count, 2);
	cr_assert_eq(o.info->revisions, 0);
	cr_assert_null(o.info->step);
	cr_assert_str_eq(o.info->output, "{\"content\":\"Draft v0 on tea\",\"word_count\":4}");
	cr_assert_eq(calls(&o, NULL), 2);
	outcome_free(&o);
}

Test(critique_revise, one_revision)
{
	outcome o;

	run_script("{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
		   "], \"revise\": [" REV1 "]}",
		   &o);
	cr_assert_eq(o.rc, ECL_OK, "%s", o.err);
	cr_assert_eq(o.info->step_count, 4);
	cr_assert_eq(o.info->revisions, 1);
	cr_assert(strstr(o.info->output, "Draft v1 on tea"));
	outcome_free(&o);
}

Test(critique_revise, two_revisions)
{
	outcome o;

	run_script(two_revisions, &o);
	cr_assert_eq(o.rc, ECL_OK, "%s", o.err);
	cr_assert_str_eq(o.info->status, "completed");
	cr_assert_eq(o.info->step_count, 6);
	cr_assert_eq(o.info->revisions, 2);
	cr_assert(strstr(o.info->output, "Draft v2 on tea"));
	outcome_free(&o);
}

Test(critique_revise, max_revisions)
{
	outcome o;

	run_script("{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE ", " REVISE
		   ", " REVISE "], \"revise\": [" REV1 ", " REV2 ", " REV3 "]}",
		   &o);
	cr_assert_eq(o.rc, ECL_EFAILED);
	cr_assert_str_eq(o.info->status, "failed");
	cr_assert_eq(o.info->step_count, 8);
	cr_assert_eq(o.info->revisions, 3);
	cr_assert_str_eq(o.info->step, "critique");
	cr_assert_not_null(o.info->error);
	cr_assert(strstr(o.info->error, "max revisions (3) reached"), "%s", o.info->error);
	cr_assert(strstr(o.err, "max revisions (3) reached"));
	cr_assert_eq(calls(&o, " revise "), 3, "the bound stops the loop before a 4th revision");
	outcome_free(&o);
}

Test(critique_revise, database_records)
{
	outcome o;

	run_script(two_revisions, &o);
	cr_assert_eq(o.rc, ECL_OK, "%s", o.err);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM runs"), 1);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps"), 6);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps WHERE output IS NOT NULL"), 6);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps WHERE step = 'critique'"), 3);
	cr_assert_eq(ts_sql_int(o.db, "SELECT max(seq) FROM steps"), 6);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps WHERE seq = 4 AND step = "
				      "'critique'"),
		     1);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps WHERE seq = 5 AND step = "
				      "'revise'"),
		     1);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps WHERE step = 'critique' AND "
				      "vars = '{\"revisions\":2}' AND seq = 4"),
		     1, "the transition into revise stores the counter it changed, and only that");
	/* A variable set from the step's own output refers to it instead of a second copy. */
	cr_assert_eq(
		ts_sql_int(
			o.db,
			"SELECT count(*) FROM steps WHERE step = 'revise' AND seq = 5"
			" AND vars = '{\"content\":{\"=\":\"revise.content\"},\"word_count\":4}'"),
		1);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM runs WHERE status = 'completed' AND "
				      "seq = 6 AND step IS NULL"),
		     1);
	cr_assert_eq(ts_sql_int(o.db, "PRAGMA application_id"), 0x65636c31);
	outcome_free(&o);
}

Test(critique_revise, raw_answer_is_kept_when_it_differs)
{
	outcome o;

	run_script("{\"generate\": [\"Here you go:\\n```json\\n"
		   "{\\\"content\\\": \\\"fenced\\\", "
		   "\\\"word_count\\\": 1}\\n```\"], \"critique\": [" PASS "]}",
		   &o);
	cr_assert_eq(o.rc, ECL_OK, "%s", o.err);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps WHERE step = 'generate' AND raw "
				      "LIKE 'Here you go:%'"),
		     1);
	cr_assert_eq(ts_sql_int(o.db, "SELECT count(*) FROM steps WHERE step = 'critique' AND raw "
				      "IS NULL"),
		     1, "a raw answer identical to its output is stored once");
	cr_assert(strstr(o.info->output, "fenced"));
	outcome_free(&o);
}

Test(critique_revise, malformed_answer_is_repaired)
{
	outcome o;

	run_script("{\"generate\": [" GEN
		   "], \"critique\": [[\"{\\\"decision\\\": \\\"maybe\\\"}\", " PASS "]]}",
		   &o);
	cr_assert_eq(o.rc, ECL_OK, "%s", o.err);
	cr_assert_eq(calls(&o, " critique 1 "), 2, "one repair prompt");
	cr_assert_eq(o.info->step_count, 2);
	outcome_free(&o);
}

Test(critique_revise, malformed_answer_fails_naming_step_and_field)
{
	outcome o;

	run_script("{\"generate\": [" GEN "], \"critique\": [[\"{\\\"decision\\\": \\\"maybe\\\", "
		   "\\\"feedback\\\": \\\"x\\\", \\\"quality_score\\\": 1}\", \"{\\\"decision\\\": "
		   "\\\"pass\\\", \\\"feedback\\\": \\\"x\\\", \\\"quality_score\\\": 101}\"]]}",
		   &o);
	cr_assert_eq(o.rc, ECL_EFAILED);
	cr_assert_str_eq(o.info->status, "failed");
	cr_assert_str_eq(o.info->step, "critique");
	cr_assert(strstr(o.info->error, "step `critique`"), "%s", o.info->error);
	cr_assert(strstr(o.info->error, "field `quality_score`"), "%s", o.info->error);
	cr_assert(strstr(o.info->error, "101"), "%s", o.info->error);
	cr_assert_eq(o.info->step_count, 2,
		     "the failure is committed as the run's last checkpoint");
	outcome_free(&o);
}

Test(critique_revise, missing_field_is_named)
{
	outcome o;

	run_script("{\"generate\": [[\"{\\\"content\\\": \\\"x\\\"}\", \"{\\\"content\\\": "
		   "\\\"x\\\"}\"]]}",
		   &o);
	cr_assert_eq(o.rc, ECL_EFAILED);
	cr_assert(strstr(o.info->error, "step `generate`: field `word_count` is missing"), "%s",
		  o.info->error);
	outcome_free(&o);
}

Test(critique_revise, transient_failure_is_retried)
{
	outcome o;

	run_script("{\"generate\": [[{\"$error\": \"transient\", \"message\": \"503\"}, " GEN
		   "]], \"critique\": [" PASS "]}",
		   &o);
	cr_assert_eq(o.rc, ECL_OK, "%s", o.err);
	cr_assert_eq(calls(&o, " generate 1 "), 2);
	outcome_free(&o);
}

Test(critique_revise, permanent_failure_leaves_the_run_resumable)
{
	outcome o;
	ecl_engine *e;
	ecl_run_info *info;

	run_script("{\"generate\": [" GEN "], \"critique\": [[{\"$error\": \"permanent\", "
		   "\"message\": \"HTTP 401: bad key\"}]]}",
		   &o);
	cr_assert_eq(o.rc, ECL_EPROVIDER);
	cr_assert(strstr(o.err, "step `critique`"), "%s", o.err);
	cr_assert(strstr(o.err, "HTTP 401: bad key"), "%s", o.err);
	cr_assert_str_eq(o.info->status, "interrupted");
	cr_assert_eq(o.info->step_count, 1, "the generate checkpoint is kept");
	cr_assert_eq(calls(&o, " critique "), 1, "no retry on a permanent failure");
	/* The key is fixed: resume goes on from critique. */
	ts_write(ts_path(o.dir, "script.json"), "{\"generate\": [], \"critique\": [" PASS "]}");
	e = ts_engine(o.db, ts_path(o.dir, "script.json"), ts_path(o.dir, "calls.log"));
	cr_assert_eq(ecl_run_drive(e, o.id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, o.id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "completed");
	cr_assert_eq(info->attempt, 1);
	cr_assert_eq(calls(&o, " generate "), 1);
	ecl_run_info_free(info);
	ecl_engine_close(e);
	outcome_free(&o);
}

Test(critique_revise, finished_runs_cannot_be_resumed)
{
	outcome o;
	ecl_engine *e;

	run_script("{\"generate\": [" GEN "], \"critique\": [" PASS "]}", &o);
	e = ts_engine(o.db, ts_path(o.dir, "script.json"), NULL);
	cr_assert_eq(ecl_run_drive(e, o.id), ECL_ESTATE);
	cr_assert(strstr(ecl_engine_errmsg(e), "completed"));
	cr_assert_eq(ecl_run_drive(e, "nosuchrun"), ECL_ENOTFOUND);
	ecl_engine_close(e);
	outcome_free(&o);
}

Test(critique_revise, inputs_are_checked_before_anything_is_stored)
{
	char *dir = ts_tmpdir();
	const char *db = ts_path(dir, "runs.db");
	ecl_engine *e = ts_engine(db, NULL, NULL);
	const ecl_workflow *wf = ts_workflow("critique-revise");
	char id[ECL_ID_MAX], err[256];

	cr_assert_eq(ecl_run_start(e, wf, "{}", id), ECL_EINPUT);
	cr_assert(strstr(ecl_engine_errmsg(e), "`topic`"));
	cr_assert_eq(ecl_run_start(e, wf, "{\"topic\": 3}", id), ECL_EINPUT);
	cr_assert(strstr(ecl_engine_errmsg(e), "input `topic`: expected a string"));
	cr_assert_eq(ecl_run_start(e, wf, "{\"topic\": \"x\", \"min_words\": \"many\"}", id),
		     ECL_EINPUT);
	cr_assert_eq(ecl_run_start(e, wf, "{\"topic\": \"x\", \"colour\": 1}", id), ECL_EINPUT);
	cr_assert(strstr(ecl_engine_errmsg(e), "no input `colour`"));
	cr_assert_eq(ecl_run_start(e, wf, "not json", id), ECL_EINPUT);
	cr_assert_eq(ecl_workflow_check_inputs(wf, "{\"topic\": \"x\"}", err, sizeof(err)), ECL_OK);
	ecl_engine_close(e);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 0);
	ts_rmtree(dir);
	free(dir);
}

/* The child drives a run and kills itself right after its second checkpoint. */
static int kill_after_second(void *ctx, const ecl_event *ev)
{
	(void)ctx;
	if (ev->kind == ECL_EV_COMMIT && ev->seq == 2)
		raise(SIGKILL);
	return 0;
}

Test(critique_revise, recovery_after_sigkill)
{
	outcome ref;
	char *dir = ts_tmpdir();
	const char *db = strdup(ts_path(dir, "runs.db"));
	const char *script = strdup(ts_path(dir, "script.json"));
	const char *log = strdup(ts_path(dir, "calls.log"));
	const char *idfile = strdup(ts_path(dir, "id"));
	ecl_engine *e;
	ecl_run_info *info;
	char *id;
	int status;
	pid_t pid;

	run_script(two_revisions, &ref);
	cr_assert_eq(ref.rc, ECL_OK);
	ts_write(script, two_revisions);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ecl_options o = {0};
		char err[256], cid[ECL_ID_MAX];

		o.db_path = db;
		o.provider = "scripted";
		o.script_path = script;
		o.call_log = log;
		o.on_event = kill_after_second;
		o.workflows = ecl_workflows;
		o.nworkflows = ecl_nworkflows;
		if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK ||
		    ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"tea\"}", cid) !=
			    ECL_OK)
			ts_exit(3);
		ts_write(idfile, cid);
		ecl_run_drive(e, cid);
		ts_exit(4); /* not reached: the callback kills the process */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
	id = ts_read(idfile);
	cr_assert_not_null(id);
	cr_assert_eq(ts_sql_int(db, "SELECT seq FROM runs"), 2);
	cr_assert_eq(ts_count_lines(log, NULL), 2);

	e = ts_engine(db, script, log);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "completed");
	cr_assert_eq(info->step_count, 6);
	cr_assert_eq(info->revisions, 2);
	cr_assert_str_eq(info->output, ref.info->output, "the same output as without the kill");
	/* Six provider calls in all: the two steps before the kill were not asked again. */
	cr_assert_eq(ts_count_lines(log, NULL), 6);
	cr_assert_eq(ts_count_lines(log, " generate "), 1);
	cr_assert_eq(ts_count_lines(log, " critique 1 "), 1);
	cr_assert_eq(ts_sql_int(db, "SELECT attempt FROM steps WHERE seq = 3"), 2,
		     "the step after the kill is the second attempt of revise");
	ecl_run_info_free(info);
	ecl_engine_close(e);
	free(id);
	free((char *)db);
	free((char *)script);
	free((char *)log);
	free((char *)idfile);
	ts_rmtree(dir);
	free(dir);
	outcome_free(&ref);
}
