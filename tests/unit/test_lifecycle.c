/*
 * test_lifecycle.c - runs looked after from other processes: pause, cancel, a second driver
 * refused, leases taken over, fork, prune, listing and history, changed workflows.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define GEN              "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS             "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE           "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1             "{\"content\": \"Draft v1\", \"word_count\": 2}"
#define REV2             "{\"content\": \"Draft v2\", \"word_count\": 2}"
#define SLOW(ms, answer) "{\"$delay_ms\": " #ms ", \"$answer\": " answer "}"

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
	ts_rmtree(dir);
	free(dir);
}

TestSuite(lifecycle, .init = setup, .fini = teardown);

static ecl_options options(void)
{
	ecl_options o = ts_options(db, script, calls);

	o.lease_ms = 600; /* renewed every 200 ms, so requests are seen quickly */
	return o;
}

static void start(char id[ECL_ID_MAX])
{
	ecl_options o = options();
	ecl_engine *e = ts_open(&o);

	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	ecl_engine_close(e);
}

/* Drive run id in a child process; its exit status is ecl_run_drive's result. */
static pid_t drive_in_child(const char *id)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		ecl_options o = options();
		ecl_engine *e;
		char err[256];

		int rc;

		if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
			ts_exit(100);
		rc = ecl_run_drive(e, id);
		if (rc != ECL_OK && rc != ECL_EPAUSED && rc != ECL_ECANCELLED)
			fprintf(stderr, "child: %s\n", ecl_engine_errmsg(e));
		ecl_engine_close(e);
		ts_exit(rc);
	}
	return pid;
}

static int child_status(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

static void wait_for_call(const char *needle)
{
	int i;

	for (i = 0; i < 1000 && ts_count_lines(calls, needle) == 0; i++) {
		struct timespec ts = {0, 5000000};

		nanosleep(&ts, NULL);
	}
	cr_assert_gt(ts_count_lines(calls, needle), 0, "no call %s", needle);
}

static char *status_of(const char *id)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT status FROM runs WHERE id = '%s'", id);
	return ts_sql_text(db, sql);
}

Test(lifecycle, pause_from_another_process_then_resume)
{
	char id[ECL_ID_MAX], *st;
	ecl_options o = options();
	ecl_engine *e;
	int applied = -1;
	pid_t pid;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" SLOW(
				 700, REVISE) ", " PASS "], \"revise\": [" REV1 "]}");
	start(id);
	pid = drive_in_child(id);
	wait_for_call(" critique ");
	e = ts_open(&o);
	cr_assert_eq(ecl_run_pause(e, id, &applied), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(applied, 0, "a driven run is asked, not changed");
	cr_assert_eq(child_status(pid), ECL_EPAUSED);
	st = status_of(id);
	cr_assert_str_eq(st, "paused");
	free(st);
	cr_assert_eq(ts_sql_int(db, "SELECT seq FROM runs"), 2, "it stopped after the critique");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE owner IS NULL"), 1);
	/* A paused run is resumed like an interrupted one. */
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ts_sql_int(db, "SELECT seq FROM runs"), 4);
	cr_assert_eq(ts_count_lines(calls, " critique 1 "), 1, "the critique was not asked again");
	ecl_engine_close(e);
}

