/*
 * restate_handlers.c - ecl as a Restate service endpoint: the handlers `run`, `get_status`,
 * `answer`, `pause` and `resume`, and the requests that reach them (restate_handle). The frames are
 * in restate_frame.c, the Restate journal as a driver (driver.h) in driver_restate.c, the discovery
 * manifest in restate_discovery.c.
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
 * `get_status` reads the status state. The shared handler `pause` completes a promise that
 * the run peeks at (PeekPromise) after each answer it proposes; at that step's transition
 * the run records `paused` and awaits a promise that `resume` completes (driver_restate.c).
 * Shared handlers may not write the state: promises are how they speak to the run. A journal that
 * does not match what the code does (a changed workflow) gets the protocol's journal-mismatch
 * error.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restate_invocation.h"

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

/* Check the "$fork" of a run's input: {"run": ID, "version": V, "from": N, "answers": [text,
 * ...]} made by ecl_restate_fork from a run of this version of the workflow (its answers
 * would not replay the same transitions under another). ECL_EINPUT with why. */
static int fork_check(invocation *v, const ecl_workflow *wf, char *why, size_t n)
{
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(v->fork, "version");
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(v->fork, "from");
	const cJSON *answers = cJSON_GetObjectItemCaseSensitive(v->fork, "answers"), *a;

	if (!cJSON_IsString(version) || !cJSON_IsNumber(from) || from->valuedouble < 0 ||
	    !cJSON_IsArray(answers)) {
		snprintf(why, n,
			 "input $fork is not {\"run\", \"version\", \"from\", \"answers\"}");
		return ECL_EINPUT;
	}
	cJSON_ArrayForEach (a, answers) {
		if (!cJSON_IsString(a)) {
			snprintf(why, n, "input $fork: an answer is not a text");
			return ECL_EINPUT;
		}
	}
	if (strcmp(version->valuestring, wf->version) != 0) {
		snprintf(why, n,
			 "input $fork: the run forked ran version %.64s of %.128s, this endpoint "
			 "serves version %.64s: its answers would not replay the same steps",
			 version->valuestring, wf->id, wf->version);
		return ECL_EINPUT;
	}
	v->fork_from = (int)from->valuedouble;
	return ECL_OK;
}

