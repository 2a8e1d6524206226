/*
 * test_batch.c - `ecl batch`: one run per JSONL line, driven from one thread, with providers
 * that answer at once and over HTTP (tests/tools/fake_llm.py); the JSON summary, bad lines
 * named by number and field before anything starts, failures listed with their run ids, and
 * Ctrl-C leaving every run in flight interrupted and resumable.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "fake_server.h"
#include "support.h"

static char *dir;
static char db[4096], in[4200], base[128], url[160];
static pid_t server;

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(in, sizeof(in), "%s/in.jsonl", dir);
	setenv("XDG_CONFIG_HOME", dir, 1);
	server = 0;
}

static void teardown(void)
{
	if (server)
		ts_fake_stop(server);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(batch, .init = setup, .fini = teardown, .timeout = 120);

/* n lines of inputs with workflow ids tag-1 ... tag-n. */
static void inputs(int n, const char *tag)
{
	FILE *f = fopen(in, "w");
	int i;

	cr_assert_not_null(f);
	for (i = 1; i <= n; i++)
		fprintf(f, "{\"topic\": \"topic %d\", \"wf\": \"%s-%d\"}\n%s", i, tag, i,
			i == 2 ? "\n" : ""); /* a blank line is allowed */
	fclose(f);
}

static cJSON *summary(const char *out)
{
	cJSON *s = cJSON_Parse(out);

	cr_assert_not_null(s, "the summary is JSON: %s", out);
	return s;
}

static int num(const cJSON *o, const char *path1, const char *path2)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);

	if (path2)
		v = cJSON_GetObjectItemCaseSensitive(v, path2);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

Test(batch, runs_every_line_with_a_provider_that_answers_at_once)
{
	const char *argv[] = {ECL_BIN,
			      "--db",
			      db,
			      "--provider",
			      "fake",
			      "--durability",
			      "normal",
			      "batch",
			      in,
			      "--workflow",
			      "bench-critique-revise",
			      "--concurrency",
			      "4",
			      NULL};
	char *out, *err;
	cJSON *s;

	inputs(20, "now");
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
	s = summary(out);
	cr_assert_eq(num(s, "runs", NULL), 20);
	cr_assert_eq(num(s, "statuses", "completed"), 20, "%s", out);
	cr_assert_eq(num(s, "not_started", NULL), 0);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "failures")), 0);
	cr_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "wall_s")));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed' AND "
				    "seq = 6"),
		     20);
	cr_assert_eq(ts_sql_int(db, "SELECT count(DISTINCT inputs) FROM runs"), 20,
		     "one run per line");
	cr_assert_null(strstr(err, "batch:"), "no progress line when stderr is no terminal");
	cJSON_Delete(s);
	free(out);
	free(err);
}

Test(batch, runs_together_over_http)
{
	const char *argv[] = {
		ECL_BIN,         "--db",  db,           "--provider", "openai",
		"--model",       "m",     "--base-url", url,          "--durability",
		"normal",        "batch", in,           "--workflow", "bench-critique-revise",
		"--concurrency", "10",    NULL};
	char *out, *err, *stats;
	cJSON *s;

	server = ts_fake_start(dir, 50, "ok", base, sizeof(base));
	snprintf(url, sizeof(url), "%s/v1", base);
	inputs(30, "http");
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
	s = summary(out);
	cr_assert_eq(num(s, "statuses", "completed"), 30, "%s", out);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed' AND "
				    "seq = 6 AND output LIKE '%\"quality_score\":90%'"),
		     30);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE tokens_in > 0"), 180);
	stats = ts_fake_get(base, "/stats");
	cr_assert(strstr(stats, "\"total\":180"), "%s", stats);
	free(stats);
	cJSON_Delete(s);
	free(out);
	free(err);
}

