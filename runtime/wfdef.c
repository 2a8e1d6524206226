/*
 * wfdef.c - a workflow version's definition as stored data: its slots and the templates of its
 * steps, written as JSON once per version (the store keeps it beside the runs) and read back
 * into an ecl_workflow without a step function. A history renders what a step sent from it
 * and the run's stored state, by the same code that rendered it then (run_render), so an
 * edited and recompiled workflow cannot change what an old run shows.
 *
 * The text: {"id": ID, "start": N, "slots": [SLOT...], "steps": [STEP...]} where
 *   SLOT = [name, kind, type, step, field|null, [choice...]|null, [min, max]|null, required,
 *           initial|null]
 *   STEP = [name, kind, system, prompt, question, [output slot...], counter]
 * and a template is a list of parts: a string for literal text, a number for a slot.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct wfdef {
	ecl_workflow wf; /* its strings point into json */
	cJSON *json;
	ecl_slot_def *slots;
	ecl_step_def *steps;
};

static void write_str(buf *b, const char *s)
{
	if (s)
		buf_json_str(b, s, strlen(s));
	else
		buf_puts(b, "null");
}

static void write_tpl(buf *b, const ecl_template *t)
{
	int i;

	buf_append(b, "[", 1);
	for (i = 0; i < t->nparts; i++) {
		const ecl_tpl_part *p = &t->parts[i];

		if (i)
			buf_append(b, ",", 1);
		if (p->slot < 0)
			buf_json_str(b, p->text, p->len);
		else
			buf_printf(b, "%d", p->slot);
	}
	buf_append(b, "]", 1);
}

char *wfdef_write(const ecl_workflow *wf)
{
	buf b = {0};
	int i, j;

	buf_puts(&b, "{\"id\":");
	write_str(&b, wf->id);
	buf_printf(&b, ",\"start\":%d,\"slots\":[", wf->start);
	for (i = 0; i < wf->nslots; i++) {
		const ecl_slot_def *d = &wf->slots[i];

		buf_puts(&b, i ? ",[" : "[");
		write_str(&b, d->name);
		buf_printf(&b, ",%d,%d,%d,", (int)d->kind, (int)d->type, d->step);
		write_str(&b, d->field);
		if (d->type == ECL_T_ENUM) {
			buf_puts(&b, ",[");
			for (j = 0; j < d->nchoices; j++) {
				if (j)
					buf_append(&b, ",", 1);
				write_str(&b, d->choices[j]);
			}
			buf_append(&b, "]", 1);
		} else {
			buf_puts(&b, ",null");
		}
		if (d->has_range)
			buf_printf(&b, ",[%lld,%lld]", d->min, d->max);
		else
			buf_puts(&b, ",null");
		buf_printf(&b, ",%d,", d->required);
		write_str(&b, d->initial);
		buf_append(&b, "]", 1);
	}
	buf_puts(&b, "],\"steps\":[");
	for (i = 0; i < wf->nsteps; i++) {
		const ecl_step_def *d = &wf->steps[i];

		buf_puts(&b, i ? ",[" : "[");
		write_str(&b, d->name);
		buf_printf(&b, ",%d,", (int)d->kind);
		write_tpl(&b, &d->system);
		buf_append(&b, ",", 1);
		write_tpl(&b, &d->prompt);
		buf_append(&b, ",", 1);
		write_tpl(&b, &d->question);
		buf_puts(&b, ",[");
		for (j = 0; j < d->noutputs; j++)
			buf_printf(&b, "%s%d", j ? "," : "", d->outputs[j]);
		buf_printf(&b, "],%d]", d->counter);
	}
	buf_puts(&b, "]}");
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

void wfdef_free(wfdef *d)
{
	int i;

	if (!d)
		return;
	for (i = 0; d->slots && i < d->wf.nslots; i++)
		mem_free((void *)d->slots[i].choices);
	for (i = 0; d->steps && i < d->wf.nsteps; i++) {
		mem_free((void *)d->steps[i].system.parts);
		mem_free((void *)d->steps[i].prompt.parts);
		mem_free((void *)d->steps[i].question.parts);
		mem_free((void *)d->steps[i].outputs);
	}
	mem_free(d->slots);
	mem_free(d->steps);
	cJSON_Delete(d->json);
	mem_free(d);
}

/* An integer member of a list, checked to lie in lo..hi; -2 when it is not one (the callers'
 * indices are from -1). */
static int int_at(const cJSON *list, int i, int lo, int hi)
{
	const cJSON *v = cJSON_GetArrayItem(list, i);

	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
	    v->valuedouble != (double)(int)v->valuedouble)
		return -2;
	return (int)v->valuedouble;
}

