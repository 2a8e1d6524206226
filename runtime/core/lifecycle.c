/*
 * lifecycle.c - what other processes do to runs: pause and cancel requests, listings,
 * histories, forks from a checkpoint, and pruning finished runs.
 */
#include <stdio.h>
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

typedef struct history {
	ecl_engine *e;
	ecl_run *run; /* replayed checkpoint by checkpoint to render prompts, when full */
	int full;
	ecl_history_fn fn;
	void *ctx;
	/* the notes, read first, merged in by seq */
	struct note {
		int seq;
		long long ts_ms;
		char *text;
	} * notes;
	int nnotes, next_note;
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
	memcpy(text, "answer ", 7);
	memcpy(text + 7, answer, len + 1);
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

static int history_step(void *ctx, const store_step *s)
{
	history *h = ctx;
	ecl_history_entry entry = {0};
	buf sys = {0}, prompt = {0};
	int rc, step = -1, i;

	if ((rc = flush_notes(h, s->seq)) != ECL_OK)
		return rc;
	entry.seq = s->seq;
	entry.step = s->step;
	entry.next = s->next;
	entry.attempt = s->attempt;
	entry.started_ms = s->started_ms;
	entry.duration_us = s->duration_us;
	entry.tokens_in = s->tokens_in;
	entry.tokens_out = s->tokens_out;
	entry.output = s->output;
	entry.answer = s->raw ? s->raw : s->output;
	if (h->run) {
		for (i = 0; i < h->run->wf->nsteps; i++)
			if (strcmp(h->run->wf->steps[i].name, s->step) == 0)
				step = i;
		if (step >= 0) {
			const ecl_step_def *sd = &h->run->wf->steps[step];

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
	}
	rc = h->fn(h->ctx, &entry);
	buf_free(&sys);
	buf_free(&prompt);
	if (rc == ECL_OK && h->run && step >= 0) {
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
	if (full) {
		unsigned long failed = mem_failures();
		const ecl_workflow *wf =
			ecl_workflow_find(e->workflows, e->nworkflows, row.workflow);
		cJSON *inputs = cJSON_Parse(row.inputs);

		if (wf && inputs && run_new(e, wf, id, &h.run) == ECL_OK &&
		    run_set_inputs(h.run, inputs, e->err, sizeof(e->err)) != ECL_OK) {
			run_free(h.run);
			h.run = NULL;
		}
		cJSON_Delete(inputs);
		if (mem_failures() != failed) { /* the prompts could not be rendered */
			run_free(h.run);
			store_run_clear(&row);
			return engine_fail(e, ECL_ENOMEM, "out of memory");
		}
	}
	store_run_clear(&row);
	rc = e->st->ops->list_notes(e->st, id, keep_note, &h);
	if (rc == ECL_OK)
		rc = e->st->ops->list_answers(e->st, id, keep_answer, &h);
	if (rc == ECL_OK)
		rc = e->st->ops->list_steps(e->st, id, history_step, &h);
	if (rc == ECL_OK)
		rc = flush_notes(&h, -1);
	for (i = 0; i < h.nnotes; i++)
		mem_free(h.notes[i].text);
	mem_free(h.notes);
	run_free(h.run);
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
	char parent[ECL_ID_MAX + 16];
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
