/*
 * answer_api.c - a person's answer to a human step, from the host's side: ecl_run_answer
 * checks the fields given as text and records the answer in the store for the waiting run;
 * ecl_workflow_answer_fields checks the same without an engine, for a Restate endpoint.
 * (answer.c is the other side of answers: finding and checking an LLM's.) The checks write
 * their message to a caller's buffer: one of them has no engine to keep it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Write the message to err; returns code. */
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

/* The article and name of each type, for "field `x` of step `y` is an int: ...". */
static const char *const type_phrase[] = {
	[ECL_T_STRING] = "a string", [ECL_T_INT] = "an int",   [ECL_T_FLOAT] = "a float",
	[ECL_T_BOOL] = "a bool",     [ECL_T_ENUM] = "an enum", [ECL_T_LIST] = "a list",
};

/* Check a field's JSON value against its declaration (an enum's choices, an int's range) as
 * the run will; ECL_EINPUT names the field. */
static int field_check(const ecl_step_def *step, const ecl_slot_def *def, const cJSON *v, char *err,
		       size_t errlen)
{
	value tmp = {0};
	char what[160];
	int rc;

	snprintf(what, sizeof(what), "field `%s` of step `%s`", def->field, step->name);
	rc = value_from_json(&tmp, def, v, what, err, errlen);
	value_clear(&tmp);
	if (rc == ECL_EANSWER)
		return ECL_EINPUT;
	return rc == ECL_OK ? rc : fail(err, errlen, rc, "out of memory");
}

/* Convert one field of an answer from text to its JSON value (value_parse); ECL_EINPUT names
 * the field and the value. */
static int answer_field(const ecl_step_def *step, const ecl_slot_def *def, const char *text,
			cJSON **out, char *err, size_t errlen)
{
	char why[256];
	int rc;

	*out = NULL;
	if (text_check(text, strlen(text), why, sizeof(why)) != ECL_OK)
		return fail(err, errlen, ECL_EINPUT, "field `%s` of step `%s` holds %s", def->field,
			    step->name, why);
	rc = value_parse(def->type, text, out, why, sizeof(why));
	if (rc == ECL_ENOMEM)
		return fail(err, errlen, rc, "out of memory");
	if (rc != ECL_OK) {
		/* the message names the type first: for a number, that the text is not one */
		if (def->type == ECL_T_INT || def->type == ECL_T_FLOAT)
			return fail(err, errlen, ECL_EINPUT,
				    "field `%s` of step `%s` is %s: `%s` is not one", def->field,
				    step->name, type_phrase[def->type], text);
		return fail(err, errlen, ECL_EINPUT, "field `%s` of step `%s` is %s: %s",
			    def->field, step->name, type_phrase[def->type], why);
	}
	if ((rc = field_check(step, def, *out, err, errlen)) != ECL_OK) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

/* "approved (bool), comment (string)": what a step's answer may hold. */
static void field_list(const ecl_workflow *wf, const ecl_step_def *step, char *out, size_t len)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < step->noutputs && used < len; i++) {
		const ecl_slot_def *def = &wf->slots[step->outputs[i]];

		used += (size_t)snprintf(out + used, len - used, "%s%s%s", i ? ", " : "",
					 def->field, def->required ? "" : " (optional)");
	}
}

/* Check one field of an answer and add it to obj: given as text (json NULL) it is converted
 * as answer_field does, given as JSON it must be of the field's type already. */
static int answer_put(const ecl_workflow *wf, const ecl_step_def *step, const char *fields,
		      const char *name, const char *text, const cJSON *json, cJSON *obj, char *err,
		      size_t errlen)
{
	const ecl_slot_def *def = NULL;
	cJSON *v = NULL;
	int rc, k;

	for (k = 0; k < step->noutputs; k++)
		if (strcmp(wf->slots[step->outputs[k]].field, name) == 0)
			def = &wf->slots[step->outputs[k]];
	if (!def)
		return fail(err, errlen, ECL_EINPUT, "step `%s` has no field `%s` (its fields: %s)",
			    step->name, name, fields);
	if (cJSON_GetObjectItemCaseSensitive(obj, name))
		return fail(err, errlen, ECL_EINPUT, "field `%s` is given twice", name);
	if (!json) {
		if ((rc = answer_field(step, def, text, &v, err, errlen)) != ECL_OK)
			return rc;
	} else {
		if ((rc = field_check(step, def, json, err, errlen)) != ECL_OK)
			return rc;
		if (!(v = cJSON_Duplicate(json, 1)))
			return fail(err, errlen, ECL_ENOMEM, "out of memory");
	}
	if (!cJSON_AddItemToObject(obj, def->field, v)) {
		cJSON_Delete(v);
		return fail(err, errlen, ECL_ENOMEM, "out of memory");
	}
	return ECL_OK;
}

/* Every required field of the step is in obj. */
static int answer_complete(const ecl_workflow *wf, const ecl_step_def *step, const char *fields,
			   const cJSON *obj, char *err, size_t errlen)
{
	int k;

	for (k = 0; k < step->noutputs; k++) {
		const ecl_slot_def *def = &wf->slots[step->outputs[k]];

		if (def->required && !cJSON_GetObjectItemCaseSensitive(obj, def->field))
			return fail(err, errlen, ECL_EINPUT,
				    "the answer to step `%s` needs field `%s` (its fields: %s)",
				    step->name, def->field, fields);
	}
	return ECL_OK;
}

