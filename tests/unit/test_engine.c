/*
 * test_engine.c - the engine's edges: opening it with bad options, providers that cannot
 * start (unknown names, missing or malformed scripts, an unwritable call log, a script that
 * runs out of answers), what lifecycle calls say about runs that do not exist or are over,
 * listings with every filter, histories with their notes, forks from every kind of
 * checkpoint, and prune's dry run and refusals.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define GEN    "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1\", \"word_count\": 2}"

static char *dir;
static char db[4096], script[4096];

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(script, sizeof(script), "%s/script.json", dir);
}

static void teardown(void)
{
	ts_rmtree(dir);
	free(dir);
}

TestSuite(engine, .init = setup, .fini = teardown);

static int open_fails(const ecl_options *o, const char *needle)
{
	ecl_engine *e = (ecl_engine *)1;
	char err[1024] = "";
	int rc = ecl_engine_open(o, &e, err, sizeof(err));

	cr_assert_neq(rc, ECL_OK, "opened with %s", needle);
	cr_assert_null(e);
	cr_assert(strstr(err, needle), "`%s` does not say `%s`", err, needle);
	return rc;
}

Test(engine, bad_options_are_refused_with_the_reason)
{
	ecl_options o = ts_options(db, NULL, NULL);
	char *text;

	cr_assert_eq(open_fails(NULL, "no database path"), ECL_EUSAGE);
	o.db_path = NULL;
	cr_assert_eq(open_fails(&o, "no database path"), ECL_EUSAGE);
	o = ts_options(db, NULL, NULL);
	o.provider = "gpt-17";
	cr_assert_eq(open_fails(&o, "unknown provider `gpt-17` (known: offline"), ECL_EUSAGE);
	o.provider = "scripted";
	cr_assert_eq(open_fails(&o, "needs a script file"), ECL_EUSAGE);
	o.script_path = script;
	cr_assert_eq(open_fails(&o, "cannot read the script"), ECL_EIO);
	ts_write(script, "{\"generate\": [");
	cr_assert_eq(open_fails(&o, "not a JSON object of answers per step"), ECL_EUSAGE);
	ts_write(script, "[]");
	cr_assert_eq(open_fails(&o, "not a JSON object of answers per step"), ECL_EUSAGE);
	ts_write(script, "{\"generate\": {\"content\": \"x\"}}");
	cr_assert_eq(open_fails(&o, "the answers of step `generate` must be an array"), ECL_EUSAGE);
	/* a directory is not a database: the error names the file */
	o = ts_options(dir, NULL, NULL);
	open_fails(&o, dir);
	/* nothing was written by the failed opens */
	cr_assert_eq(access(db, F_OK), -1);
	text = ts_read(script);
	cr_assert_str_eq(text, "{\"generate\": {\"content\": \"x\"}}");
	free(text);
}

static void start(ecl_engine *e, char id[ECL_ID_MAX])
{
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK, "%s", ecl_engine_errmsg(e));
}

