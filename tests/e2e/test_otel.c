/*
 * test_otel.c - traces end to end: the ecl command run with a collector's trace endpoint
 * (tests/tools/otlp_receiver.py, both OTLP/HTTP encodings) and the exact span tree and
 * attributes it receives for a run with two revisions, a failed run, a run killed and resumed,
 * a human step, a fork and a batch; and a collector that is down, hangs or answers 500, which
 * changes nothing in the runs and is said once.
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
#include "fake_server.h"
#include "support.h"

#define GEN    "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1\", \"word_count\": 2}"
#define REV2   "{\"content\": \"Draft v2\", \"word_count\": 2}"
#define TWO_REVISIONS                                                                              \
	"{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE ", " PASS                   \
	"], \"revise\": [" REV1 ", " REV2 "]}"

static char *dir;
static char db[4096], spans_path[4200], base[128];
static pid_t receiver, child;

static void env_clear(void)
{
	static const char *const vars[] = {"OTEL_SDK_DISABLED",
					   "OTEL_EXPORTER_OTLP_ENDPOINT",
					   "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
					   "OTEL_EXPORTER_OTLP_HEADERS",
					   "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
					   "OTEL_EXPORTER_OTLP_PROTOCOL",
					   "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
					   "OTEL_EXPORTER_OTLP_TIMEOUT",
					   "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
					   "OTEL_SERVICE_NAME",
					   "OTEL_RESOURCE_ATTRIBUTES",
					   "OTEL_BSP_SCHEDULE_DELAY",
					   "OTEL_BSP_MAX_QUEUE_SIZE",
					   "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(spans_path, sizeof(spans_path), "%s/spans.jsonl", dir);
	receiver = 0;
	env_clear();
	setenv("XDG_CONFIG_HOME", dir, 1);
}

static void stop_receiver(void)
{
	if (receiver > 0) {
		kill(receiver, SIGKILL);
		waitpid(receiver, NULL, 0);
		receiver = 0;
	}
}

static void teardown(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	stop_receiver();
	env_clear();
	ts_rmtree(dir);
	free(dir);
}

TestSuite(otel, .init = setup, .fini = teardown, .timeout = 120);

/* Start the receiver in a mode (ok, 500, hang); base gets its URL. */
static void start_receiver(const char *mode)
{
	char portfile[4200];

	snprintf(portfile, sizeof(portfile), "%s/otlp_port", dir);
	unlink(portfile);
	receiver = fork();
	cr_assert_neq(receiver, -1);
	if (receiver == 0) {
		execlp("python3", "python3", ECL_SOURCE_DIR "/tests/tools/otlp_receiver.py",
		       "--port-file", portfile, "--out", spans_path, "--mode", mode, (char *)NULL);
		_exit(127);
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", ts_wait_port(portfile, "the receiver"));
}

#define ECL(out, err, ...) ts_ecl(db, out, err, (const char *[]){__VA_ARGS__, NULL})

/* ---- the spans received ------------------------------------------------------------------- */

/* Every span the receiver wrote, as a JSON array (caller frees). */
static cJSON *spans(void)
{
	cJSON *all = cJSON_CreateArray();
	char *text = ts_read(spans_path), *line, *save = NULL;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *s = cJSON_Parse(line);

		cr_assert_not_null(s, "a line the receiver wrote: %s", line);
		cr_assert_null(cJSON_GetObjectItem(s, "error"), "the receiver refused: %s", line);
		cJSON_AddItemToArray(all, s);
	}
	free(text);
	return all;
}

/* Wait until the receiver has at least n spans (the command ended: they were sent). */
static cJSON *spans_at_least(int n)
{
	int i;

	for (i = 0; i < 500; i++) {
		cJSON *all = spans();
		struct timespec ts = {0, 10000000};

		if (cJSON_GetArraySize(all) >= n)
			return all;
		cJSON_Delete(all);
		nanosleep(&ts, NULL);
	}
	return spans();
}

static const char *str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *attr(const cJSON *span, const char *key)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(span, "attributes"), key);
}

static const char *attr_str(const cJSON *span, const char *key)
{
	const cJSON *v = attr(span, key);

	cr_assert(cJSON_IsString(v), "%s of span %s is no string", key, str(span, "name"));
	return v->valuestring;
}

static long long attr_int(const cJSON *span, const char *key)
{
	const cJSON *v = attr(span, key);

	cr_assert(cJSON_IsNumber(v), "%s of span %s is no number", key, str(span, "name"));
	return (long long)v->valuedouble;
}

static int kind(const cJSON *span)
{
	return cJSON_GetObjectItem(span, "kind")->valueint;
}

static int status_code(const cJSON *span)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(span, "status"), "code")->valueint;
}

/* The spans named name (prefix match when it ends with '*'), in the order received; at most
 * max of them in out. Returns how many. */
static int named(const cJSON *all, const char *name, const cJSON **out, int max)
{
	const cJSON *s;
	size_t n = strlen(name);
	int k = 0;

	cJSON_ArrayForEach (s, all) {
		const char *nm = str(s, "name");
		int match = name[n - 1] == '*' ? strncmp(nm, name, n - 1) == 0 : !strcmp(nm, name);

		if (match && k < max)
			out[k] = s;
		k += match;
	}
	return k;
}

/* The children of span, in the order received. */
static int children(const cJSON *all, const cJSON *parent, const cJSON **out, int max)
{
	const cJSON *s;
	int k = 0;

	cJSON_ArrayForEach (s, all)
		if (!strcmp(str(s, "parent_span_id"), str(parent, "span_id"))) {
			if (k < max)
				out[k] = s;
			k++;
		}
	return k;
}

/* Steps' spans ordered by their checkpoint number (the receiver gets them as they end). */
static int by_seq(const void *a, const void *b)
{
	return (int)(attr_int(*(const cJSON *const *)a, "ecl.step.seq") -
		     attr_int(*(const cJSON *const *)b, "ecl.step.seq"));
}

/* The stored traceparent of run id. */
static char *stored_trace(const char *id)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT trace FROM runs WHERE id = '%s'", id);
	return ts_sql_text(db, sql);
}

