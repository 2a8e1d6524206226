/*
 * test_provider_faults.c - the providers called directly, below the driver: settings an
 * HTTP provider refuses (naming the setting), the model options each wire format carries, a
 * call abandoned by its tick, Retry-After values a server may send, a transfer libcurl
 * cannot start, and every allocation of a call, of a provider and of a batch over HTTP
 * failing in turn against tests/tools/fake_llm.py; the offline and the benchmark's fake
 * provider under the same allocation failures, and the fake's answers to prompts it does not
 * know and to more WF ids than it remembers.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_server.h"
#include "internal.h"
#include "support.h"
#include "testhooks.h"

static char *dir;
static char base[128], url[200], db[4096];
static pid_t server;

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	server = ts_fake_start(dir, 0, "ok", base, sizeof(base));
	snprintf(url, sizeof(url), "%s/v1", base);
	mem_init();
}

static void teardown(void)
{
	ecl_test_fail_alloc_after(-1);
	ts_fake_stop(server);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(provider_faults, .init = setup, .fini = teardown, .timeout = 200);

typedef int (*make_fn)(const llm_config *, llm_provider **, char *, size_t);

static const struct api {
	const char *name;
	make_fn make;
	int v1; /* the base URL ends in /v1 */
} apis[] = {
	{"openai", llm_openai_new, 1},
	{"anthropic", llm_anthropic_new, 1},
	{"ollama", llm_ollama_new, 0},
};

static llm_provider *make(const struct api *a, const char *base_url)
{
	llm_config cfg = {0};
	llm_provider *p = NULL;
	char err[256] = "";

	cfg.base_url = base_url;
	cfg.model = "fake-model";
	cfg.api_key = "sk-test";
	cr_assert_eq(a->make(&cfg, &p, err, sizeof(err)), ECL_OK, "%s: %s", a->name, err);
	return p;
}

static const char *api_url(const struct api *a)
{
	return a->v1 ? url : base;
}

/* A request for the generate step of critique-revise, with a system prompt and the step's
 * JSON Schema. */
static llm_request request(const llm_message *msgs)
{
	const ecl_workflow *wf = ts_workflow("critique-revise");
	llm_request req = {0};

	req.run_id = "0123456789abcdef";
	req.wf = wf;
	req.step = &wf->steps[0];
	req.schema = req.step->schema;
	req.attempt = 1;
	req.visit = 1;
	req.system = "Answer in JSON.";
	req.messages = msgs;
	req.nmessages = 1;
	req.temperature = -1;
	return req;
}

static const llm_message hello[] = {{"user", "Write about tea."}};

Test(provider_faults, settings_an_http_provider_refuses_are_named)
{
	static const struct {
		const char *model, *key, *base, *error;
	} cases[] = {
		{NULL, NULL, NULL, "the %s provider needs a model (--model NAME)"},
		{"", NULL, NULL, "the %s provider needs a model (--model NAME)"},
		{"m", "sk-1\nX-Evil: 1", NULL, "the %s API key contains a line break"},
		{"m", "sk-1\r", NULL, "the %s API key contains a line break"},
		{"m", NULL, "ftp://example.com",
		 "the %s base URL must start with http:// or https://, not `ftp://example.com`"},
	};
	size_t i, k;

	for (k = 0; k < 3; k++)
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			llm_config cfg = {0};
			llm_provider *p = (llm_provider *)1;
			char err[256] = "", want[256];

			cfg.model = cases[i].model;
			cfg.api_key = cases[i].key;
			cfg.base_url = cases[i].base;
			cr_assert_eq(apis[k].make(&cfg, &p, err, sizeof(err)), ECL_EUSAGE, "%s %zu",
				     apis[k].name, i);
			cr_assert_null(p);
			snprintf(want, sizeof(want), cases[i].error, apis[k].name);
			cr_assert_str_eq(err, want);
		}
}

Test(provider_faults, model_options_reach_the_wire_in_each_format)
{
	static const char *const want[][3] = {
		{"\"temperature\":0.25", "\"max_tokens\":77", "\"role\":\"system\""},
		{"\"temperature\":0.25", "\"max_tokens\":77", "\"system\":\"Answer in JSON.\""},
		{"\"temperature\":0.25", "\"num_predict\":77", "\"role\":\"system\""},
	};
	size_t k, j;

	for (k = 0; k < 3; k++) {
		char slashed[256], *last;
		llm_provider *p;
		llm_request req = request(hello);
		llm_response res = {0};

		/* Slashes at the end of the base URL are not doubled before the path. */
		snprintf(slashed, sizeof(slashed), "%s//", api_url(&apis[k]));
		p = make(&apis[k], slashed);
		req.temperature = 0.25;
		req.max_tokens = 77;
		cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s: %s", apis[k].name, res.error);
		cr_assert_eq(res.http_status, 200);
		cr_assert(res.text && strstr(res.text, "content"), "%s", res.text);
		free(res.text);
		last = ts_fake_get(base, "/last");
		for (j = 0; j < 3; j++)
			cr_assert(strstr(last, want[k][j]), "%s: no %s in %s", apis[k].name,
				  want[k][j], last);
		cr_assert_null(strstr(last, "//chat") ? last : NULL, "a doubled slash: %s", last);
		free(last);
		p->destroy(p);
	}
}

