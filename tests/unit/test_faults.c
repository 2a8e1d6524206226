/*
 * test_faults.c - the driver and the batch driver when something goes wrong around a run:
 * a step function that ends without a transition or passes its proven bound, a lease taken
 * by another process in the middle of a call, a cancel seen at a heartbeat, damaged rows in
 * the store, a database locked in the middle of a batch, runs of a batch paused, cancelled
 * or taken over, retries that wait, and every allocation of a batch failing in turn. Each
 * test checks the status, the message (naming the run, step or file at fault) and what the
 * store kept.
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

static char *dir;
static char db[4096], script[4096], calls[4096];

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(script, sizeof(script), "%s/script.json", dir);
	snprintf(calls, sizeof(calls), "%s/calls.log", dir);
}

static void teardown(void)
{
	ecl_test_fail_alloc_after(-1);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

static char *run_text(const char *id, const char *column)
{
	char q[256];

	snprintf(q, sizeof(q), "SELECT %s FROM runs WHERE id = '%s'", column, id);
	return ts_sql_text(db, q);
}

static void expect_column(const char *id, const char *column, const char *want)
{
	char *got = run_text(id, column);

	cr_assert_not_null(got, "run %s has no %s", id, column);
	cr_assert_str_eq(got, want, "run %s: %s is %s, not %s", id, column, got, want);
	free(got);
}

static void expect_intact(void)
{
	char *check = ts_sql_text(db, "PRAGMA integrity_check");

	cr_assert_str_eq(check, "ok");
	free(check);
}

/* ---- a workflow written by hand, with a step function that misbehaves on purpose --------- */

static int spin_mode; /* 0: loop on itself; 1: return without a transition */

static const ecl_step_def spin_steps[] = {{
	.name = "spin",
	.kind = ECL_STEP_SET,
	.line = 1,
	.counter = -1,
	.opts = {.temperature = -1, .retries = -1, .repairs = -1},
}};

static int spin_step(ecl_run *run)
{
	if (spin_mode == 1)
		return ECL_OK;
	return ecl_run_goto(run, 0);
}

static const ecl_workflow spin = {
	.abi = ECL_ABI_VERSION,
	.id = "spin",
	.name = "A step that goes round",
	.source = "tests/unit/test_faults.c",
	.version = "0000000000000002",
	.steps = spin_steps,
	.nsteps = 1,
	.start = 0,
	.max_steps = 3,
	.opts = {.temperature = -1, .retries = -1, .repairs = -1},
	.step = spin_step,
};
static const ecl_workflow *const spin_list[] = {&spin};

static ecl_engine *spin_engine(void)
{
	ecl_options o = ts_options(db, NULL, NULL);

	o.workflows = spin_list;
	o.nworkflows = 1;
	return ts_open(&o);
}

Test(faults, a_step_without_a_transition_stops_the_run_naming_the_step)
{
	ecl_engine *e = spin_engine();
	ecl_run_info *info = NULL;
	char id[ECL_ID_MAX];

	spin_mode = 1;
	cr_assert_eq(ecl_run_start(e, &spin, "{}", id), ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EUSAGE);
	cr_assert_str_eq(ecl_engine_errmsg(e), "step `spin` of spin ended without a transition");
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "interrupted", "the run stays resumable");
	cr_assert_eq(info->step_count, 0, "nothing was committed");
	cr_assert(info->error && strstr(info->error, "ended without a transition"), "%s",
		  info->error ? info->error : "(no error)");
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

Test(faults, a_run_past_its_proven_bound_fails_for_good)
{
	ecl_engine *e = spin_engine();
	ecl_run_info *info = NULL;
	char id[ECL_ID_MAX], want[256];
	int rc;

	spin_mode = 0;
	cr_assert_eq(ecl_run_start(e, &spin, "{}", id), ECL_OK);
	rc = ecl_run_drive(e, id);
	cr_assert_eq(rc, ECL_EFAILED, "%s", ecl_engine_errmsg(e));
	snprintf(want, sizeof(want), "run %s exceeded the bound of 3 steps proven for spin", id);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "failed");
	cr_assert_str_eq(info->error, want);
	cr_assert_eq(info->step_count, 4, "three steps, then the failure");
	ecl_run_info_free(info);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTATE, "a failed run is over");
	ecl_engine_close(e);
}

/* ---- leases and requests seen at a heartbeat, in the middle of a call ------------------- */

static char hb_id[ECL_ID_MAX];
static int hb_what; /* 0: another process takes the lease; 1: another process cancels */

