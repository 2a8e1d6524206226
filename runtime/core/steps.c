/*
 * steps.c - what the step kinds besides LLM steps need at run time: code steps (the call of
 * the author's C function and the ecl_call it gets), human steps (the answer another process
 * gave with ecl_run_answer, which the driver reads from the store), and the strings and
 * results that expressions compute in set steps, `set` and `done`.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- strings made by expressions ------------------------------------------------------------ */

/* Keep s until the transition; NULL (and the run marked) when s is NULL or cannot be kept. */
static const char *keep(ecl_run *run, char *s)
{
	if (s && run->nscratch == run->capscratch) {
		int cap = run->capscratch ? 2 * run->capscratch : 8;
		char **p = mem_realloc(run->scratch, sizeof(*p) * (size_t)cap);

		if (!p) {
			mem_free(s);
			s = NULL;
		} else {
			run->scratch = p;
			run->capscratch = cap;
		}
	}
	if (!s) {
		run->oom = 1;
		return NULL;
	}
	run->scratch[run->nscratch++] = s;
	return s;
}

const char *ecl_run_concat(ecl_run *run, const char *a, const char *b)
{
	size_t na, nb;
	char *s;

	if (!a || !b) {
		run->oom = 1;
		return NULL;
	}
	na = strlen(a);
	nb = strlen(b);
	s = mem_alloc(na + nb + 1);
	if (s) {
		memcpy(s, a, na);
		memcpy(s + na, b, nb + 1);
	}
	return keep(run, s);
}

const char *ecl_run_int_str(ecl_run *run, long long v)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld", v);
	return keep(run, mem_strdup(text));
}

