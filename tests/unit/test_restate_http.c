/*
 * test_restate_http.c - the HTTP sides of the Restate integration without a Restate server:
 * `ecl serve` (restate_serve.c) started in a thread on an ephemeral port and asked over
 * libcurl (discovery, health, unknown handlers, content types, bad framing, a body too
 * large, an engine that cannot open, shutdown, ports it cannot take), and the client calls
 * (restate_client.c) against a fake ingress/admin server in a thread that answers each
 * connection with the next canned response and records what it was asked.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>

#include "restate.h"
#include "restate.pb-c.h"
#include "support.h"
#include "testhooks.h"

#define CT5 "application/vnd.restate.invocation.v5"

/* ---- a fake ingress/admin server ---------------------------------------------------------- */

#define FAKE_MAX 8

typedef struct canned {
	int status;       /* 0: close the connection without answering */
	const char *body; /* the response body */
} canned;

typedef struct fake {
	int fd;
	int port;
	char url[64];
	pthread_t thread;
	canned replies[FAKE_MAX];
	int nreplies;
	char seen[FAKE_MAX][2048]; /* "METHOD PATH BODY" of each request (the first ones) */
	int nseen;
	int cycle;                  /* answer with the replies in turn until stopped */
	const char *ends[FAKE_MAX]; /* cycling: reply i answers paths that end so, if set */
	volatile int stopping;
} fake;

static void *fake_main(void *arg)
{
	fake *f = arg;
	int i, j;

	for (i = 0; f->cycle ? !f->stopping : i < f->nreplies; i++) {
		char req[4096], head[256], *end, *cl;
		size_t have = 0, want;
		ssize_t got;
		int c = accept(f->fd, NULL, NULL);
		const canned *k = &f->replies[i % f->nreplies];

		if (c < 0 || f->stopping) {
			if (c >= 0)
				close(c);
			break;
		}
		/* the headers, then as much body as Content-Length says */
		while (have < sizeof(req) - 1 &&
		       (got = read(c, req + have, sizeof(req) - 1 - have)) > 0) {
			have += (size_t)got;
			req[have] = '\0';
			if ((end = strstr(req, "\r\n\r\n")) != NULL) {
				cl = strstr(req, "Content-Length: ");
				want = (size_t)(end + 4 - req) +
				       (cl ? strtoul(cl + 16, NULL, 10) : 0);
				if (have >= want)
					break;
			}
		}
		req[have] = '\0';
		end = strstr(req, "\r\n\r\n");
		{
			char method[16] = "", path[1024] = "";

			sscanf(req, "%15s %1023s", method, path);
			for (j = 0; f->cycle && j < f->nreplies; j++) {
				const char *want_end = f->ends[j];
				size_t pl = strlen(path);

				if (want_end && pl >= strlen(want_end) &&
				    strcmp(path + pl - strlen(want_end), want_end) == 0)
					k = &f->replies[j];
			}
			if (f->nseen < FAKE_MAX)
				snprintf(f->seen[f->nseen++], sizeof(f->seen[0]), "%s %s %s",
					 method, path, end ? end + 4 : "");
		}
		if (k->status) {
			const char *body = k->body ? k->body : "";
			int n = snprintf(head, sizeof(head),
					 "HTTP/1.1 %d Canned\r\nContent-Type: application/json\r\n"
					 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
					 k->status, strlen(body));

			if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0)
				break;
		}
		close(c);
	}
	return NULL;
}

/* Start a fake that answers len connections, one response each, in order (or, cycle, with
 * the replies in turn until fake_stop_cycle). */
static void fake_begin(fake *f, const canned *replies, int len, int cycle, const char *const *ends)
{
	memset(f, 0, sizeof(*f));
	f->cycle = cycle;
	if (ends)
		memcpy(f->ends, ends, (size_t)len * sizeof(*ends));
	cr_assert_leq(len, FAKE_MAX);
	memcpy(f->replies, replies, (size_t)len * sizeof(*replies));
	f->nreplies = len;
	f->fd = ts_listen_any(&f->port, 8);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_start(fake *f, const canned *replies, int len)
{
	fake_begin(f, replies, len, 0, NULL);
}

/* Wait until it has answered every connection; it must have been asked exactly that often. */
static void fake_stop(fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->fd);
	cr_assert_eq(f->nseen, f->nreplies, "%d requests, %d expected", f->nseen, f->nreplies);
}

/* Stop a fake that answers in turn: a connection of our own wakes its accept. */
static void fake_stop_cycle(fake *f)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	f->stopping = 1;
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)f->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	pthread_join(f->thread, NULL);
	close(fd);
	close(f->fd);
}

/* A URL where nothing listens: a port bound but never listening refuses connections. */
static int refusing(char *url, size_t n)
{
	int port, fd = ts_listen_any(&port, 0);

	snprintf(url, n, "http://127.0.0.1:%d", port);
	return fd;
}

/* ---- the client: register ----------------------------------------------------------------- */

Test(restate_client, register_posts_the_deployment)
{
	static const canned r[] = {{201, "{\"id\": \"dp_1\", \"services\": []}"}};
	fake f;
	char err[512] = "";

	fake_start(&f, r, 1);
	cr_assert_eq(ecl_restate_register(f.url, "http://127.0.0.1:9080", err, sizeof(err)), ECL_OK,
		     "%s", err);
	fake_stop(&f);
	cr_assert(strncmp(f.seen[0], "POST /deployments {", 19) == 0, "%s", f.seen[0]);
	cr_assert(strstr(f.seen[0], "\"uri\":\"http://127.0.0.1:9080\""), "%s", f.seen[0]);
	cr_assert(strstr(f.seen[0], "\"use_http_11\":true"), "%s", f.seen[0]);
	cr_assert(strstr(f.seen[0], "\"force\":true"), "%s", f.seen[0]);
}

Test(restate_client, register_refused_names_the_url_the_status_and_the_message)
{
	static const canned r[] = {
		{400, "{\"message\": \"bad uri: the endpoint did not answer discovery\"}\n"}};
	fake f;
	char err[512] = "", want[256];

	fake_start(&f, r, 1);
	cr_assert_eq(ecl_restate_register(f.url, "http://nowhere:1", err, sizeof(err)), ECL_EIO);
	fake_stop(&f);
	snprintf(want, sizeof(want),
		 "registering http://nowhere:1 at %s/deployments: HTTP 400: bad uri: the endpoint "
		 "did not answer discovery",
		 f.url);
	cr_assert_str_eq(err, want);
}

Test(restate_client, register_unreachable_names_the_url)
{
	char url[64], err[512] = "", want[128];
	int fd = refusing(url, sizeof(url));

	cr_assert_eq(ecl_restate_register(url, "http://127.0.0.1:9080", err, sizeof(err)), ECL_EIO);
	close(fd);
	snprintf(want, sizeof(want), "POST %s/deployments: ", url);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	cr_assert(strlen(err) > strlen(want), "no reason given: %s", err);
}

/* ---- submit ------------------------------------------------------------------------------- */

Test(restate_client, submit_sends_the_inputs)
{
	static const canned r[] = {
		{202, "{\"invocationId\": \"inv_1\", \"status\": \"Accepted\"}"},
		{202, "{\"invocationId\": \"inv_2\", \"status\": \"Accepted\"}"}};
	fake f;
	char err[512] = "";

	fake_start(&f, r, 2);
	cr_assert_eq(ecl_restate_submit(f.url, "critique-revise", "r-1.a_b", "{\"topic\": \"Tea\"}",
					err, sizeof(err)),
		     ECL_OK, "%s", err);
	cr_assert_eq(ecl_restate_submit(f.url, "critique-revise", "r2", NULL, err, sizeof(err)),
		     ECL_OK, "%s", err);
	fake_stop(&f);
	cr_assert_str_eq(f.seen[0], "POST /critique-revise/r-1.a_b/run/send {\"topic\": \"Tea\"}");
	cr_assert_str_eq(f.seen[1], "POST /critique-revise/r2/run/send {}");
}

