/*
 * llm_http.c - the HTTP providers over libcurl's easy interface: openai (any OpenAI-compatible
 * /v1/chat/completions endpoint), anthropic (the Messages API) and ollama (/api/chat). What
 * differs between them is a small table of functions: the path, the headers, the body and
 * where the answer is in the reply. Errors never contain the API key.
 *
 * The step's JSON Schema goes with each request where the API can say it: OpenAI's
 * response_format json_schema (strict, which wants every property required: an optional field
 * becomes nullable), Anthropic's forced tool whose input is the answer, Ollama's format. A
 * server that refuses OpenAI's json_schema (an older OpenAI-compatible one) is asked for
 * json_object from then on, for the rest of the process.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "internal.h"

#define NET_TIMEOUT_MS         120000L
#define NET_CONNECT_TIMEOUT_MS 10000L
#define NET_MAX_RESPONSE       (8u << 20)
#define NET_STRICT_MAX         64 /* strict schemas kept per provider */
#define NET_PLAIN_MAX          16 /* URLs remembered to refuse json_schema */
#define NET_PLAIN_URL          512
/* Anthropic: a system prompt this long or longer is marked for the prompt cache. Anthropic
 * caches a prefix of at least 1024 tokens (2048 for its Haiku models) and refuses nothing
 * shorter, it only does not cache it; at about 4 bytes a token, 4096 bytes estimate 1024. */
#define NET_CACHE_MIN_BYTES 4096

struct net;

/* A streamed answer as it arrives: server-sent events (OpenAI, Anthropic) or one JSON object
 * a line (Ollama), read a whole line at a time from the response body. */
typedef struct stream {
	int on;         /* the call asked for a stream */
	size_t scanned; /* bytes of the body read into lines */
	buf text;       /* the answer's text so far */
	buf tool;       /* Anthropic: the forced tool's input JSON so far */
	int tool_used;  /* Anthropic: the answer is the tool's input */
	int ended;      /* the stream's own end came ([DONE], message_stop, done) */
	long long t0_us, ttft_us;
	long long tokens_in, tokens_out, cached, cache_write;
	const llm_request *req;
} stream;

typedef struct http_api {
	const char *name;
	const char *default_base; /* NULL: the base URL is required */
	const char *path;
	int (*headers)(const char *key, struct curl_slist **list);
	/* Append the request body for req to out (out->oom when out of memory), with
	 * req->schema when schema is set. */
	void (*body)(struct net *n, const char *model, const llm_request *req, int schema,
		     int streamed, buf *out);
	/* One event (a JSON object) of a streamed answer. */
	void (*event)(stream *s, const cJSON *ev);
	int sse; /* events come as server-sent events ("data: ..." lines), else one a line */
	/* The answer text of a 2xx reply (allocated), and its token counts; NULL with why set
	 * when the reply has no answer where the API puts it, NULL alone when out of memory. */
	char *(*answer)(cJSON *root, llm_response *res, const char **why);
	/* servers of the API may refuse the schema (OpenAI-compatible ones that are not
	 * OpenAI): a refusal is learned, and the request sent again without it */
	int schema_refusable;
} http_api;

/* A piece of the answer's text (or of the tool's input) arrived. */
static void stream_text(stream *s, const char *text, size_t len, int tool)
{
	if (!len)
		return;
	if (!s->ttft_us)
		s->ttft_us = clock_mono_us() - s->t0_us + 1; /* never 0: 0 says none came */
	buf_append(tool ? &s->tool : &s->text, text, len);
	if (s->req->on_text)
		s->req->on_text(s->req->text_ctx, text, len);
}

/* The string at obj.key, or NULL. */
static const char *string_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

typedef struct net {
	llm_provider base;
	const http_api *api;
	struct net_call *pool; /* idle calls */
	int npool;
	CURLSH **shares;      /* connection caches, each shared by NET_SHARE_CALLS easy handles */
	int nshares, nshared; /* nshared: handles on the last share */
	struct curl_slist *headers;
	char *url, *model, *key;
	/* The URL parsed once, given to every easy handle (CURLOPT_CURLU): from a URL string,
	 * libcurl parses it again and rebuilds it at every transfer, about 10,000 instructions
	 * per call (callgrind). NULL when libcurl's URL parser refuses the URL: the handles get
	 * the string, and the transfers fail as they always did. */
	CURLU *uh;
	long timeout_ms, connect_timeout_ms;
	/* openai: the server refuses json_schema (this provider learned it, or another of the
	 * process did for the same URL: see plain_*) */
	int plain;
	/* openai: the strict forms of the schemas sent (a schema is a constant of the generated
	 * C, sent again at every call of its step): made once each */
	struct {
		const char *schema; /* the address it was given at */
		char *copy;         /* its text then */
		char *strict;
	} strict[NET_STRICT_MAX];
	int nstrict;
	char host[256]; /* server.address and server.port of traces ("" and 0: not known) */
	int port;
} net;

/* The request bodies are written straight into the call's buffer, in the order and with the
 * escapes cJSON_PrintUnformatted gave them: building a cJSON tree of the request and printing
 * it cost about 13,000 instructions per call (callgrind, variant scale), most of it in
 * allocations and in printing the strings a byte at a time. */

/* s as a JSON string; a missing string fails the body, as it failed cJSON_CreateString. */
static void put_str(buf *b, const char *s)
{
	if (!s)
		b->oom = 1;
	else
		buf_json_str(b, s, strlen(s));
}

/* Append a string literal. */
#define PUT_LIT(b, lit) buf_append((b), lit, sizeof(lit) - 1)

