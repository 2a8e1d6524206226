/*
 * list.c - `ecl list`: the workflows compiled into this program.
 */
#include <string.h>

#include "cli.h"

static const char *type_name(const ecl_slot_def *s)
{
	switch (s->type) {
	case ECL_T_STRING: return "string";
	case ECL_T_INT: return "int";
	case ECL_T_FLOAT: return "float";
	case ECL_T_BOOL: return "bool";
	case ECL_T_ENUM: return "enum";
	case ECL_T_LIST: return "list";
	}
	return "value";
}

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
		printf("%s %s (%s, %s%s)", first ? "" : ",", s->name, type_name(s),
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

int cmd_list(cli *c)
{
	int detailed = 0, i;
	size_t k;

	for (i = 0; i < c->nargs; i++) {
		if (strcmp(c->args[i], "--detailed") == 0 || strcmp(c->args[i], "-d") == 0)
			detailed = 1;
		else
			return cli_error(2, "list: unknown argument `%s`", c->args[i]);
	}
	printf("Available Workflows:\n");
	for (k = 0; k < ecl_nworkflows; k++) {
		if (detailed)
			detail(ecl_workflows[k]);
		else
			printf("  %-24s %s\n", ecl_workflows[k]->id, ecl_workflows[k]->name);
	}
	return 0;
}
