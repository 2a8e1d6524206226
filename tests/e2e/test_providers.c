/*
 * test_providers.c - every HTTP provider (openai, anthropic, ollama) through real HTTP with
 * libcurl against tests/tools/fake_llm.py, in every fault mode of the fake: retries of
 * transient faults (5xx, 429 with its Retry-After, a truncated body, a hang past the time
 * limit), at-once failures of the others with the provider's own message, answers in a fence,
 * repair prompts for a wrong type, and the key kept out of logs, errors, the database and ps.
 * Also the provider settings: flags, environment and config file, as `ecl providers` shows.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fake_server.h"
#include "internal.h"
#include "support.h"

/* The key's secret part follows a prefix that is no secret. Only pieces of the secret part are
 * looked for: "test-K" would also be found in a temporary directory named ecl-test-K.... */
#define KEY_PREFIX "sk-test-"
#define KEY        KEY_PREFIX "Zq7Xw9Rk2Lm4Tp8Vb3Nc"

static char *dir;
static char db[4096], base[128], keyfile[4200];
static pid_t server;
static int wf_no;

static int fake_total(void);

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	ts_write(keyfile, KEY "\n");
	server = ts_fake_start(dir, 0, "ok", base, sizeof(base));
	setenv("OPENAI_API_KEY", KEY, 1);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_BASE_URL");
	unsetenv("OLLAMA_HOST");
	setenv("XDG_CONFIG_HOME", dir, 1); /* no config file unless a test writes one */
}

static void teardown(void)
{
	ts_fake_stop(server);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(providers, .init = setup, .fini = teardown, .timeout = 120);

static const char *const providers[] = {"openai", "anthropic", "ollama"};

/* Run the bench workflow with a provider against the fake; returns the exit status. */
static int run_with(const char *provider, const char *extra, char **out, char **err)
{
	char url[256], wf[32];
	const char *argv[24];
	int n = 0;

	snprintf(url, sizeof(url), "%s%s", base, strcmp(provider, "ollama") ? "/v1" : "");
	snprintf(wf, sizeof(wf), "wf-%d", ++wf_no);
	argv[n++] = ECL_BIN;
	argv[n++] = "--db";
	argv[n++] = db;
	argv[n++] = "--provider";
	argv[n++] = provider;
	argv[n++] = "--base-url";
	argv[n++] = url;
	argv[n++] = "--model";
	argv[n++] = "fake-model";
	if (!strcmp(provider, "anthropic")) {
		argv[n++] = "--api-key-file";
		argv[n++] = keyfile;
	}
	if (extra) {
		argv[n++] = "--timeout";
		argv[n++] = extra;
	}
	argv[n++] = "run";
	argv[n++] = "bench-critique-revise";
	argv[n++] = "--wf";
	argv[n++] = wf;
	argv[n++] = "--topic";
	argv[n++] = "providers";
	argv[n] = NULL;
	return ts_run(argv, out, err);
}

/* The key's secret part (or any 6 characters of it) is nowhere in text. */
static void no_key(const char *text, const char *where)
{
	size_t i;
	char piece[8];

	for (i = strlen(KEY_PREFIX); i + 6 <= strlen(KEY); i++) {
		memcpy(piece, KEY + i, 6);
		piece[6] = '\0';
		cr_assert_null(strstr(text, piece), "a piece of the key in %s: %s", where, text);
	}
}

static void db_has_no_key(void)
{
	char *all = ts_sql_text(db, "SELECT coalesce(group_concat(coalesce(output,'') || "
				    "coalesce(raw,'') || coalesce(vars,''), ''), '') FROM steps");

	no_key(all, "the steps");
	free(all);
	all = ts_sql_text(db, "SELECT group_concat(inputs || coalesce(owner,'') || "
			      "coalesce(error,''), '') FROM runs");
	no_key(all ? all : "", "the runs");
	free(all);
}

Test(providers, every_provider_completes_a_workflow_with_token_counts)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char *out, *err, *last;
		long long before = ts_sql_int(db, "SELECT count(*) FROM steps");

		cr_assert_eq(run_with(providers[i], NULL, &out, &err), 0, "%s: %s%s", providers[i],
			     out, err);
		cr_assert(strstr(out, "\"quality_score\": 90"), "%s", out);
		cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE tokens_in > 0 AND "
					    "tokens_out > 0") -
				     (before < 0 ? 0 : before),
			     6, "%s: token counts are stored with each step", providers[i]);
		no_key(err, "stderr");
		no_key(out, "stdout");
		{
			/* status and history show the totals */
			char *id = ts_sql_text(db, "SELECT id FROM runs ORDER BY id DESC LIMIT 1");
			const char *st[] = {ECL_BIN, "--db", db, "status", id, NULL};
			const char *hi[] = {ECL_BIN, "--db", db, "history", id, NULL};
			char *o2;

			cr_assert_eq(ts_run(st, &o2, NULL), 0);
			cr_assert(strstr(o2, "Tokens:") && !strstr(o2, "Tokens:       0 in"), "%s",
				  o2);
			free(o2);
			cr_assert_eq(ts_run(hi, &o2, NULL), 0);
			cr_assert(strstr(o2, "Total: 6 steps"), "%s", o2);
			free(o2);
			free(id);
		}
		last = ts_fake_get(base, "/last");
		if (!strcmp(providers[i], "anthropic")) {
			cr_assert(strstr(last, "\"x-api-key\":\"sk-t"), "%s", last);
			cr_assert(strstr(last, "\"anthropic-version\""), "%s", last);
		} else if (!strcmp(providers[i], "openai")) {
			cr_assert(strstr(last, "\"authorization\":\"Bearer sk-t"), "%s", last);
			cr_assert(strstr(last, "\"response_format\""), "%s", last);
		} else {
			cr_assert(strstr(last, "\"stream\":false"), "%s", last);
		}
		free(last);
		free(out);
		free(err);
	}
	db_has_no_key();
}

