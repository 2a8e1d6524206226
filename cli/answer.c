/*
 * answer.c - `ecl answer`: give a waiting run the answer to its human step's question, from
 * any process and at any later time, then drive the run on (or leave that to `ecl resume`);
 * with --engine restate, through the run's workflow service on a Restate server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_print_answer_fields(const cli *c, const char *workflow, const char *step)
{
	const ecl_workflow *wf = ecl_workflow_find(c->opts.workflows, c->opts.nworkflows, workflow);
	int i, k, j;

	for (i = 0; wf && step && i < wf->nsteps; i++) {
		const ecl_step_def *s = &wf->steps[i];

		if (strcmp(s->name, step) != 0 || s->kind != ECL_STEP_HUMAN)
			continue;
		printf("Fields:      ");
		for (k = 0; k < s->noutputs; k++) {
			const ecl_slot_def *d = &wf->slots[s->outputs[k]];

			printf("%s %s=", k ? "," : "", d->field);
			if (d->type == ECL_T_ENUM)
				for (j = 0; j < d->nchoices; j++)
					printf("%s%s", j ? "|" : "", d->choices[j]);
			else if (d->type == ECL_T_INT && d->has_range)
				printf("%lld..%lld", d->min, d->max);
			else /* a bool as the words an answer gives it */
				printf("<%s>", d->type == ECL_T_BOOL ? "true|false"
								     : ecl_type_name(d->type));
			printf("%s", d->required ? "" : " (optional)");
		}
		printf("\n");
	}
}

int cmd_answer(cli *c)
{
	const char *id = NULL;
	const char **names, **values;
	ecl_engine *e = NULL;
	int n = 0, no_wait = 0, rc, i, restate = cli_restate_take(c);

	if (restate < 0)
		return 2;
	names = calloc((size_t)c->nargs + 1, sizeof(*names));
	values = calloc((size_t)c->nargs + 1, sizeof(*values));
	if (!names || !values) {
		free(names);
		free(values);
		return cli_error(1, "out of memory");
	}
	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i], *eq;

		if (strcmp(a, "--no-wait") == 0) {
			no_wait = 1;
			continue;
		}
		if (strcmp(a, "--set") == 0) {
			if (i + 1 >= c->nargs || !(eq = strchr(c->args[i + 1], '=')) ||
			    eq == c->args[i + 1]) {
				rc = cli_error(2, "--set needs FIELD=VALUE");
				goto out;
			}
			/* Cut FIELD=VALUE in place: the arguments are ours. */
			names[n] = c->args[++i];
			values[n++] = eq + 1;
			c->args[i][eq - c->args[i]] = '\0';
			continue;
		}
		if (id || a[0] == '-') {
			rc = cli_error(2, "answer: unexpected argument `%s`", a);
			goto out;
		}
		id = a;
	}
	if (!id) {
		rc = cli_error(2, "usage: ecl answer <run-id> --set FIELD=VALUE ... [--no-wait] "
				  "(or --engine restate [--restate-url URL] [--wait])");
		goto out;
	}
	if (restate) {
		rc = cli_answer_restate(c, id, names, values, n);
		goto out;
	}
	if ((rc = cli_open(c, &e)) != 0)
		goto out;
	rc = ecl_run_answer(e, id, names, values, n);
	if (rc != ECL_OK) {
		rc = cli_error(rc == ECL_EINPUT ? 2 : 1, "%s", ecl_engine_errmsg(e));
		goto out;
	}
	ecl_engine_close(e);
	e = NULL;
	if (no_wait) {
		char quoted[4 * sizeof(c->db_buf) + 3];

		printf("Answer recorded for %s; it goes on with: %s --db %s resume %s\n", id,
		       c->prog, cli_shell_word(cli_db(c), quoted, sizeof(quoted)), id);
		rc = 0;
		goto out;
	}
	rc = cli_drive_run(c, id, "answered");
	if (rc == 3)
		rc = 1;
out:
	ecl_engine_close(e);
	free(names);
	free(values);
	return rc;
}
