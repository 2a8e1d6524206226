/*
 * fake_llm_server.c - the workload's fake LLM as an OpenAI-compatible HTTP server on
 * 127.0.0.1, for benchmarks that go through the network (variants B and scale): one thread,
 * epoll, HTTP/1.1 keep-alive, and a fixed latency before every reply, kept in a FIFO since
 * every request waits the same time. Answers come from libecl's `fake` provider, so they are
 * byte for byte those of the in-process variant.
 *
 *   fake_llm_server [--port 18181] [--latency-ms 20] [--port-file PATH]
 *     POST /v1/chat/completions   an OpenAI chat.completion whose content is the fake's answer
 *     GET /health                 "ok"
 *     GET /stats                  {"requests": N, "connections": M}
 * It stops on SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "provider.h"

#define MAX_EVENTS  256
#define MAX_REQUEST (1 << 20)

typedef struct conn {
	int fd;
	char *in; /* bytes read, not yet parsed */
	size_t in_len, in_cap;
	char *out; /* bytes to write */
	size_t out_len, out_off, out_cap;
	int pending; /* replies queued for the latency, not yet written */
	int closing;
} conn;

/* A reply waiting for its time. */
typedef struct delayed {
	conn *c;
	long long due_us;
	char *text; /* the whole HTTP response */
	size_t len;
	struct delayed *next;
} delayed;

static volatile sig_atomic_t stopping;
static delayed *queue_head, *queue_tail;
static long long requests, connections;
static llm_provider *fake;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "fake_llm_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;

		while (c < *len + n + 1)
			c *= 2;
		*buf = realloc(*buf, c);
		if (!*buf)
			die("out of memory");
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* An HTTP response with a body. */
static char *response(int status, const char *type, const char *body, size_t blen, size_t *len)
{
	size_t cap = blen + 256;
	char *r = malloc(cap);
	int n;

	if (!r)
		die("out of memory");
	n = snprintf(r, cap,
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: keep-alive\r\n\r\n",
		     status,
		     status == 200   ? "OK"
		     : status == 404 ? "Not Found"
				     : "Bad Request",
		     type, blen);
	memcpy(r + n, body, blen);
	*len = (size_t)n + blen;
	return r;
}

/* The chat.completion for a request body, or a 400. */
static char *complete(const char *body, size_t blen, size_t *len, int *status)
{
	cJSON *req = cJSON_ParseWithLength(body, blen), *msgs, *m, *reply;
	llm_message msg;
	llm_request lr;
	llm_response res;
	ecl_step_def step;
	char *prompt = NULL, *text;
	size_t plen = 0, pcap = 0;

	memset(&lr, 0, sizeof(lr));
	memset(&res, 0, sizeof(res));
	memset(&step, 0, sizeof(step));
	step.name = "http";
	msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
	cJSON_ArrayForEach (m, msgs) {
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");

		if (cJSON_IsString(content)) {
			append(&prompt, &plen, &pcap, content->valuestring,
			       strlen(content->valuestring));
			append(&prompt, &plen, &pcap, "\n", 1);
		}
	}
	cJSON_Delete(req);
	msg.role = "user";
	msg.text = prompt ? prompt : "";
	lr.step = &step;
	lr.messages = &msg;
	lr.nmessages = 1;
	if (fake->complete(fake, &lr, &res) != ECL_OK) {
		free(prompt);
		*status = 400;
		return strdup(
			"{\"error\": {\"message\": \"the prompt has no TASK and WF lines\"}}");
	}
	reply = cJSON_CreateObject();
	cJSON_AddStringToObject(reply, "id", "chatcmpl-fake");
	cJSON_AddStringToObject(reply, "object", "chat.completion");
	cJSON_AddNumberToObject(reply, "created", 0);
	cJSON_AddStringToObject(reply, "model", "fake");
	{
		cJSON *choices = cJSON_AddArrayToObject(reply, "choices");
		cJSON *choice = cJSON_CreateObject();
		cJSON *message = cJSON_AddObjectToObject(choice, "message");
		cJSON *usage = cJSON_AddObjectToObject(reply, "usage");

		cJSON_AddNumberToObject(choice, "index", 0);
		cJSON_AddStringToObject(message, "role", "assistant");
		cJSON_AddStringToObject(message, "content", res.text);
		cJSON_AddStringToObject(choice, "finish_reason", "stop");
		cJSON_AddItemToArray(choices, choice);
		cJSON_AddNumberToObject(usage, "prompt_tokens", (double)(plen / 4));
		cJSON_AddNumberToObject(usage, "completion_tokens", (double)(res.len / 4));
		cJSON_AddNumberToObject(usage, "total_tokens", (double)((plen + res.len) / 4));
	}
	text = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	free(res.text);
	free(prompt);
	*status = 200;
	*len = strlen(text);
	return text;
}

static void enqueue(conn *c, char *text, size_t len, long long due)
{
	delayed *d = calloc(1, sizeof(*d));

	if (!d)
		die("out of memory");
	d->c = c;
	d->due_us = due;
	d->text = text;
	d->len = len;
	if (queue_tail)
		queue_tail->next = d;
	else
		queue_head = d;
	queue_tail = d;
	c->pending++;
}

