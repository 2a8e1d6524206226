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
 *
 * The engine makes each workflow's definition once and hands it to the first commit of the
 * workflow in each process (engine_def_get), which stores it when the store has none.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct wfdef {
	ecl_workflow wf; /* its strings point into text */
	char *text;      /* the definition's text, its strings unescaped in place */
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
	mem_free(d->text);
	mem_free(d);
}

/* ---- reading: the text wfdef_write writes, in place ----------------------------------------
 * A reader of that text alone (arrays, strings, integers, null, one object of known members),
 * not a general JSON parser: a history reads a definition for every version a run used, and
 * a tree of nodes, one allocation each, would cost hundreds of allocations where these few
 * arrays do. Strings are unescaped where they stand in the reader's copy of the text. */

typedef struct reader {
	char *p;
	int bad; /* the text is not what wfdef_write writes */
	int oom;
} reader;

static void ws(reader *r)
{
	while (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')
		r->p++;
}

/* Whether the next character is c, which is then read. */
static int next_is(reader *r, char c)
{
	ws(r);
	if (*r->p != c)
		return 0;
	r->p++;
	return 1;
}

static void expect(reader *r, char c)
{
	if (!next_is(r, c))
		r->bad = 1;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* A string, unescaped in place and ended by a NUL; NULL for null. */
static const char *read_str(reader *r)
{
	char *out, *start;

	ws(r);
	if (strncmp(r->p, "null", 4) == 0) {
		r->p += 4;
		return NULL;
	}
	if (*r->p != '"') {
		r->bad = 1;
		return NULL;
	}
	start = out = ++r->p;
	while (*r->p != '"') {
		unsigned v = 0;
		int i, h;

		if (!*r->p) {
			r->bad = 1;
			return NULL;
		}
		if (*r->p != '\\') {
			*out++ = *r->p++;
			continue;
		}
		switch (*++r->p) {
		case '"':
		case '\\':
		case '/': *out++ = *r->p; break;
		case 'b': *out++ = '\b'; break;
		case 'f': *out++ = '\f'; break;
		case 'n': *out++ = '\n'; break;
		case 'r': *out++ = '\r'; break;
		case 't': *out++ = '\t'; break;
		case 'u':
			for (i = 1; i <= 4; i++) {
				if ((h = hexval(r->p[i])) < 0) {
					r->bad = 1;
					return NULL;
				}
				v = v << 4 | (unsigned)h;
			}
			r->p += 4;
			/* the writer escapes control characters only */
			if (v == 0 || v >= 0x80) {
				r->bad = 1;
				return NULL;
			}
			*out++ = (char)v;
			break;
		default: r->bad = 1; return NULL;
		}
		r->p++;
	}
	r->p++;
	*out = '\0';
	return start;
}

/* An integer from lo to hi. */
static long long read_int(reader *r, long long lo, long long hi)
{
	char *end;
	long long v;

	ws(r);
	v = strtoll(r->p, &end, 10);
	if (end == r->p || v < lo || v > hi)
		r->bad = 1;
	r->p = end;
	return v;
}

/* The array arr of n items of size with room for one more, zeroed, at index n: arr or a new
 * array that replaces it; NULL when memory ran out (arr is left as it was) or the text is
 * already found bad. */
static void *room(reader *r, void *arr, int n, size_t size)
{
	char *a = arr;

	if (r->bad || r->oom)
		return NULL;
	if ((n & (n - 1)) == 0 && /* room for 1, 2, 4, 8... items */
	    !(a = mem_realloc(arr, (size_t)(n ? 2 * n : 1) * size))) {
		r->oom = 1;
		return NULL;
	}
	memset(a + (size_t)n * size, 0, size);
	return a;
}

/* A template: a list of literal texts and slot numbers (checked once the slots are known). */
static void read_tpl(reader *r, ecl_template *t)
{
	ecl_tpl_part *parts = NULL, *p;
	int n = 0;

	expect(r, '[');
	while (!r->bad && !r->oom && !next_is(r, ']')) {
		if (n)
			expect(r, ',');
		if (!(p = room(r, parts, n, sizeof(*parts))))
			break;
		parts = p;
		p += n++;
		ws(r);
		if (*r->p == '"') {
			p->text = read_str(r);
			p->len = p->text ? strlen(p->text) : 0;
			p->slot = -1;
		} else {
			p->slot = (int)read_int(r, 0, 1 << 20);
		}
	}
	t->parts = parts;
	t->nparts = n;
}

static void read_slot(reader *r, ecl_slot_def *d)
{
	const char **choices = NULL;
	int n = 0;

	expect(r, '[');
	d->name = read_str(r);
	expect(r, ',');
	d->kind = (ecl_slot_kind)read_int(r, ECL_SLOT_INPUT, ECL_SLOT_COUNTER);
	expect(r, ',');
	d->type = (ecl_type)read_int(r, ECL_T_STRING, ECL_T_LIST);
	expect(r, ',');
	d->step = (int)read_int(r, -1, 1 << 20);
	expect(r, ',');
	d->field = read_str(r);
	expect(r, ',');
	if (next_is(r, '[')) {
		while (!r->bad && !r->oom && !next_is(r, ']')) {
			const char **c;

			if (n)
				expect(r, ',');
			if (!(c = room(r, (void *)choices, n, sizeof(*choices))))
				break;
			choices = c;
			if ((c[n] = read_str(r)) == NULL)
				r->bad = 1;
			n++;
		}
		d->choices = choices;
		d->nchoices = n;
	} else if (read_str(r) || r->bad) { /* null */
		r->bad = 1;
	}
	expect(r, ',');
	if (next_is(r, '[')) {
		d->has_range = 1;
		d->min = read_int(r, LLONG_MIN, LLONG_MAX);
		expect(r, ',');
		d->max = read_int(r, LLONG_MIN, LLONG_MAX);
		expect(r, ']');
	} else if (read_str(r) || r->bad) {
		r->bad = 1;
	}
	expect(r, ',');
	d->required = (int)read_int(r, 0, 1);
	expect(r, ',');
	d->initial = read_str(r);
	expect(r, ']');
	if (!d->name)
		r->bad = 1;
}

static void read_step(reader *r, ecl_step_def *d)
{
	int *outs = NULL, n = 0, *o;

	d->opts.temperature = -1;
	d->opts.retries = d->opts.repairs = -1;
	expect(r, '[');
	d->name = read_str(r);
	expect(r, ',');
	d->kind = (ecl_step_kind)read_int(r, ECL_STEP_LLM, ECL_STEP_SET);
	expect(r, ',');
	read_tpl(r, &d->system);
	expect(r, ',');
	read_tpl(r, &d->prompt);
	expect(r, ',');
	read_tpl(r, &d->question);
	expect(r, ',');
	expect(r, '[');
	while (!r->bad && !r->oom && !next_is(r, ']')) {
		if (n)
			expect(r, ',');
		if (!(o = room(r, outs, n, sizeof(*outs))))
			break;
		outs = o;
		outs[n++] = (int)read_int(r, 0, 1 << 20);
	}
	d->outputs = outs;
	d->noutputs = n;
	expect(r, ',');
	d->counter = (int)read_int(r, -1, 1 << 20);
	expect(r, ']');
	if (!d->name)
		r->bad = 1;
}

/* Whether every slot a definition's templates, outputs, counters and slots name exists. */
static int consistent(const ecl_workflow *wf)
{
	int i, j, k;

	if (wf->nsteps == 0 || wf->start < 0 || wf->start >= wf->nsteps)
		return 0;
	for (i = 0; i < wf->nslots; i++)
		if (wf->slots[i].step >= wf->nsteps)
			return 0;
	for (i = 0; i < wf->nsteps; i++) {
		const ecl_step_def *d = &wf->steps[i];
		const ecl_template *tpls[3];

		tpls[0] = &d->system;
		tpls[1] = &d->prompt;
		tpls[2] = &d->question;
		if (d->counter >= wf->nslots)
			return 0;
		for (j = 0; j < d->noutputs; j++)
			if (d->outputs[j] >= wf->nslots)
				return 0;
		for (j = 0; j < 3; j++)
			for (k = 0; k < tpls[j]->nparts; k++)
				if (tpls[j]->parts[k].slot >= wf->nslots)
					return 0;
	}
	return 1;
}

int wfdef_read(const char *text, const char *version, wfdef **out)
{
	wfdef *d = mem_calloc(1, sizeof(*d));
	reader r = {0};
	int rc, nkeys = 0;

	*out = NULL;
	if (!d || !(d->text = mem_strdup(text))) {
		mem_free(d);
		return ECL_ENOMEM;
	}
	d->wf.abi = ECL_ABI_VERSION;
	d->wf.version = version;
	d->wf.start = -1;
	d->wf.max_steps = 0x7fffffff;
	r.p = d->text;
	expect(&r, '{');
	while (!r.bad && !r.oom && !next_is(&r, '}')) {
		const char *key;

		if (nkeys++)
			expect(&r, ',');
		key = read_str(&r);
		expect(&r, ':');
		if (!key || r.bad)
			key = ""; /* no member: refused below */
		if (strcmp(key, "id") == 0) {
			d->wf.id = d->wf.name = read_str(&r);
		} else if (strcmp(key, "start") == 0) {
			d->wf.start = (int)read_int(&r, 0, 1 << 20);
		} else if (strcmp(key, "slots") == 0) {
			expect(&r, '[');
			while (!r.bad && !r.oom && !next_is(&r, ']')) {
				ecl_slot_def *sd;

				if (d->wf.nslots)
					expect(&r, ',');
				if (!(sd = room(&r, d->slots, d->wf.nslots, sizeof(*sd))))
					break;
				d->slots = sd;
				read_slot(&r, &sd[d->wf.nslots++]);
			}
		} else if (strcmp(key, "steps") == 0) {
			expect(&r, '[');
			while (!r.bad && !r.oom && !next_is(&r, ']')) {
				ecl_step_def *sd;

				if (d->wf.nsteps)
					expect(&r, ',');
				if (!(sd = room(&r, d->steps, d->wf.nsteps, sizeof(*sd))))
					break;
				d->steps = sd;
				read_step(&r, &sd[d->wf.nsteps++]);
			}
		} else {
			r.bad = 1;
		}
	}
	d->wf.slots = d->slots;
	d->wf.steps = d->steps;
	rc = r.oom                                                         ? ECL_ENOMEM
	     : r.bad || !d->wf.id || (ws(&r), *r.p) || !consistent(&d->wf) ? ECL_ESTORE
									   : ECL_OK;
	if (rc != ECL_OK) {
		wfdef_free(d);
		return rc;
	}
	*out = d;
	return ECL_OK;
}

const ecl_workflow *wfdef_workflow(const wfdef *d)
{
	return &d->wf;
}

/* ---- the engine's definitions: made once per workflow, stored with the first commit ------- */

int engine_def_get(ecl_engine *e, const ecl_workflow *wf, const store_def **out)
{
	engine_def *d;

	*out = NULL;
	for (d = e->defs; d && d->wf != wf; d = d->next)
		;
	if (!d) {
		if (!(d = mem_calloc(1, sizeof(*d))) || !(d->text = wfdef_write(wf))) {
			mem_free(d);
			return engine_fail(e, ECL_ENOMEM, "out of memory");
		}
		d->wf = wf;
		d->def.workflow = wf->id;
		d->def.version = wf->version;
		d->def.text = d->text;
		d->next = e->defs;
		e->defs = d;
	}
	if (!d->stored)
		*out = &d->def;
	return ECL_OK;
}

void engine_def_stored(const store_def *def)
{
	if (def)
		((engine_def *)(void *)((char *)def - offsetof(engine_def, def)))->stored = 1;
}