/* "messages":[{"role": ..., "content": ...}, ...], the system prompt first unless skipped. */
static void put_messages(buf *b, const llm_request *req, int with_system)
{
	int first = with_system && req->system ? -1 : 0, i;

	PUT_LIT(b, "\"messages\":[");
	for (i = first; i < req->nmessages; i++) {
		if (i > first)
			PUT_LIT(b, ",");
		PUT_LIT(b, "{\"role\":");
		put_str(b, i < 0 ? "system" : req->messages[i].role);
		PUT_LIT(b, ",\"content\":");
		put_str(b, i < 0 ? req->system : req->messages[i].text);
		PUT_LIT(b, "}");
	}
	PUT_LIT(b, "]");
}

/* ---- OpenAI-compatible -------------------------------------------------------------------- */

static int openai_headers(const char *key, struct curl_slist **list)
{
	char auth[600];

	if (http_header(list, "Content-Type", "application/json") != ECL_OK)
		return ECL_ENOMEM;
	if (!key)
		return ECL_OK;
	snprintf(auth, sizeof(auth), "Bearer %s", key);
	return http_header(list, "Authorization", auth);
}

/* The name the APIs give the schema (OpenAI) or the tool (Anthropic): the step's, which is
 * an identifier, cut to the 64 characters both allow. */
static void put_schema_name(buf *b, const llm_request *req)
{
	const char *name = req->step ? req->step->name : "answer";
	size_t len = strlen(name);

	buf_json_str(b, name, len > 64 ? 64 : len);
}

/* OpenAI's strict form of an ecl schema (a new string), as its structured outputs require:
 * every property in "required", an optional one nullable instead (its type [T, "null"], and
 * null among an enum's values; ecl reads a null as a missing field). NULL when out of memory
 * or when the schema is no JSON object with properties (not eclc's: sent as it is). */
static char *openai_strict(const char *schema, int *oom)
{
	cJSON *root = json_parse_str(schema, oom), *props, *prop, *req, *all;
	char *out = NULL;

	props = cJSON_GetObjectItemCaseSensitive(root, "properties");
	req = cJSON_GetObjectItemCaseSensitive(root, "required");
	if (!cJSON_IsObject(props)) {
		cJSON_Delete(root);
		return NULL;
	}
	if (!(all = cJSON_CreateArray()))
		goto oom;
	cJSON_ArrayForEach (prop, props) {
		cJSON *r, *type = cJSON_GetObjectItemCaseSensitive(prop, "type");
		cJSON *choices = cJSON_GetObjectItemCaseSensitive(prop, "enum"), *pair;
		int required = 0;

		cJSON_ArrayForEach (r, req)
			required |= cJSON_IsString(r) && !strcmp(r->valuestring, prop->string);
		if (!cJSON_AddItemToArray(all, cJSON_CreateString(prop->string)))
			goto oom;
		if (required || !cJSON_IsString(type))
			continue;
		if (!(pair = cJSON_CreateArray()) ||
		    !cJSON_AddItemToArray(pair, cJSON_CreateString(type->valuestring)) ||
		    !cJSON_AddItemToArray(pair, cJSON_CreateString("null")) ||
		    !cJSON_ReplaceItemInObjectCaseSensitive(prop, "type", pair)) {
			cJSON_Delete(pair);
			goto oom;
		}
		if (cJSON_IsArray(choices) && !cJSON_AddItemToArray(choices, cJSON_CreateNull()))
			goto oom;
	}
	if (req ? !cJSON_ReplaceItemInObjectCaseSensitive(root, "required", all)
		: !cJSON_AddItemToObject(root, "required", all)) {
		cJSON_Delete(all);
		all = NULL;
		goto oom;
	}
	all = NULL;
	if (!(out = cJSON_PrintUnformatted(root)))
		goto oom;
	cJSON_Delete(root);
	return out;
oom:
	cJSON_Delete(all);
	cJSON_Delete(root);
	*oom = 1;
	return NULL;
}

/* The strict form of schema, made once per provider and kept (freed with it); NULL when out
 * of memory or the schema has no strict form (then it is sent as it is). A schema is known
 * by its address and its text, so that another put where a freed one was is not taken for
 * it. When the cache is full, the form is made for the call and left in *own to free. */
static const char *strict_of(net *n, const char *schema, int *oom, char **own)
{
	char *strict, *copy;
	int i;

	*own = NULL;
	for (i = 0; i < n->nstrict; i++)
		if (n->strict[i].schema == schema && !strcmp(n->strict[i].copy, schema))
			return n->strict[i].strict;
	if (!(strict = openai_strict(schema, oom)))
		return NULL;
	if (n->nstrict == NET_STRICT_MAX || !(copy = mem_strdup(schema)))
		return *own = strict; /* uncached: correct, only slower */
	n->strict[n->nstrict].schema = schema;
	n->strict[n->nstrict].copy = copy;
	n->strict[n->nstrict++].strict = strict;
	return strict;
}

