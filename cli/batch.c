/*
 * batch.c - `ecl batch FILE.jsonl --workflow ID [--concurrency N]`: one run per line of
 * inputs, driven together from one thread, with one progress line on a terminal and a JSON
 * summary at the end. The transitions (and new runs) that become ready together are committed
 * in one transaction (runtime/net/batch.c); each run's checkpoint is committed, with the chosen
 * --durability, before the call it leads to is sent.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The inputs: one JSON object per non-blank line. */
typedef struct lines {
	char **text; /* canonical JSON text of each line's inputs */
	int *line;   /* its line number in the file */
	size_t n, cap;
} lines;

static void lines_free(lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->text[i]);
	free(l->text);
	free(l->line);
}

static int lines_add(lines *l, char *text, int line)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **t = realloc(l->text, cap * sizeof(*t));
		int *n;

		if (!t)
			return -1;
		l->text = t;
		n = realloc(l->line, cap * sizeof(*n));
		if (!n)
			return -1;
		l->line = n;
		l->cap = cap;
	}
	l->text[l->n] = text;
	l->line[l->n++] = line;
	return 0;
}

/* Read and check every line before anything starts; 0 or the exit status. */
static int read_inputs(const char *path, const ecl_workflow *wf, lines *out)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int no = 0, rc = 0;

	if (!f)
		return cli_error(2, "cannot read %s: %s", path, strerror(errno));
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		const char *p = line;
		char err[1024], *text;
		cJSON *obj;
		int crc;

		no++;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			continue; /* blank lines are allowed */
		/* the raw line: parsed, a string would be cut at a \u0000 */
		if (ecl_json_check(line, (size_t)len, err, sizeof(err)) != ECL_OK) {
			rc = cli_error(2, "%s:%d: %s%s", path, no, err[0] == '`' ? "input " : "",
				       err);
			break;
		}
		obj = cJSON_ParseWithLength(line, (size_t)len);
		if (!obj) {
			char near[24];

			snprintf(near, sizeof(near), "%.20s",
				 cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : p);
			/* cJSON says the same when memory ran out: the runtime tells them apart */
			if (ecl_workflow_check_inputs(wf, p, err, sizeof(err)) == ECL_ENOMEM)
				rc = cli_error(1, "out of memory");
			else
				rc = cli_error(2, "%s:%d: not valid JSON (near `%s`)", path, no,
					       near);
			break;
		}
		if (!cJSON_IsObject(obj)) {
			cJSON_Delete(obj);
			rc = cli_error(2, "%s:%d: not a JSON object of inputs", path, no);
			break;
		}
		text = cJSON_PrintUnformatted(obj);
		cJSON_Delete(obj);
		if (!text) {
			rc = cli_error(1, "out of memory");
			break;
		}
		if ((crc = ecl_workflow_check_inputs(wf, text, err, sizeof(err))) != ECL_OK) {
			free(text);
			rc = cli_error(crc == ECL_ENOMEM ? 1 : 2, "%s:%d: %s", path, no, err);
			break;
		}
		if (lines_add(out, text, no) != 0) {
			free(text);
			rc = cli_error(1, "out of memory");
		}
	}
	if (rc == 0 && ferror(f))
		rc = cli_error(1, "cannot read %s: %s", path, strerror(errno));
	free(line);
	fclose(f);
	return rc;
}

/* What the batch's runs did, for the progress line and the summary. */
typedef struct tally {
	const lines *in;
	size_t ended, completed, failed, stopped, waiting;
	size_t queued;   /* inputs not started, stored as runs for `ecl recover` */
	cJSON *counts;   /* status -> runs */
	cJSON *failures; /* [{line, run_id, status, error}] */
	cJSON *waits;    /* [{line, run_id}]: runs waiting for a human's answer */
	int tty;
	double start, shown;
	size_t total;
	int concurrency;
	int oom;
} tally;

