/*
 * http_floor.c - the HTTP floor of variants B and scale: the same HTTP calls as the
 * workflows make (6 per workflow, one after the other, `concurrency` workflows at once),
 * from one thread over a libcurl multi handle, with no workflow engine: no store, no
 * prompts rendered, no answers parsed. What ecl batch adds is measured against this.
 *
 *   http_floor --url URL --n 10000 --concurrency 1000 [--steps 6]
 * prints {"wall_s": W, "cpu_s": C, "requests": R}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util.h"

typedef struct flow {
	CURL *h;
	int left;  /* calls still to make */
	int ready; /* its options are set */
	char body[256];
} flow;

static size_t sink(char *d, size_t s, size_t n, void *ctx)
{
	(void)d;
	(void)ctx;
	return s * n;
}

static struct curl_slist *headers;
static int ep;
static long long deadline_us = -1; /* libcurl's timer */

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* As runtime/net/batch.c: a socket stays registered between the transfers of its connection
 * (one EPOLL_CTL_MOD per request instead of a removal and an addition); an idle socket that
 * wakes the loop is removed then. */
#define FD_ON   1
#define FD_IDLE 2
static unsigned char fds[65536];

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev = {0};
	int on;

	(void)e;
	if (s < 0 || s >= (int)sizeof(fds))
		return -1;
	ev.data.fd = s;
	if (what == CURL_POLL_REMOVE) {
		fds[s] |= FD_IDLE;
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	on = socketp || (fds[s] & FD_ON);
	if (epoll_ctl(ep, on ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0 &&
	    epoll_ctl(ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev) != 0)
		return -1;
	fds[s] = FD_ON;
	if (!socketp)
		curl_multi_assign(userp, s, &ep);
	return 0;
}

static int on_timer(CURLM *m, long ms, void *userp)
{
	(void)m;
	(void)userp;
	deadline_us = ms < 0 ? -1 : mono_us() + ms * 1000LL;
	return 0;
}

static void start(CURLM *m, flow *f, CURLU *url, long id, int step)
{
	snprintf(f->body, sizeof(f->body),
		 "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":"
		 "\"WF:floor-%ld\\nTASK:%s\\nTOPIC:x\"}]}",
		 id, step % 2 ? "critique" : "generate");
	if (!f->ready) { /* as runtime/net/llm_http.c: the options of every call are set once */
		/* as runtime/net/llm_http.c: the URL parsed once, not at every transfer */
		curl_easy_setopt(f->h, CURLOPT_CURLU, url);
		curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
		curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(f->h, CURLOPT_BUFFERSIZE, 1024L);
		f->ready = 1;
	}
	curl_easy_setopt(f->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(f->body));
	curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, f->body);
	curl_multi_add_handle(m, f->h);
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	CURLU *uh;
	long n = 10000, conc = 1000, next = 0, done = 0, requests = 0;
	int steps = 6, i, running;
	double t0, wall;
	struct rusage ru;
	flow *flows;
	CURLM *m;
	CURLSH **shares, *share = NULL;
	long nshares = 0;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--url"))
			url = argv[i + 1];
		else if (!strcmp(argv[i], "--n"))
			n = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--concurrency"))
			conc = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--steps"))
			steps = atoi(argv[i + 1]);
	}
	if (!url || n < 1 || conc < 1 || steps < 1) {
		fprintf(stderr,
			"usage: http_floor --url URL [--n N] [--concurrency C] [--steps S]\n");
		return 2;
	}
	if (conc > n)
		conc = n;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	headers = curl_slist_append(NULL, "Content-Type: application/json");
	uh = curl_url();
	if (!uh || curl_url_set(uh, CURLUPART_URL, url,
				CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		fprintf(stderr, "http_floor: bad URL %s\n", url);
		return 2;
	}
	m = curl_multi_init();
	flows = calloc((size_t)conc, sizeof(*flows));
	shares = calloc((size_t)conc / 32 + 1, sizeof(*shares));
	if (!m || !flows || !shares || !headers)
		return 1;
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conc);
	ep = epoll_create1(0);
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
	t0 = bench_now_s();
	for (i = 0; i < conc; i++) {
		/* as runtime/net/llm_http.c: a connection cache per 32 easy handles */
		if (i % 32 == 0) {
			share = curl_share_init();
			if (!share ||
			    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != 0)
				return 1;
			shares[nshares++] = share;
		}
		flows[i].h = curl_easy_init();
		if (!flows[i].h || curl_easy_setopt(flows[i].h, CURLOPT_SHARE, share) != CURLE_OK)
			return 1;
		flows[i].left = steps - 1;
		start(m, &flows[i], uh, next++, 0);
	}
	while (done < n) {
		struct epoll_event evs[256];
		CURLMsg *msg;
		int q, k, nev;
		long long now = mono_us();
		int timeout = deadline_us < 0 ? 100 : (int)((deadline_us - now + 999) / 1000);

		nev = epoll_wait(ep, evs, 256, timeout < 0 ? 0 : timeout);
		for (k = 0; k < nev; k++) {
			int fd = evs[k].data.fd;

			if (fds[fd] & FD_IDLE) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				fds[fd] = 0;
				continue;
			}
			curl_multi_socket_action(
				m, evs[k].data.fd,
				(evs[k].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
					(evs[k].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
					(evs[k].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR
									       : 0),
				&running);
		}
		if (deadline_us >= 0 && mono_us() >= deadline_us) {
			deadline_us = -1;
			curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		while ((msg = curl_multi_info_read(m, &q)) != NULL) {
			flow *f;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			curl_multi_remove_handle(m, f->h);
			requests++;
			if (msg->data.result != CURLE_OK) {
				fprintf(stderr, "http_floor: %s\n",
					curl_easy_strerror(msg->data.result));
				return 1;
			}
			if (f->left > 0) {
				start(m, f, uh, next - 1, steps - f->left);
				f->left--;
			} else {
				done++;
				if (next < n) {
					f->left = steps - 1;
					start(m, f, uh, next++, 0);
				}
			}
		}
	}
	wall = bench_now_s() - t0;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"wall_s\": %.4f, \"cpu_s\": %.4f, \"requests\": %ld}\n", wall,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	       requests);
	for (i = 0; i < conc; i++)
		curl_easy_cleanup(flows[i].h);
	free(flows);
	while (nshares > 0)
		curl_share_cleanup(shares[--nshares]);
	free(shares);
	curl_multi_cleanup(m);
	close(ep);
	curl_slist_free_all(headers);
	curl_url_cleanup(uh);
	curl_global_cleanup();
	return 0;
}