Test(restate_client, submit_of_an_existing_run_is_a_state_error)
{
	static const canned r[] = {
		{200, "{\"invocationId\": \"inv_1\", \"status\": \"PreviouslyAccepted\"}"}};
	fake f;
	char err[512] = "";

	fake_start(&f, r, 1);
	cr_assert_eq(ecl_restate_submit(f.url, "summarize", "r1", "{}", err, sizeof(err)),
		     ECL_ESTATE);
	fake_stop(&f);
	cr_assert_str_eq(err, "run r1 of summarize exists already");
}

Test(restate_client, submit_errors_name_the_url_the_status_and_the_message)
{
	static const canned r[] = {
		{404, "{\"code\": \"META0004\", \"message\": \"Service 'nope' not found.\"}"},
		{500, "internal error: disk full\n\n"},
		{503, ""},
		{0, NULL}};
	fake f;
	char err[512] = "", want[512];

	fake_start(&f, r, 4);
	cr_assert_eq(ecl_restate_submit(f.url, "nope", "r1", "{}", err, sizeof(err)), ECL_EIO);
	snprintf(want, sizeof(want),
		 "submitting run r1 of nope at %s/nope/r1/run/send: HTTP 404: Service 'nope' not "
		 "found.",
		 f.url);
	cr_assert_str_eq(err, want);
	/* a body that is not JSON is quoted as it is, without its trailing blank lines */
	cr_assert_eq(ecl_restate_submit(f.url, "summarize", "r2", "{}", err, sizeof(err)), ECL_EIO);
	snprintf(want, sizeof(want),
		 "submitting run r2 of summarize at %s/summarize/r2/run/send: HTTP 500: internal "
		 "error: disk full",
		 f.url);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ecl_restate_submit(f.url, "summarize", "r3", "{}", err, sizeof(err)), ECL_EIO);
	snprintf(want, sizeof(want),
		 "submitting run r3 of summarize at %s/summarize/r3/run/send: HTTP 503: (no body)",
		 f.url);
	cr_assert_str_eq(err, want);
	/* the connection closed without an answer */
	cr_assert_eq(ecl_restate_submit(f.url, "summarize", "r4", "{}", err, sizeof(err)), ECL_EIO);
	snprintf(want, sizeof(want), "POST %s/summarize/r4/run/send: ", f.url);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	fake_stop(&f);
}

Test(restate_client, submit_unreachable_and_bad_names)
{
	char url[64], err[512] = "", want[128];
	int fd = refusing(url, sizeof(url));

	cr_assert_eq(ecl_restate_submit(url, "summarize", "r1", "{}", err, sizeof(err)), ECL_EIO);
	close(fd);
	snprintf(want, sizeof(want), "POST %s/summarize/r1/run/send: ", url);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	cr_assert_eq(ecl_restate_submit(url, "summarize", "a/b", "{}", err, sizeof(err)),
		     ECL_EUSAGE);
	cr_assert_str_eq(err, "a workflow name or run id with characters a URL cannot take");
	cr_assert_eq(ecl_restate_submit(url, "sum marize", "r1", "{}", err, sizeof(err)),
		     ECL_EUSAGE);
	cr_assert_eq(ecl_restate_submit(url, "summarize", "", "{}", NULL, 0), ECL_EUSAGE);
}

/* ---- attach ------------------------------------------------------------------------------- */

Test(restate_client, attach_returns_the_output_or_the_failure)
{
	static const canned r[] = {{200, "{\"revisions\": 2}"},
				   {200, ""},
				   {404, "{\"message\": \"invocation not found\"}"},
				   {500, "{\"message\": \"the model refused: quota\"}"}};
	fake f;
	char err[512] = "", *out = NULL;

	fake_start(&f, r, 4);
	cr_assert_eq(ecl_restate_attach(f.url, "critique-revise", "r1", &out, err, sizeof(err)),
		     ECL_OK, "%s", err);
	cr_assert_str_eq(out, "{\"revisions\": 2}");
	free(out);
	cr_assert_eq(ecl_restate_attach(f.url, "critique-revise", "r2", &out, err, sizeof(err)),
		     ECL_OK, "%s", err);
	cr_assert_str_eq(out, "null");
	free(out);
	cr_assert_eq(ecl_restate_attach(f.url, "critique-revise", "r3", &out, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert_null(out);
	cr_assert_str_eq(err, "run r3 of critique-revise: invocation not found");
	cr_assert_eq(ecl_restate_attach(f.url, "critique-revise", "r4", &out, err, sizeof(err)),
		     ECL_EFAILED);
	cr_assert_str_eq(err, "run r4 of critique-revise: the model refused: quota");
	fake_stop(&f);
	cr_assert(strncmp(f.seen[0], "GET /restate/workflow/critique-revise/r1/attach ", 48) == 0,
		  "%s", f.seen[0]);
	cr_assert_eq(ecl_restate_attach(f.url, "critique-revise", "r/1", &out, err, sizeof(err)),
		     ECL_EUSAGE);
	cr_assert_null(out);
}

/* ---- status ------------------------------------------------------------------------------- */

Test(restate_client, status_tries_each_workflow)
{
	static const canned r[] = {{404, "{\"message\": \"not found\"}"},
				   {200, "{\"workflow\": \"summarize\", \"status\": \"waiting\"}"},
				   {200, "null"},
				   {200, "null"}};
	const ecl_workflow *list[] = {ts_workflow("critique-revise"), ts_workflow("summarize")};
	fake f;
	char err[512] = "", *json = NULL, want[256];

	fake_start(&f, r, 4);
	cr_assert_eq(ecl_restate_status(f.url, list, 2, "r1", &json, err, sizeof(err)), ECL_OK,
		     "%s", err);
	cr_assert_str_eq(json, "{\"workflow\": \"summarize\", \"status\": \"waiting\"}");
	free(json);
	cr_assert_eq(ecl_restate_status(f.url, list, 2, "r2", &json, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert_null(json);
	snprintf(want, sizeof(want), "no run r2 on the Restate server at %s", f.url);
	cr_assert_str_eq(err, want);
	fake_stop(&f);
	cr_assert_str_eq(f.seen[0], "POST /critique-revise/r1/get_status ");
	cr_assert_str_eq(f.seen[1], "POST /summarize/r1/get_status ");
	cr_assert_str_eq(f.seen[3], "POST /summarize/r2/get_status ");
}

Test(restate_client, status_errors_name_the_url_the_status_and_the_message)
{
	static const canned r[] = {{502, "{\"message\": \"the endpoint is unreachable\"}"}};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	fake f;
	char err[512] = "", *json = NULL, want[256], url[64];
	int fd;

	fake_start(&f, r, 1);
	cr_assert_eq(ecl_restate_status(f.url, list, 1, "r1", &json, err, sizeof(err)), ECL_EIO);
	fake_stop(&f);
	cr_assert_null(json);
	snprintf(want, sizeof(want),
		 "%s/summarize/r1/get_status: HTTP 502: the endpoint is unreachable", f.url);
	cr_assert_str_eq(err, want);
	fd = refusing(url, sizeof(url));
	cr_assert_eq(ecl_restate_status(url, list, 1, "r1", &json, err, sizeof(err)), ECL_EIO);
	close(fd);
	snprintf(want, sizeof(want), "POST %s/summarize/r1/get_status: ", url);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	cr_assert_eq(ecl_restate_status(url, list, 1, "r 1", &json, err, sizeof(err)), ECL_EUSAGE);
	cr_assert_str_eq(err, "not a run id: r 1");
}

/* ---- answer ------------------------------------------------------------------------------- */

#define WAITING "{\"workflow\": \"summarize\", \"status\": \"waiting\"}"

Test(restate_client, answer_calls_the_runs_workflow)
{
	static const canned r[] = {
		{200, WAITING}, {200, "{\"step\": \"review\"}"}, {200, WAITING}, {200, ""}};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	const char *names[] = {"approve", "note"}, *values[] = {"yes", "fine \"really\""};
	fake f;
	char err[512] = "", *reply = NULL;

	fake_start(&f, r, 4);
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 2, &reply, err,
					sizeof(err)),
		     ECL_OK, "%s", err);
	cr_assert_str_eq(reply, "{\"step\": \"review\"}");
	free(reply);
	cr_assert_eq(
		ecl_restate_answer(f.url, list, 1, "r1", NULL, NULL, 0, &reply, err, sizeof(err)),
		ECL_OK, "%s", err);
	cr_assert_str_eq(reply, "null");
	free(reply);
	fake_stop(&f);
	cr_assert_str_eq(f.seen[1],
			 "POST /summarize/r1/answer "
			 "{\"fields\":{\"approve\":\"yes\",\"note\":\"fine \\\"really\\\"\"}}");
	cr_assert_str_eq(f.seen[3], "POST /summarize/r1/answer {\"fields\":{}}");
}

Test(restate_client, answer_refusals_keep_their_kind_and_message)
{
	static const canned r[] = {
		{200, WAITING}, {400, "{\"message\": \"field approve: not a boolean: maybe\"}"},
		{200, WAITING}, {409, "{\"message\": \"run r1 does not wait for an answer\"}"},
		{200, WAITING}, {404, "{\"message\": \"no run r1\"}"},
		{200, WAITING}, {500, "upstream failure"}};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	const char *names[] = {"approve"}, *values[] = {"maybe"};
	fake f;
	char err[512] = "", *reply = NULL;

	fake_start(&f, r, 8);
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_EINPUT);
	cr_assert_str_eq(err, "run r1: field approve: not a boolean: maybe");
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_ESTATE);
	cr_assert_str_eq(err, "run r1: run r1 does not wait for an answer");
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert_str_eq(err, "run r1: no run r1");
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_EIO);
	cr_assert_str_eq(err, "run r1: upstream failure");
	cr_assert_null(reply);
	fake_stop(&f);
}