static int ticks;

static int give_up(void *ctx)
{
	(void)ctx;
	return ++ticks > 1;
}

Test(provider_faults, a_call_its_tick_abandons_fails_as_transient)
{
	llm_provider *p = make(&apis[0], url);
	llm_request req = request(hello);
	llm_response res = {0};

	ts_fake_mode(base, "{\"mode\": \"hang\", \"count\": 1}");
	req.tick = give_up;
	ticks = 0;
	cr_assert_eq(p->complete(p, &req, &res), ECL_EPROVIDER);
	cr_assert_str_eq(res.error, "openai: abandoned");
	cr_assert_eq(res.fault, LLM_FAULT_TRANSIENT);
	cr_assert_null(res.text);
	cr_assert_geq(ticks, 2);
	p->destroy(p);
}

Test(provider_faults, retry_after_values_are_read_or_ignored)
{
	static const struct {
		const char *after;
		long ms;
	} cases[] = {
		{"2", 2000},
		{"99999", 99999000},
		{"99999999999", 604800000}, /* more than a week counts as a week */
		{"10abc", -1},
		{"soon", -1},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0}, /* in the past: at once */
		{"Fri, 01 Jan 2100 00:00:00 GMT", 604800000},
		{"11111111111111111111111111111111111111111111111111111111111111111111111111111111"
		 "111111111111111111111111111111111111111111111111111111111111",
		 -1},
	};
	llm_provider *p = make(&apis[0], url);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		llm_request req = request(hello);
		llm_response res = {0};
		char mode[400];

		snprintf(mode, sizeof(mode), "{\"mode\": \"429\", \"count\": 1, \"after\": \"%s\"}",
			 cases[i].after);
		ts_fake_mode(base, mode);
		cr_assert_eq(p->complete(p, &req, &res), ECL_EPROVIDER);
		cr_assert_eq(res.http_status, 429);
		cr_assert_eq(res.fault, LLM_FAULT_TRANSIENT);
		cr_assert_eq(res.retry_after_ms, cases[i].ms, "Retry-After: %s gave %ld ms",
			     cases[i].after, res.retry_after_ms);
		cr_assert(strstr(res.error, "HTTP 429: Rate limit reached"), "%s", res.error);
	}
	p->destroy(p);
}

Test(provider_faults, a_transfer_libcurl_cannot_start_fails_as_transient)
{
	llm_provider *p = make(&apis[0], url);
	llm_request req = request(hello);
	llm_response res = {0};
	llm_call *call = (llm_call *)1;

	cr_assert_eq(p->start(p, &req, NULL, NULL, &call, &res), ECL_EPROVIDER);
	cr_assert_null(call);
	cr_assert_str_eq(res.error, "openai: libcurl cannot start the request");
	cr_assert_eq(res.fault, LLM_FAULT_TRANSIENT);
	p->destroy(p);
}

/* ---- the answer's JSON Schema -------------------------------------------------------------- */

/* A schema with every kind of field eclc writes, two of them optional (an enum and an int). */
#define SCHEMA                                                                                     \
	"{\"type\":\"object\",\"properties\":{\"content\":{\"type\":\"string\"},\"kind\":{"        \
	"\"type\":\"string\",\"enum\":[\"a\",\"b\"]},\"score\":{\"type\":\"integer\",\"minimum\":" \
	"0,"                                                                                       \
	"\"maximum\":100},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"ok\":{"  \
	"\"type\":\"boolean\"},\"x\":{\"type\":\"number\"}},\"required\":[\"content\",\"tags\","   \
	"\"ok\","                                                                                  \
	"\"x\"],\"additionalProperties\":false}"
/* OpenAI's strict form of it: every field required, the optional ones nullable. */
#define STRICT                                                                                     \
	"{\"type\":\"object\",\"properties\":{\"content\":{\"type\":\"string\"},\"kind\":{"        \
	"\"type\":[\"string\",\"null\"],\"enum\":[\"a\",\"b\",null]},\"score\":{\"type\":["        \
	"\"integer\",\"null\"],\"minimum\":0,\"maximum\":100},\"tags\":{\"type\":\"array\","       \
	"\"items\":{\"type\":\"string\"}},\"ok\":{\"type\":\"boolean\"},\"x\":{\"type\":"          \
	"\"number\"}},"                                                                            \
	"\"required\":[\"content\",\"kind\",\"score\",\"tags\",\"ok\",\"x\"],"                     \
	"\"additionalProperties\":false}"

