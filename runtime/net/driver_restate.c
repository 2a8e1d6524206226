/*
 * driver_restate.c - the Restate journal as a driver (driver.h), beside the local one
 * (core/driver_local.c): a step whose answer is journaled takes it from there; the first
 * without one asks the model, proposes the answer and suspends; a transition is kept as a
 * SetState of the run's status; a human step awaits a durable promise. It drives one
 * invocation (restate_invocation.h) of the handler `run` (restate_handlers.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restate_invocation.h"

int restate_mismatch(invocation *v, ecl_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	v->mismatch = 1;
	v->mis_index = v->cursor;
	v->mis_type = v->cursor < v->ncmds ? v->cmds[v->cursor].type : 0;
	return engine_fail(run->eng, ECL_ESTATE, "journal mismatch in run %s: %s", run->id, v->why);
}

void restate_put_error(buf *out, uint32_t code, const char *msg, int index, uint16_t type)
{
	Ecl__Restate__ErrorMessage m = ECL__RESTATE__ERROR_MESSAGE__INIT;

	m.code = code;
	m.message = (char *)msg;
	m.related_command_index = index > 0 ? (uint32_t)index : 0;
	m.related_command_type = type;
	restate_frame_put(out, RESTATE_ERROR, &m.base);
}

/* Suspend until completion cid is in the journal, or (cancellable) until the run is
 * cancelled: a person may never answer. */
void restate_put_suspension(buf *out, uint32_t cid, int cancellable)
{
	Ecl__Restate__SuspensionMessage m = ECL__RESTATE__SUSPENSION_MESSAGE__INIT;
	uint32_t cancel = RESTATE_CANCEL_SIGNAL;

	m.n_waiting_completions = 1;
	m.waiting_completions = &cid;
	if (cancellable) {
		m.n_waiting_signals = 1;
		m.waiting_signals = &cancel;
	}
	restate_frame_put(out, RESTATE_SUSPENSION, &m.base);
}

void restate_put_output(buf *out, const char *text, const char *failure, uint32_t code)
{
	Ecl__Restate__OutputCommandMessage m = ECL__RESTATE__OUTPUT_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;
	Ecl__Restate__Failure f = ECL__RESTATE__FAILURE__INIT;

	if (failure) {
		f.code = code;
		f.message = (char *)failure;
		m.result_case = ECL__RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_FAILURE;
		m.failure = &f;
	} else {
		if (!text)
			text = "null";
		v.content.data = (uint8_t *)text;
		v.content.len = strlen(text);
		m.result_case = ECL__RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_VALUE;
		m.value = &v;
	}
	restate_frame_put(out, RESTATE_OUTPUT, &m.base);
	restate_frame_put(out, RESTATE_END, NULL);
}

void restate_put_set_state(buf *out, const char *text)
{
	restate_put_state(out, RESTATE_STATUS_KEY, text);
}

void restate_put_state(buf *out, const char *key, const char *text)
{
	Ecl__Restate__SetStateCommandMessage m = ECL__RESTATE__SET_STATE_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

	m.key.data = (uint8_t *)key;
	m.key.len = strlen(key);
	v.content.data = (uint8_t *)text;
	v.content.len = strlen(text);
	m.value = &v;
	restate_frame_put(out, RESTATE_SET_STATE, &m.base);
}

/* The run's status as get_status answers it and SetState keeps it; a waiting run's has the
 * question and the promise its answer completes. Deterministic (no clock), so a replay can
 * compare it with the journaled one byte for byte. */
char *restate_status_json(const ecl_run *run, const store_commit *c, const char *question,
			  const char *promise, int pauses)
{
	const ecl_workflow *wf = run->wf;
	cJSON *o = cJSON_CreateObject(), *out = NULL;
	char *text = NULL;
	int i, ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "id", run->id);
	ok = ok && cJSON_AddStringToObject(o, "workflow", wf->id);
	ok = ok && cJSON_AddStringToObject(o, "version", wf->version);
	ok = ok && cJSON_AddStringToObject(o, "status",
					   c ? c->status : ecl_run_status_name(ECL_RUN_CANCELLED));
	if (ok && c && c->current)
		ok = cJSON_AddStringToObject(o, "step", c->current) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "step_count", c ? c->step.seq : run->seq);
	for (i = 0; ok && i < wf->nsteps; i++) {
		if (wf->steps[i].limit > 0) {
			ok = cJSON_AddNumberToObject(o, "revisions", run->visits[i]) &&
			     cJSON_AddNumberToObject(o, "revision_limit", wf->steps[i].limit);
			break;
		}
	}
	if (ok && c && c->output) {
		ok = (out = cJSON_Parse(c->output)) != NULL &&
		     cJSON_AddItemToObject(o, "output", out);
		if (!ok)
			cJSON_Delete(out);
	}
	if (ok && c && c->error)
		ok = cJSON_AddStringToObject(o, "error", c->error) != NULL;
	if (ok && question)
		ok = cJSON_AddStringToObject(o, "question", question) != NULL;
	if (ok && promise)
		ok = cJSON_AddStringToObject(o, "promise", promise) != NULL;
	if (ok && pauses > 0)
		ok = cJSON_AddNumberToObject(o, "pauses", pauses) != NULL;
	if (ok)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* The journaled result of completion cid: 1 with the value (borrowed from the frame's
 * unpacked message, which *msg owns), -1 with a failure message, 0 when not there. */