Test(batch, a_bad_line_is_named_and_nothing_starts)
{
	const char *argv[] = {ECL_BIN,      "--db",       db,
			      "--provider", "fake",       "batch",
			      in,           "--workflow", "bench-critique-revise",
			      NULL};
	char *out, *err;

	ts_write(in, "{\"topic\": \"a\", \"wf\": \"1\"}\n"
		     "{\"topic\": \"b\", \"wf\": \"2\"}\n"
		     "{\"topic\": 42, \"wf\": \"3\"}\n");
	cr_assert_eq(ts_run(argv, &out, &err), 2);
	cr_assert(strstr(err, "in.jsonl:3: "), "the line is named: %s", err);
	cr_assert(strstr(err, "topic"), "the field is named: %s", err);
	cr_assert_neq(ts_sql_int(db, "SELECT count(*) FROM runs"), 1);
	free(out);
	free(err);
	ts_write(in, "{\"topic\": \"a\", \"wf\": \"1\"}\n{\"topic\": \"b\",\n");
	cr_assert_eq(ts_run(argv, &out, &err), 2);
	cr_assert(strstr(err, "in.jsonl:2: not valid JSON"), "%s", err);
	free(out);
	free(err);
	ts_write(in, "[1, 2]\n");
	cr_assert_eq(ts_run(argv, &out, &err), 2);
	cr_assert(strstr(err, "in.jsonl:1: not a JSON object"), "%s", err);
	free(out);
	free(err);
	ts_write(in, "{\"wf\": \"1\"}\n");
	cr_assert_eq(ts_run(argv, &out, &err), 2);
	cr_assert(strstr(err, "in.jsonl:1: ") && strstr(err, "topic"), "%s", err);
	free(out);
	free(err);
	ts_write(in, "{\"topic\": \"a\", \"colour\": \"red\"}\n");
	cr_assert_eq(ts_run(argv, &out, &err), 2);
	cr_assert(strstr(err, "in.jsonl:1: ") && strstr(err, "colour"), "%s", err);
	free(out);
	free(err);
	{
		const char *bad[] = {ECL_BIN, "--db", db, "batch", in, "--workflow", "nope", NULL};

		cr_assert_eq(ts_run(bad, &out, &err), 2);
		cr_assert(strstr(err, "unknown workflow `nope`"), "%s", err);
		free(out);
		free(err);
	}
	cr_assert_leq(ts_sql_int(db, "SELECT count(*) FROM runs"), 0, "no run was started");
}

Test(batch, failures_are_listed_with_their_runs_and_errors)
{
	const char *argv[] = {ECL_BIN,
			      "--db",
			      db,
			      "--provider",
			      "openai",
			      "--model",
			      "m",
			      "--base-url",
			      url,
			      "batch",
			      in,
			      "--workflow",
			      "bench-critique-revise",
			      "--concurrency",
			      "3",
			      NULL};
	char *out, *err;
	cJSON *s, *f;

	server = ts_fake_start(dir, 0, "wrongtype", base, sizeof(base));
	snprintf(url, sizeof(url), "%s/v1", base);
	inputs(5, "bad");
	cr_assert_eq(ts_run(argv, &out, &err), 1, "%s%s", out, err);
	s = summary(out);
	cr_assert_eq(num(s, "statuses", "failed"), 5, "%s", out);
	f = cJSON_GetObjectItemCaseSensitive(s, "failures");
	cr_assert_eq(cJSON_GetArraySize(f), 5);
	{
		cJSON *one = cJSON_GetArrayItem(f, 0);
		const char *id =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(one, "run_id"));
		const char *e =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(one, "error"));
		char sql[200];

		cr_assert(id && strlen(id) > 8, "%s", out);
		cr_assert(e && strstr(e, "word_count"), "%s", out);
		cr_assert_gt(num(one, "line", NULL), 0);
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM runs WHERE id = '%s' AND status "
			 "= 'failed'",
			 id);
		cr_assert_eq(ts_sql_int(db, sql), 1);
	}
	cJSON_Delete(s);
	free(out);
	free(err);
}

