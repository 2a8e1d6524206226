/*
 * trace.h - spans of what a run does (the run, each step attempt, each LLM call), made by the
 * core as it drives runs and handed to an exporter through a small table (trace_exporter).
 *
 * The spans follow OpenTelemetry's model (ids, kind, status, attributes, events, links) and
 * its GenAI semantic conventions; the exporter that sends them over OTLP/HTTP is the network
 * half's (net/otlp.c), so the core holds no libcurl and no protobuf. Without an exporter
 * (tracing off) trace_begin returns NULL and every other function takes NULL and does
 * nothing, so that the hooks in the driver loop cost a test of a pointer.
 */
#ifndef ECL_TRACE_H
#define ECL_TRACE_H

#include "shared.h"

/* OTLP's Span.SpanKind and Status.StatusCode, by number. */
enum { TRACE_KIND_INTERNAL = 1, TRACE_KIND_CLIENT = 3 };
enum { TRACE_STATUS_UNSET = 0, TRACE_STATUS_OK = 1, TRACE_STATUS_ERROR = 2 };

typedef enum trace_type {
	TRACE_STR = 0,
	TRACE_INT = 1,
	TRACE_DOUBLE = 2,
	TRACE_BOOL = 3,
	TRACE_STR_LIST = 4 /* an array of one string (gen_ai.response.finish_reasons) */
} trace_type;

/* One attribute. The key is a string literal (never freed); s is owned. */
typedef struct trace_attr {
	const char *key;
	trace_type type;
	char *s;     /* STR, STR_LIST */
	long long i; /* INT, BOOL */
	double d;    /* DOUBLE */
} trace_attr;

/* One event of a span (a retry, a repair, an exception); the name is a literal. */
typedef struct trace_event {
	const char *name;
	long long time_ns;
	trace_attr *attrs;
	int nattrs, cap;
} trace_event;

/* A span. Times are nanoseconds since the Unix epoch. */
typedef struct trace_span {
	struct trace_span *next; /* the exporter's queue */
	unsigned char trace_id[16], span_id[8], parent_id[8];
	int has_parent;
	unsigned char link_trace[16], link_span[8]; /* a link (a fork's origin) */
	int has_link;
	char *name;
	int kind, status;
	char *status_msg;
	long long start_ns, end_ns;
	trace_attr *attrs;
	int nattrs, cap;
	trace_event *events;
	int nevents, capevents;
	int oom; /* an attribute or event could not be added: the span is sent without it */
} trace_span;

/* What the core hands finished spans to (net/otlp.c's exporter). */
typedef struct trace_exporter trace_exporter;
struct trace_exporter {
	/* Take a finished span (ownership passes: the exporter frees it with trace_free). Never
	 * blocks on the network: a full queue drops the span and counts it. */
	void (*submit)(trace_exporter *x, trace_span *span);
	/* Send what is queued, waiting a short bounded time at most, say once on stderr what
	 * could not be sent, and free the exporter. */
	void (*close)(trace_exporter *x);
};

/* How an exporter is set up; strings borrowed for the call of otlp_open. */
typedef struct trace_config {
	const char *endpoint;     /* the URL spans are POSTed to (…/v1/traces) */
	const char *headers;      /* OTEL_EXPORTER_OTLP_HEADERS: k=v,k2=v2 (percent-encoded) */
	int json;                 /* http/json instead of http/protobuf */
	const char *protocol;     /* as given, or NULL: one that is neither is said once */
	const char *service;      /* service.name */
	const char *resource;     /* OTEL_RESOURCE_ATTRIBUTES: k=v,... */
	long timeout_ms;          /* per export request */
	long delay_ms;            /* the longest a span waits in the queue before it is sent */
	int max_queue, max_batch; /* spans queued at most (more are dropped), spans per request */
	long close_wait_ms;       /* what closing waits for the last spans at most */
} trace_config;

/* The tracing settings of the environment and of the --otlp flag (endpoint, or NULL): 0 and
 * *cfg filled when spans are to be exported, else -1 (OTEL_SDK_DISABLED=true, or no endpoint
 * given). The endpoint's text lives in buf (bufsize bytes). */
int trace_config_get(const char *endpoint, trace_config *cfg, char *buf, size_t bufsize);

/* The exporter that sends spans over OTLP/HTTP (net/otlp.c): ECL_OK with *out set, or
 * ECL_ENOMEM, ECL_EPROVIDER (libcurl would not start) or ECL_EIO (the network module cannot be
 * loaded) with err saying why. */
int otlp_open(const trace_config *cfg, trace_exporter **out, char *err, size_t errlen);

/* Start a span of exporter x (NULL: tracing off, returns NULL) named name, in the trace of
 * parent (its child) or, when parent is NULL, in trace_id (16 bytes; NULL: a new trace). NULL
 * too when memory runs out: the span is not made, and nothing else changes. */
ECL_SHARED trace_span *trace_begin(trace_exporter *x, const char *name, int kind,
				   const trace_span *parent, const unsigned char *trace_id);
/* Set attributes of span (NULL: nothing); a NULL string value is left out. */
ECL_SHARED void trace_str(trace_span *span, const char *key, const char *value);
ECL_SHARED void trace_strn(trace_span *span, const char *key, const char *value, size_t n);
ECL_SHARED void trace_int(trace_span *span, const char *key, long long value);
void trace_double(trace_span *span, const char *key, double value);
void trace_bool(trace_span *span, const char *key, int value);
void trace_str_list(trace_span *span, const char *key, const char *value);
/* Add an event now; then trace_event_* add attributes to the last one. */
void trace_event_add(trace_span *span, const char *name);
void trace_event_str(trace_span *span, const char *key, const char *value);
void trace_event_int(trace_span *span, const char *key, long long value);
/* Mark span failed: status ERROR with message, error.type, and an `exception` event. */
void trace_error(trace_span *span, const char *type, const char *message);
/* End span now and hand it to x (span NULL: nothing). */
ECL_SHARED void trace_end(trace_exporter *x, trace_span *span);
/* Free a span that was not handed over. */
ECL_SHARED void trace_free(trace_span *span);

/* Write n bytes of id as lowercase hex (2n + 1 bytes with the NUL). */
ECL_SHARED void trace_hex(const unsigned char *id, int n, char *out);
/* The W3C traceparent of span: "00-<trace>-<span>-01" (56 bytes with the NUL). */
ECL_SHARED void trace_parent_text(const trace_span *span, char out[56]);
/* Read a traceparent text into its trace id and span id: 0, or -1 when it is not one. */
int trace_parent_parse(const char *text, unsigned char trace_id[16], unsigned char span_id[8]);
/* A new traceparent (new trace id and span id), for a new run to store. */
void trace_parent_new(char out[56]);
/* Fill n bytes with random bits (ids). */
void trace_random(unsigned char *out, int n);

#endif /* ECL_TRACE_H */