static void openai_body(struct net *n, const char *model, const llm_request *req, int schema,
			int streamed, buf *b)
{
	PUT_LIT(b, "{");
	put_messages(b, req, 1);
	PUT_LIT(b, ",\"model\":");
	put_str(b, model);
	if (streamed) /* the usage comes in a last chunk only when asked for */
		PUT_LIT(b, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
	if (req->temperature >= 0) {
		PUT_LIT(b, ",\"temperature\":");
		json_number(b, req->temperature);
	}
	if (req->max_tokens > 0) {
		PUT_LIT(b, ",\"max_tokens\":");
		json_number(b, req->max_tokens);
	}
	if (schema) {
		int oom = 0;
		char *own;
		const char *strict = strict_of(n, req->schema, &oom, &own);

		PUT_LIT(b, ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
			   "\"name\":");
		put_schema_name(b, req);
		PUT_LIT(b, ",\"strict\":true,\"schema\":");
		buf_puts(b, strict ? strict : req->schema);
		PUT_LIT(b, "}}}");
		cJSON_free(own);
		b->oom |= oom;
		return;
	}
	PUT_LIT(b, ",\"response_format\":{\"type\":\"json_object\"}}");
}

static long long count(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

/* The string of a string item, taken out of the tree (which frees a NULL valuestring as
 * nothing): the answer is not copied. Both were allocated through the same hooks. */
static char *take_string(cJSON *item)
{
	char *s = item->valuestring;

	item->valuestring = NULL;
	return s;
}

static char *openai_answer(cJSON *root, llm_response *res, const char **why)
{
	cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

	res->tokens_in = count(usage, "prompt_tokens");
	res->tokens_out = count(usage, "completion_tokens");
	/* prompt_tokens counts them too */
	res->tokens_cached = count(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"),
				   "cached_tokens");
	if (!cJSON_IsString(content)) {
		*why = "the response has no choices[0].message.content";
		return NULL;
	}
	return take_string(content);
}

/* ---- Anthropic ---------------------------------------------------------------------------- */

static int anthropic_headers(const char *key, struct curl_slist **list)
{
	if (http_header(list, "Content-Type", "application/json") != ECL_OK ||
	    http_header(list, "anthropic-version", "2023-06-01") != ECL_OK)
		return ECL_ENOMEM;
	return key ? http_header(list, "x-api-key", key) : ECL_OK;
}

static void anthropic_body(struct net *n, const char *model, const llm_request *req, int schema,
			   int streamed, buf *b)
{
	PUT_LIT(b, "{");
	put_messages(b, req, 0);
	PUT_LIT(b, ",\"model\":");
	put_str(b, model);
	PUT_LIT(b, ",\"max_tokens\":");
	json_number(b, req->max_tokens > 0 ? req->max_tokens : 1024);
	if (req->system && strlen(req->system) >= NET_CACHE_MIN_BYTES) {
		/* a long system prompt, the same at every visit of the step: cached (with the
		 * tool before it, which is the step's too), read back at a tenth of the price */
		PUT_LIT(b, ",\"system\":[{\"type\":\"text\",\"text\":");
		put_str(b, req->system);
		PUT_LIT(b, ",\"cache_control\":{\"type\":\"ephemeral\"}}]");
	} else if (req->system) {
		PUT_LIT(b, ",\"system\":");
		put_str(b, req->system);
	}
	if (req->temperature >= 0) {
		PUT_LIT(b, ",\"temperature\":");
		json_number(b, req->temperature);
	}
	if (schema) {
		/* a tool the model must call, whose input is the answer */
		PUT_LIT(b, ",\"tools\":[{\"name\":");
		put_schema_name(b, req);
		PUT_LIT(b, ",\"description\":\"Give the answer.\",\"input_schema\":");
		buf_puts(b, req->schema);
		PUT_LIT(b, "}],\"tool_choice\":{\"type\":\"tool\",\"name\":");
		put_schema_name(b, req);
		PUT_LIT(b, "}");
	}
	if (streamed)
		PUT_LIT(b, ",\"stream\":true");
	(void)n;
	PUT_LIT(b, "}");
}

/* The input of the first tool_use block (the answer, when the schema went as a tool), else the
 * text blocks joined: a reply may hold thinking blocks and split its text in several. */
static char *anthropic_answer(cJSON *root, llm_response *res, const char **why)
{
	const cJSON *block, *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	buf text = {0};
	int found = 0;

	/* input_tokens are those after the last cache breakpoint: the prompt's are all three */
	res->tokens_cached = count(usage, "cache_read_input_tokens");
	res->tokens_cache_write = count(usage, "cache_creation_input_tokens");
	res->tokens_in =
		count(usage, "input_tokens") + res->tokens_cached + res->tokens_cache_write;
	res->tokens_out = count(usage, "output_tokens");
	cJSON_ArrayForEach (block, cJSON_GetObjectItemCaseSensitive(root, "content")) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
		const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");

		if (cJSON_IsString(type) && !strcmp(type->valuestring, "tool_use") && input)
			return cJSON_PrintUnformatted(input);
	}
	cJSON_ArrayForEach (block, cJSON_GetObjectItemCaseSensitive(root, "content")) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "text");

		if (cJSON_IsString(t) &&
		    (!cJSON_IsString(type) || !strcmp(type->valuestring, "text"))) {
			buf_puts(&text, t->valuestring);
			found = 1;
		}
	}
	if (!found) {
		*why = "the response has no content[].text";
		return NULL;
	}
	if (text.oom) {
		buf_free(&text);
		return NULL;
	}
	if (!text.data)
		return mem_strdup("");
	return text.data;
}

/* ---- Ollama ------------------------------------------------------------------------------- */

static int ollama_headers(const char *key, struct curl_slist **list)
{
	(void)key;
	return http_header(list, "Content-Type", "application/json");
}

static void ollama_body(struct net *n, const char *model, const llm_request *req, int schema,
			int streamed, buf *b)
{
	int first = 1;

	(void)n;
	PUT_LIT(b, "{");
	put_messages(b, req, 1);
	PUT_LIT(b, ",\"model\":");
	put_str(b, model);
	if (streamed)
		PUT_LIT(b, ",\"stream\":true,\"format\":");
	else
		PUT_LIT(b, ",\"stream\":false,\"format\":");
	if (schema)
		buf_puts(b, req->schema);
	else
		PUT_LIT(b, "\"json\"");
	PUT_LIT(b, ",\"options\":{");
	if (req->temperature >= 0) {
		PUT_LIT(b, "\"temperature\":");
		json_number(b, req->temperature);
		first = 0;
	}
	if (req->max_tokens > 0) {
		if (!first)
			PUT_LIT(b, ",");
		PUT_LIT(b, "\"num_predict\":");
		json_number(b, req->max_tokens);
	}
	PUT_LIT(b, "}}");
}

