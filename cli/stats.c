/*
 * stats.c - ecl stats: per workflow, its runs by status, success rate, steps and limits per
 * run, percentiles of step and LLM latency, and tokens, computed in the store.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

typedef struct stats_out {
	cJSON *list; /* -o json: the array of workflows, else NULL */
	int count;
} stats_out;

/* A duration in microseconds as people read it: 850 µs, 12.3 ms, 4.56 s. */
static void print_duration(long long us)
{
	if (us < 1000)
		printf("%lld us", us);
	else if (us < 1000000)
		printf("%.1f ms", (double)us / 1e3);
	else
		printf("%.2f s", (double)us / 1e6);
}

static void print_latency(const char *what, const ecl_latency *l, const char *unit)
{
	if (!l->n)
		return;
	printf("  %-14s p50 ", what);
	print_duration(l->p50_us);
	printf(", p95 ");
	print_duration(l->p95_us);
	printf(", p99 ");
	print_duration(l->p99_us);
	printf(" (%lld %s%s)\n", l->n, unit, l->n == 1 ? "" : "s");
}

static cJSON *json_latency(const ecl_latency *l)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "n", (double)l->n);
	cJSON_AddNumberToObject(o, "p50_us", (double)l->p50_us);
	cJSON_AddNumberToObject(o, "p95_us", (double)l->p95_us);
	cJSON_AddNumberToObject(o, "p99_us", (double)l->p99_us);
	return o;
}

/* A ratio that may not exist (-1): a number, or null. */
static void json_ratio(cJSON *o, const char *name, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, v);
}

static void add_json(stats_out *o, const ecl_workflow_stats *s)
{
	cJSON *w = cJSON_CreateObject(), *by = cJSON_CreateObject(), *lim = cJSON_CreateObject(),
	      *tok = cJSON_CreateObject();
	int i;

	cJSON_AddStringToObject(w, "workflow", s->workflow);
	cJSON_AddNumberToObject(w, "runs", (double)s->runs);
	for (i = 0; i < ECL_RUN_STATUS_COUNT; i++)
		if (s->by_status[i])
			cJSON_AddNumberToObject(by, ecl_run_status_name((ecl_run_status)i),
						(double)s->by_status[i]);
	cJSON_AddItemToObject(w, "by_status", by);
	json_ratio(w, "success_rate", s->success_rate);
	json_ratio(w, "mean_steps", s->mean_steps);
	for (i = 0; i < s->nlimits; i++)
		cJSON_AddNumberToObject(lim, s->limits[i].label, s->limits[i].mean);
	cJSON_AddItemToObject(w, "mean_limits", lim);
	cJSON_AddItemToObject(w, "step_latency", json_latency(&s->steps));
	if (s->known)
		cJSON_AddItemToObject(w, "llm_latency", json_latency(&s->llm));
	else
		cJSON_AddNullToObject(w, "llm_latency");
	cJSON_AddNumberToObject(tok, "input", (double)s->tokens_in);
	cJSON_AddNumberToObject(tok, "output", (double)s->tokens_out);
	json_ratio(tok, "per_run",
		   s->runs ? (double)(s->tokens_in + s->tokens_out) / (double)s->runs : -1);
	cJSON_AddItemToObject(w, "tokens", tok);
	if (s->cost_known) {
		cJSON_AddNumberToObject(w, "cost", s->cost);
		json_ratio(w, "cost_per_run", s->runs ? s->cost / (double)s->runs : -1);
	} else {
		cJSON_AddNullToObject(w, "cost");
		cJSON_AddNullToObject(w, "cost_per_run");
	}
	cJSON_AddItemToArray(o->list, w);
}

static void print_text(const ecl_workflow_stats *s)
{
	const char *sep = " (";
	int i;

	printf("%s: %lld run%s", s->workflow, s->runs, s->runs == 1 ? "" : "s");
	for (i = 0; i < ECL_RUN_STATUS_COUNT; i++)
		if (s->by_status[i]) {
			printf("%s%s %lld", sep, ecl_run_status_name((ecl_run_status)i),
			       s->by_status[i]);
			sep = ", ";
		}
	printf(")\n");
	if (s->finished)
		printf("  %-14s %.1f %% of %lld finished; %.1f steps per finished run\n", "success",
		       100.0 * s->success_rate, s->finished, s->mean_steps);
	for (i = 0; i < s->nlimits; i++)
		printf("  %-14s %.2f per run\n", s->limits[i].label, s->limits[i].mean);
	print_latency("step latency", &s->steps, "checkpoint");
	print_latency("LLM latency", &s->llm, "LLM step");
	if (!s->known)
		printf("  %-14s not known to this program: LLM latency and limits not measured\n",
		       "workflow");
	printf("  %-14s %lld in, %lld out", "tokens", s->tokens_in, s->tokens_out);
	if (s->runs)
		printf(", %.1f per run", (double)(s->tokens_in + s->tokens_out) / (double)s->runs);
	printf("\n");
	if (s->cost_known)
		printf("  %-14s %.6f, %.6f per run\n", "cost", s->cost, s->cost / (double)s->runs);
	else
		printf("  %-14s unknown: a model of these runs has no price (see ecl providers)\n",
		       "cost");
}

static int one_workflow(void *ctx, const ecl_workflow_stats *s)
{
	stats_out *o = ctx;

	if (o->list)
		add_json(o, s);
	else
		print_text(s);
	o->count++;
	return 0;
}

int cmd_stats(cli *c)
{
	stats_out o = {NULL, 0};
	const char *workflow = NULL;
	long long since_ms = 0;
	ecl_engine *e;
	int rc, i;

	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i], *v = i + 1 < c->nargs ? c->args[i + 1] : NULL;

		if (!v)
			return cli_error(2, "stats: `%s` needs a value or is unknown", a);
		if (!strcmp(a, "--workflow")) {
			workflow = c->args[++i];
		} else if (!strcmp(a, "--since")) {
			long long age = cli_parse_age(c->args[++i]);

			if (age < 0)
				return cli_error(2, "--since: `%s` is not an age like 7d, 12h",
						 c->args[i]);
			since_ms = (long long)time(NULL) * 1000 - age;
		} else if (!strcmp(a, "-o") && (!strcmp(v, "json") || !strcmp(v, "text"))) {
			if (!strcmp(c->args[++i], "json") && !o.list)
				o.list = cJSON_CreateArray();
		} else {
			return cli_error(2, "stats: unknown argument `%s`", a);
		}
	}
	if ((rc = cli_open_to_look(c, &e)) != 0) {
		cJSON_Delete(o.list);
		return rc;
	}
	rc = ecl_stats(e, workflow, since_ms, one_workflow, &o);
	if (rc != ECL_OK)
		rc = cli_error(1, "%s", ecl_engine_errmsg(e));
	else if (o.list)
		rc = cli_print_json(o.list);
	else if (!o.count)
		printf("No runs.\n");
	cJSON_Delete(o.list);
	ecl_engine_close(e);
	return rc;
}
