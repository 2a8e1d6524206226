/*
 * otlp.c - the trace exporter (core/trace.h): finished spans are queued, and a thread of its
 * own sends them in batches over OTLP/HTTP (protobuf, or JSON) with libcurl.
 *
 * Nothing here may hurt a run: submit never waits on the network (a full queue drops the span
 * and counts it), every request has a timeout, closing waits a short bounded time for the
 * last spans, and a collector that is down, slow or refuses them is said once on stderr.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "internal.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;

/* A resource attribute (service.name, OTEL_RESOURCE_ATTRIBUTES). */
typedef struct res_attr {
	char *key, *value;
} res_attr;

typedef struct otlp {
	trace_exporter base;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int started;
	trace_span *head, *tail; /* the queue, oldest first */
	int queued;
	long long oldest_ms; /* when the oldest queued span came (clock_mono_us / 1000) */
	int closing;
	long long deadline_ms; /* closing: give up sending then */
	/* what went wrong, said once */
	unsigned long dropped; /* spans lost: a full queue, a failed request, the close deadline */
	int said;
	char *endpoint;
	struct curl_slist *headers;
	int json;
	res_attr *res;
	int nres;
	long timeout_ms, delay_ms, close_wait_ms;
	int max_queue, max_batch;
} otlp;

static long long mono_ms(void)
{
	return clock_mono_us() / 1000;
}

/* Say once on stderr that spans are not getting through, and why. */
static void say_once(otlp *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say_once(otlp *o, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (o->said)
		return;
	o->said = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	text_one_line(msg);
	fprintf(stderr, "ecl: traces: %s (runs are not affected; not said again)\n", msg);
}

/* ---- encoding: OTLP/JSON ------------------------------------------------------------------ */

static void json_attr(buf *b, const char *key, const trace_attr *a)
{
	buf_puts(b, "{\"key\":");
	buf_json_str(b, key, strlen(key));
	buf_puts(b, ",\"value\":{");
	switch (a->type) {
	case TRACE_STR:
		buf_puts(b, "\"stringValue\":");
		buf_json_str(b, a->s, strlen(a->s));
		break;
	case TRACE_STR_LIST:
		buf_puts(b, "\"arrayValue\":{\"values\":[{\"stringValue\":");
		buf_json_str(b, a->s, strlen(a->s));
		buf_puts(b, "}]}");
		break;
	case TRACE_INT: buf_printf(b, "\"intValue\":\"%lld\"", a->i); break;
	case TRACE_DOUBLE:
		buf_puts(b, "\"doubleValue\":");
		json_number(b, a->d);
		break;
	case TRACE_BOOL: buf_printf(b, "\"boolValue\":%s", a->i ? "true" : "false"); break;
	}
	buf_puts(b, "}}");
}

static void json_attrs(buf *b, const trace_attr *a, int n)
{
	int i;

	buf_puts(b, "\"attributes\":[");
	for (i = 0; i < n; i++) {
		if (i)
			buf_puts(b, ",");
		json_attr(b, a[i].key, &a[i]);
	}
	buf_puts(b, "]");
}

static void json_span(buf *b, const trace_span *s)
{
	char t[33], id[17], p[17];
	int i;

	trace_hex(s->trace_id, 16, t);
	trace_hex(s->span_id, 8, id);
	buf_printf(b, "{\"traceId\":\"%s\",\"spanId\":\"%s\"", t, id);
	if (s->has_parent) {
		trace_hex(s->parent_id, 8, p);
		buf_printf(b, ",\"parentSpanId\":\"%s\"", p);
	}
	buf_puts(b, ",\"name\":");
	buf_json_str(b, s->name, strlen(s->name));
	buf_printf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\",",
		   s->kind, s->start_ns, s->end_ns);
	json_attrs(b, s->attrs, s->nattrs);
	buf_puts(b, ",\"events\":[");
	for (i = 0; i < s->nevents; i++) {
		const trace_event *ev = &s->events[i];

		buf_printf(b, "%s{\"timeUnixNano\":\"%lld\",\"name\":", i ? "," : "", ev->time_ns);
		buf_json_str(b, ev->name, strlen(ev->name));
		buf_puts(b, ",");
		json_attrs(b, ev->attrs, ev->nattrs);
		buf_puts(b, "}");
	}
	buf_puts(b, "]");
	if (s->has_link) {
		trace_hex(s->link_trace, 16, t);
		trace_hex(s->link_span, 8, id);
		buf_printf(b, ",\"links\":[{\"traceId\":\"%s\",\"spanId\":\"%s\"}]", t, id);
	}
	buf_printf(b, ",\"status\":{\"code\":%d", s->status);
	if (s->status_msg) {
		buf_puts(b, ",\"message\":");
		buf_json_str(b, s->status_msg, strlen(s->status_msg));
	}
	buf_puts(b, "}}");
}