/* The JSON Schema eclc writes for the critique step of bench-critique-revise. */
#define CRITIQUE_SCHEMA                                                                            \
	"{\"type\":\"object\",\"properties\":{\"decision\":{\"type\":\"string\",\"enum\":["        \
	"\"pass\",\"revise\"]},\"feedback\":{\"type\":\"string\"},\"quality_score\":{\"type\":"    \
	"\"integer\"}},\"required\":[\"decision\",\"feedback\",\"quality_score\"],"                \
	"\"additionalProperties\":false}"

/* The last request of a run (the critique that passed) carries the step's schema byte for
 * byte, where each API takes it (OpenAI's strict form is the same: every field is required). */
Test(providers, each_provider_sends_the_steps_json_schema)
{
	static const char *const want[] = {
		"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
		"\"critique\",\"strict\":true,\"schema\":" CRITIQUE_SCHEMA "}}}",
		"\"tools\":[{\"name\":\"critique\",\"description\":\"Give the answer.\","
		"\"input_schema\":" CRITIQUE_SCHEMA "}],\"tool_choice\":{\"type\":\"tool\","
		"\"name\":\"critique\"}}",
		"\"format\":" CRITIQUE_SCHEMA ",",
	};
	size_t i;

	for (i = 0; i < 3; i++) {
		char *out, *err, *raw;

		cr_assert_eq(run_with(providers[i], NULL, &out, &err), 0, "%s: %s%s", providers[i],
			     out, err);
		cr_assert(strstr(out, "\"quality_score\": 90"), "%s", out);
		raw = ts_fake_get(base, "/last/raw");
		cr_assert(strstr(raw, want[i]), "%s: no %s in %s", providers[i], want[i], raw);
		free(raw);
		free(out);
		free(err);
	}
	{
		/* and `ecl graph --format json` shows it */
		const char *argv[] = {ECL_BIN,    "graph", "bench-critique-revise",
				      "--format", "json",  NULL};
		char *out;

		cr_assert_eq(ts_run(argv, &out, NULL), 0);
		cr_assert(strstr(out, "\"schema\": " CRITIQUE_SCHEMA ",\n"), "%s", out);
		free(out);
	}
}

/* How many times needle is in text. */
static int occurrences(const char *text, const char *needle)
{
	int n = 0;

	for (; (text = strstr(text, needle)) != NULL; text++)
		n++;
	return n;
}

/* A server that refuses json_schema: the first call is refused and asked again at once with
 * json_object (no retry spent: no retry is logged), and so are all the calls
 * after it, in `ecl run` and in `ecl batch`; the log says it once per process. */
Test(providers, a_server_refusing_json_schema_gets_json_object_said_once)
{
	char url[256], in[4300], *out, *err, *id, *hist;
	const char *run[] = {ECL_BIN,
			     "--db",
			     db,
			     "--provider",
			     "openai",
			     "--model",
			     "m",
			     "--base-url",
			     url,
			     "run",
			     "bench-critique-revise",
			     "--wf",
			     "ns",
			     "--topic",
			     "t",
			     NULL};
	const char *batch[] = {ECL_BIN,
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
			       NULL};
	const char *history[] = {ECL_BIN, "--db", db, "history", NULL, "--full", NULL};
	const char *note = "the server refuses a JSON Schema in response_format";

	snprintf(url, sizeof(url), "%s/v1", base);
	ts_fake_mode(base, "{\"mode\": \"noschema\"}");
	cr_assert_eq(ts_run(run, &out, &err), 0, "%s%s", out, err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	cr_assert_eq(occurrences(err, note), 1, "%s", err);
	cr_assert_null(strstr(err, " retry "), "%s", err);
	cr_assert_eq(fake_total(), 7, "six steps, one refused call");
	free(out);
	free(err);
	id = ts_sql_text(db, "SELECT id FROM runs");
	history[4] = id;
	cr_assert_eq(ts_run(history, &hist, NULL), 0);
	cr_assert_eq(occurrences(hist, note), 1, "the refused call is in the history: %s", hist);
	free(hist);
	free(id);

	snprintf(in, sizeof(in), "%s/in.jsonl", dir);
	ts_write(in, "{\"topic\": \"a\", \"wf\": \"b1\"}\n{\"topic\": \"b\", \"wf\": \"b2\"}\n"
		     "{\"topic\": \"c\", \"wf\": \"b3\"}\n");
	cr_assert_eq(ts_run(batch, &out, &err), 0, "%s%s", out, err);
	cr_assert(strstr(out, "\"completed\": 3") || strstr(out, "\"completed\":3"), "%s", out);
	/* the three first calls were in flight together: each refused, one says so */
	cr_assert_eq(occurrences(err, note), 1, "%s", err);
	free(out);
	free(err);
}

/* The input tokens a provider read from its prompt cache are stored with each step and call
 * and shown by history: the fake's OpenAI caches the prefix a prompt shares with one before
 * (a critique's and a revision's begin alike at each visit). */
Test(providers, cached_input_tokens_are_stored_and_shown)
{
	char *out, *err, *id, *hist;
	const char *text[] = {ECL_BIN, "--db", db, "history", NULL, NULL};
	const char *json[] = {ECL_BIN, "--db", db, "history", NULL, "-o", "json", NULL};
	long long cached;
	cJSON *h, *e;
	long long sum = 0;

	cr_assert_eq(run_with("openai", NULL, &out, &err), 0, "%s%s", out, err);
	free(out);
	free(err);
	cached = ts_sql_int(db, "SELECT sum(tokens_cached) FROM steps");
	cr_assert_gt(cached, 0);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE tokens_cached > 0 AND"
				    " tokens_cached < tokens_in AND tokens_cache_write = 0"),
		     ts_sql_int(db, "SELECT count(*) FROM steps WHERE tokens_cached > 0"));
	id = ts_sql_text(db, "SELECT id FROM runs");
	text[4] = json[4] = id;
	cr_assert_eq(ts_run(text, &hist, NULL), 0);
	cr_assert(strstr(hist, " cached)  -> "), "%s", hist);
	{
		char want[96];

		snprintf(want, sizeof(want), "(%lld in from the prompt cache), cost ", cached);
		cr_assert(strstr(hist, want), "%s", hist);
	}
	free(hist);
	cr_assert_eq(ts_run(json, &hist, NULL), 0);
	h = cJSON_Parse(hist);
	cJSON_ArrayForEach (e, h)
		sum += (long long)cJSON_GetObjectItemCaseSensitive(e, "tokens_cached")->valuedouble;
	cr_assert_eq(sum, cached, "%s", hist);
	cJSON_Delete(h);
	free(hist);
	free(id);
}