/* The event named name of span, or NULL. */
static const cJSON *event(const cJSON *span, const char *name, int nth)
{
	const cJSON *e;

	cJSON_ArrayForEach (e, cJSON_GetObjectItem(span, "events"))
		if (!strcmp(str(e, "name"), name) && nth-- == 0)
			return e;
	return NULL;
}

static int nevents(const cJSON *span)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(span, "events"));
}

/* ---- the span tree of a run ----------------------------------------------------------------- */

/* A critique-revise run with two revisions: the run's span, the root of the trace stored with
 * the run, six step spans under it in order, one chat span under each; the resource, the
 * headers, the protobuf encoding; and the log lines' trace and span ids. */
Test(otel, two_revisions_exact_tree)
{
	const cJSON *run[2], *steps[8], *chat[2], *s;
	static const char *const names[] = {"generate", "critique", "revise",
					    "critique", "revise",   "critique"};
	static const char *const next[] = {"critique", "revise",   "critique",
					   "revise",   "critique", "completed"};
	static const int visits[] = {1, 1, 1, 2, 2, 3};
	char *out, *err, *id, *tp, want[64], *line, *save = NULL;
	cJSON *all;
	int i, nlogs = 0;

	start_receiver("ok");
	setenv("OTEL_SERVICE_NAME", "svc", 1);
	setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test, team=a%20b,bad", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-token=abc%3D,x-other = 2", 1);
	cr_assert_eq(ECL(&out, &err, "--otlp", base, "-v", "--log-format", "json", "--provider",
			 "scripted", "--script", ts_script(dir, TWO_REVISIONS), "run",
			 "critique-revise", "--topic", "tea"),
		     0, "%s%s", out, err);
	id = strdup(ts_started_id(out));
	all = spans_at_least(13);
	cr_assert_eq(cJSON_GetArraySize(all), 13, "one run, six steps, six calls");

	cr_assert_eq(named(all, "invoke_workflow critique-revise", run, 2), 1);
	cr_assert_str_empty(str(run[0], "parent_span_id"), "the run's span is the root");
	cr_assert_eq(kind(run[0]), 1, "INTERNAL");
	tp = stored_trace(id);
	cr_assert_not_null(tp);
	snprintf(want, sizeof(want), "00-%s-%s-01", str(run[0], "trace_id"),
		 str(run[0], "span_id"));
	cr_assert_str_eq(tp, want, "the trace context stored with the run is the run's span");
	cr_assert_str_eq(attr_str(run[0], "gen_ai.operation.name"), "invoke_workflow");
	cr_assert_str_eq(attr_str(run[0], "gen_ai.workflow.name"), "critique-revise");
	cr_assert_str_eq(attr_str(run[0], "ecl.run.id"), id);
	cr_assert_str_eq(attr_str(run[0], "ecl.workflow.version"),
			 ts_workflow("critique-revise")->version);
	cr_assert_str_eq(attr_str(run[0], "ecl.run.status"), "completed");
	cr_assert_eq(attr_int(run[0], "ecl.run.steps"), 6);
	cr_assert_eq(attr_int(run[0], "ecl.run.revisions"), 2);
	cr_assert(cJSON_IsFalse(attr(run[0], "ecl.run.resumed")));
	cr_assert_eq(status_code(run[0]), 0);
	cr_assert_str_eq(str(run[0], "encoding"), "protobuf");
	s = cJSON_GetObjectItem(run[0], "resource");
	cr_assert_str_eq(str(s, "service.name"), "svc");
	cr_assert_str_eq(str(s, "deployment.environment"), "test");
	cr_assert_str_eq(str(s, "team"), "a b");
	cr_assert_null(cJSON_GetObjectItem(s, "bad"));
	s = cJSON_GetObjectItem(run[0], "headers");
	cr_assert_str_eq(str(s, "x-api-token"), "abc=");
	cr_assert_str_eq(str(s, "x-other"), "2");
	cr_assert_str_eq(str(s, "content-type"), "application/x-protobuf");

	cr_assert_eq(children(all, run[0], steps, 8), 6);
	qsort(steps, 6, sizeof(steps[0]), by_seq);
	for (i = 0; i < 6; i++) {
		char name[64];

		snprintf(name, sizeof(name), "step %s", names[i]);
		cr_assert_str_eq(str(steps[i], "name"), name);
		cr_assert_str_eq(str(steps[i], "trace_id"), str(run[0], "trace_id"));
		cr_assert_eq(kind(steps[i]), 1);
		cr_assert_str_eq(attr_str(steps[i], "ecl.step.name"), names[i]);
		cr_assert_str_eq(attr_str(steps[i], "ecl.step.kind"), "llm");
		cr_assert_eq(attr_int(steps[i], "ecl.step.attempt"), 1);
		cr_assert_eq(attr_int(steps[i], "ecl.step.seq"), i + 1);
		cr_assert_eq(attr_int(steps[i], "ecl.step.visit"), visits[i], "%s", names[i]);
		cr_assert_str_eq(attr_str(steps[i], "ecl.step.transition"), next[i]);
		cr_assert_eq(status_code(steps[i]), 0);
		cr_assert_eq(children(all, steps[i], chat, 2), 1, "one call for %s", names[i]);
		cr_assert_str_eq(str(chat[0], "name"), "chat scripted");
		cr_assert_eq(kind(chat[0]), 3, "CLIENT");
		cr_assert_str_eq(attr_str(chat[0], "gen_ai.operation.name"), "chat");
		cr_assert_str_eq(attr_str(chat[0], "gen_ai.provider.name"), "scripted");
		cr_assert_eq(attr_int(chat[0], "gen_ai.usage.input_tokens"), 0);
		cr_assert_null(attr(chat[0], "gen_ai.input.messages"), "no content unasked");
		cr_assert_eq(nevents(chat[0]), 0);
		cr_assert_leq(cJSON_GetObjectItem(steps[i], "start")->valuedouble,
			      cJSON_GetObjectItem(chat[0], "start")->valuedouble);
		cr_assert_geq(cJSON_GetObjectItem(steps[i], "end")->valuedouble,
			      cJSON_GetObjectItem(chat[0], "end")->valuedouble);
	}
	/* the transition log lines carry the trace and the step's span */
	for (line = strtok_r(err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *l = cJSON_Parse(line);

		cr_assert_not_null(l, "a JSON log line: %s", line);
		if (!strcmp(str(l, "msg"), "transition")) {
			int seq = atoi(str(l, "seq"));

			cr_assert_str_eq(str(l, "trace_id"), str(run[0], "trace_id"), "%s", line);
			cr_assert_str_eq(str(l, "span_id"), str(steps[seq - 1], "span_id"), "%s",
					 line);
			nlogs++;
		}
		cJSON_Delete(l);
	}
	cr_assert_eq(nlogs, 6, "%s", err);
	cJSON_Delete(all);
	free(tp);
	free(id);
	free(out);
	free(err);
}