static char *ollama_answer(cJSON *root, llm_response *res, const char **why)
{
	cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");

	res->tokens_in = count(root, "prompt_eval_count");
	res->tokens_out = count(root, "eval_count");
	if (!cJSON_IsString(content)) {
		*why = "the response has no message.content";
		return NULL;
	}
	return take_string(content);
}

/* ---- streamed answers ---------------------------------------------------------------------- */

/* OpenAI: chunks of choices[0].delta.content, then one with the usage (stream_options), then
 * "data: [DONE]" (read by the scanner). */
static void openai_event(stream *s, const cJSON *ev)
{
	const cJSON *choice =
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ev, "choices"), 0);
	const char *text = string_at(cJSON_GetObjectItemCaseSensitive(choice, "delta"), "content");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(ev, "usage");

	if (text)
		stream_text(s, text, strlen(text), 0);
	if (cJSON_IsObject(usage)) {
		s->tokens_in = count(usage, "prompt_tokens");
		s->tokens_out = count(usage, "completion_tokens");
		s->cached = count(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"),
				  "cached_tokens");
	}
}

/* Anthropic: message_start (the input's usage), content blocks whose deltas are text or, for
 * the tool, pieces of its input's JSON, message_delta (the output's usage), message_stop. */
static void anthropic_event(stream *s, const cJSON *ev)
{
	const char *type = string_at(ev, "type");
	const cJSON *usage;

	if (!type)
		return;
	if (!strcmp(type, "message_start")) {
		usage = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(ev, "message"), "usage");
		s->cached = count(usage, "cache_read_input_tokens");
		s->cache_write = count(usage, "cache_creation_input_tokens");
		s->tokens_in = count(usage, "input_tokens") + s->cached + s->cache_write;
	} else if (!strcmp(type, "content_block_start")) {
		const char *kind =
			string_at(cJSON_GetObjectItemCaseSensitive(ev, "content_block"), "type");

		s->tool_used |= kind && !strcmp(kind, "tool_use");
	} else if (!strcmp(type, "content_block_delta")) {
		const cJSON *delta = cJSON_GetObjectItemCaseSensitive(ev, "delta");
		const char *text = string_at(delta, "text");
		const char *json = string_at(delta, "partial_json");

		if (text)
			stream_text(s, text, strlen(text), 0);
		if (json)
			stream_text(s, json, strlen(json), 1);
	} else if (!strcmp(type, "message_delta")) {
		s->tokens_out =
			count(cJSON_GetObjectItemCaseSensitive(ev, "usage"), "output_tokens");
	} else if (!strcmp(type, "message_stop")) {
		s->ended = 1;
	}
}

/* Ollama: a line per piece of message.content, the last with done and the counts. */
static void ollama_event(stream *s, const cJSON *ev)
{
	const char *text = string_at(cJSON_GetObjectItemCaseSensitive(ev, "message"), "content");

	if (text)
		stream_text(s, text, strlen(text), 0);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "done"))) {
		s->tokens_in = count(ev, "prompt_eval_count");
		s->tokens_out = count(ev, "eval_count");
		s->ended = 1;
	}
}

static const http_api apis[] = {
	{"openai", "https://api.openai.com/v1", "/chat/completions", openai_headers, openai_body,
	 openai_event, 1, openai_answer, 1},
	{"anthropic", "https://api.anthropic.com/v1", "/messages", anthropic_headers,
	 anthropic_body, anthropic_event, 1, anthropic_answer, 0},
	{"ollama", "http://127.0.0.1:11434", "/api/chat", ollama_headers, ollama_body, ollama_event,
	 0, ollama_answer, 0},
};

/* ---- servers that refuse a schema --------------------------------------------------------- */

/* The URLs whose server refused json_schema, for every provider of the process (the engines
 * of `ecl serve` each have their own, in threads of their own). A URL too long to keep here,
 * or past the first NET_PLAIN_MAX, is remembered by its provider alone. */
static pthread_mutex_t plain_lock = PTHREAD_MUTEX_INITIALIZER;
static char plain_urls[NET_PLAIN_MAX][NET_PLAIN_URL];
static int nplain;

/* Whether the server of n refuses json_schema, as n or another provider learned. */
static int plain_known(net *n)
{
	int i;

	if (n->plain)
		return 1;
	pthread_mutex_lock(&plain_lock);
	for (i = 0; i < nplain && !n->plain; i++)
		n->plain = !strcmp(plain_urls[i], n->url);
	pthread_mutex_unlock(&plain_lock);
	return n->plain;
}

/* The server of n refused json_schema: 1 when no provider of the process knew it (then it is
 * news to say), else 0. */
static int plain_learn(net *n)
{
	int i, news = 1;

	n->plain = 1;
	pthread_mutex_lock(&plain_lock);
	for (i = 0; i < nplain && news; i++)
		news = strcmp(plain_urls[i], n->url) != 0;
	if (news && nplain < NET_PLAIN_MAX && strlen(n->url) < NET_PLAIN_URL)
		strcpy(plain_urls[nplain++], n->url);
	pthread_mutex_unlock(&plain_lock);
	return news;
}