/* A string member of a list, or NULL (null or absent); *bad set when it is something else. */
static const char *str_at(const cJSON *list, int i, int *bad)
{
	const cJSON *v = cJSON_GetArrayItem(list, i);

	if (cJSON_IsString(v))
		return v->valuestring;
	if (v && !cJSON_IsNull(v))
		*bad = 1;
	return NULL;
}

/* Read a template's parts; ECL_ESTORE for a part that is neither text nor a slot. */
static int read_tpl(const cJSON *list, int nslots, ecl_template *t)
{
	ecl_tpl_part *parts;
	const cJSON *p;
	int n = cJSON_GetArraySize(list), i = 0;

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsArray(list))
		return ECL_ESTORE;
	if (n == 0)
		return ECL_OK;
	if (!(parts = mem_calloc((size_t)n, sizeof(*parts))))
		return ECL_ENOMEM;
	t->parts = parts;
	t->nparts = n;
	cJSON_ArrayForEach (p, list) {
		if (cJSON_IsString(p)) {
			parts[i].text = p->valuestring;
			parts[i].len = strlen(p->valuestring);
			parts[i].slot = -1;
		} else if (cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble < nslots) {
			parts[i].slot = (int)p->valuedouble;
		} else {
			return ECL_ESTORE;
		}
		i++;
	}
	return ECL_OK;
}

static int read_slot(const cJSON *s, int nsteps, ecl_slot_def *d)
{
	const cJSON *choices = cJSON_GetArrayItem(s, 5), *range = cJSON_GetArrayItem(s, 6), *c;
	const char **list;
	int bad = 0, kind, type, i = 0;

	d->name = str_at(s, 0, &bad);
	kind = int_at(s, 1, ECL_SLOT_INPUT, ECL_SLOT_COUNTER);
	type = int_at(s, 2, ECL_T_STRING, ECL_T_LIST);
	d->step = int_at(s, 3, -1, nsteps - 1);
	d->field = str_at(s, 4, &bad);
	d->required = int_at(s, 7, 0, 1);
	d->initial = str_at(s, 8, &bad);
	if (!cJSON_IsArray(s) || bad || !d->name || kind < 0 || type < 0 || d->step < -1 ||
	    d->required < 0)
		return ECL_ESTORE;
	d->kind = (ecl_slot_kind)kind;
	d->type = (ecl_type)type;
	if (cJSON_IsArray(range) && cJSON_GetArraySize(range) == 2 &&
	    cJSON_IsNumber(range->child) && cJSON_IsNumber(range->child->next)) {
		d->has_range = 1;
		d->min = (long long)range->child->valuedouble;
		d->max = (long long)range->child->next->valuedouble;
	}
	if (!cJSON_IsArray(choices))
		return ECL_OK;
	if (!(list = mem_calloc((size_t)cJSON_GetArraySize(choices) + 1, sizeof(*list))))
		return ECL_ENOMEM;
	d->choices = list;
	cJSON_ArrayForEach (c, choices) {
		if (!cJSON_IsString(c))
			return ECL_ESTORE;
		list[i++] = c->valuestring;
	}
	d->nchoices = i;
	return ECL_OK;
}