Test(batch, ctrl_c_leaves_the_runs_in_flight_interrupted_and_resumable)
{
	char out_path[4300], err_path[4300];
	pid_t pid;
	int i, status, inflight = 0;

	server = ts_fake_start(dir, 0, "hang", base, sizeof(base));
	snprintf(url, sizeof(url), "%s/v1", base);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	snprintf(err_path, sizeof(err_path), "%s/err", dir);
	inputs(12, "int");
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fo, 1);
		dup2(fe, 2);
		execl(ECL_BIN, ECL_BIN, "--db", db, "--provider", "openai", "--model", "m",
		      "--base-url", url, "batch", in, "--workflow", "bench-critique-revise",
		      "--concurrency", "4", (char *)NULL);
		_exit(127);
	}
	/* wait until four runs exist and their calls hang */
	for (i = 0; i < 1000 && inflight < 4; i++) {
		struct timespec ts = {0, 10000000};
		char *stats;

		nanosleep(&ts, NULL);
		stats = ts_fake_get(base, "/stats");
		inflight = strstr(stats, "\"total\":4") ? 4 : 0;
		free(stats);
	}
	cr_assert_eq(inflight, 4, "four calls in flight");
	kill(pid, SIGINT);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 130, "status %d", status);
	{
		char *out = ts_read(out_path), *err = ts_read(err_path);
		cJSON *s = summary(out);

		cr_assert_eq(num(s, "statuses", "interrupted"), 4, "%s", out);
		cr_assert_eq(num(s, "not_started", NULL), 8, "%s", out);
		/* the inputs not started are stored as runs, for recover to finish the batch */
		cr_assert_eq(num(s, "queued", NULL), 8, "%s", out);
		cr_assert(strstr(err, "interrupted"), "%s", err);
		cr_assert(strstr(err, "the 8 not started are stored as queued runs"), "%s", err);
		cJSON_Delete(s);
		free(out);
		free(err);
	}
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND "
				    "owner IS NULL"),
		     4, "released, resumable by anyone");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'queued' AND "
				    "owner IS NULL"),
		     8, "never taken, for recover or a worker");
	cr_assert_eq(ts_sql_int(db, "SELECT count(DISTINCT inputs) FROM runs"), 12,
		     "one run per line");
	/* the server answers again: recover finishes every one of them */
	ts_fake_mode(base, "{\"mode\": \"ok\"}");
	{
		const char *argv[] = {ECL_BIN, "--db",       db,  "--provider", "openai", "--model",
				      "m",     "--base-url", url, "recover",    NULL};
		char *out, *err;

		cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
		free(out);
		free(err);
	}
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed' AND "
				    "seq = 6"),
		     12, "the whole batch is finished");
}

/* ---- group commit: the transitions that become ready together share one transaction ---- */

#define GEN          "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS         "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE       "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1         "{\"content\": \"Draft v1\", \"word_count\": 2}"
#define REV2         "{\"content\": \"Draft v2\", \"word_count\": 2}"
#define SLOW(answer) "{\"$delay_ms\": 1, \"$answer\": " answer "}"

/* Answers by step and visit: a resumed run is given the same ones, so it must end as an
 * uninterrupted run does, with these six steps. */
static const char expected_steps[] = "generate critique revise critique revise critique ";

static void write_script(const char *path)
{
	ts_write(path, "{\"generate\": [" SLOW(GEN) "], \"critique\": [" REVISE ", " SLOW(
			       REVISE) ", " PASS "], \"revise\": [" SLOW(REV1) ", " REV2 "]}");
}

/* The steps run id has committed, in order ("generate critique ..."), and the same as
 * (step, visit) pairs ("generate 1 critique 1 ..."). Caller frees both. */
static void committed(const char *id, char **steps, char **pairs)
{
	static const char *const names[] = {"generate", "critique", "revise"};
	int seq, visits[3] = {0, 0, 0}, k;

	*steps = calloc(1, 512);
	*pairs = calloc(1, 512);
	cr_assert(*steps && *pairs);
	for (seq = 1;; seq++) {
		char q[256], *step;

		snprintf(q, sizeof(q), "SELECT step FROM steps WHERE run_id = '%s' AND seq = %d",
			 id, seq);
		if (!(step = ts_sql_text(db, q)))
			break;
		for (k = 0; k < 3 && strcmp(step, names[k]) != 0; k++)
			;
		cr_assert_lt(k, 3, "unknown step %s", step);
		snprintf(*steps + strlen(*steps), 512 - strlen(*steps), "%s ", step);
		snprintf(*pairs + strlen(*pairs), 512 - strlen(*pairs), "%s %d ", step,
			 ++visits[k]);
		free(step);
	}
}