/* `ecl --stream run` shows each answer as it arrives (on stderr, beside the progress lines
 * on a terminal); a stream cut in the middle is asked again, the checkpoint holds the whole
 * validated answer; without --stream (and not on a terminal) nothing streams. */
Test(providers, a_run_streams_its_answers_and_a_cut_stream_is_asked_again)
{
	char url[256], *out, *err, *row;
	const char *argv[] = {
		ECL_BIN, "--db",       db,        "--provider", "ollama", "--model",
		"m",     "--base-url", url,       "--stream",   "run",    "bench-critique-revise",
		"--wf",  "st",         "--topic", "t",          NULL};

	snprintf(url, sizeof(url), "%s", base);
	ts_fake_mode(base, "{\"mode\": \"cut\", \"count\": 1}");
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	/* the first call was cut: retried, and the answers shown as they came */
	cr_assert(strstr(err, "the stream was cut before its end"), "%s", err);
	cr_assert(strstr(err, "\"decision\":\"pass\""), "%s", err);
	cr_assert(strstr(err, "{\"content\":\"Draft v0 on t:"), "%s", err);
	row = ts_sql_text(db, "SELECT output FROM steps WHERE seq = 1");
	cr_assert(strstr(row, "\"content\": \"Draft v0 on t:") ||
			  strstr(row, "\"content\":\"Draft v0 on t:"),
		  "%s", row);
	free(row);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 6);
	/* each call's time to its first token: of the cut one too, which had some text */
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE ttft_us > 0"), 6);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM calls WHERE ttft_us > 0"), 2);
	free(out);
	free(err);
	{
		char *id = ts_sql_text(db, "SELECT id FROM runs");
		const char *hist[] = {ECL_BIN, "--db", db, "history", id, "--full", NULL};

		cr_assert_eq(ts_run(hist, &out, NULL), 0);
		cr_assert_eq(occurrences(out, " (first token after "), 7, "%s", out);
		free(out);
		free(id);
	}
	row = ts_fake_get(base, "/last/raw");
	cr_assert(strstr(row, "\"stream\":true"), "%s", row);
	free(row);
	/* --no-stream, and the default off a terminal: no stream asked for */
	argv[9] = "--no-stream";
	argv[13] = "st2";
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s%s", out, err);
	cr_assert_null(strstr(err, "Draft v0"), "%s", err);
	free(out);
	free(err);
	row = ts_fake_get(base, "/last/raw");
	cr_assert(strstr(row, "\"stream\":false"), "%s", row);
	free(row);
	/* ecl resume streams too */
	ts_fake_mode(base, "{\"mode\": \"500\", \"count\": 3}");
	argv[13] = "st3";
	cr_assert_eq(ts_run(argv, &out, &err), 1, "%s%s", out, err);
	free(out);
	free(err);
	row = ts_sql_text(db, "SELECT id FROM runs WHERE status = 'interrupted'");
	{
		const char *resume[] = {ECL_BIN, "--db", db, "--stream", "resume", row, NULL};

		cr_assert_eq(ts_run(resume, &out, &err), 0, "%s%s", out, err);
		cr_assert(strstr(err, "{\"content\":\"Draft v0 on t:"), "%s", err);
		free(out);
		free(err);
	}
	free(row);
}

/* On a terminal, a run streams by itself: each answer under its step's line, indented, and
 * the step's end on a line of its own after it. */
