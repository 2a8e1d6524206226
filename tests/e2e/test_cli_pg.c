/*
 * test_cli_pg.c - the ecl command end to end on PostgreSQL: every command on a database of the
 * private server the test set-up starts (fixture pg), a run killed with SIGKILL and resumed by
 * another process, a pause and a cancel from another process, and connection errors that name
 * the server and never a password.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ecl.h"
#include "support.h"

#define GEN    "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1\", \"word_count\": 2}"

static char *dir;
static char db[512];

static void setup(void)
{
	dir = ts_tmpdir();
	ts_pg_create(db, sizeof(db));
}

static void teardown(void)
{
	if (strncmp(db, getenv("ECL_TEST_PG"), strlen(getenv("ECL_TEST_PG"))) == 0)
		ts_pg_drop(db);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 120);

/* Run ecl with --db and the given arguments (NULL-terminated). */
#define ECL(out, err, ...) ts_ecl(db, out, err, (const char *[]){__VA_ARGS__, NULL})

/* A field of `ecl status ID -o json`, as an int (strings: 1 when it equals want). */
static int status_field(const char *id, const char *field, const char *want)
{
	char *out;
	cJSON *json, *v;
	int r;

	cr_assert_eq(ECL(&out, NULL, "status", id, "-o", "json"), 0, "%s", out);
	json = cJSON_Parse(out);
	cr_assert_not_null(json, "%s", out);
	v = cJSON_GetObjectItem(json, field);
	cr_assert_not_null(v, "no %s in %s", field, out);
	r = want ? cJSON_IsString(v) && strcmp(v->valuestring, want) == 0 : v->valueint;
	cJSON_Delete(json);
	free(out);
	return r;
}

/* The id of the only run of the database, waiting for it to be created. */
static char *only_run(void)
{
	char *out = NULL;
	cJSON *json = NULL;
	int i;

	for (i = 0; i < 500; i++) {
		struct timespec ts = {0, 10000000};

		free(out);
		cJSON_Delete(json);
		cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json"), 0, "%s", out);
		json = cJSON_Parse(out);
		if (cJSON_GetArraySize(json) == 1)
			break;
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(cJSON_GetArraySize(json), 1, "%s", out);
	{
		char *id =
			strdup(cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0), "id")->valuestring);

		cJSON_Delete(json);
		free(out);
		return id;
	}
}