Test(batch, a_kill_during_group_commits_loses_no_checkpoint_and_redoes_no_step, .timeout = 300)
{
	char script[4300], log[4300];
	unsigned seed = ts_seed("batch kills");
	char batch_what[64];
	int round, kills = 0, runs = 0;

	snprintf(script, sizeof(script), "%s/script.json", dir);
	snprintf(log, sizeof(log), "%s/calls.log", dir);
	write_script(script);
	srand(seed);
	snprintf(batch_what, sizeof(batch_what), "the batch, seed %u", seed);
	/* the database made first: the kills are for the batch's commits, and a slow build (the
	 * sanitizers, a busy disk) can take longer to make a database than a kill leaves it */
	ecl_engine_close(ts_engine(db, script, NULL));
	for (round = 0; round < 20; round++) {
		pid_t pid = fork();
		int st;

		cr_assert_neq(pid, -1, "fork failed" TS_SEED_FMT, TS_SEED_ARG(seed));
		if (pid == 0) {
			ecl_options o = ts_options(db, script, NULL);
			char text[6][64], err[256];
			const char *in_[6];
			ecl_engine *e;
			int i, rc;

			o.durability =
				ECL_DURABLE_FULL; /* slower commits: kills land inside them */
			for (i = 0; i < 6; i++) {
				snprintf(text[i], sizeof(text[i]), "{\"topic\": \"r%d-%d\"}", round,
					 i);
				in_[i] = text[i];
			}
			if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
				_exit(100);
			rc = ecl_batch_drive(e, ts_workflow("critique-revise"), in_, 6, 3, NULL,
					     NULL);
			ecl_engine_close(e);
			_exit(rc);
		}
		kills += ts_kill_after(pid, 2000 + rand() % 70000, batch_what);
		{
			char *check = ts_sql_text(db, "PRAGMA integrity_check");

			cr_assert_str_eq(check, "ok", "round %d" TS_SEED_FMT, round,
					 TS_SEED_ARG(seed));
			free(check);
		}
		/* Resume every run the kill left unfinished, one process each, logging calls. */
		for (;;) {
			char *id = ts_sql_text(db,
					       "SELECT id FROM runs WHERE status <> 'completed' "
					       "ORDER BY id LIMIT 1"),
			     *before, *pairs, *after, *apairs, *calls, *line, *save = NULL;
			pid_t r;

			if (!id)
				break;
			committed(id, &before, &pairs);
			remove(log);
			r = fork();
			cr_assert_neq(r, -1, "fork failed" TS_SEED_FMT, TS_SEED_ARG(seed));
			if (r == 0) {
				ecl_options o = ts_options(db, script, log);
				ecl_engine *e;
				char err[256];
				int rc;

				if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
					_exit(100);
				rc = ecl_run_drive(e, id);
				ecl_engine_close(e);
				_exit(rc);
			}
			cr_assert_eq(waitpid(r, &st, 0), r, "waitpid" TS_SEED_FMT,
				     TS_SEED_ARG(seed));
			cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == ECL_OK,
				  "resuming %s failed (%d)" TS_SEED_FMT, id, st, TS_SEED_ARG(seed));
			committed(id, &after, &apairs);
			cr_assert_str_eq(after, expected_steps, "run %s after the kill" TS_SEED_FMT,
					 id, TS_SEED_ARG(seed));
			cr_assert_eq(strncmp(after, before, strlen(before)), 0,
				     "run %s lost a checkpoint: `%s` then `%s`" TS_SEED_FMT, id,
				     before, after, TS_SEED_ARG(seed));
			calls = ts_read(log);
			for (line = calls ? strtok_r(calls, "\n", &save) : NULL; line;
			     line = strtok_r(NULL, "\n", &save)) {
				char step[32], pair[48];
				int visit;

				cr_assert_eq(sscanf(line, "%*s %31s %d", step, &visit), 2,
					     "call log line `%s`" TS_SEED_FMT, line,
					     TS_SEED_ARG(seed));
				snprintf(pair, sizeof(pair), "%s %d ", step, visit);
				cr_assert_null(
					strstr(pairs, pair),
					"run %s: %s was committed before the kill and was asked "
					"again" TS_SEED_FMT,
					id, pair, TS_SEED_ARG(seed));
			}
			free(calls);
			free(before);
			free(pairs);
			free(after);
			free(apairs);
			free(id);
		}
	}
	runs = (int)ts_sql_count(db, "SELECT count(*) FROM runs");
	cr_assert_gt(kills, 0, "no kill landed" TS_SEED_FMT, TS_SEED_ARG(seed));
	cr_assert_eq(
		ts_sql_int(db,
			   "SELECT count(*) FROM runs WHERE status = 'completed' AND "
			   "seq = 6 AND output = '{\"content\":\"Draft v2\",\"word_count\":2}'"),
		runs, "every run ends as an uninterrupted run does" TS_SEED_FMT, TS_SEED_ARG(seed));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 6 * runs,
		     "checkpoints" TS_SEED_FMT, TS_SEED_ARG(seed));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE step = 'revise'"), 2 * runs,
		     "revisions" TS_SEED_FMT, TS_SEED_ARG(seed));
}