Test(providers, on_a_terminal_answers_stream_under_the_steps_line)
{
	char url[256], *got;
	const char *argv[] = {ECL_BIN,
			      "--db",
			      db,
			      "--provider",
			      "ollama",
			      "--model",
			      "m",
			      "--base-url",
			      url,
			      "run",
			      "bench-critique-revise",
			      "--wf",
			      "tty",
			      "--topic",
			      "t",
			      NULL};
	struct termios raw;
	size_t len = 0, cap = 1 << 16;
	int master, slave, status;
	ssize_t n;
	pid_t pid;

	snprintf(url, sizeof(url), "%s", base);
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	cr_assert_eq(tcgetattr(slave, &raw), 0);
	raw.c_oflag &= ~(tcflag_t)OPOST; /* no \r added before each \n */
	cr_assert_eq(tcsetattr(slave, TCSANOW, &raw), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(slave, STDERR_FILENO);
		dup2(null, STDOUT_FILENO);
		close(master);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(slave);
	got = malloc(cap);
	cr_assert_not_null(got);
	while ((n = read(master, got + len, cap - len - 1)) > 0)
		cr_assert_lt(len += (size_t)n, cap - 1);
	got[len] = '\0';
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", got);
	cr_assert(strstr(got, "  [1/8] generate ...\n    {\"content\":\"Draft v0 on t:"), "%s",
		  got);
	cr_assert(strstr(got, "}\n    done in "), "%s", got);
	free(got);
}

/* One fault for the next `count` calls, then a run; returns its exit status. */
static int fault(const char *provider, const char *mode, int count, const char *timeout, char **out,
		 char **err)
{
	char json[128];

	snprintf(json, sizeof(json), "{\"mode\": \"%s\", \"count\": %d}", mode, count);
	ts_fake_mode(base, json);
	return run_with(provider, timeout, out, err);
}

Test(providers, server_errors_and_truncated_bodies_are_retried)
{
	static const char *const modes[] = {"500", "truncated"};
	/* what ecl logs for the retry: the provider, then the reason */
	static const char *const why[] = {
		"HTTP 500: The server had an error while processing your request.",
		"Transferred a partial file"};
	size_t i, m;

	for (i = 0; i < 3; i++)
		for (m = 0; m < 2; m++) {
			char *out, *err, want[256];

			cr_assert_eq(fault(providers[i], modes[m], 1, NULL, &out, &err), 0,
				     "%s %s: %s%s", providers[i], modes[m], out, err);
			cr_assert(strstr(err, "Z warn  retry        run="), "%s %s: %s",
				  providers[i], modes[m], err);
			snprintf(want, sizeof(want),
				 " step=generate error=\"%s: %s\" wait_ms=", providers[i], why[m]);
			cr_assert(strstr(err, want), "%s %s: no `%s` in: %s", providers[i],
				  modes[m], want, err);
			cr_assert(strstr(out, "completed successfully"), "%s", out);
			free(out);
			free(err);
		}
}

Test(providers, a_429_waits_for_its_retry_after)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char *out, *err, *w;

		cr_assert_eq(fault(providers[i], "429", 1, NULL, &out, &err), 0, "%s%s", out, err);
		cr_assert(strstr(err, "HTTP 429: Rate limit reached"), "%s", err);
		w = strstr(err, "wait_ms");
		cr_assert_not_null(w, "%s", err);
		cr_assert_geq(atol(w + strcspn(w, "0123456789")), 1000,
			      "Retry-After: 1 is honoured: %s", err);
		free(out);
		free(err);
	}
	{
		/* Retry-After as an HTTP-date, 3 s ahead */
		char *out, *err, *w;

		cr_assert_eq(fault("openai", "429date", 1, NULL, &out, &err), 0, "%s%s", out, err);
		w = strstr(err, "wait_ms");
		cr_assert_not_null(w, "%s", err);
		cr_assert_geq(atol(w + strcspn(w, "0123456789")), 1000, "%s", err);
		free(out);
		free(err);
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A Retry-After longer than the call's timeout, as seconds or as an HTTP-date and on a 429 or
 * a 503 alike, is not slept through: the step stops at once, the run stays resumable, and the
 * error says how long the server asked for. A shorter one is waited for (above). */
Test(providers, a_retry_after_longer_than_the_timeout_stops_the_step_at_once)
{
	static const char *const modes[] = {
		"{\"mode\": \"429\", \"count\": 1, \"after\": \"100000\"}",
		"{\"mode\": \"500\", \"status\": 503, \"count\": 1, "
		"\"after\": \"Wed, 21 Oct 2099 07:28:00 GMT\"}",
		"{\"mode\": \"429\", \"count\": 1, \"after\": \"30\"}",
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char *out, *err, *st;
		long long t0 = now_ms();

		ts_fake_mode(base, modes[i]);
		/* the third: 30 s is more than the --timeout of 5 s */
		cr_assert_eq(run_with("openai", "5", &out, &err), 1, "%s%s", out, err);
		cr_assert_lt(now_ms() - t0, 4000, "not slept through: %s", err);
		cr_assert(strstr(err, "the server asks to wait "), "%s", err);
		cr_assert(strstr(err, "longer than the call timeout of 5 s: not retried"), "%s",
			  err);
		cr_assert_null(strstr(err, "wait_ms"), "no retry was planned: %s", err);
		st = ts_sql_text(db, "SELECT status FROM runs ORDER BY created_ms DESC, updated_ms "
				     "DESC LIMIT 1");
		cr_assert_str_eq(st, "interrupted");
		free(st);
		free(out);
		free(err);
	}
}

Test(providers, a_hang_past_the_time_limit_is_retried)
{
	char *out, *err;

	cr_assert_eq(fault("openai", "hang", 1, "0.5", &out, &err), 0, "%s%s", out, err);
	cr_assert(strstr(err, "Z warn  retry        run="), "%s", err);
	cr_assert(strstr(err, " step=generate error=\"openai: Timeout was reached\" wait_ms="),
		  "%s", err);
	free(out);
	free(err);
	/* hanging every time: the retries run out, the run keeps its checkpoint */
	ts_fake_mode(base, "{\"mode\": \"hang\", \"count\": 10}");
	cr_assert_eq(run_with("ollama", "0.3", &out, &err), 1);
	cr_assert(strstr(err, "retries exhausted"), "%s", err);
	cr_assert(strstr(err, "resume it with"), "%s", err);
	ts_fake_mode(base, "{\"mode\": \"ok\"}");
	free(out);
	free(err);
}

/* A port whose accept queue is full: the kernel drops further SYNs, so connecting times out. */
static int full_port(int *fds, int nfds)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), i;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 0), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
	fds[0] = l;
	for (i = 1; i < nfds; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fds[i], (struct sockaddr *)&a, sizeof(a));
	}
	return ntohs(a.sin_port);
}