Test(restate_client, answer_failures_before_the_answer)
{
	static const canned r[] = {{200, "{\"status\": \"waiting\"}"},
				   {200, "{\"workflow\": \"../x\"}"},
				   {200, WAITING},
				   {0, NULL},
				   {500, "{\"message\": \"no partition leader\"}"}};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	const char *names[] = {"approve"}, *values[] = {"yes"};
	fake f;
	char err[512] = "", *reply = NULL, want[256];

	fake_start(&f, r, 5);
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_EIO);
	cr_assert_str_eq(err, "run r1: its status names no workflow: {\"status\": \"waiting\"}");
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_EIO);
	cr_assert_str_eq(err, "run r1: its status names no workflow: {\"workflow\": \"../x\"}");
	/* the answer's connection closed without a reply */
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_EIO);
	snprintf(want, sizeof(want), "POST %s/summarize/r1/answer: ", f.url);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	/* the status cannot be read */
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, 1, &reply, err,
					sizeof(err)),
		     ECL_EIO);
	snprintf(want, sizeof(want), "%s/summarize/r1/get_status: HTTP 500: no partition leader",
		 f.url);
	cr_assert_str_eq(err, want);
	fake_stop(&f);
	cr_assert_null(reply);
	cr_assert_eq(
		ecl_restate_answer(f.url, list, 1, "r1", NULL, values, 1, &reply, err, sizeof(err)),
		ECL_EUSAGE);
	cr_assert_str_eq(err, "ecl_restate_answer: invalid arguments");
	cr_assert_eq(ecl_restate_answer(f.url, list, 1, "r1", names, values, -1, &reply, err,
					sizeof(err)),
		     ECL_EUSAGE);
}

/* ---- cancel ------------------------------------------------------------------------------- */

#define ROWS "{\"rows\": [{\"id\": \"inv_1abc\"}]}"

Test(restate_client, cancel_finds_the_invocation_and_cancels_it)
{
	static const canned r[] = {{200, ROWS},
				   {202, ""},
				   /* an older server: no PATCH .../cancel */
				   {200, ROWS},
				   {405, ""},
				   {202, ""}};
	fake f;
	char err[512] = "";

	fake_start(&f, r, 5);
	cr_assert_eq(ecl_restate_cancel(f.url, "r1", err, sizeof(err)), ECL_OK, "%s", err);
	cr_assert_eq(ecl_restate_cancel(f.url, "r2", err, sizeof(err)), ECL_OK, "%s", err);
	fake_stop(&f);
	cr_assert(strncmp(f.seen[0], "POST /query {\"query\": \"SELECT id FROM sys_invocation",
			  52) == 0,
		  "%s", f.seen[0]);
	cr_assert(strstr(f.seen[0], "target_service_key = 'r1'"), "%s", f.seen[0]);
	cr_assert_str_eq(f.seen[1], "PATCH /invocations/inv_1abc/cancel ");
	cr_assert_str_eq(f.seen[3], "PATCH /invocations/inv_1abc/cancel ");
	cr_assert_str_eq(f.seen[4], "DELETE /invocations/inv_1abc?mode=Cancel ");
}

Test(restate_client, cancel_errors)
{
	static const canned r[] = {{200, "{\"rows\": []}"},
				   {200, "not json at all"},
				   {500, "{\"message\": \"query engine down\"}"},
				   {200, ROWS},
				   {500, "{\"message\": \"invocation is completed\"}"}};
	fake f;
	char err[512] = "", want[256], url[64];
	int fd;

	fake_start(&f, r, 5);
	cr_assert_eq(ecl_restate_cancel(f.url, "r1", err, sizeof(err)), ECL_ENOTFOUND);
	snprintf(want, sizeof(want), "no unfinished run r1 on the Restate server at %s", f.url);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ecl_restate_cancel(f.url, "r1", err, sizeof(err)), ECL_ENOTFOUND);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ecl_restate_cancel(f.url, "r1", err, sizeof(err)), ECL_EIO);
	snprintf(want, sizeof(want), "%s/query: HTTP 500: query engine down", f.url);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ecl_restate_cancel(f.url, "r1", err, sizeof(err)), ECL_EIO);
	cr_assert_str_eq(err, "cancelling inv_1abc: HTTP 500: invocation is completed");
	fake_stop(&f);
	fd = refusing(url, sizeof(url));
	cr_assert_eq(ecl_restate_cancel(url, "r1", err, sizeof(err)), ECL_EIO);
	close(fd);
	snprintf(want, sizeof(want), "POST %s/query: ", url);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	cr_assert_eq(ecl_restate_cancel(url, "r1'; DROP", err, sizeof(err)), ECL_EUSAGE);
	cr_assert_str_eq(err, "not a run id: r1'; DROP");
}

/* ---- the server --------------------------------------------------------------------------- */

typedef struct served {
	char dir[256];
	ecl_options eo;
	ecl_serve_options so;
	volatile sig_atomic_t stop;
	pthread_mutex_t lock;
	pthread_cond_t ready;
	int port;
	int rc;
	char err[256];
	pthread_t thread;
} served;

static void on_ready(void *ctx, int port)
{
	served *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->port = port;
	pthread_cond_signal(&s->ready);
	pthread_mutex_unlock(&s->lock);
}

static void *serve_main(void *arg)
{
	served *s = arg;

	s->rc = ecl_serve(&s->so, s->err, sizeof(s->err));
	on_ready(s, -1); /* wakes the test when serving could not start */
	return NULL;
}

/* ecl serve on 127.0.0.1, an ephemeral port; db NULL for an engine that cannot open; with
 * the connection limits given (0: the defaults). */
static void serve_start_limited(served *s, int with_db, int max_connections, int idle_timeout_s)
{
	char *d = ts_tmpdir();

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", d);
	free(d);
	s->eo = ts_options(with_db ? ts_path(s->dir, "serve.db") : NULL, NULL, NULL);
	if (with_db)
		s->eo.db_path = strdup(s->eo.db_path);
	s->so.engine = &s->eo;
	s->so.bind = "127.0.0.1";
	s->so.port = -1;
	s->so.stop = &s->stop;
	s->so.on_ready = on_ready;
	s->so.ready_ctx = s;
	s->so.max_connections = max_connections;
	s->so.idle_timeout_s = idle_timeout_s;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->ready, NULL);
	cr_assert_eq(pthread_create(&s->thread, NULL, serve_main, s), 0);
	pthread_mutex_lock(&s->lock);
	while (!s->port)
		pthread_cond_wait(&s->ready, &s->lock);
	pthread_mutex_unlock(&s->lock);
	cr_assert_gt(s->port, 0, "ecl serve did not start: %s", s->err);
}