static int on_step_start(void *ctx, const ecl_event *ev)
{
	(void)ctx;
	if (ev->kind != ECL_EV_STEP_START || strcmp(ev->step, "generate") != 0)
		return 0;
	if (hb_what == 0) {
		char q[256];

		snprintf(q, sizeof(q),
			 "UPDATE runs SET owner = 'elsewhere/1/thief', lease_until_ms = "
			 "9000000000000 WHERE id = '%s'",
			 ev->run_id);
		ts_sql(db, q);
	} else {
		ecl_engine *other = ts_engine(db, script, NULL);
		int applied = -1;

		cr_assert_eq(ecl_run_cancel(other, ev->run_id, &applied), ECL_OK, "%s",
			     ecl_engine_errmsg(other));
		cr_assert_eq(applied, 0, "a driven run gets the request for its driver");
		ecl_engine_close(other);
	}
	return 0;
}

static int heartbeat_run(void)
{
	ecl_options o = ts_options(db, script, calls);
	ecl_engine *e;
	int rc;

	ts_write(script, "{\"generate\": [{\"$delay_ms\": 60000, \"$answer\": " GEN "}]}");
	o.lease_ms = 30; /* renewed every 10 ms */
	o.on_event = on_step_start;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", hb_id),
		     ECL_OK);
	rc = ecl_run_drive(e, hb_id);
	if (rc != ECL_ECANCELLED)
		cr_assert_str_neq(ecl_engine_errmsg(e), "", "status %d without a detail", rc);
	ecl_engine_close(e);
	return rc;
}

Test(faults, a_lease_lost_in_the_middle_of_a_call_leaves_the_run_to_its_new_holder)
{
	hb_what = 0;
	cr_assert_eq(heartbeat_run(), ECL_ESTATE);
	expect_column(hb_id, "owner", "elsewhere/1/thief");
	expect_column(hb_id, "status", "running");
	expect_column(hb_id, "seq", "0");
	cr_assert_eq(ts_count_lines(calls, " generate "), 1, "the call was abandoned, not retried");
	expect_intact();
}

Test(faults, a_cancel_seen_at_a_heartbeat_abandons_the_call)
{
	hb_what = 1;
	cr_assert_eq(heartbeat_run(), ECL_ECANCELLED);
	expect_column(hb_id, "status", "cancelled");
	expect_column(hb_id, "seq", "0");
	cr_assert_eq(ts_count_lines(calls, " generate "), 1);
}

/* ---- damaged rows ------------------------------------------------------------------------ */

/* A run with one checkpoint (generate), stopped resumable: the script has no critique. */
static void one_checkpoint(char id[ECL_ID_MAX])
{
	ecl_engine *e;

	ts_write(script, "{\"generate\": [" GEN "]}");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EPROVIDER);
	ecl_engine_close(e);
	expect_column(id, "seq", "1");
}

Test(faults, a_checkpoint_naming_an_unknown_step_is_reported_and_left_alone)
{
	char id[ECL_ID_MAX], q[256], want[256];
	ecl_engine *e;

	one_checkpoint(id);
	snprintf(q, sizeof(q), "UPDATE steps SET step = 'ghost' WHERE run_id = '%s'", id);
	ts_sql(db, q);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTORE);
	snprintf(want, sizeof(want),
		 "run %s: checkpoint 1 names a step that workflow critique-revise has not", id);
	cr_assert_str_eq(ecl_engine_errmsg(e), want);
	ecl_engine_close(e);
	expect_column(id, "status", "interrupted");
	expect_column(id, "seq", "1");
	expect_intact();
}

Test(faults, a_lease_holder_that_is_no_process_id_is_not_taken_over)
{
	static const char *const holders[] = {"no-slash-at-all", "thishost/notapid/x",
					      "thishost/0/x"};
	char id[ECL_ID_MAX], q[256];
	size_t i;

	one_checkpoint(id);
	for (i = 0; i < sizeof(holders) / sizeof(holders[0]); i++) {
		ecl_engine *e;

		snprintf(q, sizeof(q),
			 "UPDATE runs SET owner = '%s', lease_until_ms = 9000000000000 WHERE id = "
			 "'%s'",
			 holders[i], id);
		ts_sql(db, q);
		e = ts_engine(db, script, NULL);
		cr_assert_eq(ecl_run_drive(e, id), ECL_ESTATE, "holder %s", holders[i]);
		cr_assert(strstr(ecl_engine_errmsg(e), holders[i]), "holder %s: %s", holders[i],
			  ecl_engine_errmsg(e));
		ecl_engine_close(e);
		expect_column(id, "owner", holders[i]);
	}
	expect_column(id, "seq", "1");
}