static int encode_json(otlp *o, trace_span *spans, buf *b)
{
	const trace_span *s;
	int i;

	buf_puts(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
	for (i = 0; i < o->nres; i++) {
		trace_attr a = {.type = TRACE_STR, .s = o->res[i].value};

		if (i)
			buf_puts(b, ",");
		json_attr(b, o->res[i].key, &a);
	}
	buf_puts(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"ecl\"},\"spans\":[");
	for (s = spans; s; s = s->next) {
		if (s != spans)
			buf_puts(b, ",");
		json_span(b, s);
	}
	buf_puts(b, "]}]}]}");
	return b->oom ? ECL_ENOMEM : ECL_OK;
}

/* ---- encoding: OTLP/protobuf -------------------------------------------------------------- */

/* Every message of one request, allocated together and freed together. */
typedef struct pb_pool {
	pb_kv *kv;
	pb_kv **kvp;
	pb_any *any; /* two per attribute: the value, and the item of a one-string array */
	pb_any **anyp;
	pb_array *arr;
	int nkv;
} pb_pool;

static void pb_attr(pb_pool *p, const char *key, const trace_attr *a)
{
	int k = p->nkv++;
	pb_kv *kv = &p->kv[k];
	pb_any *v = &p->any[2 * k];

	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(v);
	kv->key = (char *)key;
	kv->value = v;
	p->kvp[k] = kv;
	switch (a->type) {
	case TRACE_STR:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = a->s;
		break;
	case TRACE_STR_LIST: {
		pb_any *item = &p->any[2 * k + 1];
		pb_array *arr = &p->arr[k];

		opentelemetry__proto__common__v1__any_value__init(item);
		opentelemetry__proto__common__v1__array_value__init(arr);
		item->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		item->string_value = a->s;
		p->anyp[k] = item;
		arr->n_values = 1;
		arr->values = &p->anyp[k];
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
		v->array_value = arr;
		break;
	}
	case TRACE_INT:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = a->i;
		break;
	case TRACE_DOUBLE:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
		v->double_value = a->d;
		break;
	case TRACE_BOOL:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		v->bool_value = a->i != 0;
		break;
	}
}

/* Add n attributes; returns where their pointers start. */
static pb_kv **pb_attrs(pb_pool *p, const trace_attr *a, int n)
{
	pb_kv **first = &p->kvp[p->nkv];
	int i;

	for (i = 0; i < n; i++)
		pb_attr(p, a[i].key, &a[i]);
	return first;
}

static int encode_pb(otlp *o, trace_span *spans, buf *b)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	Opentelemetry__Proto__Trace__V1__ResourceSpans
		rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT,
		*rsp = &rs;
	Opentelemetry__Proto__Resource__V1__Resource res =
		OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	Opentelemetry__Proto__Trace__V1__ScopeSpans
		ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT,
		*ssp = &ss;
	Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
		OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	pb_pool p = {0};
	pb_span *sp = NULL, **spp = NULL;
	pb_event *ev = NULL, **evp = NULL;
	pb_link *lk = NULL, **lkp = NULL;
	pb_status *st = NULL;
	const trace_span *s;
	size_t nkv = (size_t)o->nres, nspans = 0, nev = 0, len, i, e = 0, l = 0;
	int j, rc = ECL_ENOMEM;

	for (s = spans; s; s = s->next) {
		nspans++;
		nkv += (size_t)s->nattrs;
		nev += (size_t)s->nevents;
		for (j = 0; j < s->nevents; j++)
			nkv += (size_t)s->events[j].nattrs;
	}
	p.kv = mem_calloc(nkv + 1, sizeof(*p.kv));
	p.kvp = mem_calloc(nkv + 1, sizeof(*p.kvp));
	p.any = mem_calloc(2 * nkv + 2, sizeof(*p.any));
	p.anyp = mem_calloc(nkv + 1, sizeof(*p.anyp));
	p.arr = mem_calloc(nkv + 1, sizeof(*p.arr));
	sp = mem_calloc(nspans, sizeof(*sp));
	spp = mem_calloc(nspans, sizeof(*spp));
	ev = mem_calloc(nev + 1, sizeof(*ev));
	evp = mem_calloc(nev + 1, sizeof(*evp));
	lk = mem_calloc(nspans, sizeof(*lk));
	lkp = mem_calloc(nspans, sizeof(*lkp));
	st = mem_calloc(nspans, sizeof(*st));
	if (!p.kv || !p.kvp || !p.any || !p.anyp || !p.arr || !sp || !spp || !ev || !evp || !lk ||
	    !lkp || !st)
		goto out;
	for (j = 0; j < o->nres; j++) {
		trace_attr a = {.type = TRACE_STR, .s = o->res[j].value};

		pb_attr(&p, o->res[j].key, &a);
	}
	res.n_attributes = (size_t)o->nres;
	res.attributes = p.kvp;
	scope.name = "ecl";
	for (s = spans, i = 0; s; s = s->next, i++) {
		pb_span *x = &sp[i];

		opentelemetry__proto__trace__v1__span__init(x);
		spp[i] = x;
		x->trace_id.data = (uint8_t *)s->trace_id;
		x->trace_id.len = 16;
		x->span_id.data = (uint8_t *)s->span_id;
		x->span_id.len = 8;
		if (s->has_parent) {
			x->parent_span_id.data = (uint8_t *)s->parent_id;
			x->parent_span_id.len = 8;
		}
		x->flags = 0x101; /* sampled; the parent is not remote */
		x->name = s->name;
		x->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
		x->start_time_unix_nano = (uint64_t)s->start_ns;
		x->end_time_unix_nano = (uint64_t)s->end_ns;
		x->n_attributes = (size_t)s->nattrs;
		x->attributes = pb_attrs(&p, s->attrs, s->nattrs);
		x->n_events = (size_t)s->nevents;
		x->events = &evp[e];
		for (j = 0; j < s->nevents; j++, e++) {
			opentelemetry__proto__trace__v1__span__event__init(&ev[e]);
			evp[e] = &ev[e];
			ev[e].time_unix_nano = (uint64_t)s->events[j].time_ns;
			ev[e].name = (char *)s->events[j].name;
			ev[e].n_attributes = (size_t)s->events[j].nattrs;
			ev[e].attributes = pb_attrs(&p, s->events[j].attrs, s->events[j].nattrs);
		}
		if (s->has_link) {
			opentelemetry__proto__trace__v1__span__link__init(&lk[l]);
			lkp[l] = &lk[l];
			lk[l].trace_id.data = (uint8_t *)s->link_trace;
			lk[l].trace_id.len = 16;
			lk[l].span_id.data = (uint8_t *)s->link_span;
			lk[l].span_id.len = 8;
			x->n_links = 1;
			x->links = &lkp[l++];
		}
		opentelemetry__proto__trace__v1__status__init(&st[i]);
		st[i].code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)s->status;
		if (s->status_msg)
			st[i].message = s->status_msg;
		x->status = &st[i];
	}
	ss.scope = &scope;
	ss.n_spans = nspans;
	ss.spans = spp;
	rs.resource = &res;
	rs.n_scope_spans = 1;
	rs.scope_spans = &ssp;
	req.n_resource_spans = 1;
	req.resource_spans = &rsp;
	len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		&req);
	b->len = 0;
	buf_append(b, "", 0);
	if (!b->oom && len + 1 > b->cap) {
		char *d = mem_realloc(b->data, len + 1);

		if (d) {
			b->data = d;
			b->cap = len + 1;
		} else {
			b->oom = 1;
		}
	}
	if (!b->oom) {
		b->len =
			opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
				&req, (uint8_t *)b->data);
		rc = ECL_OK;
	}