static void serve_start(served *s, int with_db)
{
	serve_start_limited(s, with_db, 0, 0);
}

static void serve_stop(served *s)
{
	s->stop = 1;
	pthread_join(s->thread, NULL);
	cr_assert_eq(s->rc, ECL_OK, "%s", s->err);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->ready);
	free((char *)s->eo.db_path);
	ts_rmtree(s->dir);
}

/* A reply's body, in memory of the test's own (not the runtime's, whose allocations a test
 * may make fail). */
typedef struct text {
	char *data;
	size_t len;
} text;

typedef struct reply {
	long status;
	text body;
	char type[128];
	int server_header;
} reply;

static void text_add(text *t, const char *p, size_t n)
{
	char *d = realloc(t->data, t->len + n + 1);

	cr_assert_not_null(d);
	memcpy(d + t->len, p, n);
	t->len += n;
	d[t->len] = '\0';
	t->data = d;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	text_add(ctx, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	reply *r = ctx;
	size_t len = size * n;

	if (len > 14 && strncasecmp(p, "Content-Type: ", 14) == 0)
		snprintf(r->type, sizeof(r->type), "%.*s", (int)(len - 16), p + 14);
	if (len > 17 && strncasecmp(p, "x-restate-server:", 17) == 0)
		r->server_header = 1;
	return len;
}

/* One request to the server; the reply's status (0 when it cannot be reached), type and
 * body (NUL-terminated; caller frees its data). */
static CURLcode ask(const served *s, const char *method, const char *path, const char *type,
		    const char *accept, const void *body, size_t len, reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], line[256];
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	if (type) {
		snprintf(line, sizeof(line), "Content-Type: %s", type);
		h = curl_slist_append(h, line);
	}
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	text_add(&r->body, "", 0);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return cc;
}

Test(restate_serve, discovery_follows_the_accept_header)
{
	served s;
	reply r;
	cJSON *m;

	serve_start(&s, 1);
	cr_assert_eq(ask(&s, "GET", "/discover", NULL,
			 "application/vnd.restate.endpointmanifest.v2+json", NULL, 0, &r),
		     CURLE_OK);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.type, "application/vnd.restate.endpointmanifest.v2+json");
	cr_assert(r.server_header);
	m = cJSON_Parse(r.body.data);
	cr_assert_not_null(m, "%s", r.body.data);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "services")), (int)ecl_nworkflows);
	cJSON_Delete(m);
	free(r.body.data);
	/* no manifest version asked for: v1 */
	cr_assert_eq(ask(&s, "GET", "/discover", NULL, NULL, NULL, 0, &r), CURLE_OK);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.type, "application/vnd.restate.endpointmanifest.v1+json");
	cr_assert(strstr(r.body.data, "\"protocolMode\":\"REQUEST_RESPONSE\""), "%s", r.body.data);
	free(r.body.data);
	cr_assert_eq(ask(&s, "GET", "/health", NULL, NULL, NULL, 0, &r), CURLE_OK);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body.data, "ok\n");
	free(r.body.data);
	serve_stop(&s);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n connections to the endpoint (loopback), each sending half a request and nothing more. */
static void open_idle(const served *s, int *fds, int n)
{
	struct sockaddr_in a = {0};
	int i;

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)s->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_geq(fds[i], 0);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		cr_assert_eq(send(fds[i], "GET /disc", 9, MSG_NOSIGNAL), 9);
	}
}

/* Wait until the server has closed every one of fds, at most until deadline (mono_ms); the
 * number still open then. */
static int wait_closed(int *fds, int n, long long deadline)
{
	int i, open = n;

	for (i = 0; i < n; i++) {
		char c;
		struct pollfd p = {fds[i], POLLIN, 0};
		long long left = deadline - mono_ms();

		if (poll(&p, 1, left > 0 ? (int)left : 0) == 1 && recv(fds[i], &c, 1, 0) <= 0)
			open--;
		close(fds[i]);
	}
	return open;
}

/* Discovery, asked again until it answers or deadline (mono_ms) passes; 1 when it answered. */
static int discovery_answers_by(const served *s, long long deadline)
{
	do {
		reply r;
		CURLcode cc = ask(s, "GET", "/discover", NULL, NULL, NULL, 0, &r);

		free(r.body.data);
		if (cc == CURLE_OK && r.status == 200)
			return 1;
		nanosleep(&(struct timespec){0, 100000000L}, NULL);
	} while (mono_ms() < deadline);
	return 0;
}

/* Idle connections (half a request, then nothing) are closed within seconds, not minutes,
 * and meanwhile other clients are served at once. */
Test(restate_serve, idle_connections_are_closed_within_seconds, .timeout = 60)
{
	int fds[20];
	long long t0;
	served s;

	serve_start(&s, 1);
	t0 = mono_ms();
	open_idle(&s, fds, 20);
	cr_assert(discovery_answers_by(&s, mono_ms() + 2000), "served beside idle connections");
	/* the default idle timeout is 10 s; it was 600 s */
	cr_assert_eq(wait_closed(fds, 20, t0 + 14000), 0, "every idle connection closed");
	serve_stop(&s);
}

/* More idle connections than the limit: those past it are closed at once, the others when
 * idle too long, and a client that comes after is served within the idle timeout. */
Test(restate_serve, connections_past_the_limit_do_not_lock_clients_out, .timeout = 60)
{
	int fds[40];
	served s;
	long long t0;

	serve_start_limited(&s, 1, 8, 1);
	t0 = mono_ms();
	open_idle(&s, fds, 40);
	cr_assert(discovery_answers_by(&s, t0 + 6000), "served within the idle timeout");
	cr_assert_eq(wait_closed(fds, 40, t0 + 6000), 0);
	serve_stop(&s);
}

Test(restate_serve, requests_it_does_not_answer)
{
	static const char pathmsg[] = "not found: the endpoint answers GET /discover and POST "
				      "/invoke/{service}/{handler}\n";
	served s;
	reply r;

	serve_start(&s, 1);
	cr_assert_eq(ask(&s, "POST", "/invoke/nope/run", CT5, NULL, "", 0, &r), CURLE_OK);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body.data,
			 "no handler nope/run: the services are the workflows, with the "
			 "handlers run, get_status, answer, pause and resume\n");
	free(r.body.data);
	cr_assert_eq(ask(&s, "POST", "/invoke/summarize/delete", CT5, NULL, "", 0, &r), CURLE_OK);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body.data, "no handler summarize/delete"), "%s", r.body.data);
	free(r.body.data);
	cr_assert_eq(
		ask(&s, "POST", "/invoke/summarize/run", "application/json", NULL, "{}", 2, &r),
		CURLE_OK);
	cr_assert_eq(r.status, 415);
	cr_assert_str_eq(r.body.data, "unsupported content type: this endpoint speaks "
				      "application/vnd.restate.invocation.v5 and v6\n");
	free(r.body.data);
	cr_assert_eq(ask(&s, "PUT", "/invoke/summarize/run", CT5, NULL, "", 0, &r), CURLE_OK);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body.data, pathmsg);
	free(r.body.data);
	cr_assert_eq(ask(&s, "DELETE", "/discover", NULL, NULL, NULL, 0, &r), CURLE_OK);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body.data, pathmsg);
	free(r.body.data);
	cr_assert_eq(ask(&s, "POST", "/invoke/summarize/run/extra", CT5, NULL, "", 0, &r),
		     CURLE_OK);
	cr_assert_eq(r.status, 404);
	free(r.body.data);
	serve_stop(&s);
}