static int read_step(const cJSON *s, int nslots, ecl_step_def *d)
{
	const cJSON *outs = cJSON_GetArrayItem(s, 5);
	int bad = 0, kind, rc, i, n = cJSON_GetArraySize(outs);
	int *list;

	d->name = str_at(s, 0, &bad);
	kind = int_at(s, 1, ECL_STEP_LLM, ECL_STEP_SET);
	d->counter = int_at(s, 6, -1, nslots - 1);
	if (!cJSON_IsArray(s) || bad || !d->name || kind < 0 || d->counter < -1 ||
	    !cJSON_IsArray(outs))
		return ECL_ESTORE;
	d->kind = (ecl_step_kind)kind;
	d->opts.temperature = -1;
	d->opts.retries = d->opts.repairs = -1;
	if ((rc = read_tpl(cJSON_GetArrayItem(s, 2), nslots, &d->system)) != ECL_OK ||
	    (rc = read_tpl(cJSON_GetArrayItem(s, 3), nslots, &d->prompt)) != ECL_OK ||
	    (rc = read_tpl(cJSON_GetArrayItem(s, 4), nslots, &d->question)) != ECL_OK)
		return rc;
	if (n == 0)
		return ECL_OK;
	if (!(list = mem_calloc((size_t)n, sizeof(*list))))
		return ECL_ENOMEM;
	d->outputs = list;
	d->noutputs = n;
	for (i = 0; i < n; i++)
		if ((list[i] = int_at(outs, i, 0, nslots - 1)) < 0)
			return ECL_ESTORE;
	return ECL_OK;
}

int wfdef_read(const char *text, const char *version, wfdef **out)
{
	wfdef *d = mem_calloc(1, sizeof(*d));
	const cJSON *slots, *steps, *it;
	int oom = 0, rc = ECL_OK, i;

	*out = NULL;
	if (!d)
		return ECL_ENOMEM;
	d->json = json_parse_str(text, &oom);
	slots = cJSON_GetObjectItemCaseSensitive(d->json, "slots");
	steps = cJSON_GetObjectItemCaseSensitive(d->json, "steps");
	it = cJSON_GetObjectItemCaseSensitive(d->json, "id");
	if (oom) {
		wfdef_free(d);
		return ECL_ENOMEM;
	}
	if (!cJSON_IsArray(slots) || !cJSON_IsArray(steps) || !cJSON_IsString(it) ||
	    cJSON_GetArraySize(steps) == 0) {
		wfdef_free(d);
		return ECL_ESTORE;
	}
	d->wf.abi = ECL_ABI_VERSION;
	d->wf.id = it->valuestring;
	d->wf.name = it->valuestring;
	d->wf.version = version;
	d->wf.nslots = cJSON_GetArraySize(slots);
	d->wf.nsteps = cJSON_GetArraySize(steps);
	it = cJSON_GetObjectItemCaseSensitive(d->json, "start");
	d->wf.start = cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < d->wf.nsteps
			      ? (int)it->valuedouble
			      : -1;
	d->slots = mem_calloc((size_t)d->wf.nslots + 1, sizeof(*d->slots));
	d->steps = mem_calloc((size_t)d->wf.nsteps, sizeof(*d->steps));
	if (!d->slots || !d->steps) {
		wfdef_free(d);
		return ECL_ENOMEM;
	}
	d->wf.slots = d->slots;
	d->wf.steps = d->steps;
	i = 0;
	cJSON_ArrayForEach (it, slots)
		if (rc == ECL_OK)
			rc = read_slot(it, d->wf.nsteps, &d->slots[i++]);
	i = 0;
	cJSON_ArrayForEach (it, steps)
		if (rc == ECL_OK)
			rc = read_step(it, d->wf.nslots, &d->steps[i++]);
	if (rc == ECL_OK && d->wf.start < 0)
		rc = ECL_ESTORE;
	if (rc != ECL_OK) {
		wfdef_free(d);
		return rc;
	}
	d->wf.max_steps = 0x7fffffff;
	*out = d;
	return ECL_OK;
}

const ecl_workflow *wfdef_workflow(const wfdef *d)
{
	return &d->wf;
}