Test(providers, a_connect_timeout_is_a_transient_failure)
{
	char url[128];
	const char *argv[] = {ECL_BIN,
			      "--db",
			      db,
			      "--provider",
			      "openai",
			      "--base-url",
			      url,
			      "--model",
			      "m",
			      "--connect-timeout",
			      "0.2",
			      "run",
			      "bench-critique-revise",
			      "--wf",
			      "ct",
			      "--topic",
			      "t",
			      NULL};
	char *out, *err;
	int fds[4], i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", full_port(fds, 4));
	cr_assert_eq(ts_run(argv, &out, &err), 1, "%s%s", out, err);
	cr_assert(strstr(err, "retries exhausted"), "%s", err);
	cr_assert(strstr(err, "step `generate`: openai: "), "%s", err);
	cr_assert(strstr(err, "\necl: step `generate`: openai: Timeout was reached (retries "
			      "exhausted)\n"),
		  "%s", err);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	free(out);
	free(err);
}

Test(providers, other_4xx_fail_at_once_with_the_providers_message_and_no_key)
{
	static const char *const msgs[] = {"Incorrect API key provided", "invalid x-api-key",
					   "unauthorized"};
	size_t i;

	for (i = 0; i < 3; i++) {
		char *out, *err, *st;

		cr_assert_eq(fault(providers[i], "401", 1, NULL, &out, &err), 1, "%s%s", out, err);
		cr_assert(strstr(err, "HTTP 401: "), "%s", err);
		cr_assert(strstr(err, msgs[i]), "%s: the provider's message: %s", providers[i],
			  err);
		cr_assert_null(strstr(err, "retry"), "a 401 is not retried: %s", err);
		no_key(err, "stderr");
		st = ts_sql_text(db, "SELECT status FROM runs ORDER BY id DESC LIMIT 1");
		cr_assert_str_eq(st, "interrupted");
		free(st);
		free(out);
		free(err);
	}
	{
		/* a multi-line message is one line in the error */
		char *out, *err;

		cr_assert_eq(fault("openai", "400", 1, NULL, &out, &err), 1);
		cr_assert(strstr(err, "HTTP 400: Invalid request: the 'messages' field is wrong"),
			  "%s", err);
		free(out);
		free(err);
	}
	{
		/* the key repeated where the error is cut: no piece of it is left */
		static const char *const pads[] = {
			"{\"mode\": \"leak\", \"count\": 1, \"pad\": 470}",
			"{\"mode\": \"leak\", \"count\": 1, \"pad\": 485}",
			"{\"mode\": \"leak\", \"count\": 1, \"pad\": 990}"};
		for (i = 0; i < 3; i++) {
			char *out, *err;

			ts_fake_mode(base, pads[i]);
			cr_assert_eq(run_with("openai", NULL, &out, &err), 1);
			cr_assert(strstr(err, "HTTP 400"), "%s", err);
			no_key(err, "stderr");
			free(out);
			free(err);
		}
	}
	db_has_no_key();
}

Test(providers, malformed_empty_and_oversized_replies_fail_at_once)
{
	static const char *const modes[] = {"malformed", "empty", "big"};
	static const char *const says[] = {"the response is not JSON", "the response has no",
					   "larger than 8 MiB"};
	size_t i, m;

	for (i = 0; i < 3; i++)
		for (m = 0; m < 3; m++) {
			char *out, *err;

			cr_assert_eq(fault(providers[i], modes[m], 1, NULL, &out, &err), 1, "%s %s",
				     providers[i], modes[m]);
			cr_assert(strstr(err, says[m]), "%s %s: %s", providers[i], modes[m], err);
			cr_assert_null(strstr(err, "retry"), "%s", err);
			free(out);
			free(err);
		}
}

Test(providers, fenced_and_split_answers_are_accepted)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char *out, *err;

		cr_assert_eq(fault(providers[i], "fence", 6, NULL, &out, &err), 0, "%s%s", out,
			     err);
		cr_assert(strstr(out, "\"quality_score\": 90"), "%s", out);
		free(out);
		free(err);
	}
	{
		char *out, *err;

		cr_assert_eq(fault("anthropic", "split", 6, NULL, &out, &err), 0, "%s%s", out, err);
		free(out);
		free(err);
	}
}

Test(providers, a_wrong_type_gets_a_repair_prompt_then_fails_naming_the_field)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char *out, *err, *last, *st;

		cr_assert_eq(fault(providers[i], "wrongtype", 1, NULL, &out, &err), 0, "%s%s", out,
			     err);
		cr_assert(strstr(err, "repair"), "%s", err);
		free(out);
		free(err);
		/* wrong every time: the repair limit is reached, the run fails for good */
		cr_assert_eq(fault(providers[i], "wrongtype", 100, NULL, &out, &err), 1);
		cr_assert(strstr(err, "word_count"), "the field is named: %s", err);
		cr_assert(strstr(err, "generate"), "the step is named: %s", err);
		st = ts_sql_text(db, "SELECT status || ' ' || error FROM runs ORDER BY id DESC "
				     "LIMIT 1");
		cr_assert(strncmp(st, "failed ", 7) == 0, "%s", st);
		cr_assert(strstr(st, "word_count"), "%s", st);
		free(st);
		last = ts_fake_get(base, "/last");
		cr_assert(strstr(last, "Your answer could not be used"),
			  "the repair prompt went to the model: %s", last);
		free(last);
		ts_fake_mode(base, "{\"mode\": \"ok\"}");
		free(out);
		free(err);
	}
}

/* ---- settings ------------------------------------------------------------------------------ */

static char *providers_json(char **err, int expect)
{
	const char *argv[] = {ECL_BIN, "providers", "-o", "json", NULL};
	char *out;

	cr_assert_eq(ts_run(argv, &out, err), expect, "%s", out);
	return out;
}

