/*
 * test_trace.c - spans and their exporter (core/trace.c, net/otlp.c) without the command: ids
 * and traceparent texts, the OTEL_* settings, every kind of attribute, event, link and status
 * through both encodings to tests/tools/otlp_receiver.py, and every allocation failing in
 * turn.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "fake_server.h"
#include "support.h"
#include "testhooks.h"

static char *dir;
static char out_path[4200], base[128];
static pid_t receiver;

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

static void setup(void)
{
	size_t i;

	dir = ts_tmpdir();
	snprintf(out_path, sizeof(out_path), "%s/spans.jsonl", dir);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	mem_init();
}

static void teardown(void)
{
	ecl_test_fail_alloc_after(-1);
	if (receiver > 0) {
		kill(receiver, SIGKILL);
		waitpid(receiver, NULL, 0);
		receiver = 0;
	}
	ts_rmtree(dir);
	free(dir);
}

TestSuite(trace, .init = setup, .fini = teardown, .timeout = 120);

static void start_receiver(void)
{
	char portfile[4200];

	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	receiver = fork();
	cr_assert_neq(receiver, -1);
	if (receiver == 0) {
		execlp("python3", "python3", ECL_SOURCE_DIR "/tests/tools/otlp_receiver.py",
		       "--port-file", portfile, "--out", out_path, (char *)NULL);
		_exit(127);
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", ts_wait_port(portfile, "the receiver"));
}

/* ---- ids ---------------------------------------------------------------------------------- */

Test(trace, traceparent_texts)
{
	unsigned char t[16], s[8];
	char text[56], again[56];
	trace_span span;

	trace_parent_new(text);
	cr_assert_eq(strlen(text), 55);
	cr_assert_eq(trace_parent_parse(text, t, s), 0, "%s", text);
	memcpy(span.trace_id, t, 16);
	memcpy(span.span_id, s, 8);
	trace_parent_text(&span, again);
	cr_assert_str_eq(again, text);
	trace_parent_new(again);
	cr_assert_str_neq(again, text, "a new trace each time");
	cr_assert_eq(
		trace_parent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", t, s),
		0);
	cr_assert_eq(t[0], 0x0a);
	cr_assert_eq(s[7], 0x31);
	cr_assert_eq(trace_parent_parse(NULL, t, s), -1);
	cr_assert_eq(trace_parent_parse("", t, s), -1);
	cr_assert_eq(
		trace_parent_parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", t, s),
		-1, "another version");
	cr_assert_eq(
		trace_parent_parse("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", t, s),
		-1, "upper case");
	cr_assert_eq(
		trace_parent_parse("00-00000000000000000000000000000000-b7ad6b7169203331-01", t, s),
		-1, "an id of zeros");
	cr_assert_eq(
		trace_parent_parse("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", t, s),
		-1, "a span id of zeros");
	cr_assert_eq(
		trace_parent_parse("00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01", t, s),
		-1);
	cr_assert_eq(
		trace_parent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01", t, s),
		-1);
	cr_assert_eq(
		trace_parent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01", t, s),
		-1);
}

/* Without an exporter nothing is made, and every function takes the NULL span. */
Test(trace, off_is_nothing)
{
	trace_span *s = trace_begin(NULL, "x", TRACE_KIND_INTERNAL, NULL, NULL);

	cr_assert_null(s);
	trace_str(s, "k", "v");
	trace_int(s, "k", 1);
	trace_double(s, "k", 1.5);
	trace_bool(s, "k", 1);
	trace_str_list(s, "k", "v");
	trace_event_add(s, "e");
	trace_event_str(s, "k", "v");
	trace_event_int(s, "k", 2);
	trace_error(s, "t", "m");
	trace_end(NULL, s);
	trace_free(s);
}

/* ---- settings ----------------------------------------------------------------------------- */

