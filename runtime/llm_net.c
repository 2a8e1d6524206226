/*
 * llm_net.c - the HTTP providers over libcurl's easy interface: openai (any OpenAI-compatible
 * /v1/chat/completions endpoint), anthropic (the Messages API) and ollama (/api/chat). What
 * differs between them is a small table of functions: the path, the headers, the body and
 * where the answer is in the reply. Errors never contain the API key.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "internal.h"

#define NET_TIMEOUT_MS         120000L
#define NET_CONNECT_TIMEOUT_MS 10000L
#define NET_MAX_RESPONSE       (8u << 20)

typedef struct net_api {
	const char *name;
	const char *default_base; /* NULL: the base URL is required */
	const char *path;
	int (*headers)(const char *key, struct curl_slist **list);
	cJSON *(*body)(const char *model, const llm_request *req);
	/* The answer text of a 2xx reply, and its token counts; NULL with why set when the
	 * reply has no answer where the API puts it. */
	const char *(*answer)(const cJSON *root, llm_response *res, const char **why);
} net_api;

typedef struct net {
	llm_provider base;
	const net_api *api;
	CURL *curl;
	struct curl_slist *headers;
	char *url, *model, *key;
	long timeout_ms, connect_timeout_ms;
} net;

static int add_header(struct curl_slist **list, const char *name, const char *text)
{
	char line[1024];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, text);
	l = curl_slist_append(*list, line);
	if (!l)
		return ECL_ENOMEM;
	*list = l;
	return ECL_OK;
}

/* {"role": ..., "content": ...} for every message, the system prompt first unless skip. */
static cJSON *messages(const llm_request *req, int with_system)
{
	cJSON *msgs = cJSON_CreateArray();
	int i;

	if (!msgs)
		return NULL;
	for (i = with_system && req->system ? -1 : 0; i < req->nmessages; i++) {
		cJSON *m = cJSON_CreateObject();

		if (!m || !cJSON_AddItemToArray(msgs, m) ||
		    !cJSON_AddStringToObject(m, "role", i < 0 ? "system" : req->messages[i].role) ||
		    !cJSON_AddStringToObject(m, "content",
					     i < 0 ? req->system : req->messages[i].text)) {
			cJSON_Delete(msgs);
			return NULL;
		}
	}
	return msgs;
}

/* ---- OpenAI-compatible -------------------------------------------------------------------- */

static int openai_headers(const char *key, struct curl_slist **list)
{
	char auth[600];

	if (add_header(list, "Content-Type", "application/json") != ECL_OK)
		return ECL_ENOMEM;
	if (!key)
		return ECL_OK;
	snprintf(auth, sizeof(auth), "Bearer %s", key);
	return add_header(list, "Authorization", auth);
}