Test(pg, every_command)
{
	char *out, *id, path[4300];
	cJSON *json;

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "one"), 0, "%s", out);
	id = strdup(ts_started_id(out));
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	cr_assert(status_field(id, "status", "completed"));
	cr_assert_eq(status_field(id, "step_count", NULL), 4);
	cr_assert_eq(ECL(&out, NULL, "status", id), 0);
	cr_assert(strstr(out, "Status:       completed"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json"), 0);
	json = cJSON_Parse(out);
	cr_assert_eq(cJSON_GetArraySize(json), 1, "%s", out);
	cJSON_Delete(json);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full"), 0);
	cr_assert(strstr(out, "Write a piece of at least 50 words on this topic: one"), "%s", out);
	cr_assert(strstr(out, "Total: 4 steps"), "%s", out);
	free(out);

	/* fork: a new run from checkpoint 2, which goes on to complete */
	cr_assert_eq(ECL(&out, NULL, "fork", id, "--from", "2"), 0, "%s", out);
	cr_assert(strstr(out, "Forked"), "%s", out);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id), 0);
	free(out);

	/* recover: a run interrupted by a provider that failed is finished */
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [[{\"$error\": "
					"\"permanent\", \"message\": \"down\"}]]}"),
			 "run", "critique-revise", "--topic", "two"),
		     1, "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}"),
			 "recover"),
		     0, "%s", out);
	cr_assert(strstr(out, "Recovered 1"), "%s", out);
	free(out);

	/* answer: a human step's answer, then resume; the run is started through a URL with a
	 * password (the server trusts the test's user and ignores it), which the command it
	 * prints to answer the run leaves out */
	{
		char with_pw[600];
		const char *argv[] = {ECL_BIN,
				      "--db",
				      with_pw,
				      "--provider",
				      "scripted",
				      "--script",
				      ts_script(dir, "{\"draft\": [{\"summary\": "
						     "\"a b c\"}]}"),
				      "run",
				      "summarize",
				      "--document",
				      "one two three four five six",
				      NULL};

		snprintf(with_pw, sizeof(with_pw), "postgres://ecl:hunter2@%s",
			 db + strlen("postgres://ecl@"));
		cr_assert_eq(ts_run(argv, &out, NULL), 0, "%s", out);
		cr_assert_null(strstr(out, "hunter2"), "%s", out);
		cr_assert(strstr(out, db), "the command to answer it names %s: %s", db, out);
	}
	free(id);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert(status_field(id, "status", "waiting"));
	cr_assert_eq(ECL(&out, NULL, "answer", id, "--set", "approved=true", "--set",
			 "comment=fine", "--no-wait"),
		     0, "%s", out);
	free(out);
	cr_assert_eq(ECL(NULL, &out, "answer", id, "--set", "approved=false", "--set",
			 "comment=late", "--no-wait"),
		     1);
	cr_assert(strstr(out, "the first answer is kept"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"draft\": [{\"summary\": \"a b c\"}]}"), "resume", id),
		     0, "%s", out);
	free(out);
	cr_assert(status_field(id, "status", "completed"));

	/* batch, then prune what is over */
	snprintf(path, sizeof(path), "%s/in.jsonl", dir);
	ts_write(path, "{\"topic\": \"a\"}\n{\"topic\": \"b\"}\n{\"topic\": \"c\"}\n");
	cr_assert_eq(ECL(&out, NULL, "batch", path, "--workflow", "critique-revise",
			 "--concurrency", "2"),
		     0, "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "--status", "completed", "-o", "json"), 0);
	json = cJSON_Parse(out);
	cr_assert_eq(cJSON_GetArraySize(json), 7, "%s", out);
	cJSON_Delete(json);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "prune", "--status", "completed,failed,cancelled",
			 "--older-than", "0s"),
		     0, "%s", out);
	cr_assert(strstr(out, "Deleted 7 runs"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json"), 0);
	cr_assert(strstr(out, "[]"), "%s", out);
	free(out);
	free(id);
}

Test(pg, kill_9_then_resume_asks_no_committed_step_again)
{
	char log[4200], *out, *id;
	int status;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/calls.log", dir);
	pid = ts_ecl_background(db, dir,
				"{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 60000, "
				"\"$answer\": " REVISE "}, " PASS "], \"revise\": [" REV1 "]}",
				log);
	ts_wait_for_line(log, " critique ");
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	id = only_run();
	cr_assert_eq(status_field(id, "step_count", NULL), 1);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
					"], \"revise\": [" REV1 "]}"),
			 "--call-log", log, "resume", id),
		     0, "%s", out);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	cr_assert_eq(ts_count_lines(log, " generate "), 1, "generate was asked again");
	cr_assert_eq(status_field(id, "step_count", NULL), 4);
	free(id);
}

Test(pg, pause_and_cancel_from_another_process)
{
	char log[4200], *out, *id;
	int status;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/calls.log", dir);
	/* the first critique takes long enough for two commands to reach the server */
	pid = ts_ecl_background(db, dir,
				"{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 3000, "
				"\"$answer\": " REVISE
				"}, {\"$delay_ms\": 60000, \"$answer\": " PASS
				"}], \"revise\": [" REV1 "]}",
				log);
	ts_wait_for_line(log, " critique ");
	id = only_run();
	/* the run is held by the process driving it, which `runs` and `status` name */
	cr_assert_eq(ECL(&out, NULL, "runs"), 0, "%s", out);
	cr_assert(strstr(out, "held by: "), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "status", id), 0, "%s", out);
	cr_assert(strstr(out, "Held by:      "), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "pause", id), 0, "%s", out);
	cr_assert(strstr(out, "pause requested"), "%s", out);
	free(out);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a pause is not a failure");
	cr_assert(status_field(id, "status", "paused"));
	cr_assert_eq(ECL(&out, NULL, "cancel", id), 0, "%s", out);
	free(out);
	cr_assert(status_field(id, "status", "cancelled"));
	cr_assert_eq(ECL(&out, NULL, "history", id), 0);
	cr_assert(strstr(out, "pause requested of the driver"), "%s", out);
	cr_assert(strstr(out, "cancel done"), "%s", out);
	free(out);
	free(id);
}