Test(providers, settings_come_from_flags_then_environment_then_the_config_file)
{
	char path[4300], *out, *err;

	snprintf(path, sizeof(path), "%s/ecl", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/ecl/config", dir);
	ts_write(path, "# ecl settings\n"
		       "provider = anthropic\n"
		       "model = top-model\n"
		       "[anthropic]\n"
		       "model = claude-test\n"
		       "api_key = sk-ant-config-key-0987654321\n"
		       "[openai]\n"
		       "base_url = http://example.invalid/v1\n");
	setenv("OPENAI_BASE_URL", "http://from-env/v1", 1);
	out = providers_json(&err, 0);
	cr_assert(strstr(out, "\"provider\": \"anthropic\""), "%s", out);
	cr_assert(strstr(out, "/ecl/config:2"), "the provider's source: %s", out);
	cr_assert(strstr(out, "\"value\": \"claude-test\""), "a section wins: %s", out);
	cr_assert(strstr(out, "\"value\": \"http://from-env/v1\""), "env beats the file: %s", out);
	cr_assert(strstr(out, "env OPENAI_BASE_URL"), "%s", out);
	cr_assert(strstr(out, "env OPENAI_API_KEY"), "%s", out);
	cr_assert_null(strstr(out, "config-key"), "keys are masked: %s", out);
	cr_assert(strstr(out, "****4321"), "%s", out);
	no_key(out, "ecl providers");
	free(out);
	free(err);
	unsetenv("OPENAI_BASE_URL");
	{
		/* a flag beats both */
		const char *argv[] = {ECL_BIN, "--model", "flag-model", "providers", NULL};

		cr_assert_eq(ts_run(argv, &out, &err), 0);
		cr_assert(strstr(out, "flag-model"), "%s", out);
		cr_assert(strstr(out, "flag --model"), "%s", out);
		free(out);
		free(err);
	}
	/* errors name the file and the line */
	ts_write(path, "provider = openai\n\nmodle = x\n");
	out = providers_json(&err, 2);
	cr_assert(strstr(err, "/ecl/config:3: unknown key `modle`"), "%s", err);
	free(out);
	free(err);
	ts_write(path, "[nowhere]\n");
	out = providers_json(&err, 2);
	cr_assert(strstr(err, "/ecl/config:1: unknown section [nowhere]"), "%s", err);
	free(out);
	free(err);
}

Test(providers, a_key_on_the_command_line_is_not_visible_in_ps)
{
	char url[256], cmdline[64], arg[64];
	pid_t pid;
	int i, seen = 0, status;

	snprintf(url, sizeof(url), "%s/v1", base);
	snprintf(arg, sizeof(arg), "%s", "sk-cmdline-secret-55667788");
	ts_fake_mode(base, "{\"mode\": \"latency\", \"ms\": 1500, \"count\": 1}");
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(ECL_BIN, ECL_BIN, "--db", db, "--provider", "openai", "--model", "m",
		      "--base-url", url, "--api-key", arg, "run", "bench-critique-revise", "--wf",
		      "ps", "--topic", "t", (char *)NULL);
		_exit(127);
	}
	snprintf(cmdline, sizeof(cmdline), "/proc/%d/cmdline", (int)pid);
	for (i = 0; i < 500 && !seen; i++) {
		struct timespec ts = {0, 10000000};

		/* once the run exists, the arguments have been read */
		if (ts_sql_int(db, "SELECT count(*) FROM runs") > 0) {
			FILE *f = fopen(cmdline, "rb");
			char buf[4096];
			size_t n, k;

			cr_assert_not_null(f);
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			for (k = 0; k < n; k++)
				if (!buf[k])
					buf[k] = ' ';
			buf[n] = '\0';
			cr_assert(strstr(buf, "--api-key"), "%s", buf);
			cr_assert_null(strstr(buf, "secret-5566"), "the key shows in ps: %s", buf);
			seen = 1;
		}
		nanosleep(&ts, NULL);
	}
	cr_assert(seen);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	{
		char *last = ts_fake_get(base, "/stats");

		cr_assert(strstr(last, "Bearer sk-c"), "the key was sent: %s", last);
		free(last);
	}
}

/* ---- request bodies ------------------------------------------------------------------------ */

/* The bytes of the body the provider sent in its last call, as the fake server recorded
 * them (not parsed again: what went on the wire). */
static char *last_body(void)
{
	char *raw = ts_fake_get(base, "/last/raw");

	cr_assert_not_null(raw);
	cr_assert(raw[0] == '{', "no body recorded: %s", raw);
	return raw;
}

/* The body as cJSON printed it before the bodies were written directly: the reference. */
static char *cjson_body(const char *api, const char *model, const llm_request *req)
{
	cJSON *b = cJSON_CreateObject(), *msgs = cJSON_AddArrayToObject(b, "messages"), *o;
	int i, sys = strcmp(api, "anthropic") != 0 && req->system;
	char *text;

	for (i = sys ? -1 : 0; i < req->nmessages; i++) {
		cJSON *m = cJSON_CreateObject();

		cJSON_AddItemToArray(msgs, m);
		cJSON_AddStringToObject(m, "role", i < 0 ? "system" : req->messages[i].role);
		cJSON_AddStringToObject(m, "content", i < 0 ? req->system : req->messages[i].text);
	}
	cJSON_AddStringToObject(b, "model", model);
	if (!strcmp(api, "openai")) {
		if (req->temperature >= 0)
			cJSON_AddNumberToObject(b, "temperature", req->temperature);
		if (req->max_tokens > 0)
			cJSON_AddNumberToObject(b, "max_tokens", req->max_tokens);
		o = cJSON_AddObjectToObject(b, "response_format");
		cJSON_AddStringToObject(o, "type", "json_object");
	} else if (!strcmp(api, "anthropic")) {
		cJSON_AddNumberToObject(b, "max_tokens",
					req->max_tokens > 0 ? req->max_tokens : 1024);
		if (req->system)
			cJSON_AddStringToObject(b, "system", req->system);
		if (req->temperature >= 0)
			cJSON_AddNumberToObject(b, "temperature", req->temperature);
	} else {
		cJSON_AddFalseToObject(b, "stream");
		cJSON_AddStringToObject(b, "format", "json");
		o = cJSON_AddObjectToObject(b, "options");
		if (req->temperature >= 0)
			cJSON_AddNumberToObject(o, "temperature", req->temperature);
		if (req->max_tokens > 0)
			cJSON_AddNumberToObject(o, "num_predict", req->max_tokens);
	}
	text = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return text;
}