static int find_run_result(invocation *v, uint32_t cid,
			   Ecl__Restate__RunCompletionNotificationMessage **msg)
{
	int i;

	*msg = NULL;
	for (i = 0; i < v->nnotes; i++) {
		Ecl__Restate__RunCompletionNotificationMessage *m;

		if (v->notes[i].type != RESTATE_RUN_DONE)
			continue;
		m = ecl__restate__run_completion_notification_message__unpack(
			&restate_allocator, v->notes[i].len, v->notes[i].body);
		if (!m)
			continue;
		if (m->completion_id == cid) {
			*msg = m;
			return m->result_case ==
					       ECL__RESTATE__RUN_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE
				       ? 1
				       : -1;
		}
		ecl__restate__run_completion_notification_message__free_unpacked(
			m, &restate_allocator);
	}
	return 0;
}

void restate_pause_key(char *out, size_t n, const char *verb, int nth)
{
	snprintf(out, n, "%s#%d", verb, nth);
}

/* Replay the PeekPromise of the next pause that follows a step's Run in the journal, when it
 * is there (a journal written before ecl peeked has none): ECL_OK, or ECL_ESTATE on a
 * mismatch. */
static int replay_peek(invocation *v, ecl_run *run)
{
	char tbuf[64]; /* type_phrase */
	Ecl__Restate__PeekPromiseCommandMessage *m;
	char key[32];
	int same, got;

	if (v->cursor >= v->ncmds || v->cmds[v->cursor].type != RESTATE_PEEK_PROMISE)
		return ECL_OK;
	restate_pause_key(key, sizeof(key), "pause", v->pauses + 1);
	m = ecl__restate__peek_promise_command_message__unpack(
		&restate_allocator, v->cmds[v->cursor].len, v->cmds[v->cursor].body);
	same = m && strcmp(m->key, key) == 0 && m->result_completion_id == v->next_cid;
	got = m != NULL;
	if (m)
		ecl__restate__peek_promise_command_message__free_unpacked(m, &restate_allocator);
	if (!same)
		return restate_mismatch(
			v, run,
			"command %d of the journal is %s where the workflow peeks "
			"at promise %s (completion %u)",
			v->cursor,
			got ? "a PeekPromiseCommand of another promise or completion"
			    : restate_type_phrase(RESTATE_PEEK_PROMISE, tbuf),
			key, v->next_cid);
	v->cursor++;
	v->peek_cid = v->next_cid++;
	v->peek_journaled = 1;
	return ECL_OK;
}

/* Write the PeekPromise of the next pause, after a step's answer is proposed. */
static void put_peek(invocation *v)
{
	Ecl__Restate__PeekPromiseCommandMessage m =
		ECL__RESTATE__PEEK_PROMISE_COMMAND_MESSAGE__INIT;
	char key[32];

	restate_pause_key(key, sizeof(key), "pause", v->pauses + 1);
	m.key = key;
	m.result_completion_id = v->peek_cid = v->next_cid++;
	m.name = (char *)"pause";
	restate_frame_put(v->out, RESTATE_PEEK_PROMISE, &m.base);
}

/* Pass over the history record key (a SetState) at the journal's cursor: 1 when it is there,
 * 0 when another command is (a journal written before ecl kept records) or none is. */
static int skip_record(invocation *v, const char *key)
{
	const restate_frame *f;
	Ecl__Restate__SetStateCommandMessage *m;
	int yes;

	if (v->cursor >= v->ncmds || v->cmds[v->cursor].type != RESTATE_SET_STATE)
		return 0;
	f = &v->cmds[v->cursor];
	m = ecl__restate__set_state_command_message__unpack(&restate_allocator, f->len, f->body);
	yes = m && m->key.len == strlen(key) && memcmp(m->key.data, key, m->key.len) == 0;
	if (m)
		ecl__restate__set_state_command_message__free_unpacked(m, &restate_allocator);
	if (yes)
		v->cursor++;
	return yes;
}