Test(pg, a_server_that_cannot_be_reached_is_named_without_its_password)
{
	int port;
	int fd = ts_listen_any(&port, 0); /* bound, not listening: connections are refused */
	char url[256], *err;

	snprintf(url, sizeof(url), "postgres://ecl:s3cr3t-pw@127.0.0.1:%d/runs", port);
	{
		const char *argv[] = {ECL_BIN, "--db", url, "runs", NULL};

		cr_assert_eq(ts_run(argv, NULL, &err), 1);
	}
	close(fd);
	cr_assert(strstr(err, "ecl@127.0.0.1:"), "%s", err);
	cr_assert(strstr(err, "/runs"), "%s", err);
	cr_assert(strstr(err, "cannot connect"), "%s", err);
	cr_assert_null(strstr(err, "s3cr3t"), "%s", err);
	free(err);
}

Test(pg, a_database_of_a_newer_schema_is_refused)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, NULL, "runs"), 0, "%s", out); /* creates the schema */
	free(out);
	cr_assert(ts_pg_sql(db, "UPDATE ecl.schema SET version = 999"));
	cr_assert_eq(ECL(NULL, &err, "runs"), 1);
	cr_assert(strstr(err, "schema version 999, newer than this ecl reads"), "%s", err);
	free(err);
}

/* Run scripts/pg_server.sh with an action, a directory and maybe a port or mode. */
static void pg_server(const char *action, const char *where, const char *arg)
{
	const char *argv[] = {"/bin/sh", ECL_SOURCE_DIR "/scripts/pg_server.sh", action, where, arg,
			      NULL};
	char *err = NULL;

	cr_assert_eq(ts_run(argv, NULL, &err), 0, "pg_server.sh %s: %s", action, err);
	free(err);
}

/* The server restarted (an immediate shutdown: as after a crash) while a run waits for its
 * model: the run connects again, commits, and finishes; no step is asked twice. The server is
 * this test's own, so that the restart touches no other test. */
Test(pg, a_run_goes_on_when_the_server_restarts_under_it)
{
	char where[4300], port[16], url[512], log[4200], *out;
	int p, fd = ts_listen_any(&p, 0), status;
	pid_t pid;

	close(fd); /* a port nothing uses now */
	snprintf(port, sizeof(port), "%d", p);
	snprintf(where, sizeof(where), "%s/server", dir);
	cr_assert_eq(chmod(dir, 0755), 0);
	pg_server("start", where, port);
	snprintf(url, sizeof(url), "postgres://ecl@127.0.0.1:%d/ecl", p);
	snprintf(db, sizeof(db), "%s", url); /* this test's database; teardown drops none */
	snprintf(log, sizeof(log), "%s/calls.log", dir);
	pid = ts_ecl_background(db, dir,
				"{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 3000, "
				"\"$answer\": " REVISE "}, " PASS "], \"revise\": [" REV1 "]}",
				log);
	ts_wait_for_line(log, " critique ");
	pg_server("stop", where, "immediate");
	pg_server("start", where, port);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	out = ts_read(ts_path(dir, "bg.out"));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	/* said once: the connection lost, then made again */
	cr_assert_eq(ts_count_lines(ts_path(dir, "bg.out"), "lost the connection to the database"),
		     1, "%s", out);
	cr_assert_eq(ts_count_lines(ts_path(dir, "bg.out"), "connected to the database again"), 1,
		     "%s", out);
	free(out);
	cr_assert_eq(ts_count_lines(log, " generate "), 1, "generate was asked again");
	cr_assert_eq(ts_count_lines(log, " critique "), 2, "a critique was asked again");
	{
		char *id = only_run();

		cr_assert(status_field(id, "status", "completed"));
		cr_assert_eq(status_field(id, "step_count", NULL), 4);
		free(id);
	}
	pg_server("stop", where, "fast");
}