static char stolen[ECL_ID_MAX];

/* After a run's first checkpoint, another process takes the run over: its next transition
 * cannot be committed, in a group with the transitions of the other runs. */
static int steal_after_first_commit(void *ctx, const ecl_event *ev)
{
	sqlite3 *h;
	char sql[256];

	(void)ctx;
	if (ev->kind != ECL_EV_COMMIT || ev->seq != 1 || stolen[0])
		return 0;
	snprintf(stolen, sizeof(stolen), "%s", ev->run_id);
	snprintf(sql, sizeof(sql),
		 "UPDATE runs SET owner = 'elsewhere/1/x', lease_until_ms = 9000000000000000"
		 " WHERE id = '%s'",
		 ev->run_id);
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	sqlite3_close(h);
	return 0;
}

typedef struct ends {
	int completed, lost, other;
	char lost_id[ECL_ID_MAX];
	char lost_error[512];
} ends;

static int count_end(void *ctx, const ecl_batch_end *end)
{
	ends *n = ctx;

	if (strcmp(end->status, "completed") == 0) {
		n->completed++;
	} else if (strcmp(end->status, "lost") == 0) {
		n->lost++;
		snprintf(n->lost_id, sizeof(n->lost_id), "%s", end->run_id);
		snprintf(n->lost_error, sizeof(n->lost_error), "%s", end->error ? end->error : "");
	} else {
		n->other++;
	}
	return 0;
}

Test(batch, a_failed_group_commit_is_retried_one_transition_at_a_time)
{
	char script[4300], q[256];
	const char *in_[4] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}", "{\"topic\": \"c\"}",
			      "{\"topic\": \"d\"}"};
	ecl_options o;
	ecl_engine *e;
	ends n = {0};

	snprintf(script, sizeof(script), "%s/script.json", dir);
	write_script(script);
	o = ts_options(db, script, NULL);
	o.on_event = steal_after_first_commit;
	stolen[0] = '\0';
	e = ts_open(&o);
	/* four runs in step with each other: each wake-up's four transitions form a group, and
	 * the stolen run's second one makes its group fail */
	cr_assert_eq(ecl_batch_drive(e, ts_workflow("critique-revise"), in_, 4, 4, count_end, &n),
		     ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	cr_assert_eq(n.completed, 3, "the other runs went on (%d, %d lost, %d other: %s)",
		     n.completed, n.lost, n.other, n.lost_error);
	cr_assert_eq(n.lost, 1);
	cr_assert_eq(n.other, 0);
	cr_assert_str_eq(n.lost_id, stolen);
	cr_assert(strstr(n.lost_error, "another process took it over"), "%s", n.lost_error);
	snprintf(q, sizeof(q),
		 "SELECT count(*) FROM runs WHERE id = '%s' AND seq = 1 AND status = 'running'"
		 " AND owner = 'elsewhere/1/x'",
		 stolen);
	cr_assert_eq(ts_sql_int(db, q), 1, "the lost run is left to its new holder");
	snprintf(q, sizeof(q), "SELECT count(*) FROM steps WHERE run_id = '%s'", stolen);
	cr_assert_eq(ts_sql_int(db, q), 1, "its first checkpoint stays, nothing after it");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed' AND "
				    "seq = 6"),
		     3);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 3 * 6 + 1,
		     "every transition of the others is stored once");
}