const char *ecl_run_float_str(ecl_run *run, double v)
{
	char text[40];
	int prec;

	/* The shortest form that reads back as v, as prompts render floats. */
	for (prec = 1; prec < 17; prec++) {
		snprintf(text, sizeof(text), "%.*g", prec, v);
		if (strtod(text, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(text, sizeof(text), "%.17g", v);
	return keep(run, mem_strdup(text));
}

long long ecl_str_len(const char *s)
{
	long long n = 0;

	for (; s && *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* ---- results computed by `done` ------------------------------------------------------------ */

static int result_add(ecl_run *run, const char *name, cJSON *v)
{
	if (!v)
		return ECL_ENOMEM;
	if (!name) {
		cJSON_Delete(run->result);
		run->result = v;
		return ECL_OK;
	}
	if (!run->result && !(run->result = cJSON_CreateObject())) {
		cJSON_Delete(v);
		return ECL_ENOMEM;
	}
	if (!cJSON_AddItemToObject(run->result, name, v)) {
		cJSON_Delete(v);
		return ECL_ENOMEM;
	}
	return ECL_OK;
}

/* An integer as JSON without a detour through double, which would round it. */
static cJSON *json_int(long long v)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld", v);
	return cJSON_CreateRaw(text);
}

/* A computed string that could not be made (NULL) reaches a call that needs it. */
static int no_string(ecl_run *run)
{
	return engine_fail(run->eng, ECL_ENOMEM, "out of memory computing a string in step `%s`",
			   run->wf->steps[run->state].name);
}

int ecl_run_result_str(ecl_run *run, const char *name, const char *v)
{
	return v ? result_add(run, name, cJSON_CreateString(v)) : no_string(run);
}

int ecl_run_result_int(ecl_run *run, const char *name, long long v)
{
	return result_add(run, name, json_int(v));
}

int ecl_run_result_float(ecl_run *run, const char *name, double v)
{
	return result_add(run, name, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

int ecl_run_result_bool(ecl_run *run, const char *name, int v)
{
	return result_add(run, name, cJSON_CreateBool(v != 0));
}

int ecl_run_result_slot(ecl_run *run, const char *name, int slot)
{
	return result_add(run, name, value_to_json(&run->vals[slot], &run->wf->slots[slot]));
}

int ecl_run_done_result(ecl_run *run)
{
	char *text = run->result ? cJSON_PrintUnformatted(run->result) : NULL;
	/* A result that could not be printed is no `null` result. */
	char *copy = text ? mem_strdup(text) : run->result ? NULL : mem_strdup("null");
	int rc = steps_release(run);

	cJSON_free(text);
	cJSON_Delete(run->result);
	run->result = NULL;
	if (rc != ECL_OK || !copy) {
		mem_free(copy);
		return ECL_ENOMEM;
	}
	mem_free(run->t_output);
	run->t_output = copy;
	run->t = T_DONE;
	return ECL_OK;
}

/* ---- code steps ---------------------------------------------------------------------------- */

struct ecl_call {
	ecl_run *run;
	const cJSON *args;
	cJSON *out;
	char why[512];
};

static int arg_add(ecl_run *run, const char *name, cJSON *v)
{
	if (!v)
		return ECL_ENOMEM;
	if (!run->args && !(run->args = cJSON_CreateObject())) {
		cJSON_Delete(v);
		return ECL_ENOMEM;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(run->args, name);
	if (!cJSON_AddItemToObject(run->args, name, v)) {
		cJSON_Delete(v);
		return ECL_ENOMEM;
	}
	return ECL_OK;
}

int ecl_run_arg_str(ecl_run *run, const char *name, const char *v)
{
	return v ? arg_add(run, name, cJSON_CreateString(v)) : no_string(run);
}

int ecl_run_arg_int(ecl_run *run, const char *name, long long v)
{
	return arg_add(run, name, json_int(v));
}

int ecl_run_arg_float(ecl_run *run, const char *name, double v)
{
	return arg_add(run, name, cJSON_CreateNumber(v));
}

int ecl_run_arg_bool(ecl_run *run, const char *name, int v)
{
	return arg_add(run, name, cJSON_CreateBool(v != 0));
}

int ecl_run_arg_slot(ecl_run *run, const char *name, int slot)
{
	const value *v = &run->vals[slot];
	const ecl_slot_def *def = &run->wf->slots[slot];

	/* A list reaches the function as its JSON text. */
	if (def->type == ECL_T_LIST)
		return arg_add(run, name, cJSON_CreateString(v->s ? v->s : "[]"));
	return arg_add(run, name, value_to_json(v, def));
}

const char *ecl_call_str(const ecl_call *call, const char *arg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(call->args, arg);

	return cJSON_IsString(v) ? v->valuestring : "";
}

long long ecl_call_int(const ecl_call *call, const char *arg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(call->args, arg);

	if (cJSON_IsRaw(v))
		return strtoll(v->valuestring, NULL, 10);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

double ecl_call_float(const ecl_call *call, const char *arg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(call->args, arg);

	if (cJSON_IsRaw(v))
		return strtod(v->valuestring, NULL);
	return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

int ecl_call_bool(const ecl_call *call, const char *arg)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(call->args, arg));
}

const char *ecl_call_step(const ecl_call *call)
{
	return call->run->wf->steps[call->run->state].name;
}

const char *ecl_call_run_id(const ecl_call *call)
{
	return call->run->id;
}

static int out_set(ecl_call *call, const char *field, cJSON *v)
{
	if (!v)
		return ECL_ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(call->out, field);
	if (!cJSON_AddItemToObject(call->out, field, v)) {
		cJSON_Delete(v);
		return ECL_ENOMEM;
	}
	return ECL_OK;
}

int ecl_call_set_str(ecl_call *call, const char *field, const char *v)
{
	return v ? out_set(call, field, cJSON_CreateString(v)) : ECL_EUSAGE;
}

int ecl_call_set_int(ecl_call *call, const char *field, long long v)
{
	return out_set(call, field, json_int(v));
}

int ecl_call_set_float(ecl_call *call, const char *field, double v)
{
	return out_set(call, field, cJSON_CreateNumber(v));
}

int ecl_call_set_bool(ecl_call *call, const char *field, int v)
{
	return out_set(call, field, cJSON_CreateBool(v != 0));
}

int ecl_call_fail(ecl_call *call, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call->why, sizeof(call->why), fmt, ap);
	va_end(ap);
	return ECL_EFAILED;
}

/* The step's output is in run->answer: put it in the step's output slots. */
static int apply_answer(ecl_run *run)
{
	const ecl_step_def *def = &run->wf->steps[run->state];
	int rc = run_apply_output(run, run->state, run->answer), i;

	if (rc == ECL_OK)
		for (i = 0; i < def->noutputs; i++)
			run->dirty[def->outputs[i]] = 1;
	return rc;
}

int ecl_run_code(ecl_run *run, ecl_code_fn fn, const char *fn_name)
{
	ecl_engine *e = run->eng;
	const ecl_step_def *step = &run->wf->steps[run->state];
	ecl_call call;
	char why[512], *text = NULL;
	int rc;

	memset(&call, 0, sizeof(call));
	call.run = run;
	call.args = run->args;
	if (!(call.out = cJSON_CreateObject())) {
		rc = engine_fail(e, ECL_ENOMEM, "out of memory calling %s", fn_name);
		goto out;
	}
	rc = fn(&call);
	if (rc == ECL_EFAILED) {
		rc = engine_fail(e, ECL_EFAILED, "code step `%s`: function %s failed: %s",
				 step->name, fn_name,
				 call.why[0] ? call.why : "(it gave no reason)");
		goto out;
	}
	if (rc == ECL_ENOMEM) {
		rc = engine_fail(e, ECL_ENOMEM, "code step `%s`: function %s ran out of memory",
				 step->name, fn_name);
		goto out;
	}
	if (rc != ECL_OK) {
		rc = engine_fail(e, ECL_EFAILED, "code step `%s`: function %s returned %d (%s)",
				 step->name, fn_name, rc, ecl_strerror(rc));
		goto out;
	}
	/* The output is checked like an LLM's answer: every declared field, of its type. */
	if (!(text = cJSON_PrintUnformatted(call.out))) {
		rc = engine_fail(e, ECL_ENOMEM, "out of memory calling %s", fn_name);
		goto out;
	}
	answer_clear(run);
	rc = answer_parse(run->wf, step, text, strlen(text), &run->answer, &run->answer_text, why,
			  sizeof(why));
	if (rc == ECL_EANSWER)
		rc = engine_fail(e, ECL_EFAILED,
				 "code step `%s`: function %s gave an output that does not match "
				 "its declared types: %s",
				 step->name, fn_name, why);
	else if (rc != ECL_OK)
		rc = engine_fail(e, rc, "out of memory calling %s", fn_name);
	else
		rc = apply_answer(run);
out:
	cJSON_free(text);
	cJSON_Delete(call.out);
	cJSON_Delete(run->args);
	run->args = NULL;
	return rc;
}

/* ---- human steps --------------------------------------------------------------------------- */

int ecl_run_human(ecl_run *run)
{
	ecl_engine *e = run->eng;
	const ecl_step_def *step = &run->wf->steps[run->state];
	char why[512], *json = NULL;
	int rc;

	if (!run->answer) {
		if ((rc = run->driver->ops->human(run->driver, run, &json)) != ECL_OK)
			return rc;
		if (!json)
			return engine_fail(e, ECL_EWAITING,
					   "run %s waits for an answer to step `%s`", run->id,
					   step->name);
		rc = answer_parse(run->wf, step, json, strlen(json), &run->answer,
				  &run->answer_text, why, sizeof(why));
		mem_free(json);
		if (rc == ECL_EANSWER)
			return engine_fail(e, ECL_EFAILED,
					   "the answer to human step `%s` is invalid: %s",
					   step->name, why);
		if (rc != ECL_OK)
			return engine_fail(e, rc, "out of memory");
	}
	return apply_answer(run);
}

char *steps_question(const ecl_run *run)
{
	const ecl_step_def *step = &run->wf->steps[run->state];
	buf b = {0};

	if (step->kind != ECL_STEP_HUMAN)
		return NULL;
	run_render(run, &step->question, &b);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data ? b.data : mem_strdup("");
}