/* A run that fails: an answer refused after its repair, and a transient error retried on the
 * way. The chat span has the retry and the repair as events and the failure; the step's span
 * and the run's are errors with error.type and an exception event. */
Test(otel, failed_run)
{
	const cJSON *run[2], *steps[2], *chat[2], *e;
	char *out, *err;
	cJSON *all;

	start_receiver("ok");
	cr_assert_eq(ECL(&out, &err, "--otlp", base, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [[{\"$error\": \"transient\", \"message\": "
					"\"boom\"}, \"not json\", \"still not json\"]]}"),
			 "run", "critique-revise", "--topic", "tea"),
		     1, "%s%s", out, err);
	all = spans_at_least(3);
	cr_assert_eq(cJSON_GetArraySize(all), 3);
	cr_assert_eq(named(all, "invoke_workflow critique-revise", run, 2), 1);
	cr_assert_str_eq(attr_str(run[0], "ecl.run.status"), "failed");
	cr_assert_eq(attr_int(run[0], "ecl.run.steps"), 1, "the failure is a checkpoint");
	cr_assert_eq(status_code(run[0]), 2, "ERROR");
	cr_assert_str_eq(attr_str(run[0], "error.type"), "invalid_answer");
	e = event(run[0], "exception", 0);
	cr_assert_not_null(e);
	cr_assert_str_eq(str(cJSON_GetObjectItem(e, "attributes"), "exception.type"),
			 "invalid_answer");
	cr_assert(strstr(str(cJSON_GetObjectItem(run[0], "status"), "message"), "generate"));

	cr_assert_eq(children(all, run[0], steps, 2), 1);
	cr_assert_str_eq(str(steps[0], "name"), "step generate");
	cr_assert_str_eq(attr_str(steps[0], "ecl.step.transition"), "failed");
	cr_assert_eq(status_code(steps[0]), 2);
	cr_assert_str_eq(attr_str(steps[0], "error.type"), "invalid_answer");
	cr_assert_not_null(event(steps[0], "exception", 0));

	cr_assert_eq(children(all, steps[0], chat, 2), 1);
	cr_assert_eq(status_code(chat[0]), 2);
	cr_assert_str_eq(attr_str(chat[0], "error.type"), "invalid_answer");
	cr_assert_eq(nevents(chat[0]), 3, "a retry, a repair, the exception");
	e = event(chat[0], "ecl.retry", 0);
	cr_assert_not_null(e);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "attributes"), "ecl.call.number")
			     ->valueint,
		     1);
	cr_assert(strstr(str(cJSON_GetObjectItem(e, "attributes"), "error.message"), "boom"));
	e = event(chat[0], "ecl.repair", 0);
	cr_assert_not_null(e);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "attributes"), "ecl.call.number")
			     ->valueint,
		     2);
	cr_assert_not_null(event(chat[0], "exception", 0));
	cJSON_Delete(all);
	free(out);
	free(err);
}

/* http/json to the traces endpoint, an HTTP provider (the fake LLM), --trace-content: the
 * chat span's request and response attributes, and the traceparent header the provider got
 * is the chat span's. */
Test(otel, json_and_http_provider)
{
	const cJSON *chat[8], *s, *parent[1];
	char url[300], fake[128], *out, *err, *last, want[80];
	pid_t llm = ts_fake_start(dir, 0, "ok", fake, sizeof(fake));
	cJSON *all, *req;
	int n, port;

	start_receiver("ok");
	snprintf(url, sizeof(url), "%s/v1/traces", base);
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, 1);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", 1); /* the other wins */
	setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
	setenv("OPENAI_API_KEY", "sk-test-key", 1);
	snprintf(url, sizeof(url), "%s/ecl", dir);
	mkdir(url, 0700);
	snprintf(url, sizeof(url), "%s/ecl/config", dir);
	ts_write(url, "[prices]\nopenai/fake-model = 1.5 4\n");
	snprintf(url, sizeof(url), "%s/v1", fake);
	n = ECL(&out, &err, "--provider", "openai", "--base-url", url, "--model", "fake-model",
		"--trace-content", "run", "bench-critique-revise", "--wf", "w1", "--topic", "t");
	last = ts_fake_get(fake, "/last");
	ts_fake_stop(llm);
	unsetenv("OPENAI_API_KEY");
	cr_assert_eq(n, 0, "%s%s", out, err);
	all = spans_at_least(3);
	n = named(all, "chat fake-model", chat, 8);
	cr_assert_geq(n, 2);
	s = chat[n - 1];
	cr_assert_str_eq(str(s, "encoding"), "json");
	cr_assert_str_eq(attr_str(s, "gen_ai.provider.name"), "openai");
	cr_assert_str_eq(attr_str(s, "gen_ai.request.model"), "fake-model");
	cr_assert_str_eq(attr_str(s, "server.address"), "127.0.0.1");
	sscanf(strrchr(fake, ':') + 1, "%d", &port);
	cr_assert_eq(attr_int(s, "server.port"), port);
	cr_assert_gt(attr_int(s, "gen_ai.usage.input_tokens"), 0);
	cr_assert_gt(attr_int(s, "gen_ai.usage.output_tokens"), 0);
	cr_assert(cJSON_IsString(attr(s, "gen_ai.response.model")));
	cr_assert(cJSON_IsString(attr(s, "gen_ai.response.id")));
	cr_assert(cJSON_IsArray(attr(s, "gen_ai.response.finish_reasons")));
	cr_assert(strstr(attr_str(s, "gen_ai.input.messages"), "\"role\":\"user\""));
	cr_assert(strstr(attr_str(s, "gen_ai.output.messages"), "\"role\":\"assistant\""));
	cr_assert_str_eq(str(cJSON_GetObjectItem(s, "headers"), "content-type"),
			 "application/json");
	/* the last call's traceparent is the last chat span's */
	req = cJSON_Parse(last);
	cr_assert_not_null(req, "%s", last);
	snprintf(want, sizeof(want), "00-%s-%s-01", str(s, "trace_id"), str(s, "span_id"));
	cr_assert_str_eq(str(cJSON_GetObjectItem(req, "headers"), "traceparent"), want, "%s", last);
	cr_assert_eq(named(all, "step *", (const cJSON **)parent, 1), n);
	/* each call's cost by the price table, and the run's their sum */
	{
		const cJSON *run[1];
		double sum = 0;
		int i;

		for (i = 0; i < n && i < 8; i++) {
			double want_cost = (attr_int(chat[i], "gen_ai.usage.input_tokens") * 1.5 +
					    attr_int(chat[i], "gen_ai.usage.output_tokens") * 4.0) /
					   1e6;

			cr_assert_float_eq(attr(chat[i], "ecl.cost")->valuedouble, want_cost,
					   1e-12);
			sum += want_cost;
		}
		cr_assert_eq(named(all, "invoke_workflow *", run, 1), 1);
		cr_assert_float_eq(attr(run[0], "ecl.run.cost")->valuedouble, sum, 1e-12);
	}
	cJSON_Delete(req);
	cJSON_Delete(all);
	free(last);
	free(out);
	free(err);
}