/* Note completion cid among the answers of the step under way. */
static int note_step_call(invocation *v, ecl_run *run, uint32_t cid)
{
	cJSON *n;

	if (!v->step_calls && !(v->step_calls = cJSON_CreateArray()))
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	if (!(n = cJSON_CreateNumber(cid)) || !cJSON_AddItemToArray(v->step_calls, n)) {
		cJSON_Delete(n);
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	}
	return ECL_OK;
}

/* One call to the model as the history keeps it. */
static cJSON *call_json(const llm_request *req, int retry, const llm_response *res, int ok,
			long long started_ms, long long latency_us)
{
	cJSON *o = cJSON_CreateObject();
	int good = o != NULL;

	good = good &&
	       cJSON_AddStringToObject(o, "kind",
				       ecl_llm_call_kind_name(retry         ? ECL_LLM_CALL_RETRY
							      : req->repair ? ECL_LLM_CALL_REPAIR
									    : ECL_LLM_CALL_FIRST));
	good = good && cJSON_AddNumberToObject(o, "repair", req->repair);
	if (ok && res->text)
		good = good && cJSON_AddStringToObject(o, "answer", res->text);
	else
		good = good && cJSON_AddStringToObject(o, "error", res->error);
	good = good && cJSON_AddNumberToObject(o, "tokens_in", (double)res->tokens_in);
	good = good && cJSON_AddNumberToObject(o, "tokens_out", (double)res->tokens_out);
	good = good && cJSON_AddNumberToObject(o, "latency_us", (double)latency_us);
	good = good && cJSON_AddNumberToObject(o, "started_ms", (double)started_ms);
	if (!good) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* What a call record keeps of a text that was sent, at most: a prompt may hold a whole
 * document (16 MiB), which the record would carry into Restate's state and journal once per
 * call; the history shows its start and how much was left out. */
#define RECORD_TEXT_MAX (64 * 1024)

/* Add text to o as name, cut to RECORD_TEXT_MAX bytes (at a UTF-8 character's start) with a
 * note of the bytes left out. */
static int add_sent(cJSON *o, const char *name, const char *text)
{
	size_t len = strlen(text), keep = RECORD_TEXT_MAX;
	buf b = {0};
	int ok;

	if (len <= RECORD_TEXT_MAX)
		return cJSON_AddStringToObject(o, name, text) != NULL;
	while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
		keep--;
	buf_append(&b, text, keep);
	buf_printf(&b, "\n[... %zu more bytes not kept]", len - keep);
	ok = !b.oom && cJSON_AddStringToObject(o, name, b.data) != NULL;
	buf_free(&b);
	return ok;
}

/* The record call#<cid> of an answer: the step, what was sent (the system prompt and prompt
 * of a first ask, the repair prompt of a repair) and every call made for it, the failed
 * ones first (caller frees with cJSON_free), or NULL when memory ran out. It takes last. */
static char *call_record(invocation *v, const llm_request *req, cJSON *last)
{
	cJSON *o = cJSON_CreateObject(), *calls = NULL;
	char *text = NULL;
	int ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "step", req->step->name);
	ok = ok && cJSON_AddNumberToObject(o, "visit", req->visit);
	if (ok && !req->repair && req->system)
		ok = add_sent(o, "system", req->system);
	if (ok && !req->repair && req->nmessages > 0)
		ok = add_sent(o, "prompt", req->messages[0].text);
	if (ok && req->repair && req->nmessages > 0)
		ok = add_sent(o, "fix", req->messages[req->nmessages - 1].text);
	if (ok && v->tries) {
		ok = cJSON_AddItemToObject(o, "calls", v->tries);
		if (ok)
			calls = v->tries, v->tries = NULL;
	} else if (ok) {
		ok = (calls = cJSON_AddArrayToObject(o, "calls")) != NULL;
	}
	ok = ok && cJSON_AddItemToArray(calls, last);
	if (!ok)
		cJSON_Delete(last);
	if (ok)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* A forked run's next given answer (malloc'd into *text), while its transitions are those
 * the answers cover: ECL_OK, ECL_ENOTFOUND when it asks as any run does, ECL_ENOMEM. */
static int fork_answer(invocation *v, ecl_run *run, char **text)
{
	const cJSON *a;

	if (!v->fork || run->seq >= v->fork_from)
		return ECL_ENOTFOUND;
	a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(v->fork, "answers"), v->fork_next);
	if (!a)
		return ECL_ENOTFOUND; /* fewer answers than transitions: ask for the rest */
	v->fork_next++;
	*text = malloc(strlen(a->valuestring) + 1);
	if (!*text)
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	memcpy(*text, a->valuestring, strlen(a->valuestring) + 1);
	return ECL_OK;
}

