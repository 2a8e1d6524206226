/*
 * provider.h - the LLM provider seam: how the driver asks a model for an answer.
 *
 * A provider turns one request (a system and a user prompt for a step of a run) into the
 * model's answer text. It knows nothing of runs, stores or schemas beyond what the request
 * carries; the driver validates the text, retries and repairs. Backends: offline
 * (deterministic, no network), scripted (answers from a JSON file), and over libcurl openai
 * (any OpenAI-compatible /v1/chat/completions endpoint), anthropic (the Messages API) and
 * ollama (a local Ollama server).
 */
#ifndef ECL_PROVIDER_H
#define ECL_PROVIDER_H

#include <stddef.h>

#include "ecl.h"

/* One message of a conversation sent to the model. */
typedef struct llm_message {
	const char *role; /* "user" or "assistant" */
	const char *text; /* NUL-terminated */
} llm_message;

/* What the driver asks. Every pointer is borrowed for the duration of the call. */
typedef struct llm_request {
	const char *run_id;
	const ecl_workflow *wf;
	const ecl_step_def *step; /* the step asking; its outputs describe the expected answer */
	int attempt;              /* attempt of the step, from 1 (a resumed step counts again) */
	int visit;          /* times the step has been entered in the run, this one included */
	int call;           /* calls made for this visit before this one (retries, repairs) */
	int repair;         /* 0 for the first ask, n for the n-th repair prompt */
	const char *system; /* system prompt, or NULL */
	const llm_message
		*messages; /* the user prompt, then for repairs: answer, repair prompt... */
	int nmessages;
	const char *model;  /* NULL: the provider's default */
	double temperature; /* < 0: the provider's default */
	int max_tokens;     /* 0: the provider's default */
	/* The JSON Schema of the answer (the step's ecl_step_def.schema), which the provider
	 * asks the model to follow where its API can say so; NULL: any JSON object. */
	const char *schema;
	long timeout_ms; /* total time allowed for the call; 0: the provider's default */
	/* Called by the provider about every 100 ms while it waits (for the network, a delay);
	 * a non-zero return abandons the call, which then fails as transient with the error
	 * "abandoned". NULL when nobody needs to know. */
	int (*tick)(void *ctx);
	void *tick_ctx;
	/* The W3C traceparent of the call's span, sent as the `traceparent` header so that a
	 * provider's own trace joins the run's; NULL when the run is not traced. */
	const char *traceparent;
	/* When set, a provider that can asks for the answer as a stream and gives each piece
	 * of its text as it arrives (the answer's JSON, for Anthropic's tool); the response is
	 * the whole answer as without a stream. Only the blocking interface (complete) streams.
	 * NULL: no stream. */
	void (*on_text)(void *ctx, const char *text, size_t len);
	void *text_ctx;
} llm_request;

/* Why a call failed, so the driver knows whether to retry it. */
typedef enum llm_fault {
	LLM_FAULT_NONE = 0,
	LLM_FAULT_TRANSIENT = 1, /* timeout, connection error, 429, 5xx: worth retrying */
	LLM_FAULT_PERMANENT =
		2, /* any other failure (401, 400, a malformed body): retrying won't help */
	/* The server refused a part of the request it does not support (a JSON Schema for the
	 * answer) and the provider will leave it out from now on: ask again at once; this is
	 * no failure to count against the retries. */
	LLM_FAULT_AGAIN = 3
} llm_fault;