Test(providers, request_bodies_are_the_json_cjson_would_print)
{
	char user[200], err[256];
	llm_message msgs[3];
	size_t i, k, v;

	/* every control character, quotes, backslashes, DEL and UTF-8 */
	for (k = 0; k < 31; k++)
		user[k] = (char)(k + 1);
	strcpy(user + 31, "\"q\" \\ / \x7f caf\xc3\xa9 TASK:none");
	msgs[0].role = "user";
	msgs[0].text = user;
	msgs[1].role = "assistant";
	msgs[1].text = "{\"a\": 1}\n";
	msgs[2].role = "user";
	for (i = 0; i < 3; i++)
		for (v = 0; v < 3; v++) {
			llm_config cfg = {0};
			llm_request req = {0};
			llm_response res = {0};
			llm_provider *p;
			char url[256], *got, *want;

			snprintf(url, sizeof(url), "%s%s", base,
				 strcmp(providers[i], "ollama") ? "/v1" : "");
			cfg.base_url = url;
			cfg.model = "fake-\"model\"";
			cfg.api_key = KEY;
			cr_assert_eq(llm_provider_new(providers[i], &cfg, &p, err, sizeof(err)),
				     ECL_OK, "%s", err);
			/* (Anthropic refuses an empty message and a temperature above 1, as the
			 * fake does: those go to the others only) */
			msgs[2].text = strcmp(providers[i], "anthropic") ? "" : "last";
			req.messages = msgs;
			req.nmessages = v == 2 ? 3 : 1;
			req.system = v == 0 ? NULL : "be \"brief\"\n\ttab";
			/* (temperatures cJSON prints exactly: for 0.1 + 0.2 it would send 0.3,
			 * where ecl sends the 17 digits that read back as it) */
			req.temperature = v == 0 ? -1 : v == 1 ? 0.7 : i == 1 ? 0.9 : 1.3;
			req.max_tokens = v == 0 ? 0 : v == 1 ? 100 : 4096;
			cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s: %s", providers[i],
				     res.error);
			free(res.text);
			got = last_body();
			want = cjson_body(providers[i], cfg.model, &req);
			cr_assert_str_eq(got, want, "%s, variant %zu", providers[i], v);
			free(got);
			free(want);
			p->destroy(p);
		}
}

/* ecl with --db and the arguments given, nothing else (NULL-terminated). */
static int ecl_args(char **out, char **err, const char *const *args)
{
	const char *argv[24] = {ECL_BIN, "--db", db};
	int n = 3, i;

	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return ts_run(argv, out, err);
}

/* A run remembers its provider, model and base URL (never the key): resume and recover
 * without flags go on with them, not with the offline stand-in; flags that differ win and
 * are named. */
