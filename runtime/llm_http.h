/*
 * llm_http.h - what the HTTP providers (openai, anthropic, ollama) share: internal to libecl.
 *
 * A call is cut in three so that a libcurl multi-interface driver can run many at once with
 * the same code as the easy-interface providers:
 *  1. build (pure, no network): http_endpoint_init validates the config once and builds the
 *     URL and the header list; http_call_init builds one request's JSON body;
 *  2. transfer: http_call_setup puts a call on any CURL easy handle (the easy driver
 *     http_perform, or a future multi driver, then runs it);
 *  3. finish: http_call_finish reads the outcome of the transfer and fills the llm_response,
 *     through the pure http_parse_reply, which only looks at a status and a body.
 * What differs between the APIs (paths, headers, body and answer shapes) is an http_wire,
 * one per provider file.
 *
 * Nothing here ever writes the API key into a message: every error passes through
 * http_scrub, and curl is never made verbose.
 */
#ifndef ECL_LLM_HTTP_H
#define ECL_LLM_HTTP_H

#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "provider.h"

/* The other HTTP backends, with the contract of llm_openai_new (see provider.h). */
int llm_anthropic_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
int llm_ollama_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);

/* Defaults and limits. */
#define HTTP_TIMEOUT_MS 120000L         /* whole call, when neither request nor config says */
#define HTTP_CONNECT_TIMEOUT_MS 10000L  /* connection set-up */
#define HTTP_MAX_RESPONSE (8u << 20)    /* bytes of response body accepted (8 MiB) */
#define HTTP_ANTHROPIC_MAX_TOKENS 1024  /* the Messages API requires max_tokens */
#define HTTP_RETRY_AFTER_MAX_MS 86400000L /* a Retry-After further away is read as one day */

/* How one API speaks. Each provider file defines one as static constant data. */
typedef struct http_wire {
	const char *name;         /* "openai": names the provider and starts every message */
	const char *default_base; /* base URL when the config gives none, or NULL: required */
	const char *path;         /* appended to the base URL: "/chat/completions" */
	/* Append the API's own headers (authentication, version) for api_key (NULL: none) to
	 * *list. Returns ECL_OK or ECL_ENOMEM; on failure *list is still a valid list. */
	int (*headers)(const char *api_key, struct curl_slist **list);
	/* The request body for model (never NULL) as a JSON tree the caller frees with
	 * cJSON_Delete, or NULL when out of memory. */
	cJSON *(*body)(const char *model, const llm_request *req);
	/* Read the answer of a 2xx body: set res->text, res->len and the token counts, and return
	 * ECL_OK; or return ECL_EPROVIDER with what is missing in why ("response has no
	 * choices[0].message.content"); or ECL_ENOMEM. */
	int (*answer)(const cJSON *root, llm_response *res, char *why, size_t whylen);
} http_wire;

/* The wires, for the providers and the tests. */
const http_wire *http_openai_wire(void);
const http_wire *http_anthropic_wire(void);
const http_wire *http_ollama_wire(void);

/* A validated configuration, owned: what every call of a provider shares. Read-only once
 * built, so that concurrent transfers may share it. */
typedef struct http_endpoint {
	const http_wire *wire;
	char *url;                  /* base URL without trailing slashes, then wire->path */
	char *model;                /* the default model */
	char *api_key;              /* NULL when none; never printed */
	struct curl_slist *headers; /* every header of a request */
	long timeout_ms;            /* default whole-call limit */
	long connect_timeout_ms;
	size_t max_response;        /* body size cap; HTTP_MAX_RESPONSE */
} http_endpoint;

/* Validate cfg for wire and build the endpoint: ECL_OK, ECL_EUSAGE (missing or invalid
 * setting, the reason in err without the key) or ECL_ENOMEM. Free with http_endpoint_free,
 * also after a failure. */
int http_endpoint_init(http_endpoint *ep, const http_wire *wire, const llm_config *cfg,
		       char *err, size_t errlen);
void http_endpoint_free(http_endpoint *ep);

/* base + path with the trailing slashes of base removed, malloc'd; NULL when out of memory. */
char *http_join_url(const char *base, const char *path);

/* The request body for ep and req as JSON text (malloc'd, *len bytes), or NULL when out of
 * memory. The model is req->model, else the endpoint's. */
char *http_build_body(const http_endpoint *ep, const llm_request *req, size_t *len);

/* One request in flight, and what came back. */
typedef struct http_call {
	const http_endpoint *ep;  /* borrowed */
	char *body;               /* the request body */
	size_t body_len;
	long timeout_ms;          /* limit of this call */
	char *resp;               /* the response body so far, NUL-terminated when not NULL */
	size_t resp_len, resp_cap;
	int too_large;            /* the body passed ep->max_response: the transfer was stopped */
	int nomem;                /* growing resp failed: the transfer was stopped */
	long retry_after_ms;      /* from Retry-After / retry-after-ms, or -1 */
	char curl_err[CURL_ERROR_SIZE];
} http_call;

/* Prepare a call of req on ep. Returns ECL_OK, or ECL_ENOMEM with res filled in. Free with
 * http_call_free, also after a failure. */
int http_call_init(http_call *c, const http_endpoint *ep, const llm_request *req,
		   llm_response *res);
void http_call_free(http_call *c);

/* Set every option of the call on an easy handle (a reused one keeps its connections). The
 * call and its endpoint must outlive the transfer. ECL_OK or ECL_ENOMEM. */
int http_call_setup(http_call *c, CURL *h);

/* Fill res from a finished transfer of c on h whose result was cc: ECL_OK with res->text,
 * ECL_EPROVIDER with res->fault and res->error, or ECL_ENOMEM. Detaches c from h. */
int http_call_finish(http_call *c, CURL *h, CURLcode cc, llm_response *res);

/* Run a call to its end on h with the easy interface: setup, perform, finish. */
int http_perform(http_call *c, CURL *h, llm_response *res);

/* Classify a complete HTTP reply of wire and fill res (pure: no network): 2xx gives the
 * answer or a permanent "response has no ..."; 408, 429 and 5xx are transient; any other
 * status is permanent. The provider's own message ("error.message") goes into res->error.
 * res->http_status and res->retry_after_ms are left to the caller. */
int http_parse_reply(const http_wire *wire, long status, const char *body, size_t len,
		     llm_response *res);

/* The delay a Retry-After header value asks for, in ms from now: delta-seconds ("1") or an
 * HTTP-date; 0 for a date in the past, at most HTTP_RETRY_AFTER_MAX_MS, -1 when unreadable. */
long http_parse_retry_after(const char *value, time_t now);

/* Replace every occurrence of secret (when not NULL or empty) in the NUL-terminated s, of
 * capacity cap, with "[redacted]", then make s one line. */
void http_scrub(char *s, size_t cap, const char *secret);

/* Build a provider of wire from cfg: the body of llm_openai_new and its siblings. */
int http_provider_new(const http_wire *wire, const llm_config *cfg, llm_provider **out,
		      char *err, size_t errlen);

/* For the wires: append one {"role": role, "content": text} to the array msgs; the
 * request's messages after an optional system message. Return ECL_OK or ECL_ENOMEM. */
int http_json_message(cJSON *msgs, const char *role, const char *text);
int http_json_messages(cJSON *msgs, const char *system, const llm_request *req);

/* For the wires: "name: value" appended to *list; ECL_OK or ECL_ENOMEM. */
int http_header_add(struct curl_slist **list, const char *name, const char *value);

/* For the wires: the number at key of obj, or 0 when absent. */
long long http_json_count(const cJSON *obj, const char *key);

#endif /* ECL_LLM_HTTP_H */