Test(faults, damaged_checkpoint_values_are_reported_naming_the_run_and_the_variable)
{
	static const struct {
		const char *vars, *error;
	} cases[] = {
		{"{\"nosuch\": 1}",
		 "run %s: a checkpoint names `nosuch`, which workflow critique-revise has not"},
		{"{\"topic\": {\"=\": \"nosuch.field\"}}",
		 "run %s: checkpoint value of `topic` is damaged"},
		{"{\"topic\": {\"=\": \"generate.word_count\"}}",
		 "run %s: checkpoint value of `topic` is damaged"},
		{"{\"topic\": 42}", "run %s: checkpoint value topic"},
		{"not json", "run %s: a stored checkpoint is not JSON"},
	};
	char id[ECL_ID_MAX], q[512], want[256];
	size_t i;

	one_checkpoint(id);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecl_engine *e;

		snprintf(q, sizeof(q), "UPDATE steps SET vars = '%s' WHERE run_id = '%s'",
			 cases[i].vars, id);
		ts_sql(db, q);
		e = ts_engine(db, script, NULL);
		cr_assert_eq(ecl_run_drive(e, id), ECL_ESTORE, "%s", cases[i].vars);
		snprintf(want, sizeof(want), cases[i].error, id);
		cr_assert(!strncmp(ecl_engine_errmsg(e), want, strlen(want)), "%s: `%s`, not `%s`",
			  cases[i].vars, ecl_engine_errmsg(e), want);
		ecl_engine_close(e);
		expect_column(id, "status", "interrupted");
		expect_column(id, "seq", "1");
	}
	expect_intact();
}

Test(faults, a_damaged_checkpoint_output_is_reported_naming_the_run_and_checkpoint)
{
	char id[ECL_ID_MAX], q[256], want[8400];
	ecl_engine *e;

	one_checkpoint(id);
	snprintf(q, sizeof(q), "UPDATE steps SET output = '{\"content\": ' WHERE run_id = '%s'",
		 id);
	ts_sql(db, q);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTORE);
	snprintf(want, sizeof(want),
		 "run %s: checkpoint 1 is damaged; the database seems damaged: check it with: "
		 "sqlite3 %s 'pragma integrity_check'; or restore a backup",
		 id, db);
	cr_assert_str_eq(ecl_engine_errmsg(e), want);
	ecl_engine_close(e);
	expect_column(id, "status", "interrupted");
}

/* ---- repairs: at most DRIVE_MAX_REPAIRS (8), whatever the workflow asks ------------------- */

static const ecl_slot_def ask_slots[] = {
	{.name = "ask.n",
	 .kind = ECL_SLOT_OUTPUT,
	 .type = ECL_T_INT,
	 .step = 0,
	 .field = "n",
	 .required = 1},
};
static const int ask_outputs[] = {0};
static const ecl_tpl_part ask_prompt[] = {{"Give n.", 7, -1}};

static const ecl_step_def ask_steps[] = {{
	.name = "ask",
	.kind = ECL_STEP_LLM,
	.line = 1,
	.prompt = {ask_prompt, 1},
	.outputs = ask_outputs,
	.noutputs = 1,
	.counter = -1,
	.opts = {.temperature = -1, .retries = -1, .repairs = -1},
}};

static int ask_step(ecl_run *run)
{
	int rc = ecl_run_llm(run);

	return rc != ECL_OK ? rc : ecl_run_done(run, NULL, 0);
}

static const ecl_workflow asking = {
	.abi = ECL_ABI_VERSION,
	.id = "asking",
	.name = "One question, many repairs allowed",
	.source = "tests/unit/test_faults.c",
	.version = "0000000000000005",
	.slots = ask_slots,
	.nslots = 1,
	.steps = ask_steps,
	.nsteps = 1,
	.start = 0,
	.max_steps = 1,
	.opts = {.temperature = -1, .retries = -1, .repairs = 100},
	.step = ask_step,
};
static const ecl_workflow *const asking_list[] = {&asking};

Test(faults, repairs_are_capped_whatever_the_workflow_allows)
{
	ecl_options o = ts_options(db, script, calls);
	ecl_engine *e;
	ecl_run_info *info = NULL;
	char id[ECL_ID_MAX];

	ts_write(script, "{\"ask\": [[\"no\", \"no\", \"no\", \"no\", \"no\", \"no\", \"no\", "
			 "\"no\", \"no\", \"no\", \"no\", \"no\"]]}");
	o.workflows = asking_list;
	o.nworkflows = 1;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_start(e, &asking, "{}", id), ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EFAILED, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ts_count_lines(calls, " ask 1 "), 9, "the question and 8 repairs");
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "failed");
	cr_assert(strstr(info->error, "step `ask`: the answer holds no JSON object"), "%s",
		  info->error);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

/* A step that fails for good, under every allocation failure: it fails for the same reason,
 * or stops resumable and then fails for that reason, never for another. */