Test(restate_serve, bad_framing_is_a_protocol_violation)
{
	static const uint8_t cut[] = {0x00, 0x00, 0x00}; /* 3 bytes of a frame header */
	served s;
	reply r;
	restate_frame f;
	size_t pos = 0;
	char why[256];
	Ecl__Restate__ErrorMessage *m;

	serve_start(&s, 1);
	cr_assert_eq(ask(&s, "POST", "/invoke/summarize/run", CT5, NULL, cut, sizeof(cut), &r),
		     CURLE_OK);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.type, CT5);
	cr_assert_eq(restate_frame_next((const uint8_t *)r.body.data, r.body.len, &pos, &f, why,
					sizeof(why)),
		     ECL_OK, "%s", why);
	cr_assert_eq(f.type, RESTATE_ERROR);
	m = ecl__restate__error_message__unpack(NULL, f.len, f.body);
	cr_assert_not_null(m);
	cr_assert_eq(m->code, RESTATE_PROTOCOL_VIOLATION);
	cr_assert_str_eq(m->message, "a frame header at byte 0 is cut short (3 of 8 bytes)");
	ecl__restate__error_message__free_unpacked(m, NULL);
	free(r.body.data);
	serve_stop(&s);
}

Test(restate_serve, body_too_large_is_refused, .timeout = 120)
{
	size_t len = (64u << 20) + 1;
	char *big = calloc(1, len);
	served s;
	reply r;

	cr_assert_not_null(big);
	serve_start(&s, 1);
	cr_assert_eq(ask(&s, "POST", "/invoke/summarize/run", CT5, NULL, big, len, &r), CURLE_OK);
	cr_assert_eq(r.status, 413);
	cr_assert_str_eq(r.body.data, "the request body is too large\n");
	free(r.body.data);
	free(big);
	serve_stop(&s);
}

Test(restate_serve, engine_that_cannot_open_is_unavailable)
{
	served s;
	reply r;

	serve_start(&s, 0);
	cr_assert_eq(ask(&s, "POST", "/invoke/summarize/get_status", CT5, NULL, "", 0, &r),
		     CURLE_OK);
	cr_assert_eq(r.status, 503);
	cr_assert_str_eq(r.body.data, "no database path given");
	free(r.body.data);
	serve_stop(&s);
}

Test(restate_serve, stops_when_asked)
{
	served s;
	reply r;
	CURLcode cc;
	int port;

	serve_start(&s, 1);
	cr_assert_eq(ask(&s, "GET", "/health", NULL, NULL, NULL, 0, &r), CURLE_OK);
	free(r.body.data);
	port = s.port;
	serve_stop(&s);
	s.port = port; /* nothing listens there now */
	cc = ask(&s, "GET", "/health", NULL, NULL, NULL, 0, &r);
	cr_assert_eq(cc, CURLE_COULDNT_CONNECT, "%d %s", cc, curl_easy_strerror(cc));
	free(r.body.data);
}

Test(restate_serve, refuses_what_it_cannot_serve)
{
	ecl_options eo = ts_options("/nonexistent/x.db", NULL, NULL);
	ecl_serve_options so = {0};
	volatile sig_atomic_t stop = 1;
	char err[256] = "", want[128];
	int port, fd;

	so.stop = &stop;
	cr_assert_eq(ecl_serve(&so, err, sizeof(err)), ECL_EUSAGE);
	cr_assert_str_eq(err, "ecl_serve: no engine options");
	cr_assert_eq(ecl_serve(&so, NULL, 0), ECL_EUSAGE);
	so.engine = &eo;
	so.bind = "localhost";
	cr_assert_eq(ecl_serve(&so, err, sizeof(err)), ECL_EUSAGE);
	cr_assert_str_eq(err, "not an IPv4 address to listen on: localhost");
	/* a port another socket listens on */
	fd = ts_listen_any(&port, 1);
	so.bind = "127.0.0.1";
	so.port = port;
	cr_assert_eq(ecl_serve(&so, err, sizeof(err)), ECL_EIO);
	close(fd);
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d (in use, or not allowed)",
		 port);
	cr_assert_str_eq(err, want);
}

/* Each allocation of the server's from the N-th on failing, for every N until discovery gets
 * through: the connection closed without a reply (no room for the request), or 500 saying
 * out of memory; never a crash, a partial manifest or a server that stops answering. */
Test(restate_serve, discovery_when_memory_runs_out, .timeout = 120)
{
	served s;
	reply r, want;
	CURLcode cc;
	long n;
	int nclosed = 0, n500 = 0;

	serve_start(&s, 1);
	cr_assert_eq(ask(&s, "GET", "/discover", NULL, NULL, NULL, 0, &want), CURLE_OK);
	cr_assert_eq(want.status, 200);
	for (n = 0; n < 10000; n++) {
		ecl_test_fail_alloc_after(n);
		cc = ask(&s, "GET", "/discover", NULL, NULL, NULL, 0, &r);
		ecl_test_fail_alloc_after(-1);
		if (cc == CURLE_GOT_NOTHING) {
			nclosed++;
		} else {
			cr_assert_eq(cc, CURLE_OK, "after %ld allocations: %s", n,
				     curl_easy_strerror(cc));
			if (r.status == 200) {
				cr_assert_str_eq(r.body.data, want.body.data);
				free(r.body.data);
				break;
			}
			cr_assert_eq(r.status, 500, "after %ld allocations", n);
			cr_assert_str_eq(r.body.data, "out of memory\n");
			n500++;
		}
		free(r.body.data);
	}
	cr_assert_lt(n, 10000);
	cr_assert_gt(nclosed, 0);
	cr_assert_gt(n500, 0);
	free(want.body.data);
	serve_stop(&s);
}

/* One call of the client to the fake at url, the workflows in ctx; its output, if any, in
 * *out. */
typedef int (*client_call)(const char *url, void *ctx, char **out, char *err, size_t n);

/* Register a deployment with the admin API at url. */
static int call_register(const char *url, void *ctx, char **out, char *err, size_t n)
{
	return ecl_restate_register(url, "http://127.0.0.1:9080", err, n);
}

/* Submit run r1 of summarize. */
static int call_submit(const char *url, void *ctx, char **out, char *err, size_t n)
{
	return ecl_restate_submit(url, "summarize", "r1", "{}", err, n);
}

/* Attach to run r1 of summarize. */
static int call_attach(const char *url, void *ctx, char **out, char *err, size_t n)
{
	return ecl_restate_attach(url, "summarize", "r1", out, err, n);
}

/* The status of run r1 among the one workflow in ctx. */
static int call_status(const char *url, void *ctx, char **out, char *err, size_t n)
{
	return ecl_restate_status(url, ctx, 1, "r1", out, err, n);
}

/* Answer run r1 (of the one workflow in ctx) with approved = true. */
static int call_answer(const char *url, void *ctx, char **out, char *err, size_t n)
{
	const char *names[] = {"approved"}, *values[] = {"true"};

	return ecl_restate_answer(url, ctx, 1, "r1", names, values, 1, out, err, n);
}

/* Cancel run r1. */
static int call_cancel(const char *url, void *ctx, char **out, char *err, size_t n)
{
	return ecl_restate_cancel(url, "r1", err, n);
}

/* Make the call with the runtime's allocations failing from the N-th on, for every N from 0
 * until it gets through (at most 10000): each failure is ECL_ENOMEM saying out of memory,
 * with no output. Returns the N it got through at; *out holds its output (out may be NULL
 * for a call without one). */
static long until_memory_suffices(const char *what, client_call call, const char *url, void *ctx,
				  char **out)
{
	char err[512];
	long n;
	int rc;

	for (n = 0; n < 10000; n++) {
		if (out)
			*out = NULL;
		err[0] = '\0';
		ecl_test_fail_alloc_after(n);
		rc = call(url, ctx, out, err, sizeof(err));
		ecl_test_fail_alloc_after(-1);
		if (rc == ECL_OK)
			break;
		cr_assert_eq(rc, ECL_ENOMEM, "%s after %ld allocations: %d %s", what, n, rc, err);
		cr_assert(strncmp(err, "out of memory", 13) == 0, "%s after %ld allocations: %s",
			  what, n, err);
		if (out)
			cr_assert_null(*out);
	}
	return n;
}

/* Each client call with the runtime's allocations failing from the N-th on, for every N
 * until the call gets through: ECL_ENOMEM saying out of memory (what it was reading, when it
 * was reading), never a crash or a wrong success. */
