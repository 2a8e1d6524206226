/*
 * test_http.c - the openai provider through real HTTP: the ecl binary against the fake LLM
 * server (bench/fake_llm_server.c) on 127.0.0.1, and against a dead port and a wrong path.
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

static char *dir;
static char db[4096], base[128];
static pid_t server;

static void setup(void)
{
	char portfile[4200], *text = NULL;
	int i;

	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	server = fork();
	cr_assert_neq(server, -1);
	if (server == 0) {
		execl(FAKE_LLM_BIN, FAKE_LLM_BIN, "--port", "0", "--latency-ms", "2", "--port-file",
		      portfile, (char *)NULL);
		_exit(127);
	}
	/* the file may exist before its content is written: wait for a port in it */
	for (i = 0; i < 500; i++) {
		struct timespec ts = {0, 10000000};

		text = ts_read(portfile);
		if (text && atoi(text) > 0)
			break;
		free(text);
		text = NULL;
		nanosleep(&ts, NULL);
	}
	cr_assert_not_null(text, "the fake server did not start");
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/v1", atoi(text));
	free(text);
}

static void teardown(void)
{
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(http, .init = setup, .fini = teardown);

Test(http, a_workflow_through_an_openai_compatible_endpoint)
{
	const char *argv[] = {
		ECL_BIN,      "--db",   db,        "-v",   "--provider", "openai",
		"--base-url", base,     "--model", "fake", "run",        "bench-critique-revise",
		"--wf",       "http-1", "--topic", "HTTP", NULL};
	char *out, *err, *all;

	setenv("OPENAI_API_KEY", "sk-test-secret-4242", 1);
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	cr_assert(strstr(out, "\"quality_score\": 90"), "%s", out);
	cr_assert(strstr(out, "\"revisions\": 2"), "%s", out);
	cr_assert_eq(ts_sql_int(db, "SELECT seq FROM runs"), 6);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE tokens_in > 0 AND "
				    "tokens_out > 0"),
		     6, "token counts are stored with each step");
	/* the key is nowhere: not in the logs, not in the database */
	cr_assert_null(strstr(err, "sk-test-secret"), "%s", err);
	all = ts_sql_text(db, "SELECT group_concat(coalesce(output,'') || coalesce(raw,'') || "
			      "coalesce(vars,''), '') FROM steps");
	cr_assert_null(strstr(all, "sk-test"));
	free(all);
	all = ts_sql_text(db, "SELECT inputs || coalesce(owner,'') FROM runs");
	cr_assert_null(strstr(all, "sk-test"));
	free(all);
	free(out);
	free(err);
}

Test(http, a_dead_server_leaves_the_run_resumable)
{
	const char *argv[] = {ECL_BIN,
			      "--db",
			      db,
			      "--provider",
			      "openai",
			      "--base-url",
			      "http://127.0.0.1:1/v1",
			      "--model",
			      "fake",
			      "run",
			      "bench-critique-revise",
			      "--wf",
			      "http-2",
			      "--topic",
			      "dead",
			      NULL};
	char *out, *err, *st;

	cr_assert_eq(ts_run(argv, &out, &err), 1);
	cr_assert(strstr(err, "step `generate`: openai: "), "%s", err);
	cr_assert(strstr(err, "resume it with"), "%s", err);
	st = ts_sql_text(db, "SELECT status FROM runs");
	cr_assert_str_eq(st, "interrupted");
	free(st);
	free(out);
	free(err);
	{
		/* the server is back (the right URL): the run goes on */
		char *id = ts_sql_text(db, "SELECT id FROM runs");
		const char *again[] = {ECL_BIN,  "--db",       db,   "--provider",
				       "openai", "--base-url", base, "--model",
				       "fake",   "resume",     id,   NULL};

		cr_assert_eq(ts_run(again, &out, NULL), 0, "%s", out);
		cr_assert(strstr(out, "completed successfully"), "%s", out);
		free(out);
		free(id);
	}
}

Test(http, a_wrong_path_is_a_permanent_error_with_the_status)
{
	char wrong[200];
	const char *argv[] = {ECL_BIN,
			      "--db",
			      db,
			      "--provider",
			      "openai",
			      "--base-url",
			      wrong,
			      "--model",
			      "fake",
			      "run",
			      "bench-critique-revise",
			      "--wf",
			      "http-3",
			      "--topic",
			      "404",
			      NULL};
	char *out, *err;

	snprintf(wrong, sizeof(wrong), "%s/nowhere", base);
	cr_assert_eq(ts_run(argv, &out, &err), 1);
	cr_assert(strstr(err, "openai: HTTP 404"), "%s", err);
	cr_assert_null(strstr(err, "retry"), "a 404 is not retried: %s", err);
	free(out);
	free(err);
}