/* Start `ecl worker` in the background with args (NULL-terminated); its output in out_path. */
static pid_t worker(const char *spath, const char *log, const char *out_path, const char **args)
{
	const char *argv[32] = {ECL_BIN,    "--db", db,           "--provider", "scripted",
				"--script", spath,  "--call-log", log,          "worker"};
	int n = 10, i;

	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return ts_spawn(argv, out_path);
}

/* Queue n runs of critique-revise (ecl batch --queue). */
static void queue_runs(int n)
{
	char in[4300], *out;
	FILE *f;
	int i;

	snprintf(in, sizeof(in), "%s/in.jsonl", dir);
	cr_assert_not_null(f = fopen(in, "w"));
	for (i = 0; i < n; i++)
		fprintf(f, "{\"topic\": \"t%d\"}\n", i);
	fclose(f);
	cr_assert_eq(ECL(&out, NULL, "batch", in, "--workflow", "critique-revise", "--queue"), 0,
		     "%s", out);
	free(out);
}

/* How many runs of the database have this status. */
static int count_status(const char *status)
{
	char *out;
	cJSON *json;
	int n;

	cr_assert_eq(ECL(&out, NULL, "runs", "--all", "--status", status, "-o", "json"), 0, "%s",
		     out);
	json = cJSON_Parse(out);
	cr_assert_not_null(json, "%s", out);
	n = cJSON_GetArraySize(json);
	cJSON_Delete(json);
	free(out);
	return n;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The calls of the call log (lines "<run> <step> <visit> <call>") per run: *nruns runs, their
 * ids in ids[] and their numbers of calls in calls[] (arrays of cap). */
static void calls_per_run(const char *log, char (*ids)[ECL_ID_MAX], int *calls, int cap, int *nruns)
{
	char *text = ts_read(log), *line, *save = NULL, **lines;
	int n = 0, i;

	cr_assert_not_null(text);
	cr_assert_not_null(lines = calloc((size_t)ts_count_lines(log, NULL) + 1, sizeof(*lines)));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, " ")] = '\0';
		lines[n++] = line;
	}
	qsort(lines, (size_t)n, sizeof(*lines), by_text);
	*nruns = 0;
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(lines[i], lines[i - 1]) != 0) {
			cr_assert_lt(*nruns, cap, "more runs called than queued");
			snprintf(ids[*nruns], ECL_ID_MAX, "%s", lines[i]);
			calls[(*nruns)++] = 0;
		}
		calls[*nruns - 1]++;
	}
	free(lines);
	free(text);
}

/* Three workers drain a queue of 1,000 runs; one is SIGKILLed and one stopped with SIGTERM on
 * the way. Every run completes exactly once: each checkpoint is made once (the database has
 * each (run, seq) once and the run's two); a run nobody took over had each step asked once,
 * and a run taken over (one the dead worker held: attempt 2) had at most its step cut off
 * asked again, never a committed one; the SIGTERMed worker finished what it held. */
