/*
 * restate.c - the `--engine restate` forms of run, status, cancel, answer, pause and resume,
 * which go through a Restate server instead of the local database.
 */
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

const char *cli_restate_admin(void)
{
	return rs.admin;
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
	int rc;

	if (c->nargs != 1 && !(c->nargs == 3 && strcmp(c->args[1], "-o") == 0))
		return cli_error(2, "status: usage: ecl status --engine restate <run-id>");
	rc = ecl_restate_status(rs.ingress, c->opts.workflows, c->opts.nworkflows, c->args[0],
				&json, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	rc = cli_print_stored_json(json);
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

int cli_pause_restate(cli *c, int resume)
{
	const char *verb = resume ? "resume" : "pause";
	char err[1024], *reply = NULL, *output = NULL, wf[256] = "";
	cJSON *j;
	const cJSON *w;
	int rc;

	if (c->nargs != 1)
		return cli_error(2, "%s: usage: ecl %s --engine restate <run-id>%s", verb, verb,
				 resume ? " [--wait]" : "");
	rc = (resume ? ecl_restate_resume : ecl_restate_pause)(rs.ingress, c->opts.workflows,
							       c->opts.nworkflows, c->args[0],
							       &reply, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	j = cJSON_Parse(reply);
	w = cJSON_GetObjectItemCaseSensitive(j, "workflow");
	if (cJSON_IsString(w))
		snprintf(wf, sizeof(wf), "%s", w->valuestring);
	cJSON_Delete(j);
	free(reply);
	if (!resume) {
		printf("Workflow %s: pause requested; it stops at the next transition\n",
		       c->args[0]);
		return 0;
	}
	printf("Workflow %s resumed; Restate drives it on\n", c->args[0]);
	fflush(stdout);
	if (!rs.wait || !wf[0])
		return 0;
	if (ecl_restate_attach(rs.ingress, wf, c->args[0], &output, err, sizeof(err)) != ECL_OK)
		return cli_error(1, "%s", err);
	printf("Workflow %s completed successfully\n%s\n", c->args[0], output);
	free(output);
	return 0;
}

int cli_fork_restate(cli *c, const char *id, int from)
{
	char new_id[ECL_ID_MAX], err[1024], *output = NULL, *json = NULL;
	cJSON *st;
	const cJSON *wf;
	int rc;

	rc = ecl_restate_fork(rs.admin, rs.ingress, c->opts.workflows, c->opts.nworkflows, id, from,
			      new_id, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	printf("Forked %s at step %d\nWorkflow started: %s\n", id, from, new_id);
	fflush(stdout);
	if (!rs.wait)
		return 0;
	/* the fork's workflow is the old run's */
	if (ecl_restate_status(rs.ingress, c->opts.workflows, c->opts.nworkflows, id, &json, err,
			       sizeof(err)) != ECL_OK)
		return cli_error(1, "%s", err);
	st = cJSON_Parse(json);
	free(json);
	wf = cJSON_GetObjectItemCaseSensitive(st, "workflow");
	rc = cJSON_IsString(wf) ? ecl_restate_attach(rs.ingress, wf->valuestring, new_id, &output,
						     err, sizeof(err))
				: ECL_EIO;
	cJSON_Delete(st);
	if (rc != ECL_OK)
		return cli_error(1, "%s",
				 rc == ECL_EIO ? "the run's status names no workflow" : err);
	printf("Workflow %s completed successfully\n%s\n", new_id, output);
	free(output);
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
