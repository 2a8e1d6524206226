/*
 * worker.c - `ecl worker`: drive the runs queued in the database (ecl run --queue, ecl batch
 * --queue) and those whose driver died, many at once, until stopped. Several workers on one
 * PostgreSQL database, on several machines, share the queue without ever taking a run twice.
 * `ecl workers`: the workers the database knows, live or stale, and the runs each holds.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* One signal drains the worker (no new runs, those in flight go on to their ends); a second
 * interrupts the runs in flight too, leaving them resumable. */
static volatile sig_atomic_t draining, interrupted;

static void on_signal(int sig)
{
	(void)sig;
	if (draining)
		interrupted = 1;
	draining = 1;
}

typedef struct tally {
	long ended, completed, failed, other;
} tally;

static int on_end(void *ctx, const ecl_batch_end *end)
{
	tally *t = ctx;

	t->ended++;
	if (cli_status_is(end->status, ECL_RUN_COMPLETED))
		t->completed++;
	else if (cli_status_is(end->status, ECL_RUN_FAILED))
		t->failed++;
	else
		t->other++;
	printf("%s %s%s%s\n", end->run_id, end->status, end->error ? ": " : "",
	       end->error ? end->error : "");
	fflush(stdout);
	return 0;
}

/* The comma-separated names of arg as a NULL-terminated array in *out (free it and *copy). */
static int split_names(const char *arg, char **copy, const char ***out, size_t *n)
{
	const char *c;
	char *p, *save = NULL;
	size_t cap = 1;

	for (c = arg; *c; c++)
		cap += *c == ',';
	*copy = strdup(arg);
	*out = calloc(cap + 1, sizeof(**out));
	*n = 0;
	if (!*copy || !*out)
		return -1;
	for (p = strtok_r(*copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
		(*out)[(*n)++] = p;
	return 0;
}

/* The worker's arguments into o; --workflows's names in *names, their text in *copy (the
 * caller frees both, whatever this returns). 0, or the exit status after an error. */
static int parse_args(cli *c, ecl_worker_options *o, char **copy, const char ***names)
{
	int i;

	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i], *v;
		long long n;
		long ms;

		if (!strcmp(a, "--exit-when-idle")) {
			o->exit_when_idle = 1;
			continue;
		}
		if (strcmp(a, "--concurrency") != 0 && strcmp(a, "-j") != 0 &&
		    strcmp(a, "--workflows") != 0 && strcmp(a, "--poll") != 0 &&
		    strcmp(a, "--lease") != 0)
			return cli_error(2, "worker: unexpected argument `%s`", a);
		if (i + 1 >= c->nargs)
			return cli_error(2, "%s needs a value", a);
		v = c->args[++i];
		if (!strcmp(a, "--workflows")) {
			free(*names);
			free(*copy);
			*names = NULL;
			*copy = NULL;
			if (split_names(v, copy, names, &o->nworkflows) != 0)
				return cli_error(1, "out of memory");
			o->workflows = *names;
		} else if (a[1] == 'j' || !strcmp(a, "--concurrency")) {
			if (cli_parse_count(v, 1, 100000, &n) != 0)
				return cli_error(2, "%s: `%s` is not a number from 1 to 100000", a,
						 v);
			o->concurrency = (int)n;
		} else {
			if (cli_parse_seconds(v, &ms) != 0)
				return cli_error(2, "%s: `%s` is not a number of seconds", a, v);
			if (!strcmp(a, "--poll"))
				o->poll_ms = ms;
			else
				c->opts.lease_ms = ms;
		}
	}
	return 0;
}