/* Whether a 400 reply (its body) refuses the schema: it names response_format or
 * json_schema, as OpenAI-compatible servers do ("Invalid parameter: 'response_format' of
 * type 'json_schema' is not supported with this model", "unknown variant `json_schema`").
 * A server that finds the schema beyond what its strict mode supports says so in the same
 * words, and is asked for json_object as well: ecl checks the answer either way. */
static int refuses_schema(const buf *body)
{
	return body->data &&
	       (strstr(body->data, "response_format") || strstr(body->data, "json_schema"));
}

/* ---- the transfer ------------------------------------------------------------------------- */

/* One call: its easy handle, the body it sends and the reply it receives. Calls are kept in
 * a free list after use, so a busy provider reuses its easy handles instead of making new
 * ones. The blocking interface uses one of them too. */
typedef struct net_call {
	llm_call base;
	struct net_call *next_free;
	CURL *curl;
	buf send;         /* the request body */
	http_body answer; /* the response body, at most NET_MAX_RESPONSE bytes */
	long retry_after_ms;
	const llm_request *req;    /* blocking calls only: for the tick */
	int schema_sent;           /* the request carries the step's JSON Schema */
	struct curl_slist *traced; /* a traced call's headers: the provider's and traceparent */
	stream st;                 /* a streamed answer, read as it comes */
	const http_api *api;
} net_call;

#define NET_POOL_MAX 4096 /* idle calls kept for reuse */

/* The longest Retry-After kept as it is, in seconds: a week, which still fits a 32-bit long in
 * milliseconds. The driver never waits that long (it stops the step when the wait is longer
 * than the call's timeout); the value only has to say how long the server asked for. */
#define NET_RETRY_AFTER_MAX_S 604800L

/* Retry-After in ms, or -1 when it is neither form RFC 9110 (10.2.3) allows: delay-seconds
 * (digits only; more than a week counts as a week) or an HTTP-date (read by curl_getdate;
 * a date in the past means at once). One parser for both forms, so that a long wait is a long
 * wait whichever form the server chose. */
static long retry_after(const char *v, size_t len)
{
	char text[128];
	time_t when, now;
	size_t i;

	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' ||
		       v[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, v, len);
	text[len] = '\0';
	if (isdigit((unsigned char)text[0])) {
		long s = 0;

		for (i = 0; i < len; i++) {
			if (!isdigit((unsigned char)text[i]))
				return -1;
			if (s < NET_RETRY_AFTER_MAX_S)
				s = s * 10 + (text[i] - '0');
		}
		return (s > NET_RETRY_AFTER_MAX_S ? NET_RETRY_AFTER_MAX_S : s) * 1000L;
	}
	when = curl_getdate(text, NULL);
	if (when == -1)
		return -1;
	now = time(NULL);
	if (when <= now)
		return 0;
	return when - now > NET_RETRY_AFTER_MAX_S ? NET_RETRY_AFTER_MAX_S * 1000L
						  : (long)(when - now) * 1000L;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	net_call *r = ctx;
	size_t len = size * n;

	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		const char *v = data + 12;

		while (v < data + len && *v == ' ')
			v++;
		r->retry_after_ms = retry_after(v, len - (size_t)(v - data));
	}
	return len;
}

/* Read the complete lines of a streamed answer that arrived since the last time: each event
 * to the API's reader. A line that is no JSON is skipped (SSE comments, event: lines). */
static void stream_scan(net_call *c)
{
	stream *s = &c->st;
	const char *data = c->answer.data.data;
	size_t len = c->answer.data.len;
	const char *nl;

	while (s->scanned < len && (nl = memchr(data + s->scanned, '\n', len - s->scanned))) {
		const char *line = data + s->scanned;
		size_t n = (size_t)(nl - line);
		cJSON *ev;
		int oom = 0;

		s->scanned += n + 1;
		if (n && line[n - 1] == '\r')
			n--;
		if (c->api->sse) {
			if (n < 5 || memcmp(line, "data:", 5) != 0)
				continue;
			line += 5;
			n -= 5;
			while (n && *line == ' ')
				line++, n--;
			if (n == 6 && !memcmp(line, "[DONE]", 6)) {
				s->ended = 1;
				continue;
			}
		}
		if ((ev = json_parse(line, n, &oom)) != NULL) {
			c->api->event(s, ev);
			cJSON_Delete(ev);
		}
		if (oom)
			s->text.oom = 1; /* the call fails as out of memory */
	}
}

/* libcurl's write function: the body gathered, and a streamed answer read as it comes. */
static size_t on_write(char *data, size_t size, size_t n, void *ctx)
{
	net_call *c = ctx;
	size_t got = http_body_write(data, size, n, &c->answer);
	long status = 0;

	if (got && c->st.on) {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) /* else an error's body, read at the end */
			stream_scan(c);
	}
	return got;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	net_call *r = ctx;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return r->req && r->req->tick && r->req->tick(r->req->tick_ctx);
}

/* Replace the key wherever it appears in s, and a prefix of it cut off at the end of s. */
static void scrub(char *s, const char *key)
{
	size_t klen, slen, k;
	char *p;

	if (!key || !*key)
		return;
	klen = strlen(key);
	while ((p = strstr(s, key)) != NULL)
		memset(p, '*', klen);
	slen = strlen(s);
	for (k = klen - 1; k >= 4; k--)
		if (slen >= k && memcmp(s + slen - k, key, k) == 0) {
			memset(s + slen - k, '*', k);
			break;
		}
}