Test(pg, three_workers_drain_a_queue_each_run_completing_once, .timeout = 240)
{
	enum { RUNS = 1000 };
	const char *args[] = {"-j",     "4",    "--lease",          "2",
			      "--poll", "0.05", "--exit-when-idle", NULL};
	char log[4300], outs[3][4300], *text, *retaken;
	char(*ids)[ECL_ID_MAX] = calloc(RUNS + 1, ECL_ID_MAX);
	int *calls = calloc(RUNS + 1, sizeof(int));
	const char *spath;
	pid_t pids[3];
	int i, status, nruns, taken_over;

	cr_assert(ids && calls);
	queue_runs(RUNS);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'queued'"), RUNS);
	snprintf(log, sizeof(log), "%s/calls.log", dir);
	/* a call takes a moment, so that a worker is killed in one as often as not */
	spath = ts_script(dir, "{\"generate\": [{\"$delay_ms\": 2, \"$answer\": " GEN "}], "
			       "\"critique\": [{\"$delay_ms\": 2, \"$answer\": " PASS "}]}");
	for (i = 0; i < 3; i++) {
		snprintf(outs[i], sizeof(outs[i]), "%s/worker%d.out", dir, i);
		pids[i] = worker(spath, log, outs[i], args);
	}
	/* once a third of the runs are done, worker 0 dies and worker 1 is asked to stop */
	while (ts_count_lines(log, " critique ") < RUNS / 3) {
		struct timespec ts = {0, 5000000};

		nanosleep(&ts, NULL);
	}
	cr_assert_eq(kill(pids[0], SIGKILL), 0);
	cr_assert_eq(kill(pids[1], SIGTERM), 0);
	cr_assert_eq(waitpid(pids[0], &status, 0), pids[0]);
	cr_assert(WIFSIGNALED(status));
	cr_assert_eq(waitpid(pids[1], &status, 0), pids[1]);
	text = ts_read(outs[1]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", text);
	cr_assert(strstr(text, "stopped") && !strstr(text, "interrupted"), "%s", text);
	free(text);
	cr_assert_eq(waitpid(pids[2], &status, 0), pids[2]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", ts_read(outs[2]));
	/* the dead worker's runs: their leases expire, and a new worker takes them over */
	if (ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'running'") > 0) {
		struct timespec ts = {2, 200000000L};

		nanosleep(&ts, NULL);
		pids[0] = worker(spath, log, outs[0], args);
		cr_assert_eq(waitpid(pids[0], &status, 0), pids[0]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", ts_read(outs[0]));
	}
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"
				    " AND seq = 2 AND owner IS NULL"),
		     RUNS, "every run completed");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), RUNS * 2,
		     "each checkpoint made once");
	cr_assert_eq(ts_sql_int(db, "SELECT count(DISTINCT run_id) FROM steps WHERE seq IN (1, 2)"),
		     RUNS);
	taken_over = (int)ts_sql_int(db, "SELECT count(DISTINCT run_id) FROM steps"
					 " WHERE attempt > 1");
	cr_assert_geq(taken_over, 1, "the dead worker held runs, which were taken over");
	cr_assert_leq(taken_over, 4, "at most the dead worker's four runs were taken over");
	retaken = ts_sql_text(db, "SELECT coalesce(string_agg(DISTINCT run_id, ' '), '')"
				  " FROM steps WHERE attempt > 1");
	cr_assert_not_null(retaken);
	calls_per_run(log, ids, calls, RUNS + 1, &nruns);
	cr_assert_eq(nruns, RUNS, "every run was asked");
	for (i = 0; i < nruns; i++) {
		if (strstr(retaken, ids[i]))
			cr_assert_leq(calls[i], 3, "run %s: only its step cut off is asked again",
				      ids[i]);
		else
			cr_assert_eq(calls[i], 2, "run %s, never taken over, asked %d times",
				     ids[i], calls[i]);
	}
	free(retaken);
	free(ids);
	free(calls);
}

/* The server restarted twice under two workers draining a queue, once with a fast shutdown and
 * once with an immediate one (as after a crash): the workers connect again and every run
 * completes, each checkpoint made once. */
