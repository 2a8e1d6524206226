/*
 * run.c - a run in memory: its slots, visit counters and the transition its step function
 * chose, and the ecl_run_* calls that generated step functions make.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The strings a step function's expressions made (steps.c keeps them on the run) belong to
 * the run, which frees them at every transition and when it is freed. */
int steps_release(ecl_run *run)
{
	int i, oom = run->oom;

	for (i = 0; i < run->nscratch; i++)
		mem_free(run->scratch[i]);
	run->nscratch = 0;
	run->oom = 0;
	/* What a step function left half-built when a call failed before its transition. */
	cJSON_Delete(run->args);
	run->args = NULL;
	cJSON_Delete(run->result);
	run->result = NULL;
	if (oom)
		return engine_fail(run->eng, ECL_ENOMEM,
				   "out of memory computing a string in step `%s`",
				   run->wf->steps[run->state].name);
	return ECL_OK;
}

int run_new(ecl_engine *e, const ecl_workflow *wf, const char *id, ecl_run **out)
{
	ecl_run *run = mem_calloc(1, sizeof(*run));
	int i;

	*out = NULL;
	if (!run)
		return ECL_ENOMEM;
	run->eng = e;
	run->wf = wf;
	snprintf(run->id, sizeof(run->id), "%s", id);
	run->state = wf->start;
	run->attempt = 1;
	run->vals = mem_calloc((size_t)wf->nslots, sizeof(*run->vals));
	run->dirty = mem_calloc((size_t)wf->nslots, 1);
	run->visits = mem_calloc((size_t)wf->nsteps, sizeof(*run->visits));
	if (!run->vals || !run->dirty || !run->visits) {
		run_free(run);
		return ECL_ENOMEM;
	}
	for (i = 0; i < wf->nslots; i++) {
		const ecl_slot_def *def = &wf->slots[i];
		cJSON *json;
		char err[256];
		int rc;

		if (!def->initial || def->kind == ECL_SLOT_INPUT)
			continue;
		json = cJSON_Parse(def->initial);
		rc = json ? value_from_json(&run->vals[i], def, json, def->name, err, sizeof(err))
			  : ECL_ENOMEM;
		cJSON_Delete(json);
		if (rc != ECL_OK) {
			run_free(run);
			return rc == ECL_ENOMEM ? rc : ECL_EUSAGE;
		}
	}
	run->visits[wf->start] = 1;
	if (wf->steps[wf->start].counter >= 0) { /* the start step's first visit counts too */
		run->vals[wf->steps[wf->start].counter].i = 1;
		run->vals[wf->steps[wf->start].counter].set = 1;
	}
	*out = run;
	return ECL_OK;
}

void run_free(ecl_run *run)
{
	int i;

	if (!run)
		return;
	if (run->vals)
		for (i = 0; i < run->wf->nslots; i++)
			value_clear(&run->vals[i]);
	mem_free(run->vals);
	mem_free(run->dirty);
	mem_free(run->visits);
	answer_clear(run);
	mem_free(run->t_output);
	mem_free(run->t_error);
	steps_release(run);
	mem_free(run->scratch);
	mem_free(run);
}

/* Write the message to err; returns code. */
static int input_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int input_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

