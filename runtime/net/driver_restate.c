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
	Ecl__Restate__SetStateCommandMessage m = ECL__RESTATE__SET_STATE_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

	m.key.data = (uint8_t *)RESTATE_STATUS_KEY;
	m.key.len = strlen(RESTATE_STATUS_KEY);
	v.content.data = (uint8_t *)text;
	v.content.len = strlen(text);
	m.value = &v;
	restate_frame_put(out, RESTATE_SET_STATE, &m.base);
}

/* The run's status as get_status answers it and SetState keeps it; a waiting run's has the
 * question and the promise its answer completes. Deterministic (no clock), so a replay can
 * compare it with the journaled one byte for byte. */
char *restate_status_json(const ecl_run *run, const store_commit *c, const char *question,
			  const char *promise)
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

static int rs_answer(driver *d, ecl_run *run, const llm_request *req, llm_response *res)
{
	char tbuf[64]; /* type_phrase */
	invocation *v = (invocation *)d;
	llm_provider *p = v->e->llm;
	const char *name = req->step->name;
	Ecl__Restate__RunCommandMessage rc_msg = ECL__RESTATE__RUN_COMMAND_MESSAGE__INIT;
	Ecl__Restate__ProposeRunCompletionMessage pr =
		ECL__RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__INIT;
	int rc;

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
		if (found > 0) {
			v->next_cid++;
			return res->text ? ECL_OK : ECL_ENOMEM;
		}
		if (found < 0) {
			v->next_cid++;
			return ECL_EPROVIDER;
		}
		/* Journaled, but cut off before its answer was stored: ask now. */
		v->pending = v->next_cid++;
		v->pending_journaled = 1;
	} else if (!v->pending) {
		v->pending = v->next_cid++;
		v->pending_journaled = 0;
	}
	rc = p->complete(p, req, res);
	if (rc != ECL_OK)
		return rc; /* drive_run retries; the pending completion id stays */
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

static int rs_commit(driver *d, ecl_run *run, const store_commit *c, const char **request)
{
	invocation *v = (invocation *)d;
	char *status = restate_status_json(run, c, NULL, NULL);
	char when[300];
	int rc;

	*request = NULL;
	if (!status)
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	snprintf(when, sizeof(when), "after step `%s`", c->step.step);
	rc = replay_status(v, run, status, when);
	if (rc == ECL_ENOTFOUND) {
		restate_put_set_state(v->out, status);
		rc = v->out->oom ? engine_fail(run->eng, ECL_ENOMEM, "out of memory") : ECL_OK;
	}
	cJSON_free(status);
	return rc;
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
static char *waiting_status(const ecl_run *run)
{
	store_commit c = {0};
	char key[300], *question = steps_question(run), *text;

	if (!question)
		return NULL;
	promise_key(run, key, sizeof(key));
	c.status = ecl_run_status_name(ECL_RUN_WAITING);
	c.current = run->wf->steps[run->state].name;
	c.step.seq = run->seq;
	text = restate_status_json(run, &c, question, key);
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
	v->human = 1;
	v->waiting_journaled = 0;
	v->promise_cid = 0;
	if (!(status = waiting_status(run)))
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
		if (!(status = waiting_status(run)))
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

static int rs_release(driver *d, ecl_run *run, const char *status, const char *error)
{
	invocation *v = (invocation *)d;

	if (v->mismatch || v->ended)
		return ECL_OK;
	if (v->human && run_status_is(status, ECL_RUN_WAITING))
		return wait_for_answer(v, run);
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
