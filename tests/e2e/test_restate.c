/*
 * test_restate.c - `ecl serve` against a real Restate server: the server is installed from the
 * npm registry into a cache outside the source tree (scripts/restate_server.sh) and started on
 * 127.0.0.1 with a private data directory and telemetry off; `ecl serve` registers with it and
 * asks the workload's fake LLM (bench/fake_llm_server.c) over HTTP. The critique-revise
 * workload (two revisions) runs through the ingress; then again with `ecl serve` killed with
 * SIGKILL in the middle of the run and restarted, and the fake LLM's request counter shows
 * that no journaled step was asked twice. Summarize, with the scripted provider, waits at its
 * human step (get_status shows the question) until `ecl answer --engine restate` from another
 * process completes the step's promise; a wrong-typed answer is refused naming the field.
 * Skipped, saying so, where npm cannot fetch the server.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "support.h"

static char *dir;
static pid_t restate_pid, fake_pid, serve_pid;
static int ingress, admin, node, serve_port;
static char fake_url[128], ingress_url[128], admin_url[128];
static char restate_dir[64], ports[3][16]; /* how the Restate server was started */
static const char *serve_script; /* the scripted provider's answers, or NULL for the fake */

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static size_t keep(char *p, size_t size, size_t n, void *ctx)
{
	char *out = ctx;
	size_t have = strlen(out), add = size * n;

	if (have + add < 4096) {
		memcpy(out + have, p, add);
		out[have + add] = '\0';
	}
	return size * n;
}