Test(faults, every_allocation_of_a_run_that_fails_may_fail)
{
	long n;
	int done = 0;

	ts_write(script, "{\"ask\": [[\"no\", \"no\", \"no\", \"no\", \"no\", \"no\", \"no\", "
			 "\"no\", \"no\", \"no\", \"no\", \"no\"]]}");
	for (n = 0; n < 20000 && !done; n++) {
		ecl_options o;
		ecl_engine *e;
		ecl_run_info *info = NULL;
		char id[ECL_ID_MAX] = "";
		int rc;

		snprintf(db, sizeof(db), "%s/fail-%ld.db", dir, n);
		o = ts_options(db, script, NULL);
		o.workflows = asking_list;
		o.nworkflows = 1;
		e = ts_open(&o);
		ecl_test_fail_alloc_after(n);
		rc = ecl_run_start(e, &asking, "{}", id);
		if (rc == ECL_OK)
			rc = ecl_run_drive(e, id);
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_EFAILED || rc == ECL_ENOMEM || rc == ECL_ESTORE ||
				  rc == ECL_EINTERRUPTED,
			  "allocation %ld: %d %s", n, rc, ecl_engine_errmsg(e));
		done = rc == ECL_EFAILED;
		if (id[0] && rc != ECL_EFAILED) {
			char q[128];

			snprintf(q, sizeof(q), "UPDATE runs SET lease_until_ms = 0 WHERE id = '%s'",
				 id);
			ts_sql(db, q); /* the failed attempt's lease runs out */
			rc = ecl_run_drive(e, id);
			cr_assert(rc == ECL_EFAILED || (rc == ECL_ESTATE &&
							strstr(ecl_engine_errmsg(e), "has failed")),
				  "allocation %ld: %d %s", n, rc, ecl_engine_errmsg(e));
		}
		if (id[0]) {
			cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
			cr_assert_str_eq(info->status, "failed", "allocation %ld", n);
			cr_assert_str_eq(info->error,
					 "step `ask`: the answer holds no JSON object: \"no\"",
					 "allocation %ld", n);
			ecl_run_info_free(info);
		}
		ecl_engine_close(e);
	}
	cr_assert(done, "the run never got through in %ld allocations", n);
}

static int stop_at_first_note(void *ctx, const ecl_history_entry *entry)
{
	++*(int *)ctx;
	return entry->note ? 7 : 0;
}

static int stop_at_second_checkpoint(void *ctx, const ecl_history_entry *entry)
{
	++*(int *)ctx;
	return entry->step && entry->seq == 2 ? 9 : 0;
}

static int count_all(void *ctx, const ecl_history_entry *entry)
{
	(void)entry;
	++*(int *)ctx;
	return 0;
}

Test(faults, a_walk_of_the_history_stops_when_its_callback_says_so)
{
	ecl_engine *e;
	char id[ECL_ID_MAX];
	int seen = 0, all = 0;

	one_checkpoint(id);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_pause(e, id, NULL), ECL_OK); /* a note after checkpoint 1 */
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	ecl_engine_close(e);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_history(e, id, 1, count_all, &all), ECL_OK);
	cr_assert_eq(ecl_run_history(e, id, 0, stop_at_first_note, &seen), 7);
	cr_assert_lt(seen, all, "the walk went on after the note");
	seen = 0;
	cr_assert_eq(ecl_run_history(e, id, 1, stop_at_second_checkpoint, &seen), 9);
	cr_assert_lt(seen, all, "the walk went on after checkpoint 2");
	ecl_engine_close(e);
}

/* ---- the scripted provider's call log, and the log of a paused run --------------------------- */

Test(faults, a_call_log_that_cannot_be_written_fails_the_call_and_keeps_the_run)
{
	ecl_engine *e;
	char id[ECL_ID_MAX];

	ts_write(script, "{\"generate\": [" GEN "]}");
	e = ts_engine(db, script, "/dev/full");
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EPROVIDER);
	cr_assert(strstr(ecl_engine_errmsg(e), "cannot write the call log /dev/full"), "%s",
		  ecl_engine_errmsg(e));
	ecl_engine_close(e);
	expect_column(id, "status", "interrupted");
	expect_column(id, "seq", "0");
}

static int pause_after_first(void *ctx, const ecl_event *ev)
{
	(void)ctx;
	if (ev->kind == ECL_EV_COMMIT && ev->seq == 1) {
		ecl_engine *other = ts_engine(db, script, NULL);

		cr_assert_eq(ecl_run_pause(other, ev->run_id, NULL), ECL_OK);
		ecl_engine_close(other);
	}
	return 0;
}

Test(faults, a_paused_run_is_logged_without_an_error)
{
	ecl_options o = ts_options(db, script, NULL);
	FILE *log = tmpfile();
	ecl_engine *e;
	char id[ECL_ID_MAX], line[1024];
	int found = 0;

	cr_assert_not_null(log);
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	o.log_stream = log;
	o.log_format = ECL_LOG_COMPACT;
	o.verbose = 1;
	o.on_event = pause_after_first;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EPAUSED, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	rewind(log);
	while (fgets(line, sizeof(line), log))
		if (strstr(line, "msg=\"paused\"") || strstr(line, "msg=paused")) {
			found = 1;
			cr_assert(strstr(line, id), "%s", line);
			cr_assert_null(strstr(line, "error="), "%s", line);
		}
	fclose(log);
	cr_assert(found, "no paused line in the log");
	expect_column(id, "status", "paused");
}