Test(restate_client, calls_when_memory_runs_out, .timeout = 120)
{
	static const canned r[] = {{200, WAITING}};
	static const client_call calls[] = {call_register, call_submit, call_attach, call_status};
	static const char *const what[] = {"register", "submit", "attach", "status"};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	fake f;
	char *out;
	int call;

	fake_begin(&f, r, 1, 1, NULL);
	for (call = 0; call < 4; call++) {
		cr_assert_lt(until_memory_suffices(what[call], calls[call], f.url, list, &out),
			     10000);
		if (call >= 2)
			cr_assert_str_eq(out, WAITING);
		free(out);
	}
	fake_stop_cycle(&f);
}

/* attach of a run whose output is empty (JSON null) with the allocations failing in turn. */
Test(restate_client, attach_of_an_empty_output_when_memory_runs_out)
{
	static const canned r[] = {{200, ""}};
	fake f;
	char *out;

	fake_begin(&f, r, 1, 1, NULL);
	until_memory_suffices("attach", call_attach, f.url, NULL, &out);
	cr_assert_str_eq(out, "null");
	free(out);
	fake_stop_cycle(&f);
}

/* answer with the allocations failing in turn: the fake answers get_status with a waiting
 * run and answer with an empty reply (JSON null). */
Test(restate_client, answer_when_memory_runs_out, .timeout = 120)
{
	static const canned r[] = {{200, WAITING}, {200, ""}};
	static const char *const ends[] = {"/get_status", "/answer"};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	fake f;
	char *out;

	fake_begin(&f, r, 2, 1, ends);
	until_memory_suffices("answer", call_answer, f.url, list, &out);
	cr_assert_str_eq(out, "null");
	free(out);
	fake_stop_cycle(&f);
}

/* cancel with the allocations failing in turn: the query finds the invocation, the cancel
 * is accepted. */
Test(restate_client, cancel_when_memory_runs_out, .timeout = 120)
{
	static const canned r[] = {{200, ROWS}, {202, ""}};
	static const char *const ends[] = {"/query", "/cancel"};
	fake f;

	fake_begin(&f, r, 2, 1, ends);
	cr_assert_lt(until_memory_suffices("cancel", call_cancel, f.url, NULL, NULL), 10000);
	fake_stop_cycle(&f);
}

/* ---- pause and resume --------------------------------------------------------------------- */

#define RUNNING "{\"workflow\": \"critique-revise\", \"status\": \"running\"}"

Test(restate_client, pause_and_resume_call_the_runs_workflow)
{
	static const canned r[] = {
		{200, RUNNING},
		{200, "{\"pause\": \"requested\"}"},
		{200, RUNNING},
		{409, "{\"message\": \"run r1 is running: only a paused run can be resumed\"}"},
		{200, RUNNING},
		{404, "{\"message\": \"no run r1\"}"},
		{200, RUNNING},
		{500, "upstream failure"}};
	const ecl_workflow *list[] = {ts_workflow("critique-revise")};
	fake f;
	char err[512] = "", *reply = NULL;

	fake_start(&f, r, 8);
	cr_assert_eq(ecl_restate_pause(f.url, list, 1, "r1", &reply, err, sizeof(err)), ECL_OK,
		     "%s", err);
	cr_assert_str_eq(reply, "{\"pause\": \"requested\"}");
	free(reply);
	cr_assert_eq(ecl_restate_resume(f.url, list, 1, "r1", &reply, err, sizeof(err)),
		     ECL_ESTATE);
	cr_assert_str_eq(err, "run r1: run r1 is running: only a paused run can be resumed");
	cr_assert_eq(ecl_restate_resume(f.url, list, 1, "r1", &reply, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert_eq(ecl_restate_pause(f.url, list, 1, "r1", &reply, err, sizeof(err)), ECL_EIO);
	cr_assert_str_eq(err, "run r1: upstream failure");
	cr_assert_null(reply);
	fake_stop(&f);
	cr_assert_str_eq(f.seen[1], "POST /critique-revise/r1/pause ");
	cr_assert_str_eq(f.seen[3], "POST /critique-revise/r1/resume ");
}

Test(restate_client, pause_failures_before_the_call)
{
	static const canned r[] = {
		{200, "{\"status\": \"running\"}"}, {200, RUNNING}, {0, NULL}, {200, "null"}};
	const ecl_workflow *list[] = {ts_workflow("critique-revise")};
	fake f;
	char err[512] = "", *reply = NULL, want[256];

	fake_start(&f, r, 4);
	cr_assert_eq(ecl_restate_pause(f.url, list, 1, "r1", &reply, err, sizeof(err)), ECL_EIO);
	cr_assert_str_eq(err, "run r1: its status names no workflow: {\"status\": \"running\"}");
	cr_assert_eq(ecl_restate_resume(f.url, list, 1, "r1", &reply, err, sizeof(err)), ECL_EIO);
	snprintf(want, sizeof(want), "POST %s/critique-revise/r1/resume: ", f.url);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	cr_assert_eq(ecl_restate_pause(f.url, list, 1, "r1", &reply, err, sizeof(err)),
		     ECL_ENOTFOUND);
	fake_stop(&f);
	cr_assert_null(reply);
}

/* ---- runs and history --------------------------------------------------------------------- */

/* A status row of the runs query. */
#define STATUS_ROW(svc, id, st, created)                                                           \
	"{\"service_name\": \"" svc "\", \"service_key\": \"" id "\", \"value_utf8\": "            \
	"\"{\\\"id\\\":\\\"" id "\\\",\\\"workflow\\\":\\\"" svc "\\\",\\\"version\\\":\\\"v\\\"," \
	"\\\"status\\\":\\\"" st "\\\",\\\"step\\\":\\\"critique\\\",\\\"step_count\\\":3,"        \
	"\\\"revisions\\\":1,\\\"revision_limit\\\":3,\\\"output\\\":{\\\"a\\\":1}}\", "           \
	"\"created_at\": \"" created "\", \"modified_at\": \"2026-12-07T21:47:33.000Z\"}"

typedef struct seen_runs {
	char ids[8][32];
	int n, stop_after;
	ecl_run_info last;
	int limits[4];
} seen_runs;

static int take_run(void *ctx, const ecl_run_info *info)
{
	seen_runs *s = ctx;
	int i;

	snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", info->id);
	for (i = 0; i < info->nlimits && i < 4; i++)
		s->limits[i] = info->limits[i].count;
	s->last.created_ms = info->created_ms;
	s->last.updated_ms = info->updated_ms;
	s->last.step_count = info->step_count;
	return s->stop_after && s->n >= s->stop_after;
}

Test(restate_client, runs_lists_the_workflows_runs_newest_first)
{
	static const canned r[] = {
		{200,
		 "{\"rows\": [" STATUS_ROW("critique-revise", "old", "completed", "2026-12-07T21:47:32.763Z") ", " STATUS_ROW(
			 "critique-revise", "new", "running",
			 "2026-12-08T09:00:00.5Z") ", " STATUS_ROW("someone-else", "x", "running",
								   "2026-12-09T00:00:"
								   "00Z") ", "
									  "{\"service_"
									  "name\": "
									  "\"summarize\""
									  ", "
									  "\"service_"
									  "key\": "
									  "\"bad\", "
									  "\"value_"
									  "utf8\": "
									  "\"not "
									  "json\"}]}"}};
	const ecl_workflow *list[] = {ts_workflow("critique-revise"), ts_workflow("summarize")};
	const char *running[] = {"running"};
	ecl_run_filter f = {0};
	seen_runs s = {0};
	fake k;
	char err[512] = "";

	k.cycle = 1;
	fake_begin(&k, r, 1, 1, NULL);
	cr_assert_eq(ecl_restate_runs(k.url, list, 2, NULL, take_run, &s, err, sizeof(err)), ECL_OK,
		     "%s", err);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.ids[0], "new");
	cr_assert_str_eq(s.ids[1], "old");
	cr_assert_eq(s.last.created_ms, 1796680052763LL);
	cr_assert_eq(s.last.updated_ms, 1796680053000LL);
	cr_assert_eq(s.last.step_count, 3);
	cr_assert_eq(s.limits[0], 1);
	/* filtered by status, by workflow, cut by the limit, stopped by the callback */
	memset(&s, 0, sizeof(s));
	f.statuses = running;
	f.nstatuses = 1;
	cr_assert_eq(ecl_restate_runs(k.url, list, 2, &f, take_run, &s, err, sizeof(err)), ECL_OK);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.ids[0], "new");
	memset(&s, 0, sizeof(s));
	memset(&f, 0, sizeof(f));
	f.workflow = "summarize";
	cr_assert_eq(ecl_restate_runs(k.url, list, 2, &f, take_run, &s, err, sizeof(err)), ECL_OK);
	cr_assert_eq(s.n, 0);
	memset(&s, 0, sizeof(s));
	memset(&f, 0, sizeof(f));
	f.limit = 1;
	cr_assert_eq(ecl_restate_runs(k.url, list, 2, &f, take_run, &s, err, sizeof(err)), ECL_OK);
	cr_assert_eq(s.n, 1);
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	cr_assert_eq(ecl_restate_runs(k.url, list, 2, NULL, take_run, &s, err, sizeof(err)),
		     ECL_OK);
	cr_assert_eq(s.n, 1);
	fake_stop_cycle(&k);
	cr_assert(strstr(k.seen[0], "WHERE s.key = 'status'"), "%s", k.seen[0]);
}