static int fail(net *n, llm_response *res, llm_fault fault, const char *detail)
{
	size_t dlen = strlen(detail) + 1;
	char *clean = mem_alloc(dlen);

	/* The key is removed from the whole detail first: cutting it to the size of the
	 * error could leave a piece of the key the scrub would not recognise. */
	if (clean) {
		memcpy(clean, detail, dlen);
		scrub(clean, n->key);
	}
	snprintf(res->error, sizeof(res->error), "%s: %s", n->api->name,
		 clean ? clean : "(out of memory describing the failure)");
	scrub(res->error, n->key);
	mem_free(clean);
	res->fault = fault;
	return ECL_EPROVIDER;
}

/* Easy handles per connection cache. libcurl looks for an idle connection to reuse by
 * walking the cache's connections to the host until it finds one: with every call on the
 * multi handle's one cache, 1,000 calls in flight meant about 450 connections looked at
 * per request, a third of the instructions of an HTTP request (callgrind). A cache shared
 * by a few handles (CURL_LOCK_DATA_CONNECT) bounds the walk; each cache costs about 10 KiB
 * (libcurl gives it its own easy handle to close connections with). */
#define NET_SHARE_CALLS 32

/* The connection cache for a new easy handle; NULL when out of memory. */
static CURLSH *share_for_new_call(net *n)
{
	CURLSH **more, *sh;

	if (n->nshares > 0 && n->nshared < NET_SHARE_CALLS) {
		n->nshared++;
		return n->shares[n->nshares - 1];
	}
	more = mem_realloc(n->shares, (size_t)(n->nshares + 1) * sizeof(*more));
	if (!more)
		return NULL;
	n->shares = more;
	sh = curl_share_init();
	if (!sh)
		return NULL;
	if (curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
		curl_share_cleanup(sh);
		return NULL;
	}
	n->shares[n->nshares++] = sh;
	n->nshared = 1;
	return sh;
}

/* The options that are the same for every call of n, set once per easy handle: a pooled
 * handle keeps them, so a call does not pay for curl_easy_reset and for copying the URL again
 * (about 3,000 instructions per call under callgrind). */
static int call_setup(net *n, net_call *c)
{
	CURL *h = c->curl;
	CURLSH *sh = share_for_new_call(n);

	if (!sh || curl_easy_setopt(h, CURLOPT_SHARE, sh) != CURLE_OK ||
	    (n->uh ? curl_easy_setopt(h, CURLOPT_CURLU, n->uh)
		   : curl_easy_setopt(h, CURLOPT_URL, n->url)) != CURLE_OK)
		return ECL_ENOMEM; /* the URL is the only option that copies */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, n->headers);
	http_setup(h, n->connect_timeout_ms, &c->answer);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_PRIVATE, c);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	/* libcurl's smallest receive buffer: it is kept by every easy handle, one per call in
	 * flight, and it only bounds one recv (an answer of a few KiB takes a few); headers are
	 * gathered elsewhere. 4 KiB cost 3 KiB more per run in flight. */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 1024L);
	return ECL_OK;
}

/* A pooled call keeps its request buffer for the next (no allocation and regrowth per call),
 * emptied, unless it grew past what a usual call needs. */
#define NET_KEEP_BYTES (64u << 10)

static void buf_keep(buf *b)
{
	if (b->cap > NET_KEEP_BYTES || b->oom) {
		buf_free(b);
	} else if (b->data) {
		b->len = 0;
		b->data[0] = '\0';
	}
}

static void call_free(net_call *c)
{
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->traced);
	buf_free(&c->st.text);
	buf_free(&c->st.tool);
	buf_free(&c->send);
	buf_free(&c->answer.data);
	mem_free(c);
}

static net_call *call_get(net *n)
{
	net_call *c = n->pool;

	if (c) {
		/* its options of every call stay set: only the call's own are set again */
		n->pool = c->next_free;
		n->npool--;
	} else {
		c = mem_calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->curl = curl_easy_init();
		if (!c->curl) {
			mem_free(c);
			return NULL;
		}
		if (call_setup(n, c) != ECL_OK) {
			call_free(c);
			return NULL;
		}
	}
	/* a pooled call's buffers were emptied by call_put */
	c->base.provider = &n->base;
	c->base.tag = NULL;
	c->api = n->api;
	c->next_free = NULL;
	c->retry_after_ms = -1;
	c->answer.too_large = 0;
	c->answer.max = NET_MAX_RESPONSE;
	c->req = NULL;
	return c;
}

static void call_put(net *n, net_call *c)
{
	if (n->npool >= NET_POOL_MAX) {
		call_free(c);
		return;
	}
	buf_keep(&c->send);
	curl_slist_free_all(c->traced);
	c->traced = NULL;
	buf_free(&c->st.text);
	buf_free(&c->st.tool);
	memset(&c->st, 0, sizeof(c->st));
	/* the reply's buffer is not kept: it would sit idle through the next call's wait, 1 KiB
	 * more per run in flight (bytes_per_inflight_run), and a reply of a few hundred bytes
	 * arrives in one piece, so it costs one allocation */
	buf_free(&c->answer.data);
	c->next_free = n->pool;
	n->pool = c;
	n->npool++;
}

/* Set up the easy handle of c for req. */
static int call_prepare(net *n, net_call *c, const llm_request *req, int streamed)
{
	CURL *h = c->curl;

	c->schema_sent = req->schema && !(n->api->schema_refusable && plain_known(n));
	c->st.on = streamed && req->on_text;
	c->st.req = req;
	c->st.t0_us = clock_mono_us();
	n->api->body(n, req->model ? req->model : n->model, req, c->schema_sent, c->st.on,
		     &c->send);
	if (c->send.oom || !c->send.data)
		return ECL_ENOMEM;
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->send.len);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->send.data);
	/* a traced call sends its span's context (W3C Trace Context), on a list of its own */
	if (req->traceparent) {
		const struct curl_slist *l;

		for (l = n->headers; l; l = l->next) {
			struct curl_slist *m = curl_slist_append(c->traced, l->data);

			if (!m)
				return ECL_ENOMEM;
			c->traced = m;
		}
		if (http_header(&c->traced, "traceparent", req->traceparent) != ECL_OK)
			return ECL_ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->traced ? c->traced : n->headers);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 req->timeout_ms > 0 ? req->timeout_ms : n->timeout_ms);
	/* the progress callback only for a call that watches the time itself */
	c->req = req->tick ? req : NULL;
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, req->tick ? 0L : 1L);
	return ECL_OK;
}