/* ---- computed values: list lengths and float texts --------------------------------------- */

enum { C_LIST, C_FLOAT, C_N };

static const ecl_slot_def count_slots[] = {
	{.name = "l", .kind = ECL_SLOT_INPUT, .type = ECL_T_LIST, .step = -1, .required = 1},
	{.name = "f", .kind = ECL_SLOT_INPUT, .type = ECL_T_FLOAT, .step = -1, .required = 1},
	{.name = "n", .kind = ECL_SLOT_VAR, .type = ECL_T_INT, .step = -1},
};

/* done: the bare text "<items>|<float>|<float + 1>" */
static int count_step(ecl_run *run)
{
	const char *f = ecl_run_float_str(run, ecl_run_float(run, C_FLOAT));
	const char *g = ecl_run_float_str(run, ecl_run_float(run, C_FLOAT) + 1);
	const char *text =
		ecl_run_concat(run,
			       ecl_run_concat(run, ecl_run_int_str(run, ecl_run_len(run, C_LIST)),
					      ecl_run_concat(run, "|", f)),
			       ecl_run_concat(run, "|", g));
	int rc;

	if ((rc = ecl_run_set_int(run, C_N, ecl_run_len(run, C_LIST))) != ECL_OK ||
	    (rc = ecl_run_result_str(run, NULL, text)) != ECL_OK)
		return rc;
	return ecl_run_done_result(run);
}

static const ecl_workflow counting = {
	.abi = ECL_ABI_VERSION,
	.id = "counting",
	.name = "List lengths and float texts",
	.source = "tests/unit/test_faults.c",
	.version = "0000000000000004",
	.slots = count_slots,
	.nslots = C_N + 1,
	.steps = spin_steps,
	.nsteps = 1,
	.start = 0,
	.max_steps = 1,
	.opts = {.temperature = -1, .retries = -1, .repairs = -1},
	.step = count_step,
};
static const ecl_workflow *const counting_list[] = {&counting};

Test(faults, list_lengths_and_float_texts_are_exact)
{
	static const struct {
		const char *inputs, *output;
	} cases[] = {
		{"{\"l\": [], \"f\": 0.5}", "\"0|0.5|1.5\""},
		{"{\"l\": [\"a\\\"b\", \"c,d\", \"\\\\\", \"]\"], \"f\": 0.1}", "\"4|0.1|1.1\""},
		{"{\"l\": [\"x\"], \"f\": 0.30000000000000004}", "\"1|0.30000000000000004|1.3\""},
	};
	ecl_options o = ts_options(db, NULL, NULL);
	ecl_engine *e;
	size_t i;

	o.workflows = counting_list;
	o.nworkflows = 1;
	e = ts_open(&o);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char id[ECL_ID_MAX];

		cr_assert_eq(ecl_run_start(e, &counting, cases[i].inputs, id), ECL_OK, "%s",
			     ecl_engine_errmsg(e));
		cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
		expect_column(id, "output", cases[i].output);
	}
	ecl_engine_close(e);
}

/* ---- a stop while a retry waits ----------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static int stop_at_start(void *ctx, const ecl_event *ev)
{
	(void)ctx;
	if (ev->kind == ECL_EV_STEP_START)
		stop_flag = 1;
	return 0;
}

Test(faults, an_interrupt_while_a_retry_waits_leaves_the_run_resumable)
{
	ecl_options o = ts_options(db, script, calls);
	ecl_engine *e;
	char id[ECL_ID_MAX];

	ts_write(script, "{\"generate\": [[{\"$error\": \"transient\", \"message\": \"busy\"}, " GEN
			 "]], \"critique\": [" PASS "]}");
	o.on_event = stop_at_start;
	o.interrupt = &stop_flag;
	o.retry_base_ms = 60000; /* the retry would wait up to two minutes */
	stop_flag = 0;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EINTERRUPTED, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	expect_column(id, "status", "interrupted");
	expect_column(id, "seq", "0");
	cr_assert_eq(ts_count_lines(calls, " generate "), 1, "stopped before the retry");
	/* Resumed without the interrupt, the step is asked again (its second answer). */
	o.on_event = NULL;
	o.interrupt = NULL;
	o.retry_base_ms = 1;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	expect_column(id, "status", "completed");
}

/* ---- inputs ------------------------------------------------------------------------------- */

static const char *const levels[] = {"low", "high"};

