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
		cr_assert(strstr(err, "interrupted"), "%s", err);
		cJSON_Delete(s);
		free(out);
		free(err);
	}
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND "
				    "owner IS NULL"),
		     4, "released, resumable by anyone");
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
		     4);
}