out:
	mem_free(p.kv);
	mem_free(p.kvp);
	mem_free(p.any);
	mem_free(p.anyp);
	mem_free(p.arr);
	mem_free(sp);
	mem_free(spp);
	mem_free(ev);
	mem_free(evp);
	mem_free(lk);
	mem_free(lkp);
	mem_free(st);
	return rc;
}

/* ---- sending ------------------------------------------------------------------------------ */

/* libcurl's progress callback: a request still under way when closing's time is up is
 * abandoned. */
static int progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	otlp *o = ctx;
	int stop;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	pthread_mutex_lock(&o->mu);
	stop = o->closing && mono_ms() >= o->deadline_ms;
	pthread_mutex_unlock(&o->mu);
	return stop;
}

/* Send one batch (a list of n spans) and free it. */
static void send_batch(otlp *o, trace_span *spans, int n)
{
	buf body = {0};
	http_body reply = {{0}, 0, 65536}; /* a collector says little */
	char cerr[CURL_ERROR_SIZE] = "";
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	int rc;

	rc = o->json ? encode_json(o, spans, &body) : encode_pb(o, spans, &body);
	if (rc == ECL_OK && (c = curl_easy_init()) != NULL) {
		curl_easy_setopt(c, CURLOPT_URL, o->endpoint);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, o->headers);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, o);
		http_setup(c, o->timeout_ms, &reply);
		cc = curl_easy_perform(c);
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		pthread_mutex_lock(&o->mu);
		if (cc != CURLE_OK) {
			o->dropped += (unsigned long)n;
			say_once(o, "cannot send spans to %s: %s", o->endpoint,
				 cc == CURLE_ABORTED_BY_CALLBACK
					 ? "no answer before the end of the command"
				 : cerr[0] ? cerr
					   : curl_easy_strerror(cc));
		} else if (status < 200 || status > 299) {
			o->dropped += (unsigned long)n;
			say_once(o, "%s refused spans: HTTP %ld", o->endpoint, status);
		}
		pthread_mutex_unlock(&o->mu);
		curl_easy_cleanup(c);
	} else {
		pthread_mutex_lock(&o->mu);
		o->dropped += (unsigned long)n;
		say_once(o, "out of memory encoding spans");
		pthread_mutex_unlock(&o->mu);
	}
	buf_free(&body);
	buf_free(&reply.data);
	while (spans) {
		trace_span *next = spans->next;

		trace_free(spans);
		spans = next;
	}
}