static const ecl_slot_def need_slots[] = {
	{.name = "s", .kind = ECL_SLOT_INPUT, .type = ECL_T_STRING, .step = -1, .required = 1},
	{.name = "i", .kind = ECL_SLOT_INPUT, .type = ECL_T_INT, .step = -1, .required = 1},
	{.name = "f", .kind = ECL_SLOT_INPUT, .type = ECL_T_FLOAT, .step = -1, .required = 1},
	{.name = "b", .kind = ECL_SLOT_INPUT, .type = ECL_T_BOOL, .step = -1, .required = 1},
	{.name = "e",
	 .kind = ECL_SLOT_INPUT,
	 .type = ECL_T_ENUM,
	 .step = -1,
	 .choices = levels,
	 .nchoices = 2,
	 .required = 1},
	{.name = "l", .kind = ECL_SLOT_INPUT, .type = ECL_T_LIST, .step = -1, .required = 1},
	{.name = "o", .kind = ECL_SLOT_INPUT, .type = ECL_T_STRING, .step = -1}, /* optional */
};

static const ecl_workflow needs = {
	.abi = ECL_ABI_VERSION,
	.id = "needs",
	.name = "Required inputs of every type",
	.source = "tests/unit/test_faults.c",
	.version = "0000000000000003",
	.slots = need_slots,
	.nslots = 7,
	.steps = spin_steps,
	.nsteps = 1,
	.start = 0,
	.max_steps = 3,
	.opts = {.temperature = -1, .retries = -1, .repairs = -1},
	.step = spin_step,
};

Test(faults, a_missing_input_is_named_with_its_type)
{
	static const struct {
		const char *inputs, *error;
	} cases[] = {
		{"{}", "missing required input `s` (string) of workflow needs"},
		{"{\"s\": \"x\"}", "missing required input `i` (int) of workflow needs"},
		{"{\"s\": \"x\", \"i\": 1}",
		 "missing required input `f` (float) of workflow needs"},
		{"{\"s\": \"x\", \"i\": 1, \"f\": 0.5}",
		 "missing required input `b` (bool) of workflow needs"},
		{"{\"s\": \"x\", \"i\": 1, \"f\": 0.5, \"b\": true}",
		 "missing required input `e` (enum) of workflow needs"},
		{"{\"s\": \"x\", \"i\": 1, \"f\": 0.5, \"b\": true, \"e\": \"low\"}",
		 "missing required input `l` (list) of workflow needs"},
	};
	size_t i;
	char err[512];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(ecl_workflow_check_inputs(&needs, cases[i].inputs, err, sizeof(err)),
			     ECL_EINPUT, "%s", cases[i].inputs);
		cr_assert_str_eq(err, cases[i].error);
	}
	cr_assert_eq(ecl_workflow_check_inputs(&needs,
					       "{\"s\": \"x\", \"i\": 1, \"f\": 0.5, \"b\": "
					       "true, \"e\": \"low\", \"l\": [\"a\"]}",
					       err, sizeof(err)),
		     ECL_OK, "%s", err);
}

/* Checking inputs with memory failing: a wrong value is still named, whatever fails. */
Test(faults, every_allocation_of_an_input_check_may_fail)
{
	static const char *const inputs[] = {
		"{\"s\": \"x\", \"i\": 1, \"f\": 0.5, \"b\": true, \"e\": \"low\", \"l\": "
		"[\"a\", \"b\"]}",
		"{\"s\": \"x\", \"i\": 1, \"f\": 0.5, \"b\": \"yes\", \"e\": \"low\", \"l\": []}",
	};
	size_t k;

	for (k = 0; k < 2; k++) {
		int want = k ? ECL_EINPUT : ECL_OK, rc = -1;
		long n;

		for (n = 0; n < 1000; n++) {
			char err[512] = "";

			ecl_test_fail_alloc_after(n);
			rc = ecl_workflow_check_inputs(&needs, inputs[k], err, sizeof(err));
			ecl_test_fail_alloc_after(-1);
			cr_assert(rc == ECL_ENOMEM || rc == want, "allocation %ld: %d %s", n, rc,
				  err);
			if (rc != ECL_OK)
				cr_assert_str_neq(err, "", "allocation %ld: no detail", n);
			if (rc == ECL_EINPUT)
				cr_assert(strstr(err, "input `b`"), "allocation %ld: %s", n, err);
			if (rc == want && (rc == ECL_OK || !strstr(err, "(a value)")))
				break;
		}
		cr_assert_eq(rc, want);
	}
}

/* ---- snapshots under allocation failures ---------------------------------------------------- */

/* A completed run whose output refers to the strings of its checkpoints, and a run waiting on
 * a human step with its question: every allocation of a snapshot of each may fail, and a
 * snapshot that succeeds is exactly the one taken with memory to spare. */