void restate_handle_run(invocation *v, const ecl_workflow *wf)
{
	char tbuf[64]; /* type_phrase */
	ecl_engine *e = v->e;
	Ecl__Restate__InputCommandMessage *in = NULL;
	cJSON *inputs = NULL;
	ecl_run *run = NULL;
	char why[512], refused[540];
	int rc;

	if (!v->start->key || !v->start->key[0] || strlen(v->start->key) >= ECL_ID_MAX) {
		restate_put_output(v->out, NULL,
				   "the workflow key (the run id) is empty or too long", 400);
		return;
	}
	if (v->ncmds < 1 || v->cmds[0].type != RESTATE_INPUT ||
	    !(in = ecl__restate__input_command_message__unpack(&restate_allocator, v->cmds[0].len,
							       v->cmds[0].body))) {
		restate_put_error(v->out, RESTATE_PROTOCOL_VIOLATION,
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
		restate_put_output(v->out, NULL, refused, 400);
		return;
	}
	if (in->value && in->value->content.len)
		inputs = cJSON_ParseWithLength((const char *)in->value->content.data,
					       in->value->content.len);
	else
		inputs = cJSON_CreateObject();
	ecl__restate__input_command_message__free_unpacked(in, &restate_allocator);
	if (!inputs || !cJSON_IsObject(inputs)) {
		restate_put_output(v->out, NULL, "the inputs are not a JSON object", 400);
		cJSON_Delete(inputs);
		return;
	}
	if ((v->fork = cJSON_DetachItemFromObjectCaseSensitive(inputs, "$fork")) != NULL &&
	    fork_check(v, wf, refused, sizeof(refused)) != ECL_OK) {
		restate_put_output(v->out, NULL, refused, 400);
		cJSON_Delete(inputs);
		return;
	}
	rc = run_new(e, wf, v->start->key, &run);
	if (rc == ECL_OK)
		rc = run_set_inputs(run, inputs, e->err, sizeof(e->err));
	cJSON_Delete(inputs);
	if (rc == ECL_EINPUT || rc == ECL_EUSAGE) {
		restate_put_output(v->out, NULL, e->err[0] ? e->err : ecl_strerror(rc), 400);
		run_free(run);
		return;
	}
	if (rc != ECL_OK) {
		restate_put_error(v->out, 500, ecl_strerror(rc), 0, 0);
		run_free(run);
		return;
	}
	if (cancelled(v)) {
		char *status = restate_status_json(run, NULL, NULL, NULL, 0);

		if (status)
			restate_put_set_state(v->out, status);
		cJSON_free(status);
		restate_put_output(v->out, NULL, ecl_run_status_name(ECL_RUN_CANCELLED), 409);
		run_free(run);
		return;
	}
	rc = drive_run(&v->base, run);
	if (v->mismatch) {
		char msg[sizeof(v->why) + ECL_ID_MAX + 64];

		snprintf(msg, sizeof(msg), "journal mismatch in run %s: %s", run->id, v->why);
		restate_put_error(v->out, RESTATE_JOURNAL_MISMATCH, msg, v->mis_index, v->mis_type);
	} else if (rc == ECL_OK || rc == ECL_EFAILED) {
		if (v->cursor < v->ncmds && v->cmds[v->cursor].type != RESTATE_OUTPUT) {
			snprintf(v->why, sizeof(v->why),
				 "journal mismatch in run %s: the workflow ended where command %d "
				 "of the journal is %s",
				 run->id, v->cursor,
				 restate_type_phrase(v->cmds[v->cursor].type, tbuf));
			restate_put_error(v->out, RESTATE_JOURNAL_MISMATCH, v->why, v->cursor,
					  v->cmds[v->cursor].type);
		} else if (v->cursor < v->ncmds) {
			restate_frame_put(v->out, RESTATE_END, NULL); /* the output is journaled */
		} else if (rc == ECL_OK) {
			restate_put_output(v->out, run->t_output ? run->t_output : "null", NULL, 0);
		} else {
			restate_put_output(v->out, NULL, e->err, 500);
		}
	} else if (rc != ECL_ESUSPENDED && !v->ended) {
		restate_put_error(v->out, 500, e->err[0] ? e->err : ecl_strerror(rc), v->cursor, 0);
	}
	run_free(run);
}

/* A shared handler's journal that is not what the handler does. */
static void shared_mismatch(invocation *v, const char *handler, const char *what)
{
	char tbuf[64]; /* type_phrase */
	char msg[1536];
	uint16_t type = v->cmds[v->cursor].type;

	snprintf(msg, sizeof(msg),
		 "journal mismatch in %.64s of %.256s: command %d of the journal is %s where the "
		 "handler %.1024s",
		 handler, v->start->key ? v->start->key : "", v->cursor,
		 restate_type_phrase(type, tbuf), what);
	restate_put_error(v->out, RESTATE_JOURNAL_MISMATCH, msg, v->cursor, type);
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
		restate_put_suspension(v->out, cid, 0);
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
		restate_put_suspension(v->out, lz.result_completion_id, 0);
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

void restate_handle_get_status(invocation *v)
{
	char *text;
	int rc = status_read(v, "get_status", &text);

	if (rc == ECL_OK)
		restate_put_output(v->out, text, NULL, 0);
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
		restate_put_output(
			v->out, NULL,
			"an answer is a JSON object {\"fields\": {\"<field>\": <value>, ...}}",
			400);
	else if (!(text = cJSON_PrintUnformatted(fields)))
		v->out->oom = 1;
	cJSON_Delete(j);
	return text;
}

/* Complete promise key with text (CompletePromise), or replay that, and say what Restate
 * made of it: 1 the promise is completed, 0 it was completed already, -1 not known yet (a
 * suspension is written) or a journal mismatch (its error is written). handler and name are
 * for messages and the command's name. */
static int complete_promise(invocation *v, const char *handler, const char *key, const char *name,
			    const char *text)
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
			shared_mismatch(v, handler, msg);
			return -1;
		}
		v->cursor++;
	} else {
		cp.key = (char *)key;
		cp.completion_case =
			ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__COMPLETION_COMPLETION_VALUE;
		val.content.data = (uint8_t *)text;
		val.content.len = strlen(text);
		cp.completion_value = &val;
		cp.result_completion_id = cid;
		cp.name = (char *)name;
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
		return done;
	}
	restate_put_suspension(v->out, cid, 0);
	return -1;
}

