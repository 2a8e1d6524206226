/*
 * restate.c - ecl as a Restate service endpoint: frames, the discovery manifest, and the
 * Restate journal as a driver (driver.h) beside the local one.
 *
 * Every compiled workflow is a Workflow service named after it, keyed by the run id. Its
 * handler `run` replays the invocation's journal through the unchanged state machine: the
 * journal holds, for each answer a step got, a Run command and the answer's completion, and
 * after each transition a SetState of the run's status. A step whose answer is journaled
 * takes it from there; the first step without one asks the model, proposes the answer with
 * ProposeRunCompletion and suspends, and Restate invokes again once the answer is stored.
 * A human step records the status `waiting` with its question, awaits a durable promise
 * named after the step and its visit (GetPromise) and suspends; the shared handler `answer`
 * checks a person's answer against the step's fields and completes that promise
 * (CompletePromise), and the replay takes the answer from the journal. The shared handler
 * `get_status` reads the status state. A journal that does not match what the code does (a
 * changed workflow) gets the protocol's journal-mismatch error.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restate.h"
/* protoc-c's initialisers of messages with a oneof leave out the union's braces. */
#pragma GCC diagnostic ignored "-Wmissing-braces"
#include "restate.pb-c.h"

/* ---- frames ------------------------------------------------------------------------------- */

static void *pb_alloc(void *data, size_t size)
{
	(void)data;
	return mem_alloc(size);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	mem_free(p);
}

ProtobufCAllocator restate_allocator = {pb_alloc, pb_free, NULL};

int restate_frame_next(const uint8_t *data, size_t n, size_t *pos, restate_frame *out, char *why,
		       size_t whylen)
{
	const uint8_t *h = data + *pos;

	if (*pos >= n)
		return ECL_ENOTFOUND;
	if (n - *pos < 8) {
		snprintf(why, whylen, "a frame header at byte %zu is cut short (%zu of 8 bytes)",
			 *pos, n - *pos);
		return ECL_EINPUT;
	}
	out->type = (uint16_t)(h[0] << 8 | h[1]);
	out->flags = (uint16_t)(h[2] << 8 | h[3]);
	out->len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (out->len > n - *pos - 8) {
		snprintf(why, whylen,
			 "the frame of type 0x%04x at byte %zu says %u bytes; %zu are left",
			 out->type, *pos, out->len, n - *pos - 8);
		return ECL_EINPUT;
	}
	out->body = h + 8;
	*pos += 8 + (size_t)out->len;
	return ECL_OK;
}

void restate_frame_put(buf *b, uint16_t type, const ProtobufCMessage *msg)
{
	size_t len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	uint8_t h[8];
	uint8_t *body;

	h[0] = (uint8_t)(type >> 8);
	h[1] = (uint8_t)type;
	h[2] = h[3] = 0;
	h[4] = (uint8_t)(len >> 24);
	h[5] = (uint8_t)(len >> 16);
	h[6] = (uint8_t)(len >> 8);
	h[7] = (uint8_t)len;
	buf_append(b, (const char *)h, 8);
	if (!len)
		return;
	if (!(body = mem_alloc(len))) {
		b->oom = 1;
		return;
	}
	protobuf_c_message_pack(msg, body);
	buf_append(b, (const char *)body, len);
	mem_free(body);
}

const char *restate_type_name(uint16_t type)
{
	switch (type) {
	case RESTATE_START: return "Start";
	case RESTATE_SUSPENSION: return "Suspension";
	case RESTATE_ERROR: return "Error";
	case RESTATE_END: return "End";
	case RESTATE_PROPOSE_RUN: return "ProposeRunCompletion";
	case RESTATE_INPUT: return "InputCommand";
	case RESTATE_OUTPUT: return "OutputCommand";
	case RESTATE_GET_LAZY_STATE: return "GetLazyStateCommand";
	case RESTATE_SET_STATE: return "SetStateCommand";
	case RESTATE_GET_EAGER_STATE: return "GetEagerStateCommand";
	case RESTATE_GET_PROMISE: return "GetPromiseCommand";
	case RESTATE_COMPLETE_PROMISE: return "CompletePromiseCommand";
	case RESTATE_RUN: return "RunCommand";
	case RESTATE_GET_LAZY_STATE_DONE: return "GetLazyStateCompletionNotification";
	case RESTATE_GET_PROMISE_DONE: return "GetPromiseCompletionNotification";
	case RESTATE_COMPLETE_PROMISE_DONE: return "CompletePromiseCompletionNotification";
	case RESTATE_RUN_DONE: return "RunCompletionNotification";
	case RESTATE_SIGNAL: return "SignalNotification";
	default: return "an unknown command";
	}
}