/* Copy a string member of obj into out, when there is one. */
static void meta_str(const cJSON *obj, const char *key, char *out, size_t outlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsString(v) && !out[0])
		snprintf(out, outlen, "%s", v->valuestring);
}

/* What the reply says of itself, for traces: the model, the id, why the answer ended (each
 * API has its own member for that: choices[].finish_reason, stop_reason, done_reason). */
static void response_meta(const cJSON *root, llm_response *res)
{
	const cJSON *choice =
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);

	meta_str(root, "model", res->model, sizeof(res->model));
	meta_str(root, "id", res->id, sizeof(res->id));
	meta_str(choice, "finish_reason", res->finish_reason, sizeof(res->finish_reason));
	meta_str(root, "stop_reason", res->finish_reason, sizeof(res->finish_reason));
	meta_str(root, "done_reason", res->finish_reason, sizeof(res->finish_reason));
}

/* The answer of a stream that ended well: its text, or its tool's input. A stream cut before
 * its own end is a transient fault, as a truncated body is: the step asks again. */
static int stream_result(net *n, net_call *c, llm_response *res)
{
	stream *s = &c->st;
	buf *answer = s->tool_used ? &s->tool : &s->text;

	stream_scan(c); /* a last line without its newline is no whole event: left out */
	res->tokens_in = s->tokens_in;
	res->tokens_out = s->tokens_out;
	res->tokens_cached = s->cached;
	res->tokens_cache_write = s->cache_write;
	res->ttft_us = s->ttft_us;
	if (s->text.oom || s->tool.oom)
		return ECL_ENOMEM;
	if (!s->ended) {
		char why[128];

		snprintf(why, sizeof(why), "the stream was cut before its end, after %zu bytes",
			 c->answer.data.len);
		return fail(n, res, LLM_FAULT_TRANSIENT, why);
	}
	res->text = answer->data ? answer->data : mem_strdup("");
	if (!res->text)
		return ECL_ENOMEM;
	memset(answer, 0, sizeof(*answer)); /* the text is the caller's now */
	res->len = strlen(res->text);
	return ECL_OK;
}

/* Turn the ended transfer of c into res. */
static int call_result(net *n, net_call *c, CURLcode cc, llm_response *res)
{
	const char *why = NULL;
	char why_buf[600];
	long status = 0;
	int oom = 0;
	cJSON *root;

	res->retry_after_ms = c->retry_after_ms;
	snprintf(res->server, sizeof(res->server), "%s", n->host);
	res->server_port = n->port;
	if (cc != CURLE_OK) {
		if (c->answer.data.oom)
			return ECL_ENOMEM;
		if (c->answer.too_large)
			return fail(n, res, LLM_FAULT_PERMANENT,
				    "the response is larger than 8 MiB");
		if (cc == CURLE_ABORTED_BY_CALLBACK)
			return fail(n, res, LLM_FAULT_TRANSIENT, "abandoned");
		return fail(n, res, LLM_FAULT_TRANSIENT, curl_easy_strerror(cc));
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	res->http_status = status;
	root = c->answer.data.len ? json_parse(c->answer.data.data, c->answer.data.len, &oom)
				  : NULL;
	if (oom)
		return ECL_ENOMEM; /* a reply that may be fine: not a fault of the provider */
	if (status < 200 || status >= 300) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
		const cJSON *msg = cJSON_IsString(err)
					   ? err
					   : cJSON_GetObjectItemCaseSensitive(err, "message");
		snprintf(why_buf, sizeof(why_buf), "HTTP %ld: %s", status,
			 cJSON_IsString(msg) ? msg->valuestring : "no message");
		text_one_line(why_buf); /* one line, as errors are, and UTF-8 as stored text is */
		cJSON_Delete(root);
		if (status == 400 && c->schema_sent && n->api->schema_refusable &&
		    refuses_schema(&c->answer.data)) {
			char again[sizeof(why_buf)];

			/* the reason first, the server's message after it and cut to fit */
			snprintf(
				again, sizeof(again),
				"the server refuses a JSON Schema in response_format, so it is "
				"asked for a JSON object from now on, which ecl checks against the "
				"schema (%.300s)",
				why_buf);
			res->news = plain_learn(n);
			return fail(n, res, LLM_FAULT_AGAIN, again);
		}
		return fail(n, res,
			    status == 408 || status == 429 || status >= 500 ? LLM_FAULT_TRANSIENT
									    : LLM_FAULT_PERMANENT,
			    why_buf);
	}
	if (c->st.on) {
		cJSON_Delete(root); /* (a stream's body is no one JSON object) */
		return stream_result(n, c, res);
	}
	if (!root)
		return fail(n, res, LLM_FAULT_PERMANENT, "the response is not JSON");
	response_meta(root, res);
	res->text = n->api->answer(root, res, &why);
	cJSON_Delete(root);
	if (!res->text)
		return why ? fail(n, res, LLM_FAULT_PERMANENT, why) : ECL_ENOMEM;
	res->len = strlen(res->text);
	return ECL_OK;
}

