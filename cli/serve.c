/*
 * serve.c - `ecl serve` (every compiled workflow as a Restate service) and the
 * `--engine restate` forms of run, status, cancel and answer, which go through a Restate
 * server instead of the local database.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DEFAULT_INGRESS "http://127.0.0.1:8080"
#define DEFAULT_ADMIN   "http://127.0.0.1:9070"

/* The --engine options, taken out of the command's arguments. */
static struct {
	const char *ingress;
	const char *admin;
	int wait;
} rs;

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

int cli_restate_take(cli *c)
{
	const char *engine = "local";
	int i, j = 0, bad = 0;

	rs.ingress = getenv("ECL_RESTATE_URL") ? getenv("ECL_RESTATE_URL") : DEFAULT_INGRESS;
	rs.admin =
		getenv("ECL_RESTATE_ADMIN_URL") ? getenv("ECL_RESTATE_ADMIN_URL") : DEFAULT_ADMIN;
	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i];
		const char **to = NULL;

		if (strcmp(a, "--wait") == 0) {
			rs.wait = 1;
			continue;
		}
		if (strcmp(a, "--engine") == 0)
			to = &engine;
		else if (strcmp(a, "--restate-url") == 0)
			to = &rs.ingress;
		else if (strcmp(a, "--admin-url") == 0)
			to = &rs.admin;
		if (!to) {
			c->args[j++] = c->args[i];
			continue;
		}
		if (i + 1 >= c->nargs) {
			cli_error(2, "%s needs a value", a);
			bad = 1;
			break;
		}
		*to = c->args[++i];
	}
	c->nargs = j;
	c->args[j] = NULL;
	if (bad)
		return -1;
	if (strcmp(engine, "local") == 0)
		return 0;
	if (strcmp(engine, "restate") == 0)
		return 1;
	cli_error(2, "--engine: `%s` is not local or restate", engine);
	return -1;
}

int cli_run_restate(cli *c, const ecl_workflow *wf, const char *inputs)
{
	char id[ECL_ID_MAX], err[1024];
	char *output = NULL;
	int rc;

	(void)c;
	ecl_run_id_new(id);
	rc = ecl_restate_submit(rs.ingress, wf->id, id, inputs, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(1, "%s", err);
	printf("Workflow started: %s\n", id);
	fflush(stdout);
	if (!rs.wait)
		return 0;
	rc = ecl_restate_attach(rs.ingress, wf->id, id, &output, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(1, "%s", err);
	printf("Workflow %s completed successfully\n%s\n", id, output);
	free(output);
	return 0;
}

int cli_status_restate(cli *c)
{
	char err[1024];
	char *json = NULL;
	cJSON *j;
	int rc;

	if (c->nargs != 1 && !(c->nargs == 3 && strcmp(c->args[1], "-o") == 0))
		return cli_error(2, "status: usage: ecl status --engine restate <run-id>");
	rc = ecl_restate_status(rs.ingress, c->opts.workflows, c->opts.nworkflows, c->args[0],
				&json, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	j = cJSON_Parse(json);
	rc = 0;
	if (j)
		rc = cli_print_json(j);
	else
		printf("%s\n", json);
	cJSON_Delete(j);
	free(json);
	return rc;
}

int cli_cancel_restate(cli *c)
{
	char err[1024];
	int rc;

	if (c->nargs != 1)
		return cli_error(2, "cancel: usage: ecl cancel --engine restate <run-id>");
	rc = ecl_restate_cancel(rs.admin, c->args[0], err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	printf("Run %s: cancellation requested\n", c->args[0]);
	return 0;
}

int cli_answer_restate(cli *c, const char *id, const char *const *names, const char *const *values,
		       int n)
{
	char err[1024], *reply = NULL, *output = NULL;
	cJSON *j;
	const cJSON *wf, *step;
	int rc;

	rc = ecl_restate_answer(rs.ingress, c->opts.workflows, c->opts.nworkflows, id, names,
				values, n, &reply, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EINPUT || rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	j = cJSON_Parse(reply);
	wf = cJSON_GetObjectItemCaseSensitive(j, "workflow");
	step = cJSON_GetObjectItemCaseSensitive(j, "step");
	printf("Answer recorded for %s (step `%s`); Restate drives the run on\n", id,
	       cJSON_IsString(step) ? step->valuestring : "?");
	fflush(stdout);
	free(reply);
	rc = 0;
	if (rs.wait && cJSON_IsString(wf)) {
		if (ecl_restate_attach(rs.ingress, wf->valuestring, id, &output, err,
				       sizeof(err)) != ECL_OK)
			rc = cli_error(1, "%s", err);
		else
			printf("Workflow %s completed successfully\n%s\n", id, output);
		free(output);
	}
	cJSON_Delete(j);
	return rc;
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
