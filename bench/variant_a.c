/*
 * variant_a.c - variant A of the anchor workload (bench/README.md) on ecl, whatever the store:
 * the in-process fake LLM, workflows one at a time, every result checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ecl.h"
#include "util.h"
#include "variant_a.h"

typedef struct check {
	int commits;
	int revisions;
	int completed;
	const char *last_step;
} check;

static int on_event(void *ctx, const ecl_event *ev)
{
	check *c = ctx;

	if (ev->kind == ECL_EV_COMMIT) {
		c->commits++;
		if (!strcmp(ev->step, "revise"))
			c->revisions = ev->visits;
		c->last_step = ev->step;
	} else if (ev->kind == ECL_EV_FINISH) {
		c->completed = !strcmp(ev->status, "completed");
	}
	return 0;
}

static void one_workflow(ecl_engine *e, const ecl_workflow *wf, check *c, const char *tag, long i)
{
	char inputs[256], id[ECL_ID_MAX];
	int rc;

	snprintf(inputs, sizeof(inputs),
		 "{\"wf\": \"eclA-%ld-%s-w%ld\", \"topic\": \"durable "
		 "workflows in C\"}",
		 (long)getpid(), tag, i);
	memset(c, 0, sizeof(*c));
	if (ecl_run_start(e, wf, inputs, id) != ECL_OK)
		bench_die("cannot start a run: %s", ecl_engine_errmsg(e));
	rc = ecl_run_drive(e, id);
	if (rc != ECL_OK || c->commits != 6 || c->revisions != 2 || !c->completed ||
	    strcmp(c->last_step, "critique") != 0) {
		fprintf(stderr, "ecl_bench: run %s: rc %d, %d steps, %d revisions, %s: %s\n", id,
			rc, c->commits, c->revisions, c->completed ? "completed" : "not completed",
			ecl_engine_errmsg(e));
		exit(2);
	}
}

double bench_variant_a(const char *db, ecl_durability durability, long n, long warmup)
{
	const ecl_workflow *wf =
		ecl_workflow_find(ecl_workflows, ecl_nworkflows, "bench-critique-revise");
	ecl_options o = {0};
	ecl_engine *e;
	check c;
	char err[512], tag[32];
	double t0, t1;
	long i;

	if (!wf)
		bench_die("%s", "the bench-critique-revise workflow is not compiled in");
	o.db_path = db;
	o.durability = durability;
	o.provider = "fake";
	o.on_event = on_event;
	o.event_ctx = &c;
	o.workflows = ecl_workflows;
	o.nworkflows = ecl_nworkflows;
	if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
		bench_die("%s", err);
	snprintf(tag, sizeof(tag), "%lld", (long long)time(NULL));
	for (i = 0; i < warmup; i++)
		one_workflow(e, wf, &c, tag, -1 - i);
	t0 = bench_now_s();
	for (i = 0; i < n; i++)
		one_workflow(e, wf, &c, tag, i);
	t1 = bench_now_s();
	ecl_engine_close(e);
	return t1 - t0;
}