Test(providers, a_run_goes_on_with_the_provider_it_was_started_with)
{
	char url[256], *out, *err, *id, *row, *last;
	const char *resume[] = {"resume", NULL, NULL};
	const char *recover[] = {"recover", NULL};

	snprintf(url, sizeof(url), "%s/v1", base);
	/* the retries run out: the run is interrupted at its first step */
	ts_fake_mode(base, "{\"mode\": \"500\", \"count\": 3}");
	cr_assert_eq(run_with("openai", NULL, &out, &err), 1, "%s%s", out, err);
	free(out);
	free(err);
	id = ts_sql_text(db, "SELECT id FROM runs");
	row = ts_sql_text(db, "SELECT provider || ' ' || model || ' ' || base_url FROM runs");
	{
		char want[400];

		snprintf(want, sizeof(want), "openai fake-model %s", url);
		cr_assert_str_eq(row, want);
	}
	free(row);
	db_has_no_key();
	resume[1] = id;
	cr_assert_eq(ecl_args(&out, &err, resume), 0, "%s%s", out, err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	cr_assert_null(strstr(out, "offline provider"), "%s", out);
	cr_assert_null(strstr(err, "as the flags say"), "%s", err);
	last = ts_fake_get(base, "/last");
	cr_assert(strstr(last, "fake-model"), "the stored model was asked: %s", last);
	free(last);
	free(out);
	free(err);
	free(id);

	/* flags that differ from the stored ones win, and say so in one line */
	ts_fake_mode(base, "{\"mode\": \"500\", \"count\": 3}");
	cr_assert_eq(run_with("openai", NULL, &out, &err), 1, "%s%s", out, err);
	free(out);
	free(err);
	id = ts_sql_text(db, "SELECT id FROM runs WHERE status = 'interrupted'");
	{
		const char *args[] = {"--provider", "offline", "resume", id, NULL};
		char want[600];

		cr_assert_eq(ecl_args(&out, &err, args), 0, "%s%s", out, err);
		snprintf(want, sizeof(want),
			 "ecl: run %s was started with openai, model fake-model, base URL %s; it "
			 "goes on with offline, as the flags say\n",
			 id, url);
		cr_assert(strstr(err, want), "%s", err);
		cr_assert(strstr(out, "offline provider"), "%s", out);
		free(out);
		free(err);
	}
	free(id);

	/* recover too */
	ts_fake_mode(base, "{\"mode\": \"500\", \"count\": 3}");
	cr_assert_eq(run_with("openai", NULL, &out, &err), 1, "%s%s", out, err);
	free(out);
	free(err);
	cr_assert_eq(ecl_args(&out, &err, recover), 0, "%s%s", out, err);
	cr_assert(strstr(out, "Recovered 1,"), "%s", out);
	cr_assert_null(strstr(out, "offline provider"), "%s", out);
	free(out);
	free(err);
	db_has_no_key();
}

/* The Dumpable flag of /proc/PID/status of an ecl run while its first call is in flight
 * (the fake answers after 3 s), with extra arguments before the command; the run is killed
 * then. */
static int fake_total(void)
{
	char *stats = ts_fake_get(base, "/stats"), *t = strstr(stats, "\"total\":");
	int n;

	cr_assert_not_null(t, "%s", stats);
	n = atoi(t + 8);
	free(stats);
	return n;
}

#ifndef WCOREDUMP /* not in POSIX: the bit Linux sets in a wait status when a core was dumped */
#define WCOREDUMP(status) ((status)&0x80)
#endif

/* Whether an ecl run dumps core when it is killed by SIGABRT while its first call is in
 * flight (the fake answers after 3 s), with a flag and its value before the command; the
 * core file, if any, is written in the test's directory. */
static int dumps_core_while_calling(const char *flag, const char *value)
{
	char url[256];
	pid_t pid;
	int i, before, status;

	snprintf(url, sizeof(url), "%s/v1", base);
	ts_fake_mode(base, "{\"mode\": \"latency\", \"ms\": 3000, \"count\": 1}");
	before = fake_total();
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit rl = {256 << 20, 256 << 20};
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		if (chdir(dir) != 0 || setrlimit(RLIMIT_CORE, &rl) != 0)
			_exit(126);
		/* AddressSanitizer turns core files off unless told; its shadow memory is left out
		 * of the core (use_madv_dontdump) */
		setenv("ASAN_OPTIONS", "disable_coredump=0:detect_leaks=0", 1);
		execl(ECL_BIN, ECL_BIN, "--db", db, "--provider", "openai", "--model", "fake-model",
		      "--base-url", url, flag ? flag : "-v", value ? value : "-v", "run",
		      "bench-critique-revise", "--wf", "dumpable", "--topic", "t", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && fake_total() == before; i++) /* until the call is in flight */
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	cr_assert_lt(i, 500, "the call never came");
	kill(pid, SIGABRT);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %d", status);
	return WCOREDUMP(status) != 0;
}

/* A process that holds an API key is not dumpable: no core file holds the key. */
Test(providers, a_process_holding_a_key_is_not_dumpable)
{
	/* without a key the process dumps core, on a machine that writes core files at all */
	unsetenv("OPENAI_API_KEY");
	cr_assert(
		dumps_core_while_calling(NULL, NULL),
		"ecl without a key wrote no core file: this check needs a machine that writes them "
		"(core_pattern, RLIMIT_CORE)");
	/* the key from the environment, from --api-key and from --api-key-file */
	setenv("OPENAI_API_KEY", KEY, 1);
	cr_assert_not(dumps_core_while_calling(NULL, NULL), "a key from the environment");
	unsetenv("OPENAI_API_KEY");
	cr_assert_not(dumps_core_while_calling("--api-key", KEY), "a key from --api-key");
	cr_assert_not(dumps_core_while_calling("--api-key-file", keyfile),
		      "a key from --api-key-file");
}

/* A --timeout given on the command line wins over the workflow's own `timeout` (triage says
 * 5s): a hanging call is abandoned after 0.5 s, not 5 s. */
Test(providers, a_timeout_flag_wins_over_the_workflows)
{
	char url[256], *out, *err;
	const char *argv[] = {ECL_BIN,      "--db",       db,  "--provider", "openai", "--model",
			      "fake-model", "--base-url", url, "--timeout",  "0.5",    "run",
			      "triage",     "--request",  "r", NULL};
	long long t0;

	snprintf(url, sizeof(url), "%s/v1", base);
	ts_fake_mode(base, "{\"mode\": \"hang\", \"count\": 1}");
	t0 = now_ms();
	ts_run(argv, &out, &err);
	cr_assert(strstr(err, "Timeout was reached") || strstr(err, "timed out"), "%s", err);
	cr_assert_lt(now_ms() - t0, 4000, "the call gave up after 0.5 s, not 5 s: %s", err);
	free(out);
	free(err);
}

/* The fake refuses what the real APIs refuse, with their status and message, and the
 * providers report it: an Anthropic call without its key, temperatures out of each API's
 * range. (Every request the other tests make passed these checks.) */
Test(providers, the_fake_refuses_what_the_real_apis_refuse)
{
	static const struct {
		const char *provider;
		int with_key;
		double temperature;
		const char *error;
	} cases[] = {
		{"anthropic", 0, -1, "HTTP 401: x-api-key header is required"},
		{"anthropic", 1, 1.5,
		 "HTTP 400: temperature: Input should be less than or equal to 1"},
		{"openai", 1, 2.5,
		 "HTTP 400: Invalid 'temperature': expected a number between 0 and 2, got 2.5"},
	};
	llm_message msg = {"user", "TASK:none"};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		llm_config cfg = {0};
		llm_request req = {0};
		llm_response res = {0};
		llm_provider *p;
		char url[256], err[256];

		snprintf(url, sizeof(url), "%s/v1", base);
		cfg.base_url = url;
		cfg.model = "m";
		cfg.api_key = cases[i].with_key ? KEY : NULL;
		cr_assert_eq(llm_provider_new(cases[i].provider, &cfg, &p, err, sizeof(err)),
			     ECL_OK, "%s", err);
		req.messages = &msg;
		req.nmessages = 1;
		req.temperature = cases[i].temperature;
		cr_assert_neq(p->complete(p, &req, &res), ECL_OK, "case %zu", i);
		cr_assert(strstr(res.error, cases[i].error), "case %zu: %s", i, res.error);
		free(res.text);
		p->destroy(p);
	}
	{
		char *stats = ts_fake_get(base, "/stats");

		cr_assert(strstr(stats, "\"refused\":3"), "%s", stats);
		free(stats);
	}
}