/* The body of the last request, as it went on the wire. */
static char *last_raw(void)
{
	char *raw = ts_fake_get(base, "/last/raw");

	cr_assert(raw && raw[0] == '{', "no body recorded: %s", raw);
	return raw;
}

/* One call of p with schema; its body as sent. */
static char *call_with_schema(llm_provider *p, const char *schema, int want)
{
	llm_request req = request(hello);
	llm_response res = {0};
	int rc;

	req.schema = schema;
	rc = p->complete(p, &req, &res);
	cr_assert_eq(rc, want, "%s: %d %s", p->name, rc, res.error);
	free(res.text);
	return last_raw();
}

Test(provider_faults, each_provider_sends_the_schema_as_its_api_takes_it)
{
	static const char *const want[] = {
		",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
		"\"generate\","
		"\"strict\":true,\"schema\":" STRICT "}}}",
		",\"tools\":[{\"name\":\"generate\",\"description\":\"Give the answer.\","
		"\"input_schema\":" SCHEMA "}],\"tool_choice\":{\"type\":\"tool\",\"name\":"
		"\"generate\"}}",
		",\"stream\":false,\"format\":" SCHEMA ",\"options\":{}}",
	};
	size_t k;

	for (k = 0; k < 3; k++) {
		llm_provider *p = make(&apis[k], api_url(&apis[k]));
		char *raw = call_with_schema(p, SCHEMA, ECL_OK);
		size_t n = strlen(raw), w = strlen(want[k]);

		/* at the end of the body, byte for byte */
		cr_assert(n >= w && !strcmp(raw + n - w, want[k]), "%s: %s", apis[k].name, raw);
		free(raw);
		/* the same again: OpenAI's strict form comes from the provider's cache */
		raw = call_with_schema(p, SCHEMA, ECL_OK);
		cr_assert(strlen(raw) == n && !strcmp(raw + n - w, want[k]), "%s: %s", apis[k].name,
			  raw);
		free(raw);
		p->destroy(p);
	}
}

Test(provider_faults, openai_strict_forms_of_other_schemas)
{
	static const struct {
		const char *schema, *sent;
		llm_fault fault;
	} cases[] = {
		/* no "required": every field becomes required and nullable */
		{"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
		 "\"additionalProperties\":false}",
		 "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]}},"
		 "\"additionalProperties\":false,\"required\":[\"a\"]}",
		 LLM_FAULT_NONE},
		/* not JSON: no strict form, sent as it is (and the body is no JSON either) */
		{"not json", "not json", LLM_FAULT_PERMANENT},
		/* no properties: no strict form, sent as it is; the server refuses it naming
		 * response_format, which counts as a refusal of json_schema */
		{"{\"type\":\"object\"}", "{\"type\":\"object\"}", LLM_FAULT_AGAIN},
	};
	llm_provider *p = make(&apis[0], url);
	size_t i;

	ts_fake_mode(base, "{\"mode\": \"ok\"}");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		llm_request req = request(hello);
		llm_response res = {0};
		char *raw, want[512];

		req.schema = cases[i].schema;
		cr_assert_eq(p->complete(p, &req, &res), cases[i].fault ? ECL_EPROVIDER : ECL_OK);
		cr_assert_eq(res.fault, cases[i].fault, "case %zu: %s", i, res.error);
		free(res.text);
		raw = ts_fake_get(base, "/last/raw");
		snprintf(want, sizeof(want), "\"strict\":true,\"schema\":%s}}}", cases[i].sent);
		cr_assert(strstr(raw, want), "case %zu: no %s in %s", i, want, raw);
		free(raw);
	}
	p->destroy(p);
}

/* More schemas than the provider keeps strict forms of, and a schema put where another was:
 * each is sent in its own strict form. */
Test(provider_faults, openai_strict_forms_past_the_cache_and_at_a_reused_address)
{
	llm_provider *p = make(&apis[0], url);
	char schema[160], want[200];
	int i;

	for (i = 0; i < 70; i++) {
		char *raw;

		/* one buffer: each schema at the address of the one before */
		snprintf(schema, sizeof(schema),
			 "{\"type\":\"object\",\"properties\":{\"f%d\":{\"type\":\"string\"}},"
			 "\"required\":[],\"additionalProperties\":false}",
			 i);
		snprintf(want, sizeof(want),
			 "{\"f%d\":{\"type\":[\"string\",\"null\"]}},"
			 "\"required\":[\"f%d\"]",
			 i, i);
		raw = call_with_schema(p, schema, ECL_OK);
		cr_assert(strstr(raw, want), "schema %d: %s", i, raw);
		free(raw);
	}
	p->destroy(p);
}

