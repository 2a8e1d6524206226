/*
 * lifecycle.c - what other processes do to runs: pause and cancel requests, listings,
 * histories, forks from a checkpoint, and pruning finished runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int request(ecl_engine *e, const char *id, const char *what, int *applied)
{
	int dummy, rc;

	e->err[0] = '\0';
	if (!applied)
		applied = &dummy;
	rc = e->st->ops->request(e->st, id, what, clock_now_ms(), applied);
	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

int ecl_run_pause(ecl_engine *e, const char *id, int *applied)
{
	return request(e, id, "pause", applied);
}

int ecl_run_cancel(ecl_engine *e, const char *id, int *applied)
{
	return request(e, id, "cancel", applied);
}

static void to_store_filter(const ecl_run_filter *f, store_filter *sf)
{
	memset(sf, 0, sizeof(*sf));
	if (!f)
		return;
	sf->statuses = f->statuses;
	sf->nstatuses = f->nstatuses;
	sf->workflow = f->workflow;
	sf->limit = f->limit;
	if (f->older_than_ms > 0)
		sf->updated_before_ms = clock_now_ms() - f->older_than_ms;
}

typedef struct listing {
	ecl_engine *e;
	ecl_run_fn fn;
	void *ctx;
	int count;
} listing;

static int list_one(void *ctx, const store_run *row)
{
	listing *l = ctx;
	store_run copy = {0};
	ecl_run *run = NULL;
	ecl_run_info *info;
	int rc;

	l->count++;
	if (!l->fn)
		return 0;
	/* Load it to count its loop; a run of a workflow this program lacks is listed as is,
	 * one deleted meanwhile not at all. Running out of memory ends the listing. */
	rc = run_load(l->e, row->id, &copy, &run);
	if (rc == ECL_ENOMEM) {
		store_run_clear(&copy);
		return rc;
	}
	if (rc != ECL_OK)
		l->e->err[0] = '\0';
	if (rc != ECL_OK && !copy.workflow)
		return ECL_OK;
	rc = run_info_build(l->e, &copy, run, &info);
	run_free(run);
	if (rc != ECL_OK)
		return rc;
	rc = l->fn(l->ctx, info);
	ecl_run_info_free(info);
	return rc;
}

int ecl_run_list(ecl_engine *e, const ecl_run_filter *filter, ecl_run_fn fn, void *ctx)
{
	store_filter sf;
	listing l = {e, fn, ctx, 0};
	ecl_run_status status;
	int rc, i;

	e->err[0] = '\0';
	to_store_filter(filter, &sf);
	/* a misspelt status would list nothing, as if there were no such runs */
	for (i = 0; i < sf.nstatuses; i++) {
		if (ecl_run_status_parse(sf.statuses[i], &status) != ECL_OK)
			return engine_fail(e, ECL_EUSAGE,
					   "unknown status `%s` (the statuses: running, waiting, "
					   "paused, interrupted, completed, failed, cancelled)",
					   sf.statuses[i]);
	}
	rc = e->st->ops->list_runs(e->st, &sf, list_one, &l);
	/* (a run's output found damaged has said so already) */
	if ((rc == ECL_ESTORE || rc == ECL_ENOMEM) && !e->err[0])
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return rc;
}

