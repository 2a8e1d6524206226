/*
 * restate_serve.c - `ecl serve`: the endpoint's HTTP/1.1 server (libmicrohttpd, a thread per
 * connection) in front of restate_handle(). Invocations of `run` drive a machine and ask a
 * model, so each takes an engine of its own from a small pool; engines are not shared
 * between threads, and a long `run` never holds up `get_status`.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "restate.h"

#define DEFAULT_PORT            9080
#define DEFAULT_MAX_CONNECTIONS 512 /* threads, one per connection */
#define DEFAULT_IDLE_TIMEOUT_S  10
#define POOL_MAX                64
#define MAX_BODY                (64u << 20) /* a journal larger than this is refused */

typedef struct server {
	const ecl_options *opts;
	pthread_mutex_t lock;
	ecl_engine *idle[POOL_MAX];
	int nidle;
} server;

/* One request being received. */
typedef struct request {
	buf body;
	int too_big;
} request;

static ecl_engine *pool_take(server *s, char *err, size_t errlen)
{
	ecl_engine *e = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->nidle > 0)
		e = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->lock);
	if (!e && ecl_engine_open(s->opts, &e, err, errlen) != ECL_OK)
		return NULL;
	return e;
}

static void pool_give(server *s, ecl_engine *e)
{
	pthread_mutex_lock(&s->lock);
	if (s->nidle < POOL_MAX) {
		s->idle[s->nidle++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	ecl_engine_close(e);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, int status, const char *type,
				  const void *data, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "x-restate-server",
				"ecl/"
				"0.1.0");
	ret = MHD_queue_response(c, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	server *s = cls;
	request *rq = *con_cls;
	restate_reply r;
	ecl_engine *e;
	char err[512];
	enum MHD_Result ret;
	int rc;

	(void)version;
	if (!rq) {
		if (!(rq = mem_calloc(1, sizeof(*rq))))
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->body.len + *upload_size > MAX_BODY)
			rq->too_big = 1;
		else
			buf_append(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big || rq->body.oom) {
		static const char msg[] = "the request body is too large\n";

		return send_reply(c, 413, "text/plain", msg, sizeof(msg) - 1);
	}
	if (!(e = pool_take(s, err, sizeof(err)))) {
		size_t n = strlen(err);

		return send_reply(c, 503, "text/plain", err, n);
	}
	rc = restate_handle(e, method, url,
			    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
			    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"),
			    (const uint8_t *)rq->body.data, rq->body.len, &r);
	pool_give(s, e);
	if (rc != ECL_OK) {
		static const char msg[] = "out of memory\n";

		buf_free(&r.body);
		return send_reply(c, 500, "text/plain", msg, sizeof(msg) - 1);
	}
	ret = send_reply(c, r.status, r.content_type, r.body.data ? r.body.data : "", r.body.len);
	buf_free(&r.body);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	request *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		buf_free(&rq->body);
		mem_free(rq);
		*con_cls = NULL;
	}
}

int ecl_serve(const ecl_serve_options *o, char *err, size_t errlen)
{
	server s = {0};
	struct sockaddr_in addr = {0};
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	int port = o->port ? o->port : DEFAULT_PORT;
	char dummy[8];
	int i;

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (!o->engine) {
		snprintf(err, errlen, "ecl_serve: no engine options");
		return ECL_EUSAGE;
	}
	mem_init();
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)(port < 0 ? 0 : port));
	if (inet_pton(AF_INET, o->bind ? o->bind : "0.0.0.0", &addr.sin_addr) != 1) {
		snprintf(err, errlen, "not an IPv4 address to listen on: %s", o->bind);
		return ECL_EUSAGE;
	}
	s.opts = o->engine;
	pthread_mutex_init(&s.lock, NULL);
	/* A thread per connection: bounded, and an idle connection (a client that sent half a
	 * request and nothing more) is dropped within seconds; a handler at work is not idle,
	 * so a long LLM call is not cut. With neither, 1,100 idle sockets held every thread. */
	d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
		on_request, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)(o->idle_timeout_s > 0 ? o->idle_timeout_s : DEFAULT_IDLE_TIMEOUT_S),
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)(o->max_connections > 0 ? o->max_connections
						      : DEFAULT_MAX_CONNECTIONS),
		MHD_OPTION_END);
	if (!d) {
		snprintf(err, errlen, "cannot listen on %s:%d (in use, or not allowed)",
			 o->bind ? o->bind : "0.0.0.0", port);
		pthread_mutex_destroy(&s.lock);
		return ECL_EIO;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (o->on_ready)
		o->on_ready(o->ready_ctx, info ? info->port : port);
	while (!(o->stop && *o->stop)) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(d);
	for (i = 0; i < s.nidle; i++)
		ecl_engine_close(s.idle[i]);
	pthread_mutex_destroy(&s.lock);
	return ECL_OK;
}