Test(lifecycle, pause_of_an_idle_run_is_immediate)
{
	char id[ECL_ID_MAX], *st;
	ecl_options o = options();
	ecl_engine *e;
	int applied = 0;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(id);
	o.lease_ms = 1; /* the starting engine's lease is over at once */
	e = ts_open(&o);
	{
		struct timespec ts = {0, 5000000};

		nanosleep(&ts, NULL);
	}
	cr_assert_eq(ecl_run_pause(e, id, &applied), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(applied, 1);
	st = status_of(id);
	cr_assert_str_eq(st, "paused");
	free(st);
	ecl_engine_close(e);
}

Test(lifecycle, cancel_abandons_the_step_in_flight)
{
	char id[ECL_ID_MAX], *st;
	ecl_options o = options();
	ecl_engine *e;
	struct timespec t0, t1;
	pid_t pid;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" SLOW(60000, PASS) "]}");
	start(id);
	pid = drive_in_child(id);
	wait_for_call(" critique ");
	e = ts_open(&o);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ecl_run_cancel(e, id, NULL), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(child_status(pid), ECL_ECANCELLED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 10, "the 60 s call was abandoned");
	st = status_of(id);
	cr_assert_str_eq(st, "cancelled");
	free(st);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTATE, "a cancelled run cannot be resumed");
	cr_assert(strstr(ecl_engine_errmsg(e), "cancelled"));
	cr_assert_eq(ecl_run_cancel(e, id, NULL), ECL_ESTATE);
	ecl_engine_close(e);
}

Test(lifecycle, second_driver_is_refused)
{
	char id[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	pid_t pid;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" SLOW(1500, PASS) "]}");
	start(id);
	pid = drive_in_child(id);
	wait_for_call(" critique ");
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTATE);
	cr_assert(strstr(ecl_engine_errmsg(e), "is being driven by"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(child_status(pid), ECL_OK, "the first driver finishes undisturbed");
	cr_assert_eq(ts_count_lines(calls, NULL), 2);
	ecl_engine_close(e);
}

Test(lifecycle, expired_lease_of_another_host_is_taken_over)
{
	char id[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(id);
	/* A driver on another machine holds the lease for a minute... */
	{
		char sql[256];
		const char *argv[] = {"/usr/bin/sqlite3", db, sql, NULL};

		snprintf(sql, sizeof(sql),
			 "UPDATE runs SET owner = 'elsewhere/42/0', lease_until_ms = %lld",
			 (long long)time(NULL) * 1000 + 60000);
		cr_assert_eq(ts_run(argv, NULL, NULL), 0);
		e = ts_open(&o);
		cr_assert_eq(ecl_run_drive(e, id), ECL_ESTATE);
		cr_assert(strstr(ecl_engine_errmsg(e), "elsewhere/42/0"), "%s",
			  ecl_engine_errmsg(e));
		/* ... and then its lease runs out. */
		snprintf(sql, sizeof(sql), "UPDATE runs SET lease_until_ms = 1");
		cr_assert_eq(ts_run(argv, NULL, NULL), 0);
	}
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
}

static int count_runs(void *ctx, const ecl_run_info *info)
{
	(*(int *)ctx)++;
	cr_assert_not_null(info->id);
	return 0;
}

Test(lifecycle, fork_from_a_checkpoint)
{
	char id[ECL_ID_MAX], fid[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	ecl_run_info *info;
	char sql[256];

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE ", " PASS
			 "], \"revise\": [" REV1 ", " REV2 "]}");
	start(id);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK);
	cr_assert_eq(ecl_run_fork(e, id, 7, fid), ECL_EUSAGE);
	cr_assert_eq(ecl_run_fork(e, id, 6, fid), ECL_EUSAGE, "checkpoint 6 ended the run");
	cr_assert_eq(ecl_run_fork(e, id, 3, fid), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_str_neq(fid, id);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM steps WHERE run_id = '%s'", fid);
	cr_assert_eq(ts_sql_int(db, sql), 3);
	cr_assert_eq(ecl_run_drive(e, fid), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, fid, &info), ECL_OK);
	cr_assert_eq(info->step_count, 6);
	cr_assert_eq(info->revisions, 2);
	cr_assert(strstr(info->output, "Draft v2"));
	ecl_run_info_free(info);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM steps WHERE run_id = '%s'", id);
	cr_assert_eq(ts_sql_int(db, sql), 6, "the old run is untouched");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM notes WHERE text LIKE 'forked from%'"),
		     1);
	/* The fork asked only for the steps after checkpoint 3: critique 2, revise 2, critique 3.
	 */
	cr_assert_eq(ts_count_lines(calls, NULL), 9);
	ecl_engine_close(e);
}