static int rs_answer(driver *d, ecl_run *run, const llm_request *req, llm_response *res)
{
	char tbuf[64]; /* type_phrase */
	invocation *v = (invocation *)d;
	llm_provider *p = v->e->llm;
	const char *name = req->step->name;
	Ecl__Restate__RunCommandMessage rc_msg = ECL__RESTATE__RUN_COMMAND_MESSAGE__INIT;
	Ecl__Restate__ProposeRunCompletionMessage pr =
		ECL__RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__INIT;
	char key[32], *record;
	long long started_ms, t0;
	cJSON *call;
	int rc;

	if ((rc = fork_answer(v, run, &res->text)) != ECL_ENOTFOUND) {
		res->len = res->text ? strlen(res->text) : 0;
		return rc;
	}
	if (!v->pending && v->cursor < v->ncmds) {
		const restate_frame *f = &v->cmds[v->cursor];
		Ecl__Restate__RunCommandMessage *m;
		Ecl__Restate__RunCompletionNotificationMessage *n;
		int found;

		if (f->type != RESTATE_RUN)
			return restate_mismatch(
				v, run,
				"command %d of the journal is %s where the workflow asks "
				"step `%s`",
				v->cursor, restate_type_phrase(f->type, tbuf), name);
		m = ecl__restate__run_command_message__unpack(&restate_allocator, f->len, f->body);
		if (!m)
			return restate_mismatch(v, run,
						"command %d of the journal (a RunCommand) is not "
						"a valid message",
						v->cursor);
		if (strcmp(m->name, name) != 0 || m->result_completion_id != v->next_cid) {
			rc = restate_mismatch(
				v, run,
				"command %d of the journal runs step `%s` (completion %u) "
				"where the workflow runs step `%s` (completion %u)",
				v->cursor, m->name, m->result_completion_id, name, v->next_cid);
			ecl__restate__run_command_message__free_unpacked(m, &restate_allocator);
			return rc;
		}
		ecl__restate__run_command_message__free_unpacked(m, &restate_allocator);
		v->cursor++;
		found = find_run_result(v, v->next_cid, &n);
		if (found > 0) {
			res->text = malloc(n->value->content.len + 1);
			if (res->text) {
				memcpy(res->text, n->value->content.data, n->value->content.len);
				res->text[n->value->content.len] = '\0';
				res->len = n->value->content.len;
			}
		} else if (found < 0) {
			v->journaled_failure = 1;
			res->fault = LLM_FAULT_PERMANENT;
			snprintf(res->error, sizeof(res->error),
				 "the journaled answer is a failure: %s",
				 n->failure ? n->failure->message : "(no message)");
		}
		if (n)
			ecl__restate__run_completion_notification_message__free_unpacked(
				n, &restate_allocator);
		v->peek_cid = 0;
		v->peek_journaled = 0;
		snprintf(key, sizeof(key), RESTATE_CALL_KEY "%u", v->next_cid);
		v->recorded = skip_record(v, key);
		if (found > 0 && !res->text)
			return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
		if (found != 0) {
			if ((rc = note_step_call(v, run, v->next_cid++)) != ECL_OK ||
			    (rc = replay_peek(v, run)) != ECL_OK)
				return rc;
			return found > 0 ? ECL_OK : ECL_EPROVIDER;
		}
		/* Journaled, but cut off before its answer was stored: ask now. */
		v->pending = v->next_cid++;
		v->pending_journaled = 1;
		if ((rc = replay_peek(v, run)) != ECL_OK)
			return rc;
	} else if (!v->pending) {
		v->pending = v->next_cid++;
		v->pending_journaled = 0;
		v->peek_cid = 0;
		v->peek_journaled = 0;
		v->recorded = 0;
	}
	started_ms = clock_now_ms();
	t0 = clock_mono_us();
	rc = p->complete(p, req, res);
	call = call_json(req, v->tries != NULL, res, rc == ECL_OK, started_ms,
			 clock_mono_us() - t0);
	if (!call)
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	if (rc != ECL_OK) {
		/* drive_run retries; the pending completion id stays */
		if ((!v->tries && !(v->tries = cJSON_CreateArray())) ||
		    !cJSON_AddItemToArray(v->tries, call)) {
			cJSON_Delete(call);
			return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
		}
		return rc;
	}
	if (!(record = call_record(v, req, call)))
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	if (!v->pending_journaled) {
		rc_msg.result_completion_id = v->pending;
		rc_msg.name = (char *)name;
		restate_frame_put(v->out, RESTATE_RUN, &rc_msg.base);
	}
	pr.result_completion_id = v->pending;
	pr.result_case = ECL__RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__RESULT_VALUE;
	pr.value.data = (uint8_t *)res->text;
	pr.value.len = res->len;
	restate_frame_put(v->out, RESTATE_PROPOSE_RUN, &pr.base);
	snprintf(key, sizeof(key), RESTATE_CALL_KEY "%u", v->pending);
	if (!v->recorded)
		restate_put_state(v->out, key, record);
	cJSON_free(record);
	/* Whether a pause was asked is looked at once the answer is in: the step in flight
	 * finishes first, and the peek costs no round trip of its own. */
	if (!v->peek_journaled)
		put_peek(v);
	restate_put_suspension(v->out, v->pending, 0);
	v->ended = 1;
	log_event(v->e, LOG_INFO, "suspended", "run", run->id, "step", name, NULL);
	free(res->text);
	res->text = NULL;
	res->len = 0;
	return v->out->oom ? ECL_ENOMEM : ECL_ESUSPENDED;
}

