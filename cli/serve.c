/*
 * serve.c - `ecl serve`: every compiled workflow as a Restate service (the `--engine restate`
 * forms of the other commands are restate.c's).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

typedef struct ready {
	const char *admin;    /* --register: the admin API, or NULL */
	const char *endpoint; /* --advertise: how Restate reaches us, or NULL */
	int failed;
} ready;

static void on_ready(void *ctx, int port)
{
	ready *r = ctx;
	char url[512], err[1024];

	fprintf(stderr, "ecl serve: listening on port %d\n", port);
	if (!r->admin)
		return;
	if (r->endpoint)
		snprintf(url, sizeof(url), "%s", r->endpoint);
	else
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	if (ecl_restate_register(r->admin, url, err, sizeof(err)) != ECL_OK) {
		cli_error(1, "%s", err);
		r->failed = 1;
		stopping = 1;
		return;
	}
	fprintf(stderr, "ecl serve: registered %s with %s\n", url, r->admin);
}

int cmd_serve(cli *c)
{
	ecl_serve_options o = {0};
	ready r = {0};
	struct sigaction sa;
	char err[1024];
	int i, rc;

	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i], *v = i + 1 < c->nargs ? c->args[i + 1] : NULL;

		if (strcmp(a, "--port") == 0 || strcmp(a, "--bind") == 0 ||
		    strcmp(a, "--register") == 0 || strcmp(a, "--advertise") == 0) {
			if (!v)
				return cli_error(2, "serve: %s needs a value", a);
			i++;
		} else {
			return cli_error(2,
					 "serve: unknown argument `%s`; usage: ecl serve "
					 "[--port 9080] [--bind ADDR] [--register ADMIN-URL] "
					 "[--advertise URL]",
					 a);
		}
		if (strcmp(a, "--port") == 0) {
			long long p;

			if (cli_parse_count(v, 0, 65535, &p) != 0)
				return cli_error(2, "serve: --port: `%s` is not a port number", v);
			o.port = p ? (int)p : -1; /* 0 asks for any free port */
		} else if (strcmp(a, "--bind") == 0) {
			o.bind = v;
		} else if (strcmp(a, "--register") == 0) {
			r.admin = v;
		} else {
			r.endpoint = v;
		}
	}
	{
		ecl_engine *e = NULL;

		/* Open one engine here: it checks the options (and makes the database's
		 * directory) before anything listens. */
		if ((rc = cli_open(c, &e)) != 0)
			return rc;
		ecl_engine_close(e);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	c->opts.interrupt = &stopping;
	o.engine = &c->opts;
	o.stop = &stopping;
	o.on_ready = on_ready;
	o.ready_ctx = &r;
	rc = ecl_serve(&o, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "serve: %s", err);
	return r.failed ? 1 : 0;
}