Test(provider_faults, a_server_refusing_json_schema_is_asked_for_json_object_from_then_on)
{
	llm_provider *p = make(&apis[0], url), *q;
	llm_request req = request(hello);
	llm_response res = {0};
	char *raw, other[200];

	/* a 400 for another reason is no refusal of the schema */
	ts_fake_mode(base, "{\"mode\": \"400\", \"count\": 1}");
	cr_assert_eq(p->complete(p, &req, &res), ECL_EPROVIDER);
	cr_assert_eq(res.fault, LLM_FAULT_PERMANENT, "%s", res.error);
	memset(&res, 0, sizeof(res));

	ts_fake_mode(base, "{\"mode\": \"noschema\"}");
	cr_assert_eq(p->complete(p, &req, &res), ECL_EPROVIDER);
	cr_assert_eq(res.fault, LLM_FAULT_AGAIN);
	cr_assert_eq(res.news, 1);
	cr_assert_eq(res.http_status, 400);
	cr_assert_str_eq(res.error,
			 "openai: the server refuses a JSON Schema in response_format, so it is "
			 "asked for a JSON object from now on, which ecl checks against the schema "
			 "(HTTP 400: Invalid parameter: 'response_format' of type 'json_schema' is "
			 "not supported with this model.)");
	raw = last_raw();
	cr_assert(strstr(raw, "\"type\":\"json_schema\""), "%s", raw);
	free(raw);
	/* asked again, the same provider sends json_object */
	memset(&res, 0, sizeof(res));
	cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s", res.error);
	free(res.text);
	raw = last_raw();
	cr_assert(strstr(raw, "\"response_format\":{\"type\":\"json_object\"}}"), "%s", raw);
	free(raw);
	/* and so does another provider of the process for the same URL, from its first call */
	q = make(&apis[0], url);
	memset(&res, 0, sizeof(res));
	cr_assert_eq(q->complete(q, &req, &res), ECL_OK, "%s", res.error);
	free(res.text);
	raw = last_raw();
	cr_assert(strstr(raw, "\"type\":\"json_object\""), "%s", raw);
	free(raw);
	q->destroy(q);
	/* a provider for another URL learns it for itself: two calls in flight are both
	 * refused, and only the first to end has news to tell */
	snprintf(other, sizeof(other), "http://localhost:%s/v1", strrchr(base, ':') + 1);
	q = make(&apis[0], other);
	{
		CURLM *multi = curl_multi_init();
		llm_call *calls[2];
		llm_response r[2];
		int running = 1, news = 0, k, left;
		CURLMsg *m;

		memset(r, 0, sizeof(r));
		for (k = 0; k < 2; k++)
			cr_assert_eq(q->start(q, &req, multi, NULL, &calls[k], &r[k]), ECL_OK);
		k = 0;
		while (k < 2) {
			curl_multi_perform(multi, &running);
			while ((m = curl_multi_info_read(multi, &left)) != NULL) {
				void *priv;
				llm_call *c;
				llm_response done = {0};

				curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
				c = priv;
				curl_multi_remove_handle(multi, m->easy_handle);
				cr_assert_eq(q->finish(c, (int)m->data.result, &done),
					     ECL_EPROVIDER);
				cr_assert_eq(done.fault, LLM_FAULT_AGAIN, "%s", done.error);
				news += done.news;
				k++;
			}
			if (k < 2)
				curl_multi_poll(multi, NULL, 0, 100, NULL);
		}
		cr_assert_eq(news, 1);
		curl_multi_cleanup(multi);
	}
	q->destroy(q);
	p->destroy(p);
}

/* ---- prompt caching ------------------------------------------------------------------------ */

/* A system prompt of n bytes: words of 8 bytes ("word... "), n / 8 of them. */
static char *system_of(size_t n)
{
	char *s = malloc(n + 1);
	size_t i;

	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		s[i] = i % 8 == 7 ? ' ' : 'w';
	s[n] = '\0';
	return s;
}