/* A run killed (SIGKILL) in its second step and resumed: one trace; generate's spans once
 * (the resumed run does not trace the checkpointed step again); the resumed drive's span a
 * child of the run's stored span; critique's attempt 2 traced in it. */
Test(otel, killed_and_resumed)
{
	char log[4200], spath[4200], sbuf[8192], *out, *id, *tp;
	const char *argv[20];
	const cJSON *x[8], *runs[4];
	cJSON *all;
	pid_t pid;
	int status, i, n;

	start_receiver("ok");
	setenv("OTEL_BSP_SCHEDULE_DELAY", "10", 1);
	snprintf(log, sizeof(log), "%s/calls.log", dir);
	snprintf(spath, sizeof(spath), "%s",
		 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 60000, "
				"\"$answer\": " REVISE "}, " PASS "], \"revise\": [" REV1 "]}"));
	argv[0] = ECL_BIN;
	argv[1] = "--db";
	argv[2] = db;
	argv[3] = "--otlp";
	argv[4] = base;
	argv[5] = "--provider";
	argv[6] = "scripted";
	argv[7] = "--script";
	argv[8] = spath;
	argv[9] = "--call-log";
	argv[10] = log;
	argv[11] = "run";
	argv[12] = "critique-revise";
	argv[13] = "--topic";
	argv[14] = "tea";
	argv[15] = NULL;
	child = pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execv(ECL_BIN, (char *const *)argv);
		_exit(127);
	}
	/* generate's spans sent, critique asked */
	all = NULL;
	for (i = 0; i < 1000; i++) {
		struct timespec ts = {0, 10000000};

		cJSON_Delete(all);
		all = spans();
		if (named(all, "step generate", x, 8) == 1 &&
		    ts_count_lines(log, " critique ") == 1)
			break;
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(named(all, "step generate", x, 8), 1, "generate's span was not sent");
	cJSON_Delete(all);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	child = 0;

	ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
		       "], \"revise\": [" REV1 "]}");
	id = ts_sql_text(db, "SELECT id FROM runs");
	cr_assert_eq(ECL(&out, NULL, "--otlp", base, "--provider", "scripted", "--script", spath,
			 "resume", id),
		     0, "%s", out);
	/* generate 2, critique 2 + revise 2 + critique 2, the resumed drive's span */
	all = spans_at_least(9);
	cr_assert_eq(cJSON_GetArraySize(all), 9);
	cr_assert_eq(named(all, "step generate", x, 8), 1, "generate traced once");
	cr_assert_eq(named(all, "chat scripted", x, 8), 4, "no LLM span twice");
	cr_assert_eq(named(all, "invoke_workflow critique-revise", runs, 4), 1,
		     "the killed drive's span died with it");
	tp = stored_trace(id);
	snprintf(sbuf, sizeof(sbuf), "%.32s", tp + 3);
	for (n = 0; n < cJSON_GetArraySize(all); n++)
		cr_assert_str_eq(str(cJSON_GetArrayItem(all, n), "trace_id"), sbuf, "one trace");
	snprintf(sbuf, sizeof(sbuf), "%.16s", tp + 36);
	cr_assert_str_eq(str(runs[0], "parent_span_id"), sbuf,
			 "the resumed drive is a child of the run's span");
	cr_assert(cJSON_IsTrue(attr(runs[0], "ecl.run.resumed")));
	cr_assert_str_eq(attr_str(runs[0], "ecl.run.status"), "completed");
	cr_assert_eq(attr_int(runs[0], "ecl.run.steps"), 4);
	n = named(all, "step critique", x, 8);
	cr_assert_eq(n, 2);
	qsort(x, 2, sizeof(x[0]), by_seq);
	cr_assert_eq(attr_int(x[0], "ecl.step.attempt"), 2, "the cut-off attempt is the 2nd");
	cr_assert_str_eq(str(x[0], "parent_span_id"), str(runs[0], "span_id"));
	named(all, "step generate", x, 8);
	cr_assert_str_eq(str(x[0], "parent_span_id"), sbuf, "generate under the run's span");
	cJSON_Delete(all);
	free(tp);
	free(id);
	free(out);
}