Test(faults, every_allocation_of_a_snapshot_may_fail)
{
	ecl_engine *e;
	char id[ECL_ID_MAX];
	ecl_run_info *ref = NULL;
	long n;
	int rc = -1;

	ts_write(script, "{\"generate\": [{\"content\": \"A draft long enough to be stored "
			 "once\", \"word_count\": 7}], \"critique\": [" PASS "]}");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &ref), ECL_OK);
	cr_assert(strstr(ref->output, "A draft long enough"), "%s", ref->output);
	for (n = 0; n < 5000; n++) {
		ecl_run_info *info = NULL;

		ecl_test_fail_alloc_after(n);
		rc = ecl_run_info_get(e, id, &info);
		ecl_test_fail_alloc_after(-1);
		if (rc == ECL_OK) {
			cr_assert_str_eq(info->output, ref->output, "allocation %ld", n);
			cr_assert_str_eq(info->inputs, ref->inputs, "allocation %ld", n);
			cr_assert_str_eq(info->status, "completed");
			ecl_run_info_free(info);
			break;
		}
		cr_assert_null(info);
		cr_assert(rc == ECL_ENOMEM || rc == ECL_ESTORE, "allocation %ld: %d", n, rc);
		cr_assert_str_neq(ecl_engine_errmsg(e), "", "allocation %ld: no detail", n);
	}
	cr_assert_eq(rc, ECL_OK);
	ecl_run_info_free(ref);
	ecl_engine_close(e);
}

/* ---- batches ------------------------------------------------------------------------------ */

typedef struct ends {
	int n;
	char status[8][32];
	char error[8][512];
	char id[8][ECL_ID_MAX];
	int stop_after; /* return non-zero from the n-th end; 0: never */
} ends;

static int on_end(void *ctx, const ecl_batch_end *end)
{
	ends *x = ctx;

	if (x->n < 8) {
		snprintf(x->status[x->n], sizeof(x->status[0]), "%s", end->status);
		snprintf(x->error[x->n], sizeof(x->error[0]), "%s", end->error ? end->error : "");
		snprintf(x->id[x->n], sizeof(x->id[0]), "%s", end->run_id);
	}
	x->n++;
	return x->stop_after && x->n >= x->stop_after;
}

static const char *const two_topics[] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}",
					 "{\"topic\": \"c\"}"};

Test(faults, a_batch_checks_its_concurrency_and_accepts_no_inputs)
{
	ecl_engine *e = ts_engine(db, NULL, NULL);
	ends x = {0};

	cr_assert_eq(
		ecl_batch_drive(e, ts_workflow("critique-revise"), two_topics, 2, 0, on_end, &x),
		ECL_EUSAGE);
	cr_assert_str_eq(ecl_engine_errmsg(e), "the concurrency must be at least 1, not 0");
	cr_assert_eq(
		ecl_batch_drive(e, ts_workflow("critique-revise"), two_topics, 0, 4, on_end, &x),
		ECL_OK);
	cr_assert_eq(x.n, 0);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 0);
	ecl_engine_close(e);
}

Test(faults, a_batch_stops_starting_runs_when_its_callback_says_so)
{
	ecl_engine *e = ts_engine(db, NULL, NULL);
	ends x = {.stop_after = 1};

	cr_assert_eq(
		ecl_batch_drive(e, ts_workflow("critique-revise"), two_topics, 3, 1, on_end, &x),
		ECL_EINTERRUPTED);
	cr_assert_str_eq(ecl_engine_errmsg(e), "interrupted: 2 of 3 runs were not started");
	/* the two not started are stored, queued at their first step, for ecl recover */
	cr_assert_eq(x.n, 3);
	cr_assert_str_eq(x.status[0], "completed");
	cr_assert_str_eq(x.status[1], "queued");
	cr_assert_str_eq(x.status[2], "queued");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 3);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'queued'"), 2);
	ecl_engine_close(e);
}