Test(provider_faults, anthropic_marks_a_long_system_prompt_for_its_cache)
{
	llm_provider *p = make(&apis[1], url);
	char *longer = system_of(4096), *shorter = system_of(4095), *raw, *want;
	llm_response res[2];
	int k;

	for (k = 0; k < 2; k++) {
		llm_request req = request(hello);

		req.system = longer;
		memset(&res[k], 0, sizeof(res[k]));
		cr_assert_eq(p->complete(p, &req, &res[k]), ECL_OK, "%s", res[k].error);
		free(res[k].text);
	}
	raw = last_raw();
	want = malloc(strlen(longer) + 100);
	sprintf(want,
		",\"system\":[{\"type\":\"text\",\"text\":\"%s\",\"cache_control\":{\"type\":"
		"\"ephemeral\"}}],",
		longer);
	cr_assert(strstr(raw, want), "%s", raw);
	free(want);
	free(raw);
	/* written to the cache first, read from it then; both in tokens_in */
	cr_assert_eq(res[0].tokens_cache_write, 512);
	cr_assert_eq(res[0].tokens_cached, 0);
	cr_assert_eq(res[1].tokens_cached, 512);
	cr_assert_eq(res[1].tokens_cache_write, 0);
	cr_assert_eq(res[0].tokens_in, res[1].tokens_in);
	cr_assert_gt(res[0].tokens_in, 512);
	{
		/* a byte shorter: a plain string, not cached */
		llm_request req = request(hello);
		llm_response r = {0};

		req.system = shorter;
		cr_assert_eq(p->complete(p, &req, &r), ECL_OK, "%s", r.error);
		free(r.text);
		cr_assert_eq(r.tokens_cached + r.tokens_cache_write, 0);
		raw = last_raw();
		cr_assert(strstr(raw, ",\"system\":\"wwwwwww "), "%s", raw);
		free(raw);
	}
	free(longer);
	free(shorter);
	p->destroy(p);
}

Test(provider_faults, cached_input_tokens_are_read_from_each_usage)
{
	/* OpenAI caches by itself (the fake: the prefix a request shares with one before, here
	 * the whole of it: system and prompt), Ollama says nothing */
	static const long long want[3] = {5, 0, 0};
	size_t k;

	for (k = 0; k < 3; k++) {
		llm_provider *p = make(&apis[k], api_url(&apis[k]));
		llm_request req = request(hello);
		llm_response res = {0};

		req.system = k == 0 ? "cached system" : k == 1 ? "not cached" : "nor this";
		cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s", res.error);
		free(res.text);
		cr_assert_eq(res.tokens_cached, 0, "%s: the first time", apis[k].name);
		memset(&res, 0, sizeof(res));
		cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s", res.error);
		free(res.text);
		cr_assert_eq(res.tokens_cached, want[k], "%s: %lld", apis[k].name,
			     res.tokens_cached);
		cr_assert_eq(res.tokens_cache_write, 0, "%s", apis[k].name);
		cr_assert_geq(res.tokens_in, res.tokens_cached, "%s", apis[k].name);
		p->destroy(p);
	}
}

/* ---- streams ------------------------------------------------------------------------------- */

typedef struct pieces {
	int n;
	char text[4096];
} pieces;

static void on_piece(void *ctx, const char *text, size_t len)
{
	pieces *p = ctx;
	size_t have = strlen(p->text);

	cr_assert_lt(have + len, sizeof(p->text));
	memcpy(p->text + have, text, len);
	p->text[have + len] = '\0';
	p->n++;
}

Test(provider_faults, each_provider_streams_the_answer_as_it_comes)
{
	static const char *const asked[] = {
		"\"stream\":true,\"stream_options\":{\"include_usage\":true}",
		",\"stream\":true}",
		"\"stream\":true,",
	};
	size_t k;

	for (k = 0; k < 3; k++) {
		llm_provider *p = make(&apis[k], api_url(&apis[k]));
		llm_request req = request(hello);
		llm_response plain = {0}, streamed = {0};
		pieces got = {0};
		char *raw;

		req.system = "not cached"; /* (the first call's prefix is cached for the second) */
		cr_assert_eq(p->complete(p, &req, &plain), ECL_OK, "%s", plain.error);
		req.on_text = on_piece;
		req.text_ctx = &got;
		cr_assert_eq(p->complete(p, &req, &streamed), ECL_OK, "%s: %s", apis[k].name,
			     streamed.error);
		raw = last_raw();
		cr_assert(strstr(raw, asked[k]), "%s: %s", apis[k].name, raw);
		free(raw);
		/* the same answer, given in pieces as they came */
		cr_assert_str_eq(streamed.text, plain.text, "%s", apis[k].name);
		cr_assert_eq(streamed.len, plain.len);
		cr_assert_str_eq(got.text, plain.text, "%s", apis[k].name);
		cr_assert_geq(got.n, 3, "%s: %d pieces", apis[k].name, got.n);
		cr_assert_gt(streamed.ttft_us, 0, "%s", apis[k].name);
		cr_assert_eq(plain.ttft_us, 0);
		cr_assert_gt(streamed.tokens_in, 0, "%s", apis[k].name);
		cr_assert_eq(streamed.tokens_out, plain.tokens_out, "%s", apis[k].name);
		free(plain.text);
		free(streamed.text);
		p->destroy(p);
	}
}