/* A human step: the drive that stops at it makes no span for it; the one that goes on with
 * the answer makes it, from when the run began to wait to the answer's transition. */
Test(otel, human_step_covers_the_wait)
{
	const cJSON *x[8];
	char *out, *id;
	cJSON *all;
	double waited_from;

	start_receiver("ok");
	cr_assert_eq(ECL(&out, NULL, "--otlp", base, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"draft\": [{\"summary\": \"a b c\"}]}"), "run",
			 "summarize", "--document", "one two three four five six"),
		     0, "%s", out);
	id = strdup(ts_started_id(out));
	free(out);
	all = spans_at_least(6);
	cr_assert_eq(named(all, "step approve", x, 8), 0, "no span for the wait yet");
	cr_assert_eq(named(all, "step check", x, 8), 1);
	cr_assert_str_eq(attr_str(x[0], "ecl.step.kind"), "code");
	cr_assert_eq(named(all, "invoke_workflow summarize", x, 8), 1);
	cr_assert_str_eq(attr_str(x[0], "ecl.run.status"), "waiting");
	cr_assert_eq(status_code(x[0]), 0, "a wait is no error");
	waited_from = cJSON_GetObjectItem(x[0], "end")->valuedouble;
	cJSON_Delete(all);
	sleep(1);
	cr_assert_eq(ECL(&out, NULL, "--otlp", base, "answer", id, "--set", "approved=true"), 0,
		     "%s", out);
	all = spans_at_least(8);
	cr_assert_eq(named(all, "step approve", x, 8), 1);
	cr_assert_str_eq(attr_str(x[0], "ecl.step.kind"), "human");
	cr_assert_leq(cJSON_GetObjectItem(x[0], "start")->valuedouble, waited_from);
	cr_assert_geq(cJSON_GetObjectItem(x[0], "end")->valuedouble - waited_from, 1e9,
		      "the span covers the wait");
	cr_assert_eq(named(all, "invoke_workflow summarize", x, 8), 2);
	cJSON_Delete(all);
	free(id);
	free(out);
}

/* A fork has a trace of its own, and its first drive's span links to the origin's. */
Test(otel, fork_links_to_its_origin)
{
	const cJSON *x[8], *link;
	char *out, *id, *fid, *tp, *ftp;
	cJSON *all;

	start_receiver("ok");
	cr_assert_eq(ECL(&out, NULL, "--otlp", base, "run", "critique-revise", "--topic", "t"), 0);
	id = strdup(ts_started_id(out));
	free(out);
	/* fork drives the new run at once */
	cr_assert_eq(ECL(&out, NULL, "--otlp", base, "fork", id, "--from", "1"), 0, "%s", out);
	free(out);
	fid = ts_sql_text(db, "SELECT id FROM runs WHERE parent IS NOT NULL");
	all = spans_at_least(9 + 7);
	cr_assert_eq(cJSON_GetArraySize(all), 9 + 7, "the fork goes on from checkpoint 1");
	cr_assert_eq(named(all, "invoke_workflow critique-revise", x, 8), 2);
	tp = stored_trace(id);
	ftp = stored_trace(fid);
	cr_assert_neq(strncmp(tp, ftp, 35), 0, "a trace of its own");
	cr_assert_str_eq(attr_str(x[1], "ecl.run.id"), fid);
	cr_assert_str_empty(str(x[1], "parent_span_id"), "the fork's first drive is its root");
	link = cJSON_GetArrayItem(cJSON_GetObjectItem(x[1], "links"), 0);
	cr_assert_not_null(link);
	cr_assert_eq(strncmp(str(link, "trace_id"), tp + 3, 32), 0);
	cr_assert_eq(strncmp(str(link, "span_id"), tp + 36, 16), 0);
	cJSON_Delete(all);
	free(tp);
	free(ftp);
	free(fid);
	free(id);
}

/* A batch: one trace per run, the one stored with it, each with its own tree. */
Test(otel, batch)
{
	char path[4200], *out, *err, sql[200];
	const cJSON *runs[8], *x[16];
	cJSON *all;
	int i;

	start_receiver("ok");
	snprintf(path, sizeof(path), "%s/in.jsonl", dir);
	ts_write(path, "{\"topic\": \"a\"}\n{\"topic\": \"b\"}\n{\"topic\": \"c\"}\n");
	cr_assert_eq(ECL(&out, &err, "--otlp", base, "batch", path, "--workflow", "critique-revise",
			 "-j", "2"),
		     0, "%s%s", out, err);
	all = spans_at_least(27);
	cr_assert_eq(cJSON_GetArraySize(all), 27, "three runs of four steps");
	cr_assert_eq(named(all, "invoke_workflow critique-revise", runs, 8), 3);
	for (i = 0; i < 3; i++) {
		char *tp;
		int k, n;

		snprintf(sql, sizeof(sql), "SELECT trace FROM runs WHERE id = '%s'",
			 attr_str(runs[i], "ecl.run.id"));
		tp = ts_sql_text(db, sql);
		cr_assert_eq(strncmp(tp + 3, str(runs[i], "trace_id"), 32), 0);
		cr_assert_eq(strncmp(tp + 36, str(runs[i], "span_id"), 16), 0);
		cr_assert_str_empty(str(runs[i], "parent_span_id"));
		cr_assert_eq(children(all, runs[i], x, 16), 4);
		for (k = 0; k < 4; k++) {
			const cJSON *c[2];

			cr_assert_str_eq(str(x[k], "trace_id"), str(runs[i], "trace_id"));
			cr_assert_eq(children(all, x[k], c, 2), 1);
		}
		n = 0;
		for (k = 0; k < 27; k++)
			n += !strcmp(str(cJSON_GetArrayItem(all, k), "trace_id"),
				     str(runs[i], "trace_id"));
		cr_assert_eq(n, 9);
		free(tp);
	}
	cJSON_Delete(all);
	free(out);
	free(err);
}

/* ---- a collector that fails changes nothing ------------------------------------------------ */

/* What a run leaves that tracing must not change: its output (but the run's id) and its
 * checkpoints. */