/* Runs that stop at a human step did what a batch can do: they are counted as waiting, listed
 * apart from failures, and do not make the batch fail. */
Test(batch, runs_waiting_for_an_answer_are_not_failures)
{
	char script[4300], *out, *err;
	const char *argv[] = {ECL_BIN, "--db",  db, "--provider", "scripted",  "--script",
			      script,  "batch", in, "--workflow", "summarize", NULL};
	cJSON *s, *w;
	FILE *f;
	int i;

	snprintf(script, sizeof(script), "%s/script.json", dir);
	ts_write(script, "{\"draft\": [{\"summary\": \"Short.\"}]}");
	f = fopen(in, "w");
	cr_assert_not_null(f);
	for (i = 0; i < 3; i++)
		fprintf(f,
			"{\"document\": \"Document %d, which has a good many more words than "
			"its summary.\"}\n",
			i);
	fclose(f);
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
	s = summary(out);
	cr_assert_eq(num(s, "statuses", "waiting"), 3, "%s", out);
	cr_assert_null(cJSON_GetObjectItemCaseSensitive(
			       cJSON_GetObjectItemCaseSensitive(s, "statuses"), "interrupted"),
		       "%s", out);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "failures")), 0, "%s",
		     out);
	w = cJSON_GetObjectItemCaseSensitive(s, "waiting");
	cr_assert_eq(cJSON_GetArraySize(w), 3, "%s", out);
	cr_assert_eq(num(cJSON_GetArrayItem(w, 0), "line", NULL), 1, "%s", out);
	cr_assert(strstr(err, "ecl: 3 runs wait for an answer"), "%s", err);
	cr_assert_null(strstr(err, "error"), "%s", err);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'waiting'"), 3);
	cJSON_Delete(s);
	free(out);
	free(err);
}

typedef struct stopper {
	int ended, queued;
	const char *trigger; /* SQL run when the first run ends, or NULL */
} stopper;

/* Stop the batch when its first run ends (as Ctrl-C would, without the signal), counting what
 * is reported. */
static int stop_at_first_end(void *ctx, const ecl_batch_end *end)
{
	stopper *s = ctx;

	if (strcmp(end->status, "queued") == 0) {
		cr_assert_eq(end->rc, ECL_EINTERRUPTED);
		cr_assert_eq(strlen(end->run_id), 16);
		s->queued++;
		return 0;
	}
	if (s->ended++ == 0 && s->trigger)
		ts_sql(db, s->trigger);
	return 1;
}

/* A batch stopped early stores a run for every input not started, interrupted at its first
 * step, and each of them can be driven to its end like any interrupted run. */
Test(batch, a_stopped_batch_stores_the_inputs_not_started_as_runs)
{
	char script[4300];
	const char *in_[6] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}", "{\"topic\": \"c\"}",
			      "{\"topic\": \"d\"}", "{\"topic\": \"e\"}", "{\"topic\": \"f\"}"};
	stopper s = {0};
	ecl_engine *e;
	char *ids, *id, *save = NULL;

	snprintf(script, sizeof(script), "%s/script.json", dir);
	write_script(script);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_batch_drive(e, ts_workflow("critique-revise"), in_, 6, 2,
				     stop_at_first_end, &s),
		     ECL_EINTERRUPTED, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(s.ended, 2, "the two in flight ended");
	cr_assert_eq(s.queued, 4);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'queued' AND "
				    "seq = 0 AND owner IS NULL AND step = 'generate'"),
		     4);
	ids = ts_sql_text(db, "SELECT group_concat(id, ' ') FROM runs WHERE seq = 0");
	for (id = strtok_r(ids, " ", &save); id; id = strtok_r(NULL, " ", &save))
		cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	free(ids);
	ecl_engine_close(e);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 6);
}