static void show(tally *t, int last)
{
	double now = now_s();
	size_t inflight;

	if (!t->tty || (!last && now - t->shown < 0.1))
		return;
	t->shown = now;
	inflight = t->total - t->ended;
	if (inflight > (size_t)t->concurrency)
		inflight = (size_t)t->concurrency;
	fprintf(stderr,
		"\rbatch: %zu/%zu ended, %zu completed, %zu waiting, %zu failed, %zu stopped, "
		"%zu in flight, %.1f s\033[K",
		t->ended, t->total, t->completed, t->waiting, t->failed, t->stopped,
		last ? 0 : inflight, now - t->start);
	if (last)
		fputc('\n', stderr);
}

static int on_end(void *ctx, const ecl_batch_end *end)
{
	tally *t = ctx;
	cJSON *n = cJSON_GetObjectItemCaseSensitive(t->counts, end->status);

	if (!strcmp(end->status, ECL_BATCH_QUEUED)) {
		t->queued++; /* not started: it has not ended */
		return 0;
	}
	t->ended++;
	if (cli_status_is(end->status, ECL_RUN_COMPLETED))
		t->completed++;
	else if (cli_status_is(end->status, ECL_RUN_FAILED))
		t->failed++;
	else if (end->rc == ECL_EWAITING)
		t->waiting++;
	else
		t->stopped++;
	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else if (!cJSON_AddNumberToObject(t->counts, end->status, 1))
		t->oom = 1;
	if (end->rc == ECL_EWAITING) {
		/* waiting for a person is where such a run stops, not a failure */
		cJSON *w = cJSON_CreateObject();

		if (!w || !cJSON_AddItemToArray(t->waits, w)) {
			cJSON_Delete(w);
			t->oom = 1;
		} else if (!cJSON_AddNumberToObject(w, "line", t->in->line[end->index]) ||
			   !cJSON_AddStringToObject(w, "run_id", end->run_id)) {
			t->oom = 1;
		}
	} else if (end->rc != ECL_OK) {
		cJSON *f = cJSON_CreateObject();

		if (!f || !cJSON_AddItemToArray(t->failures, f)) {
			cJSON_Delete(f);
			t->oom = 1;
		} else if (!cJSON_AddNumberToObject(f, "line", t->in->line[end->index]) ||
			   !cJSON_AddStringToObject(f, "run_id", end->run_id) ||
			   !cJSON_AddStringToObject(f, "status", end->status) ||
			   !cli_json_text(f, "error", end->error)) {
			t->oom = 1;
		}
	}
	show(t, 0);
	return 0;
}

/* `ecl batch --queue`: one queued run per line, their ids printed in order. */
static int enqueue_all(ecl_engine *e, const ecl_workflow *wf, const lines *in)
{
	char id[ECL_ID_MAX];
	size_t i;

	for (i = 0; i < in->n; i++) {
		if (ecl_run_enqueue(e, wf, in->text[i], id) != ECL_OK)
			return cli_error(1,
					 "line %d: %s (the runs of the lines before it are queued)",
					 in->line[i], ecl_engine_errmsg(e));
		printf("%s\n", id);
	}
	return fflush(stdout) == 0 ? 0 : cli_error(1, "cannot write the ids");
}