int cmd_worker(cli *c)
{
	ecl_worker_options o = {0};
	struct sigaction sa, old_int, old_term;
	const char **names = NULL;
	char *copy = NULL;
	ecl_engine *e = NULL;
	tally t = {0};
	int rc;

	if ((rc = parse_args(c, &o, &copy, &names)) != 0) {
		free(names);
		free(copy);
		return rc;
	}
	o.drain = &draining;
	o.on_end = on_end;
	o.ctx = &t;
	c->opts.interrupt = &interrupted;
	c->opts.caller_reports_ends = 1; /* each run's end is one line of the worker's */
	if ((rc = cli_open(c, &e)) != 0) {
		free(names);
		free(copy);
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = ecl_worker(e, &o);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	fprintf(stderr, "%s worker: %ld run%s ended: %ld completed, %ld failed, %ld stopped%s\n",
		c->prog, t.ended, t.ended == 1 ? "" : "s", t.completed, t.failed, t.other,
		interrupted ? " (interrupted: the runs in flight are resumable)" : "");
	if (rc != ECL_OK && rc != ECL_EINTERRUPTED)
		cli_error(1, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	free(names);
	free(copy);
	return rc == ECL_OK ? 0 : rc == ECL_EINTERRUPTED ? 130 : 1;
}

typedef struct workers_out {
	int json;
	cJSON *list;
	int count;
	long long now_ms;
} workers_out;

static int print_worker(void *ctx, const ecl_worker_info *w)
{
	workers_out *o = ctx;
	const char *state = w->stale ? "stale" : "live";
	char started[32], beat[32], held[32];

	o->count++;
	if (o->json) {
		cJSON *r = cJSON_CreateObject(), *names = cJSON_CreateArray();
		const char *p = w->workflows;

		cJSON_AddItemToArray(o->list, r);
		cJSON_AddStringToObject(r, "id", w->id);
		cJSON_AddStringToObject(r, "host", w->host);
		cJSON_AddNumberToObject(r, "pid", (double)w->pid);
		cJSON_AddStringToObject(r, "state", state);
		cJSON_AddNumberToObject(r, "held", w->held);
		cJSON_AddNumberToObject(r, "concurrency", w->concurrency);
		cJSON_AddItemToObject(r, "workflows", names);
		while (names && *p) { /* the comma-separated names, as a list */
			size_t n = strcspn(p, ",");
			char *one = strndup(p, n);

			if (one)
				cJSON_AddItemToArray(names, cJSON_CreateString(one));
			free(one);
			p += n + (p[n] == ',');
		}
		cJSON_AddNumberToObject(r, "lease_ms", (double)w->lease_ms);
		cJSON_AddNumberToObject(r, "started_ms", (double)w->started_ms);
		cJSON_AddNumberToObject(r, "heartbeat_ms", (double)w->heartbeat_ms);
		return 0;
	}
	if (o->count == 1)
		printf("%-32s %-6s %-9s %-19s  %-10s %s\n", "WORKER", "STATE", "HELD", "STARTED",
		       "HEARTBEAT", "WORKFLOWS");
	cli_format_time(w->started_ms, started, sizeof(started));
	cli_format_duration(o->now_ms > w->heartbeat_ms ? o->now_ms - w->heartbeat_ms : 0, beat,
			    sizeof(beat));
	snprintf(held, sizeof(held), "%d/%d", w->held, w->concurrency);
	printf("%-32s %-6s %-9s %-19s  %-10s ", w->id, state, held, started, strcat(beat, " ago"));
	cli_print_text(stdout, w->workflows, strlen(w->workflows));
	putchar('\n');
	return 0;
}

int cmd_workers(cli *c)
{
	workers_out o = {0};
	struct timespec ts;
	ecl_engine *e;
	int rc, i;

	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i], *v = i + 1 < c->nargs ? c->args[i + 1] : NULL;

		if (!strcmp(a, "-o") && v && (!strcmp(v, "json") || !strcmp(v, "text")))
			o.json = !strcmp(c->args[++i], "json");
		else
			return cli_error(2, "workers: unknown argument `%s`", a);
	}
	if ((rc = cli_open_to_look(c, &e)) != 0)
		return rc;
	clock_gettime(CLOCK_REALTIME, &ts);
	o.now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (o.json)
		o.list = cJSON_CreateArray();
	rc = ecl_worker_list(e, print_worker, &o);
	if (rc != ECL_OK)
		rc = cli_error(1, "%s", ecl_engine_errmsg(e));
	else if (o.json)
		rc = cli_print_json(o.list);
	else if (!o.count)
		printf("No workers.\n");
	cJSON_Delete(o.list);
	ecl_engine_close(e);
	return rc;
}
