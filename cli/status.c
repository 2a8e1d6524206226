/*
 * status.c - `ecl status`: a run's state, its loop limits, the tokens and time its steps
 * took, its output or error, and the question it waits on, as text or JSON; with --engine
 * restate, from the run's workflow service on a Restate server.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* Totals over a run's checkpoints, for status. */
typedef struct totals {
	long long tokens_in, tokens_out, duration_us;
} totals;

static int add_up(void *ctx, const ecl_history_entry *h)
{
	totals *t = ctx;

	if (h->step) {
		t->tokens_in += h->tokens_in;
		t->tokens_out += h->tokens_out;
		t->duration_us += h->duration_us;
	}
	return 0;
}

static void json_add_raw(cJSON *obj, const char *name, const char *text)
{
	cJSON *v = text ? cJSON_Parse(text) : NULL;

	if (!v)
		v = cJSON_CreateNull();
	/* (an item cJSON could not add is still ours; the object printed then fails too) */
	if (v && !cJSON_AddItemToObject(obj, name, v))
		cJSON_Delete(v);
}

static int status_json(const cli *c, const ecl_run_info *info, const totals *t)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (!o)
		return cli_error(1, "out of memory");
	cJSON_AddStringToObject(o, "id", info->id);
	cJSON_AddStringToObject(o, "workflow", info->workflow);
	cJSON_AddStringToObject(o, "version", info->version ? info->version : "");
	cJSON_AddStringToObject(o, "status", info->status);
	cli_json_text(o, "step", info->step);
	cJSON_AddNumberToObject(o, "step_count", info->step_count);
	cJSON_AddNumberToObject(o, "attempt", info->attempt);
	cJSON_AddNumberToObject(o, "revisions", info->revisions);
	cJSON_AddNumberToObject(o, "revision_limit", info->revision_limit);
	cli_json_limits(o, info);
	json_add_raw(o, "inputs", info->inputs);
	json_add_raw(o, "output", info->output);
	cli_json_text(o, "error", info->error);
	cJSON_AddNumberToObject(o, "tokens_in", (double)t->tokens_in);
	cJSON_AddNumberToObject(o, "tokens_out", (double)t->tokens_out);
	cli_json_text(o, "provider", info->provider);
	cli_json_text(o, "model", info->model);
	cli_json_cost(c, o, info->provider, info->model, t->tokens_in, t->tokens_out);
	cJSON_AddNumberToObject(o, "step_time_ms", (double)t->duration_us / 1000.0);
	if (info->question)
		cJSON_AddStringToObject(o, "question", info->question);
	cJSON_AddNumberToObject(o, "created_ms", (double)info->created_ms);
	cJSON_AddNumberToObject(o, "updated_ms", (double)info->updated_ms);
	cli_json_text(o, "owner", info->owner);
	cJSON_AddNumberToObject(o, "lease_until_ms", (double)info->lease_until_ms);
	rc = cli_print_json(o);
	cJSON_Delete(o);
	return rc;
}

static int status_text(const cli *c, const ecl_run_info *info, const totals *t)
{
	const char *label =
		cli_status_is(info->status, ECL_RUN_FAILED) ? "Failed step:" : "Current step:";
	int i;

	printf("Workflow ID:  %s\n", info->id);
	printf("Workflow:     %s\n", info->workflow);
	printf("Status:       %s\n", info->status);
	if (info->step)
		printf("%-13s %s\n", label, info->step);
	if (info->owner && cli_status_is(info->status, ECL_RUN_RUNNING)) {
		printf("Held by:      ");
		cli_print_text(stdout, info->owner, strlen(info->owner));
		putchar('\n');
	}
	for (i = 0; i < info->nlimits; i++) {
		const ecl_run_limit *l = &info->limits[i];
		char name[200];

		/* each limit by its counter's name: "Revisions:", else "Visits of revise:" */
		if (l->label)
			snprintf(name, sizeof(name), "%c%s:", toupper((unsigned char)l->label[0]),
				 l->label + 1);
		else
			snprintf(name, sizeof(name), "Visits of %s:", l->step);
		printf("%-13s %d of at most %d\n", name, l->count, l->limit);
	}
	printf("Steps:        %d\n", info->step_count);
	printf("Tokens:       %lld in / %lld out\n", t->tokens_in, t->tokens_out);
	{
		char cost[700];

		printf("Cost:         %s\n",
		       cli_cost_text(c, info->provider, info->model, t->tokens_in, t->tokens_out,
				     cost, sizeof(cost)));
	}
	printf("Step time:    %.1f ms\n", (double)t->duration_us / 1000.0);
	if (info->output) {
		printf("Output:\n");
		if (cli_print_stored_json(info->output) != 0)
			return 1;
	}
	if (info->error)
		printf("Error:        %s\n", info->error);
	if (info->question) {
		size_t n = strlen(info->question);

		printf("Question:\n");
		cli_print_text(stdout, info->question, n);
		if (!n || info->question[n - 1] != '\n')
			putchar('\n');
		cli_print_answer_fields(c, info->workflow, info->step);
	}
	return 0;
}

int cmd_status(cli *c)
{
	ecl_engine *e = NULL;
	ecl_run_info *info = NULL;
	const char *id = NULL, *format = "text";
	int rc, i, restate = cli_restate_take(c);

	if (restate)
		return restate < 0 ? 2 : cli_status_restate(c);
	for (i = 0; i < c->nargs; i++) {
		if (strcmp(c->args[i], "-o") == 0 || strcmp(c->args[i], "--output") == 0) {
			if (i + 1 >= c->nargs)
				return cli_error(2, "%s needs text or json", c->args[i]);
			format = c->args[++i];
			if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
				return cli_error(2, "-o: `%s` is not text or json", format);
		} else if (!id) {
			id = c->args[i];
		} else {
			return cli_error(2, "status: unexpected argument `%s`", c->args[i]);
		}
	}
	if (!id)
		return cli_error(2, "usage: ecl status <run-id> [-o text|json]");
	if ((rc = cli_open_to_look(c, &e)) != 0)
		return rc;
	if (ecl_run_info_get(e, id, &info) != ECL_OK)
		return cli_engine_fail(e, 1);
	{
		totals t = {0, 0, 0};

		rc = ecl_run_history(e, id, 0, add_up, &t);
		if (rc != ECL_OK) {
			rc = cli_error(1, "%s", ecl_engine_errmsg(e));
		} else if (strcmp(format, "json") == 0) {
			rc = status_json(c, info, &t);
		} else {
			rc = status_text(c, info, &t);
		}
	}
	ecl_run_info_free(info);
	ecl_engine_close(e);
	return rc;
}