/* What the provider answers. The caller zero-initialises it and frees text with free(). */
typedef struct llm_response {
	char *text; /* the model's answer text (malloc'd, NUL-terminated) on success */
	size_t len;
	long long tokens_in;  /* prompt tokens the provider reported, or 0 */
	long long tokens_out; /* completion tokens the provider reported, or 0 */
	/* Of tokens_in, those read from the provider's prompt cache and those written to it
	 * (Anthropic's input_tokens leaves both out: they are added to tokens_in) */
	long long tokens_cached, tokens_cache_write;
	long long ttft_us;   /* a streamed call: µs from the request to the first text, else 0 */
	long http_status;    /* HTTP providers: the response status, else 0 */
	long retry_after_ms; /* the server's Retry-After, in ms, or -1 when none was given */
	llm_fault fault;     /* on failure: whether to retry */
	/* LLM_FAULT_AGAIN: set for the one call of the process that learned the refusal, whose
	 * error says what was refused and what is sent instead, for the log to say once */
	int news;
	char error[512]; /* on failure: a one-line reason, with the provider's own message */
	/* What the provider said of the answer, for traces ("" when it did not say): the model
	 * that answered, the response's id, why the answer ended; and the server asked. */
	char model[128];
	char id[128];
	char finish_reason[64];
	char server[256];
	int server_port;
} llm_response;

typedef struct llm_provider llm_provider;

/* One request in flight on a libcurl multi handle (the non-blocking interface). The backend's
 * own call state follows these fields. Only the network half (runtime/net/: the HTTP
 * providers and the batch loop) uses that interface, so libcurl's types stay there: the multi
 * handle is a `CURLM *` passed as void *, a transfer's result a CURLcode passed as int. */
typedef struct llm_call {
	llm_provider *provider;
	void *tag; /* the caller's, given to start */
} llm_call;

/* A provider is a struct of function pointers followed by the backend's own state. */
struct llm_provider {
	const char *name; /* "offline", "scripted", "openai" */
	/* Ask for one answer and wait for it. Returns ECL_OK with res->text set, or
	 * ECL_EPROVIDER with res->fault and res->error set, or ECL_ENOMEM. */
	int (*complete)(llm_provider *p, const llm_request *req, llm_response *res);
	/* The non-blocking interface, NULL for providers that answer at once (offline,
	 * scripted, fake: callers use complete). start adds the request to multi as an easy
	 * handle whose CURLOPT_PRIVATE is *out and returns ECL_OK; everything the request
	 * points to may be freed once start returns. On failure it returns as complete does,
	 * with *out NULL. */
	int (*start)(llm_provider *p, const llm_request *req, void *multi, void *tag,
		     llm_call **out, llm_response *res);
	/* The transfer of call ended with result (from CURLMSG_DONE) and was removed from its
	 * multi handle by the caller: fill res as complete does and free the call. */
	int (*finish)(llm_call *call, int result, llm_response *res);
	/* Give up a call in flight: remove it from multi and free it. */
	void (*cancel)(llm_call *call, void *multi);
	/* Free the provider and everything it owns. Calls in flight must be finished or
	 * cancelled first. */
	void (*destroy)(llm_provider *p);
};

/* Settings for the backends; zero-initialise, set what you need. Borrowed during _new. */
typedef struct llm_config {
	const char *script_path; /* scripted: the JSON file of answers */
	const char
		*call_log; /* scripted: append one line per call ("<run> <step> <visit> <call>") */
	const char *base_url;    /* openai: e.g. "https://api.openai.com/v1" */
	const char *model;       /* openai: the default model */
	const char *api_key;     /* openai: the bearer token, or NULL for none */
	long timeout_ms;         /* default per-call time limit; 0 for 120 s */
	long connect_timeout_ms; /* time limit to connect; 0 for 10 s */
} llm_config;

/* Create a provider by name. On failure returns ECL_EUSAGE (unknown name, missing setting),
 * ECL_EIO (unreadable script) or ECL_ENOMEM, with the reason in err. Free with ->destroy. */
int llm_provider_new(const char *name, const llm_config *cfg, llm_provider **out, char *err,
		     size_t errlen);

/* The backends, for llm_provider_new and for tests. Same contract as llm_provider_new. */
int llm_offline_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
int llm_scripted_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
/* The benchmark workload's deterministic fake LLM (bench/README.md). */
int llm_fake_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
int llm_openai_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
int llm_anthropic_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
int llm_ollama_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);

#endif /* ECL_PROVIDER_H */