static int net_complete(llm_provider *p, const llm_request *req, llm_response *res)
{
	net *n = (net *)p;
	net_call *c = call_get(n);
	int rc;

	if (!c)
		return ECL_ENOMEM;
	rc = call_prepare(n, c, req, 1);
	if (rc == ECL_OK)
		rc = call_result(n, c, curl_easy_perform(c->curl), res);
	call_put(n, c);
	return rc;
}

static int net_start(llm_provider *p, const llm_request *req, CURLM *multi, void *tag,
		     llm_call **out, llm_response *res)
{
	net *n = (net *)p;
	net_call *c = call_get(n);
	int rc;

	*out = NULL;
	if (!c)
		return ECL_ENOMEM;
	rc = call_prepare(n, c, req, 0); /* no stream: nobody watches a batch's calls */
	c->req = NULL; /* req is not kept: the caller watches time and signals itself */
	if (rc == ECL_OK && curl_multi_add_handle(multi, c->curl) != CURLM_OK)
		rc = fail(n, res, LLM_FAULT_TRANSIENT, "libcurl cannot start the request");
	if (rc != ECL_OK) {
		call_put(n, c);
		return rc;
	}
	c->base.tag = tag;
	*out = &c->base;
	return ECL_OK;
}

static int net_finish(llm_call *call, int result, llm_response *res)
{
	net_call *c = (net_call *)call;
	net *n = (net *)call->provider;
	int rc = call_result(n, c, (CURLcode)result, res);

	call_put(n, c);
	return rc;
}

static void net_cancel(llm_call *call, CURLM *multi)
{
	net_call *c = (net_call *)call;

	curl_multi_remove_handle(multi, c->curl);
	call_put((net *)call->provider, c);
}

static void net_destroy(llm_provider *p)
{
	net *n = (net *)p;

	if (!n)
		return;
	while (n->pool) {
		struct net_call *c = n->pool;

		n->pool = c->next_free;
		call_free(c);
	}
	/* after the easy handles that use them: this closes their connections */
	while (n->nshares > 0)
		curl_share_cleanup(n->shares[--n->nshares]);
	mem_free(n->shares);
	curl_url_cleanup(n->uh); /* after the easy handles that use it */
	while (n->nstrict > 0) {
		n->nstrict--;
		mem_free(n->strict[n->nstrict].copy);
		cJSON_free(n->strict[n->nstrict].strict);
	}
	curl_slist_free_all(n->headers);
	mem_free(n->url);
	mem_free(n->model);
	if (n->key)
		memset(n->key, 0, strlen(n->key));
	mem_free(n->key);
	mem_free(n);
}

static int net_new(const http_api *api, const llm_config *cfg, llm_provider **out, char *err,
		   size_t errlen)
{
	const char *base = cfg->base_url ? cfg->base_url : api->default_base;
	net *n;
	size_t blen;

	*out = NULL;
	if (!cfg->model || !*cfg->model) {
		snprintf(err, errlen, "the %s provider needs a model (--model NAME)", api->name);
		return ECL_EUSAGE;
	}
	if (cfg->api_key && strpbrk(cfg->api_key, "\r\n")) {
		snprintf(err, errlen, "the %s API key contains a line break", api->name);
		return ECL_EUSAGE;
	}
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
		snprintf(err, errlen,
			 "the %s base URL must start with http:// or https://, not `%.80s`",
			 api->name, base);
		return ECL_EUSAGE;
	}
	if (http_global_init() != ECL_OK) {
		snprintf(err, errlen, "libcurl cannot start");
		return ECL_EPROVIDER;
	}
	n = mem_calloc(1, sizeof(*n));
	if (!n)
		goto oom;
	n->base.name = api->name;
	n->base.complete = net_complete;
	n->base.start = net_start;
	n->base.finish = net_finish;
	n->base.cancel = net_cancel;
	n->base.destroy = net_destroy;
	n->api = api;
	n->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : NET_TIMEOUT_MS;
	n->connect_timeout_ms =
		cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : NET_CONNECT_TIMEOUT_MS;
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	n->url = mem_alloc(blen + strlen(api->path) + 1);
	n->model = mem_strdup(cfg->model);
	n->key = cfg->api_key && *cfg->api_key ? mem_strdup(cfg->api_key) : NULL;
	if (!n->url || !n->model || (cfg->api_key && *cfg->api_key && !n->key) ||
	    api->headers(n->key, &n->headers) != ECL_OK)
		goto oom;
	memcpy(n->url, base, blen);
	strcpy(n->url + blen, api->path);
	n->uh = curl_url();
	if (!n->uh)
		goto oom;
	/* the flags libcurl parses a CURLOPT_URL with */
	if (curl_url_set(n->uh, CURLUPART_URL, n->url,
			 CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		curl_url_cleanup(n->uh);
		n->uh = NULL;
	} else {
		char *host = NULL, *port = NULL;

		if (curl_url_get(n->uh, CURLUPART_HOST, &host, 0) == CURLUE_OK)
			snprintf(n->host, sizeof(n->host), "%s", host);
		if (curl_url_get(n->uh, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
			n->port = (int)strtol(port, NULL, 10);
		curl_free(host);
		curl_free(port);
	}
	*out = &n->base;
	return ECL_OK;
oom:
	net_destroy(n ? &n->base : NULL); /* &n->base of a null n is undefined */
	snprintf(err, errlen, "out of memory");
	return ECL_ENOMEM;
}

int llm_openai_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	return net_new(&apis[0], cfg, out, err, errlen);
}

int llm_anthropic_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	return net_new(&apis[1], cfg, out, err, errlen);
}

int llm_ollama_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	return net_new(&apis[2], cfg, out, err, errlen);
}