/* Write the output {"id": ..., "workflow": ..., <name>: <json>} of a shared handler. */
static void put_reply(invocation *v, const ecl_workflow *wf, const char *step, const char *name,
		      const char *json)
{
	buf out = {0};

	buf_puts(&out, "{\"id\":");
	buf_json_str(&out, v->start->key, strlen(v->start->key));
	buf_puts(&out, ",\"workflow\":");
	buf_json_str(&out, wf->id, strlen(wf->id));
	if (step) {
		buf_puts(&out, ",\"step\":");
		buf_json_str(&out, step, strlen(step));
	}
	buf_puts(&out, ",\"");
	buf_puts(&out, name);
	buf_puts(&out, "\":");
	buf_puts(&out, json);
	buf_puts(&out, "}");
	if (out.oom)
		v->out->oom = 1;
	else
		restate_put_output(v->out, out.data, NULL, 0);
	buf_free(&out);
}

/* The status of the run a shared handler was called for (in *st, parsed from *text; the
 * caller frees both), or NULL when the handler cannot go on: the state is still to be read,
 * memory ran out, or the run is unknown (refused with 404). */
static const cJSON *handler_status(invocation *v, const ecl_workflow *wf, const char *handler,
				   char **text, cJSON **st)
{
	const char *key = v->start->key ? v->start->key : "";
	const cJSON *status;
	char msg[400];
	int rc = status_read(v, handler, text);

	if (rc == ECL_ENOMEM)
		v->out->oom = 1;
	if (rc != ECL_OK)
		return NULL;
	*st = cJSON_Parse(*text);
	status = cJSON_GetObjectItemCaseSensitive(*st, "status");
	if (!cJSON_IsString(status)) {
		snprintf(msg, sizeof(msg), "no run %.64s of %.256s", key, wf->id);
		restate_put_output(v->out, NULL, msg, 404);
		return NULL;
	}
	return status;
}

/* The shared handler `answer`: check a person's answer against the fields of the human step
 * the run waits at, as `ecl answer` does locally, and complete that step's promise. */
void restate_handle_answer(invocation *v, const ecl_workflow *wf)
{
	char *fields = NULL, *text = NULL, *answer = NULL, msg[1280];
	const char *key = v->start->key ? v->start->key : "";
	cJSON *st = NULL;
	const cJSON *status, *step, *promise;
	int rc;

	if (v->ncmds < 1 || v->cmds[0].type != RESTATE_INPUT) {
		restate_put_error(v->out, RESTATE_PROTOCOL_VIOLATION,
				  "the journal does not start with an InputCommand", 0, 0);
		return;
	}
	v->cursor = 1;
	if (!(fields = answer_input(v)))
		return;
	if (!(status = handler_status(v, wf, "answer", &text, &st)))
		goto out;
	step = cJSON_GetObjectItemCaseSensitive(st, "step");
	promise = cJSON_GetObjectItemCaseSensitive(st, "promise");
	if (!run_status_is(status->valuestring, ECL_RUN_WAITING) || !cJSON_IsString(step) ||
	    !cJSON_IsString(promise)) {
		snprintf(msg, sizeof(msg), "run %.64s is %.64s: it does not wait for an answer",
			 key, status->valuestring);
		restate_put_output(v->out, NULL, msg, 409);
		goto out;
	}
	rc = ecl_workflow_answer_fields(wf, step->valuestring, fields, &answer, msg, sizeof(msg));
	if (rc == ECL_ENOMEM) {
		v->out->oom = 1;
		goto out;
	}
	if (rc != ECL_OK) {
		restate_put_output(v->out, NULL, msg, rc == ECL_EINPUT ? 400 : 409);
		goto out;
	}
	rc = complete_promise(v, "answer", promise->valuestring, step->valuestring, answer);
	if (rc > 0) {
		put_reply(v, wf, step->valuestring, "answer", answer);
		log_event(v->e, LOG_INFO, "answered", "run", key, "step", step->valuestring, NULL);
	} else if (rc == 0) {
		snprintf(msg, sizeof(msg),
			 "step `%.256s` of run %.64s was answered already (promise %.256s)",
			 step->valuestring, key, promise->valuestring);
		restate_put_output(v->out, NULL, msg, 409);
	}
out:
	cJSON_Delete(st);
	cJSON_free(fields);
	mem_free(text);
	free(answer);
}

/* The shared handlers `pause` and `resume`. pause completes promise pause#N of a running run,
 * which the run handler peeks at after each step's answer: it stops at that step's
 * transition. resume completes the promise resume#N a paused run awaits. Their inputs are
 * not read. A run with no status is unknown (404); one in another status is refused (409). */