/* Replay the SetState of status (recorded `when`, for a mismatch's message) at the
 * journal's cursor: ECL_OK once it matched, ECL_ENOTFOUND past the journal's end (the caller
 * writes it), or ECL_ESTATE on a mismatch. */
static int replay_status(invocation *v, ecl_run *run, const char *status, const char *when)
{
	char tbuf[64]; /* type_phrase */
	const restate_frame *f;
	Ecl__Restate__SetStateCommandMessage *m = NULL;
	int rc = ECL_OK;

	if (v->cursor >= v->ncmds)
		return ECL_ENOTFOUND;
	f = &v->cmds[v->cursor];
	if (f->type == RESTATE_SET_STATE)
		m = ecl__restate__set_state_command_message__unpack(&restate_allocator, f->len,
								    f->body);
	if (!m || !m->value || m->key.len != strlen(RESTATE_STATUS_KEY) ||
	    memcmp(m->key.data, RESTATE_STATUS_KEY, m->key.len) != 0 ||
	    m->value->content.len != strlen(status) ||
	    memcmp(m->value->content.data, status, m->value->content.len) != 0)
		rc = restate_mismatch(
			v, run,
			"command %d of the journal is %s where the workflow records the "
			"status %s %s",
			v->cursor, m ? "a different status" : restate_type_phrase(f->type, tbuf),
			status, when);
	else
		v->cursor++;
	if (m)
		ecl__restate__set_state_command_message__free_unpacked(m, &restate_allocator);
	return rc;
}

/* Replay the SetState of status, or write it past the journal's end. */
static int keep_status(invocation *v, ecl_run *run, const char *status, const char *when)
{
	int rc = replay_status(v, run, status, when);

	if (rc == ECL_ENOTFOUND) {
		restate_put_set_state(v->out, status);
		rc = v->out->oom ? engine_fail(run->eng, ECL_ENOMEM, "out of memory") : ECL_OK;
	}
	return rc;
}

/* The result of the peek with completion cid: 1 the promise is completed (a pause was
 * asked), 0 it is not, -1 the result is not in the journal yet. */
static int peek_result(const invocation *v, uint32_t cid)
{
	int i;

	for (i = 0; i < v->nnotes; i++) {
		Ecl__Restate__PeekPromiseCompletionNotificationMessage *m;
		int r;

		if (v->notes[i].type != RESTATE_PEEK_PROMISE_DONE)
			continue;
		m = ecl__restate__peek_promise_completion_notification_message__unpack(
			&restate_allocator, v->notes[i].len, v->notes[i].body);
		if (!m)
			continue;
		r = m->completion_id != cid ? -1
		    : m->result_case ==
				    ECL__RESTATE__PEEK_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VOID
			    ? 0
			    : 1;
		ecl__restate__peek_promise_completion_notification_message__free_unpacked(
			m, &restate_allocator);
		if (r >= 0)
			return r;
	}
	return -1;
}

/* Whether the GetPromise with completion cid is completed in the journal. */
static int promise_done(const invocation *v, uint32_t cid)
{
	int i;

	for (i = 0; i < v->nnotes; i++) {
		Ecl__Restate__GetPromiseCompletionNotificationMessage *n;
		int yes;

		if (v->notes[i].type != RESTATE_GET_PROMISE_DONE)
			continue;
		n = ecl__restate__get_promise_completion_notification_message__unpack(
			&restate_allocator, v->notes[i].len, v->notes[i].body);
		yes = n && n->completion_id == cid;
		if (n)
			ecl__restate__get_promise_completion_notification_message__free_unpacked(
				n, &restate_allocator);
		if (yes)
			return 1;
	}
	return 0;
}

/* A pause was asked before the step that just committed ended: the run records `paused`
 * (awaiting resume#N) and stops, unless the journal shows it was resumed since, when it
 * records `running` again and goes on. What the journal has of this is replayed; what it
 * lacks, rs_release writes. */