Test(lifecycle, prune_deletes_only_finished_runs)
{
	char a[ECL_ID_MAX], b[ECL_ID_MAX], c[ECL_ID_MAX];
	static const char *const running[] = {"running"};
	ecl_options o = options();
	ecl_run_filter f = {0};
	ecl_engine *e;
	int count = -1, n = 0;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(a);
	start(b);
	start(c);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, a), ECL_OK);
	cr_assert_eq(ecl_run_cancel(e, b, NULL), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_prune(e, &f, 1, &count), ECL_OK);
	cr_assert_eq(count, 2, "dry run: the completed and the cancelled run");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 3, "dry run deletes nothing");
	f.older_than_ms = 3600 * 1000;
	cr_assert_eq(ecl_prune(e, &f, 0, &count), ECL_OK);
	cr_assert_eq(count, 0, "nothing is an hour old");
	f.older_than_ms = 0;
	cr_assert_eq(ecl_prune(e, &f, 0, &count), ECL_OK);
	cr_assert_eq(count, 2);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 1);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 0);
	f.statuses = running;
	f.nstatuses = 1;
	cr_assert_eq(ecl_prune(e, &f, 0, &count), ECL_EUSAGE, "live runs are never pruned");
	f.nstatuses = 0;
	cr_assert_eq(ecl_run_list(e, &f, count_runs, &n), ECL_OK);
	cr_assert_eq(n, 1);
	ecl_engine_close(e);
}

typedef struct hist {
	int steps, notes;
	char prompts[8][512];
} hist;

static int collect_history(void *ctx, const ecl_history_entry *h)
{
	hist *x = ctx;

	if (h->note) {
		x->notes++;
		return 0;
	}
	cr_assert_not_null(h->prompt);
	snprintf(x->prompts[x->steps++ % 8], 512, "%s", h->prompt);
	return 0;
}

Test(lifecycle, history_renders_the_prompts_each_step_was_given)
{
	char id[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	hist h = {0};

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	start(id);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK);
	cr_assert_eq(ecl_run_history(e, id, 1, collect_history, &h), ECL_OK);
	cr_assert_eq(h.steps, 4);
	cr_assert(strstr(h.prompts[0], "on this topic: t"), "%s", h.prompts[0]);
	cr_assert(strstr(h.prompts[1], "Draft v0"), "critique 1 judged the draft: %s",
		  h.prompts[1]);
	cr_assert(strstr(h.prompts[2], "(revision 1)"), "%s", h.prompts[2]);
	cr_assert(strstr(h.prompts[2], "Feedback: more"), "%s", h.prompts[2]);
	cr_assert(strstr(h.prompts[3], "Draft v1"), "critique 2 judged the revision: %s",
		  h.prompts[3]);
	ecl_engine_close(e);
}

/* Every call of every checkpoint as text, one line each: "[seq.n kind r=R] sys=... | prompt=...
 * | fix=... | answer=... | error=... | tokens=I/O". */
typedef struct call_dump {
	char text[16384];
	int ncalls[16]; /* by seq */
	int attempts[16];
} call_dump;

static int dump_calls(void *ctx, const ecl_history_entry *h)
{
	call_dump *d = ctx;
	int i;

	if (h->note)
		return 0;
	cr_assert_lt(h->seq, 16);
	d->ncalls[h->seq] = h->ncalls;
	d->attempts[h->seq] = h->attempt;
	for (i = 0; i < h->ncalls; i++) {
		const ecl_llm_call *k = &h->calls[i];
		size_t n = strlen(d->text);

		snprintf(d->text + n, sizeof(d->text) - n,
			 "[%d.%d %s r=%d] sys=%s | prompt=%s | fix=%s | answer=%s | error=%s | "
			 "tokens=%lld/%lld\n",
			 h->seq, k->n, ecl_llm_call_kind_name(k->kind), k->repair,
			 k->system ? k->system : "-", k->prompt ? k->prompt : "-",
			 k->fix ? k->fix : "-", k->answer ? k->answer : "-",
			 k->error ? k->error : "-", k->tokens_in, k->tokens_out);
	}
	return 0;
}