Test(pg, workers_go_on_when_the_server_restarts_under_them, .timeout = 240)
{
	enum { RUNS = 40 };
	const char *args[] = {"-j", "4", "--poll", "0.05", "--exit-when-idle", NULL};
	char where[4300], port[16], log[4300], outs[2][4300];
	int p, fd = ts_listen_any(&p, 0), status, i;
	const char *spath;
	pid_t pids[2];

	close(fd);
	snprintf(port, sizeof(port), "%d", p);
	snprintf(where, sizeof(where), "%s/server", dir);
	cr_assert_eq(chmod(dir, 0755), 0);
	pg_server("start", where, port);
	snprintf(db, sizeof(db), "postgres://ecl@127.0.0.1:%d/ecl", p);
	queue_runs(RUNS);
	snprintf(log, sizeof(log), "%s/calls.log", dir);
	spath = ts_script(dir, "{\"generate\": [{\"$delay_ms\": 30, \"$answer\": " GEN "}], "
			       "\"critique\": [{\"$delay_ms\": 30, \"$answer\": " PASS "}]}");
	for (i = 0; i < 2; i++) {
		snprintf(outs[i], sizeof(outs[i]), "%s/worker%d.out", dir, i);
		pids[i] = worker(spath, log, outs[i], args);
	}
	while (ts_count_lines(log, " critique ") < 8) {
		struct timespec ts = {0, 5000000};

		nanosleep(&ts, NULL);
	}
	pg_server("stop", where, "fast");
	pg_server("start", where, port);
	while (ts_count_lines(log, " critique ") < 24) {
		struct timespec ts = {0, 5000000};

		nanosleep(&ts, NULL);
	}
	pg_server("stop", where, "immediate");
	pg_server("start", where, port);
	for (i = 0; i < 2; i++) {
		char *out;
		int lost;

		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		out = ts_read(outs[i]);
		lost = ts_count_lines(outs[i], "lost the connection to the database");
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
		/* each restart met is said once, not once a run or a try, and so is its end */
		cr_assert(lost >= 1 && lost <= 2, "%d lines of a connection lost: %s", lost, out);
		cr_assert_eq(ts_count_lines(outs[i], "connected to the database again"), lost, "%s",
			     out);
		free(out);
	}
	cr_assert_eq(count_status("completed"), RUNS, "every run completed: %s%s", ts_read(outs[0]),
		     ts_read(outs[1]));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), RUNS * 2,
		     "each checkpoint made once");
	pg_server("stop", where, "fast");
}

/* `ecl workers` on PostgreSQL: two workers at work are listed live with the runs each holds
 * (the runs' owners are theirs); one stopped with SIGTERM removes itself; one killed with
 * SIGKILL stays, stale once three lease periods pass without a heartbeat, with its runs. */
Test(pg, workers_lists_live_workers_then_stale_ones)
{
	const char *args[] = {"-j", "3", "--lease", "1", "--poll", "0.05", NULL};
	char log[4300], outs[2][4300], *text;
	const char *spath;
	cJSON *list, *w;
	pid_t pids[2];
	int i, status;

	/* work for 20 s or so: the queue is not drained while the test looks */
	queue_runs(60);
	cJSON_Delete(ts_workers_wait(db, 0, 0, NULL, 0));
	snprintf(log, sizeof(log), "%s/calls.log", dir);
	spath = ts_script(dir, "{\"generate\": [{\"$delay_ms\": 300, \"$answer\": " GEN "}], "
			       "\"critique\": [{\"$delay_ms\": 300, \"$answer\": " PASS "}]}");
	for (i = 0; i < 2; i++) {
		snprintf(outs[i], sizeof(outs[i]), "%s/worker%d.out", dir, i);
		pids[i] = worker(spath, log, outs[i], args);
	}
	cJSON_Delete(ts_workers_wait(db, 2, pids[0], "live", 1));
	list = ts_workers_wait(db, 2, pids[1], "live", 1);
	cJSON_ArrayForEach (w, list) {
		char sql[512];

		cr_assert_eq(cJSON_GetObjectItem(w, "concurrency")->valueint, 3);
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM runs WHERE owner = '%s' AND status = 'running'",
			 cJSON_GetObjectItem(w, "id")->valuestring);
		cr_assert_geq(ts_sql_int(db, sql), 1, "the runs it holds are leased to it");
	}
	cJSON_Delete(list);
	cr_assert_eq(kill(pids[0], SIGTERM), 0);
	cr_assert_eq(waitpid(pids[0], &status, 0), pids[0]);
	text = ts_read(outs[0]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", text);
	free(text);
	list = ts_workers_wait(db, 1, pids[1], "live", 0);
	cr_assert_null(ts_worker_of(list, pids[0]), "the worker stopped removed itself");
	cJSON_Delete(list);
	cr_assert_eq(kill(pids[1], SIGKILL), 0);
	cr_assert_eq(waitpid(pids[1], &status, 0), pids[1]);
	cJSON_Delete(ts_workers_wait(db, 1, pids[1], "stale", 1));
}