static int pause_here(invocation *v, ecl_run *run, const store_commit *c, const char **request)
{
	char tbuf[64]; /* type_phrase */
	store_commit paused = *c;
	Ecl__Restate__GetPromiseCommandMessage *m = NULL;
	char key[32], *status;
	int rc, same;

	restate_pause_key(key, sizeof(key), "resume", v->pauses + 1);
	paused.status = ecl_run_status_name(ECL_RUN_PAUSED);
	if (!(status = restate_status_json(run, &paused, NULL, key, v->pauses)))
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	rc = replay_status(v, run, status, "when it pauses");
	if (rc != ECL_ENOTFOUND) {
		cJSON_free(status);
		if (rc != ECL_OK)
			return rc;
		v->paused_journaled = 1;
	} else {
		v->paused_status = mem_strdup(status);
		cJSON_free(status);
		if (!v->paused_status)
			return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	}
	v->pausing = 1;
	*request = "pause";
	if (v->cursor >= v->ncmds)
		return ECL_OK; /* rs_release writes the rest */
	if (v->cmds[v->cursor].type == RESTATE_GET_PROMISE)
		m = ecl__restate__get_promise_command_message__unpack(
			&restate_allocator, v->cmds[v->cursor].len, v->cmds[v->cursor].body);
	same = m && strcmp(m->key, key) == 0 && m->result_completion_id == v->next_cid;
	if (m)
		ecl__restate__get_promise_command_message__free_unpacked(m, &restate_allocator);
	if (!same)
		return restate_mismatch(v, run,
					"command %d of the journal is %s where the paused run "
					"awaits promise %s (completion %u)",
					v->cursor,
					restate_type_phrase(v->cmds[v->cursor].type, tbuf), key,
					v->next_cid);
	v->cursor++;
	v->resume_cid = v->next_cid++;
	if (!promise_done(v, v->resume_cid))
		return ECL_OK;
	/* Resumed: running again, from where it stopped. */
	v->pausing = 0;
	v->paused_journaled = 0;
	v->resume_cid = 0;
	v->pauses++;
	*request = NULL;
	if (!(status = restate_status_json(run, c, NULL, NULL, v->pauses)))
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	rc = keep_status(v, run, status, "when it is resumed");
	cJSON_free(status);
	if (rc == ECL_OK)
		log_event(v->e, LOG_INFO, "resumed", "run", run->id, NULL);
	return rc;
}

/* The record step#<seq> of a transition (caller frees with cJSON_free), or NULL when memory
 * ran out. It takes the completion ids of the step's answers. */
static char *step_record(invocation *v, const store_commit *c)
{
	cJSON *o = cJSON_CreateObject(), *out = NULL, *calls;
	char *text = NULL;
	int ok = o != NULL;

	ok = ok && cJSON_AddNumberToObject(o, "seq", c->step.seq);
	ok = ok && cJSON_AddStringToObject(o, "step", c->step.step);
	ok = ok && (c->step.next ? cJSON_AddStringToObject(o, "next", c->step.next)
				 : cJSON_AddNullToObject(o, "next")) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "attempt", c->step.attempt);
	if (ok && c->step.output) {
		out = cJSON_Parse(c->step.output);
		ok = out && cJSON_AddItemToObject(o, "output", out);
		if (!ok)
			cJSON_Delete(out);
	}
	if (ok && c->step.raw)
		ok = cJSON_AddStringToObject(o, "answer", c->step.raw) != NULL;
	if (ok && c->error)
		ok = cJSON_AddStringToObject(o, "error", c->error) != NULL;
	if (ok) {
		calls = v->step_calls ? v->step_calls : cJSON_CreateArray();
		ok = calls && cJSON_AddItemToObject(o, "calls", calls);
		if (ok)
			v->step_calls = NULL;
		else if (calls != v->step_calls)
			cJSON_Delete(calls);
	}
	if (ok)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static int rs_commit(driver *d, ecl_run *run, const store_commit *c, const char **request)
{
	invocation *v = (invocation *)d;
	char *status = restate_status_json(run, c, NULL, NULL, v->pauses), *record;
	uint32_t peek = v->peek_cid;
	char when[300], key[32];
	int rc;

	*request = NULL;
	v->peek_cid = 0;
	if (!status)
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	snprintf(key, sizeof(key), RESTATE_STEP_KEY "%d", c->step.seq);
	if (!skip_record(v, key) && v->cursor >= v->ncmds) {
		if (!(record = step_record(v, c))) {
			cJSON_free(status);
			return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
		}
		restate_put_state(v->out, key, record);
		cJSON_free(record);
	}
	cJSON_Delete(v->step_calls);
	v->step_calls = NULL;
	snprintf(when, sizeof(when), "after step `%s`", c->step.step);
	rc = keep_status(v, run, status, when);
	cJSON_free(status);
	if (rc != ECL_OK || !peek || !run_status_is(c->status, ECL_RUN_RUNNING))
		return rc;
	switch (peek_result(v, peek)) {
	case 0: return ECL_OK;
	case 1: return pause_here(v, run, c, request);
	default:
		/* Resumed for the answer before the peek's result came: wait for it. */
		v->peek_wait = peek;
		*request = "pause";
		return ECL_OK;
	}
}