Test(provider_faults, a_stream_cut_before_its_end_is_transient)
{
	size_t k;

	for (k = 0; k < 3; k++) {
		llm_provider *p = make(&apis[k], api_url(&apis[k]));
		llm_request req = request(hello);
		llm_response res = {0};
		pieces got = {0};

		req.on_text = on_piece;
		req.text_ctx = &got;
		ts_fake_mode(base, "{\"mode\": \"cut\", \"count\": 1}");
		cr_assert_eq(p->complete(p, &req, &res), ECL_EPROVIDER, "%s", apis[k].name);
		cr_assert_eq(res.fault, LLM_FAULT_TRANSIENT, "%s", apis[k].name);
		cr_assert(strstr(res.error, ": the stream was cut before its end, after "), "%s",
			  res.error);
		cr_assert_null(res.text);
		/* asked again, the whole answer */
		memset(&res, 0, sizeof(res));
		cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s", res.error);
		cr_assert(strstr(res.text, "word_count"), "%s", res.text);
		free(res.text);
		p->destroy(p);
	}
}

Test(provider_faults, anthropic_streams_its_tools_input)
{
	llm_provider *p = make(&apis[1], url);
	llm_request req = request(hello);
	llm_response res = {0};
	pieces got = {0};

	req.schema = SCHEMA;
	req.on_text = on_piece;
	req.text_ctx = &got;
	cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s", res.error);
	cr_assert(res.text[0] == '{' && strstr(res.text, "\"word_count\":"), "%s", res.text);
	cr_assert_str_eq(got.text, res.text);
	free(res.text);
	p->destroy(p);
}

/* ---- allocation failures ------------------------------------------------------------------ */

Test(provider_faults, every_allocation_of_an_http_provider_may_fail)
{
	size_t k;

	for (k = 0; k < 3; k++) {
		long n;
		int rc = -1;

		for (n = 0; n < 1000; n++) {
			llm_config cfg = {0};
			llm_provider *p = (llm_provider *)1;
			char err[256] = "";

			cfg.base_url = url;
			cfg.model = "fake-model";
			cfg.api_key = "sk-test";
			ecl_test_fail_alloc_after(n);
			rc = apis[k].make(&cfg, &p, err, sizeof(err));
			ecl_test_fail_alloc_after(-1);
			if (rc == ECL_OK) {
				p->destroy(p);
				break;
			}
			cr_assert_eq(rc, ECL_ENOMEM, "%s, allocation %ld: %d %s", apis[k].name, n,
				     rc, err);
			cr_assert_str_eq(err, "out of memory");
			cr_assert_null(p);
		}
		cr_assert_eq(rc, ECL_OK);
	}
}

Test(provider_faults, every_allocation_of_a_call_may_fail)
{
	size_t k;

	for (k = 0; k < 3; k++) {
		llm_provider *p = make(&apis[k], api_url(&apis[k]));
		long n;
		int rc = -1;

		for (n = 0; n < 5000; n++) {
			llm_request req = request(hello);
			llm_response res = {0};

			req.temperature = 0.5;
			req.max_tokens = 100;
			ecl_test_fail_alloc_after(n);
			rc = p->complete(p, &req, &res);
			ecl_test_fail_alloc_after(-1);
			if (rc == ECL_OK) {
				cr_assert(res.text && strstr(res.text, "word_count"), "%s",
					  res.text);
				free(res.text);
				break;
			}
			cr_assert_null(res.text);
			/* A reply that cannot be parsed for want of memory is no fault of the
			 * provider's (a "not JSON" would fail the step for good). */
			cr_assert_eq(rc, ECL_ENOMEM, "%s, allocation %ld: %d %s", apis[k].name, n,
				     rc, res.error ? res.error : "");
		}
		cr_assert_eq(rc, ECL_OK, "%s never got through", apis[k].name);
		cr_log_info("%s: a call needs %ld allocations", apis[k].name, n);
		p->destroy(p);
	}
}

/* The strict form of a schema with optional fields is made under every allocation failure:
 * each fails the call as out of memory, none sends a wrong schema. */
Test(provider_faults, every_allocation_of_a_strict_schema_may_fail)
{
	long n;
	int rc = -1;

	for (n = 0; n < 5000; n++) {
		llm_provider *p = make(&apis[0], url); /* a cache of strict forms of its own */
		llm_request req = request(hello);
		llm_response res = {0};

		req.schema = SCHEMA;
		ecl_test_fail_alloc_after(n);
		rc = p->complete(p, &req, &res);
		ecl_test_fail_alloc_after(-1);
		p->destroy(p);
		if (rc == ECL_OK) {
			char *raw = last_raw();

			free(res.text);
			cr_assert(strstr(raw, "\"schema\":" STRICT "}}}"), "%s", raw);
			free(raw);
			break;
		}
		cr_assert_eq(rc, ECL_ENOMEM, "allocation %ld: %d %s", n, rc, res.error);
	}
	cr_assert_eq(rc, ECL_OK);
}