#define HAS(d, needle) cr_assert(strstr((d).text, needle), "no %s in:\n%s", needle, (d).text)

Test(lifecycle, history_shows_what_version_1_sent_after_the_workflow_changed)
{
	static const ecl_tpl_part edited[] = {{"EDITED system line", 18, -1}};
	static ecl_step_def steps[16];
	static ecl_workflow v2;
	const ecl_workflow *v1 = ts_workflow("critique-revise"), *list[1] = {&v2};
	char id[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	call_dump d = {0};
	hist h = {0};
	int i;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(id);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	/* the workflow edited and compiled again: another version, another system line */
	cr_assert_leq(v1->nsteps, 16);
	memcpy(steps, v1->steps, (size_t)v1->nsteps * sizeof(*steps));
	for (i = 0; i < v1->nsteps; i++)
		if (strcmp(steps[i].name, "generate") == 0)
			steps[i].system = (ecl_template){edited, 1};
	v2 = *v1;
	v2.steps = steps;
	v2.version = "00000000ed17ed02";
	o.workflows = list;
	o.nworkflows = 1;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_history(e, id, 1, dump_calls, &d), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert(!strstr(d.text, "EDITED"), "the text compiled now is shown:\n%s", d.text);
	HAS(d, "[1.1 first r=0] sys=You are a careful writer. Answer with one JSON object and "
	       "nothing else. | prompt=Write a piece of at least 50 words on this topic: t\n");
	HAS(d, "[2.1 first r=0] sys=You are a strict editor.");
	cr_assert_eq(ecl_run_history(e, id, 1, collect_history, &h), ECL_OK);
	cr_assert(strstr(h.prompts[0], "on this topic: t"), "%s", h.prompts[0]);
	ecl_engine_close(e);
}

Test(lifecycle, history_shows_every_call_with_its_kind_what_it_sent_and_got)
{
	char id[ECL_ID_MAX], failed[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	call_dump d = {0}, brief = {0};

	o.retry_base_ms = 1;
	ts_write(script,
		 "{\"generate\": [[{\"$error\": \"transient\", \"message\": \"server busy\"},"
		 " \"not json at all\", " GEN "]], \"critique\": [" PASS "]}");
	start(id);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_history(e, id, 1, dump_calls, &d), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(d.ncalls[1], 3, "%s", d.text);
	cr_assert_eq(d.ncalls[2], 1, "%s", d.text);
	HAS(d, "[1.1 first r=0] sys=You are a careful writer.");
	HAS(d, "| fix=- | answer=- | error=scripted: server busy |");
	HAS(d, "[1.2 retry r=0] sys=You are a careful writer.");
	HAS(d, "| fix=- | answer=not json at all | error=step `generate`: the answer holds no "
	       "JSON object");
	HAS(d, "[1.3 repair r=1] sys=You are a careful writer.");
	HAS(d, "| fix=Your answer could not be used: step `generate`: the answer holds no JSON "
	       "object: \"not json at all\".\nAnswer again with only one JSON object with these "
	       "fields: content, word_count. | answer={\"content\":\"Draft v0\",\"word_count\":2}"
	       " | error=- |");
	HAS(d, "[2.1 first r=0] sys=You are a strict editor.");
	HAS(d, "Draft v0\n\nAnswer as JSON"); /* the critique's prompt holds the draft */
	/* without full: the calls and their kinds, not the texts */
	cr_assert_eq(ecl_run_history(e, id, 0, dump_calls, &brief), ECL_OK);
	cr_assert_eq(brief.ncalls[1], 3);
	cr_assert(strstr(brief.text, "[1.2 retry r=0] sys=- | prompt=- | fix=- | answer=not json"),
		  "%s", brief.text);

	/* the repairs run out: the failed checkpoint keeps both answers refused */
	ecl_engine_close(e);
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [[\"bad\", \"still bad\"]]}");
	start(failed);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, failed), ECL_EFAILED, "%s", ecl_engine_errmsg(e));
	memset(&d, 0, sizeof(d));
	cr_assert_eq(ecl_run_history(e, failed, 1, dump_calls, &d), ECL_OK);
	cr_assert_eq(d.ncalls[2], 2, "%s", d.text);
	HAS(d, "[2.1 first r=0] sys=You are a strict editor.");
	HAS(d, "| answer=bad | error=step `critique`: the answer holds no JSON object");
	HAS(d, "[2.2 repair r=1] sys=You are a strict editor.");
	HAS(d, "| answer=still bad | error=step `critique`: the answer holds no JSON object");
	ecl_engine_close(e);
}

Test(lifecycle, fork_and_prune_keep_the_calls_with_their_checkpoints)
{
	char id[ECL_ID_MAX], fid[ECL_ID_MAX], sql[160];
	ecl_options o = options();
	ecl_run_filter f = {0};
	ecl_engine *e;
	call_dump d = {0};
	int count;

	o.retry_base_ms = 1;
	ts_write(script,
		 "{\"generate\": [[{\"$error\": \"transient\", \"message\": \"busy\"}, " GEN
		 "]], \"critique\": [" REVISE ", [\"nope\", " PASS "]], \"revise\": [" REV1 "]}");
	start(id);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM calls"), 4,
		     "2 of generate, 2 of the"
		     " last critique");
	cr_assert_eq(ecl_run_fork(e, id, 3, fid), ECL_OK, "%s", ecl_engine_errmsg(e));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM calls WHERE run_id = '%s'", fid);
	cr_assert_eq(ts_sql_int(db, sql), 2, "the calls of the checkpoints the fork keeps");
	cr_assert_eq(ecl_run_history(e, fid, 1, dump_calls, &d), ECL_OK);
	cr_assert_eq(d.ncalls[1], 2, "%s", d.text);
	HAS(d, "[1.1 first r=0] sys=You are a careful writer.");
	HAS(d, "error=scripted: busy");
	HAS(d, "[1.2 retry r=0]");
	cr_assert_eq(ecl_prune(e, &f, 0, &count), ECL_OK);
	cr_assert_eq(count, 1, "the completed run, not its interrupted fork");
	cr_assert_eq(ts_sql_int(db, sql), 2, "the fork keeps its calls");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM calls"), 2, "the run's went with it");
	cr_assert_eq(ecl_run_cancel(e, fid, NULL), ECL_OK);
	cr_assert_eq(ecl_prune(e, &f, 0, &count), ECL_OK);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM calls"), 0);
	ecl_engine_close(e);
}