int run_set_inputs(ecl_run *run, const cJSON *inputs, char *err, size_t errlen)
{
	const ecl_workflow *wf = run->wf;
	const cJSON *item;
	char what[128];
	int i, rc;

	if (!cJSON_IsObject(inputs))
		return input_fail(err, errlen, ECL_EINPUT, "the inputs must be a JSON object");
	cJSON_ArrayForEach (item, inputs) {
		for (i = 0; i < wf->nslots; i++)
			if (wf->slots[i].kind == ECL_SLOT_INPUT &&
			    strcmp(wf->slots[i].name, item->string) == 0)
				break;
		if (i == wf->nslots)
			return input_fail(err, errlen, ECL_EINPUT, "workflow %s has no input `%s`",
					  wf->id, item->string);
	}
	for (i = 0; i < wf->nslots; i++) {
		const ecl_slot_def *def = &wf->slots[i];
		cJSON *dflt = NULL;

		if (def->kind != ECL_SLOT_INPUT)
			continue;
		item = cJSON_GetObjectItemCaseSensitive(inputs, def->name);
		if (!item && def->initial && !(item = dflt = cJSON_Parse(def->initial)))
			return input_fail(err, errlen, ECL_ENOMEM,
					  "out of memory reading the inputs");
		if (!item) {
			if (def->required)
				return input_fail(err, errlen, ECL_EINPUT,
						  "missing required input `%s` (%s) of workflow %s",
						  def->name, ecl_type_name(def->type), wf->id);
			continue;
		}
		snprintf(what, sizeof(what), "input `%s`", def->name);
		rc = value_from_json(&run->vals[i], def, item, what, err, errlen);
		cJSON_Delete(dflt);
		if (rc == ECL_EANSWER)
			return ECL_EINPUT;
		if (rc != ECL_OK)
			return input_fail(err, errlen, rc, "out of memory reading the inputs");
	}
	return ECL_OK;
}

static int slot_by_name(const ecl_workflow *wf, const char *name)
{
	int i;

	for (i = 0; i < wf->nslots; i++)
		if (strcmp(wf->slots[i].name, name) == 0)
			return i;
	return -1;
}

int run_apply(ecl_run *run, const char *json, int mark_dirty)
{
	cJSON *obj, *item;
	char err[256];
	int rc = ECL_OK, oom;

	if (!json)
		return ECL_OK;
	obj = json_parse_str(json, &oom);
	if (oom)
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	if (!obj || !cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return engine_damaged(run->eng, "run %s: a stored checkpoint is not JSON", run->id);
	}
	cJSON_ArrayForEach (item, obj) {
		int slot = slot_by_name(run->wf, item->string);

		if (slot < 0) {
			rc = engine_fail(
				run->eng, ECL_ESTORE,
				"run %s: a checkpoint names `%s`, which workflow %s has not",
				run->id, item->string, run->wf->id);
			break;
		}
		if (cJSON_IsObject(item)) {
			/* {"=": "step.field"}: a copy of an output of the same checkpoint */
			const cJSON *from = cJSON_GetObjectItemCaseSensitive(item, "=");
			int src = cJSON_IsString(from) ? slot_by_name(run->wf, from->valuestring)
						       : -1;

			if (src < 0 || run->wf->slots[src].type != run->wf->slots[slot].type) {
				rc = engine_damaged(run->eng,
						    "run %s: checkpoint value of `%s` is damaged",
						    run->id, item->string);
				break;
			}
			rc = ecl_run_copy(run, slot, src);
			if (rc != ECL_OK)
				break;
			if (!mark_dirty)
				run->dirty[slot] = 0;
			continue;
		}
		rc = value_from_json(&run->vals[slot], &run->wf->slots[slot], item, item->string,
				     err, sizeof(err));
		if (rc != ECL_OK) {
			rc = rc == ECL_ENOMEM
				     ? engine_fail(run->eng, rc, "out of memory")
				     : engine_damaged(run->eng, "run %s: checkpoint value %s",
						      run->id, err);
			break;
		}
		if (mark_dirty)
			run->dirty[slot] = 1;
	}
	cJSON_Delete(obj);
	return rc;
}

int run_apply_output(ecl_run *run, int step, const cJSON *output)
{
	const ecl_step_def *def = &run->wf->steps[step];
	char err[256];
	int i, rc;

	for (i = 0; i < def->noutputs; i++) {
		int slot = def->outputs[i];
		const ecl_slot_def *sd = &run->wf->slots[slot];
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(output, sd->field);

		if (!item) {
			value_clear(&run->vals[slot]);
			continue;
		}
		rc = value_from_json(&run->vals[slot], sd, item, sd->name, err, sizeof(err));
		if (rc != ECL_OK)
			return rc == ECL_ENOMEM
				       ? engine_fail(run->eng, rc, "out of memory")
				       : engine_damaged(run->eng, "run %s: stored output %s",
							run->id, err);
	}
	return ECL_OK;
}