void restate_handle_pause(invocation *v, const ecl_workflow *wf, int resume)
{
	const char *handler = resume ? "resume" : "pause";
	const char *key = v->start->key ? v->start->key : "";
	char *text = NULL, msg[640], promise[32];
	cJSON *st = NULL;
	const cJSON *status, *pauses, *awaits;
	int rc;

	if (v->ncmds < 1 || v->cmds[0].type != RESTATE_INPUT) {
		restate_put_error(v->out, RESTATE_PROTOCOL_VIOLATION,
				  "the journal does not start with an InputCommand", 0, 0);
		return;
	}
	v->cursor = 1;
	if (!(status = handler_status(v, wf, handler, &text, &st)))
		goto out;
	pauses = cJSON_GetObjectItemCaseSensitive(st, "pauses");
	awaits = cJSON_GetObjectItemCaseSensitive(st, "promise");
	if (!resume && !run_status_is(status->valuestring, ECL_RUN_RUNNING)) {
		snprintf(msg, sizeof(msg), "run %.64s is %.64s: only a running run can be paused",
			 key, status->valuestring);
		restate_put_output(v->out, NULL, msg, 409);
		goto out;
	}
	if (resume &&
	    (!run_status_is(status->valuestring, ECL_RUN_PAUSED) || !cJSON_IsString(awaits))) {
		snprintf(msg, sizeof(msg), "run %.64s is %.64s: only a paused run can be resumed",
			 key, status->valuestring);
		restate_put_output(v->out, NULL, msg, 409);
		goto out;
	}
	if (resume)
		snprintf(promise, sizeof(promise), "%.31s", awaits->valuestring);
	else
		restate_pause_key(promise, sizeof(promise), "pause",
				  (cJSON_IsNumber(pauses) ? pauses->valueint : 0) + 1);
	rc = complete_promise(v, handler, promise, handler, "true");
	if (rc > 0 || (rc == 0 && !resume)) {
		/* a second pause before the run stopped asks what the first asked */
		put_reply(v, wf, NULL, resume ? "resumed" : "pause",
			  resume ? "true" : "\"requested\"");
		log_event(v->e, LOG_INFO, resume ? "resume requested" : "pause requested", "run",
			  key, NULL);
	} else if (rc == 0) {
		snprintf(msg, sizeof(msg), "run %.64s was resumed already (promise %.31s)", key,
			 promise);
		restate_put_output(v->out, NULL, msg, 409);
	}
out:
	cJSON_Delete(st);
	mem_free(text);
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
		    strcmp(handler, "answer") != 0 && strcmp(handler, "pause") != 0 &&
		    strcmp(handler, "resume") != 0)) {
		char msg[640]; /* both names are at most 255 bytes */

		snprintf(msg, sizeof(msg),
			 "no handler %.255s/%.255s: the services are the workflows, "
			 "with the handlers run, get_status, answer, pause and resume",
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
		restate_put_error(
			v.out, RESTATE_PROTOCOL_VIOLATION,
			rc == ECL_EINPUT ? why : "the stream does not start with a StartMessage", 0,
			0);
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
		if (restate_is_notification(f.type))
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
		restate_put_error(v.out, RESTATE_PROTOCOL_VIOLATION, msg, n, 0);
		goto out;
	}
	e->err[0] = '\0';
	if (strcmp(handler, "run") == 0) {
		restate_handle_run(&v, wf);
	} else {
		if (v.ncmds >= 1 && v.cmds[0].type == RESTATE_INPUT)
			v.cursor = 1;
		if (strcmp(handler, "answer") == 0)
			restate_handle_answer(&v, wf);
		else if (strcmp(handler, "pause") == 0 || strcmp(handler, "resume") == 0)
			restate_handle_pause(&v, wf, handler[0] == 'r');
		else
			restate_handle_get_status(&v);
	}
out:
	if (v.start)
		ecl__restate__start_message__free_unpacked(v.start, &restate_allocator);
	mem_free(v.cmds);
	mem_free(v.notes);
	mem_free(v.paused_status);
	cJSON_Delete(v.tries);
	cJSON_Delete(v.step_calls);
	cJSON_Delete(v.fork);
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
		r->content_type = restate_manifest_type(accept);
		return restate_manifest(e, &r->body);
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