static cJSON *openai_body(const char *model, const llm_request *req)
{
	cJSON *b = cJSON_CreateObject(), *msgs = messages(req, 1), *fmt;

	if (!b || !msgs || !cJSON_AddItemToObject(b, "messages", msgs)) {
		cJSON_Delete(msgs);
		cJSON_Delete(b);
		return NULL;
	}
	cJSON_AddStringToObject(b, "model", model);
	if (req->temperature >= 0)
		cJSON_AddNumberToObject(b, "temperature", req->temperature);
	if (req->max_tokens > 0)
		cJSON_AddNumberToObject(b, "max_tokens", req->max_tokens);
	fmt = cJSON_AddObjectToObject(b, "response_format");
	if (!fmt || !cJSON_AddStringToObject(fmt, "type", "json_object")) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

static long long count(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static const char *openai_answer(const cJSON *root, llm_response *res, const char **why)
{
	const cJSON *choice =
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

	res->tokens_in = count(usage, "prompt_tokens");
	res->tokens_out = count(usage, "completion_tokens");
	if (!cJSON_IsString(content)) {
		*why = "the response has no choices[0].message.content";
		return NULL;
	}
	return content->valuestring;
}

/* ---- Anthropic ---------------------------------------------------------------------------- */

static int anthropic_headers(const char *key, struct curl_slist **list)
{
	if (add_header(list, "Content-Type", "application/json") != ECL_OK ||
	    add_header(list, "anthropic-version", "2023-06-01") != ECL_OK)
		return ECL_ENOMEM;
	return key ? add_header(list, "x-api-key", key) : ECL_OK;
}

static cJSON *anthropic_body(const char *model, const llm_request *req)
{
	cJSON *b = cJSON_CreateObject(), *msgs = messages(req, 0);

	if (!b || !msgs || !cJSON_AddItemToObject(b, "messages", msgs)) {
		cJSON_Delete(msgs);
		cJSON_Delete(b);
		return NULL;
	}
	cJSON_AddStringToObject(b, "model", model);
	cJSON_AddNumberToObject(b, "max_tokens", req->max_tokens > 0 ? req->max_tokens : 1024);
	if (req->system)
		cJSON_AddStringToObject(b, "system", req->system);
	if (req->temperature >= 0)
		cJSON_AddNumberToObject(b, "temperature", req->temperature);
	return b;
}

static const char *anthropic_answer(const cJSON *root, llm_response *res, const char **why)
{
	const cJSON *block, *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

	res->tokens_in = count(usage, "input_tokens");
	res->tokens_out = count(usage, "output_tokens");
	cJSON_ArrayForEach (block, cJSON_GetObjectItemCaseSensitive(root, "content")) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");

		if (cJSON_IsString(text))
			return text->valuestring;
	}
	*why = "the response has no content[].text";
	return NULL;
}

/* ---- Ollama ------------------------------------------------------------------------------- */

static int ollama_headers(const char *key, struct curl_slist **list)
{
	(void)key;
	return add_header(list, "Content-Type", "application/json");
}

static cJSON *ollama_body(const char *model, const llm_request *req)
{
	cJSON *b = cJSON_CreateObject(), *msgs = messages(req, 1), *o;

	if (!b || !msgs || !cJSON_AddItemToObject(b, "messages", msgs)) {
		cJSON_Delete(msgs);
		cJSON_Delete(b);
		return NULL;
	}
	cJSON_AddStringToObject(b, "model", model);
	cJSON_AddFalseToObject(b, "stream");
	cJSON_AddStringToObject(b, "format", "json");
	o = cJSON_AddObjectToObject(b, "options");
	if (o && req->temperature >= 0)
		cJSON_AddNumberToObject(o, "temperature", req->temperature);
	if (o && req->max_tokens > 0)
		cJSON_AddNumberToObject(o, "num_predict", req->max_tokens);
	return b;
}

static const char *ollama_answer(const cJSON *root, llm_response *res, const char **why)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");

	res->tokens_in = count(root, "prompt_eval_count");
	res->tokens_out = count(root, "eval_count");
	if (!cJSON_IsString(content)) {
		*why = "the response has no message.content";
		return NULL;
	}
	return content->valuestring;
}

static const net_api apis[] = {
	{"openai", "https://api.openai.com/v1", "/chat/completions", openai_headers, openai_body,
	 openai_answer},
	{"anthropic", "https://api.anthropic.com/v1", "/messages", anthropic_headers,
	 anthropic_body, anthropic_answer},
	{"ollama", "http://127.0.0.1:11434", "/api/chat", ollama_headers, ollama_body,
	 ollama_answer},
};

/* ---- the transfer ------------------------------------------------------------------------- */

typedef struct reply {
	buf body;
	long retry_after_ms;
	int too_large;
	const llm_request *req;
} reply;

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	reply *r = ctx;

	if (r->body.len + size * n > NET_MAX_RESPONSE) {
		r->too_large = 1;
		return 0;
	}
	buf_append(&r->body, data, size * n);
	return r->body.oom ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	reply *r = ctx;
	size_t len = size * n;

	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		const char *v = data + 12;

		while (*v == ' ')
			v++;
		if (isdigit((unsigned char)*v))
			r->retry_after_ms = strtol(v, NULL, 10) * 1000;
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	reply *r = ctx;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return r->req->tick && r->req->tick(r->req->tick_ctx);
}

/* Replace the key wherever it appears in s. */
static void scrub(char *s, const char *key)
{
	char *p;

	if (!key || !*key)
		return;
	while ((p = strstr(s, key)) != NULL)
		memset(p, '*', strlen(key));
}

static int fail(net *n, llm_response *res, llm_fault fault, const char *fmt, const char *detail)
{
	char msg[sizeof(res->error) - 32];

	snprintf(msg, sizeof(msg), fmt, detail);
	snprintf(res->error, sizeof(res->error), "%s: %s", n->api->name, msg);
	scrub(res->error, n->key);
	res->fault = fault;
	return ECL_EPROVIDER;
}