Test(trace, settings_from_the_environment)
{
	trace_config c;
	char url[256];

	cr_assert_eq(trace_config_get(NULL, &c, url, sizeof(url)), -1, "no endpoint: off");
	cr_assert_eq(trace_config_get("http://h:4318/", &c, url, sizeof(url)), 0);
	cr_assert_str_eq(c.endpoint, "http://h:4318/v1/traces");
	cr_assert_eq(c.json, 0);
	cr_assert_null(c.protocol);
	cr_assert_eq(c.timeout_ms, 10000);
	cr_assert_eq(c.delay_ms, 5000);
	cr_assert_eq(c.max_queue, 2048);
	cr_assert_eq(c.max_batch, 512);
	cr_assert_eq(c.close_wait_ms, 1000);
	cr_assert_eq(trace_config_get("http://h:4318/v1/traces", &c, url, sizeof(url)), 0);
	cr_assert_str_eq(c.endpoint, "http://h:4318/v1/traces", "a full URL stays as it is");

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://general:1", 1);
	cr_assert_eq(trace_config_get(NULL, &c, url, sizeof(url)), 0);
	cr_assert_str_eq(c.endpoint, "http://general:1/v1/traces");
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:2/custom", 1);
	cr_assert_eq(trace_config_get(NULL, &c, url, sizeof(url)), 0);
	cr_assert_str_eq(c.endpoint, "http://traces:2/custom", "the traces URL as it is");
	cr_assert_eq(trace_config_get("http://flag:3", &c, url, sizeof(url)), 0);
	cr_assert_str_eq(c.endpoint, "http://flag:3/v1/traces", "--otlp wins");

	setenv("OTEL_EXPORTER_OTLP_HEADERS", "a=1", 1);
	setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "500", 1);
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "10", 1);
	setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100", 1);
	setenv("OTEL_BSP_SCHEDULE_DELAY", "12x", 1);
	cr_assert_eq(trace_config_get(NULL, &c, url, sizeof(url)), 0);
	cr_assert_str_eq(c.headers, "a=1");
	cr_assert_eq(c.json, 1);
	cr_assert_str_eq(c.protocol, "http/json");
	cr_assert_eq(c.timeout_ms, 500);
	cr_assert_eq(c.close_wait_ms, 500, "closing waits no longer than a request may take");
	cr_assert_eq(c.max_queue, 10);
	cr_assert_eq(c.max_batch, 10, "a batch no larger than the queue");
	cr_assert_eq(c.delay_ms, 5000, "not a number: the default");
	setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0", 1);
	cr_assert_eq(trace_config_get(NULL, &c, url, sizeof(url)), 0);
	cr_assert_str_eq(c.headers, "b=2", "the traces' own wins");
	cr_assert_eq(c.json, 0);
	cr_assert_eq(c.timeout_ms, 10000, "0 is no timeout: the default");

	setenv("OTEL_SDK_DISABLED", "false", 1);
	cr_assert_eq(trace_config_get(NULL, &c, url, sizeof(url)), 0);
	setenv("OTEL_SDK_DISABLED", "true", 1);
	cr_assert_eq(trace_config_get("http://flag:3", &c, url, sizeof(url)), -1);
}

/* ---- the exporter ------------------------------------------------------------------------- */

/* One span with every kind of attribute, an event, a link and an error (NULL when memory
 * ran out making it). */
static trace_span *full_span_or_null(trace_exporter *x)
{
	unsigned char tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	trace_span *root = trace_begin(x, "root", TRACE_KIND_INTERNAL, NULL, tid), *s;

	s = trace_begin(x, "child", TRACE_KIND_CLIENT, root, NULL);
	trace_free(root);
	if (!s)
		return NULL;
	trace_str(s, "s", "text \"quoted\"");
	trace_strn(s, "sn", "abcdef", 3);
	trace_str(s, "none", NULL);
	trace_int(s, "i", -42);
	trace_double(s, "d", 0.25);
	trace_bool(s, "b", 1);
	trace_bool(s, "f", 0);
	trace_str_list(s, "l", "stop");
	trace_event_add(s, "ev");
	trace_event_str(s, "es", "x");
	trace_event_int(s, "ei", 7);
	trace_event_str(s, "enone", NULL);
	trace_error(s, "boom_type", "it broke");
	memset(s->link_trace, 0xab, 16);
	memset(s->link_span, 0xcd, 8);
	s->has_link = 1;
	return s;
}