/* A message type as a noun phrase for an error: "a RunCommand", "an unknown command (0x0c00)". */
static const char *type_phrase(uint16_t type, char text[64])
{
	const char *name = restate_type_name(type);

	if (strcmp(name, "an unknown command") == 0)
		snprintf(text, 64, "an unknown command (0x%04x)", type);
	else
		snprintf(text, 64, "a %s", name);
	return text;
}

/* Notifications have the high bit set; commands live from 0x0400 up. */
static int is_notification(uint16_t type)
{
	return (type & 0x8000) != 0;
}

/* ---- an invocation ------------------------------------------------------------------------ */

typedef struct invocation {
	driver base; /* first: the driver ops get a pointer to it */
	ecl_engine *e;
	Ecl__Restate__StartMessage *start;
	restate_frame *cmds; /* the journal's commands in order; cmds[0] is the input */
	int ncmds;
	int cursor;           /* the next command to replay */
	restate_frame *notes; /* the journal's notifications */
	int nnotes;
	uint32_t next_cid; /* the next completion id to hand out (they start at 1) */
	uint32_t pending;  /* a Run whose answer is being asked, or 0 */
	int pending_journaled;
	buf *out;
	int mismatch; /* the journal did not match: why and where are below */
	char why[768];
	int mis_index;
	uint16_t mis_type;
	int ended;             /* a terminal frame (suspension, error) was written */
	int journaled_failure; /* a step's journaled answer is a failure: it replays the same */
	/* A human step's answer comes from the journal's promise (rs_human). */
	int human;             /* the current step is a human step that looked for its answer */
	int waiting_journaled; /* ... its `waiting` status is in the journal */
	uint32_t promise_cid;  /* ... its GetPromise is, with this completion id (0: not) */
} invocation;