static void flush(conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0) {
			if (errno != EAGAIN)
				c->closing = 1;
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_len = c->out_off = 0;
}

/* Parse every complete request in c->in; answers are queued for the latency. */
static void parse_requests(conn *c, long long latency_us)
{
	for (;;) {
		char *end = strstr(c->in ? c->in : "", "\r\n\r\n"), *cl;
		size_t head, body_len = 0, len;
		int status;
		char *text;

		if (!c->in || !end)
			return;
		head = (size_t)(end - c->in) + 4;
		cl = strcasestr(c->in, "\r\nContent-Length:");
		if (cl && cl < end)
			body_len = strtoul(cl + 17, NULL, 10);
		if (body_len > MAX_REQUEST) {
			c->closing = 1;
			return;
		}
		if (c->in_len < head + body_len)
			return;
		requests++;
		if (!strncmp(c->in, "POST /v1/chat/completions ", 26)) {
			char *json = complete(c->in + head, body_len, &len, &status);

			text = response(status, "application/json", json, strlen(json), &len);
			free(json);
			enqueue(c, text, len, now_us() + latency_us);
		} else {
			char body[96];

			if (!strncmp(c->in, "GET /health ", 12))
				snprintf(body, sizeof(body), "ok");
			else
				snprintf(body, sizeof(body),
					 "{\"requests\": %lld, \"connections\": %lld}", requests,
					 connections);
			text = response(strncmp(c->in, "GET /", 5) ? 404 : 200, "application/json",
					body, strlen(body), &len);
			append(&c->out, &c->out_len, &c->out_cap, text, len);
			free(text);
		}
		memmove(c->in, c->in + head + body_len, c->in_len - head - body_len);
		c->in_len -= head + body_len;
		c->in[c->in_len] = '\0';
	}
}

static void close_conn(int ep, conn *c)
{
	delayed *d;

	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	/* replies still queued keep the struct alive until they are due */
	for (d = queue_head; d; d = d->next)
		if (d->c == c)
			return;
	free(c->in);
	free(c->out);
	free(c);
}

int main(int argc, char **argv)
{
	int port = 18181, lfd, ep, i, one = 1;
	long long latency_us = 20000;
	const char *port_file = NULL;
	struct sockaddr_in addr;
	struct epoll_event ev, events[MAX_EVENTS];
	socklen_t alen = sizeof(addr);
	llm_config cfg;
	char err[256];

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--latency-ms") && i + 1 < argc)
			latency_us = atoll(argv[++i]) * 1000;
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else {
			fprintf(stderr, "usage: fake_llm_server [--port N] [--latency-ms N] "
					"[--port-file PATH]\n");
			return 2;
		}
	}
	memset(&cfg, 0, sizeof(cfg));
	if (llm_fake_new(&cfg, &fake, err, sizeof(err)) != ECL_OK) {
		fprintf(stderr, "fake_llm_server: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 4096) != 0)
		die("bind 127.0.0.1");
	getsockname(lfd, (struct sockaddr *)&addr, &alen);
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (!f)
			die(port_file);
		fprintf(f, "%d\n", ntohs(addr.sin_port));
		fclose(f);
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!stopping) {
		long long now = now_us();
		int timeout = -1, n;

		/* send what is due */
		while (queue_head && queue_head->due_us <= now) {
			delayed *d = queue_head;

			queue_head = d->next;
			if (!queue_head)
				queue_tail = NULL;
			d->c->pending--;
			if (d->c->fd >= 0) {
				append(&d->c->out, &d->c->out_len, &d->c->out_cap, d->text, d->len);
				flush(d->c);
			} else if (d->c->pending == 0) {
				free(d->c->in);
				free(d->c->out);
				free(d->c);
			}
			free(d->text);
			free(d);
		}
		if (queue_head)
			timeout = (int)((queue_head->due_us - now + 999) / 1000);
		n = epoll_wait(ep, events, MAX_EVENTS, timeout);
		for (i = 0; i < n; i++) {
			conn *c = events[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					conn *nc = calloc(1, sizeof(*nc));

					if (!nc)
						die("out of memory");
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					nc->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = nc;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
					connections++;
				}
				continue;
			}
			for (;;) {
				char chunk[16384];
				ssize_t r = read(c->fd, chunk, sizeof(chunk));

				if (r > 0) {
					append(&c->in, &c->in_len, &c->in_cap, chunk, (size_t)r);
					/* a short read emptied the socket: epoll (level-triggered)
					 * says when more comes, no need to read EAGAIN first */
					if ((size_t)r < sizeof(chunk))
						break;
					continue;
				}
				if (r == 0 || errno != EAGAIN)
					c->closing = 1;
				break;
			}
			parse_requests(c, latency_us);
			flush(c);
			if (c->closing)
				close_conn(ep, c);
		}
	}
	fake->destroy(fake);
	close(lfd);
	close(ep);
	return 0;
}