static void *worker(void *arg)
{
	otlp *o = arg;

	pthread_mutex_lock(&o->mu);
	for (;;) {
		trace_span *batch, *last;
		int n;

		while (!o->closing && o->queued < o->max_batch &&
		       !(o->queued && mono_ms() - o->oldest_ms >= o->delay_ms)) {
			if (o->queued) {
				long long at = o->oldest_ms + o->delay_ms, now = clock_now_ms();
				long long wait = at - mono_ms();
				struct timespec ts;

				/* pthread_cond_timedwait takes the wall clock */
				now += wait;
				ts.tv_sec = (time_t)(now / 1000);
				ts.tv_nsec = (long)(now % 1000) * 1000000L;
				pthread_cond_timedwait(&o->cv, &o->mu, &ts);
			} else {
				pthread_cond_wait(&o->cv, &o->mu);
			}
		}
		if (!o->queued)
			break; /* closing, and nothing left */
		if (o->closing && mono_ms() >= o->deadline_ms) {
			/* what is left cannot be sent in time: drop it */
			while (o->head) {
				trace_span *next = o->head->next;

				trace_free(o->head);
				o->head = next;
				o->dropped++;
			}
			o->tail = NULL;
			o->queued = 0;
			break;
		}
		batch = last = o->head;
		for (n = 1; n < o->max_batch && last->next; n++)
			last = last->next;
		o->head = last->next;
		if (!o->head)
			o->tail = NULL;
		last->next = NULL;
		o->queued -= n;
		o->oldest_ms = mono_ms();
		pthread_mutex_unlock(&o->mu);
		send_batch(o, batch, n);
		pthread_mutex_lock(&o->mu);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

static void otlp_submit(trace_exporter *x, trace_span *span)
{
	otlp *o = (otlp *)x;

	span->next = NULL;
	pthread_mutex_lock(&o->mu);
	if (o->queued >= o->max_queue) {
		o->dropped++;
		say_once(o, "more than %d spans waiting to be sent to %s: dropping spans",
			 o->max_queue, o->endpoint);
		pthread_mutex_unlock(&o->mu);
		trace_free(span);
		return;
	}
	if (o->tail)
		o->tail->next = span;
	else
		o->head = span;
	o->tail = span;
	/* the worker sleeps until a first span comes, then until its batch is full or due */
	if (!o->queued++)
		o->oldest_ms = mono_ms();
	if (o->queued == 1 || o->queued >= o->max_batch)
		pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

static void otlp_free(otlp *o)
{
	int i;

	while (o->head) {
		trace_span *next = o->head->next;

		trace_free(o->head);
		o->head = next;
	}
	for (i = 0; i < o->nres; i++) {
		mem_free(o->res[i].key);
		mem_free(o->res[i].value);
	}
	mem_free(o->res);
	curl_slist_free_all(o->headers);
	mem_free(o->endpoint);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	mem_free(o);
}

static void otlp_close(trace_exporter *x)
{
	otlp *o = (otlp *)x;

	if (o->started) {
		pthread_mutex_lock(&o->mu);
		o->closing = 1;
		o->deadline_ms = mono_ms() + o->close_wait_ms;
		pthread_cond_signal(&o->cv);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	if (o->dropped && !o->said)
		say_once(o, "%lu spans were not sent to %s", o->dropped, o->endpoint);
	otlp_free(o);
}

/* The value of a hexadecimal digit, or -1. */
static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- settings ----------------------------------------------------------------------------- */

/* Decode the percent-escapes of the n bytes at s (W3C Baggage's octets, which
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES use) into a new string, trimmed of
 * spaces. NULL when memory runs out. */
static char *decode(const char *s, size_t n)
{
	char *out, *w;
	size_t i;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!(out = w = mem_alloc(n + 1)))
		return NULL;
	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = hex_digit(s[i + 1])) >= 0 &&
		    (lo = hex_digit(s[i + 2])) >= 0) {
			*w++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	return out;
}

/* Call fn(ctx, key, value) for each key=value of a comma-separated list; a member without
 * '=' or with an empty key is skipped (the specification: the whole list may be discarded;
 * keeping the good members loses less). Non-zero when memory ran out. */
static int each_pair(const char *list, int (*fn)(void *ctx, char *key, char *val), void *ctx)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ','), *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *k, *v;

		eq = memchr(p, '=', n);
		if (eq) {
			k = decode(p, (size_t)(eq - p));
			v = decode(eq + 1, n - (size_t)(eq - p) - 1);
			if (!k || !v) {
				mem_free(k);
				mem_free(v);
				return 1;
			}
			if (!*k) {
				mem_free(k);
				mem_free(v);
			} else if (fn(ctx, k, v)) {
				return 1;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static int add_header(void *ctx, char *key, char *val)
{
	otlp *o = ctx;
	int rc = http_header(&o->headers, key, val);

	mem_free(key);
	mem_free(val);
	return rc != ECL_OK;
}

/* Add a resource attribute (taking key and value), replacing one of the same key. */
static int add_res(void *ctx, char *key, char *val)
{
	otlp *o = ctx;
	res_attr *r;
	int i;

	for (i = 0; i < o->nres; i++)
		if (strcmp(o->res[i].key, key) == 0) {
			mem_free(o->res[i].value);
			o->res[i].value = val;
			mem_free(key);
			return 0;
		}
	if (!(r = mem_realloc(o->res, (size_t)(o->nres + 1) * sizeof(*r)))) {
		mem_free(key);
		mem_free(val);
		return 1;
	}
	o->res = r;
	o->res[o->nres].key = key;
	o->res[o->nres++].value = val;
	return 0;
}

static int add_res_copy(otlp *o, const char *key, const char *val)
{
	char *k = mem_strdup(key), *v = mem_strdup(val);

	if (!k || !v) {
		mem_free(k);
		mem_free(v);
		return 1;
	}
	return add_res(o, k, v);
}

/* Whether the resource has key already. */
static int has_res(const otlp *o, const char *key)
{
	int i;

	for (i = 0; i < o->nres; i++)
		if (strcmp(o->res[i].key, key) == 0)
			return 1;
	return 0;
}

int otlp_open(const trace_config *cfg, trace_exporter **out, char *err, size_t errlen)
{
	otlp *o;
	int oom;

	*out = NULL;
	if (http_global_init() != ECL_OK) {
		snprintf(err, errlen, "libcurl could not be started");
		return ECL_EPROVIDER;
	}
	if (!(o = mem_calloc(1, sizeof(*o)))) {
		snprintf(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	o->base.submit = otlp_submit;
	o->base.close = otlp_close;
	o->json = cfg->json;
	o->timeout_ms = cfg->timeout_ms;
	o->delay_ms = cfg->delay_ms;
	o->close_wait_ms = cfg->close_wait_ms;
	o->max_queue = cfg->max_queue;
	o->max_batch = cfg->max_batch;
	if (cfg->protocol && strcmp(cfg->protocol, "http/protobuf") != 0 &&
	    strcmp(cfg->protocol, "http/json") != 0)
		say_once(o,
			 "OTLP protocol `%s` is not supported (http/protobuf or http/json): "
			 "sending http/protobuf",
			 cfg->protocol);
	/* the resource: OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME over its service.name */
	oom = !(o->endpoint = mem_strdup(cfg->endpoint)) ||
	      http_header(&o->headers, "Content-Type",
			  o->json ? "application/json" : "application/x-protobuf") != ECL_OK ||
	      each_pair(cfg->headers, add_header, o) || each_pair(cfg->resource, add_res, o) ||
	      (cfg->service && add_res_copy(o, "service.name", cfg->service)) ||
	      (!has_res(o, "service.name") && add_res_copy(o, "service.name", "ecl")) ||
	      add_res_copy(o, "telemetry.sdk.name", "ecl") ||
	      add_res_copy(o, "telemetry.sdk.language", "c");
	if (!oom && pthread_create(&o->thread, NULL, worker, o) == 0)
		o->started = 1;
	else if (!oom)
		say_once(o, "cannot start the thread that sends spans: they are dropped");
	if (oom) {
		otlp_free(o);
		snprintf(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	*out = &o->base;
	return ECL_OK;
}