static int rs_beat(driver *d, ecl_run *run, long long now_ms, const char **request)
{
	/* Restate owns the invocation: there is no lease to renew. */
	(void)d;
	(void)run;
	(void)now_ms;
	*request = NULL;
	return ECL_OK;
}

/* ---- human steps: the answer as a durable promise ----------------------------------------- */

/* The promise a human step's answer completes: the step and its visit ("approve#2"), so a
 * loop that comes back to the step awaits a fresh one. */
static void promise_key(const ecl_run *run, char *out, size_t n)
{
	snprintf(out, n, "%s#%d", run->wf->steps[run->state].name, run->visits[run->state]);
}

/* The status of a run waiting at its human step (caller frees with cJSON_free), or NULL
 * when memory ran out. */
static char *waiting_status(const invocation *v, const ecl_run *run)
{
	store_commit c = {0};
	char key[300], *question = steps_question(run), *text;

	if (!question)
		return NULL;
	promise_key(run, key, sizeof(key));
	c.status = ecl_run_status_name(ECL_RUN_WAITING);
	c.current = run->wf->steps[run->state].name;
	c.step.seq = run->seq;
	text = restate_status_json(run, &c, question, key, v->pauses);
	mem_free(question);
	return text;
}

/* The answer to the current human step from the journal: the `waiting` status, then the
 * GetPromise of the step's promise, then its completion, each replayed in order. While any
 * of them is missing there is no answer, the step waits and rs_release writes the rest. */
static int rs_human(driver *d, ecl_run *run, char **json)
{
	char tbuf[64]; /* type_phrase */
	invocation *v = (invocation *)d;
	const char *name = run->wf->steps[run->state].name;
	Ecl__Restate__GetPromiseCommandMessage *m = NULL;
	char key[300], *status;
	const restate_frame *f;
	int i, rc;

	*json = NULL;
	if ((rc = fork_answer(v, run, json)) != ECL_ENOTFOUND) {
		char *copy = rc == ECL_OK ? mem_strdup(*json) : NULL;

		free(*json);
		*json = copy;
		return rc != ECL_OK ? rc
		       : copy       ? ECL_OK
				    : engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	}
	v->human = 1;
	v->waiting_journaled = 0;
	v->promise_cid = 0;
	if (!(status = waiting_status(v, run)))
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	rc = replay_status(v, run, status, "while it waits");
	cJSON_free(status);
	if (rc == ECL_ENOTFOUND)
		return ECL_OK;
	if (rc != ECL_OK)
		return rc; /* a mismatch */
	v->waiting_journaled = 1;
	if (v->cursor >= v->ncmds)
		return ECL_OK;
	promise_key(run, key, sizeof(key));
	f = &v->cmds[v->cursor];
	if (f->type == RESTATE_GET_PROMISE)
		m = ecl__restate__get_promise_command_message__unpack(&restate_allocator, f->len,
								      f->body);
	if (!m || strcmp(m->key, key) != 0 || m->result_completion_id != v->next_cid) {
		rc = restate_mismatch(
			v, run,
			"command %d of the journal is %s where step `%s` awaits promise %s "
			"(completion %u)",
			v->cursor,
			m ? "a GetPromiseCommand of another promise"
			  : restate_type_phrase(f->type, tbuf),
			name, key, v->next_cid);
		if (m)
			ecl__restate__get_promise_command_message__free_unpacked(
				m, &restate_allocator);
		return rc;
	}
	ecl__restate__get_promise_command_message__free_unpacked(m, &restate_allocator);
	v->cursor++;
	v->promise_cid = v->next_cid++;
	for (i = 0; i < v->nnotes; i++) {
		Ecl__Restate__GetPromiseCompletionNotificationMessage *n;

		if (v->notes[i].type != RESTATE_GET_PROMISE_DONE)
			continue;
		n = ecl__restate__get_promise_completion_notification_message__unpack(
			&restate_allocator, v->notes[i].len, v->notes[i].body);
		if (!n || n->completion_id != v->promise_cid) {
			if (n)
				ecl__restate__get_promise_completion_notification_message__free_unpacked(
					n, &restate_allocator);
			continue;
		}
		rc = ECL_OK;
		if (n->result_case ==
			    ECL__RESTATE__GET_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE &&
		    n->value) {
			*json = mem_strndup((const char *)n->value->content.data,
					    n->value->content.len);
			if (!*json)
				rc = engine_fail(run->eng, ECL_ENOMEM, "out of memory");
		} else {
			/* Completed with a failure (not by `answer`): the step fails. */
			rc = engine_fail(run->eng, ECL_EFAILED,
					 "the promise %s of human step `%s` was rejected: %s", key,
					 name,
					 n->failure && n->failure->message ? n->failure->message
									   : "(no message)");
		}
		ecl__restate__get_promise_completion_notification_message__free_unpacked(
			n, &restate_allocator);
		return rc;
	}
	return ECL_OK;
}

