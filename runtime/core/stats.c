/*
 * stats.c - ecl stats: what the runs of each workflow did. The store counts the runs by
 * status in SQL and walks their checkpoints once; the engine sorts the durations of each set
 * of steps that only it knows from the compiled workflow (all, the LLM steps, each limited
 * step) and reads the percentiles off by rank.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The walk over the store's counts: one workflow gathered at a time. */
typedef struct gather {
	ecl_engine *e;
	long long since_ms;
	ecl_stats_fn fn;
	void *ctx;
	char *workflow;  /* the workflow being gathered, or NULL before the first */
	long long steps; /* checkpoints of its finished runs */
	ecl_workflow_stats ws;
	int rc;
} gather;

/* Durations of a set of checkpoints. */
typedef struct series {
	long long *us;
	size_t n, cap;
} series;

/* What the walk over a workflow's checkpoints gathers. */
typedef struct measure {
	const ecl_engine *e;
	const ecl_workflow *wf; /* or NULL: only `all` is gathered */
	series all, llm;
	long long tokens_in, tokens_out;
	double cost;
	int unpriced;                            /* tokens without a price were counted */
	long long limit_n[ECL_STATS_MAX_LIMITS]; /* checkpoints of each limited step */
} measure;

static int series_add(series *s, long long us)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		long long *more = mem_realloc(s->us, cap * sizeof(*more));

		if (!more)
			return ECL_ENOMEM;
		s->us = more;
		s->cap = cap;
	}
	s->us[s->n++] = us;
	return ECL_OK;
}

static int cmp_us(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentiles of a series: the value at rank ceil(p * n) in increasing
 * order. Sorts the series. */
static ecl_latency series_latency(series *s)
{
	ecl_latency l = {(long long)s->n, 0, 0, 0};

	if (s->n) {
		qsort(s->us, s->n, sizeof(*s->us), cmp_us);
		l.p50_us = s->us[(s->n * 50 + 99) / 100 - 1];
		l.p95_us = s->us[(s->n * 95 + 99) / 100 - 1];
		l.p99_us = s->us[(s->n * 99 + 99) / 100 - 1];
	}
	return l;
}

static int measure_one(void *ctx, const char *step, long long duration_us, long long tokens_in,
		       long long tokens_out, const char *provider, const char *model)
{
	measure *m = ctx;
	double cost;
	int i, k = 0;

	m->tokens_in += tokens_in;
	m->tokens_out += tokens_out;
	if (tokens_in || tokens_out) {
		if (ecl_price_cost(m->e->prices, m->e->nprices, provider, model, tokens_in,
				   tokens_out, &cost))
			m->cost += cost;
		else
			m->unpriced = 1;
	}
	if (series_add(&m->all, duration_us) != ECL_OK)
		return ECL_ENOMEM;
	for (i = 0; m->wf && i < m->wf->nsteps; i++) {
		const ecl_step_def *sd = &m->wf->steps[i];

		if (strcmp(sd->name, step) == 0) {
			if (sd->kind == ECL_STEP_LLM && series_add(&m->llm, duration_us) != ECL_OK)
				return ECL_ENOMEM;
			if (sd->limit > 0 && k < ECL_STATS_MAX_LIMITS)
				m->limit_n[k]++;
			break;
		}
		if (sd->limit > 0)
			k++;
	}
	return 0;
}

/* Measure the checkpoints of the workflow gathered, and hand it to the caller. */
static int finish(gather *g)
{
	ecl_workflow_stats *ws = &g->ws;
	measure m;
	int i, rc;

	memset(&m, 0, sizeof(m));
	m.e = g->e;
	m.wf = ecl_workflow_find(g->e->workflows, g->e->nworkflows, g->workflow);

	rc = g->e->st->ops->walk_durations(g->e->st, g->workflow, g->since_ms, measure_one, &m);
	if (rc == ECL_ENOMEM)
		engine_fail(g->e, rc, "out of memory measuring the runs of %s", g->workflow);
	else if (rc != ECL_OK)
		engine_fail(g->e, rc, "%s", g->e->st->ops->errmsg(g->e->st));
	if (rc == ECL_OK) {
		ws->workflow = g->workflow;
		ws->known = m.wf != NULL;
		ws->success_rate = ws->finished ? (double)ws->by_status[ECL_RUN_COMPLETED] /
							  (double)ws->finished
						: -1;
		ws->mean_steps = ws->finished ? (double)g->steps / (double)ws->finished : -1;
		ws->steps = series_latency(&m.all);
		ws->llm = series_latency(&m.llm);
		ws->tokens_in = m.tokens_in;
		ws->tokens_out = m.tokens_out;
		ws->cost = m.cost;
		ws->cost_known = !m.unpriced;
		for (i = 0; m.wf && i < m.wf->nsteps && ws->nlimits < ECL_STATS_MAX_LIMITS; i++) {
			const ecl_step_def *sd = &m.wf->steps[i];

			if (sd->limit <= 0)
				continue;
			ws->limits[ws->nlimits].label =
				sd->counter_label ? sd->counter_label : sd->name;
			ws->limits[ws->nlimits].mean =
				(double)m.limit_n[ws->nlimits] / (double)ws->runs;
			ws->nlimits++;
		}
		rc = g->fn(g->ctx, ws);
	}
	mem_free(m.all.us);
	mem_free(m.llm.us);
	return rc;
}

/* One group of the store's counts: a status of a workflow. */
static int count_one(void *ctx, const char *workflow, const char *status, long long runs,
		     long long steps)
{
	gather *g = ctx;
	ecl_run_status st;
	int rc;

	if (!g->workflow || strcmp(g->workflow, workflow) != 0) {
		if (g->workflow && (rc = finish(g)) != 0)
			return rc;
		mem_free(g->workflow);
		memset(&g->ws, 0, sizeof(g->ws));
		g->steps = 0;
		if (!(g->workflow = mem_strdup(workflow)))
			return engine_fail(g->e, ECL_ENOMEM, "out of memory measuring the runs");
	}
	g->ws.runs += runs;
	if (ecl_run_status_parse(status, &st) == ECL_OK) {
		g->ws.by_status[st] += runs;
		if (st == ECL_RUN_COMPLETED || st == ECL_RUN_FAILED || st == ECL_RUN_CANCELLED) {
			g->ws.finished += runs;
			g->steps += steps;
		}
	}
	return 0;
}

int ecl_stats(ecl_engine *e, const char *workflow, long long since_ms, ecl_stats_fn fn, void *ctx)
{
	gather g = {e, since_ms, fn, ctx, NULL, 0, {0}, 0};
	int rc;

	e->err[0] = '\0';
	rc = e->st->ops->count_runs(e->st, workflow, since_ms, count_one, &g);
	if (rc == ECL_ESTORE && !e->err[0])
		engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	if (rc == ECL_OK && g.workflow)
		rc = finish(&g);
	mem_free(g.workflow);
	return rc;
}