static int mismatch(invocation *v, ecl_run *run, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int mismatch(invocation *v, ecl_run *run, const char *fmt, ...)
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

static void put_error(buf *out, uint32_t code, const char *msg, int index, uint16_t type)
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
static void put_suspension(buf *out, uint32_t cid, int cancellable)
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

static void put_output(buf *out, const char *text, const char *failure, uint32_t code)
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

static void put_set_state(buf *out, const char *text)
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
static char *status_json(const ecl_run *run, const store_commit *c, const char *question,
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
			return mismatch(v, run,
					"command %d of the journal is %s where the workflow asks "
					"step `%s`",
					v->cursor, type_phrase(f->type, tbuf), name);
		m = ecl__restate__run_command_message__unpack(&restate_allocator, f->len, f->body);
		if (!m)
			return mismatch(v, run,
					"command %d of the journal (a RunCommand) is not "
					"a valid message",
					v->cursor);
		if (strcmp(m->name, name) != 0 || m->result_completion_id != v->next_cid) {
			rc = mismatch(v, run,
				      "command %d of the journal runs step `%s` (completion %u) "
				      "where the workflow runs step `%s` (completion %u)",
				      v->cursor, m->name, m->result_completion_id, name,
				      v->next_cid);
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
	put_suspension(v->out, v->pending, 0);
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
		rc = mismatch(v, run,
			      "command %d of the journal is %s where the workflow records the "
			      "status %s %s",
			      v->cursor, m ? "a different status" : type_phrase(f->type, tbuf),
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
	char *status = status_json(run, c, NULL, NULL);
	char when[300];
	int rc;

	*request = NULL;
	if (!status)
		return engine_fail(run->eng, ECL_ENOMEM, "out of memory");
	snprintf(when, sizeof(when), "after step `%s`", c->step.step);
	rc = replay_status(v, run, status, when);
	if (rc == ECL_ENOTFOUND) {
		put_set_state(v->out, status);
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
	text = status_json(run, &c, question, key);
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
		rc = mismatch(v, run,
			      "command %d of the journal is %s where step `%s` awaits promise %s "
			      "(completion %u)",
			      v->cursor,
			      m ? "a GetPromiseCommand of another promise"
				: type_phrase(f->type, tbuf),
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
		put_set_state(v->out, status);
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
	put_suspension(v->out, v->promise_cid, 1);
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
		put_output(v->out, NULL, error ? error : status, 500);
		v->ended = 1;
		return ECL_OK;
	}
	/* A retryable error: Restate invokes again later and the journal replays. */
	put_error(v->out, 500, error ? error : status, v->cursor, 0);
	v->ended = 1;
	return ECL_OK;
}

static const driver_ops restate_ops = {
	.answer = rs_answer,
	.human = rs_human,
	.commit = rs_commit,
	.beat = rs_beat,
	.release = rs_release,
};

/* ---- handlers ----------------------------------------------------------------------------- */

static int cancelled(const invocation *v)
{
	int i;

	for (i = 0; i < v->nnotes; i++) {
		Ecl__Restate__SignalNotificationMessage *m;
		int yes;

		if (v->notes[i].type != RESTATE_SIGNAL)
			continue;
		m = ecl__restate__signal_notification_message__unpack(
			&restate_allocator, v->notes[i].len, v->notes[i].body);
		yes = m &&
		      m->signal_id_case ==
			      ECL__RESTATE__SIGNAL_NOTIFICATION_MESSAGE__SIGNAL_ID_IDX &&
		      m->idx == 1;
		if (m)
			ecl__restate__signal_notification_message__free_unpacked(
				m, &restate_allocator);
		if (yes)
			return 1;
	}
	return 0;
}

static void handle_run(invocation *v, const ecl_workflow *wf)
{
	char tbuf[64]; /* type_phrase */
	ecl_engine *e = v->e;
	Ecl__Restate__InputCommandMessage *in = NULL;
	cJSON *inputs = NULL;
	ecl_run *run = NULL;
	char why[320], refused[340];
	int rc;

	if (!v->start->key || !v->start->key[0] || strlen(v->start->key) >= ECL_ID_MAX) {
		put_output(v->out, NULL, "the workflow key (the run id) is empty or too long", 400);
		return;
	}
	if (v->ncmds < 1 || v->cmds[0].type != RESTATE_INPUT ||
	    !(in = ecl__restate__input_command_message__unpack(&restate_allocator, v->cmds[0].len,
							       v->cmds[0].body))) {
		put_error(v->out, RESTATE_PROTOCOL_VIOLATION,
			  "the journal does not start with an InputCommand", 0, 0);
		return;
	}
	v->cursor = 1;
	if (in->value && in->value->content.len &&
	    ecl_json_check((const char *)in->value->content.data, in->value->content.len, why,
			   sizeof(why)) != ECL_OK) {
		/* checked raw: parsed, a string would be cut at a \u0000 */
		ecl__restate__input_command_message__free_unpacked(in, &restate_allocator);
		snprintf(refused, sizeof(refused), "input %s", why);
		put_output(v->out, NULL, refused, 400);
		return;
	}
	if (in->value && in->value->content.len)
		inputs = cJSON_ParseWithLength((const char *)in->value->content.data,
					       in->value->content.len);
	else
		inputs = cJSON_CreateObject();
	ecl__restate__input_command_message__free_unpacked(in, &restate_allocator);
	if (!inputs || !cJSON_IsObject(inputs)) {
		put_output(v->out, NULL, "the inputs are not a JSON object", 400);
		cJSON_Delete(inputs);
		return;
	}
	rc = run_new(e, wf, v->start->key, &run);
	if (rc == ECL_OK)
		rc = run_set_inputs(run, inputs, e->err, sizeof(e->err));
	cJSON_Delete(inputs);
	if (rc == ECL_EINPUT || rc == ECL_EUSAGE) {
		put_output(v->out, NULL, e->err[0] ? e->err : ecl_strerror(rc), 400);
		run_free(run);
		return;
	}
	if (rc != ECL_OK) {
		put_error(v->out, 500, ecl_strerror(rc), 0, 0);
		run_free(run);
		return;
	}
	if (cancelled(v)) {
		char *status = status_json(run, NULL, NULL, NULL);

		if (status)
			put_set_state(v->out, status);
		cJSON_free(status);
		put_output(v->out, NULL, ecl_run_status_name(ECL_RUN_CANCELLED), 409);
		run_free(run);
		return;
	}
	rc = drive_run(&v->base, run);
	if (v->mismatch) {
		char msg[sizeof(v->why) + ECL_ID_MAX + 64];

		snprintf(msg, sizeof(msg), "journal mismatch in run %s: %s", run->id, v->why);
		put_error(v->out, RESTATE_JOURNAL_MISMATCH, msg, v->mis_index, v->mis_type);
	} else if (rc == ECL_OK || rc == ECL_EFAILED) {
		if (v->cursor < v->ncmds && v->cmds[v->cursor].type != RESTATE_OUTPUT) {
			snprintf(v->why, sizeof(v->why),
				 "journal mismatch in run %s: the workflow ended where command %d "
				 "of the journal is %s",
				 run->id, v->cursor, type_phrase(v->cmds[v->cursor].type, tbuf));
			put_error(v->out, RESTATE_JOURNAL_MISMATCH, v->why, v->cursor,
				  v->cmds[v->cursor].type);
		} else if (v->cursor < v->ncmds) {
			restate_frame_put(v->out, RESTATE_END, NULL); /* the output is journaled */
		} else if (rc == ECL_OK) {
			put_output(v->out, run->t_output ? run->t_output : "null", NULL, 0);
		} else {
			put_output(v->out, NULL, e->err, 500);
		}
	} else if (rc != ECL_ESUSPENDED && !v->ended) {
		put_error(v->out, 500, e->err[0] ? e->err : ecl_strerror(rc), v->cursor, 0);
	}
	run_free(run);
}

/* A shared handler's journal that is not what the handler does. */
static void shared_mismatch(invocation *v, const char *handler, const char *what)
{
	char tbuf[64]; /* type_phrase */
	char msg[512];
	uint16_t type = v->cmds[v->cursor].type;

	snprintf(msg, sizeof(msg),
		 "journal mismatch in %s of %s: command %d of the journal is %s where the "
		 "handler %s",
		 handler, v->start->key ? v->start->key : "", v->cursor, type_phrase(type, tbuf),
		 what);
	put_error(v->out, RESTATE_JOURNAL_MISMATCH, msg, v->cursor, type);
}

/* The run's status state (a JSON text, "null" when there is none; *text freed with
 * mem_free) for a shared handler, journaled so that a replay reads what the first
 * invocation read: taken from the StartMessage's state and written as GetEagerState, or
 * asked with GetLazyState (and a suspension, ECL_ESUSPENDED) when only part of the state came
 * with the start. On a replay, from the journaled command. ECL_ESTATE after writing a
 * journal-mismatch error, ECL_ENOMEM. */
static int status_read(invocation *v, const char *handler, char **text)
{
	size_t i, klen = strlen(RESTATE_STATUS_KEY);
	const ProtobufCBinaryData *found = NULL;

	*text = NULL;
	if (v->cursor < v->ncmds && v->cmds[v->cursor].type == RESTATE_GET_EAGER_STATE) {
		const restate_frame *f = &v->cmds[v->cursor];
		Ecl__Restate__GetEagerStateCommandMessage *m =
			ecl__restate__get_eager_state_command_message__unpack(&restate_allocator,
									      f->len, f->body);

		if (!m) {
			shared_mismatch(v, handler, "reads the status (not a valid message)");
			return ECL_ESTATE;
		}
		v->cursor++;
		*text = m->result_case == ECL__RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VALUE &&
					m->value
				? mem_strndup((const char *)m->value->content.data,
					      m->value->content.len)
				: mem_strdup("null");
		ecl__restate__get_eager_state_command_message__free_unpacked(m, &restate_allocator);
		return *text ? ECL_OK : ECL_ENOMEM;
	}
	if (v->cursor < v->ncmds && v->cmds[v->cursor].type == RESTATE_GET_LAZY_STATE) {
		uint32_t cid = v->next_cid++;
		int j;

		v->cursor++;
		for (j = 0; j < v->nnotes; j++) {
			Ecl__Restate__GetLazyStateCompletionNotificationMessage *m;

			if (v->notes[j].type != RESTATE_GET_LAZY_STATE_DONE)
				continue;
			m = ecl__restate__get_lazy_state_completion_notification_message__unpack(
				&restate_allocator, v->notes[j].len, v->notes[j].body);
			if (!m)
				continue;
			if (m->completion_id == cid)
				*text = m->result_case == ECL__RESTATE__GET_LAZY_STATE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE &&
							m->value
						? mem_strndup((const char *)m->value->content.data,
							      m->value->content.len)
						: mem_strdup("null");
			ecl__restate__get_lazy_state_completion_notification_message__free_unpacked(
				m, &restate_allocator);
			if (*text)
				return ECL_OK;
		}
		put_suspension(v->out, cid, 0);
		return ECL_ESUSPENDED;
	}
	if (v->cursor < v->ncmds) {
		shared_mismatch(v, handler, "reads the status");
		return ECL_ESTATE;
	}
	for (i = 0; i < v->start->n_state_map; i++) {
		const ProtobufCBinaryData *k = &v->start->state_map[i]->key;

		if (k->len == klen && memcmp(k->data, RESTATE_STATUS_KEY, klen) == 0)
			found = &v->start->state_map[i]->value;
	}
	if (!found && v->start->partial_state) {
		/* Only part of the state came with the start: ask for the key lazily. */
		Ecl__Restate__GetLazyStateCommandMessage lz =
			ECL__RESTATE__GET_LAZY_STATE_COMMAND_MESSAGE__INIT;

		lz.key.data = (uint8_t *)RESTATE_STATUS_KEY;
		lz.key.len = klen;
		lz.result_completion_id = v->next_cid++;
		restate_frame_put(v->out, RESTATE_GET_LAZY_STATE, &lz.base);
		put_suspension(v->out, lz.result_completion_id, 0);
		return ECL_ESUSPENDED;
	} else {
		Ecl__Restate__GetEagerStateCommandMessage g =
			ECL__RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__INIT;
		Ecl__Restate__Value val = ECL__RESTATE__VALUE__INIT;
		Ecl__Restate__Void nothing = ECL__RESTATE__VOID__INIT;

		g.key.data = (uint8_t *)RESTATE_STATUS_KEY;
		g.key.len = klen;
		if (found) {
			val.content = *found;
			g.result_case = ECL__RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VALUE;
			g.value = &val;
		} else {
			g.result_case = ECL__RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VOID;
			g.void_ = &nothing;
		}
		restate_frame_put(v->out, RESTATE_GET_EAGER_STATE, &g.base);
	}
	*text = found ? mem_strndup((const char *)found->data, found->len) : mem_strdup("null");
	return *text ? ECL_OK : ECL_ENOMEM;
}

static void handle_get_status(invocation *v)
{
	char *text;
	int rc = status_read(v, "get_status", &text);

	if (rc == ECL_OK)
		put_output(v->out, text, NULL, 0);
	else if (rc == ECL_ENOMEM)
		v->out->oom = 1;
	mem_free(text);
}

/* The answer's input: {"fields": {...}} as a JSON text (caller frees with cJSON_free), or
 * NULL with the failure written. */
static char *answer_input(invocation *v)
{
	Ecl__Restate__InputCommandMessage *in = NULL;
	cJSON *j = NULL;
	const cJSON *fields;
	char *text = NULL;

	in = ecl__restate__input_command_message__unpack(&restate_allocator, v->cmds[0].len,
							 v->cmds[0].body);
	if (in && in->value)
		j = cJSON_ParseWithLength((const char *)in->value->content.data,
					  in->value->content.len);
	if (in)
		ecl__restate__input_command_message__free_unpacked(in, &restate_allocator);
	fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
	if (!cJSON_IsObject(fields))
		put_output(v->out, NULL,
			   "an answer is a JSON object {\"fields\": {\"<field>\": <value>, ...}}",
			   400);
	else if (!(text = cJSON_PrintUnformatted(fields)))
		v->out->oom = 1;
	cJSON_Delete(j);
	return text;
}

/* Complete promise key with the answer (CompletePromise), or replay that, and end with
 * Restate's word on it: the promise completed, or completed already by an earlier answer. */
static void complete_promise(invocation *v, const ecl_workflow *wf, const char *key,
			     const char *step, const char *answer)
{
	Ecl__Restate__CompletePromiseCommandMessage cp =
		ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value val = ECL__RESTATE__VALUE__INIT;
	uint32_t cid = v->next_cid++;
	char msg[768];
	int i;

	if (v->cursor < v->ncmds) {
		const restate_frame *f = &v->cmds[v->cursor];
		Ecl__Restate__CompletePromiseCommandMessage *m = NULL;
		int same;

		if (f->type == RESTATE_COMPLETE_PROMISE)
			m = ecl__restate__complete_promise_command_message__unpack(
				&restate_allocator, f->len, f->body);
		same = m && strcmp(m->key, key) == 0 && m->result_completion_id == cid;
		if (m)
			ecl__restate__complete_promise_command_message__free_unpacked(
				m, &restate_allocator);
		if (!same) {
			snprintf(msg, sizeof(msg), "completes promise %.256s (completion %u)", key,
				 cid);
			shared_mismatch(v, "answer", msg);
			return;
		}
		v->cursor++;
	} else {
		cp.key = (char *)key;
		cp.completion_case =
			ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__COMPLETION_COMPLETION_VALUE;
		val.content.data = (uint8_t *)answer;
		val.content.len = strlen(answer);
		cp.completion_value = &val;
		cp.result_completion_id = cid;
		cp.name = (char *)step;
		restate_frame_put(v->out, RESTATE_COMPLETE_PROMISE, &cp.base);
	}
	for (i = 0; i < v->nnotes; i++) {
		Ecl__Restate__CompletePromiseCompletionNotificationMessage *n;
		int done;

		if (v->notes[i].type != RESTATE_COMPLETE_PROMISE_DONE)
			continue;
		n = ecl__restate__complete_promise_completion_notification_message__unpack(
			&restate_allocator, v->notes[i].len, v->notes[i].body);
		if (!n || n->completion_id != cid) {
			if (n)
				ecl__restate__complete_promise_completion_notification_message__free_unpacked(
					n, &restate_allocator);
			continue;
		}
		done = n->result_case !=
		       ECL__RESTATE__COMPLETE_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_FAILURE;
		ecl__restate__complete_promise_completion_notification_message__free_unpacked(
			n, &restate_allocator);
		if (done) {
			buf out = {0};

			buf_puts(&out, "{\"id\":");
			buf_json_str(&out, v->start->key, strlen(v->start->key));
			buf_puts(&out, ",\"workflow\":");
			buf_json_str(&out, wf->id, strlen(wf->id));
			buf_puts(&out, ",\"step\":");
			buf_json_str(&out, step, strlen(step));
			buf_puts(&out, ",\"answer\":");
			buf_puts(&out, answer);
			buf_puts(&out, "}");
			if (out.oom)
				v->out->oom = 1;
			else
				put_output(v->out, out.data, NULL, 0);
			buf_free(&out);
		} else {
			snprintf(msg, sizeof(msg),
				 "step `%.256s` of run %.64s was answered already (promise %.256s)",
				 step, v->start->key, key);
			put_output(v->out, NULL, msg, 409);
		}
		return;
	}
	put_suspension(v->out, cid, 0);
}

/* The shared handler `answer`: check a person's answer against the fields of the human step
 * the run waits at, as `ecl answer` does locally, and complete that step's promise. */
static void handle_answer(invocation *v, const ecl_workflow *wf)
{
	char *fields = NULL, *text = NULL, *answer = NULL, msg[1280];
	const char *key = v->start->key ? v->start->key : "";
	cJSON *st = NULL;
	const cJSON *status, *step, *promise;
	int rc;

	if (v->ncmds < 1 || v->cmds[0].type != RESTATE_INPUT) {
		put_error(v->out, RESTATE_PROTOCOL_VIOLATION,
			  "the journal does not start with an InputCommand", 0, 0);
		return;
	}
	v->cursor = 1;
	if (!(fields = answer_input(v)))
		return;
	rc = status_read(v, "answer", &text);
	if (rc == ECL_ENOMEM)
		v->out->oom = 1;
	if (rc != ECL_OK)
		goto out;
	st = cJSON_Parse(text);
	status = cJSON_GetObjectItemCaseSensitive(st, "status");
	step = cJSON_GetObjectItemCaseSensitive(st, "step");
	promise = cJSON_GetObjectItemCaseSensitive(st, "promise");
	if (!cJSON_IsString(status)) {
		snprintf(msg, sizeof(msg), "no run %.64s of %.256s", key, wf->id);
		put_output(v->out, NULL, msg, 404);
		goto out;
	}
	if (!run_status_is(status->valuestring, ECL_RUN_WAITING) || !cJSON_IsString(step) ||
	    !cJSON_IsString(promise)) {
		snprintf(msg, sizeof(msg), "run %.64s is %.64s: it does not wait for an answer",
			 key, status->valuestring);
		put_output(v->out, NULL, msg, 409);
		goto out;
	}
	rc = ecl_workflow_answer_fields(wf, step->valuestring, fields, &answer, msg, sizeof(msg));
	if (rc == ECL_ENOMEM) {
		v->out->oom = 1;
		goto out;
	}
	if (rc != ECL_OK) {
		put_output(v->out, NULL, msg, rc == ECL_EINPUT ? 400 : 409);
		goto out;
	}
	complete_promise(v, wf, promise->valuestring, step->valuestring, answer);
	log_event(v->e, LOG_INFO, "answered", "run", key, "step", step->valuestring, NULL);
out:
	cJSON_Delete(st);
	cJSON_free(fields);
	mem_free(text);
	free(answer);
}

/* ---- discovery ---------------------------------------------------------------------------- */

static int manifest(ecl_engine *e, buf *out)
{
	cJSON *m = cJSON_CreateObject(), *services, *s, *hs, *h;
	char *text;
	size_t i;
	int ok = m != NULL;

	ok = ok && cJSON_AddStringToObject(m, "protocolMode", "REQUEST_RESPONSE");
	ok = ok && cJSON_AddNumberToObject(m, "minProtocolVersion", RESTATE_MIN_VERSION);
	ok = ok && cJSON_AddNumberToObject(m, "maxProtocolVersion", RESTATE_MAX_VERSION);
	ok = ok && (services = cJSON_AddArrayToObject(m, "services")) != NULL;
	for (i = 0; ok && i < e->nworkflows; i++) {
		const ecl_workflow *wf = e->workflows[i];

		ok = (s = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(services, s);
		ok = ok && cJSON_AddStringToObject(s, "name", wf->id);
		ok = ok && cJSON_AddStringToObject(s, "ty", "WORKFLOW");
		ok = ok && (hs = cJSON_AddArrayToObject(s, "handlers")) != NULL;
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "run");
		ok = ok && cJSON_AddStringToObject(h, "ty", "WORKFLOW");
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "get_status");
		ok = ok && cJSON_AddStringToObject(h, "ty", "SHARED");
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "answer");
		ok = ok && cJSON_AddStringToObject(h, "ty", "SHARED");
	}
	text = ok ? cJSON_PrintUnformatted(m) : NULL;
	cJSON_Delete(m);
	if (!text)
		return ECL_ENOMEM;
	buf_puts(out, text);
	cJSON_free(text);
	return out->oom ? ECL_ENOMEM : ECL_OK;
}

/* The manifest version to answer with: the highest of 1..3 the Accept header names. */
static const char *manifest_type(const char *accept)
{
	static const char *const types[] = {
		"application/vnd.restate.endpointmanifest.v3+json",
		"application/vnd.restate.endpointmanifest.v2+json",
		"application/vnd.restate.endpointmanifest.v1+json",
	};
	size_t i;

	for (i = 0; accept && i < sizeof(types) / sizeof(types[0]); i++)
		if (strstr(accept, types[i]))
			return types[i];
	return types[2];
}

/* ---- requests ----------------------------------------------------------------------------- */

static void reply_text(restate_reply *r, int status, const char *text)
{
	r->status = status;
	r->content_type = "text/plain";
	buf_puts(&r->body, text);
	buf_puts(&r->body, "\n");
}

static int invoke(ecl_engine *e, const char *service, const char *handler, const uint8_t *body,
		  size_t len, restate_reply *r)
{
	invocation v = {0};
	const ecl_workflow *wf = ecl_workflow_find(e->workflows, e->nworkflows, service);
	restate_frame f;
	size_t pos = 0;
	char why[256];
	int rc, n = 0;

	if (!wf || (strcmp(handler, "run") != 0 && strcmp(handler, "get_status") != 0 &&
		    strcmp(handler, "answer") != 0)) {
		char msg[640]; /* both names are at most 255 bytes */

		snprintf(msg, sizeof(msg),
			 "no handler %.255s/%.255s: the services are the workflows, "
			 "with the handlers run, get_status and answer",
			 service, handler);
		reply_text(r, 404, msg);
		return r->body.oom ? ECL_ENOMEM : ECL_OK;
	}
	v.base.ops = &restate_ops;
	v.e = e;
	v.out = &r->body;
	v.next_cid = 1;
	r->status = 200;
	rc = restate_frame_next(body, len, &pos, &f, why, sizeof(why));
	if (rc == ECL_OK && f.type == RESTATE_START)
		v.start = ecl__restate__start_message__unpack(&restate_allocator, f.len, f.body);
	if (!v.start) {
		put_error(v.out, RESTATE_PROTOCOL_VIOLATION,
			  rc == ECL_EINPUT ? why : "the stream does not start with a StartMessage",
			  0, 0);
		goto out;
	}
	if (v.start->known_entries > (len - pos) / 8) {
		/* every entry is a frame of 8 bytes at least: a count the body cannot hold is the
		 * client's error, not memory to find (4e9 entries asked for 64 GB) */
		char msg[200];

		snprintf(msg, sizeof(msg),
			 "the StartMessage announces %u journal entries; the %zu bytes after it "
			 "hold at most %zu",
			 v.start->known_entries, len - pos, (len - pos) / 8);
		reply_text(r, 400, msg);
		rc = r->body.oom ? ECL_ENOMEM : ECL_OK;
		goto out;
	}
	v.cmds = mem_calloc(v.start->known_entries + 1, sizeof(*v.cmds));
	v.notes = mem_calloc(v.start->known_entries + 1, sizeof(*v.notes));
	if (!v.cmds || !v.notes) {
		rc = ECL_ENOMEM;
		goto out;
	}
	while (n < (int)v.start->known_entries &&
	       (rc = restate_frame_next(body, len, &pos, &f, why, sizeof(why))) == ECL_OK) {
		if (is_notification(f.type))
			v.notes[v.nnotes++] = f;
		else if (f.type >= RESTATE_INPUT)
			v.cmds[v.ncmds++] = f;
		else
			continue; /* a control message: not an entry of the journal */
		n++;
	}
	if (rc == ECL_EINPUT || n < (int)v.start->known_entries) {
		char msg[512];

		snprintf(msg, sizeof(msg), "the journal has %d of the %u entries announced%s%s", n,
			 v.start->known_entries, rc == ECL_EINPUT ? ": " : "",
			 rc == ECL_EINPUT ? why : "");
		put_error(v.out, RESTATE_PROTOCOL_VIOLATION, msg, n, 0);
		goto out;
	}
	e->err[0] = '\0';
	if (strcmp(handler, "run") == 0) {
		handle_run(&v, wf);
	} else {
		if (v.ncmds >= 1 && v.cmds[0].type == RESTATE_INPUT)
			v.cursor = 1;
		if (strcmp(handler, "answer") == 0)
			handle_answer(&v, wf);
		else
			handle_get_status(&v);
	}
out:
	if (v.start)
		ecl__restate__start_message__free_unpacked(v.start, &restate_allocator);
	mem_free(v.cmds);
	mem_free(v.notes);
	return rc == ECL_ENOMEM || r->body.oom ? ECL_ENOMEM : ECL_OK;
}

int restate_handle(ecl_engine *e, const char *method, const char *path, const char *content_type,
		   const char *accept, const uint8_t *body, size_t len, restate_reply *r)
{
	static const char *const versions[] = {"application/vnd.restate.invocation.v5",
					       "application/vnd.restate.invocation.v6"};
	const char *inv = strstr(path, "/invoke/");
	char service[256], handler[256];
	const char *slash;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (strcmp(method, "GET") == 0 && strcmp(path, "/discover") == 0) {
		r->status = 200;
		r->content_type = manifest_type(accept);
		return manifest(e, &r->body);
	}
	if (strcmp(method, "GET") == 0 && strcmp(path, "/health") == 0) {
		reply_text(r, 200, "ok");
		return r->body.oom ? ECL_ENOMEM : ECL_OK;
	}
	if (strcmp(method, "POST") != 0 || !inv || !(slash = strchr(inv + 8, '/')) ||
	    (size_t)(slash - inv - 8) >= sizeof(service) || strlen(slash + 1) >= sizeof(handler) ||
	    strchr(slash + 1, '/')) {
		reply_text(r, 404,
			   "not found: the endpoint answers GET /discover and "
			   "POST /invoke/{service}/{handler}");
		return r->body.oom ? ECL_ENOMEM : ECL_OK;
	}
	for (i = 0; i < 2; i++)
		if (content_type && strcmp(content_type, versions[i]) == 0)
			break;
	if (i == 2) {
		reply_text(r, 415,
			   "unsupported content type: this endpoint speaks "
			   "application/vnd.restate.invocation.v5 and v6");
		return r->body.oom ? ECL_ENOMEM : ECL_OK;
	}
	memcpy(service, inv + 8, (size_t)(slash - inv - 8));
	service[slash - inv - 8] = '\0';
	snprintf(handler, sizeof(handler), "%s", slash + 1);
	r->content_type = versions[i];
	return invoke(e, service, handler, body, len, r);
}
