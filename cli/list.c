/*
 * list.c - `ecl list`: the workflows compiled into this program (as text or JSON); `ecl run
 * WORKFLOW --help`.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void detail(const ecl_workflow *wf)
{
	int i, first = 1;

	printf("\n%s: %s\n", wf->id, wf->name);
	printf("  Description: %s\n", wf->description);
	printf("  Inputs:");
	for (i = 0; i < wf->nslots; i++) {
		const ecl_slot_def *s = &wf->slots[i];

		if (s->kind != ECL_SLOT_INPUT)
			continue;
		printf("%s %s (%s, %s%s)", first ? "" : ",", s->name, ecl_type_name(s->type),
		       s->required ? "required" : "default ", s->required ? "" : s->initial);
		first = 0;
	}
	printf("%s\n", first ? " none" : "");
	printf("  Steps:\n");
	for (i = 0; i < wf->nsteps; i++) {
		const ecl_step_def *s = &wf->steps[i];

		/* By ecl_step_kind. */
		static const char *const kinds[] = {"llm", "code", "human", "set"};

		if (s->kind == ECL_STEP_CODE)
			printf("    %d. %s (code: %s)", i + 1, s->name, s->function);
		else
			printf("    %d. %s (%s)", i + 1, s->name, kinds[s->kind]);
		if (s->limit > 0)
			printf(", at most %d times (%s)", s->limit,
			       s->counter_label ? s->counter_label : "visits");
		printf("\n");
	}
	for (i = 0; i < wf->nsteps; i++)
		if (wf->steps[i].limit > 0)
			printf("  Loop bound: %s runs at most %d times\n", wf->steps[i].name,
			       wf->steps[i].limit);
	printf("  Max steps per run: %d\n", wf->max_steps);
	printf("  Usage: %s\n", wf->usage);
}

void cli_print_workflow_help(const ecl_workflow *wf, const char *prog)
{
	int i, any = 0;

	printf("usage: %s run %s [inputs]\n%s: %s\n", prog, wf->id, wf->id, wf->name);
	if (wf->description && *wf->description)
		printf("  %s\n", wf->description);
	printf("\ninputs (--NAME VALUE, or --set NAME=VALUE):\n");
	for (i = 0; i < wf->nslots; i++) {
		const ecl_slot_def *s = &wf->slots[i];
		char flag[64];
		int k;

		if (s->kind != ECL_SLOT_INPUT)
			continue;
		any = 1;
		/* Spelled as flags are, with dashes; the name with `_` is accepted too. */
		snprintf(flag, sizeof(flag), "%s", s->name);
		for (k = 0; flag[k]; k++)
			if (flag[k] == '_')
				flag[k] = '-';
		printf("  --%-22s %s", flag, ecl_type_name(s->type));
		if (s->type == ECL_T_ENUM) {
			for (k = 0; k < s->nchoices; k++)
				printf("%s%s", k ? "|" : " (", s->choices[k]);
			printf(")");
		}
		if (s->type == ECL_T_INT && s->has_range)
			printf(" %lld..%lld", s->min, s->max);
		if (s->required)
			printf(", required");
		else
			printf(", default %s", s->initial ? s->initial : "none");
		if (s->doc)
			printf("\n  %-24s %s", "", s->doc);
		printf("\n");
	}
	if (!any)
		printf("  none\n");
	printf("\nusage line: %s\n", wf->usage);
}

/* The JSON text of pieces (a descriptor's graph_json), parsed; NULL when there is none or
 * memory ran out. */
static cJSON *parse_pieces(const char *const *pieces)
{
	size_t n = 1, k;
	char *text;
	cJSON *json;

	if (!pieces)
		return NULL;
	for (k = 0; pieces[k]; k++)
		n += strlen(pieces[k]);
	if (!(text = malloc(n)))
		return NULL;
	text[0] = '\0';
	for (k = 0; pieces[k]; k++)
		strcat(text, pieces[k]);
	json = cJSON_Parse(text);
	free(text);
	return json;
}

/* One workflow as JSON: id and name; detailed, eclc's description of it (`ecl graph --format
 * json`: inputs, steps with their outputs and the JSON Schema an LLM step's answer is asked
 * for, transitions) with the usage line. (A descriptor written without that description,
 * by hand, gets its description and usage line only.) Any member missing for want of
 * memory fails the printing after it: every allocation after a failed one fails too. */
static cJSON *workflow_json(const ecl_workflow *wf, int detailed)
{
	cJSON *o = detailed ? parse_pieces(wf->graph_json) : NULL;

	if (!o && (o = cJSON_CreateObject()) != NULL) {
		cli_json_text(o, "id", wf->id);
		cli_json_text(o, "name", wf->name);
		if (detailed)
			cli_json_text(o, "description", wf->description);
	}
	if (o && detailed)
		cli_json_text(o, "usage", wf->usage);
	return o;
}

static int list_json(cli *c, int detailed)
{
	cJSON *all = cJSON_CreateArray();
	size_t k;
	int rc;

	for (k = 0; all && k < c->opts.nworkflows; k++) {
		cJSON *o = workflow_json(c->opts.workflows[k], detailed);

		if (!o || !cJSON_AddItemToArray(all, o)) {
			cJSON_Delete(o);
			cJSON_Delete(all);
			return cli_error(1, "out of memory");
		}
	}
	if (!all)
		return cli_error(1, "out of memory");
	rc = cli_print_json(all);
	cJSON_Delete(all);
	return rc;
}

int cmd_list(cli *c)
{
	int detailed = 0, json = 0, i;
	size_t k;

	for (i = 0; i < c->nargs; i++) {
		if (strcmp(c->args[i], "--detailed") == 0 || strcmp(c->args[i], "-d") == 0)
			detailed = 1;
		else if ((!strcmp(c->args[i], "-o") || !strcmp(c->args[i], "--output")) &&
			 i + 1 < c->nargs &&
			 (!strcmp(c->args[i + 1], "json") || !strcmp(c->args[i + 1], "text")))
			json = !strcmp(c->args[++i], "json");
		else
			return cli_error(2, "list: unknown argument `%s`", c->args[i]);
	}
	if (json)
		return list_json(c, detailed);
	printf("Available Workflows:\n");
	for (k = 0; k < c->opts.nworkflows; k++) {
		if (detailed)
			detail(c->opts.workflows[k]);
		else
			printf("  %-24s %s\n", c->opts.workflows[k]->id,
			       c->opts.workflows[k]->name);
	}
	return 0;
}