Test(lifecycle, a_kill_before_the_commit_leaves_no_calls_and_the_resume_records_its_own)
{
	char id[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	call_dump d = {0};
	pid_t pid;

	o.retry_base_ms = 1;
	ts_write(script,
		 "{\"generate\": [[{\"$error\": \"transient\", \"message\": \"busy\"}, " SLOW(
			 1500, GEN) "]], \"critique\": [" PASS "]}");
	start(id);
	pid = drive_in_child(id);
	wait_for_call(" generate 1 1"); /* the retry is in flight: the first call has ended */
	cr_assert_eq(kill(pid, SIGKILL), 0);
	waitpid(pid, NULL, 0);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 0);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM calls"), 0, "calls of no checkpoint");
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_history(e, id, 1, dump_calls, &d), ECL_OK);
	cr_assert_gt(d.attempts[1], 1, "attempt %d", d.attempts[1]);
	cr_assert_eq(d.ncalls[1], 2, "the calls of the attempt committed: %s", d.text);
	HAS(d, "[1.1 first r=0] sys=You are a careful writer.");
	HAS(d, "error=scripted: busy");
	HAS(d, "[1.2 retry r=0]");
	ecl_engine_close(e);
}

Test(lifecycle, after_a_version_switch_each_step_shows_the_texts_of_its_own_version)
{
	static const ecl_tpl_part edited[] = {{"EDITED system line", 18, -1}};
	static ecl_step_def steps[16];
	static ecl_workflow v2;
	const ecl_workflow *v1 = ts_workflow("critique-revise"), *list[1] = {&v2};
	char id[ECL_ID_MAX], fid[ECL_ID_MAX], fid2[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	call_dump d = {0};
	int i;

	/* version 1 commits the draft, then the provider fails: the run is interrupted */
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [[{\"$error\": \"permanent\", "
			 "\"message\": \"down\"}]]}");
	start(id);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EPROVIDER, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	/* version 2 edits every system line and goes on with the run */
	cr_assert_leq(v1->nsteps, 16);
	memcpy(steps, v1->steps, (size_t)v1->nsteps * sizeof(*steps));
	for (i = 0; i < v1->nsteps; i++)
		steps[i].system = (ecl_template){edited, 1};
	v2 = *v1;
	v2.steps = steps;
	v2.version = "00000000ed17ed02";
	o.workflows = list;
	o.nworkflows = 1;
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_history(e, id, 1, dump_calls, &d), ECL_OK, "%s", ecl_engine_errmsg(e));
	HAS(d, "[1.1 first r=0] sys=You are a careful writer.");
	HAS(d, "[2.1 first r=0] sys=EDITED system line | prompt=Judge this piece on the topic "
	       "\"t\"");
	HAS(d, "Draft v0\n\nAnswer as JSON"); /* the state carried over the switch */
	/* a fork takes the draft of version 1 with the versions it went through */
	cr_assert_eq(ecl_run_fork(e, id, 1, fid), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_drive(e, fid), ECL_OK, "%s", ecl_engine_errmsg(e));
	memset(&d, 0, sizeof(d));
	cr_assert_eq(ecl_run_history(e, fid, 1, dump_calls, &d), ECL_OK, "%s",
		     ecl_engine_errmsg(e));
	HAS(d, "[1.1 first r=0] sys=You are a careful writer.");
	HAS(d, "[2.1 first r=0] sys=EDITED system line | prompt=Judge this piece");
	/* and a fork of the fork as well */
	cr_assert_eq(ecl_run_fork(e, fid, 1, fid2), ECL_OK, "%s", ecl_engine_errmsg(e));
	memset(&d, 0, sizeof(d));
	cr_assert_eq(ecl_run_history(e, fid2, 1, dump_calls, &d), ECL_OK, "%s",
		     ecl_engine_errmsg(e));
	HAS(d, "[1.1 first r=0] sys=You are a careful writer.");
	ecl_engine_close(e);
}

Test(lifecycle, a_damaged_definition_is_reported_not_rendered)
{
	static const char *const bad[] = {
		"not json",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [], \"steps\": []}",
		"{\"id\": \"x\", \"start\": 2, \"slots\": [], \"steps\": [[\"a\", 0, [], [], [], "
		"[], "
		"-1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [1], \"steps\": [[\"a\", 0, [], [], [], "
		"[], "
		"-1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [[\"s\", 9, 0, -1, null, null, null, 0, "
		"null]], \"steps\": [[\"a\", 0, [], [], [], [], -1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [[\"s\", 0, 4, -1, 7, null, null, 0, "
		"null]], \"steps\": [[\"a\", 0, [], [], [], [], -1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [[\"s\", 0, 4, -1, null, [1], null, 0, "
		"null]], \"steps\": [[\"a\", 0, [], [], [], [], -1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [], \"steps\": [[\"a\", 7, [], [], [], "
		"[], "
		"-1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [], \"steps\": [[\"a\", 0, [{}], [], [], "
		"[], "
		"-1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [], \"steps\": [[\"a\", 0, [], 3, [], "
		"[], "
		"-1]]}",
		"{\"id\": \"x\", \"start\": 0, \"slots\": [[\"s\", 2, 0, 0, \"f\", null, null, 0, "
		"null]], \"steps\": [[\"a\", 0, [], [], [], [1], -1]]}",
		"{\"id\": \"x", /* a string without its end */
	};
	/* edits of a good definition that make it bad */
	static const char *const edits[][2] = {
		{"careful", "\\x"},                           /* an unknown escape */
		{"careful", "\\u00zz"},                       /* a bad \u escape */
		{"careful", "\\u0000"},                       /* a NUL */
		{"careful", "\\u00e9"},                       /* an escape never written */
		{"\"start\"", "\"other\""},                   /* an unknown member */
		{"\"id\":", "\"id\":null,\"x\":"},            /* no id */
		{"]]}", "]]}x"},                              /* something after the end */
		{"[0,100]", "[0,\"a\"]"},                     /* a range of no numbers */
		{"[0,100]", "\"a\""},                         /* neither a range nor null */
		{"[\"pass\",\"revise\"]", "\"pass\""},        /* neither choices nor null */
		{"[\"pass\",\"revise\"]", "[\"pass\",null]"}, /* a choice of no text */
		{"[4,5]", "[4,99]"},                          /* an output that is no slot */
		{"],[4,5],-1]", "],[4,5],99]"},               /* a counter that is no slot */
		{",1,\" words", ",99,\" words"},              /* a template's slot that is none */
		{"\"start\":0", "\"start\":9"},               /* a start that is no step */
		{"[\"topic\",0,0,-1", "[\"topic\",0,0,9"},    /* a slot of no step */
		{"{\"id\"", "\"id\""},                        /* no object */
		{"[\"topic\",", "[null,"},                    /* a slot without a name */
		{"[\"generate\",", "[null,"},                 /* a step without a name */
	};
	char id[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	call_dump d = {0};
	size_t i;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(id);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ts_sql(db, "CREATE TABLE good AS SELECT def FROM versions");
	/* the escapes a definition's text may hold read back as what they stand for */
	ts_sql(db, "UPDATE versions SET def = replace(def, 'You are a careful writer.',"
		   " 'W\\/\\b\\f\\r\\t\\u0001\\u001F.')");
	cr_assert_eq(ecl_run_history(e, id, 1, dump_calls, &d), ECL_OK, "%s", ecl_engine_errmsg(e));
	HAS(d, "[1.1 first r=0] sys=W/\b\f\r\t\x01\x1f. Answer with one JSON object");
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char sql[512];

		snprintf(sql, sizeof(sql),
			 "UPDATE versions SET def = replace((SELECT def FROM good), '%s', '%s')",
			 edits[i][0], edits[i][1]);
		ts_sql(db, sql);
		cr_assert_eq(ecl_run_history(e, id, 1, dump_calls, &d), ECL_ESTORE, "%s",
			     edits[i][1]);
		cr_assert(strstr(ecl_engine_errmsg(e), "does not read"), "%s: %s", edits[i][1],
			  ecl_engine_errmsg(e));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char sql[512];

		snprintf(sql, sizeof(sql), "UPDATE versions SET def = '%s'", bad[i]);
		ts_sql(db, sql);
		cr_assert_eq(ecl_run_history(e, id, 1, dump_calls, &d), ECL_ESTORE, "%s", bad[i]);
		cr_assert(strstr(ecl_engine_errmsg(e), "does not read"), "%s: %s", bad[i],
			  ecl_engine_errmsg(e));
	}
	ecl_engine_close(e);
}

Test(lifecycle, a_compatible_workflow_change_is_followed)
{
	char id[ECL_ID_MAX], sql[256];
	ecl_options o = options();
	ecl_engine *e;
	hist h = {0};
	const char *argv[] = {"/usr/bin/sqlite3", db, sql, NULL};

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(id);
	snprintf(sql, sizeof(sql),
		 "UPDATE runs SET version = '00000000feedbeef', lease_until_ms = 0");
	cr_assert_eq(ts_run(argv, NULL, NULL), 0);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM notes WHERE text LIKE "
				    "'%changed from version 00000000feedbeef to %'"),
		     1);
	cr_assert_eq(ecl_run_history(e, id, 1, collect_history, &h), ECL_OK);
	cr_assert_eq(h.notes, 1);
	ecl_engine_close(e);
}