static trace_span *full_span(trace_exporter *x)
{
	trace_span *s = full_span_or_null(x);

	cr_assert_not_null(s);
	cr_assert_eq(s->oom, 0);
	return s;
}

static cJSON *received(int n)
{
	cJSON *all = NULL;
	int i;

	for (i = 0; i < 500; i++) {
		char *text = ts_read(out_path), *line, *save = NULL;
		struct timespec ts = {0, 10000000};

		cJSON_Delete(all);
		all = cJSON_CreateArray();
		for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save))
			cJSON_AddItemToArray(all, cJSON_Parse(line));
		free(text);
		if (cJSON_GetArraySize(all) >= n)
			break;
		nanosleep(&ts, NULL);
	}
	return all;
}

static void check_full(const cJSON *s, const char *encoding)
{
	const cJSON *a = cJSON_GetObjectItem(s, "attributes"), *e, *l, *r;

	cr_assert_str_eq(cJSON_GetObjectItem(s, "encoding")->valuestring, encoding);
	cr_assert_str_eq(cJSON_GetObjectItem(s, "name")->valuestring, "child");
	cr_assert_eq(cJSON_GetObjectItem(s, "kind")->valueint, 3);
	cr_assert_str_eq(cJSON_GetObjectItem(s, "trace_id")->valuestring,
			 "0102030405060708090a0b0c0d0e0f10");
	cr_assert_eq(strlen(cJSON_GetObjectItem(s, "parent_span_id")->valuestring), 16);
	cr_assert_str_eq(cJSON_GetObjectItem(a, "s")->valuestring, "text \"quoted\"");
	cr_assert_str_eq(cJSON_GetObjectItem(a, "sn")->valuestring, "abc");
	cr_assert_null(cJSON_GetObjectItem(a, "none"));
	cr_assert_eq(cJSON_GetObjectItem(a, "i")->valuedouble, -42);
	cr_assert_eq(cJSON_GetObjectItem(a, "d")->valuedouble, 0.25);
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(a, "b")));
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(a, "f")));
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "l"), 0)->valuestring, "stop");
	cr_assert_str_eq(cJSON_GetObjectItem(a, "error.type")->valuestring, "boom_type");
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "events"), 0);
	cr_assert_str_eq(cJSON_GetObjectItem(e, "name")->valuestring, "ev");
	cr_assert_str_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(e, "attributes"), "es")->valuestring, "x");
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "attributes"), "ei")->valueint, 7);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "events"), 1);
	cr_assert_str_eq(cJSON_GetObjectItem(e, "name")->valuestring, "exception");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(s, "events")), 2);
	l = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "links"), 0);
	cr_assert_str_eq(cJSON_GetObjectItem(l, "trace_id")->valuestring,
			 "abababababababababababababababab");
	cr_assert_str_eq(cJSON_GetObjectItem(l, "span_id")->valuestring, "cdcdcdcdcdcdcdcd");
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "status"), "code")->valueint, 2);
	cr_assert_str_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(s, "status"), "message")->valuestring,
		"it broke");
	r = cJSON_GetObjectItem(s, "resource");
	cr_assert_str_eq(cJSON_GetObjectItem(r, "service.name")->valuestring, "from-resource");
	cr_assert_str_eq(cJSON_GetObjectItem(r, "k")->valuestring, "v2", "the last one wins");
	cr_assert_str_eq(cJSON_GetObjectItem(r, "telemetry.sdk.name")->valuestring, "ecl");
	cr_assert_str_eq(cJSON_GetObjectItem(s, "scope")->valuestring, "ecl");
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "headers"), "h")->valuestring,
			 "%zz");
}