Test(restate_client, runs_counts_later_limits_from_the_transitions)
{
	/* a workflow with two loop limits: the second is counted from its step records */
	static const canned r[] = {
		{200, "{\"rows\": [" STATUS_ROW("critique-revise", "r1", "running",
						"2026-12-07T21:47:32Z") "]}"},
		{200,
		 "{\"rows\": [{\"value_utf8\": \"{\\\"seq\\\":1,\\\"step\\\":\\\"revise\\\"}\"},"
		 " {\"value_utf8\": \"{\\\"seq\\\":2,\\\"step\\\":\\\"revise\\\"}\"},"
		 " {\"value_utf8\": \"{\\\"seq\\\":3,\\\"step\\\":\\\"reviser\\\"}\"}]}"},
		{200, "{\"rows\": [" STATUS_ROW("critique-revise", "r1", "running",
						"2026-12-07T21:47:32Z") "]}"},
		{500, "{\"message\": \"no leader\"}"}};
	ecl_workflow wf = *ts_workflow("critique-revise");
	ecl_step_def steps[16];
	const ecl_workflow *list[] = {&wf};
	seen_runs s = {0};
	fake k;
	char err[512] = "";
	int i;

	cr_assert_leq(wf.nsteps, 16);
	memcpy(steps, wf.steps, (size_t)wf.nsteps * sizeof(*steps));
	for (i = 0; i < wf.nsteps; i++)
		if (strcmp(steps[i].name, "critique") == 0)
			steps[i].limit = 4;
	wf.steps = steps;
	fake_start(&k, r, 4);
	cr_assert_eq(ecl_restate_runs(k.url, list, 1, NULL, take_run, &s, err, sizeof(err)), ECL_OK,
		     "%s", err);
	cr_assert_eq(s.limits[0], 1, "critique's visits from the status");
	cr_assert_eq(s.limits[1], 2, "revise's from its records");
	cr_assert_eq(ecl_restate_runs(k.url, list, 1, NULL, take_run, &s, err, sizeof(err)),
		     ECL_EIO);
	cr_assert(strstr(err, "HTTP 500"), "%s", err);
	fake_stop(&k);
	cr_assert(strstr(k.seen[1], "service_key = 'r1'"), "%s", k.seen[1]);
}

Test(restate_client, runs_and_history_errors)
{
	static const canned r[] = {
		{500, "{\"message\": \"query engine down\"}"},
		{200, "{\"no\": \"rows\"}"},
		{200, "{\"rows\": [{\"key\": \"step#1\", \"value_utf8\": \"{}\"}]}"},
		{200, "not json"}};
	const ecl_workflow *list[] = {ts_workflow("critique-revise")};
	seen_runs s = {0};
	fake f;
	char err[512] = "", want[256], url[64];
	int fd;

	fake_start(&f, r, 4);
	cr_assert_eq(ecl_restate_runs(f.url, list, 1, NULL, take_run, &s, err, sizeof(err)),
		     ECL_EIO);
	snprintf(want, sizeof(want), "%s/query: HTTP 500: {\"message\": \"query engine down\"}",
		 f.url);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ecl_restate_history(f.url, "r1", 0, NULL, NULL, err, sizeof(err)), ECL_EIO);
	cr_assert(strstr(err, "the answer has no rows"), "%s", err);
	/* records but no status: no such run */
	cr_assert_eq(ecl_restate_history(f.url, "r1", 0, NULL, NULL, err, sizeof(err)),
		     ECL_ENOTFOUND);
	snprintf(want, sizeof(want), "no run r1 on the Restate server at %s", f.url);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ecl_restate_runs(f.url, list, 1, NULL, take_run, &s, err, sizeof(err)),
		     ECL_EIO);
	fake_stop(&f);
	cr_assert_eq(ecl_restate_history(f.url, "r1'; DROP", 0, NULL, NULL, err, sizeof(err)),
		     ECL_EUSAGE);
	cr_assert_str_eq(err, "not a run id: r1'; DROP");
	fd = refusing(url, sizeof(url));
	cr_assert_eq(ecl_restate_history(url, "r1", 0, NULL, NULL, err, sizeof(err)), ECL_EIO);
	close(fd);
}

typedef struct seen_hist {
	int n, stop_after;
	char steps[8][32];
	int ncalls[8];
	long long duration_us[8], tokens_in;
	char kinds[64], prompt[128], answer[128];
} seen_hist;

static int take_entry(void *ctx, const ecl_history_entry *h)
{
	seen_hist *s = ctx;
	int i;

	snprintf(s->steps[s->n], sizeof(s->steps[0]), "%s", h->step);
	s->ncalls[s->n] = h->ncalls;
	s->duration_us[s->n] = h->duration_us;
	s->tokens_in += h->tokens_in;
	for (i = 0; i < h->ncalls; i++) {
		strcat(s->kinds, ecl_llm_call_kind_name(h->calls[i].kind));
		strcat(s->kinds, " ");
	}
	if (h->prompt)
		snprintf(s->prompt, sizeof(s->prompt), "%s", h->prompt);
	if (s->n == 0 && h->answer)
		snprintf(s->answer, sizeof(s->answer), "%s", h->answer);
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

#define REC(key, json)                                                                             \
	"{\"service_name\": \"critique-revise\", \"key\": \"" key "\", "                           \
	"\"value_utf8\": \"" json "\"}"

Test(restate_client, history_joins_transitions_and_their_calls)
{
	static const canned r[] = {
		{200,
		 "{\"rows\": [" REC("status", "{}") ", " REC(
			 "step#2",
			 "{\\\"seq\\\":2,\\\"step\\\":\\\"critique\\\",\\\"next\\\":null,"
			 "\\\"attempt\\\":1,\\\"output\\\":{\\\"d\\\":1},\\\"calls\\\":[3,5]"
			 "}") ", " REC("step#1",
				       "{\\\"seq\\\":1,\\\"step\\\":\\\"generate\\\","
				       "\\\"next\\\":\\\"critique\\\",\\\"attempt\\\":1,"
				       "\\\"calls\\\":[1,9]}") ", " REC("call#1",
									"{\\\"step\\\":"
									"\\\"generate\\\","
									"\\\"system\\\":"
									"\\\"S\\\","
									"\\\"prompt\\\":"
									"\\\"P\\\","
									"\\\"calls\\\":[{"
									"\\\"kind\\\":"
									"\\\"first\\\","
									"\\\"error\\\":"
									"\\\"boom\\\","
									"\\\"latency_us\\\":"
									"1000,\\\"started_"
									"ms\\\":1000},{"
									"\\\"kind\\\":"
									"\\\"retry\\\","
									"\\\"answer\\\":"
									"\\\"A\\\","
									"\\\"tokens_in\\\":"
									"7,\\\"latency_"
									"us\\\":2000,"
									"\\\"started_ms\\\":"
									"1500}]}") ", " REC("call#"
											    "3",
											    "{\\\"c"
											    "alls\\"
											    "\":[{"
											    "\\\"ki"
											    "nd\\\""
											    ":\\\"f"
											    "irst\\"
											    "\","
											    "\\\"an"
											    "swer\\"
											    "\":"
											    "\\\"x"
											    "\\\"}]"
											    "}") ","
												 " " REC("call#5",
													 "{\\\"fix\\\":\\\"F\\\",\\\"calls\\\":[{\\\"kind\\\":\\\"repair\\\",\\\"repair\\\":1,\\\"answer\\\":\\\"y\\\"}]}") "]}"}};
	seen_hist s = {0};
	fake f;
	char err[512] = "";

	fake_begin(&f, r, 1, 1, NULL);
	cr_assert_eq(ecl_restate_history(f.url, "r1", 1, take_entry, &s, err, sizeof(err)), ECL_OK,
		     "%s", err);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.steps[0], "generate");
	cr_assert_str_eq(s.steps[1], "critique");
	cr_assert_eq(s.ncalls[0], 2, "call#9 is not kept: left out");
	cr_assert_eq(s.ncalls[1], 2);
	cr_assert_str_eq(s.kinds, "first retry first repair ");
	/* from the first call's start to the end of the last */
	cr_assert_eq(s.duration_us[0], 1502000 - 1000000, "%lld", s.duration_us[0]);
	cr_assert_eq(s.tokens_in, 7);
	cr_assert_str_eq(s.prompt, "P");
	cr_assert_str_eq(s.answer, "A", "the accepted answer as it came");
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	cr_assert_eq(ecl_restate_history(f.url, "r1", 0, take_entry, &s, err, sizeof(err)), ECL_OK);
	cr_assert_eq(s.n, 1);
	fake_stop_cycle(&f);
	cr_assert(strstr(f.seen[0], "service_key = 'r1'"), "%s", f.seen[0]);
}