/* The human step has no answer yet: record the `waiting` status with the question (for
 * get_status), await the step's promise and suspend until `answer` completes it. What the
 * journal has of this already (rs_human replayed it) is not written again. */
static int wait_for_answer(invocation *v, ecl_run *run)
{
	Ecl__Restate__GetPromiseCommandMessage g = ECL__RESTATE__GET_PROMISE_COMMAND_MESSAGE__INIT;
	char key[300], *status;

	if (!v->waiting_journaled) {
		if (!(status = waiting_status(v, run)))
			return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
		restate_put_set_state(v->out, status);
		cJSON_free(status);
	}
	promise_key(run, key, sizeof(key));
	if (!v->promise_cid) {
		v->promise_cid = v->next_cid++;
		g.key = key;
		g.result_completion_id = v->promise_cid;
		g.name = (char *)run->wf->steps[run->state].name;
		restate_frame_put(v->out, RESTATE_GET_PROMISE, &g.base);
	}
	restate_put_suspension(v->out, v->promise_cid, 1);
	v->ended = 1;
	log_event(v->e, LOG_INFO, "suspended", "run", run->id, "step",
		  run->wf->steps[run->state].name, "promise", key, NULL);
	return v->out->oom ? engine_fail(run->eng, ECL_ENOMEM, "out of memory") : ECL_OK;
}

/* The run stops as `paused`: record it (unless the journal has it), await resume#N and
 * suspend until `resume` completes it, or a cancellation comes. */
static int wait_for_resume(invocation *v, ecl_run *run)
{
	Ecl__Restate__GetPromiseCommandMessage g = ECL__RESTATE__GET_PROMISE_COMMAND_MESSAGE__INIT;
	char key[32];

	if (!v->paused_journaled)
		restate_put_set_state(v->out, v->paused_status);
	restate_pause_key(key, sizeof(key), "resume", v->pauses + 1);
	if (!v->resume_cid) {
		v->resume_cid = v->next_cid++;
		g.key = key;
		g.result_completion_id = v->resume_cid;
		g.name = (char *)"resume";
		restate_frame_put(v->out, RESTATE_GET_PROMISE, &g.base);
	}
	restate_put_suspension(v->out, v->resume_cid, 1);
	v->ended = 1;
	log_event(v->e, LOG_INFO, "suspended", "run", run->id, "promise", key, NULL);
	return v->out->oom ? engine_fail(run->eng, ECL_ENOMEM, "out of memory") : ECL_OK;
}

static int rs_release(driver *d, ecl_run *run, const char *status, const char *error)
{
	invocation *v = (invocation *)d;

	if (v->mismatch || v->ended)
		return ECL_OK;
	if (v->human && run_status_is(status, ECL_RUN_WAITING))
		return wait_for_answer(v, run);
	if (v->peek_wait && run_status_is(status, ECL_RUN_PAUSED)) {
		restate_put_suspension(v->out, v->peek_wait, 0);
		v->ended = 1;
		return v->out->oom ? engine_fail(run->eng, ECL_ENOMEM, "out of memory") : ECL_OK;
	}
	if (v->pausing && run_status_is(status, ECL_RUN_PAUSED))
		return wait_for_resume(v, run);
	if (v->journaled_failure) {
		/* Every replay would meet the same failure: the invocation ends with it. */
		restate_put_output(v->out, NULL, error ? error : status, 500);
		v->ended = 1;
		return ECL_OK;
	}
	/* A retryable error: Restate invokes again later and the journal replays. */
	restate_put_error(v->out, 500, error ? error : status, v->cursor, 0);
	v->ended = 1;
	return ECL_OK;
}

const driver_ops restate_ops = {
	.answer = rs_answer,
	.human = rs_human,
	.commit = rs_commit,
	.beat = rs_beat,
	.release = rs_release,
};