static char *run_and_record(const char *otlp, char **err, double *secs)
{
	char *out, *rows, *rest;
	struct timespec t0, t1;
	size_t n;
	int rc;

	unlink(db);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (otlp)
		rc = ECL(&out, err, "--otlp", otlp, "--provider", "scripted", "--script",
			 ts_script(dir, TWO_REVISIONS), "run", "critique-revise", "--topic", "tea");
	else
		rc = ECL(&out, err, "--provider", "scripted", "--script",
			 ts_script(dir, TWO_REVISIONS), "run", "critique-revise", "--topic", "tea");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_eq(rc, 0, "%s%s", out, *err);
	rows = ts_sql_text(db, "SELECT group_concat(seq || ' ' || step || ' ' || attempt || ' ' ||"
			       " coalesce(output, '-') || ' ' || coalesce(next, '-'), '\n')"
			       " FROM (SELECT * FROM steps ORDER BY seq)");
	rest = strstr(out, "completed successfully"); /* after the lines that name the id */
	cr_assert_not_null(rest, "%s", out);
	n = strlen(rest) + strlen(rows) + 2;
	rest = strdup(rest);
	out = realloc(out, n);
	snprintf(out, n, "%s\n%s", rest, rows);
	free(rest);
	free(rows);
	return out;
}

static void collector_fails(const char *mode)
{
	char *plain, *traced, *err, *err2, url[128];
	double secs, secs2;
	int port, fd;

	plain = run_and_record(NULL, &err, &secs);
	cr_assert_str_empty(err);
	free(err);
	if (strcmp(mode, "refuse") == 0) {
		/* a port nothing listens on any more */
		fd = ts_listen_any(&port, 1);
		close(fd);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	} else {
		start_receiver(mode);
		snprintf(url, sizeof(url), "%s", base);
	}
	traced = run_and_record(url, &err, &secs);
	cr_assert_str_eq(traced, plain, "the same outputs and checkpoints:\n%s\n---\n%s", traced,
			 plain);
	cr_assert(strstr(err, "ecl: traces: "), "said: %s", err);
	cr_assert_eq(strstr(strstr(err, "ecl: traces: ") + 1, "ecl: traces: "), NULL,
		     "said once: %s", err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
	cr_assert_lt(secs, 4.0, "a %s collector holds a run up %.1f s", mode, secs);
	/* a second run in its own process says it once too */
	free(traced);
	traced = run_and_record(url, &err2, &secs2);
	cr_assert(strstr(err2, "ecl: traces: "), "%s", err2);
	free(traced);
	free(err2);
	free(err);
	free(plain);
}

Test(otel, collector_refuses_connections)
{
	collector_fails("refuse");
}

Test(otel, collector_answers_500)
{
	collector_fails("500");
}

Test(otel, collector_hangs)
{
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "60000", 1);
	collector_fails("hang");
}

/* OTEL_SDK_DISABLED wins over every setting; without an endpoint nothing is sent, and an
 * unknown protocol is said and http/protobuf sent. */
Test(otel, disabled_unset_and_unknown_protocol)
{
	char *out, *err;
	cJSON *all;

	start_receiver("ok");
	setenv("OTEL_SDK_DISABLED", "TRUE", 1);
	cr_assert_eq(ECL(&out, &err, "--otlp", base, "run", "critique-revise", "--topic", "t"), 0);
	cr_assert_str_empty(err);
	free(out);
	free(err);
	unsetenv("OTEL_SDK_DISABLED");
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t"), 0);
	free(out);
	free(err);
	all = spans();
	cr_assert_eq(cJSON_GetArraySize(all), 0);
	cJSON_Delete(all);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base, 1);
	setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t"), 0);
	cr_assert(strstr(err, "`grpc` is not supported"), "%s", err);
	all = spans_at_least(9);
	cr_assert_eq(cJSON_GetArraySize(all), 9);
	cr_assert_str_eq(str(cJSON_GetArrayItem(all, 0), "encoding"), "protobuf");
	cJSON_Delete(all);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "--otlp", "localhost:4318", "list"), 2);
	cr_assert(strstr(err, "--otlp: `localhost:4318` is not an http:// or https:// URL"), "%s",
		  err);
	free(out);
	free(err);
}

/* Cost: a run's span has none when a model has no price; status, history and runs show the
 * tokens and the cost by the config file's [prices], or say the price is unknown. */