Test(lifecycle, an_incompatible_workflow_change_is_refused)
{
	char id[ECL_ID_MAX], sql[256];
	ecl_options o = options();
	ecl_engine *e;
	const char *argv[] = {"/usr/bin/sqlite3", db, sql, NULL};

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(id);
	snprintf(sql, sizeof(sql),
		 "UPDATE runs SET version = '00000000feedbeef', step = 'polish',"
		 " lease_until_ms = 0");
	cr_assert_eq(ts_run(argv, NULL, NULL), 0);
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTATE);
	cr_assert(strstr(ecl_engine_errmsg(e), "00000000feedbeef"), "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), ts_workflow("critique-revise")->version), "%s",
		  ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "polish"), "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
}

Test(lifecycle, oversized_answer_fails_the_step)
{
	char id[ECL_ID_MAX];
	ecl_options o = options();
	ecl_engine *e;
	ecl_run_info *info;
	call_dump d = {0};

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	start(id);
	o.max_answer_bytes = 40;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_drive(e, id), ECL_EFAILED);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert(strstr(info->error, "more than the limit of 40"), "%s", info->error);
	ecl_run_info_free(info);
	/* the history shows the call, and why its answer was not kept */
	cr_assert_eq(ecl_run_history(e, id, 0, dump_calls, &d), ECL_OK);
	cr_assert_eq(d.ncalls[2], 1, "%s", d.text);
	HAS(d, "[2.1 first r=0] sys=- | prompt=- | fix=- | answer=- | error=step `critique`: the "
	       "answer has ");
	ecl_engine_close(e);
}