int ecl_prune(ecl_engine *e, const ecl_run_filter *filter, int dry_run, int *count)
{
	const char *const finished[] = {ecl_run_status_name(ECL_RUN_COMPLETED),
					ecl_run_status_name(ECL_RUN_FAILED),
					ecl_run_status_name(ECL_RUN_CANCELLED)};
	store_filter sf;
	listing l = {e, NULL, NULL, 0};
	int rc, i, j;

	e->err[0] = '\0';
	*count = 0;
	to_store_filter(filter, &sf);
	for (i = 0; i < sf.nstatuses; i++) {
		for (j = 0; j < 3 && strcmp(sf.statuses[i], finished[j]) != 0; j++)
			;
		if (j == 3)
			return engine_fail(e, ECL_EUSAGE,
					   "prune deletes only finished runs (completed, failed, "
					   "cancelled), not %s ones",
					   sf.statuses[i]);
	}
	if (sf.nstatuses == 0) {
		sf.statuses = finished;
		sf.nstatuses = 3;
	}
	if (dry_run) {
		rc = e->st->ops->list_runs(e->st, &sf, list_one, &l);
		*count = l.count;
	} else {
		rc = e->st->ops->prune(e->st, &sf, count);
	}
	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

/* ---- history ------------------------------------------------------------------------------ */

const char *ecl_llm_call_kind_name(ecl_llm_call_kind kind)
{
	switch (kind) {
	case ECL_LLM_CALL_FIRST: return "first";
	case ECL_LLM_CALL_RETRY: return "retry";
	case ECL_LLM_CALL_REPAIR: return "repair";
	}
	return "call";
}

/* What the history reads before it walks the checkpoints: the notes and the stored calls,
 * merged in by seq, and the definitions of the workflow versions the run used. What a step
 * sent is rendered from the definition of the version it ran under (stored with the run's
 * commits) and the run's stored state, replayed checkpoint by checkpoint on that definition,
 * never from the workflow compiled into this program, which may have been edited since. */
typedef struct history {
	ecl_engine *e;
	int full;
	ecl_history_fn fn;
	void *ctx;
	char *workflow, *inputs;
	char version[128]; /* the version the next checkpoints ran under */
	wfdef *def;        /* its definition, or NULL when none is stored */
	ecl_run *run;      /* full: the state replayed on def, after the last checkpoint */
	int stale;         /* the version changed: def and run are to be made again */
	struct note {
		int seq;
		long long ts_ms;
		char *text;
	} * notes;
	int nnotes, next_note;
	/* the version switches the checkpoints went through, a fork's parents' first */
	struct vswitch {
		int seq; /* the checkpoints after it ran under `to` */
		char from[128], to[128];
	} * switches;
	int nswitches, next_switch;
	int switch_limit;     /* reading a run's: the checkpoints taken from it */
	char first_from[128]; /* reading a run's: the version its first switch left */
	struct hcall {
		int seq;
		store_call c; /* its strings owned */
	} * calls;
	int ncalls, next_call;
	ecl_llm_call *out; /* the calls of the entry being made */
	int capout;
} history;

static int keep_note(void *ctx, int seq, long long ts_ms, const char *text)
{
	history *h = ctx;
	struct note *n = mem_realloc(h->notes, (size_t)(h->nnotes + 1) * sizeof(*n));

	if (!n)
		return ECL_ENOMEM;
	h->notes = n;
	n[h->nnotes].seq = seq;
	n[h->nnotes].ts_ms = ts_ms;
	n[h->nnotes].text = mem_strdup(text);
	if (!n[h->nnotes].text)
		return ECL_ENOMEM;
	h->nnotes++;
	return ECL_OK;
}

/* An answer a human gave, shown among the notes as "answer {json}": after the notes of its
 * checkpoint written before it (the answers are walked after the notes). */
static int keep_answer(void *ctx, int seq, long long ts_ms, const char *answer)
{
	history *h = ctx;
	size_t len = strlen(answer);
	char *text = mem_alloc(len + 8);
	int rc, at;

	if (!text)
		return ECL_ENOMEM;
	snprintf(text, len + 8, "answer %s", answer);
	rc = keep_note(ctx, seq, ts_ms, text);
	mem_free(text);
	if (rc != ECL_OK)
		return rc;
	for (at = h->nnotes - 1; at > 0; at--) {
		struct note *n = &h->notes[at - 1], t;

		if (n->seq < seq || (n->seq == seq && n->ts_ms <= ts_ms))
			break;
		t = *n;
		*n = h->notes[at];
		h->notes[at] = t;
	}
	return ECL_OK;
}

static char *dup_or_null(const char *s, int *oom)
{
	char *copy = s ? mem_strdup(s) : NULL;

	if (s && !copy)
		*oom = 1;
	return copy;
}

static int keep_call(void *ctx, int seq, const store_call *c)
{
	history *h = ctx;
	struct hcall *k = mem_realloc(h->calls, (size_t)(h->ncalls + 1) * sizeof(*k));
	int oom = 0;

	if (!k)
		return ECL_ENOMEM;
	h->calls = k;
	k += h->ncalls++;
	k->seq = seq;
	k->c = *c;
	k->c.fix = dup_or_null(c->fix, &oom);
	k->c.answer = dup_or_null(c->answer, &oom);
	k->c.error = dup_or_null(c->error, &oom);
	return oom ? ECL_ENOMEM : ECL_OK;
}

/* The versions named by a note of a version switch (engine.c writes it); 1 when it is one. */
static int switch_note(const char *text, char *from, char *to)
{
	return sscanf(text, "workflow %*s changed from version %127s to %127s", from, to) == 2;
}

/* Append a version switch to h->switches. */
static int add_switch(history *h, int seq, const char *from, const char *to)
{
	struct vswitch *sw = mem_realloc(h->switches, (size_t)(h->nswitches + 1) * sizeof(*sw));

	if (!sw)
		return ECL_ENOMEM;
	h->switches = sw;
	sw += h->nswitches++;
	sw->seq = seq;
	snprintf(sw->from, sizeof(sw->from), "%s", from);
	snprintf(sw->to, sizeof(sw->to), "%s", to);
	return ECL_OK;
}

/* Keep a note that is a version switch before checkpoint h->switch_limit; note the version the
 * first switch of all left in h->first_from. */
static int keep_switch(void *ctx, int seq, long long ts_ms, const char *text)
{
	history *h = ctx;
	char from[128], to[128];

	(void)ts_ms;
	if (!switch_note(text, from, to))
		return ECL_OK;
	if (!h->first_from[0])
		snprintf(h->first_from, sizeof(h->first_from), "%s", from);
	return seq < h->switch_limit ? add_switch(h, seq, from, to) : ECL_OK;
}

/* Append to h->switches the version switches of run `row`'s checkpoints before `limit`, and
 * put in start the version its first checkpoint ran under. A fork's first checkpoints are its
 * parent's: their switches come first (a parent pruned since has none to give), then the
 * fork's own start, then its own switches. */
static int timeline(history *h, const store_run *row, int limit, char start[128], int depth)
{
	ecl_engine *e = h->e;
	store_run parent = {0};
	const char *sep = row->parent ? strrchr(row->parent, '@') : NULL;
	char id[ECL_ID_MAX], at[128] = "", own[128];
	int upto = 0, mark, rc = ECL_OK;

	snprintf(start, 128, "%s", row->version);
	if (sep && sep - row->parent < ECL_ID_MAX && depth < 64) {
		snprintf(id, sizeof(id), "%.*s", (int)(sep - row->parent), row->parent);
		upto = (int)strtol(sep + 1, NULL, 10);
		if (upto > limit)
			upto = limit;
		rc = e->st->ops->get_run(e->st, id, &parent);
		if (rc == ECL_OK) {
			mark = h->nswitches;
			rc = timeline(h, &parent, upto, start, depth + 1);
			/* the version in effect at the fork */
			snprintf(at, sizeof(at), "%s",
				 h->nswitches > mark ? h->switches[h->nswitches - 1].to : start);
		} else if (rc == ECL_ENOTFOUND) {
			rc = ECL_OK;
		}
		store_run_clear(&parent);
	}
	mark = h->nswitches;
	h->switch_limit = limit;
	h->first_from[0] = '\0';
	if (rc == ECL_OK)
		rc = e->st->ops->list_notes(e->st, row->id, keep_switch, h);
	if (rc != ECL_OK)
		return rc;
	snprintf(own, sizeof(own), "%s", h->first_from[0] ? h->first_from : row->version);
	if (!at[0]) {
		snprintf(start, 128, "%s", own);
		return ECL_OK;
	}
	/* between the parent's switches and the run's own: the run's start at the fork */
	if ((rc = add_switch(h, upto, at, own)) != ECL_OK)
		return rc;
	memmove(h->switches + mark + 1, h->switches + mark,
		(size_t)(h->nswitches - 1 - mark) * sizeof(*h->switches));
	h->switches[mark].seq = upto;
	snprintf(h->switches[mark].from, sizeof(h->switches[mark].from), "%s", at);
	snprintf(h->switches[mark].to, sizeof(h->switches[mark].to), "%s", own);
	return ECL_OK;
}

/* Emit the notes that come before checkpoint seq (all of them when seq < 0). */
static int flush_notes(history *h, int seq)
{
	while (h->next_note < h->nnotes && (seq < 0 || h->notes[h->next_note].seq < seq)) {
		const struct note *n = &h->notes[h->next_note++];
		ecl_history_entry entry = {0};
		int rc;

		entry.seq = n->seq;
		entry.note = n->text;
		entry.note_ms = n->ts_ms;
		if ((rc = h->fn(h->ctx, &entry)) != 0)
			return rc;
	}
	return ECL_OK;
}

/* Copy into run `to` the values of run `from` whose slots it has, by name and type: the state
 * carried over a version switch (a run switches only when every slot it uses stays). */
static int carry_state(ecl_run *to, const ecl_run *from)
{
	const ecl_workflow *a = from->wf, *b = to->wf;
	int i, j;

	for (i = 0; i < b->nslots; i++)
		for (j = 0; j < a->nslots; j++) {
			const value *v = &from->vals[j];

			if (strcmp(a->slots[j].name, b->slots[i].name) != 0 ||
			    a->slots[j].type != b->slots[i].type || !v->set)
				continue;
			value_clear(&to->vals[i]);
			to->vals[i] = *v;
			if (v->s && !(to->vals[i].s = mem_strndup(v->s, v->n))) {
				memset(&to->vals[i], 0, sizeof(to->vals[i]));
				return ECL_ENOMEM;
			}
			break;
		}
	return ECL_OK;
}

/* Load the definition of h->version and, for full, a run replayed on it (from the inputs, or
 * from the state of the run replayed so far). A version whose definition is not stored (a run
 * made before ecl stored them) leaves def NULL: its texts are not known. */
static int load_version(history *h)
{
	ecl_engine *e = h->e;
	char *text = NULL;
	wfdef *def = NULL;
	ecl_run *run = NULL;
	cJSON *inputs = NULL;
	int rc, oom = 0;

	h->stale = 0;
	rc = e->st->ops->get_def(e->st, h->workflow, h->version, &text);
	if (rc == ECL_ENOTFOUND)
		rc = ECL_OK;
	else if (rc == ECL_OK && (rc = wfdef_read(text, h->version, &def)) == ECL_ESTORE)
		rc = engine_damaged(e, "the stored definition of version %s of %s does not read",
				    h->version, h->workflow);
	mem_free(text);
	if (rc == ECL_OK && def && h->full) {
		if ((rc = run_new(e, wfdef_workflow(def), "history", &run)) == ECL_OK) {
			if (h->run)
				rc = carry_state(run, h->run);
			else if ((inputs = json_parse_str(h->inputs, &oom)) != NULL)
				rc = run_set_inputs(run, inputs, e->err, sizeof(e->err));
			else
				rc = oom ? ECL_ENOMEM
					 : engine_damaged(e, "the stored inputs are not JSON");
		}
		cJSON_Delete(inputs);
	}
	run_free(h->run);
	wfdef_free(h->def);
	h->run = rc == ECL_OK ? run : NULL;
	h->def = rc == ECL_OK ? def : NULL;
	if (rc != ECL_OK) {
		run_free(run);
		wfdef_free(def);
	}
	return rc == ECL_EUSAGE || rc == ECL_EINPUT ? ECL_ESTORE : rc;
}

/* The step named `name` of wf, or -1. */
static int step_index(const ecl_workflow *wf, const char *name)
{
	int i;

	for (i = 0; wf && i < wf->nsteps; i++)
		if (strcmp(wf->steps[i].name, name) == 0)
			return i;
	return -1;
}

/* Fill h->out with the calls of checkpoint s: those stored, or the one call implied when a
 * step that asked the model stored none. *n gets how many. */
static int make_calls(history *h, const store_step *s, const ecl_step_def *sd, const char *sys,
		      const char *prompt, int *n)
{
	const char *fix = NULL;
	int count = 0, i;

	*n = 0;
	while (h->next_call < h->ncalls && h->calls[h->next_call].seq < s->seq)
		h->next_call++; /* calls of a checkpoint not listed: none are */
	for (i = h->next_call; i < h->ncalls && h->calls[i].seq == s->seq; i++)
		count++;
	if (count == 0 && sd && sd->kind == ECL_STEP_LLM && (s->output || s->raw))
		count = 1;
	if (count == 0)
		return ECL_OK;
	if (count > h->capout) {
		ecl_llm_call *out = mem_realloc(h->out, (size_t)count * sizeof(*out));

		if (!out)
			return ECL_ENOMEM;
		h->out = out;
		h->capout = count;
	}
	memset(h->out, 0, (size_t)count * sizeof(*h->out));
	for (i = 0; i < count; i++) {
		ecl_llm_call *o = &h->out[i];

		o->system = sys;
		o->prompt = prompt;
		if (h->next_call >= h->ncalls || h->calls[h->next_call].seq != s->seq) {
			/* one call, accepted: the checkpoint's */
			o->n = 1;
			o->kind = ECL_LLM_CALL_FIRST;
			o->answer = s->raw ? s->raw : s->output;
			o->tokens_in = s->tokens_in;
			o->tokens_out = s->tokens_out;
			o->tokens_cached = s->tokens_cached;
			o->tokens_cache_write = s->tokens_cache_write;
			o->ttft_us = s->ttft_us;
			o->latency_us = -1;
			continue;
		}
		{
			const store_call *c = &h->calls[h->next_call++].c;

			o->n = c->n;
			o->kind = c->kind == STORE_CALL_RETRY    ? ECL_LLM_CALL_RETRY
				  : c->kind == STORE_CALL_REPAIR ? ECL_LLM_CALL_REPAIR
								 : ECL_LLM_CALL_FIRST;
			o->repair = c->repair;
			if (c->kind == STORE_CALL_REPAIR)
				fix = c->fix;
			o->fix = o->repair > 0 ? fix : NULL;
			/* the accepted answer is the checkpoint's */
			o->answer = c->answer || c->error ? c->answer : s->raw ? s->raw : s->output;
			o->error = c->error;
			o->tokens_in = c->tokens_in;
			o->tokens_out = c->tokens_out;
			o->tokens_cached = c->tokens_cached;
			o->tokens_cache_write = c->tokens_cache_write;
			o->ttft_us = c->ttft_us;
			o->latency_us = c->latency_us;
		}
	}
	*n = count;
	return ECL_OK;
}

static int history_step(void *ctx, const store_step *s)
{
	history *h = ctx;
	ecl_history_entry entry = {0};
	const ecl_workflow *wf;
	const ecl_step_def *sd = NULL;
	buf sys = {0}, prompt = {0};
	int rc, step;

	if ((rc = flush_notes(h, s->seq)) != ECL_OK)
		return rc;
	/* a version switch before this checkpoint: it ran under the new version */
	for (; h->next_switch < h->nswitches && h->switches[h->next_switch].seq < s->seq;
	     h->next_switch++) {
		const char *to = h->switches[h->next_switch].to;

		if (strcmp(to, h->version) != 0) {
			snprintf(h->version, sizeof(h->version), "%s", to);
			h->stale = 1;
		}
	}
	if (h->stale && (rc = load_version(h)) != ECL_OK)
		return rc;
	entry.seq = s->seq;
	entry.step = s->step;
	entry.next = s->next;
	entry.attempt = s->attempt;
	entry.started_ms = s->started_ms;
	entry.duration_us = s->duration_us;
	entry.tokens_in = s->tokens_in;
	entry.tokens_out = s->tokens_out;
	entry.tokens_cached = s->tokens_cached;
	entry.tokens_cache_write = s->tokens_cache_write;
	entry.output = s->output;
	entry.answer = s->raw ? s->raw : s->output;
	/* The step's kind from the stored definition; for a run made before ecl stored them,
	 * from this program's workflow (its texts then are not shown: they may have changed). */
	wf = h->def ? wfdef_workflow(h->def)
		    : ecl_workflow_find(h->e->workflows, h->e->nworkflows, h->workflow);
	step = step_index(wf, s->step);
	if (step >= 0)
		sd = &wf->steps[step];
	if (h->run && sd) {
		/* A human step's prompt is its question; code and set steps have none. */
		run_render(h->run, &sd->system, &sys);
		run_render(h->run, sd->kind == ECL_STEP_HUMAN ? &sd->question : &sd->prompt,
			   &prompt);
		if (sys.oom || prompt.oom) {
			buf_free(&sys);
			buf_free(&prompt);
			return ECL_ENOMEM;
		}
		entry.system = sys.data;
		entry.prompt = sd->kind == ECL_STEP_LLM || sd->kind == ECL_STEP_HUMAN
				       ? (prompt.data ? prompt.data : "")
				       : NULL;
	}
	rc = make_calls(h, s, sd, entry.system,
			sd && sd->kind == ECL_STEP_LLM ? entry.prompt : NULL, &entry.ncalls);
	entry.calls = entry.ncalls ? h->out : NULL;
	if (rc == ECL_OK)
		rc = h->fn(h->ctx, &entry);
	buf_free(&sys);
	buf_free(&prompt);
	if (rc == ECL_OK && h->run && sd) {
		/* Bring the replayed state to after this checkpoint, for the next prompt. */
		int oom = 0;
		cJSON *out = s->output ? json_parse_str(s->output, &oom) : NULL;

		if (out)
			rc = run_apply_output(h->run, step, out);
		else if (oom)
			rc = ECL_ENOMEM;
		cJSON_Delete(out);
		if (rc == ECL_OK)
			rc = run_apply(h->run, s->vars, 0);
	}
	return rc;
}

int ecl_run_history(ecl_engine *e, const char *id, int full, ecl_history_fn fn, void *ctx)
{
	history h = {0};
	store_run row = {0};
	int rc, i;

	e->err[0] = '\0';
	h.e = e;
	h.full = full;
	h.fn = fn;
	h.ctx = ctx;
	rc = e->st->ops->get_run(e->st, id, &row);
	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	h.workflow = row.workflow;
	h.inputs = row.inputs;
	/* the versions the checkpoints ran under: the first, and the switches after it */
	rc = timeline(&h, &row, 0x7fffffff, h.version, 0);
	if (rc == ECL_OK)
		rc = e->st->ops->list_notes(e->st, id, keep_note, &h);
	if (rc == ECL_OK)
		rc = e->st->ops->list_calls(e->st, id, keep_call, &h);
	if (rc == ECL_OK)
		rc = load_version(&h);
	if (rc == ECL_OK)
		rc = e->st->ops->list_answers(e->st, id, keep_answer, &h);
	if (rc == ECL_OK)
		rc = e->st->ops->list_steps(e->st, id, history_step, &h);
	if (rc == ECL_OK)
		rc = flush_notes(&h, -1);
	for (i = 0; i < h.nnotes; i++)
		mem_free(h.notes[i].text);
	mem_free(h.notes);
	mem_free(h.switches);
	for (i = 0; i < h.ncalls; i++) {
		mem_free((char *)h.calls[i].c.fix);
		mem_free((char *)h.calls[i].c.answer);
		mem_free((char *)h.calls[i].c.error);
	}
	mem_free(h.calls);
	mem_free(h.out);
	run_free(h.run);
	wfdef_free(h.def);
	store_run_clear(&row);
	/* a checkpoint found damaged while replaying has said so already */
	if (rc == ECL_ESTORE && !e->err[0])
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	if (rc == ECL_ENOMEM)
		return engine_fail(e, rc, "out of memory");
	return rc;
}

/* ---- fork --------------------------------------------------------------------------------- */

typedef struct fork_probe {
	int upto;
	char *next; /* the step checkpoint `upto` went to */
	int ended;  /* checkpoint `upto` ended the run */
} fork_probe;

static int probe_step(void *ctx, const store_step *s)
{
	fork_probe *p = ctx;

	if (s->seq != p->upto)
		return ECL_OK;
	p->ended = s->next == NULL;
	p->next = s->next ? mem_strdup(s->next) : NULL;
	return s->next && !p->next ? ECL_ENOMEM : ECL_OK;
}

int ecl_run_fork(ecl_engine *e, const char *id, int from_seq, char id_out[ECL_ID_MAX])
{
	store_run row = {0}, copy = {0};
	fork_probe probe = {0};
	const ecl_workflow *wf;
	ecl_run *run = NULL;
	char parent[ECL_ID_MAX + 16], trace[56];
	int rc;

	e->err[0] = '\0';
	/* The checkpoints the fork keeps must read back, or it would fail at once: loading
	 * them finds a damaged one, and refuses with what is wrong. */
	rc = run_load_upto(e, id, from_seq, &row, &run);
	run_free(run);
	if (rc != ECL_OK) {
		if (rc == ECL_ESTORE) {
			size_t n = strlen(e->err);

			snprintf(e->err + n, sizeof(e->err) - n, "; run %s is not forked", id);
		}
		goto out;
	}
	wf = ecl_workflow_find(e->workflows, e->nworkflows, row.workflow);
	if (from_seq < 0 || from_seq > row.seq) {
		rc = engine_fail(e, ECL_EUSAGE, "run %s has checkpoints 1 to %d; there is no %d",
				 id, row.seq, from_seq);
		goto out;
	}
	probe.upto = from_seq;
	if (from_seq > 0 &&
	    (rc = e->st->ops->list_steps(e->st, id, probe_step, &probe)) != ECL_OK) {
		rc = engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
		goto out;
	}
	if (probe.ended) {
		rc = engine_fail(e, ECL_EUSAGE,
				 "checkpoint %d of run %s ended the run; fork from an earlier one",
				 from_seq, id);
		goto out;
	}
	ecl_run_id_new(copy.id);
	snprintf(parent, sizeof(parent), "%s@%d", id, from_seq);
	copy.workflow = row.workflow;
	copy.version = row.version;
	copy.status = (char *)ecl_run_status_name(ECL_RUN_INTERRUPTED);
	copy.step = from_seq > 0 ? probe.next : (char *)wf->steps[wf->start].name;
	copy.seq = from_seq;
	copy.attempt = 0; /* resuming makes it attempt 1 */
	copy.inputs = row.inputs;
	copy.created_ms = clock_now_ms();
	copy.parent = parent;
	copy.provider = row.provider; /* a fork goes on as its run would */
	copy.model = row.model;
	copy.base_url = row.base_url;
	trace_parent_new(trace); /* a trace of its own, linked to its origin's when driven */
	copy.trace = trace;
	rc = e->st->ops->fork(e->st, id, from_seq, &copy);
	if (rc != ECL_OK) {
		rc = engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
		goto out;
	}
	snprintf(id_out, ECL_ID_MAX, "%s", copy.id);
out:
	mem_free(probe.next);
	store_run_clear(&row);
	return rc;
}

typedef struct worker_listing {
	ecl_worker_fn fn;
	void *ctx;
	long long now_ms;
	int stopped; /* the caller's callback stopped the walk (its code is not the store's) */
} worker_listing;

static int list_worker(void *ctx, const store_worker *w)
{
	worker_listing *l = ctx;
	ecl_worker_info info = {
		.id = w->id,
		.host = w->host,
		.pid = w->pid,
		.workflows = w->workflows,
		.concurrency = w->concurrency,
		.lease_ms = (long)w->lease_ms,
		.started_ms = w->started_ms,
		.heartbeat_ms = w->heartbeat_ms,
		.held = w->held,
		.stale = l->now_ms - w->heartbeat_ms > ECL_WORKER_STALE_LEASES * w->lease_ms,
	};
	int rc = l->fn(l->ctx, &info);

	l->stopped = rc != 0;
	return rc;
}

int ecl_worker_list(ecl_engine *e, ecl_worker_fn fn, void *ctx)
{
	worker_listing l = {fn, ctx, clock_now_ms(), 0};
	int rc;

	e->err[0] = '\0';
	rc = e->st->ops->list_workers(e->st, list_worker, &l);
	if (rc != ECL_OK && !l.stopped)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return rc;
}