Test(otel, cost_in_status_history_and_runs)
{
	char path[4200], *out, *id;
	const cJSON *run[1];
	cJSON *all, *j, *r;

	start_receiver("ok");
	cr_assert_eq(ECL(&out, NULL, "--otlp", base, "--model", "m1", "run", "critique-revise",
			 "--topic", "t"),
		     0);
	id = strdup(ts_started_id(out));
	free(out);
	all = spans_at_least(9);
	cr_assert_eq(named(all, "invoke_workflow *", run, 1), 1);
	cr_assert_null(attr(run[0], "ecl.run.cost"), "no price: no cost");
	cJSON_Delete(all);
	ts_sql(db, "UPDATE steps SET tokens_in = 1000, tokens_out = 2000");
	cr_assert_eq(ECL(&out, NULL, "status", id), 0);
	cr_assert(strstr(out, "Cost:         unknown: no price for offline/m1 in the config file's "
			      "[prices]"),
		  "%s", out);
	free(out);
	snprintf(path, sizeof(path), "%s/ecl", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/ecl/config", dir);
	ts_write(path, "[prices]\noffline/m1 = 1 3\nopenai/gpt = 5 5\n");
	cr_assert_eq(ECL(&out, NULL, "status", id), 0);
	cr_assert(strstr(out, "Tokens:       4000 in / 8000 out"), "%s", out);
	cr_assert(strstr(out, "Cost:         0.028000"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "status", id, "-o", "json"), 0);
	j = cJSON_Parse(out);
	cr_assert_float_eq(cJSON_GetObjectItem(j, "cost")->valuedouble, 0.028, 1e-12);
	cr_assert_str_eq(str(j, "provider"), "offline");
	cr_assert_str_eq(str(j, "model"), "m1");
	cJSON_Delete(j);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id), 0);
	cr_assert(strstr(out, "tokens 4000 in / 8000 out, cost 0.028000"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "-o", "json"), 0);
	j = cJSON_Parse(out);
	cJSON_ArrayForEach (r, j)
		cr_assert_float_eq(cJSON_GetObjectItem(r, "cost")->valuedouble, 0.007, 1e-12);
	cJSON_Delete(j);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json"), 0);
	j = cJSON_Parse(out);
	r = cJSON_GetArrayItem(j, 0);
	cr_assert_eq(cJSON_GetObjectItem(r, "tokens_in")->valueint, 4000, "%s", out);
	cr_assert_eq(cJSON_GetObjectItem(r, "tokens_out")->valueint, 8000);
	cr_assert_float_eq(cJSON_GetObjectItem(r, "cost")->valuedouble, 0.028, 1e-12);
	cJSON_Delete(j);
	free(out);
	/* and ecl stats, per workflow */
	cr_assert_eq(ECL(&out, NULL, "stats", "-o", "json"), 0);
	j = cJSON_Parse(out);
	r = cJSON_GetArrayItem(j, 0);
	cr_assert_float_eq(cJSON_GetObjectItem(r, "cost")->valuedouble, 0.028, 1e-12, "%s", out);
	cr_assert_float_eq(cJSON_GetObjectItem(r, "cost_per_run")->valuedouble, 0.028, 1e-12);
	cJSON_Delete(j);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "stats"), 0);
	cr_assert(strstr(out, "  cost           0.028000, 0.028000 per run\n"), "%s", out);
	free(out);
	/* a price of another model: unknown, said in JSON too */
	ts_write(path, "[prices]\nopenai/gpt = 5 5\n");
	cr_assert_eq(ECL(&out, NULL, "stats", "-o", "json"), 0);
	j = cJSON_Parse(out);
	r = cJSON_GetArrayItem(j, 0);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "cost")), "%s", out);
	cJSON_Delete(j);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "stats"), 0);
	cr_assert(strstr(out, "  cost           unknown: a model of these runs has no price"), "%s",
		  out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json"), 0);
	j = cJSON_Parse(out);
	r = cJSON_GetArrayItem(j, 0);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "cost")), "%s", out);
	cr_assert_str_eq(str(r, "cost_note"),
			 "no price for offline/m1 in the config file's [prices]");
	cJSON_Delete(j);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "providers"), 0);
	cr_assert(strstr(out, "Prices per million tokens (input / output):"), "%s", out);
	cr_assert(strstr(out, "openai/gpt"), "%s", out);
	free(out);
	ts_write(path, "[prices]\nopenai = 1 2\n");
	cr_assert_eq(ECL(&out, NULL, "providers"), 2);
	free(out);
	ts_write(path, "[prices]\nopenai/x = 1\n");
	cr_assert_eq(ECL(&out, NULL, "providers"), 2);
	free(out);
	free(id);
}

/* The config file's otlp_endpoint, below the variables and the flag. */
Test(otel, config_file_endpoint)
{
	char path[4200], text[300], *out, *err;
	cJSON *all;

	start_receiver("ok");
	snprintf(path, sizeof(path), "%s/ecl", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/ecl/config", dir);
	snprintf(text, sizeof(text), "otlp_endpoint = %s\n", base);
	ts_write(path, text);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t"), 0, "%s", err);
	free(out);
	free(err);
	all = spans_at_least(9);
	cr_assert_eq(cJSON_GetArraySize(all), 9);
	cJSON_Delete(all);
	/* a variable wins: nothing more comes here */
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", 1);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t"), 0);
	cr_assert(strstr(err, "127.0.0.1:1"), "%s", err);
	free(out);
	free(err);
	all = spans();
	cr_assert_eq(cJSON_GetArraySize(all), 9);
	cJSON_Delete(all);
}

/* A queue smaller than what a run makes, behind a collector that hangs: spans are dropped
 * and counted, which is said once; the run is as it would be. */