/* ---- fork --------------------------------------------------------------------------------- */

#define FORK_STATE(records)                                                                        \
	"{\"rows\": [" REC("status", "{\\\"workflow\\\":\\\"summarize\\\",\\\"version\\\":"        \
				     "\\\"v1\\\",\\\"step_count\\\":3}") records "]}"
#define JOURNAL_INPUT(bytes)                                                                       \
	"{\"rows\": [{\"entry_json\": \"{\\\"Command\\\":{\\\"Input\\\":{\\\"payload\\\":[" bytes  \
	"]}}}\"}]}"

Test(restate_client, fork_submits_the_inputs_and_the_answers)
{
	static const canned r[] = {
		{200,
		 FORK_STATE(", " REC(
			 "step#1",
			 "{\\\"seq\\\":1,\\\"step\\\":\\\"draft\\\","
			 "\\\"calls\\\":[1]}") ", " REC("step#2",
							"{\\\"seq\\\":2,\\\"step\\\":\\\"check\\\","
							"\\\"calls\\\":"
							"[]}") ", " REC("step#3",
									"{\\\"seq\\\":3,"
									"\\\"step\\\":"
									"\\\"approve\\\","
									"\\\"output\\\":{"
									"\\\"approved\\\":true},"
									"\\\"calls\\\":[]"
									"}") ", " REC("call#1",
										      "{\\\"calls\\"
										      "\":[{"
										      "\\\"error\\"
										      "\":"
										      "\\\"e\\\"},{"
										      "\\\"answer\\"
										      "\":"
										      "\\\"D\\\"}]"
										      "}"))},
		{200, JOURNAL_INPUT("123,125")},
		{200, "{}"}};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	fake f;
	char err[512] = "", id[ECL_ID_MAX];

	fake_start(&f, r, 3);
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 3, id, err, sizeof(err)),
		     ECL_OK, "%s", err);
	cr_assert(id[0]);
	fake_stop(&f);
	cr_assert(strstr(f.seen[1], "j.index = 0"), "%s", f.seen[1]);
	cr_assert(strstr(f.seen[2], "POST /summarize/") &&
			  strstr(f.seen[2],
				 "\"$fork\":{\"run\":\"old\",\"version\":\"v1\","
				 "\"from\":3,\"answers\":[\"D\",\"{\\\"approved\\\":true}\"]}"),
		  "%s", f.seen[2]);
}

Test(restate_client, fork_refusals)
{
	static const canned r[] = {
		{200, "{\"rows\": []}"},
		{200, FORK_STATE("")},
		{200, FORK_STATE("")},
		{200, JOURNAL_INPUT("")},
		{200, FORK_STATE("")},
		{200, "{\"rows\": []}"},
		{200,
		 FORK_STATE(", " REC("step#1", "{\\\"step\\\":\\\"draft\\\",\\\"calls\\\":[4]}"))},
		{200, JOURNAL_INPUT("91,93")}};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	fake f;
	char err[512] = "", id[ECL_ID_MAX];

	fake_start(&f, r, 8);
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 1, id, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert(strstr(err, "no run old"), "%s", err);
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 4, id, err, sizeof(err)),
		     ECL_EUSAGE);
	cr_assert_str_eq(err, "run old has 3 checkpoints: there is no checkpoint 4");
	/* the inputs are {}; no record of checkpoint 1 */
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 1, id, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert(strstr(err, "keeps no record of checkpoint 1"), "%s", err);
	/* the journal is gone */
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 0, id, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert(strstr(err, "no longer keeps the journal"), "%s", err);
	/* inputs that are not an object (`[]`); then, a call record missing */
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 1, id, err, sizeof(err)),
		     ECL_EIO);
	cr_assert(strstr(err, "its inputs are not a JSON object"), "%s", err);
	fake_stop(&f);
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "a b", 1, id, err, sizeof(err)),
		     ECL_EUSAGE);
}

Test(restate_client, fork_needs_every_answer)
{
	static const canned r[] = {
		{200,
		 FORK_STATE(", " REC("step#1", "{\\\"step\\\":\\\"draft\\\",\\\"calls\\\":[4]}"))},
		{200, JOURNAL_INPUT("123,125")},
		{200,
		 FORK_STATE(", " REC("step#1", "{\\\"step\\\":\\\"approve\\\",\\\"calls\\\":[]}"))},
		{200, JOURNAL_INPUT("123,125")},
		{500, "{\"message\": \"down\"}"}};
	const ecl_workflow *list[] = {ts_workflow("summarize")};
	fake f;
	char err[512] = "", id[ECL_ID_MAX];

	fake_start(&f, r, 5);
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 1, id, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert_str_eq(err, "run old: no answer of step `draft` is kept (call#4)");
	/* a human step's answer is its output: none kept is refused */
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 1, id, err, sizeof(err)),
		     ECL_ENOTFOUND);
	cr_assert_str_eq(err, "run old: the answer to step `approve` is not kept");
	cr_assert_eq(ecl_restate_fork(f.url, f.url, list, 1, "old", 1, id, err, sizeof(err)),
		     ECL_EIO);
	fake_stop(&f);
}

Test(restate_client, runs_with_times_it_cannot_read)
{
	static const canned r[] = {
		{200,
		 "{\"rows\": [" STATUS_ROW(
			 "critique-revise", "a", "running",
			 "yesterday") ", " STATUS_ROW("critique-revise", "b", "running",
						      "2026-13-01T00:00:00Z") ", " STATUS_ROW("crit"
											      "ique"
											      "-rev"
											      "ise",
											      "c",
											      "runn"
											      "ing",
											      "2026"
											      "-12-"
											      "07T2"
											      "1:"
											      "47") "]}"}};
	const ecl_workflow *list[] = {ts_workflow("critique-revise")};
	seen_runs s = {0};
	fake f;

	fake_start(&f, r, 1);
	/* listed all the same, from the epoch; no error to say (err may be NULL) */
	cr_assert_eq(ecl_restate_runs(f.url, list, 1, NULL, take_run, &s, NULL, 0), ECL_OK);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(s.last.created_ms, 0);
	fake_stop(&f);
	cr_assert_eq(ecl_restate_history(f.url, "", 0, take_entry, &s, NULL, 0), ECL_EUSAGE);
}