static int net_complete(llm_provider *p, const llm_request *req, llm_response *res)
{
	net *n = (net *)p;
	cJSON *body = n->api->body(req->model ? req->model : n->model, req), *root;
	char *text = body ? cJSON_PrintUnformatted(body) : NULL, why_buf[160];
	reply r = {{0}, -1, 0, req};
	const char *answer, *why = NULL;
	long status = 0;
	CURLcode cc;

	cJSON_Delete(body);
	if (!text)
		return ECL_ENOMEM;
	curl_easy_reset(n->curl);
	curl_easy_setopt(n->curl, CURLOPT_URL, n->url);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, n->headers);
	curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(n->curl, CURLOPT_CONNECTTIMEOUT_MS, n->connect_timeout_ms);
	curl_easy_setopt(n->curl, CURLOPT_TIMEOUT_MS,
			 req->timeout_ms > 0 ? req->timeout_ms : n->timeout_ms);
	curl_easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(n->curl, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(n->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(n->curl, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(n->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(n->curl, CURLOPT_XFERINFODATA, &r);
	curl_easy_setopt(n->curl, CURLOPT_NOPROGRESS, 0L);
	cc = curl_easy_perform(n->curl);
	free(text);
	res->retry_after_ms = r.retry_after_ms;
	if (cc != CURLE_OK) {
		int rc;

		if (r.body.oom)
			rc = ECL_ENOMEM;
		else if (r.too_large)
			rc = fail(n, res, LLM_FAULT_PERMANENT, "%s",
				  "the response is larger than 8 MiB");
		else if (cc == CURLE_ABORTED_BY_CALLBACK)
			rc = fail(n, res, LLM_FAULT_TRANSIENT, "%s", "abandoned");
		else
			rc = fail(n, res, LLM_FAULT_TRANSIENT, "%s", curl_easy_strerror(cc));
		buf_free(&r.body);
		return rc;
	}
	curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &status);
	res->http_status = status;
	root = r.body.data ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
	if (status < 200 || status >= 300) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
		const cJSON *msg = cJSON_IsString(err)
					   ? err
					   : cJSON_GetObjectItemCaseSensitive(err, "message");

		snprintf(why_buf, sizeof(why_buf), "HTTP %ld: %s", status,
			 cJSON_IsString(msg) ? msg->valuestring : "no message");
		cJSON_Delete(root);
		buf_free(&r.body);
		return fail(n, res,
			    status == 408 || status == 429 || status >= 500 ? LLM_FAULT_TRANSIENT
									    : LLM_FAULT_PERMANENT,
			    "%s", why_buf);
	}
	if (!root) {
		buf_free(&r.body);
		return fail(n, res, LLM_FAULT_PERMANENT, "%s", "the response is not JSON");
	}
	answer = n->api->answer(root, res, &why);
	if (!answer) {
		cJSON_Delete(root);
		buf_free(&r.body);
		return fail(n, res, LLM_FAULT_PERMANENT, "%s", why);
	}
	res->text = mem_strdup(answer);
	res->len = res->text ? strlen(res->text) : 0;
	cJSON_Delete(root);
	buf_free(&r.body);
	return res->text ? ECL_OK : ECL_ENOMEM;
}

static void net_destroy(llm_provider *p)
{
	net *n = (net *)p;

	if (!n)
		return;
	if (n->curl)
		curl_easy_cleanup(n->curl);
	curl_slist_free_all(n->headers);
	mem_free(n->url);
	mem_free(n->model);
	if (n->key)
		memset(n->key, 0, strlen(n->key));
	mem_free(n->key);
	mem_free(n);
}

static int net_new(const net_api *api, const llm_config *cfg, llm_provider **out, char *err,
		   size_t errlen)
{
	const char *base = cfg->base_url ? cfg->base_url : api->default_base;
	static int curl_ready;
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
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "libcurl cannot start");
			return ECL_EPROVIDER;
		}
		curl_ready = 1;
	}
	n = mem_calloc(1, sizeof(*n));
	if (!n)
		goto oom;
	n->base.name = api->name;
	n->base.complete = net_complete;
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
	n->curl = curl_easy_init();
	if (!n->url || !n->model || (cfg->api_key && *cfg->api_key && !n->key) || !n->curl ||
	    api->headers(n->key, &n->headers) != ECL_OK)
		goto oom;
	memcpy(n->url, base, blen);
	strcpy(n->url + blen, api->path);
	*out = &n->base;
	return ECL_OK;
oom:
	net_destroy(&n->base);
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