static int answer_build(const ecl_workflow *wf, const ecl_step_def *step, const char *const *names,
			const char *const *values, int n, cJSON *obj, char *err, size_t errlen)
{
	char fields[512];
	int i, rc;

	field_list(wf, step, fields, sizeof(fields));
	for (i = 0; i < n; i++)
		if ((rc = answer_put(wf, step, fields, names[i], values[i], NULL, obj, err,
				     errlen)) != ECL_OK)
			return rc;
	return answer_complete(wf, step, fields, obj, err, errlen);
}

int ecl_workflow_answer_fields(const ecl_workflow *wf, const char *step_name,
			       const char *fields_json, char **answer_json, char *err,
			       size_t errlen)
{
	const ecl_step_def *step = NULL;
	cJSON *in = NULL, *obj = NULL, *f;
	char msg[1024] = "", fields[512], why[256];
	int i, rc = ECL_OK;

	mem_init();
	*answer_json = NULL;
	for (i = 0; wf && step_name && i < wf->nsteps; i++)
		if (wf->steps[i].kind == ECL_STEP_HUMAN &&
		    strcmp(wf->steps[i].name, step_name) == 0)
			step = &wf->steps[i];
	if (!step) {
		rc = fail(msg, sizeof(msg), ECL_EUSAGE, "workflow %s has no human step `%s`",
			  wf ? wf->id : "(none)", step_name ? step_name : "(none)");
		goto out;
	}
	i = fields_json ? json_check(fields_json, strlen(fields_json), fields, sizeof(fields), why,
				     sizeof(why))
			: 0;
	if (i) {
		rc = i == 2      ? fail(msg, sizeof(msg), ECL_EINPUT,
					"a field name of the answer to step `%s` holds %s", step->name,
					why)
		     : fields[0] ? fail(msg, sizeof(msg), ECL_EINPUT,
					"field `%s` of step `%s` holds %s", fields, step->name, why)
				 : fail(msg, sizeof(msg), ECL_EINPUT,
					"the answer to step `%s` holds %s", step->name, why);
		goto out;
	}
	in = fields_json ? cJSON_Parse(fields_json) : NULL;
	if (!cJSON_IsObject(in)) {
		rc = fail(msg, sizeof(msg), ECL_EINPUT,
			  "the answer to step `%s` is not a JSON object of its fields", step->name);
		goto out;
	}
	if (!(obj = cJSON_CreateObject())) {
		rc = fail(msg, sizeof(msg), ECL_ENOMEM, "out of memory");
		goto out;
	}
	field_list(wf, step, fields, sizeof(fields));
	cJSON_ArrayForEach (f, in) {
		rc = cJSON_IsString(f) ? answer_put(wf, step, fields, f->string, f->valuestring,
						    NULL, obj, msg, sizeof(msg))
				       : answer_put(wf, step, fields, f->string, NULL, f, obj, msg,
						    sizeof(msg));
		if (rc != ECL_OK)
			goto out;
	}
	if ((rc = answer_complete(wf, step, fields, obj, msg, sizeof(msg))) != ECL_OK)
		goto out;
	if (!(*answer_json = cJSON_PrintUnformatted(obj)))
		rc = fail(msg, sizeof(msg), ECL_ENOMEM, "out of memory");
out:
	cJSON_Delete(in);
	cJSON_Delete(obj);
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return rc;
}

int ecl_run_answer(ecl_engine *e, const char *run_id, const char *const *names,
		   const char *const *values, int n)
{
	store_run row = {0};
	ecl_run *run = NULL;
	cJSON *obj = NULL;
	char *json = NULL;
	int rc;

	e->err[0] = '\0';
	if (!run_id || n < 0 || (n > 0 && (!names || !values)))
		return engine_fail(e, ECL_EUSAGE, "ecl_run_answer: invalid arguments");
	if ((rc = run_load(e, run_id, &row, &run)) != ECL_OK)
		goto out;
	if (run_status_is(row.status, ECL_RUN_PAUSED) &&
	    run->wf->steps[run->state].kind == ECL_STEP_HUMAN) {
		rc = engine_fail(e, ECL_ESTATE,
				 "run %s is paused at step `%s`: resume it, and it waits for the "
				 "answer again",
				 run_id, run->wf->steps[run->state].name);
		goto out;
	}
	if (!run_status_is(row.status, ECL_RUN_WAITING) ||
	    run->wf->steps[run->state].kind != ECL_STEP_HUMAN) {
		rc = engine_fail(e, ECL_ESTATE, "run %s is %s: it does not wait for an answer",
				 run_id, row.status ? row.status : "in an unknown state");
		goto out;
	}
	if (!(obj = cJSON_CreateObject())) {
		rc = engine_fail(e, ECL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = answer_build(run->wf, &run->wf->steps[run->state], names, values, n, obj, e->err,
			       sizeof(e->err))) != ECL_OK)
		goto out;
	if (!(json = cJSON_PrintUnformatted(obj))) {
		rc = engine_fail(e, ECL_ENOMEM, "out of memory");
		goto out;
	}
	/* the store refuses it when another answer came first, or the run moved on */
	rc = e->st->ops->answer(e->st, run_id, run->seq, json, clock_now_ms());
	if (rc != ECL_OK)
		rc = engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	else
		log_event(e, LOG_INFO, "answered", "run", run_id, "step",
			  run->wf->steps[run->state].name, NULL);
out:
	cJSON_free(json);
	cJSON_Delete(obj);
	run_free(run);
	store_run_clear(&row);
	return rc;
}