/* When the runs not started cannot be stored, none of them is (one transaction), and the
 * batch says so. */
Test(batch, runs_not_started_that_cannot_be_stored_are_named)
{
	char script[4300];
	const char *in_[5] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}", "{\"topic\": \"c\"}",
			      "{\"topic\": \"d\"}", "{\"topic\": \"e\"}"};
	/* the runs table becomes a view of itself: it reads as before, it takes no new row */
	stopper s = {0, 0,
		     "ALTER TABLE runs RENAME TO runs_kept; CREATE VIEW runs AS SELECT * "
		     "FROM runs_kept;"};
	ecl_engine *e;

	snprintf(script, sizeof(script), "%s/script.json", dir);
	write_script(script);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_batch_drive(e, ts_workflow("critique-revise"), in_, 5, 1,
				     stop_at_first_end, &s),
		     ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "cannot store the runs not started: "), "%s",
		  ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "cannot modify runs because it is a view"), "%s",
		  ecl_engine_errmsg(e));
	ecl_engine_close(e);
	cr_assert_eq(s.queued, 0);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 1, "none of them stored");
}

/* Start `ecl worker` with the extra arguments (NULL-terminated) on the fake LLM at url; its
 * output in dir/<name>. */
static pid_t http_worker(const char *const *extra, const char *name)
{
	const char *argv[32] = {ECL_BIN,   "--db", db,           "--provider", "openai",
				"--model", "m",    "--base-url", url,          "worker"};
	int n = 10, i;

	for (i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return ts_spawn(argv, ts_path(dir, name));
}

/* Workers on SQLite: a batch queued, two workers over the fake LLM's HTTP endpoint (calls
 * in flight together over libcurl), every run completed once; a worker asked for a workflow
 * it does not have refuses to start, naming it; `run --queue --wait` reports the end. */
Test(batch, workers_drain_a_queue_on_sqlite)
{
	const char *queue[] = {
		ECL_BIN,   "--db", db, "batch", in, "--workflow", "bench-critique-revise",
		"--queue", NULL};
	char *out, *err, *stats;
	int status, i;
	pid_t pids[2];

	server = ts_fake_start(dir, 20, "ok", base, sizeof(base));
	snprintf(url, sizeof(url), "%s/v1", base);
	inputs(30, "q");
	cr_assert_eq(ts_run(queue, &out, &err), 0, "%s%s", out, err);
	cr_assert_eq((int)strlen(out), 30 * 17, "one id per line: %s", out);
	free(out);
	free(err);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'queued'"), 30);
	for (i = 0; i < 2; i++) {
		const char *extra[] = {"-j", "8", "--exit-when-idle", NULL};

		pids[i] = http_worker(extra, i ? "w1.out" : "w0.out");
	}
	for (i = 0; i < 2; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d: %d", i,
			  status);
	}
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 30);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 30 * 6,
		     "six checkpoints a run, each made once");
	stats = ts_fake_get(base, "/stats");
	cr_assert(strstr(stats, "\"total\":180"), "each step asked once: %s", stats);
	free(stats);
	{
		const char *argv[] = {ECL_BIN,       "--db",    db,  "worker",
				      "--workflows", "no-such", NULL};

		cr_assert_eq(ts_run(argv, &out, &err), 1);
		cr_assert(strstr(err, "unknown workflow `no-such`"), "%s", err);
		free(out);
		free(err);
	}
	{
		const char *argv[] = {ECL_BIN,   "--db", db,        "run",    "critique-revise",
				      "--topic", "w",    "--queue", "--wait", NULL};
		pid_t w;

		w = fork();
		cr_assert_neq(w, -1);
		if (w == 0) {
			const char *wargv[] = {ECL_BIN,  "--db", db,  "worker",
					       "--poll", "0.05", NULL};

			if (!freopen("/dev/null", "w", stdout))
				_exit(126);
			execv(ECL_BIN, (char *const *)wargv);
			_exit(127);
		}
		cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
		cr_assert(strstr(out, "Workflow queued: "), "%s", out);
		cr_assert(strstr(out, "completed successfully"), "%s", out);
		free(out);
		free(err);
		/* SIGTERM: a worker with nothing in flight stops at once, saying what it did */
		cr_assert_eq(kill(w, SIGTERM), 0);
		cr_assert_eq(waitpid(w, &status, 0), w);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%d", status);
	}
}