static int keep_stats(void *ctx, const ecl_workflow_stats *s)
{
	ecl_workflow_stats *out = ctx;

	*out = *s;
	out->workflow = NULL; /* borrowed for the call only */
	return 7;
}

/* ecl_stats of a workflow this program does not have: counted, its steps measured, but no
 * step kinds or limits known; a non-zero return of the callback stops the walk. */
Test(lifecycle, stats_of_a_workflow_the_program_does_not_have)
{
	const ecl_workflow *only[] = {ts_workflow("summarize")};
	ecl_workflow_stats s;
	ecl_options o;
	ecl_engine *e;
	char id[ECL_ID_MAX], err[256];

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK);
	ecl_engine_close(e);

	o = ts_options(db, script, NULL);
	o.workflows = only;
	o.nworkflows = 1;
	cr_assert_eq(ecl_engine_open(&o, &e, err, sizeof(err)), ECL_OK, "%s", err);
	cr_assert_eq(ecl_stats(e, NULL, 0, keep_stats, &s), 7);
	cr_assert_eq(s.known, 0);
	cr_assert_eq(s.runs, 1);
	cr_assert_eq(s.by_status[ECL_RUN_COMPLETED], 1);
	cr_assert_eq(s.steps.n, 2);
	cr_assert_eq(s.llm.n, 0, "which steps ask the LLM is not known");
	cr_assert_eq(s.nlimits, 0);
	cr_assert_float_eq(s.success_rate, 1.0, 1e-9);
	cr_assert_float_eq(s.mean_steps, 2.0, 1e-9);
	ecl_engine_close(e);
}