Test(otel, full_queue_drops_spans)
{
	char *out, *err;

	start_receiver("hang");
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2", 1);
	setenv("OTEL_BSP_SCHEDULE_DELAY", "1", 1);
	cr_assert_eq(ECL(&out, &err, "--otlp", base, "--provider", "scripted", "--script",
			 ts_script(dir, TWO_REVISIONS), "run", "critique-revise", "--topic", "tea"),
		     0, "%s", err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	cr_assert(strstr(err, "ecl: traces: more than 2 spans waiting to be sent"), "%s", err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "said once: %s", err);
	free(out);
	free(err);
}

/* A provider that refuses: the run stops interrupted (resumable), its spans say why. A
 * summarize run with --trace-content: the system prompt, the code and set steps' spans. */
Test(otel, provider_failure_and_other_step_kinds)
{
	const cJSON *x[8];
	char *out, *err;
	cJSON *all;

	start_receiver("ok");
	cr_assert_eq(ECL(&out, &err, "--otlp", base, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [{\"$error\": \"permanent\", \"message\": "
					"\"nope\"}]}"),
			 "run", "critique-revise", "--topic", "t"),
		     1, "%s%s", out, err);
	free(out);
	free(err);
	all = spans_at_least(3);
	cr_assert_eq(named(all, "invoke_workflow *", x, 8), 1);
	cr_assert_str_eq(attr_str(x[0], "ecl.run.status"), "interrupted");
	cr_assert_str_eq(attr_str(x[0], "error.type"), "provider_error");
	cr_assert_eq(named(all, "step generate", x, 8), 1);
	cr_assert_str_eq(attr_str(x[0], "ecl.step.transition"), "interrupted");
	cr_assert_eq(named(all, "chat scripted", x, 8), 1);
	cr_assert_str_eq(attr_str(x[0], "error.type"), "provider_error");
	cr_assert(strstr(str(cJSON_GetObjectItem(x[0], "status"), "message"), "nope"));
	cJSON_Delete(all);
	unlink(spans_path);

	cr_assert_eq(
		ECL(&out, &err, "--otlp", base, "--trace-content", "--provider", "scripted",
		    "--script",
		    ts_script(dir,
			      "{\"draft\": [{\"summary\": \"one two three four five six seven\"}, "
			      "{\"summary\": \"a b c\"}]}"),
		    "run", "summarize", "--max-words", "5", "--document",
		    "one two three four five six seven eight nine ten"),
		0, "%s%s", out, err);
	free(out);
	free(err);
	all = spans_at_least(10);
	cr_assert_eq(named(all, "step redraft", x, 8), 1);
	cr_assert_str_eq(attr_str(x[0], "ecl.step.kind"), "set");
	cr_assert_eq(named(all, "step check", x, 8), 2);
	cr_assert_str_eq(attr_str(x[0], "ecl.step.kind"), "code");
	cr_assert_eq(named(all, "chat scripted", x, 8), 2);
	cr_assert(strstr(attr_str(x[0], "gen_ai.system_instructions"), "\"role\":\"system\""));
	cr_assert(strstr(attr_str(x[0], "gen_ai.input.messages"), "Summarise this document"));
	cr_assert(strstr(attr_str(x[0], "gen_ai.output.messages"), "one two three"));
	cJSON_Delete(all);
}

/* A run paused from another process: its drive's span ends as paused, no error. */
Test(otel, paused_run)
{
	char log[4200], *out, *id;
	const char *argv[20];
	const cJSON *x[4];
	cJSON *all;
	pid_t pid;
	int i, status;

	start_receiver("ok");
	snprintf(log, sizeof(log), "%s/calls.log", dir);
	argv[0] = ECL_BIN;
	argv[1] = "--db";
	argv[2] = db;
	argv[3] = "--otlp";
	argv[4] = base;
	argv[5] = "--provider";
	argv[6] = "scripted";
	argv[7] = "--script";
	argv[8] = ts_script(dir, "{\"generate\": [{\"$delay_ms\": 1500, \"$answer\": " GEN
				 "}], \"critique\": [" PASS "]}");
	argv[9] = "--call-log";
	argv[10] = log;
	argv[11] = "run";
	argv[12] = "critique-revise";
	argv[13] = "--topic";
	argv[14] = "tea";
	argv[15] = NULL;
	child = pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execv(ECL_BIN, (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 500 && ts_count_lines(log, " generate ") < 1; i++) {
		struct timespec ts = {0, 10000000};

		nanosleep(&ts, NULL);
	}
	id = ts_sql_text(db, "SELECT id FROM runs");
	cr_assert_not_null(id);
	cr_assert_eq(ECL(&out, NULL, "pause", id), 0, "%s", out);
	free(out);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	child = 0;
	all = spans_at_least(3);
	cr_assert_eq(named(all, "invoke_workflow *", x, 4), 1);
	cr_assert_str_eq(attr_str(x[0], "ecl.run.status"), "paused");
	cr_assert_eq(status_code(x[0]), 0);
	cr_assert_eq(attr_int(x[0], "ecl.run.steps"), 1);
	cJSON_Delete(all);
	free(id);
}

/* Every allocation of a traced run failing in turn (ecl_oom): each attempt says it ran out
 * of memory, none crashes or leaks, and the run gets through once there is memory. */
Test(otel, every_allocation_of_a_traced_run_may_fail, .timeout = 300)
{
	const char *argv[16] = {ECL_OOM_BIN,
				"--db",
				NULL,
				"--otlp",
				"http://127.0.0.1:1",
				"--trace-content",
				"run",
				"critique-revise",
				"--topic",
				"t",
				NULL};
	char dbn[4300], *out = NULL, *err = NULL;
	long n;
	int rc = -1;

	/* a price table for the engine to copy */
	snprintf(dbn, sizeof(dbn), "%s/ecl", dir);
	mkdir(dbn, 0700);
	snprintf(dbn, sizeof(dbn), "%s/ecl/config", dir);
	ts_write(dbn, "[prices]\noffline/m = 1 2\nopenai/x = 3 4\n");
	argv[2] = dbn;
	for (n = 0; n < 5000; n++) {
		char env[32];

		snprintf(dbn, sizeof(dbn), "%s/oom-%ld.db", dir, n);
		snprintf(env, sizeof(env), "%ld", n);
		setenv("ECL_TEST_FAIL_ALLOC_AFTER", env, 1);
		rc = ts_run(argv, &out, &err);
		unsetenv("ECL_TEST_FAIL_ALLOC_AFTER");
		if (rc == 0)
			break;
		/* (running out reading the inputs is said as a usage error, status 2) */
		cr_assert(rc == 1 || rc == 2, "allocation %ld: exit status %d: %s", n, rc, err);
		cr_assert(strstr(err, "out of memory"), "allocation %ld: %s", n, err);
		free(out);
		free(err);
	}
	cr_assert_eq(rc, 0, "the run never got through");
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	free(err);
}

/* A queued run driven by a worker: the worker's drive is the run's first, so its span is the
 * root stored with the run. */
Test(otel, worker_drives_a_queued_run)
{
	const cJSON *x[4];
	char *out, *err, *id, *tp;
	cJSON *all;

	start_receiver("ok");
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t", "--queue"), 0, "%s",
		     err);
	free(out);
	free(err);
	id = ts_sql_text(db, "SELECT id FROM runs");
	cr_assert_eq(ECL(&out, &err, "--otlp", base, "worker", "--exit-when-idle"), 0, "%s", err);
	free(out);
	free(err);
	all = spans_at_least(9);
	cr_assert_eq(cJSON_GetArraySize(all), 9);
	cr_assert_eq(named(all, "invoke_workflow *", x, 4), 1);
	tp = stored_trace(id);
	cr_assert_eq(strncmp(tp + 3, str(x[0], "trace_id"), 32), 0);
	cr_assert_eq(strncmp(tp + 36, str(x[0], "span_id"), 16), 0);
	cr_assert_str_empty(str(x[0], "parent_span_id"));
	cr_assert(cJSON_IsFalse(attr(x[0], "ecl.run.resumed")));
	cJSON_Delete(all);
	free(tp);
	free(id);
}