int cmd_batch(cli *c)
{
	const char *path = NULL, *workflow = NULL;
	const ecl_workflow *wf;
	struct sigaction sa, old_int, old_term;
	ecl_engine *e = NULL;
	lines in = {0};
	tally t;
	cJSON *summary = NULL;
	long concurrency = 8;
	char quoted[4 * sizeof(c->db_buf) + 3];
	int rc, i, status, unprinted = 0, queue = 0;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i];

		if (!strcmp(a, "--workflow") || !strcmp(a, "--concurrency") || !strcmp(a, "-j")) {
			if (i + 1 >= c->nargs)
				return cli_error(2, "%s needs a value", a);
			if (!strcmp(a, "--workflow")) {
				workflow = c->args[++i];
			} else {
				long long n;

				if (cli_parse_count(c->args[++i], 1, 100000, &n) != 0)
					return cli_error(2,
							 "%s: `%s` is not a number from 1 to "
							 "100000",
							 a, c->args[i]);
				concurrency = (long)n;
			}
		} else if (!strcmp(a, "--queue")) {
			queue = 1;
		} else if (!path && strncmp(a, "--", 2) != 0) {
			path = a;
		} else {
			return cli_error(2, "batch: unexpected argument `%s`", a);
		}
	}
	if (!path || !workflow)
		return cli_error(2, "usage: ecl batch FILE.jsonl --workflow ID [--concurrency N] "
				    "[--queue]");
	wf = ecl_workflow_find(c->opts.workflows, c->opts.nworkflows, workflow);
	if (!wf)
		return cli_error(2, "unknown workflow `%s` (ecl list shows the workflows)",
				 workflow);
	if ((rc = read_inputs(path, wf, &in)) != 0) {
		lines_free(&in);
		return rc;
	}
	c->opts.interrupt = &interrupted;
	c->opts.caller_reports_ends = 1; /* printed once, by the command */
	if ((rc = cli_open(c, &e)) != 0) {
		lines_free(&in);
		return rc;
	}
	if (queue) {
		rc = enqueue_all(e, wf, &in);
		ecl_engine_close(e);
		lines_free(&in);
		return rc;
	}
	t.in = &in;
	t.counts = cJSON_CreateObject();
	t.failures = cJSON_CreateArray();
	t.waits = cJSON_CreateArray();
	t.tty = isatty(STDERR_FILENO);
	t.total = in.n;
	t.concurrency = (int)concurrency;
	t.start = now_s();
	if (!t.counts || !t.failures || !t.waits) {
		cJSON_Delete(t.counts);
		cJSON_Delete(t.failures);
		cJSON_Delete(t.waits);
		ecl_engine_close(e);
		lines_free(&in);
		return cli_error(1, "out of memory");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = ecl_batch_drive(e, wf, (const char *const *)in.text, in.n, (int)concurrency, on_end,
			     &t);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	show(&t, 1);
	summary = cJSON_CreateObject();
	if (summary) {
		cJSON_AddStringToObject(summary, "workflow", wf->id);
		cJSON_AddNumberToObject(summary, "runs", (double)in.n);
		cJSON_AddNumberToObject(summary, "concurrency", (double)concurrency);
		cJSON_AddNumberToObject(summary, "not_started", (double)(in.n - t.ended));
		cJSON_AddNumberToObject(summary, ECL_BATCH_QUEUED, (double)t.queued);
		cJSON_AddItemToObject(summary, "statuses", t.counts);
		cJSON_AddNumberToObject(summary, "wall_s", now_s() - t.start);
		cJSON_AddItemToObject(summary, "failures", t.failures);
		cJSON_AddItemToObject(summary, "waiting", t.waits);
		if (rc != ECL_OK && rc != ECL_EINTERRUPTED)
			cJSON_AddStringToObject(summary, "error", ecl_engine_errmsg(e));
		unprinted = cli_print_json(summary) != 0;
		cJSON_Delete(summary);
	} else {
		cJSON_Delete(t.counts);
		cJSON_Delete(t.failures);
		cJSON_Delete(t.waits);
		t.oom = 1;
	}
	if (t.oom)
		cli_error(1, "out of memory: the summary is incomplete");
	if (rc == ECL_EINTERRUPTED || interrupted) {
		fprintf(stderr,
			"%s: batch interrupted; the runs in flight are interrupted and the %zu "
			"not started are stored as queued runs: %s --db %s recover "
			"finishes them all\n",
			c->prog, t.queued, c->prog,
			cli_shell_word(cli_db(c), quoted, sizeof(quoted)));
		status = 130;
	} else if (rc != ECL_OK) {
		cli_error(1, "%s", ecl_engine_errmsg(e));
		status = 1;
	} else {
		/* runs waiting for an answer did all they could: `ecl answer` goes on */
		status = t.completed + t.waiting == in.n ? 0 : 1;
		if (t.waiting)
			fprintf(stderr,
				"ecl: %zu run%s wait%s for an answer (ecl --db %s runs --status "
				"waiting)\n",
				t.waiting, t.waiting == 1 ? "" : "s", t.waiting == 1 ? "s" : "",
				cli_shell_word(cli_db(c), quoted, sizeof(quoted)));
	}
	/* a summary that is incomplete or missing is no success */
	if (status == 0 && (t.oom || unprinted))
		status = 1;
	ecl_engine_close(e);
	lines_free(&in);
	return status;
}