Test(faults, a_batch_waits_for_its_retries)
{
	ecl_options o = ts_options(db, script, calls);
	ecl_engine *e;
	ends x = {0};

	ts_write(script, "{\"generate\": [[{\"$error\": \"transient\", \"message\": \"busy\"}, " GEN
			 "]], \"critique\": [" PASS "]}");
	o.retry_base_ms = 50; /* long enough for the runs to wait */
	e = ts_open(&o);
	cr_assert_eq(
		ecl_batch_drive(e, ts_workflow("critique-revise"), two_topics, 2, 2, on_end, &x),
		ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(x.n, 2);
	cr_assert_str_eq(x.status[0], "completed");
	cr_assert_str_eq(x.status[1], "completed");
	cr_assert_eq(ts_count_lines(calls, " generate 1 0"), 2);
	cr_assert_eq(ts_count_lines(calls, " generate 1 1"), 2, "each run retried once");
	ecl_engine_close(e);
}

/* What another process does to the first run of a batch once it committed a step. */
static int batch_what; /* 0 pause, 1 cancel, 2 take the lease, 3 lock the database */
static sqlite3 *locker;

static int on_commit(void *ctx, const ecl_event *ev)
{
	(void)ctx;
	if (ev->kind != ECL_EV_COMMIT || ev->seq != 1)
		return 0;
	if (batch_what <= 1) {
		ecl_engine *other = ts_engine(db, script, NULL);

		cr_assert_eq(batch_what ? ecl_run_cancel(other, ev->run_id, NULL)
					: ecl_run_pause(other, ev->run_id, NULL),
			     ECL_OK, "%s", ecl_engine_errmsg(other));
		ecl_engine_close(other);
	} else if (batch_what == 2) {
		char q[256];

		snprintf(q, sizeof(q),
			 "UPDATE runs SET owner = 'elsewhere/1/thief', lease_until_ms = "
			 "9000000000000 WHERE id = '%s'",
			 ev->run_id);
		ts_sql(db, q);
	} else if (!locker) {
		cr_assert_eq(sqlite3_open(db, &locker), SQLITE_OK);
		cr_assert_eq(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	}
	return 0;
}

static ecl_engine *batch_engine(int what)
{
	ecl_options o = ts_options(db, script, NULL);

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	batch_what = what;
	o.on_event = on_commit;
	o.busy_timeout_ms = 1;
	return ts_open(&o);
}

Test(faults, runs_of_a_batch_paused_cancelled_or_taken_over_are_reported_so)
{
	static const char *const want[] = {"paused", "cancelled", "lost"};
	static const char *const stored[] = {"paused", "cancelled", "running"};
	static const char *const seq[] = {"2", "2", "1"}; /* a request is seen at a commit */
	int what;

	for (what = 0; what < 3; what++) {
		ecl_engine *e;
		ends x = {0};

		snprintf(db, sizeof(db), "%s/runs-%d.db", dir, what);
		e = batch_engine(what);
		cr_assert_eq(ecl_batch_drive(e, ts_workflow("critique-revise"), two_topics, 1, 1,
					     on_end, &x),
			     ECL_OK, "%s", ecl_engine_errmsg(e));
		cr_assert_eq(x.n, 1);
		cr_assert_str_eq(x.status[0], want[what]);
		if (what == 2)
			cr_assert_str_neq(x.error[0], "", "a lost run says why");
		else
			cr_assert_str_eq(x.error[0], "", "a request is no error");
		expect_column(x.id[0], "status", stored[what]);
		expect_column(x.id[0], "seq", seq[what]);
		ecl_engine_close(e);
	}
}

Test(faults, a_database_locked_in_the_middle_of_a_batch_stops_it_with_the_file_named)
{
	ecl_engine *e = batch_engine(3);
	ends x = {0};
	int rc;

	rc = ecl_batch_drive(e, ts_workflow("critique-revise"), two_topics, 2, 1, on_end, &x);
	cr_assert_eq(rc, ECL_ESTORE, "status %d: %s", rc, ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), db), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(x.n, 2);
	cr_assert_str_eq(x.status[0], "error");
	cr_assert(strstr(x.error[0], db), "%s", x.error[0]);
	cr_assert_str_eq(x.status[1], "error", "the second run could not be created");
	cr_assert_str_eq(x.id[1], "");
	cr_assert_eq(sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(locker);
	locker = NULL;
	/* The first run kept its checkpoint and goes on from it. */
	expect_intact();
	expect_column(x.id[0], "seq", "1");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 1);
	cr_assert_eq(ecl_run_drive(e, x.id[0]), ECL_OK, "%s", ecl_engine_errmsg(e));
	expect_column(x.id[0], "status", "completed");
	ecl_engine_close(e);
}

Test(faults, every_allocation_of_a_batch_may_fail, .timeout = 300)
{
	long n;
	int done = 0;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	for (n = 0; n < 20000 && !done; n++) {
		ecl_engine *e;
		ends x = {0};
		int rc, i;

		snprintf(db, sizeof(db), "%s/oom-%ld.db", dir, n);
		e = ts_engine(db, script, NULL);
		ecl_test_fail_alloc_after(n);
		rc = ecl_batch_drive(e, ts_workflow("critique-revise"), two_topics, 2, 2, on_end,
				     &x);
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM || rc == ECL_ESTORE,
			  "allocation %ld: status %d (%s)", n, rc, ecl_engine_errmsg(e));
		if (rc != ECL_OK)
			cr_assert_str_neq(ecl_engine_errmsg(e), "", "allocation %ld: no detail", n);
		done = rc == ECL_OK && x.n == 2 && !strcmp(x.status[0], "completed") &&
		       !strcmp(x.status[1], "completed");
		/* With memory back, every run that was created completes. */
		for (i = 0; i < x.n && i < 8; i++) {
			if (!x.id[i][0] || !strcmp(x.status[i], "completed"))
				continue;
			rc = ecl_run_drive(e, x.id[i]);
			cr_assert(rc == ECL_OK, "allocation %ld: run %s did not recover: %s", n,
				  x.id[i], ecl_engine_errmsg(e));
		}
		ecl_engine_close(e);
		expect_intact();
		cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status NOT IN "
					    "('completed', 'running', 'interrupted')"),
			     0, "allocation %ld: a run failed for good", n);
		remove(db);
	}
	cr_assert(done, "no batch got through in %ld allocations", n);
}