/* A streamed call under every allocation failure: out of memory, or the whole answer. */
Test(provider_faults, every_allocation_of_a_streamed_call_may_fail)
{
	size_t k;

	for (k = 0; k < 3; k++) {
		llm_provider *p = make(&apis[k], api_url(&apis[k]));
		long n;
		int rc = -1;

		for (n = 0; n < 5000; n++) {
			llm_request req = request(hello);
			llm_response res = {0};
			pieces got = {0};

			req.on_text = on_piece;
			req.text_ctx = &got;
			ecl_test_fail_alloc_after(n);
			rc = p->complete(p, &req, &res);
			ecl_test_fail_alloc_after(-1);
			if (rc == ECL_OK) {
				cr_assert(strstr(res.text, "word_count"), "%s", res.text);
				free(res.text);
				break;
			}
			cr_assert_null(res.text);
			cr_assert_eq(rc, ECL_ENOMEM, "%s, allocation %ld: %d %s", apis[k].name, n,
				     rc, res.error);
		}
		cr_assert_eq(rc, ECL_OK, "%s never got through", apis[k].name);
		p->destroy(p);
	}
}

typedef struct ends {
	int n;
	char id[4][ECL_ID_MAX];
	char status[4][32];
} ends;

static int on_end(void *ctx, const ecl_batch_end *end)
{
	ends *x = ctx;

	if (x->n < 4) {
		snprintf(x->id[x->n], sizeof(x->id[0]), "%s", end->run_id);
		snprintf(x->status[x->n], sizeof(x->status[0]), "%s", end->status);
	}
	x->n++;
	return 0;
}

Test(provider_faults, every_allocation_of_a_batch_over_http_may_fail, .timeout = 300)
{
	static const char *const inputs[] = {"{\"wf\": \"a\", \"topic\": \"a\"}",
					     "{\"wf\": \"b\", \"topic\": \"b\"}"};
	long n;
	int done = 0;

	for (n = 0; n < 20000 && !done; n++) {
		ecl_options o = ts_options(db, NULL, NULL);
		ecl_engine *e;
		ends x = {0};
		int rc, i;

		o.provider = "openai";
		o.base_url = url;
		o.model = "fake-model";
		o.retry_base_ms = 1;
		snprintf(db, sizeof(db), "%s/oom-%ld.db", dir, n);
		e = ts_open(&o);
		ecl_test_fail_alloc_after(n);
		rc = ecl_batch_drive(e, ts_workflow("bench-critique-revise"), inputs, 2, 2, on_end,
				     &x);
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM || rc == ECL_ESTORE,
			  "allocation %ld: status %d (%s)", n, rc, ecl_engine_errmsg(e));
		done = rc == ECL_OK && x.n == 2 && !strcmp(x.status[0], "completed") &&
		       !strcmp(x.status[1], "completed");
		for (i = 0; i < x.n && i < 4; i++) {
			if (!x.id[i][0] || !strcmp(x.status[i], "completed"))
				continue;
			rc = ecl_run_drive(e, x.id[i]);
			cr_assert_eq(rc, ECL_OK, "allocation %ld: run %s did not recover: %s", n,
				     x.id[i], ecl_engine_errmsg(e));
		}
		ecl_engine_close(e);
		cr_assert_eq(
			ts_sql_int(db, "SELECT count(*) FROM runs WHERE status != 'completed'"), 0,
			"allocation %ld: a run did not complete", n);
		remove(db);
	}
	cr_assert(done, "no batch got through in %ld allocations", n);
}

/* ---- the offline provider and the benchmark's fake ----------------------------------------- */

Test(provider_faults, every_allocation_of_the_in_process_providers_may_fail)
{
	static const make_fn makers[] = {llm_offline_new, llm_fake_new};
	static const char *const prompt =
		"WF:wf-1\nTASK:generate\nTOPIC:tea\nand a first line longer than eighty bytes, "
		"which the offline provider cuts for the text it answers";
	const llm_message msgs[] = {{"user", prompt}};
	size_t k;

	for (k = 0; k < 2; k++) {
		llm_config cfg = {0};
		llm_provider *p = NULL;
		char err[128] = "", *ref;
		long n;
		int rc = -1;

		for (n = 0; n < 100; n++) {
			ecl_test_fail_alloc_after(n);
			rc = makers[k](&cfg, &p, err, sizeof(err));
			ecl_test_fail_alloc_after(-1);
			if (rc == ECL_OK)
				break;
			cr_assert_eq(rc, ECL_ENOMEM);
			cr_assert_str_eq(err, "out of memory");
			cr_assert_null(p);
		}
		cr_assert_eq(rc, ECL_OK);
		{
			llm_request req = request(msgs);
			llm_response res = {0};

			cr_assert_eq(p->complete(p, &req, &res), ECL_OK);
			ref = res.text;
			cr_assert(strstr(ref, "\"content\""), "%s", ref);
		}
		for (n = 0; n < 1000; n++) {
			llm_request req = request(msgs);
			llm_response res = {0};

			ecl_test_fail_alloc_after(n);
			rc = p->complete(p, &req, &res);
			ecl_test_fail_alloc_after(-1);
			if (rc == ECL_OK) {
				/* never an answer cut short */
				cr_assert_str_eq(res.text, ref, "%s, allocation %ld", p->name, n);
				free(res.text);
				break;
			}
			cr_assert_eq(rc, ECL_ENOMEM, "%s, allocation %ld: %d %s", p->name, n, rc,
				     res.error);
			cr_assert_null(res.text);
		}
		cr_assert_eq(rc, ECL_OK);
		free(ref);
		p->destroy(p);
	}
}