/* `ecl workers` on SQLite: two workers at work are listed live, each with the runs it holds,
 * its concurrency and workflows; one stopped with SIGTERM removes itself; one killed with
 * SIGKILL stays, stale once three of its lease periods pass without a heartbeat. */
Test(batch, workers_lists_live_workers_then_stale_ones_on_sqlite)
{
	const char *queue[] = {
		ECL_BIN,   "--db", db, "batch", in, "--workflow", "bench-critique-revise",
		"--queue", NULL};
	char *out, *err;
	cJSON *list, *w;
	int status, i;
	pid_t pids[2];

	server = ts_fake_start(dir, 200, "ok", base, sizeof(base));
	snprintf(url, sizeof(url), "%s/v1", base);
	inputs(40, "w");
	cr_assert_eq(ts_run(queue, &out, &err), 0, "%s%s", out, err);
	free(out);
	free(err);
	cJSON_Delete(ts_workers_wait(db, 0, 0, NULL, 0)); /* none yet */
	for (i = 0; i < 2; i++) {
		const char *extra[] = {
			"-j", "3", "--lease", "1", "--workflows", "bench-critique-revise", NULL};

		pids[i] = http_worker(extra, i ? "w1.out" : "w0.out");
	}
	cJSON_Delete(ts_workers_wait(db, 2, pids[0], "live", 1));
	list = ts_workers_wait(db, 2, pids[1], "live", 1);
	w = ts_worker_of(list, pids[1]);
	cr_assert_eq(num(w, "concurrency", NULL), 3);
	cr_assert_eq(num(w, "lease_ms", NULL), 1000);
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(w, "workflows"), 0)->valuestring,
			 "bench-critique-revise");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(w, "workflows")), 1);
	{
		char want[64];
		const char *id = cJSON_GetObjectItem(w, "id")->valuestring;

		snprintf(want, sizeof(want), "/%d/", (int)pids[1]);
		cr_assert(strstr(id, want), "the id is host/pid/nonce: %s", id);
		cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE owner IS NOT NULL AND"
					    " owner NOT IN (SELECT id FROM workers)"),
			     0, "every run held is held by a worker listed");
	}
	cJSON_Delete(list);
	/* the text form names both */
	{
		const char *argv[] = {ECL_BIN, "--db", db, "workers", NULL};

		cr_assert_eq(ts_run(argv, &out, NULL), 0);
		cr_assert(strncmp(out, "WORKER ", 7) == 0 && strstr(out, " HELD "), "%s", out);
		cr_assert(strstr(out, " live ") && strstr(strstr(out, " live ") + 1, " live "),
			  "%s", out);
		free(out);
	}
	cr_assert_eq(kill(pids[0], SIGTERM), 0);
	cr_assert_eq(waitpid(pids[0], &status, 0), pids[0]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%d", status);
	list = ts_workers_wait(db, 1, pids[1], "live", 0);
	cr_assert_null(ts_worker_of(list, pids[0]), "the worker stopped removed itself");
	cJSON_Delete(list);
	cr_assert_eq(kill(pids[1], SIGKILL), 0);
	cr_assert_eq(waitpid(pids[1], &status, 0), pids[1]);
	cJSON_Delete(ts_workers_wait(db, 1, pids[1], "stale", 1));
}