/* The output slot of the current step whose value variable `slot` holds, or -1. */
static int copied_output(const ecl_run *run, int slot)
{
	const ecl_step_def *step = &run->wf->steps[run->state];
	const ecl_slot_def *def = &run->wf->slots[slot];
	const value *v = &run->vals[slot];
	int i;

	if (!run->answer ||
	    (def->type != ECL_T_STRING && def->type != ECL_T_LIST && def->type != ECL_T_ENUM))
		return -1; /* numbers are shorter than a reference */
	for (i = 0; i < step->noutputs; i++) {
		const value *o = &run->vals[step->outputs[i]];

		if (run->wf->slots[step->outputs[i]].type == def->type && o->set && v->set &&
		    o->n == v->n && o->s && v->s && memcmp(o->s, v->s, v->n) == 0)
			return step->outputs[i];
	}
	return -1;
}

char *run_dirty_vars(ecl_run *run)
{
	const ecl_workflow *wf = run->wf;
	buf b = {0};
	int i, src, first = 1;

	buf_append(&b, "{", 1);
	for (i = 0; i < wf->nslots; i++) {
		const ecl_slot_def *def = &wf->slots[i];
		const value *v = &run->vals[i];

		if (!run->dirty[i] || (def->kind != ECL_SLOT_VAR && def->kind != ECL_SLOT_COUNTER))
			continue;
		buf_json_key(&b, first, def->name);
		first = 0;
		if ((src = copied_output(run, i)) >= 0) {
			/* The checkpoint stores the output already: refer to it, not a copy. */
			buf_puts(&b, "{\"=\":");
			buf_json_str(&b, wf->slots[src].name, strlen(wf->slots[src].name));
			buf_append(&b, "}", 1);
			continue;
		}
		value_json(v, def, &b);
	}
	buf_append(&b, "}", 1);
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

void run_render(const ecl_run *run, const ecl_template *tpl, buf *out)
{
	int i;

	for (i = 0; i < tpl->nparts; i++) {
		const ecl_tpl_part *p = &tpl->parts[i];

		if (p->slot < 0)
			buf_append(out, p->text, p->len);
		else
			value_render(&run->vals[p->slot], &run->wf->slots[p->slot], out);
	}
}

/* ---- the calls generated step functions make ---------------------------------------------- */

int ecl_run_state(const ecl_run *run)
{
	return run->state;
}

int ecl_run_llm(ecl_run *run)
{
	int rc;

	if (!run->answer)
		return ECL_PENDING;
	rc = run_apply_output(run, run->state, run->answer);
	if (rc == ECL_OK) {
		const ecl_step_def *def = &run->wf->steps[run->state];
		int i;

		for (i = 0; i < def->noutputs; i++)
			run->dirty[def->outputs[i]] = 1;
	}
	return rc;
}

int ecl_run_goto(ecl_run *run, int step)
{
	const ecl_step_def *def = &run->wf->steps[step];

	if (steps_release(run) != ECL_OK)
		return ECL_ENOMEM;
	run->t = T_GOTO;
	run->t_next = step;
	run->visits[step]++;
	if (def->counter >= 0) {
		run->vals[def->counter].i = run->visits[step];
		run->vals[def->counter].set = 1;
		run->dirty[def->counter] = 1;
	}
	return ECL_OK;
}

int ecl_run_done(ecl_run *run, const ecl_field_ref *fields, int n)
{
	buf b = {0};
	int i;

	if (steps_release(run) != ECL_OK)
		return ECL_ENOMEM;
	if (n == 1 && !fields[0].name) {
		value_json(&run->vals[fields[0].slot], &run->wf->slots[fields[0].slot], &b);
	} else if (n == 0) {
		buf_puts(&b, "null");
	} else {
		buf_append(&b, "{", 1);
		for (i = 0; i < n; i++) {
			buf_json_key(&b, i == 0, fields[i].name);
			value_json(&run->vals[fields[i].slot], &run->wf->slots[fields[i].slot], &b);
		}
		buf_append(&b, "}", 1);
	}
	if (b.oom) {
		buf_free(&b);
		return ECL_ENOMEM;
	}
	mem_free(run->t_output);
	run->t_output = b.data;
	run->t = T_DONE;
	return ECL_OK;
}

int ecl_run_fail(ecl_run *run, const ecl_template *message)
{
	buf b = {0};

	if (steps_release(run) != ECL_OK)
		return ECL_ENOMEM;
	if (message)
		run_render(run, message, &b);
	else
		buf_printf(&b, "no transition of step `%s` matched",
			   run->wf->steps[run->state].name);
	if (b.oom) {
		buf_free(&b);
		return ECL_ENOMEM;
	}
	mem_free(run->t_error);
	run->t_error = b.data;
	run->t = T_FAIL;
	return ECL_OK;
}

int ecl_run_visits(const ecl_run *run, int step)
{
	return run->visits[step];
}

const char *ecl_run_str(const ecl_run *run, int slot)
{
	return run->vals[slot].s ? run->vals[slot].s : "";
}

long long ecl_run_int(const ecl_run *run, int slot)
{
	return run->vals[slot].i;
}

double ecl_run_float(const ecl_run *run, int slot)
{
	return run->wf->slots[slot].type == ECL_T_INT ? (double)run->vals[slot].i
						      : run->vals[slot].f;
}

int ecl_run_bool(const ecl_run *run, int slot)
{
	return run->vals[slot].i != 0;
}

long long ecl_run_len(const ecl_run *run, int slot)
{
	const value *v = &run->vals[slot];
	long long n = 0;
	size_t i;

	if (!v->s)
		return 0;
	if (run->wf->slots[slot].type == ECL_T_LIST) {
		/* The JSON array text of the list's strings: its items are counted without
		 * parsing it, which could fail for want of memory. */
		int in = 0;

		for (i = 0; i < v->n; i++)
			if (in && v->s[i] == '\\')
				i++;
			else if (v->s[i] == '"' && !(in = !in))
				n++;
		return n;
	}
	for (i = 0; i < v->n; i++)
		if (((unsigned char)v->s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

int ecl_run_copy(ecl_run *run, int dst, int src)
{
	value *d = &run->vals[dst];
	const value *s = &run->vals[src];

	if (s->s) {
		char *copy = mem_strndup(s->s, s->n);

		if (!copy)
			return ECL_ENOMEM;
		mem_free(d->s);
		d->s = copy;
		d->n = s->n;
	} else {
		mem_free(d->s);
		d->s = NULL;
		d->n = 0;
	}
	d->i = s->i;
	d->f = s->f;
	d->set = s->set;
	run->dirty[dst] = 1;
	return ECL_OK;
}

int ecl_run_set_str(ecl_run *run, int slot, const char *text)
{
	/* NULL: a computed string that could not be made (steps.c). */
	char *copy = text ? mem_strdup(text) : NULL;

	if (!copy)
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory setting `%s` in step `%s`",
				   run->wf->slots[slot].name, run->wf->steps[run->state].name);
	mem_free(run->vals[slot].s);
	run->vals[slot].s = copy;
	run->vals[slot].n = strlen(copy);
	run->vals[slot].set = 1;
	run->dirty[slot] = 1;
	return ECL_OK;
}

int ecl_run_set_int(ecl_run *run, int slot, long long v)
{
	run->vals[slot].i = v;
	run->vals[slot].set = 1;
	run->dirty[slot] = 1;
	return ECL_OK;
}

int ecl_run_set_float(ecl_run *run, int slot, double v)
{
	run->vals[slot].f = v;
	run->vals[slot].set = 1;
	run->dirty[slot] = 1;
	return ECL_OK;
}

int ecl_run_set_bool(ecl_run *run, int slot, int v)
{
	return ecl_run_set_int(run, slot, v != 0);
}

int ecl_str_eq(const char *a, const char *b)
{
	/* NULL is a string that could not be made: the transition fails anyway (steps.c). */
	return a && b && strcmp(a, b) == 0;
}