Test(engine, a_script_that_runs_out_of_answers_leaves_the_run_resumable)
{
	ecl_engine *e;
	ecl_run_info *info;
	char id[ECL_ID_MAX];

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": []}");
	e = ts_engine(db, script, NULL);
	start(e, id);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EPROVIDER);
	cr_assert(strstr(ecl_engine_errmsg(e), "critique"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "interrupted");
	cr_assert_eq(info->step_count, 1);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

Test(engine, an_unwritable_call_log_fails_the_call_and_keeps_the_run)
{
	ecl_engine *e;
	ecl_run_info *info;
	char id[ECL_ID_MAX];

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	e = ts_engine(db, script, ts_path(dir, "no/such/dir/calls.log"));
	start(e, id);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EPROVIDER);
	cr_assert(strstr(ecl_engine_errmsg(e), "cannot write the call log"), "%s",
		  ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "interrupted");
	cr_assert_eq(info->step_count, 0);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

Test(engine, unknown_runs_are_named)
{
	ecl_engine *e = ts_engine(db, NULL, NULL);
	ecl_run_info *info = NULL;
	char out[ECL_ID_MAX];
	int applied = -1;

	cr_assert_eq(ecl_run_info_get(e, "00000000deadbeef", &info), ECL_ENOTFOUND);
	cr_assert_null(info);
	cr_assert(strstr(ecl_engine_errmsg(e), "00000000deadbeef"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_drive(e, "00000000deadbeef"), ECL_ENOTFOUND);
	cr_assert_eq(ecl_run_pause(e, "00000000deadbeef", &applied), ECL_ENOTFOUND);
	cr_assert(strstr(ecl_engine_errmsg(e), "00000000deadbeef"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_cancel(e, "00000000deadbeef", NULL), ECL_ENOTFOUND);
	cr_assert_eq(ecl_run_fork(e, "00000000deadbeef", 0, out), ECL_ENOTFOUND);
	ecl_engine_close(e);
}

Test(engine, finished_runs_refuse_pause_cancel_and_forks_past_their_end)
{
	ecl_engine *e = ts_engine(db, NULL, NULL);
	char id[ECL_ID_MAX], copy[ECL_ID_MAX];
	ecl_run_info *info;
	int applied = -1, n;

	start(e, id);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	n = info->step_count;
	ecl_run_info_free(info);
	cr_assert_eq(ecl_run_pause(e, id, &applied), ECL_ESTATE);
	cr_assert_eq(ecl_run_cancel(e, id, &applied), ECL_ESTATE);
	cr_assert_eq(ecl_run_fork(e, id, n + 1, copy), ECL_EUSAGE);
	cr_assert(strstr(ecl_engine_errmsg(e), "there is no"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_fork(e, id, -1, copy), ECL_EUSAGE);
	cr_assert_eq(ecl_run_fork(e, id, n, copy), ECL_EUSAGE);
	cr_assert(strstr(ecl_engine_errmsg(e), "ended the run"), "%s", ecl_engine_errmsg(e));
	/* from its start: a new run that runs the whole workflow again */
	cr_assert_eq(ecl_run_fork(e, id, 0, copy), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_drive(e, copy), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, copy, &info), ECL_OK);
	cr_assert_eq(info->step_count, n);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

typedef struct seen {
	int n;
	char ids[8][ECL_ID_MAX];
	char statuses[8][16];
	int stop_after;
} seen;

static int collect(void *ctx, const ecl_run_info *info)
{
	seen *s = ctx;

	if (s->n < 8) {
		snprintf(s->ids[s->n], ECL_ID_MAX, "%s", info->id);
		snprintf(s->statuses[s->n], 16, "%s", info->status);
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static int list(ecl_engine *e, const ecl_run_filter *f, seen *s)
{
	int stop = s->stop_after;

	memset(s, 0, sizeof(*s));
	s->stop_after = stop;
	return ecl_run_list(e, f, collect, s);
}

Test(engine, listings_filter_by_status_workflow_age_and_count)
{
	static const char *const done[] = {"completed"};
	static const char *const open_or_failed[] = {"interrupted", "failed"};
	ecl_engine *e = ts_engine(db, NULL, NULL);
	ecl_run_filter f = {0};
	char a[ECL_ID_MAX], b[ECL_ID_MAX], c[ECL_ID_MAX];
	seen s = {0};
	int count = -1;

	start(e, a);
	cr_assert_eq(ecl_run_drive(e, a), ECL_OK);
	start(e, b);
	cr_assert_eq(ecl_run_drive(e, b), ECL_OK);
	start(e, c); /* never driven: interrupted once the engine is closed */
	ecl_engine_close(e);
	e = ts_engine(db, NULL, NULL);

	cr_assert_eq(list(e, NULL, &s), ECL_OK);
	cr_assert_eq(s.n, 3);
	cr_assert_str_eq(s.ids[0], c, "newest first");
	cr_assert_str_eq(s.statuses[0], "interrupted");
	f.statuses = done;
	f.nstatuses = 1;
	cr_assert_eq(list(e, &f, &s), ECL_OK);
	cr_assert_eq(s.n, 2);
	f.statuses = open_or_failed;
	f.nstatuses = 2;
	cr_assert_eq(list(e, &f, &s), ECL_OK);
	cr_assert_eq(s.n, 1);
	f = (ecl_run_filter){.workflow = "critique-revise", .limit = 2};
	cr_assert_eq(list(e, &f, &s), ECL_OK);
	cr_assert_eq(s.n, 2);
	f = (ecl_run_filter){.workflow = "bench-critique-revise"};
	cr_assert_eq(list(e, &f, &s), ECL_OK);
	cr_assert_eq(s.n, 0);
	f = (ecl_run_filter){.older_than_ms = 3600 * 1000};
	cr_assert_eq(list(e, &f, &s), ECL_OK);
	cr_assert_eq(s.n, 0, "nothing is an hour old");
	s.stop_after = 1;
	cr_assert_eq(list(e, NULL, &s), 1, "the walk stops when the callback says so");
	cr_assert_eq(s.n, 1);

	/* prune: a dry run counts, only finished statuses may be named, the live run stays */
	f = (ecl_run_filter){0};
	cr_assert_eq(ecl_prune(e, &f, 1, &count), ECL_OK);
	cr_assert_eq(count, 2);
	f.statuses = open_or_failed;
	f.nstatuses = 2;
	cr_assert_eq(ecl_prune(e, &f, 0, &count), ECL_EUSAGE);
	cr_assert(strstr(ecl_engine_errmsg(e), "not interrupted ones"), "%s", ecl_engine_errmsg(e));
	f = (ecl_run_filter){.older_than_ms = 3600 * 1000};
	cr_assert_eq(ecl_prune(e, &f, 0, &count), ECL_OK);
	cr_assert_eq(count, 0);
	cr_assert_eq(ecl_prune(e, NULL, 0, &count), ECL_OK);
	cr_assert_eq(count, 2);
	s.stop_after = 0;
	cr_assert_eq(list(e, NULL, &s), ECL_OK);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.ids[0], c);
	ecl_engine_close(e);
}

typedef struct hist {
	char notes[8][160];
	int nnotes;
	int checkpoints;
	int prompts;
} hist;

static int on_history(void *ctx, const ecl_history_entry *h)
{
	hist *s = ctx;

	if (h->note) {
		if (s->nnotes < 8)
			snprintf(s->notes[s->nnotes], 160, "%d %s", h->seq, h->note);
		s->nnotes++;
		return 0;
	}
	s->checkpoints++;
	s->prompts += h->prompt != NULL;
	return 0;
}

Test(engine, history_shows_notes_in_order)
{
	ecl_engine *e;
	char id[ECL_ID_MAX], copy[ECL_ID_MAX];
	hist h = {0};
	int applied = -1;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS "],"
			 " \"revise\": [" REV1 "]}");
	e = ts_engine(db, script, NULL);
	start(e, id);
	ecl_engine_close(e); /* interrupted, never driven */
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_pause(e, id, &applied), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(applied, 1, "nobody drives it: paused at once");
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_fork(e, id, 2, copy), ECL_OK, "%s", ecl_engine_errmsg(e));

	cr_assert_eq(ecl_run_history(e, id, 0, on_history, &h), ECL_OK);
	cr_assert_eq(h.checkpoints, 4);
	cr_assert_eq(h.prompts, 0, "prompts only with full");
	cr_assert_geq(h.nnotes, 1);
	cr_assert(strstr(h.notes[0], "pause done"), "%s", h.notes[0]);

	memset(&h, 0, sizeof(h));
	cr_assert_eq(ecl_run_history(e, copy, 1, on_history, &h), ECL_OK);
	cr_assert_eq(h.checkpoints, 2);
	cr_assert_eq(h.prompts, 2);
	cr_assert_eq(h.nnotes, 1);
	cr_assert(strstr(h.notes[0], "2 forked from run "), "%s", h.notes[0]);
	cr_assert_eq(ecl_run_history(e, "00000000deadbeef", 0, on_history, &h), ECL_ENOTFOUND);
	ecl_engine_close(e);
}

Test(engine, a_cancelled_run_cannot_be_resumed)
{
	ecl_engine *e = ts_engine(db, NULL, NULL);
	ecl_run_info *info;
	char id[ECL_ID_MAX];
	int applied = -1;

	start(e, id);
	ecl_engine_close(e);
	e = ts_engine(db, NULL, NULL);
	cr_assert_eq(ecl_run_cancel(e, id, &applied), ECL_OK);
	cr_assert_eq(applied, 1);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTATE);
	cr_assert(strstr(ecl_engine_errmsg(e), "cancelled"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "cancelled");
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

Test(engine, a_run_of_a_workflow_this_program_lacks)
{
	ecl_options o = ts_options(db, NULL, NULL);
	const ecl_workflow *only[1] = {ts_workflow("bench-critique-revise")};
	ecl_engine *e = ts_open(&o);
	char id[ECL_ID_MAX], copy[ECL_ID_MAX];
	ecl_run_info *info = NULL;
	seen s = {0};

	start(e, id);
	ecl_engine_close(e);
	o.workflows = only;
	o.nworkflows = 1;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ENOTFOUND);
	cr_assert(strstr(ecl_engine_errmsg(e), "which this program does not have"), "%s",
		  ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_fork(e, id, 0, copy), ECL_ENOTFOUND);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK, "a snapshot without the workflow");
	cr_assert_str_eq(info->workflow, "critique-revise");
	cr_assert_eq(info->revision_limit, 0);
	ecl_run_info_free(info);
	cr_assert_eq(list(e, NULL, &s), ECL_OK);
	cr_assert_eq(s.n, 1, "listed as it is");
	ecl_engine_close(e);
}

Test(engine, workflows_are_found_by_id)
{
	cr_assert_null(ecl_workflow_find(ecl_workflows, ecl_nworkflows, "no-such-workflow"));
	cr_assert_not_null(ecl_workflow_find(ecl_workflows, ecl_nworkflows, "critique-revise"));
	cr_assert_null(ecl_workflow_find(NULL, 0, "critique-revise"));
	cr_assert_str_eq(ecl_engine_errmsg(NULL), "no engine");
	ecl_engine_close(NULL);
}
