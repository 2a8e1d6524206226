/*
 * trace.c - spans in memory (trace.h): ids, attributes, events, and the tracing settings of
 * the environment (the OTEL_* variables every OpenTelemetry SDK reads). Sending them is the
 * exporter's (net/otlp.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- ids ---------------------------------------------------------------------------------- */

/* splitmix64 per thread, seeded once from the kernel: ids need to be unique, not secret, and
 * a system call per span would cost more than the span. */
static _Thread_local unsigned long long rng_state;
static _Thread_local int rng_seeded;

void trace_random(unsigned char *out, int n)
{
	int i;

	if (!rng_seeded) {
		if (getrandom(&rng_state, sizeof(rng_state), 0) != (ssize_t)sizeof(rng_state))
			rng_state = (unsigned long long)clock_mono_us() ^
				    ((unsigned long long)getpid() << 32);
		rng_seeded = 1;
	}
	for (i = 0; i < n; i += 8) {
		unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ULL);
		int k;

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		for (k = 0; k < 8 && i + k < n; k++)
			out[i + k] = (unsigned char)(z >> (8 * k));
	}
}

/* An id of n bytes that is not all zero (W3C: an id of zeros is invalid). */
static void new_id(unsigned char *out, int n)
{
	do
		trace_random(out, n);
	while (memcmp(out, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", (size_t)n) == 0);
}

void trace_hex(const unsigned char *id, int n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(const char *s, unsigned char *out, int n)
{
	int i, zero = 1;

	for (i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
		zero &= v == 0;
	}
	return zero ? -1 : 0;
}

void trace_parent_text(const trace_span *span, char out[56])
{
	char t[33], s[17];

	trace_hex(span->trace_id, 16, t);
	trace_hex(span->span_id, 8, s);
	snprintf(out, 56, "00-%s-%s-01", t, s);
}

int trace_parent_parse(const char *text, unsigned char trace_id[16], unsigned char span_id[8])
{
	if (!text || strlen(text) != 55 || strncmp(text, "00-", 3) != 0 || text[35] != '-' ||
	    text[52] != '-')
		return -1;
	if (unhex(text + 3, trace_id, 16) != 0 || unhex(text + 36, span_id, 8) != 0)
		return -1;
	return 0;
}

void trace_parent_new(char out[56])
{
	trace_span s;

	new_id(s.trace_id, 16);
	new_id(s.span_id, 8);
	trace_parent_text(&s, out);
}

/* ---- spans -------------------------------------------------------------------------------- */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

trace_span *trace_begin(trace_exporter *x, const char *name, int kind, const trace_span *parent,
			const unsigned char *trace_id)
{
	trace_span *s;

	if (!x || !(s = mem_calloc(1, sizeof(*s))))
		return NULL;
	if (!(s->name = mem_strdup(name))) {
		mem_free(s);
		return NULL;
	}
	s->kind = kind;
	if (parent) {
		memcpy(s->trace_id, parent->trace_id, 16);
		memcpy(s->parent_id, parent->span_id, 8);
		s->has_parent = 1;
	} else if (trace_id) {
		memcpy(s->trace_id, trace_id, 16);
	} else {
		new_id(s->trace_id, 16);
	}
	new_id(s->span_id, 8);
	s->start_ns = now_ns();
	return s;
}

/* Room for one more attribute in *attrs; NULL (and *oom set) when there is none. */
static trace_attr *attr_new(trace_attr **attrs, int *n, int *cap, int *oom)
{
	if (*n == *cap) {
		int c = *cap ? 2 * *cap : 8;
		trace_attr *a = mem_realloc(*attrs, (size_t)c * sizeof(*a));

		if (!a) {
			*oom = 1;
			return NULL;
		}
		*attrs = a;
		*cap = c;
	}
	memset(&(*attrs)[*n], 0, sizeof(trace_attr));
	return &(*attrs)[(*n)++];
}

static trace_attr *span_attr(trace_span *s, const char *key, trace_type type)
{
	trace_attr *a = attr_new(&s->attrs, &s->nattrs, &s->cap, &s->oom);

	if (a) {
		a->key = key;
		a->type = type;
	}
	return a;
}

void trace_strn(trace_span *s, const char *key, const char *val, size_t n)
{
	trace_attr *a;

	if (!s || !val || !(a = span_attr(s, key, TRACE_STR)))
		return;
	if (!(a->s = mem_strndup(val, n))) {
		s->nattrs--;
		s->oom = 1;
	}
}

void trace_str(trace_span *s, const char *key, const char *val)
{
	if (val)
		trace_strn(s, key, val, strlen(val));
}

void trace_str_list(trace_span *s, const char *key, const char *val)
{
	trace_str(s, key, val);
	if (s && val && s->nattrs && s->attrs[s->nattrs - 1].key == key)
		s->attrs[s->nattrs - 1].type = TRACE_STR_LIST;
}

void trace_int(trace_span *s, const char *key, long long val)
{
	trace_attr *a;

	if (s && (a = span_attr(s, key, TRACE_INT)))
		a->i = val;
}

void trace_double(trace_span *s, const char *key, double val)
{
	trace_attr *a;

	if (s && (a = span_attr(s, key, TRACE_DOUBLE)))
		a->d = val;
}

void trace_bool(trace_span *s, const char *key, int val)
{
	trace_attr *a;

	if (s && (a = span_attr(s, key, TRACE_BOOL)))
		a->i = val != 0;
}

void trace_event_add(trace_span *s, const char *name)
{
	trace_event *ev;

	if (!s)
		return;
	if (s->nevents == s->capevents) {
		int c = s->capevents ? 2 * s->capevents : 4;

		if (!(ev = mem_realloc(s->events, (size_t)c * sizeof(*ev)))) {
			s->oom = 1;
			return;
		}
		s->events = ev;
		s->capevents = c;
	}
	ev = &s->events[s->nevents++];
	memset(ev, 0, sizeof(*ev));
	ev->name = name;
	ev->time_ns = now_ns();
}

void trace_event_str(trace_span *s, const char *key, const char *val)
{
	trace_event *ev;
	trace_attr *a;

	if (!s || !s->nevents || !val)
		return;
	ev = &s->events[s->nevents - 1];
	if (!(a = attr_new(&ev->attrs, &ev->nattrs, &ev->cap, &s->oom)))
		return;
	a->key = key;
	a->type = TRACE_STR;
	if (!(a->s = mem_strdup(val))) {
		ev->nattrs--;
		s->oom = 1;
	}
}

void trace_event_int(trace_span *s, const char *key, long long val)
{
	trace_event *ev;
	trace_attr *a;

	if (!s || !s->nevents)
		return;
	ev = &s->events[s->nevents - 1];
	if (!(a = attr_new(&ev->attrs, &ev->nattrs, &ev->cap, &s->oom)))
		return;
	a->key = key;
	a->type = TRACE_INT;
	a->i = val;
}

void trace_error(trace_span *s, const char *type, const char *message)
{
	if (!s)
		return;
	s->status = TRACE_STATUS_ERROR;
	mem_free(s->status_msg);
	s->status_msg = message ? mem_strdup(message) : NULL;
	trace_str(s, "error.type", type);
	trace_event_add(s, "exception");
	trace_event_str(s, "exception.type", type);
	trace_event_str(s, "exception.message", message);
}

void trace_end(trace_exporter *x, trace_span *s)
{
	if (!s)
		return;
	s->end_ns = now_ns();
	if (s->end_ns < s->start_ns)
		s->end_ns = s->start_ns;
	x->submit(x, s);
}

static void attrs_free(trace_attr *a, int n)
{
	int i;

	for (i = 0; i < n; i++)
		mem_free(a[i].s);
	mem_free(a);
}

void trace_free(trace_span *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->nevents; i++)
		attrs_free(s->events[i].attrs, s->events[i].nattrs);
	mem_free(s->events);
	attrs_free(s->attrs, s->nattrs);
	mem_free(s->name);
	mem_free(s->status_msg);
	mem_free(s);
}

/* ---- settings ----------------------------------------------------------------------------- */

/* The first of two variables that is set and not empty, or NULL. */
static const char *env2(const char *specific, const char *general)
{
	const char *v = getenv(specific);

	if (v && *v)
		return v;
	v = general ? getenv(general) : NULL;
	return v && *v ? v : NULL;
}

/* A whole number of a variable, between 1 and max, else dflt. */
static long env_long(const char *specific, const char *general, long dflt, long max)
{
	const char *v = env2(specific, general);
	char *end;
	long n;

	if (!v)
		return dflt;
	n = strtol(v, &end, 10);
	return *end || n < 1 || n > max ? dflt : n;
}

int trace_config_get(const char *endpoint, trace_config *cfg, char *b, size_t bufsize)
{
	const char *disabled = getenv("OTEL_SDK_DISABLED");
	const char *traces = env2("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL);
	const char *base = endpoint ? endpoint : env2("OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
	const char *protocol =
		env2("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
	size_t n;

	memset(cfg, 0, sizeof(*cfg));
	if (disabled && strcasecmp(disabled, "true") == 0)
		return -1;
	/* --otlp, a base URL like OTEL_EXPORTER_OTLP_ENDPOINT, wins over both variables; the
	 * traces variable is the whole URL, the general one the base the signal's path is
	 * appended to (as the OTLP exporter specification says) */
	if (traces && !endpoint) {
		snprintf(b, bufsize, "%s", traces);
	} else if (base) {
		n = strlen(base);
		while (n && base[n - 1] == '/')
			n--;
		if (n >= 10 && strncmp(base + n - 10, "/v1/traces", 10) == 0)
			snprintf(b, bufsize, "%.*s", (int)n, base);
		else
			snprintf(b, bufsize, "%.*s/v1/traces", (int)n, base);
	} else {
		return -1;
	}
	cfg->endpoint = b;
	cfg->headers = env2("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS");
	cfg->json = protocol && strcmp(protocol, "http/json") == 0;
	cfg->protocol = protocol;
	cfg->service = env2("OTEL_SERVICE_NAME", NULL);
	cfg->resource = env2("OTEL_RESOURCE_ATTRIBUTES", NULL);
	cfg->timeout_ms = env_long("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
				   "OTEL_EXPORTER_OTLP_TIMEOUT", 10000, 600000);
	cfg->delay_ms = env_long("OTEL_BSP_SCHEDULE_DELAY", NULL, 5000, 600000);
	cfg->max_queue = (int)env_long("OTEL_BSP_MAX_QUEUE_SIZE", NULL, 2048, 1000000);
	cfg->max_batch = (int)env_long("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL, 512, 1000000);
	if (cfg->max_batch > cfg->max_queue)
		cfg->max_batch = cfg->max_queue;
	/* the end of a command is held up by a slow collector this long at most */
	cfg->close_wait_ms = cfg->timeout_ms < 1000 ? cfg->timeout_ms : 1000;
	return 0;
}