static void export_full(int json)
{
	trace_config c = {0};
	trace_exporter *x;
	char err[256], url[200];
	cJSON *all;

	start_receiver();
	snprintf(url, sizeof(url), "%s/v1/traces", base);
	c.endpoint = url;
	c.json = json;
	c.headers = "h=%zz,novalue,=empty, ";
	c.resource = "service.name=from-resource,k=v1,k=v2,%41=%4";
	c.timeout_ms = 5000;
	c.delay_ms = 5000;
	c.max_queue = 10;
	c.max_batch = 10;
	c.close_wait_ms = 3000;
	cr_assert_eq(otlp_open(&c, &x, err, sizeof(err)), ECL_OK, "%s", err);
	trace_end(x, full_span(x));
	x->close(x);
	all = received(1);
	cr_assert_eq(cJSON_GetArraySize(all), 1);
	check_full(cJSON_GetArrayItem(all, 0), json ? "json" : "protobuf");
	cr_assert_str_eq(cJSON_GetObjectItem(
				 cJSON_GetObjectItem(cJSON_GetArrayItem(all, 0), "resource"), "A")
				 ->valuestring,
			 "%4", "a lone % stays");
	cJSON_Delete(all);
}

Test(trace, every_kind_of_field_as_protobuf)
{
	export_full(0);
}

Test(trace, every_kind_of_field_as_json)
{
	export_full(1);
}

/* Spans in several batches, sent as each fills or falls due. */
Test(trace, batches)
{
	trace_config c = {0};
	trace_exporter *x;
	char err[256], url[200];
	cJSON *all;
	int i;

	start_receiver();
	snprintf(url, sizeof(url), "%s/v1/traces", base);
	c.endpoint = url;
	c.service = "svc";
	c.timeout_ms = 5000;
	c.delay_ms = 20;
	c.max_queue = 100;
	c.max_batch = 3;
	c.close_wait_ms = 3000;
	cr_assert_eq(otlp_open(&c, &x, err, sizeof(err)), ECL_OK, "%s", err);
	for (i = 0; i < 10; i++)
		trace_end(x, trace_begin(x, "s", TRACE_KIND_INTERNAL, NULL, NULL));
	all = received(10); /* before the close: by batch size and delay */
	cr_assert_eq(cJSON_GetArraySize(all), 10);
	cr_assert_str_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(all, 0), "resource"),
				    "service.name")
			->valuestring,
		"svc");
	cJSON_Delete(all);
	x->close(x);
}

/* Every allocation failing in turn, from the spans' to the exporter's: nothing crashes or
 * leaks, and what can be made is sent. */
Test(trace, allocation_failures)
{
	trace_config c = {0};
	char err[256];
	long n;

	c.endpoint = "http://127.0.0.1:1/v1/traces"; /* nothing listens: said, not waited for */
	c.headers = "a=b";
	c.resource = "k=v";
	c.service = "s";
	c.timeout_ms = 1000;
	c.delay_ms = 1;
	c.max_queue = 10;
	c.max_batch = 10;
	c.close_wait_ms = 200;
	for (n = 0; n < 120; n++) {
		trace_exporter *x = NULL;
		int rc;

		ecl_test_fail_alloc_after(n);
		rc = otlp_open(&c, &x, err, sizeof(err));
		if (rc == ECL_OK) {
			trace_span *s = full_span_or_null(x);

			trace_end(x, s);
			trace_end(x, trace_begin(x, "second", TRACE_KIND_INTERNAL, NULL, NULL));
			x->close(x);
		} else {
			cr_assert_eq(rc, ECL_ENOMEM);
			cr_assert_str_eq(err, "out of memory");
		}
		ecl_test_fail_alloc_after(-1);
	}
}