Test(provider_faults, the_fake_names_a_prompt_it_cannot_answer)
{
	llm_config cfg = {0};
	llm_provider *p = NULL;
	llm_request req = request(hello);
	llm_response res = {0};
	char err[128];

	cr_assert_eq(llm_fake_new(&cfg, &p, err, sizeof(err)), ECL_OK);
	cr_assert_eq(p->complete(p, &req, &res), ECL_EPROVIDER);
	cr_assert_eq(res.fault, LLM_FAULT_PERMANENT);
	cr_assert_str_eq(res.error, "fake: the prompt of step `generate` has no TASK:generate, "
				    "critique or revise line with a WF: line");
	p->destroy(p);
}

/* The critique counter of a WF id; the fake answers revise twice, then pass. */
static int critique_of(llm_provider *p, const char *wf_id)
{
	char prompt[128];
	const llm_message msgs[] = {{"user", prompt}};
	llm_request req = request(msgs);
	llm_response res = {0};
	int k = -1;

	snprintf(prompt, sizeof(prompt), "WF:%s\nTASK:critique\nCONTENT:x", wf_id);
	req.system = NULL;
	cr_assert_eq(p->complete(p, &req, &res), ECL_OK, "%s", res.error);
	cr_assert_eq(sscanf(strstr(res.text, "Critique "), "Critique %d", &k), 1, "%s", res.text);
	free(res.text);
	return k;
}

Test(provider_faults, the_fake_forgets_its_ids_past_what_it_remembers, .timeout = 300)
{
	llm_config cfg = {0};
	llm_provider *p = NULL;
	char err[128], id[32];
	int i;

	cr_assert_eq(llm_fake_new(&cfg, &p, err, sizeof(err)), ECL_OK);
	cr_assert_eq(critique_of(p, "first"), 1);
	cr_assert_eq(critique_of(p, "first"), 2);
	/* 100,000 ids in all, the reference fake's memory, then one more. */
	for (i = 1; i < 100000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		critique_of(p, id);
	}
	cr_assert_eq(critique_of(p, "first"), 3, "still remembered");
	cr_assert_eq(critique_of(p, "one-too-many"), 1);
	cr_assert_eq(critique_of(p, "first"), 1, "forgotten with the others");
	p->destroy(p);
}

/* The fake's table of WF ids doubles as ids come; a doubling that runs out of memory fails
 * the call as out of memory and keeps every count. */
Test(provider_faults, the_fake_keeps_its_counts_when_its_table_cannot_grow)
{
	static const char *const prompt = "WF:the-new-one\nTASK:critique\nCONTENT:x";
	const llm_message msgs[] = {{"user", prompt}};
	llm_config cfg = {0};
	llm_provider *p = NULL;
	char err[128], id[32];
	long n;
	int i, rc = -1;

	cr_assert_eq(llm_fake_new(&cfg, &p, err, sizeof(err)), ECL_OK);
	cr_assert_eq(critique_of(p, "first"), 1);
	for (i = 1; i < 512; i++) { /* half the first table: the next new id doubles it */
		snprintf(id, sizeof(id), "id-%d", i);
		critique_of(p, id);
	}
	for (n = 0; n < 100 && rc != ECL_OK; n++) {
		llm_request req = request(msgs);
		llm_response res = {0};

		req.system = NULL;
		ecl_test_fail_alloc_after(n);
		rc = p->complete(p, &req, &res);
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM, "allocation %ld: %d", n, rc);
		cr_assert(rc == ECL_OK || !res.text);
		free(res.text);
	}
	cr_assert_eq(rc, ECL_OK);
	cr_assert_eq(critique_of(p, "first"), 2);
	cr_assert_eq(critique_of(p, "id-511"), 2);
	p->destroy(p);
}