/* GET url; the HTTP status (0 when unreachable) and up to 4 KiB of the body. */
static long get(const char *url, char out[4096])
{
	CURL *c = curl_easy_init();
	long status = 0;

	out[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* Chat completions the fake LLM has answered (its counter counts every request, these
 * /stats requests included). */
static long fake_requests(void)
{
	static long nstats;
	char body[4096], url[160];
	const char *at;

	snprintf(url, sizeof(url), "%s/stats", fake_url);
	cr_assert_eq(get(url, body), 200);
	at = strstr(body, "\"requests\":");
	cr_assert_not_null(at, "%s", body);
	return strtol(at + 11, NULL, 10) - ++nstats;
}

static pid_t spawn(const char *const argv[], const char *log)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		FILE *f = freopen(log, "w", stderr);

		(void)f;
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		setpgid(0, 0);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Whether the child has ended (reaped; *pid becomes 0). */
static int ended(pid_t *pid)
{
	if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == *pid) {
		*pid = 0;
		return 1;
	}
	return 0;
}

/* Whether a log says an address was taken ("Address in use", "in use, or not allowed"). */
static int log_says_in_use(const char *log)
{
	char *text = ts_read(log);
	int yes = text && strstr(text, "in use") != NULL;

	free(text);
	return yes;
}

/* Whether nothing listens on 127.0.0.1:port now (it may be taken a moment later: the
 * servers' start is retried when it is). */
static int port_free(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	cr_assert_geq(fd, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* A port the kernel has just chosen as free (from its ephemeral range, away from ours). */
static int some_free_port(void)
{
	int port, fd = ts_listen_any(&port, 0);

	close(fd);
	return port;
}

/* Start `ecl serve` on serve_port and wait for its health. When the port is taken, try
 * again: on the same port when same_port (a restart, whose journaled run is bound to the
 * registered endpoint), else on another. */
static void start_serve(int same_port)
{
	char port[16];
	const char *argv[20];
	char body[4096], url[64];
	int i, n = 0, attempt;

	argv[n++] = ECL_BIN;
	argv[n++] = "--db";
	argv[n++] = ts_path(dir, "serve.db");
	argv[n++] = "--provider";
	if (serve_script) {
		argv[n++] = "scripted";
		argv[n++] = "--script";
		argv[n++] = serve_script;
	} else {
		argv[n++] = "openai";
		argv[n++] = "--base-url";
		argv[n++] = fake_url;
		argv[n++] = "--model";
		argv[n++] = "fake";
	}
	argv[n++] = "serve";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--register";
	argv[n++] = admin_url;
	argv[n] = NULL;
	for (attempt = 0; attempt < 5; attempt++) {
		snprintf(port, sizeof(port), "%d", serve_port);
		serve_pid = spawn(argv, ts_path(dir, "serve.log"));
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", serve_port);
		for (i = 0; i < 600 && !ended(&serve_pid) && get(url, body) != 200; i++)
			nap_ms(50);
		if (serve_pid > 0 || !log_says_in_use(ts_path(dir, "serve.log")))
			break;
		if (same_port)
			nap_ms(500);
		else
			serve_port = some_free_port();
	}
	cr_assert(serve_pid > 0 && get(url, body) == 200, "ecl serve did not start: %s",
		  ts_read(ts_path(dir, "serve.log")));
	nap_ms(500); /* let the registration finish */
}

static void stop(pid_t *pid, int sig)
{
	if (*pid > 0) {
		kill(*pid, sig);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

/* Start the fake LLM answering after latency_ms, its port written to the file port_file
 * of dir; fake_url is where it listens. */
static void start_fake(const char *latency_ms, const char *port_file)
{
	const char *argv[] = {FAKE_LLM_BIN,
			      "--port",
			      "0",
			      "--latency-ms",
			      latency_ms,
			      "--port-file",
			      ts_path(dir, port_file),
			      NULL};
	char *text = NULL;
	int i;

	fake_pid = spawn(argv, ts_path(dir, "fake.log"));
	/* the port file exists before the number is in it: wait for the number */
	for (i = 0; i < 500; i++) {
		if ((text = ts_read(ts_path(dir, port_file))) != NULL && atoi(text) > 0)
			break;
		free(text);
		text = NULL;
		nap_ms(10);
	}
	cr_assert_not_null(text, "the fake LLM did not start");
	snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%d/v1", atoi(text));
	free(text);
}

static void setup(void)
{
	char *out = NULL, *err = NULL, in[16], ad[16], nd[16];
	const char *install[] = {"/bin/sh", ECL_SOURCE_DIR "/scripts/restate_server.sh", "install",
				 NULL};
	int rc, i, base, attempt;
	char body[4096], url[160] = "";

	dir = ts_tmpdir();
	/* The test needs a real Restate server: without one it fails, it never skips
	 * (scripts/deps.sh test installs npm, which fetches the server once). */
	rc = ts_run(install, &out, &err);
	cr_assert_eq(rc, 0, "the Restate server is needed and could not be installed (exit %d): %s",
		     rc, err ? err : "");
	free(out);
	free(err);
	start_fake("150", "fake.port");
	/* Ports of our own, away from the defaults other tests and servers use; another base
	 * when one of them is taken, before the start or during it. */
	for (attempt = 0; attempt < 8; attempt++) {
		char rdir[32];

		base = 21000 + (int)((getpid() + attempt * 797) % 4000) * 5;
		if (!port_free(base) || !port_free(base + 1) || !port_free(base + 2) ||
		    !port_free(base + 3))
			continue;
		ingress = base;
		admin = base + 1;
		node = base + 2;
		serve_port = base + 3;
		snprintf(ingress_url, sizeof(ingress_url), "http://127.0.0.1:%d", ingress);
		snprintf(admin_url, sizeof(admin_url), "http://127.0.0.1:%d", admin);
		snprintf(in, sizeof(in), "%d", ingress);
		snprintf(ad, sizeof(ad), "%d", admin);
		snprintf(nd, sizeof(nd), "%d", node);
		snprintf(rdir, sizeof(rdir), "restate%d", attempt);
		snprintf(restate_dir, sizeof(restate_dir), "%s", rdir);
		snprintf(ports[0], sizeof(ports[0]), "%s", in);
		snprintf(ports[1], sizeof(ports[1]), "%s", ad);
		snprintf(ports[2], sizeof(ports[2]), "%s", nd);
		{
			const char *argv[] = {"sh",  ECL_SOURCE_DIR "/scripts/restate_server.sh",
					      "run", ts_path(dir, rdir),
					      in,    ad,
					      nd,    NULL};

			restate_pid = spawn(argv, ts_path(dir, "restate.log"));
		}
		snprintf(url, sizeof(url), "%s/health", admin_url);
		for (i = 0; i < 1200 && !ended(&restate_pid) && get(url, body) != 200; i++)
			nap_ms(50);
		if (restate_pid > 0 || !log_says_in_use(ts_path(dir, "restate.log")))
			break;
	}
	cr_assert(restate_pid > 0 && get(url, body) == 200, "the Restate server did not start: %s",
		  ts_read(ts_path(dir, "restate.log")));
	start_serve(0);
}

static void teardown(void)
{
	stop(&serve_pid, SIGKILL);
	if (restate_pid > 0)
		kill(-restate_pid, SIGTERM);
	stop(&restate_pid, SIGTERM);
	stop(&fake_pid, SIGTERM);
	if (dir) {
		ts_rmtree(dir);
		free(dir);
	}
}

TestSuite(restate_e2e, .init = setup, .fini = teardown, .timeout = 280);

/* The run's status through get_status, as `ecl status --engine restate` prints it. */
static char *status_of(const char *id)
{
	const char *argv[] = {ECL_BIN,         "status",    "--engine", "restate",
			      "--restate-url", ingress_url, id,         NULL};
	char *out = NULL;

	if (ts_run(argv, &out, NULL) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

Test(restate_e2e, runs_and_survives_sigkill_of_the_endpoint)
{
	const char *run1[] = {ECL_BIN,
			      "run",
			      "--engine",
			      "restate",
			      "--restate-url",
			      ingress_url,
			      "--wait",
			      "bench-critique-revise",
			      "--wf",
			      "e2e-1",
			      "--topic",
			      "Tea",
			      NULL};
	char *out = NULL, *err = NULL, *st, id[ECL_ID_MAX], *output = NULL, why[1024];
	long before, after;
	int rc, i;

	/* 1. A whole run through the ingress. */
	before = fake_requests();
	rc = ts_run(run1, &out, &err);
	cr_assert_eq(rc, 0, "%s%s", out, err);
	cr_assert(strstr(out, "Workflow started: "), "%s", out);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	cr_assert(strstr(out, "\"revisions\":2"), "%s", out);
	cr_assert_eq(sscanf(strstr(out, "Workflow started: ") + 18, "%39s", id), 1);
	after = fake_requests();
	cr_assert_eq(after - before, 6, "6 answers, %ld asked", after - before);
	st = status_of(id);
	cr_assert_not_null(st);
	cr_assert(strstr(st, "\"status\": \"completed\"") && strstr(st, "\"step_count\": 6"), "%s",
		  st);
	free(st);
	free(out);
	free(err);

	/* 2. The endpoint killed in the middle of the run, then restarted. The model answers in
	 * 600 ms, so the status is seen at the third or fourth step however slowly `ecl status`
	 * starts (under sanitizers, beside other tests). */
	stop(&fake_pid, SIGTERM);
	start_fake("600", "slow.port");
	stop(&serve_pid, SIGTERM);
	start_serve(0);
	snprintf(id, sizeof(id), "e2ekill%d", (int)getpid());
	before = fake_requests();
	cr_assert_eq(ecl_restate_submit(ingress_url, "bench-critique-revise", id,
					"{\"wf\": \"e2e-2\", \"topic\": \"Tea\"}", why,
					sizeof(why)),
		     ECL_OK, "%s", why);
	for (i = 0; i < 1200; i++) {
		st = status_of(id);
		if (st && (strstr(st, "\"step_count\": 3") || strstr(st, "\"step_count\": 4")))
			break;
		free(st);
		st = NULL;
		nap_ms(20);
	}
	cr_assert_not_null(st, "the run did not get to its third step");
	free(st);
	stop(&serve_pid, SIGKILL);
	nap_ms(300);
	start_serve(1);
	rc = ecl_restate_attach(ingress_url, "bench-critique-revise", id, &output, why,
				sizeof(why));
	cr_assert_eq(rc, ECL_OK, "%s", why);
	cr_assert(strstr(output, "\"revisions\":2"), "%s", output);
	free(output);
	after = fake_requests();
	/* Six answers; at most the one in flight at the kill was asked again. */
	cr_assert(after - before >= 6 && after - before <= 7,
		  "%ld requests for 6 answers: a journaled step was asked again", after - before);
	st = status_of(id);
	cr_assert(st && strstr(st, "\"status\": \"completed\""), "%s", st ? st : "(none)");
	free(st);
}

/* Start a run with the command run, its id in id (ECL_ID_MAX bytes), and wait for its status
 * to say it waits: that status (caller frees), or NULL after 30 s. */
static char *start_until_waiting(const char *const *run, char *id)
{
	char *out = NULL, *err = NULL, *st = NULL;
	int rc = ts_run(run, &out, &err), i;

	cr_assert_eq(rc, 0, "%s%s", out, err);
	cr_assert_eq(sscanf(strstr(out, "Workflow started: ") + 18, "%39s", id), 1, "%s", out);
	free(out);
	free(err);
	for (i = 0; i < 600; i++) {
		st = status_of(id);
		if (st && strstr(st, "\"status\": \"waiting\""))
			return st;
		free(st);
		nap_ms(50);
	}
	return NULL;
}

Test(restate_e2e, human_step_waits_for_an_answer_from_another_process)
{
	const char *run[] = {ECL_BIN,
			     "run",
			     "--engine",
			     "restate",
			     "--restate-url",
			     ingress_url,
			     "summarize",
			     "--input-file",
			     "document=" ECL_SOURCE_DIR "/dsl/examples/document.txt",
			     NULL};
	char *out = NULL, *err = NULL, *st = NULL, id[ECL_ID_MAX];
	int rc, i;

	/* The scripted provider answers summarize's draft. */
	stop(&serve_pid, SIGTERM);
	serve_script = ECL_SOURCE_DIR "/dsl/examples/summarize.json";
	start_serve(0);
	st = start_until_waiting(run, id);
	cr_assert_not_null(st, "the run did not get to its human step");
	cr_assert(strstr(st, "\"step\": \"approve\"") && strstr(st, "Approve this summary of") &&
			  strstr(st, "\"promise\": \"approve#1\""),
		  "%s", st);
	free(st);

	/* A wrong-typed answer is refused, naming the field; the run still waits. */
	{
		const char *argv[] = {ECL_BIN,          "answer",    "--engine", "restate",
				      "--restate-url",  ingress_url, id,         "--set",
				      "approved=maybe", NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 2, "%s%s", out, err);
		cr_assert(strstr(err, "field `approved` of step `approve` is a bool"), "%s", err);
		free(out);
		free(err);
	}
	st = status_of(id);
	cr_assert(st && strstr(st, "\"status\": \"waiting\""), "%s", st ? st : "(none)");
	free(st);

	/* The answer from another process completes the run. */
	{
		const char *argv[] = {
			ECL_BIN,        "answer", "--engine", "restate",       "--restate-url",
			ingress_url,    id,       "--set",    "approved=true", "--set",
			"comment=Good", "--wait", NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 0, "%s%s", out, err);
		cr_assert(strstr(out, "Answer recorded for") && strstr(out, "step `approve`"), "%s",
			  out);
		cr_assert(strstr(out, "completed successfully") &&
				  strstr(out, "\"comment\":\"Good\"") &&
				  strstr(out, "\"drafts\":1"),
			  "%s", out);
		free(out);
		free(err);
	}
	st = status_of(id);
	cr_assert(st && strstr(st, "\"status\": \"completed\""), "%s", st ? st : "(none)");
	free(st);

	/* Answering a run that does not wait is refused. */
	{
		const char *argv[] = {ECL_BIN,         "answer",    "--engine", "restate",
				      "--restate-url", ingress_url, id,         "--set",
				      "approved=true", NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 1, "%s%s", out, err);
		cr_assert(strstr(err, "is completed: it does not wait for an answer"), "%s", err);
		free(out);
		free(err);
	}

	/* A run waiting for its answer can be cancelled. */
	st = start_until_waiting(run, id);
	cr_assert_not_null(st, "the second run did not get to its human step");
	free(st);
	{
		const char *argv[] = {ECL_BIN,       "cancel",  "--engine", "restate",
				      "--admin-url", admin_url, id,         NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 0, "%s%s", out, err);
		free(out);
		free(err);
	}
	for (i = 0; i < 600; i++) {
		st = status_of(id);
		if (st && strstr(st, "\"status\": \"cancelled\""))
			break;
		free(st);
		st = NULL;
		nap_ms(50);
	}
	cr_assert_not_null(st, "the waiting run was not cancelled");
	free(st);
}

/* Stop the Restate server (SIGTERM to its process group) and start it again on its data
 * directory and ports: what it journaled must still be there. */
static void restart_restate(void)
{
	const char *argv[] = {"sh",     ECL_SOURCE_DIR "/scripts/restate_server.sh",
			      "run",    ts_path(dir, restate_dir),
			      ports[0], ports[1],
			      ports[2], NULL};
	char url[160], body[4096];
	int i, attempt;

	if (restate_pid > 0)
		kill(-restate_pid, SIGTERM);
	stop(&restate_pid, SIGTERM);
	snprintf(url, sizeof(url), "%s/health", admin_url);
	for (attempt = 0; attempt < 5; attempt++) {
		restate_pid = spawn(argv, ts_path(dir, "restate2.log"));
		for (i = 0; i < 1200 && !ended(&restate_pid) && get(url, body) != 200; i++)
			nap_ms(50);
		if (restate_pid > 0)
			break;
		nap_ms(1000); /* a port still held by the old server */
	}
	cr_assert(restate_pid > 0 && get(url, body) == 200,
		  "the Restate server did not restart: %s", ts_read(ts_path(dir, "restate2.log")));
}

/* Run `ecl VERB --engine restate ... id [extra]`: its exit status, output and errors. */
static int lifecycle(const char *verb, const char *id, const char *extra, char **out, char **err)
{
	const char *argv[] = {ECL_BIN,     verb, "--engine", "restate", "--restate-url",
			      ingress_url, id,   extra,      NULL};

	return ts_run(argv, out, err);
}

/* Wait until the run's status has want in it; that status (caller frees), or NULL after
 * 60 s. */
static char *status_until(const char *id, const char *want)
{
	char *st;
	int i;

	for (i = 0; i < 1200; i++) {
		st = status_of(id);
		if (st && strstr(st, want))
			return st;
		free(st);
		nap_ms(50);
	}
	return NULL;
}

Test(restate_e2e, pause_survives_restarts_and_resume_completes)
{
	char *out = NULL, *err = NULL, *st, id[ECL_ID_MAX], why[1024];
	long before, paused_at;
	int rc;

	/* A model slow enough (1 s an answer) that the pause comes during the run, however
	 * slowly the commands start (under sanitizers, on a loaded machine). */
	stop(&fake_pid, SIGTERM);
	start_fake("1000", "slow.port");
	stop(&serve_pid, SIGTERM);
	start_serve(0);

	/* 1. Paused in the middle of a run: the step in flight finishes, then it stops. */
	snprintf(id, sizeof(id), "e2epause%d", (int)getpid());
	before = fake_requests();
	cr_assert_eq(ecl_restate_submit(ingress_url, "bench-critique-revise", id,
					"{\"wf\": \"e2e-p\", \"topic\": \"Tea\"}", why,
					sizeof(why)),
		     ECL_OK, "%s", why);
	st = status_until(id, "\"status\": \"running\"");
	cr_assert_not_null(st, "the run did not get past its first step");
	free(st);
	rc = lifecycle("pause", id, NULL, &out, &err);
	cr_assert_eq(rc, 0, "%s%s", out, err);
	cr_assert(strstr(out, "pause requested"), "%s", out);
	free(out);
	free(err);
	st = status_until(id, "\"status\": \"paused\"");
	cr_assert_not_null(st, "the run did not pause");
	cr_assert(strstr(st, "\"promise\": \"resume#1\""), "%s", st);
	free(st);
	paused_at = fake_requests();
	nap_ms(1500);
	cr_assert_eq(fake_requests(), paused_at, "a paused run asked the model");
	/* A paused run is not paused again. */
	rc = lifecycle("pause", id, NULL, &out, &err);
	cr_assert_eq(rc, 1, "%s%s", out, err);
	cr_assert(strstr(err, "is paused: only a running run can be paused"), "%s", err);
	free(out);
	free(err);

	/* 2. kill -9 of the endpoint while paused changes nothing. */
	stop(&serve_pid, SIGKILL);
	nap_ms(300);
	start_serve(1);
	st = status_of(id);
	cr_assert(st && strstr(st, "\"status\": \"paused\""), "%s", st ? st : "(none)");
	free(st);

	/* 3. Nor does a restart of the Restate server and of the endpoint. */
	stop(&serve_pid, SIGTERM);
	restart_restate();
	start_serve(1);
	st = status_until(id, "\"status\": \"paused\"");
	cr_assert_not_null(st, "the paused run did not survive the restarts");
	free(st);
	cr_assert_eq(fake_requests(), paused_at, "a paused run asked the model");

	/* 4. Resumed, it goes on from where it stopped; no step was asked twice. */
	rc = lifecycle("resume", id, "--wait", &out, &err);
	cr_assert_eq(rc, 0, "%s%s", out, err);
	cr_assert(strstr(out, "resumed") && strstr(out, "completed successfully") &&
			  strstr(out, "\"revisions\":2"),
		  "%s", out);
	free(out);
	free(err);
	cr_assert_eq(fake_requests() - before, 6, "6 answers, %ld asked", fake_requests() - before);
	st = status_of(id);
	cr_assert(st && strstr(st, "\"status\": \"completed\"") && strstr(st, "\"pauses\": 1"),
		  "%s", st ? st : "(none)");
	free(st);

	/* 5. A finished run is neither paused nor resumed; an unknown one is not found. */
	rc = lifecycle("pause", id, NULL, &out, &err);
	cr_assert_eq(rc, 1, "%s%s", out, err);
	cr_assert(strstr(err, "is completed: only a running run can be paused"), "%s", err);
	free(out);
	free(err);
	rc = lifecycle("resume", id, NULL, &out, &err);
	cr_assert_eq(rc, 1, "%s%s", out, err);
	cr_assert(strstr(err, "is completed: only a paused run can be resumed"), "%s", err);
	free(out);
	free(err);
	rc = lifecycle("pause", "nosuchrun", NULL, &out, &err);
	cr_assert_eq(rc, 1, "%s%s", out, err);
	cr_assert(strstr(err, "no run nosuchrun"), "%s", err);
	free(out);
	free(err);
}

/* Whether a and b have the same keys, and so on down every object and the first item of
 * every array (the fields scripts read), saying where they differ in why. */
static int same_fields(const cJSON *a, const cJSON *b, const char *at, char *why, size_t n)
{
	const cJSON *x;
	char path[512];

	if (cJSON_IsObject(a) != cJSON_IsObject(b) || cJSON_IsArray(a) != cJSON_IsArray(b)) {
		snprintf(why, n, "%s: an object or array on one engine only", at);
		return 0;
	}
	if (cJSON_IsArray(a))
		return !cJSON_GetArrayItem(a, 0) || !cJSON_GetArrayItem(b, 0) ||
		       same_fields(cJSON_GetArrayItem(a, 0), cJSON_GetArrayItem(b, 0), at, why, n);
	if (!cJSON_IsObject(a))
		return 1;
	cJSON_ArrayForEach (x, a) {
		snprintf(path, sizeof(path), "%s.%s", at, x->string);
		if (!cJSON_GetObjectItemCaseSensitive(b, x->string)) {
			snprintf(why, n, "%s: on the local engine only", path);
			return 0;
		}
		if (!same_fields(x, cJSON_GetObjectItemCaseSensitive(b, x->string), path, why, n))
			return 0;
	}
	cJSON_ArrayForEach (x, b) {
		if (!cJSON_GetObjectItemCaseSensitive(a, x->string)) {
			snprintf(why, n, "%s.%s: on Restate only", at, x->string);
			return 0;
		}
	}
	return 1;
}

/* The output of a command that must succeed, parsed as JSON (caller frees). */
static cJSON *json_of(const char *const *argv)
{
	char *out = NULL, *err = NULL;
	int rc = ts_run(argv, &out, &err);
	cJSON *j;

	cr_assert_eq(rc, 0, "%s: %s%s", argv[1], out, err);
	j = cJSON_Parse(out);
	cr_assert_not_null(j, "%s", out);
	free(out);
	free(err);
	return j;
}

/* The item of a runs listing with that id. */
static const cJSON *listed_run(const cJSON *list, const char *id)
{
	const cJSON *r;

	cJSON_ArrayForEach (r, list) {
		if (strcmp(cJSON_GetObjectItem(r, "id")->valuestring, id) == 0)
			return r;
	}
	cr_assert_fail("run %s is not listed", id);
	return NULL;
}

Test(restate_e2e, runs_and_history_give_the_same_fields_on_both_engines)
{
	const char *on_restate[] = {ECL_BIN,
				    "run",
				    "--engine",
				    "restate",
				    "--restate-url",
				    ingress_url,
				    "--wait",
				    "bench-critique-revise",
				    "--wf",
				    "e2e-hr",
				    "--topic",
				    "Tea",
				    NULL};
	const char *locally[] = {ECL_BIN,
				 "--db",
				 ts_path(dir, "local.db"),
				 "--provider",
				 "openai",
				 "--base-url",
				 fake_url,
				 "--model",
				 "fake",
				 "run",
				 "bench-critique-revise",
				 "--wf",
				 "e2e-hl",
				 "--topic",
				 "Tea",
				 NULL};
	char *out = NULL, *err = NULL, rid[ECL_ID_MAX], lid[ECL_ID_MAX], why[600];
	cJSON *r, *l;
	const cJSON *re, *le;
	int rc, i;

	rc = ts_run(on_restate, &out, &err);
	cr_assert_eq(rc, 0, "%s%s", out, err);
	cr_assert_eq(sscanf(strstr(out, "Workflow started: ") + 18, "%39s", rid), 1);
	free(out);
	free(err);
	rc = ts_run(locally, &out, &err);
	cr_assert_eq(rc, 0, "%s%s", out, err);
	cr_assert_eq(sscanf(strstr(out, "Workflow started: ") + 18, "%39s", lid), 1);
	free(out);
	free(err);

	/* runs -o json: the same fields, with the same values where they do not depend on
	 * time */
	{
		const char *rs_runs[] = {ECL_BIN,   "runs", "--engine", "restate", "--admin-url",
					 admin_url, "-o",   "json",     NULL};
		const char *lc_runs[] = {ECL_BIN, "--db", ts_path(dir, "local.db"), "runs", "-o",
					 "json",  NULL};

		r = json_of(rs_runs);
		l = json_of(lc_runs);
		re = listed_run(r, rid);
		le = listed_run(l, lid);
		cr_assert(same_fields(le, re, "runs", why, sizeof(why)), "%s", why);
		cr_assert_str_eq(cJSON_GetObjectItem(re, "status")->valuestring, "completed");
		cr_assert_eq(cJSON_GetObjectItem(re, "step_count")->valueint,
			     cJSON_GetObjectItem(le, "step_count")->valueint);
		cr_assert_eq(cJSON_GetObjectItem(re, "revisions")->valueint, 2);
		cr_assert(cJSON_GetObjectItem(re, "created_ms")->valuedouble > 1e12);
		cJSON_Delete(r);
		cJSON_Delete(l);
	}
	/* --status and --workflow filter on Restate too */
	{
		const char *argv[] = {ECL_BIN,       "runs",
				      "--engine",    "restate",
				      "--admin-url", admin_url,
				      "--status",    "failed,waiting",
				      "--workflow",  "bench-critique-revise",
				      NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 0, "%s%s", out, err);
		cr_assert(!strstr(out, rid), "%s", out);
		free(out);
		free(err);
	}
	{
		const char *argv[] = {
			ECL_BIN,       "runs",    "--engine",   "restate",
			"--admin-url", admin_url, "--workflow", "bench-critique-revise",
			NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 0, "%s%s", out, err);
		cr_assert(strstr(out, "ID ") && strstr(out, "LIMITS") && strstr(out, rid) &&
				  strstr(out, "revisions 2/"),
			  "%s", out);
		free(out);
		free(err);
	}

	/* history --full -o json: the same transitions, fields and calls */
	{
		const char *rs_hist[] = {ECL_BIN,       "history", "--engine", "restate",
					 "--admin-url", admin_url, rid,        "--full",
					 "-o",          "json",    NULL};
		const char *lc_hist[] = {ECL_BIN,   "--db", ts_path(dir, "local.db"),
					 "history", lid,    "--full",
					 "-o",      "json", NULL};

		r = json_of(rs_hist);
		l = json_of(lc_hist);
		cr_assert_eq(cJSON_GetArraySize(r), cJSON_GetArraySize(l));
		cr_assert_eq(cJSON_GetArraySize(r), 6);
		for (i = 0; i < cJSON_GetArraySize(r); i++) {
			re = cJSON_GetArrayItem(r, i);
			le = cJSON_GetArrayItem(l, i);
			cr_assert(same_fields(le, re, "history", why, sizeof(why)), "%d: %s", i,
				  why);
			cr_assert_str_eq(cJSON_GetObjectItem(re, "step")->valuestring,
					 cJSON_GetObjectItem(le, "step")->valuestring);
			cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(re, "calls")),
				     cJSON_GetArraySize(cJSON_GetObjectItem(le, "calls")));
			/* each call as the fake LLM took it: ~150 ms */
			cr_assert(cJSON_GetObjectItem(
					  cJSON_GetArrayItem(cJSON_GetObjectItem(re, "calls"), 0),
					  "latency_us")
						  ->valuedouble >= 100000,
				  "%d", i);
		}
		cJSON_Delete(r);
		cJSON_Delete(l);
	}
	{
		const char *argv[] = {ECL_BIN,   "history", "--engine", "restate", "--admin-url",
				      admin_url, rid,       "--full",   NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 0, "%s%s", out, err);
		cr_assert(strstr(out, "History of ") && strstr(out, "call 1: first") &&
				  strstr(out, "prompt:") && strstr(out, "answer:") &&
				  strstr(out, "Total: 6 steps"),
			  "%s", out);
		free(out);
		free(err);
	}
	{
		const char *argv[] = {ECL_BIN,       "history", "--engine",  "restate",
				      "--admin-url", admin_url, "nosuchrun", NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 1, "%s%s", out, err);
		cr_assert(strstr(err, "no run nosuchrun"), "%s", err);
		free(out);
		free(err);
	}
}

Test(restate_e2e, fork_takes_the_first_answers_and_asks_for_the_rest)
{
	const char *run[] = {ECL_BIN,
			     "run",
			     "--engine",
			     "restate",
			     "--restate-url",
			     ingress_url,
			     "--wait",
			     "bench-critique-revise",
			     "--wf",
			     "e2e-f",
			     "--topic",
			     "Tea",
			     NULL};
	char *out = NULL, *err = NULL, id[ECL_ID_MAX], fid[ECL_ID_MAX];
	long before;
	cJSON *h;
	int rc, i;

	rc = ts_run(run, &out, &err);
	cr_assert_eq(rc, 0, "%s%s", out, err);
	cr_assert_eq(sscanf(strstr(out, "Workflow started: ") + 18, "%39s", id), 1);
	free(out);
	free(err);

	/* Forked at checkpoint 3: the first three answers are the old run's, the model is asked
	 * for the three steps after them only. */
	before = fake_requests();
	{
		const char *argv[] = {
			ECL_BIN,     "fork",        "--engine", "restate", "--restate-url",
			ingress_url, "--admin-url", admin_url,  id,        "--from",
			"3",         "--wait",      NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 0, "%s%s", out, err);
		cr_assert(strstr(out, "Forked ") && strstr(out, "at step 3") &&
				  strstr(out, "completed successfully"),
			  "%s", out);
		cr_assert_eq(sscanf(strstr(out, "Workflow started: ") + 18, "%39s", fid), 1);
		cr_assert_str_neq(fid, id);
		free(out);
		free(err);
	}
	{
		const char *argv[] = {ECL_BIN,   "history", "--engine", "restate", "--admin-url",
				      admin_url, fid,       "-o",       "json",    NULL};

		/* (the fake LLM counts the critiques of each `wf`: the fork's next one passes) */
		h = json_of(argv);
		cr_assert_geq(cJSON_GetArraySize(h), 4);
		for (i = 0; i < cJSON_GetArraySize(h); i++)
			cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
					     cJSON_GetArrayItem(h, i), "calls")),
				     i < 3 ? 0 : 1, "checkpoint %d", i + 1);
		cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 2), "step")->valuestring,
				 "revise");
		cr_assert_eq(fake_requests() - before, cJSON_GetArraySize(h) - 3,
			     "%ld asked for %d steps", fake_requests() - before,
			     cJSON_GetArraySize(h) - 3);
		cJSON_Delete(h);
	}

	/* Past the run's checkpoints, or of a run that does not exist: refused. */
	{
		const char *argv[] = {ECL_BIN,   "fork", "--engine", "restate", "--admin-url",
				      admin_url, id,     "--from",   "99",      NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 2, "%s%s", out, err);
		cr_assert(strstr(err, "has 6 checkpoints: there is no checkpoint 99"), "%s", err);
		free(out);
		free(err);
	}
	{
		const char *argv[] = {ECL_BIN,   "fork",      "--engine", "restate", "--admin-url",
				      admin_url, "nosuchrun", "--from",   "1",       NULL};

		rc = ts_run(argv, &out, &err);
		cr_assert_eq(rc, 1, "%s%s", out, err);
		cr_assert(strstr(err, "no run nosuchrun"), "%s", err);
		free(out);
		free(err);
	}
}
