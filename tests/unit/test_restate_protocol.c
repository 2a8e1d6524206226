/*
 * test_restate_protocol.c - the Restate endpoint against byte sequences, without a network: frames,
 * every message ecl writes and reads, the discovery manifest, a whole critique-revise run
 * replayed through a small simulation of Restate's journal (suspending after every answer,
 * never asking the model twice), get_status, cancellation, bad input and journal mismatches;
 * summarize's human step as a durable promise: the run waits (get_status shows the question),
 * the `answer` handler checks the fields and completes the promise, the replay goes on with
 * the answer from the journal, and a loop back to the step awaits a fresh promise.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restate.h"
#include "restate.pb-c.h"
#include "support.h"
#include "testhooks.h"

#define CT5 "application/vnd.restate.invocation.v5"

#define GEN    "{\"content\": \"Draft v0 on tea\", \"word_count\": 4}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"add an example\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1 on tea\", \"word_count\": 4}"
#define REV2   "{\"content\": \"Draft v2 on tea\", \"word_count\": 4}"

static const char two_revisions[] = "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE
				    ", " PASS "], \"revise\": [" REV1 ", " REV2 "]}";

/* ---- a journal as Restate keeps it ---------------------------------------------------- */

typedef struct frame {
	uint16_t type;
	uint8_t *body;
	size_t len;
} frame;

typedef struct journal {
	frame entries[128];
	int n;
	char *status; /* the "status" state, or NULL */
	int partial;  /* send the state as partial */
	int paused;   /* the pause promises completed: pause#1 .. pause#paused */
} journal;

static void add(journal *j, uint16_t type, const ProtobufCMessage *msg)
{
	frame *f = &j->entries[j->n++];

	cr_assert(j->n < 128);
	f->type = type;
	f->len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	f->body = malloc(f->len + 1);
	if (msg)
		protobuf_c_message_pack(msg, f->body);
}

static void add_raw(journal *j, uint16_t type, const uint8_t *body, size_t len)
{
	frame *f = &j->entries[j->n++];

	f->type = type;
	f->len = len;
	f->body = malloc(len + 1);
	memcpy(f->body, body, len);
}

static void add_input(journal *j, const char *json)
{
	Ecl__Restate__InputCommandMessage in = ECL__RESTATE__INPUT_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

	v.content.data = (uint8_t *)json;
	v.content.len = strlen(json);
	in.value = &v;
	add(j, RESTATE_INPUT, &in.base);
}

static void journal_free(journal *j)
{
	int i;

	for (i = 0; i < j->n; i++)
		free(j->entries[i].body);
	free(j->status);
	memset(j, 0, sizeof(*j));
}

/* The request body: StartMessage for key, then every entry. */
static buf request(const journal *j, const char *key)
{
	Ecl__Restate__StartMessage s = ECL__RESTATE__START_MESSAGE__INIT;
	Ecl__Restate__StartMessage__StateEntry e = ECL__RESTATE__START_MESSAGE__STATE_ENTRY__INIT;
	Ecl__Restate__StartMessage__StateEntry *ep = &e;
	buf b = {0};
	int i;

	s.id.data = (uint8_t *)"inv";
	s.id.len = 3;
	s.debug_id = "inv_test";
	s.key = (char *)key;
	s.known_entries = (uint32_t)j->n;
	s.partial_state = j->partial;
	if (j->status) {
		e.key.data = (uint8_t *)RESTATE_STATUS_KEY;
		e.key.len = strlen(RESTATE_STATUS_KEY);
		e.value.data = (uint8_t *)j->status;
		e.value.len = strlen(j->status);
		s.n_state_map = 1;
		s.state_map = &ep;
	}
	restate_frame_put(&b, RESTATE_START, &s.base);
	for (i = 0; i < j->n; i++) {
		uint8_t h[8] = {(uint8_t)(j->entries[i].type >> 8),
				(uint8_t)j->entries[i].type,
				0,
				0,
				(uint8_t)(j->entries[i].len >> 24),
				(uint8_t)(j->entries[i].len >> 16),
				(uint8_t)(j->entries[i].len >> 8),
				(uint8_t)j->entries[i].len};

		buf_append(&b, (const char *)h, 8);
		buf_append(&b, (const char *)j->entries[i].body, j->entries[i].len);
	}
	cr_assert(!b.oom);
	return b;
}

/* What one invocation answered. */
typedef struct answer {
	restate_reply r;
	restate_frame frames[64];
	int n;
} answer;

static void invoke(ecl_engine *e, const char *service, const char *handler, const journal *j,
		   const char *key, answer *a)
{
	buf req = request(j, key);
	char path[256];
	size_t pos = 0;
	char why[256];

	snprintf(path, sizeof(path), "/invoke/%s/%s", service, handler);
	memset(a, 0, sizeof(*a));
	cr_assert_eq(restate_handle(e, "POST", path, CT5, NULL, (const uint8_t *)req.data, req.len,
				    &a->r),
		     ECL_OK);
	buf_free(&req);
	cr_assert_eq(a->r.status, 200, "HTTP %d: %s", a->r.status,
		     a->r.body.data ? a->r.body.data : "");
	cr_assert_str_eq(a->r.content_type, CT5);
	while (restate_frame_next((const uint8_t *)a->r.body.data, a->r.body.len, &pos,
				  &a->frames[a->n], why, sizeof(why)) == ECL_OK)
		a->n++;
	cr_assert_eq(pos, a->r.body.len, "the answer has trailing bytes");
}

/* Apply what the endpoint wrote to the journal as Restate would: commands are appended, a
 * proposed run completion becomes its notification, SetState updates the state. Returns
 * the type of the last frame (Suspension, End, Error). */
static uint16_t apply(journal *j, const answer *a)
{
	int i;

	for (i = 0; i < a->n; i++) {
		const restate_frame *f = &a->frames[i];

		if (f->type == RESTATE_PROPOSE_RUN) {
			Ecl__Restate__ProposeRunCompletionMessage *p =
				ecl__restate__propose_run_completion_message__unpack(NULL, f->len,
										     f->body);
			Ecl__Restate__RunCompletionNotificationMessage n =
				ECL__RESTATE__RUN_COMPLETION_NOTIFICATION_MESSAGE__INIT;
			Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

			cr_assert_not_null(p);
			n.completion_id = p->result_completion_id;
			n.result_case =
				ECL__RESTATE__RUN_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE;
			v.content = p->value;
			n.value = &v;
			add(j, RESTATE_RUN_DONE, &n.base);
			ecl__restate__propose_run_completion_message__free_unpacked(p, NULL);
		} else if (f->type == RESTATE_SET_STATE) {
			Ecl__Restate__SetStateCommandMessage *s =
				ecl__restate__set_state_command_message__unpack(NULL, f->len,
										f->body);

			cr_assert_not_null(s);
			if (s->key.len == strlen(RESTATE_STATUS_KEY) &&
			    memcmp(s->key.data, RESTATE_STATUS_KEY, s->key.len) == 0) {
				free(j->status);
				j->status = strndup((const char *)s->value->content.data,
						    s->value->content.len);
			}
			ecl__restate__set_state_command_message__free_unpacked(s, NULL);
			add_raw(j, f->type, f->body, f->len);
		} else if (f->type == RESTATE_PEEK_PROMISE) {
			/* answered at once: completed when a pause of that number was asked */
			Ecl__Restate__PeekPromiseCommandMessage *p =
				ecl__restate__peek_promise_command_message__unpack(NULL, f->len,
										   f->body);
			Ecl__Restate__PeekPromiseCompletionNotificationMessage n =
				ECL__RESTATE__PEEK_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__INIT;
			Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;
			Ecl__Restate__Void nothing = ECL__RESTATE__VOID__INIT;
			int nth = 0;

			cr_assert_not_null(p);
			cr_assert_eq(sscanf(p->key, "pause#%d", &nth), 1, "%s", p->key);
			add_raw(j, f->type, f->body, f->len);
			n.completion_id = p->result_completion_id;
			if (nth <= j->paused) {
				n.result_case =
					ECL__RESTATE__PEEK_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE;
				v.content.data = (uint8_t *)"true";
				v.content.len = 4;
				n.value = &v;
			} else {
				n.result_case =
					ECL__RESTATE__PEEK_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VOID;
				n.void_ = &nothing;
			}
			add(j, RESTATE_PEEK_PROMISE_DONE, &n.base);
			ecl__restate__peek_promise_command_message__free_unpacked(p, NULL);
		} else if (f->type >= RESTATE_INPUT && f->type < 0x8000) {
			add_raw(j, f->type, f->body, f->len);
		}
	}
	cr_assert(a->n > 0);
	return a->frames[a->n - 1].type;
}

static void answer_free(answer *a)
{
	buf_free(&a->r.body);
}

static Ecl__Restate__ErrorMessage *error_of(const answer *a)
{
	const restate_frame *f = &a->frames[a->n - 1];

	cr_assert_eq(f->type, RESTATE_ERROR, "the answer ends with 0x%04x, not an error", f->type);
	return ecl__restate__error_message__unpack(NULL, f->len, f->body);
}

/* The OutputCommand of an answer, which must end with it and End. */
static Ecl__Restate__OutputCommandMessage *output_of(const answer *a)
{
	const restate_frame *f;

	cr_assert(a->n >= 2);
	cr_assert_eq(a->frames[a->n - 1].type, RESTATE_END);
	f = &a->frames[a->n - 2];
	cr_assert_eq(f->type, RESTATE_OUTPUT, "0x%04x before End", f->type);
	return ecl__restate__output_command_message__unpack(NULL, f->len, f->body);
}

typedef struct fixture {
	char *dir;
	ecl_engine *e;
} fixture;

static void setup(fixture *fx, const char *script)
{
	fx->dir = ts_tmpdir();
	if (script)
		ts_write(ts_path(fx->dir, "script.json"), script);
	fx->e = ts_engine(ts_path(fx->dir, "runs.db"),
			  script ? ts_path(fx->dir, "script.json") : NULL,
			  ts_path(fx->dir, "calls.log"));
}

static void teardown(fixture *fx)
{
	ecl_engine_close(fx->e);
	ts_rmtree(fx->dir);
	free(fx->dir);
}

/* The index of the first frame of that type in an answer, or -1. */
static int frame_of(const answer *a, uint16_t type)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (a->frames[i].type == type)
			return i;
	return -1;
}

/* Drive an invocation of service's run through suspensions until it ends, or suspends
 * without a proposal of its own (it awaits a promise); returns invocations made. */
static int drive_wf(fixture *fx, const char *service, journal *j, const char *key, answer *last)
{
	int rounds = 0;

	for (;;) {
		uint16_t t;

		invoke(fx->e, service, "run", j, key, last);
		rounds++;
		t = apply(j, last);
		if (t != RESTATE_SUSPENSION || frame_of(last, RESTATE_PROPOSE_RUN) < 0)
			return rounds;
		answer_free(last);
		cr_assert(rounds < 40, "no end in sight");
	}
}

/* Drive an invocation to its end through suspensions; returns invocations made. */
static int drive(fixture *fx, journal *j, const char *key, answer *last)
{
	return drive_wf(fx, "critique-revise", j, key, last);
}

#define TEA "{\"topic\": \"tea\"}"

/* Open an engine with the script (or none) and start the journal j with the input. */
static void start(fixture *fx, const char *script, journal *j, const char *input)
{
	memset(j, 0, sizeof(*j));
	setup(fx, script);
	add_input(j, input);
}

/* Free the last answer and the journal, close the engine and remove its directory. */
static void finish(fixture *fx, journal *j, answer *a)
{
	answer_free(a);
	journal_free(j);
	teardown(fx);
}

/* What an error message says: its code, the command it names and its text. */
typedef struct error_info {
	uint32_t code;
	uint32_t index;
	char message[1024];
} error_info;

/* The error an answer ends with, copied out of its message. */
static error_info error_in(const answer *a)
{
	Ecl__Restate__ErrorMessage *m = error_of(a);
	error_info e;

	e.code = m->code;
	e.index = m->related_command_index;
	snprintf(e.message, sizeof(e.message), "%s", m->message);
	ecl__restate__error_message__free_unpacked(m, NULL);
	return e;
}

/* The failure an answer ends with (Output with a failure, then End): its code, and the
 * message in msg. */
static uint32_t failure_of(const answer *a, char *msg, size_t n)
{
	Ecl__Restate__OutputCommandMessage *out = output_of(a);
	uint32_t code;

	cr_assert_eq(out->result_case, ECL__RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_FAILURE);
	code = out->failure->code;
	snprintf(msg, n, "%s", out->failure->message);
	ecl__restate__output_command_message__free_unpacked(out, NULL);
	return code;
}

/* The value of an answer's output (which must be a value), NUL-terminated, its length in
 * len; the caller frees it. */
static char *output_value(const answer *a, size_t *len)
{
	Ecl__Restate__OutputCommandMessage *out = output_of(a);
	char *text;

	cr_assert_eq(out->result_case, ECL__RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_VALUE);
	text = strndup((const char *)out->value->content.data, out->value->content.len);
	cr_assert_not_null(text);
	if (len)
		*len = out->value->content.len;
	ecl__restate__output_command_message__free_unpacked(out, NULL);
	return text;
}

/* Journal a RunCommand of step name with completion id cid. */
static void add_run(journal *j, uint32_t cid, const char *name)
{
	Ecl__Restate__RunCommandMessage rc = ECL__RESTATE__RUN_COMMAND_MESSAGE__INIT;

	rc.result_completion_id = cid;
	rc.name = (char *)name;
	add(j, RESTATE_RUN, &rc.base);
}

/* Journal the (void) signal idx, as Restate sends a cancellation. */
static void add_signal(journal *j, uint32_t idx)
{
	Ecl__Restate__SignalNotificationMessage sig =
		ECL__RESTATE__SIGNAL_NOTIFICATION_MESSAGE__INIT;
	Ecl__Restate__Void nothing = ECL__RESTATE__VOID__INIT;

	sig.signal_id_case = ECL__RESTATE__SIGNAL_NOTIFICATION_MESSAGE__SIGNAL_ID_IDX;
	sig.idx = idx;
	sig.result_case = ECL__RESTATE__SIGNAL_NOTIFICATION_MESSAGE__RESULT_VOID;
	sig.void_ = &nothing;
	add(j, RESTATE_SIGNAL, &sig.base);
}

/* Journal the completion cid of a GetLazyState with the value. */
static void add_lazy_state_done(journal *j, uint32_t cid, const char *value)
{
	Ecl__Restate__GetLazyStateCompletionNotificationMessage n =
		ECL__RESTATE__GET_LAZY_STATE_COMPLETION_NOTIFICATION_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

	n.completion_id = cid;
	n.result_case = ECL__RESTATE__GET_LAZY_STATE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE;
	v.content.data = (uint8_t *)value;
	v.content.len = strlen(value);
	n.value = &v;
	add(j, RESTATE_GET_LAZY_STATE_DONE, &n.base);
}

/* Journal a SetState of the key to the value. */
static void add_set_state(journal *j, ProtobufCBinaryData key, const char *value)
{
	Ecl__Restate__SetStateCommandMessage s = ECL__RESTATE__SET_STATE_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

	s.key = key;
	v.content.data = (uint8_t *)value;
	v.content.len = strlen(value);
	s.value = &v;
	add(j, RESTATE_SET_STATE, &s.base);
}

/* Whether the frame is a SetState of a key that starts with prefix (state_key_is: of an
 * answer, entry_key_is: of a journal). */
#define state_key_is(f, prefix) state_key_of((f)->type, (f)->body, (f)->len, prefix)
#define entry_key_is(f, prefix) state_key_of((f)->type, (f)->body, (f)->len, prefix)
static int state_key_of(uint16_t type, const uint8_t *body, size_t len, const char *prefix)
{
	Ecl__Restate__SetStateCommandMessage *s;
	int yes;

	if (type != RESTATE_SET_STATE)
		return 0;
	s = ecl__restate__set_state_command_message__unpack(NULL, len, body);
	cr_assert_not_null(s);
	yes = s->key.len >= strlen(prefix) && memcmp(s->key.data, prefix, strlen(prefix)) == 0;
	ecl__restate__set_state_command_message__free_unpacked(s, NULL);
	return yes;
}

/* The value a SetState frame sets (caller frees). */
static char *state_value(const restate_frame *f)
{
	Ecl__Restate__SetStateCommandMessage *s =
		ecl__restate__set_state_command_message__unpack(NULL, f->len, f->body);
	char *text;

	cr_assert_not_null(s);
	text = strndup((const char *)s->value->content.data, s->value->content.len);
	ecl__restate__set_state_command_message__free_unpacked(s, NULL);
	return text;
}

/* Append the first n entries of from to to, byte for byte. */
static void copy_entries(journal *to, const journal *from, int n)
{
	int i;

	for (i = 0; i < n; i++)
		add_raw(to, from->entries[i].type, from->entries[i].body, from->entries[i].len);
}

/* Append the entries of from to to, each entry of that type journaled by with instead. */
static void rewrite(journal *to, const journal *from, uint16_t type,
		    void (*with)(journal *, const frame *))
{
	int i;

	for (i = 0; i < from->n; i++) {
		const frame *f = &from->entries[i];

		if (f->type == type)
			with(to, f);
		else
			add_raw(to, f->type, f->body, f->len);
	}
}

/* ---- frames ------------------------------------------------------------------------------ */

/* Check that the frame of that type holding msg is the len bytes want, to the byte. */
static void assert_frame_bytes(uint16_t type, const ProtobufCMessage *msg, const uint8_t *want,
			       size_t len)
{
	buf b = {0};

	restate_frame_put(&b, type, msg);
	cr_assert_eq(b.len, len);
	cr_assert_arr_eq(b.data, want, len);
	buf_free(&b);
}

Test(restate, frame_header_bytes)
{
	Ecl__Restate__SuspensionMessage s = ECL__RESTATE__SUSPENSION_MESSAGE__INIT;
	uint32_t cid = 3;
	buf b = {0};
	static const uint8_t want[] = {0x00, 0x03, 0,   0, 0, 0, 0, 0, /* End, empty */
				       0x00, 0x01, 0,   0, 0, 0, 0, 3, /* Suspension, 3 bytes */
				       0x0a, 0x01, 0x03};              /* field 1, packed [3] */
	restate_frame f;
	size_t pos = 0;
	char why[128];

	restate_frame_put(&b, RESTATE_END, NULL);
	s.n_waiting_completions = 1;
	s.waiting_completions = &cid;
	restate_frame_put(&b, RESTATE_SUSPENSION, &s.base);
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_arr_eq(b.data, want, sizeof(want));
	cr_assert_eq(restate_frame_next((uint8_t *)b.data, b.len, &pos, &f, why, sizeof(why)),
		     ECL_OK);
	cr_assert_eq(f.type, RESTATE_END);
	cr_assert_eq(f.len, 0);
	cr_assert_eq(restate_frame_next((uint8_t *)b.data, b.len, &pos, &f, why, sizeof(why)),
		     ECL_OK);
	cr_assert_eq(f.type, RESTATE_SUSPENSION);
	cr_assert_eq(f.len, 3);
	cr_assert_eq(restate_frame_next((uint8_t *)b.data, b.len, &pos, &f, why, sizeof(why)),
		     ECL_ENOTFOUND);
	buf_free(&b);
}

Test(restate, frames_cut_short)
{
	static const uint8_t header[] = {0x04, 0x00, 0, 0};
	static const uint8_t body[] = {0x04, 0x11, 0, 0, 0, 0, 0, 9, 0x58, 0x01};
	restate_frame f;
	size_t pos = 0;
	char why[256];

	cr_assert_eq(restate_frame_next(header, sizeof(header), &pos, &f, why, sizeof(why)),
		     ECL_EINPUT);
	cr_assert(strstr(why, "header at byte 0"), "%s", why);
	pos = 0;
	cr_assert_eq(restate_frame_next(body, sizeof(body), &pos, &f, why, sizeof(why)),
		     ECL_EINPUT);
	cr_assert(strstr(why, "0x0411") && strstr(why, "9 bytes"), "%s", why);
}

Test(restate, run_command_bytes)
{
	/* RunCommandMessage{result_completion_id = 1, name = "generate"}: fields 11 and 12. */
	Ecl__Restate__RunCommandMessage m = ECL__RESTATE__RUN_COMMAND_MESSAGE__INIT;
	static const uint8_t want[] = {0x04, 0x11, 0,   0,   0,   0,   0,   12,  0x58, 0x01,
				       0x62, 0x08, 'g', 'e', 'n', 'e', 'r', 'a', 't',  'e'};

	m.result_completion_id = 1;
	m.name = "generate";
	assert_frame_bytes(RESTATE_RUN, &m.base, want, sizeof(want));
}

/* ---- requests ---------------------------------------------------------------------------- */

Test(restate, discovery_manifest)
{
	fixture fx;
	restate_reply r;
	cJSON *m, *s;

	setup(&fx, NULL);
	cr_assert_eq(restate_handle(fx.e, "GET", "/discover", NULL,
				    "application/vnd.restate.endpointmanifest.v1+json", NULL, 0,
				    &r),
		     ECL_OK);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.content_type, "application/vnd.restate.endpointmanifest.v1+json");
	m = cJSON_Parse(r.body.data);
	cr_assert_not_null(m);
	cr_assert_str_eq(cJSON_GetObjectItem(m, "protocolMode")->valuestring, "REQUEST_RESPONSE");
	cr_assert_eq(cJSON_GetObjectItem(m, "minProtocolVersion")->valueint, 5);
	cr_assert_eq(cJSON_GetObjectItem(m, "maxProtocolVersion")->valueint, 6);
	s = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "services"), 1);
	cr_assert_str_eq(cJSON_GetObjectItem(s, "name")->valuestring, "critique-revise");
	cr_assert_str_eq(cJSON_GetObjectItem(s, "ty")->valuestring, "WORKFLOW");
	cr_assert(strstr(r.body.data, "{\"name\":\"run\",\"ty\":\"WORKFLOW\"}"));
	cr_assert(strstr(r.body.data, "{\"name\":\"get_status\",\"ty\":\"SHARED\"}"));
	cr_assert(strstr(r.body.data, "{\"name\":\"answer\",\"ty\":\"SHARED\"}"));
	cr_assert(strstr(r.body.data, "{\"name\":\"pause\",\"ty\":\"SHARED\"}"));
	cr_assert(strstr(r.body.data, "{\"name\":\"resume\",\"ty\":\"SHARED\"}"));
	cJSON_Delete(m);
	buf_free(&r.body);
	teardown(&fx);
}

Test(restate, unknown_handler_and_content_type)
{
	fixture fx;
	restate_reply r;

	setup(&fx, NULL);
	cr_assert_eq(restate_handle(fx.e, "POST", "/invoke/critique-revise/run",
				    "application/vnd.restate.invocation.v4", NULL, NULL, 0, &r),
		     ECL_OK);
	cr_assert_eq(r.status, 415);
	buf_free(&r.body);
	cr_assert_eq(restate_handle(fx.e, "POST", "/invoke/nope/run", CT5, NULL, NULL, 0, &r),
		     ECL_OK);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body.data, "nope/run"), "%s", r.body.data);
	buf_free(&r.body);
	teardown(&fx);
}

Test(restate, first_invocation_proposes_and_suspends)
{
	fixture fx;
	journal j = {0};
	answer a;
	Ecl__Restate__RunCommandMessage *rc;
	Ecl__Restate__ProposeRunCompletionMessage *p;
	Ecl__Restate__SuspensionMessage *s;

	start(&fx, two_revisions, &j, TEA);
	invoke(fx.e, "critique-revise", "run", &j, "run1", &a);
	cr_assert_eq(a.n, 5);
	cr_assert_eq(a.frames[0].type, RESTATE_RUN);
	cr_assert_eq(a.frames[1].type, RESTATE_PROPOSE_RUN);
	cr_assert(state_key_is(&a.frames[2], "call#1"));
	cr_assert_eq(a.frames[3].type, RESTATE_PEEK_PROMISE);
	cr_assert_eq(a.frames[4].type, RESTATE_SUSPENSION);
	{
		/* the call's record: what was sent, what came back */
		char *rec = state_value(&a.frames[2]);
		cJSON *r = cJSON_Parse(rec), *call;

		cr_assert_str_eq(cJSON_GetObjectItem(r, "step")->valuestring, "generate");
		cr_assert(strstr(cJSON_GetObjectItem(r, "prompt")->valuestring, "tea"), "%s", rec);
		call = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "calls"), 0);
		cr_assert_str_eq(cJSON_GetObjectItem(call, "kind")->valuestring, "first");
		cr_assert(
			strstr(cJSON_GetObjectItem(call, "answer")->valuestring, "Draft v0 on tea"),
			"%s", rec);
		cr_assert(cJSON_GetObjectItem(call, "started_ms")->valuedouble > 0);
		cJSON_Delete(r);
		free(rec);
	}
	{
		/* whether a pause was asked is looked at once the answer is in */
		Ecl__Restate__PeekPromiseCommandMessage *pk =
			ecl__restate__peek_promise_command_message__unpack(NULL, a.frames[3].len,
									   a.frames[3].body);

		cr_assert_str_eq(pk->key, "pause#1");
		cr_assert_eq(pk->result_completion_id, 2);
		ecl__restate__peek_promise_command_message__free_unpacked(pk, NULL);
	}
	rc = ecl__restate__run_command_message__unpack(NULL, a.frames[0].len, a.frames[0].body);
	cr_assert_eq(rc->result_completion_id, 1);
	cr_assert_str_eq(rc->name, "generate");
	p = ecl__restate__propose_run_completion_message__unpack(NULL, a.frames[1].len,
								 a.frames[1].body);
	cr_assert_eq(p->result_completion_id, 1);
	{
		char *text = strndup((const char *)p->value.data, p->value.len);

		cr_assert(strstr(text, "Draft v0 on tea"), "%s", text);
		free(text);
	}
	s = ecl__restate__suspension_message__unpack(NULL, a.frames[4].len, a.frames[4].body);
	cr_assert_eq(s->n_waiting_completions, 1);
	cr_assert_eq(s->waiting_completions[0], 1);
	ecl__restate__run_command_message__free_unpacked(rc, NULL);
	ecl__restate__propose_run_completion_message__free_unpacked(p, NULL);
	ecl__restate__suspension_message__free_unpacked(s, NULL);
	finish(&fx, &j, &a);
}

Test(restate, whole_run_replayed_never_asks_twice)
{
	fixture fx;
	journal j;
	answer a;
	cJSON *st;
	int rounds, i, runs = 0, sets = 0, steps = 0, calls = 0;

	start(&fx, two_revisions, &j, TEA);
	rounds = drive(&fx, &j, "run2", &a);
	/* generate, critique, revise, critique, revise, critique: six answers, six
	 * suspensions, and the seventh invocation ends the run. */
	cr_assert_eq(rounds, 7);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 6,
		     "a journaled step was asked again");
	{
		static const char want[] = "{\"content\":\"Draft v2 on tea\",\"word_count\":4}";
		size_t len;
		char *text = output_value(&a, &len);

		cr_assert_eq(len, strlen(want), "%.*s", (int)len, text);
		cr_assert_arr_eq(text, want, strlen(want));
		free(text);
	}
	for (i = 0; i < j.n; i++) {
		runs += j.entries[i].type == RESTATE_RUN;
		sets += entry_key_is(&j.entries[i], RESTATE_STATUS_KEY);
		steps += entry_key_is(&j.entries[i], "step#");
		calls += entry_key_is(&j.entries[i], "call#");
	}
	cr_assert_eq(runs, 6);
	cr_assert_eq(sets, 6);
	cr_assert_eq(steps, 6, "a record of each transition");
	cr_assert_eq(calls, 6, "a record of each answer");
	st = cJSON_Parse(j.status);
	cr_assert_str_eq(cJSON_GetObjectItem(st, "status")->valuestring, "completed");
	cr_assert_eq(cJSON_GetObjectItem(st, "step_count")->valueint, 6);
	cr_assert_eq(cJSON_GetObjectItem(st, "revisions")->valueint, 2);
	cr_assert_str_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(st, "output"), "content")->valuestring,
		"Draft v2 on tea");
	cJSON_Delete(st);
	finish(&fx, &j, &a);
}

Test(restate, run_command_without_its_answer_asks_then)
{
	/* Killed after RunCommand reached the journal but before the proposal: the next
	 * invocation asks the model and proposes for the journaled completion id. */
	fixture fx;
	journal j;
	answer a;
	Ecl__Restate__ProposeRunCompletionMessage *p;

	start(&fx, two_revisions, &j, TEA);
	add_run(&j, 1, "generate");
	invoke(fx.e, "critique-revise", "run", &j, "run3", &a);
	cr_assert_eq(a.n, 4);
	cr_assert_eq(a.frames[0].type, RESTATE_PROPOSE_RUN);
	p = ecl__restate__propose_run_completion_message__unpack(NULL, a.frames[0].len,
								 a.frames[0].body);
	cr_assert_eq(p->result_completion_id, 1);
	ecl__restate__propose_run_completion_message__free_unpacked(p, NULL);
	cr_assert(state_key_is(&a.frames[1], "call#1"));
	cr_assert_eq(a.frames[2].type, RESTATE_PEEK_PROMISE);
	cr_assert_eq(a.frames[3].type, RESTATE_SUSPENSION);
	finish(&fx, &j, &a);
}

Test(restate, journal_of_another_step_is_a_mismatch)
{
	fixture fx;
	journal j;
	answer a;
	error_info err;

	start(&fx, two_revisions, &j, TEA);
	add_run(&j, 1, "outline"); /* a step an older version of the workflow had */
	invoke(fx.e, "critique-revise", "run", &j, "run4", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert_eq(err.index, 1);
	cr_assert(strstr(err.message, "`outline`") && strstr(err.message, "`generate`"), "%s",
		  err.message);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 0);
	finish(&fx, &j, &a);
}

/* Journal the SetState f with the workflow version its status names changed (a history
 * record as it is). */
static void flip_version(journal *to, const frame *f)
{
	Ecl__Restate__SetStateCommandMessage *s =
		ecl__restate__set_state_command_message__unpack(NULL, f->len, f->body);
	char *v = strndup((char *)s->value->content.data, s->value->content.len);
	char *at = strstr(v, "\"version\":\"");

	if (!entry_key_is(f, RESTATE_STATUS_KEY)) {
		add_raw(to, f->type, f->body, f->len);
		free(v);
		ecl__restate__set_state_command_message__free_unpacked(s, NULL);
		return;
	}
	cr_assert_not_null(at);
	at[11] = at[11] == '0' ? '1' : '0';
	add_set_state(to, s->key, v);
	free(v);
	ecl__restate__set_state_command_message__free_unpacked(s, NULL);
}

Test(restate, changed_status_is_a_mismatch)
{
	/* The journal of a run under another version of the workflow: its first SetState
	 * names that version. */
	fixture fx;
	journal j, k = {0};
	answer a;
	error_info err;

	start(&fx, two_revisions, &j, TEA);
	invoke(fx.e, "critique-revise", "run", &j, "run5", &a);
	apply(&j, &a);
	answer_free(&a);
	invoke(fx.e, "critique-revise", "run", &j, "run5", &a);
	apply(&j, &a);
	answer_free(&a);
	/* rewrite the journal with the SetState's version changed */
	rewrite(&k, &j, RESTATE_SET_STATE, flip_version);
	invoke(fx.e, "critique-revise", "run", &k, "run5", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert(strstr(err.message, "after step `generate`"), "%s", err.message);
	journal_free(&k);
	finish(&fx, &j, &a);
}

Test(restate, bad_input_ends_the_invocation_naming_it)
{
	fixture fx;
	journal j;
	answer a;
	char msg[1024];

	start(&fx, two_revisions, &j, "{\"topic\": 42}");
	invoke(fx.e, "critique-revise", "run", &j, "run6", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "topic"), "%s", msg);
	finish(&fx, &j, &a);
}

Test(restate, cancel_signal_ends_the_run)
{
	fixture fx;
	journal j;
	answer a;
	char msg[1024];

	start(&fx, two_revisions, &j, TEA);
	invoke(fx.e, "critique-revise", "run", &j, "run7", &a);
	apply(&j, &a);
	answer_free(&a);
	add_signal(&j, 1);
	invoke(fx.e, "critique-revise", "run", &j, "run7", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	apply(&j, &a);
	cr_assert(strstr(j.status, "\"status\":\"cancelled\""), "%s", j.status);
	finish(&fx, &j, &a);
}

Test(restate, get_status_reads_the_state)
{
	fixture fx;
	journal j;
	answer a;
	char *text;
	size_t len;

	start(&fx, NULL, &j, "");
	j.status = strdup("{\"status\":\"running\"}");
	invoke(fx.e, "critique-revise", "get_status", &j, "run8", &a);
	cr_assert_eq(a.frames[0].type, RESTATE_GET_EAGER_STATE);
	text = output_value(&a, &len);
	cr_assert_eq(len, strlen(j.status));
	cr_assert_arr_eq(text, j.status, strlen(j.status));
	free(text);
	answer_free(&a);
	free(j.status);
	j.status = NULL;
	invoke(fx.e, "critique-revise", "get_status", &j, "run8", &a);
	text = output_value(&a, NULL);
	cr_assert_arr_eq(text, "null", 4);
	free(text);
	finish(&fx, &j, &a);
}

Test(restate, get_status_with_partial_state_asks_lazily)
{
	static const char failed[] = "{\"status\":\"failed\"}";
	fixture fx;
	journal j;
	answer a;
	char *text;

	start(&fx, NULL, &j, "");
	j.partial = 1;
	invoke(fx.e, "critique-revise", "get_status", &j, "run9", &a);
	cr_assert_eq(a.n, 2);
	cr_assert_eq(a.frames[0].type, RESTATE_GET_LAZY_STATE);
	cr_assert_eq(a.frames[1].type, RESTATE_SUSPENSION);
	apply(&j, &a);
	answer_free(&a);
	add_lazy_state_done(&j, 1, failed);
	invoke(fx.e, "critique-revise", "get_status", &j, "run9", &a);
	text = output_value(&a, NULL);
	cr_assert_arr_eq(text, failed, strlen(failed));
	free(text);
	finish(&fx, &j, &a);
}

Test(restate, truncated_journal_is_a_protocol_violation)
{
	fixture fx;
	journal j = {0};
	buf req;
	restate_reply r;
	restate_frame f;
	size_t pos = 0;
	char why[256];
	Ecl__Restate__ErrorMessage *err;

	start(&fx, NULL, &j, TEA);
	req = request(&j, "run10");
	cr_assert_eq(restate_handle(fx.e, "POST", "/invoke/critique-revise/run", CT5, NULL,
				    (const uint8_t *)req.data, req.len - 3, &r),
		     ECL_OK);
	cr_assert_eq(
		restate_frame_next((uint8_t *)r.body.data, r.body.len, &pos, &f, why, sizeof(why)),
		ECL_OK);
	cr_assert_eq(f.type, RESTATE_ERROR);
	err = ecl__restate__error_message__unpack(NULL, f.len, f.body);
	cr_assert_eq(err->code, RESTATE_PROTOCOL_VIOLATION);
	cr_assert(strstr(err->message, "0 of the 1 entries"), "%s", err->message);
	ecl__restate__error_message__free_unpacked(err, NULL);
	buf_free(&r.body);
	buf_free(&req);
	journal_free(&j);
	teardown(&fx);
}

/* ---- human steps: durable promises --------------------------------------------------------- */

#define DOCUMENT                                                                                   \
	"Durable execution means that a workflow records each step it completes, so that a "       \
	"process that is killed in the middle of a run can be started again and go on from the "   \
	"last step it recorded instead of from the beginning, without asking a model again for "   \
	"an answer it already has."
#define SUMMARIES                                                                                  \
	"{\"draft\": [{\"summary\": \"A workflow records its steps and resumes after a crash.\"}," \
	" {\"summary\": \"Recorded steps let a killed run go on where it stopped.\"}]}"

Test(restate, promise_command_bytes)
{
	/* GetPromiseCommandMessage{key = "approve#1", result_completion_id = 3,
	 * name = "approve"}: fields 1, 11 and 12. */
	Ecl__Restate__GetPromiseCommandMessage g = ECL__RESTATE__GET_PROMISE_COMMAND_MESSAGE__INIT;
	static const uint8_t want_get[] = {0x04, 0x09, 0,    0,   0,   0,   0,   22,  0x0a, 0x09,
					   'a',  'p',  'p',  'r', 'o', 'v', 'e', '#', '1',  0x58,
					   3,    0x62, 0x07, 'a', 'p', 'p', 'r', 'o', 'v',  'e'};
	/* CompletePromiseCommandMessage{key = "approve#1", completion_value = {content = "{}"},
	 * result_completion_id = 1, name = "approve"}: fields 1, 2, 11 and 12. */
	Ecl__Restate__CompletePromiseCommandMessage c =
		ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;
	static const uint8_t want_complete[] = {0x04, 0x0b, 0,    0,    0,    0,   0,   28,   0x0a,
						0x09, 'a',  'p',  'p',  'r',  'o', 'v', 'e',  '#',
						'1',  0x12, 0x04, 0x0a, 0x02, '{', '}', 0x58, 1,
						0x62, 0x07, 'a',  'p',  'p',  'r', 'o', 'v',  'e'};

	g.key = "approve#1";
	g.result_completion_id = 3;
	g.name = "approve";
	assert_frame_bytes(RESTATE_GET_PROMISE, &g.base, want_get, sizeof(want_get));
	c.key = "approve#1";
	c.completion_case =
		ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__COMPLETION_COMPLETION_VALUE;
	v.content.data = (uint8_t *)"{}";
	v.content.len = 2;
	c.completion_value = &v;
	c.result_completion_id = 1;
	c.name = "approve";
	assert_frame_bytes(RESTATE_COMPLETE_PROMISE, &c.base, want_complete, sizeof(want_complete));
}

Test(restate, promise_notifications_from_bytes)
{
	/* GetPromiseCompletionNotificationMessage{completion_id = 3, value = {content = "{}"}}
	 * and CompletePromiseCompletionNotificationMessage{completion_id = 1, void = {}}, as
	 * Restate sends them. */
	static const uint8_t got[] = {0x08, 0x03, 0x2a, 0x04, 0x0a, 0x02, '{', '}'};
	static const uint8_t done[] = {0x08, 0x01, 0x22, 0x00};
	static const uint8_t failed[] = {0x08, 0x01, 0x32, 0x05, 0x08, 0x99, 0x03, 0x12, 0x00};
	Ecl__Restate__GetPromiseCompletionNotificationMessage *g;
	Ecl__Restate__CompletePromiseCompletionNotificationMessage *c;

	g = ecl__restate__get_promise_completion_notification_message__unpack(NULL, sizeof(got),
									      got);
	cr_assert_not_null(g);
	cr_assert_eq(g->completion_id, 3);
	cr_assert_eq(g->result_case,
		     ECL__RESTATE__GET_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE);
	cr_assert_eq(g->value->content.len, 2);
	cr_assert_arr_eq(g->value->content.data, "{}", 2);
	ecl__restate__get_promise_completion_notification_message__free_unpacked(g, NULL);
	c = ecl__restate__complete_promise_completion_notification_message__unpack(
		NULL, sizeof(done), done);
	cr_assert_not_null(c);
	cr_assert_eq(c->completion_id, 1);
	cr_assert_eq(c->result_case,
		     ECL__RESTATE__COMPLETE_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VOID);
	ecl__restate__complete_promise_completion_notification_message__free_unpacked(c, NULL);
	c = ecl__restate__complete_promise_completion_notification_message__unpack(
		NULL, sizeof(failed), failed);
	cr_assert_not_null(c);
	cr_assert_eq(
		c->result_case,
		ECL__RESTATE__COMPLETE_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_FAILURE);
	cr_assert_eq(c->failure->code, 409);
	ecl__restate__complete_promise_completion_notification_message__free_unpacked(c, NULL);
}

/* The journal of a summarize run given the document. */
static void summarize_input(journal *j)
{
	add_input(j, "{\"document\": \"" DOCUMENT "\"}");
}

/* The GetPromiseCommand in an answer (which must have one), unpacked. */
static Ecl__Restate__GetPromiseCommandMessage *get_promise_of(const answer *a)
{
	int i = frame_of(a, RESTATE_GET_PROMISE);

	cr_assert(i >= 0, "no GetPromiseCommand in the answer");
	return ecl__restate__get_promise_command_message__unpack(NULL, a->frames[i].len,
								 a->frames[i].body);
}

/* Open an engine with the summaries and drive summarize's run key until it waits for the
 * approval; returns the completion id of the promise it awaits. */
static uint32_t summarize_until_waiting(fixture *fx, journal *j, const char *key)
{
	Ecl__Restate__GetPromiseCommandMessage *g;
	answer a;
	uint32_t cid;

	memset(j, 0, sizeof(*j));
	setup(fx, SUMMARIES);
	summarize_input(j);
	drive_wf(fx, "summarize", j, key, &a);
	g = get_promise_of(&a);
	cid = g->result_completion_id;
	ecl__restate__get_promise_command_message__free_unpacked(g, NULL);
	answer_free(&a);
	return cid;
}

/* Start k, the journal of a shared handler of the run: the input text, and the run's status
 * state taken from run_journal. */
static void handler_journal(journal *k, const journal *run_journal, const char *input)
{
	memset(k, 0, sizeof(*k));
	add_input(k, input);
	k->status = run_journal->status ? strdup(run_journal->status) : NULL;
}

/* Invoke `answer` for run key with the input text, the run's status state taken from
 * run_journal, on a journal of its own (k, which the caller frees). */
static void call_answer(fixture *fx, const journal *run_journal, const char *key, const char *input,
			journal *k, answer *a)
{
	handler_journal(k, run_journal, input);
	invoke(fx->e, "summarize", "answer", k, key, a);
}

/* Restate's side of a promise: the notification that completes completion cid of the run
 * with the value. */
static void promise_completed(journal *j, uint32_t cid, const char *value)
{
	Ecl__Restate__GetPromiseCompletionNotificationMessage n =
		ECL__RESTATE__GET_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

	n.completion_id = cid;
	n.result_case = ECL__RESTATE__GET_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VALUE;
	v.content.data = (uint8_t *)value;
	v.content.len = strlen(value);
	n.value = &v;
	add(j, RESTATE_GET_PROMISE_DONE, &n.base);
}

/* Restate's answer to a CompletePromise: done (void), or a failure (completed already). */
static void complete_acknowledged(journal *k, uint32_t cid, int already)
{
	Ecl__Restate__CompletePromiseCompletionNotificationMessage n =
		ECL__RESTATE__COMPLETE_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__INIT;
	Ecl__Restate__Void nothing = ECL__RESTATE__VOID__INIT;
	Ecl__Restate__Failure f = ECL__RESTATE__FAILURE__INIT;

	n.completion_id = cid;
	if (already) {
		f.code = 409;
		f.message = "promise already completed";
		n.result_case =
			ECL__RESTATE__COMPLETE_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_FAILURE;
		n.failure = &f;
	} else {
		n.result_case =
			ECL__RESTATE__COMPLETE_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_VOID;
		n.void_ = &nothing;
	}
	add(k, RESTATE_COMPLETE_PROMISE_DONE, &n.base);
}

Test(restate, human_step_awaits_a_promise_that_answer_completes)
{
	fixture fx;
	journal j = {0}, k;
	answer a;
	Ecl__Restate__GetPromiseCommandMessage *g;
	Ecl__Restate__SuspensionMessage *s;
	Ecl__Restate__CompletePromiseCommandMessage *cp;
	cJSON *st;
	char msg[1024], *text;
	uint32_t cid;
	int i;

	setup(&fx, SUMMARIES);
	summarize_input(&j);
	drive_wf(&fx, "summarize", &j, "h1", &a);
	/* draft asked, check ran, approve waits: status, GetPromise, suspension. */
	cr_assert_eq(a.frames[a.n - 1].type, RESTATE_SUSPENSION);
	cr_assert_eq(a.frames[a.n - 3].type, RESTATE_SET_STATE);
	cr_assert_eq(a.frames[a.n - 2].type, RESTATE_GET_PROMISE);
	g = get_promise_of(&a);
	cr_assert_str_eq(g->key, "approve#1");
	cr_assert_str_eq(g->name, "approve");
	cid = g->result_completion_id;
	cr_assert_eq(cid, 3, "draft's answer was completion 1, the peek at pause#1 2");
	ecl__restate__get_promise_command_message__free_unpacked(g, NULL);
	s = ecl__restate__suspension_message__unpack(NULL, a.frames[a.n - 1].len,
						     a.frames[a.n - 1].body);
	cr_assert_eq(s->n_waiting_completions, 1);
	cr_assert_eq(s->waiting_completions[0], cid);
	cr_assert_eq(s->n_waiting_signals, 1, "a waiting run can be cancelled");
	cr_assert_eq(s->waiting_signals[0], RESTATE_CANCEL_SIGNAL);
	ecl__restate__suspension_message__free_unpacked(s, NULL);
	answer_free(&a);
	st = cJSON_Parse(j.status);
	cr_assert_str_eq(cJSON_GetObjectItem(st, "status")->valuestring, "waiting");
	cr_assert_str_eq(cJSON_GetObjectItem(st, "step")->valuestring, "approve");
	cr_assert_str_eq(cJSON_GetObjectItem(st, "promise")->valuestring, "approve#1");
	cr_assert(strstr(cJSON_GetObjectItem(st, "question")->valuestring,
			 "Approve this summary of 10 words?"),
		  "%s", j.status);
	cJSON_Delete(st);

	/* Invoked again before the answer (a retry): nothing new, the same suspension. */
	invoke(fx.e, "summarize", "run", &j, "h1", &a);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(a.frames[0].type, RESTATE_SUSPENSION);
	answer_free(&a);

	/* get_status reads the waiting status. */
	handler_journal(&k, &j, "");
	invoke(fx.e, "summarize", "get_status", &k, "h1", &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "\"status\":\"waiting\""));
	free(text);
	answer_free(&a);
	journal_free(&k);

	/* A wrong-typed answer is refused naming the field; a missing field too. */
	call_answer(&fx, &j, "h1", "{\"fields\": {\"approved\": \"maybe\"}}", &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "field `approved` of step `approve` is a bool"), "%s", msg);
	cr_assert_eq(frame_of(&a, RESTATE_COMPLETE_PROMISE), -1);
	answer_free(&a);
	journal_free(&k);
	call_answer(&fx, &j, "h1", "{\"fields\": {\"comment\": \"Fine\"}}", &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "needs field `approved`"), "%s", msg);
	answer_free(&a);
	journal_free(&k);
	call_answer(&fx, &j, "h1", "{\"approved\": true}", &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "\"fields\""), "%s", msg);
	answer_free(&a);
	journal_free(&k);
	call_answer(&fx, &j, "h1", "", &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	answer_free(&a);
	journal_free(&k);

	/* A good answer (text as --set gives it, or typed JSON) completes the promise. */
	call_answer(&fx, &j, "h1", "{\"fields\": {\"approved\": \"true\", \"comment\": \"Good\"}}",
		    &k, &a);
	cr_assert_eq(a.frames[0].type, RESTATE_GET_EAGER_STATE);
	i = frame_of(&a, RESTATE_COMPLETE_PROMISE);
	cr_assert(i > 0);
	cp = ecl__restate__complete_promise_command_message__unpack(NULL, a.frames[i].len,
								    a.frames[i].body);
	cr_assert_str_eq(cp->key, "approve#1");
	cr_assert_eq(cp->completion_case,
		     ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__COMPLETION_COMPLETION_VALUE);
	{
		static const char want[] = "{\"approved\":true,\"comment\":\"Good\"}";

		cr_assert_eq(cp->completion_value->content.len, strlen(want));
		cr_assert_arr_eq(cp->completion_value->content.data, want, strlen(want));
		/* Restate completes the run's promise with it. */
		promise_completed(&j, cid, want);
	}
	cr_assert_eq(a.frames[a.n - 1].type, RESTATE_SUSPENSION);
	apply(&k, &a);
	answer_free(&a);
	complete_acknowledged(&k, cp->result_completion_id, 0);
	ecl__restate__complete_promise_command_message__free_unpacked(cp, NULL);
	invoke(fx.e, "summarize", "answer", &k, "h1", &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "\"step\":\"approve\""));
	free(text);
	answer_free(&a);
	journal_free(&k);

	/* Answered twice: the second CompletePromise finds the promise completed. */
	call_answer(&fx, &j, "h1", "{\"fields\": {\"approved\": false}}", &k, &a);
	apply(&k, &a);
	answer_free(&a);
	complete_acknowledged(&k, 1, 1);
	invoke(fx.e, "summarize", "answer", &k, "h1", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	cr_assert(strstr(msg, "answered already"), "%s", msg);
	answer_free(&a);
	journal_free(&k);

	/* The run replays the promise's value from the journal and completes. */
	invoke(fx.e, "summarize", "run", &j, "h1", &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "\"comment\":\"Good\"") && strstr(text, "\"drafts\":1"), "%s", text);
	free(text);
	apply(&j, &a);
	answer_free(&a);
	cr_assert(strstr(j.status, "\"status\":\"completed\""), "%s", j.status);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 1,
		     "the draft was asked again");

	/* Answering a run that does not wait is refused. */
	call_answer(&fx, &j, "h1", "{\"fields\": {\"approved\": true}}", &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	cr_assert(strstr(msg, "run h1 is completed: it does not wait for an answer"), "%s", msg);
	answer_free(&a);
	journal_free(&k);
	/* ... and one that does not exist. */
	memset(&k, 0, sizeof(k));
	add_input(&k, "{\"fields\": {\"approved\": true}}");
	invoke(fx.e, "summarize", "answer", &k, "nope", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 404);
	cr_assert(strstr(msg, "no run nope"), "%s", msg);
	journal_free(&k);
	finish(&fx, &j, &a);
}

Test(restate, loop_back_to_a_human_step_awaits_a_fresh_promise)
{
	fixture fx;
	journal j;
	answer a;
	Ecl__Restate__GetPromiseCommandMessage *g;
	uint32_t cid;
	char *text;

	cid = summarize_until_waiting(&fx, &j, "h2");
	/* Refused: reviewed, then a second draft, check, and approve again. */
	promise_completed(&j, cid, "{\"approved\":false,\"comment\":\"Too vague\"}");
	drive_wf(&fx, "summarize", &j, "h2", &a);
	g = get_promise_of(&a);
	cr_assert_str_eq(g->key, "approve#2");
	cr_assert_gt(g->result_completion_id, cid);
	cid = g->result_completion_id;
	ecl__restate__get_promise_command_message__free_unpacked(g, NULL);
	answer_free(&a);
	cr_assert(strstr(j.status, "\"promise\":\"approve#2\""), "%s", j.status);
	promise_completed(&j, cid, "{\"approved\":true}");
	drive_wf(&fx, "summarize", &j, "h2", &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "\"drafts\":2") && strstr(text, "go on where it stopped"), "%s",
		  text);
	free(text);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 2);
	finish(&fx, &j, &a);
}

/* Journal a GetPromise of another step (sign_off) where the journal awaited approve. */
static void promise_of_another_step(journal *to, const frame *f)
{
	Ecl__Restate__GetPromiseCommandMessage g = ECL__RESTATE__GET_PROMISE_COMMAND_MESSAGE__INIT;

	(void)f;
	g.key = "sign_off#1";
	g.result_completion_id = 2;
	add(to, RESTATE_GET_PROMISE, &g.base);
}

Test(restate, human_step_journal_mismatches_and_rejected_promise)
{
	fixture fx;
	journal j, k = {0};
	answer a;
	error_info err;
	Ecl__Restate__GetPromiseCompletionNotificationMessage n =
		ECL__RESTATE__GET_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__INIT;
	Ecl__Restate__Failure f = ECL__RESTATE__FAILURE__INIT;
	char msg[1024];

	summarize_until_waiting(&fx, &j, "h3");
	/* The same journal with the promise of another step: a mismatch. */
	rewrite(&k, &j, RESTATE_GET_PROMISE, promise_of_another_step);
	invoke(fx.e, "summarize", "run", &k, "h3", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert(strstr(err.message, "approve#1"), "%s", err.message);
	answer_free(&a);
	journal_free(&k);
	/* A promise rejected (by something else than `answer`) fails the run. */
	n.completion_id = 3;
	n.result_case = ECL__RESTATE__GET_PROMISE_COMPLETION_NOTIFICATION_MESSAGE__RESULT_FAILURE;
	f.code = 500;
	f.message = "nobody will answer";
	n.failure = &f;
	add(&j, RESTATE_GET_PROMISE_DONE, &n.base);
	invoke(fx.e, "summarize", "run", &j, "h3", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 500);
	cr_assert(strstr(msg, "nobody will answer") && strstr(msg, "`approve`"), "%s", msg);
	apply(&j, &a);
	cr_assert(strstr(j.status, "\"status\":\"failed\""), "%s", j.status);
	finish(&fx, &j, &a);
}

Test(restate, waiting_run_is_cancelled)
{
	fixture fx;
	journal j;
	answer a;
	char msg[256];

	summarize_until_waiting(&fx, &j, "h4");
	add_signal(&j, RESTATE_CANCEL_SIGNAL);
	invoke(fx.e, "summarize", "run", &j, "h4", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	apply(&j, &a);
	cr_assert(strstr(j.status, "\"status\":\"cancelled\""), "%s", j.status);
	finish(&fx, &j, &a);
}

Test(restate, answer_fields_checked_without_a_run)
{
	const ecl_workflow *wf = ts_workflow("summarize");
	char err[512], *json = NULL;

	cr_assert_eq(ecl_workflow_answer_fields(wf, "approve",
						"{\"approved\": \"false\", \"comment\": \"No\"}",
						&json, err, sizeof(err)),
		     ECL_OK, "%s", err);
	cr_assert_str_eq(json, "{\"approved\":false,\"comment\":\"No\"}");
	free(json);
	cr_assert_eq(ecl_workflow_answer_fields(wf, "approve", "{\"approved\": 1}", &json, err,
						sizeof(err)),
		     ECL_EINPUT);
	cr_assert_null(json);
	cr_assert(strstr(err, "approved"), "%s", err);
	cr_assert_eq(ecl_workflow_answer_fields(wf, "approve", "{\"approved\": true, \"mood\": 1}",
						&json, err, sizeof(err)),
		     ECL_EINPUT);
	cr_assert(strstr(err, "no field `mood`") && strstr(err, "approved, comment (optional)"),
		  "%s", err);
	cr_assert_eq(ecl_workflow_answer_fields(wf, "draft", "{}", &json, err, sizeof(err)),
		     ECL_EUSAGE);
	cr_assert(strstr(err, "no human step `draft`"), "%s", err);
	/* text a run cannot hold is refused naming the field, before a parser cuts it */
	cr_assert_eq(ecl_workflow_answer_fields(wf, "approve",
						"{\"approved\": true, \"comment\": \"a\\u0000b\"}",
						&json, err, sizeof(err)),
		     ECL_EINPUT);
	cr_assert(strstr(err, "field `comment` of step `approve` holds a NUL character"), "%s",
		  err);
	cr_assert_eq(ecl_workflow_answer_fields(wf, "approve", "{\"approved\\ud800\": true}", &json,
						err, sizeof(err)),
		     ECL_EINPUT);
	cr_assert(strstr(err, "a field name of the answer to step `approve` holds an invalid"),
		  "%s", err);
	cr_assert_eq(ecl_workflow_answer_fields(wf, "approve",
						"{\"approved\": true, \"comment\": \"\xff\"}",
						&json, err, sizeof(err)),
		     ECL_EINPUT);
	cr_assert(strstr(err, "field `comment` of step `approve` holds bytes that are not UTF-8"),
		  "%s", err);
	cr_assert_eq(
		ecl_workflow_answer_fields(wf, "approve", "[\"\\u0000\"]", &json, err, sizeof(err)),
		ECL_EINPUT);
	cr_assert(strstr(err, "the answer to step `approve` holds a NUL character"), "%s", err);
}

/* Invoke with the N-th allocation and every later one failing, for every N until the
 * invocation gets through: each time the endpoint answers ECL_ENOMEM, or frames that end
 * with a suspension, an End or a (retryable) error, never a crash. */
static void every_allocation_may_fail(fixture *fx, const char *handler, const journal *j,
				      const char *key)
{
	buf req = request(j, key), want = {0};
	char path[128];
	restate_reply r;
	long n;

	snprintf(path, sizeof(path), "/invoke/summarize/%s", handler);
	cr_assert_eq(restate_handle(fx->e, "POST", path, CT5, NULL, (const uint8_t *)req.data,
				    req.len, &r),
		     ECL_OK);
	want = r.body;
	for (n = 0; n < 100000; n++) {
		int rc, same;

		ecl_test_fail_alloc_after(n);
		rc = restate_handle(fx->e, "POST", path, CT5, NULL, (const uint8_t *)req.data,
				    req.len, &r);
		ecl_test_fail_alloc_after(-1);
		same = rc == ECL_OK && r.body.len == want.len &&
		       memcmp(r.body.data, want.data, want.len) == 0;
		if (rc == ECL_OK && !same) {
			restate_frame f = {0}, last = {0};
			size_t pos = 0;
			char why[256];

			while (restate_frame_next((const uint8_t *)r.body.data, r.body.len, &pos,
						  &f, why, sizeof(why)) == ECL_OK)
				last = f;
			cr_assert_eq(pos, r.body.len, "%s after %ld allocations: trailing bytes",
				     handler, n);
			cr_assert(last.type == RESTATE_SUSPENSION || last.type == RESTATE_END ||
					  last.type == RESTATE_ERROR,
				  "%s after %ld allocations ends with 0x%04x", handler, n,
				  last.type);
		} else {
			cr_assert(rc == ECL_OK || rc == ECL_ENOMEM, "%s: %d", handler, rc);
		}
		buf_free(&r.body);
		if (same)
			break;
	}
	cr_assert_lt(n, 100000);
	buf_free(&want);
	buf_free(&req);
}

Test(restate, human_step_survives_every_failed_allocation, .timeout = 120)
{
	fixture fx;
	journal j, k;
	uint32_t cid;

	cid = summarize_until_waiting(&fx, &j, "h5");
	handler_journal(&k, &j, "{\"fields\": {\"approved\": \"true\", \"comment\": \"Good\"}}");
	every_allocation_may_fail(&fx, "answer", &k, "h5");
	every_allocation_may_fail(&fx, "get_status", &k, "h5");
	promise_completed(&j, cid, "{\"approved\":true,\"comment\":\"Good\"}");
	every_allocation_may_fail(&fx, "run", &j, "h5");
	journal_free(&j);
	journal_free(&k);
	teardown(&fx);
}

/* ---- the remaining refusals and mismatches ------------------------------------------------ */

Test(restate, frame_type_names)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
		{RESTATE_START, "Start"},
		{RESTATE_SUSPENSION, "Suspension"},
		{RESTATE_ERROR, "Error"},
		{RESTATE_END, "End"},
		{RESTATE_PROPOSE_RUN, "ProposeRunCompletion"},
		{RESTATE_INPUT, "InputCommand"},
		{RESTATE_OUTPUT, "OutputCommand"},
		{RESTATE_GET_LAZY_STATE, "GetLazyStateCommand"},
		{RESTATE_SET_STATE, "SetStateCommand"},
		{RESTATE_GET_EAGER_STATE, "GetEagerStateCommand"},
		{RESTATE_GET_PROMISE, "GetPromiseCommand"},
		{RESTATE_PEEK_PROMISE, "PeekPromiseCommand"},
		{RESTATE_COMPLETE_PROMISE, "CompletePromiseCommand"},
		{RESTATE_RUN, "RunCommand"},
		{RESTATE_GET_LAZY_STATE_DONE, "GetLazyStateCompletionNotification"},
		{RESTATE_GET_PROMISE_DONE, "GetPromiseCompletionNotification"},
		{RESTATE_PEEK_PROMISE_DONE, "PeekPromiseCompletionNotification"},
		{RESTATE_COMPLETE_PROMISE_DONE, "CompletePromiseCompletionNotification"},
		{RESTATE_RUN_DONE, "RunCompletionNotification"},
		{RESTATE_SIGNAL, "SignalNotification"},
		{0x0C00, "an unknown command"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_str_eq(restate_type_name(names[i].type), names[i].name, "0x%04x",
				 names[i].type);
}

Test(restate, run_without_a_key_or_inputs_is_refused)
{
	fixture fx;
	journal j;
	answer a;
	char msg[512];

	start(&fx, two_revisions, &j, TEA);
	invoke(fx.e, "critique-revise", "run", &j, "", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	cr_assert_str_eq(msg, "the workflow key (the run id) is empty or too long");
	answer_free(&a);
	journal_free(&j);
	/* an InputCommand without a value: no inputs, and critique-revise needs its topic */
	add_input(&j, "");
	invoke(fx.e, "critique-revise", "run", &j, "run20", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "topic"), "%s", msg);
	answer_free(&a);
	journal_free(&j);
	/* text a run cannot hold, refused before a parser cuts it */
	add_input(&j, "{\"topic\": \"a\\u0000b\"}");
	invoke(fx.e, "critique-revise", "run", &j, "run21", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "input `topic` holds a NUL character"), "%s", msg);
	answer_free(&a);
	journal_free(&j);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 0);
	teardown(&fx);
}

Test(restate, a_status_where_a_step_was_journaled_is_a_mismatch)
{
	fixture fx;
	journal j;
	answer a;
	ProtobufCBinaryData key = {strlen(RESTATE_STATUS_KEY), (uint8_t *)RESTATE_STATUS_KEY};
	error_info err;

	start(&fx, two_revisions, &j, TEA);
	add_set_state(&j, key, "{}");
	invoke(fx.e, "critique-revise", "run", &j, "run21", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert_eq(err.index, 1);
	cr_assert(strstr(err.message, "command 1 of the journal is a SetStateCommand where the "
				      "workflow asks step `generate`"),
		  "%s", err.message);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 0);
	finish(&fx, &j, &a);
}

/* A failure journaled as a step's answer (ecl proposes only values; Restate's own doing) is
 * not asked again, and since every replay would meet it, the invocation ends with it: an
 * output failure naming the step and the failure, not a retryable error. */
Test(restate, journaled_failure_of_a_step_is_not_asked_again)
{
	fixture fx;
	journal j;
	answer a;
	Ecl__Restate__RunCompletionNotificationMessage n =
		ECL__RESTATE__RUN_COMPLETION_NOTIFICATION_MESSAGE__INIT;
	Ecl__Restate__Failure f = ECL__RESTATE__FAILURE__INIT;
	char msg[512];

	start(&fx, two_revisions, &j, TEA);
	add_run(&j, 1, "generate");
	n.completion_id = 1;
	n.result_case = ECL__RESTATE__RUN_COMPLETION_NOTIFICATION_MESSAGE__RESULT_FAILURE;
	f.code = 500;
	f.message = "the model is gone";
	n.failure = &f;
	add(&j, RESTATE_RUN_DONE, &n.base);
	invoke(fx.e, "critique-revise", "run", &j, "run22", &a);
	cr_assert_eq(frame_of(&a, RESTATE_ERROR), -1, "not retried");
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 500);
	cr_assert_str_eq(msg,
			 "step `generate`: the journaled answer is a failure: the model is gone");
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 0,
		     "a journaled failure is not asked again");
	finish(&fx, &j, &a);
}

/* Commands in a journal (its notifications not counted). */
static int commands_in(const journal *j)
{
	int i, n = 0;

	for (i = 0; i < j->n; i++)
		n += j->entries[i].type >= RESTATE_INPUT && j->entries[i].type < 0x8000;
	return n;
}

Test(restate, replay_past_the_end_of_the_workflow)
{
	fixture fx;
	journal j, k = {0};
	answer a;
	error_info err;
	char want[128];
	int calls;

	start(&fx, two_revisions, &j, TEA);
	drive(&fx, &j, "run23", &a);
	answer_free(&a);
	cr_assert_eq(j.entries[j.n - 1].type, RESTATE_OUTPUT);
	calls = ts_count_lines(ts_path(fx.dir, "calls.log"), NULL);
	/* the whole journal again, its output included: only End */
	invoke(fx.e, "critique-revise", "run", &j, "run23", &a);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(a.frames[0].type, RESTATE_END);
	answer_free(&a);
	/* a command after the workflow's end where its output should be */
	copy_entries(&k, &j, j.n - 1);
	add_run(&k, 99, "publish");
	invoke(fx.e, "critique-revise", "run", &k, "run23", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert_eq(err.index, (uint32_t)(commands_in(&k) - 1));
	snprintf(want, sizeof(want),
		 "the workflow ended where command %u of the journal is a "
		 "RunCommand",
		 err.index);
	cr_assert(strstr(err.message, want), "%s", err.message);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), calls,
		     "a replay asks nothing");
	journal_free(&k);
	finish(&fx, &j, &a);
}

Test(restate, get_status_journal_mismatches_and_lazy_replies)
{
	fixture fx;
	journal j;
	answer a;
	Ecl__Restate__GetLazyStateCommandMessage lz =
		ECL__RESTATE__GET_LAZY_STATE_COMMAND_MESSAGE__INIT;
	error_info err;
	static const char running[] = "{\"status\":\"running\"}";
	char *text;
	size_t len;
	static const uint8_t garbage[] = {0xff, 0xff, 0xff};

	/* a journal that runs a step: not what get_status does */
	start(&fx, NULL, &j, "");
	add_run(&j, 1, "generate");
	invoke(fx.e, "critique-revise", "get_status", &j, "run24", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert_eq(err.index, 1);
	cr_assert_str_eq(err.message, "journal mismatch in get_status of run24: command 1 of the "
				      "journal is a RunCommand where the handler reads the status");
	answer_free(&a);
	journal_free(&j);
	/* a GetEagerState that does not unpack */
	add_input(&j, "");
	add_raw(&j, RESTATE_GET_EAGER_STATE, garbage, sizeof(garbage));
	invoke(fx.e, "critique-revise", "get_status", &j, "run24", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert(strstr(err.message, "a GetEagerStateCommand where the handler reads the status "
				      "(not a valid message)"),
		  "%s", err.message);
	answer_free(&a);
	journal_free(&j);
	/* a journaled GetLazyState: its completion awaited, past notifications of other
	 * completions and ones that do not unpack */
	add_input(&j, "");
	lz.key.data = (uint8_t *)RESTATE_STATUS_KEY;
	lz.key.len = strlen(RESTATE_STATUS_KEY);
	lz.result_completion_id = 1;
	add(&j, RESTATE_GET_LAZY_STATE, &lz.base);
	add_raw(&j, RESTATE_GET_LAZY_STATE_DONE, garbage, sizeof(garbage));
	add_lazy_state_done(&j, 7, "{\"status\":\"other\"}");
	invoke(fx.e, "critique-revise", "get_status", &j, "run24", &a);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(a.frames[0].type, RESTATE_SUSPENSION);
	answer_free(&a);
	add_lazy_state_done(&j, 1, running);
	invoke(fx.e, "critique-revise", "get_status", &j, "run24", &a);
	text = output_value(&a, &len);
	cr_assert_eq(len, strlen(running));
	cr_assert_arr_eq(text, running, strlen(running));
	free(text);
	finish(&fx, &j, &a);
}

/* Journal a CompletePromise of another step's promise (sign_off) where the journal
 * completed approve's. */
static void completion_of_another_step(journal *to, const frame *f)
{
	Ecl__Restate__CompletePromiseCommandMessage cp =
		ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__INIT;
	Ecl__Restate__Value v = ECL__RESTATE__VALUE__INIT;

	(void)f;
	cp.key = "sign_off#1";
	cp.result_completion_id = 1;
	cp.completion_case =
		ECL__RESTATE__COMPLETE_PROMISE_COMMAND_MESSAGE__COMPLETION_COMPLETION_VALUE;
	v.content.data = (uint8_t *)"{}";
	v.content.len = 2;
	cp.completion_value = &v;
	add(to, RESTATE_COMPLETE_PROMISE, &cp.base);
}

Test(restate, answer_journal_mismatch_and_other_completions)
{
	fixture fx;
	journal j, k, m = {0};
	answer a;
	error_info err;
	static const uint8_t garbage[] = {0xff, 0xff, 0xff};
	static const char input[] = "{\"fields\": {\"approved\": true}}";

	summarize_until_waiting(&fx, &j, "h9");
	call_answer(&fx, &j, "h9", input, &k, &a);
	cr_assert_eq(apply(&k, &a), RESTATE_SUSPENSION);
	answer_free(&a);
	/* the same journal with the promise of another step completed: a mismatch */
	rewrite(&m, &k, RESTATE_COMPLETE_PROMISE, completion_of_another_step);
	m.status = strdup(k.status);
	invoke(fx.e, "summarize", "answer", &m, "h9", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert(strstr(err.message, "journal mismatch in answer of h9: command 2 of the journal "
				      "is a CompletePromiseCommand where the handler completes "
				      "promise approve#1 (completion 1)"),
		  "%s", err.message);
	answer_free(&a);
	/* Restate's word on other completions, or words that do not unpack: still waiting */
	add_raw(&k, RESTATE_COMPLETE_PROMISE_DONE, garbage, sizeof(garbage));
	complete_acknowledged(&k, 5, 0);
	invoke(fx.e, "summarize", "answer", &k, "h9", &a);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(a.frames[0].type, RESTATE_SUSPENSION);
	journal_free(&m);
	journal_free(&k);
	finish(&fx, &j, &a);
}

Test(restate, control_messages_are_not_journal_entries)
{
	fixture fx;
	journal j;
	answer a;
	error_info err;

	start(&fx, two_revisions, &j, TEA);
	add(&j, RESTATE_END, NULL); /* announced as an entry, but a control message */
	invoke(fx.e, "critique-revise", "run", &j, "run25", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_PROTOCOL_VIOLATION);
	cr_assert_str_eq(err.message, "the journal has 1 of the 2 entries announced");
	finish(&fx, &j, &a);
}

Test(restate, answer_without_an_input_is_a_protocol_violation)
{
	fixture fx;
	journal j = {0};
	answer a;
	error_info err;

	setup(&fx, NULL);
	invoke(fx.e, "summarize", "answer", &j, "h10", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_PROTOCOL_VIOLATION);
	cr_assert_str_eq(err.message, "the journal does not start with an InputCommand");
	finish(&fx, &j, &a);
}

/* The model cannot answer: a retryable error naming the step, and nothing journaled for
 * the step, so that Restate's retry asks again. */
Test(restate, model_failure_is_a_retryable_error)
{
	fixture fx;
	journal j;
	answer a;
	error_info err;

	start(&fx, "{}", &j, TEA);
	invoke(fx.e, "critique-revise", "run", &j, "run26", &a);
	cr_assert_eq(frame_of(&a, RESTATE_RUN), -1);
	cr_assert_eq(frame_of(&a, RESTATE_PROPOSE_RUN), -1);
	err = error_in(&a);
	cr_assert_eq(err.code, 500);
	cr_assert(strstr(err.message, "step `generate`") &&
			  strstr(err.message, "has no answer for step `generate`"),
		  "%s", err.message);
	finish(&fx, &j, &a);
}

/* A journal cut after the waiting status, before its GetPromise: the status is not
 * written again, the promise is awaited. */
Test(restate, waiting_status_journaled_without_its_promise)
{
	fixture fx;
	journal j, k = {0};
	answer a;
	Ecl__Restate__GetPromiseCommandMessage *g;

	summarize_until_waiting(&fx, &j, "h11");
	cr_assert_eq(j.entries[j.n - 1].type, RESTATE_GET_PROMISE);
	copy_entries(&k, &j, j.n - 1);
	invoke(fx.e, "summarize", "run", &k, "h11", &a);
	cr_assert_eq(a.n, 2);
	cr_assert_eq(a.frames[0].type, RESTATE_GET_PROMISE);
	cr_assert_eq(a.frames[1].type, RESTATE_SUSPENSION);
	g = get_promise_of(&a);
	cr_assert_str_eq(g->key, "approve#1");
	ecl__restate__get_promise_command_message__free_unpacked(g, NULL);
	journal_free(&k);
	finish(&fx, &j, &a);
}

/* Under Restate there is no lease: with one that lapses at once, the beats while the model
 * answers (a scripted answer that takes a moment, ticking) renew nothing and touch no store,
 * and the run goes as before. */
Test(restate, no_lease_to_renew)
{
	fixture fx;
	journal j = {0};
	answer a;
	ecl_options o;

	fx.dir = ts_tmpdir();
	ts_write(ts_path(fx.dir, "script.json"),
		 "{\"generate\": [{\"$answer\": " GEN ", \"$delay_ms\": 5}], \"critique\": [" REVISE
		 ", " REVISE ", " PASS "], \"revise\": [" REV1 ", " REV2 "]}");
	o = ts_options(ts_path(fx.dir, "runs.db"), ts_path(fx.dir, "script.json"),
		       ts_path(fx.dir, "calls.log"));
	o.lease_ms = 1;
	fx.e = ts_open(&o);
	add_input(&j, TEA);
	cr_assert_eq(drive(&fx, &j, "run27", &a), 7);
	free(output_value(&a, NULL));
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 6);
	cr_assert(strstr(j.status, "\"status\":\"completed\""), "%s", j.status);
	finish(&fx, &j, &a);
}

/* A command of a type the protocol does not know is named as such, with its number, in the
 * mismatch (it read "is a an unknown command"). */
Test(restate, an_unknown_command_in_the_journal_is_named_with_its_type)
{
	fixture fx;
	journal j;
	answer a;
	error_info err;

	start(&fx, two_revisions, &j, TEA);
	add_raw(&j, 0x0C00, (const uint8_t *)"", 0);
	invoke(fx.e, "critique-revise", "run", &j, "run31", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert(strstr(err.message, "command 1 of the journal is an unknown command (0x0c00) "
				      "where the workflow asks step `generate`"),
		  "%s", err.message);
	finish(&fx, &j, &a);
}

/* A StartMessage that announces more entries than its body can hold is the client's error
 * (HTTP 400), not memory to find for them (4e9 entries made it 500, out of memory). */
Test(restate, a_count_of_entries_the_body_cannot_hold_is_refused)
{
	Ecl__Restate__StartMessage s = ECL__RESTATE__START_MESSAGE__INIT;
	static const uint32_t counts[] = {4000000000u, 3};
	fixture fx;
	size_t i;

	setup(&fx, NULL);
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		restate_reply r = {0};
		buf b = {0};
		char want[200];

		s.id.data = (uint8_t *)"inv";
		s.id.len = 3;
		s.key = "run32";
		s.known_entries = counts[i];
		restate_frame_put(&b, RESTATE_START, &s.base);
		buf_append(&b, "\0\0\0\0\0\0\0\0", 8); /* room for one entry */
		cr_assert(!b.oom);
		cr_assert_eq(restate_handle(fx.e, "POST", "/invoke/critique-revise/run", CT5, NULL,
					    (const uint8_t *)b.data, b.len, &r),
			     ECL_OK);
		cr_assert_eq(r.status, 400, "HTTP %d: %s", r.status, r.body.data);
		snprintf(want, sizeof(want),
			 "the StartMessage announces %u journal entries; the 8 bytes after it "
			 "hold at most 1\n",
			 counts[i]);
		cr_assert_str_eq(r.body.data, want);
		buf_free(&r.body);
		buf_free(&b);
	}
	teardown(&fx);
}

/* ---- pause and resume ------------------------------------------------------------------- */

/* Invoke the shared handler (pause, resume) of critique-revise's run key with the run's
 * status from run_journal, let Restate acknowledge its CompletePromise (already: the
 * promise was completed before) and invoke it again: its last answer in a (the caller frees
 * it and k). */
static void call_lifecycle(fixture *fx, const journal *run_journal, const char *handler,
			   const char *key, int already, journal *k, answer *a)
{
	int i;

	handler_journal(k, run_journal, "{}");
	invoke(fx->e, "critique-revise", handler, k, key, a);
	i = frame_of(a, RESTATE_COMPLETE_PROMISE);
	if (i < 0)
		return; /* refused before completing anything */
	cr_assert_eq(a->frames[a->n - 1].type, RESTATE_SUSPENSION);
	apply(k, a);
	answer_free(a);
	complete_acknowledged(k, 1, already);
	invoke(fx->e, "critique-revise", handler, k, key, a);
}

/* The key of the CompletePromise an answer holds (caller frees). */
static char *completed_key(const answer *a)
{
	int i = frame_of(a, RESTATE_COMPLETE_PROMISE);
	Ecl__Restate__CompletePromiseCommandMessage *cp;
	char *key;

	cr_assert(i >= 0, "no CompletePromiseCommand in the answer");
	cp = ecl__restate__complete_promise_command_message__unpack(NULL, a->frames[i].len,
								    a->frames[i].body);
	key = strdup(cp->key);
	ecl__restate__complete_promise_command_message__free_unpacked(cp, NULL);
	return key;
}

Test(restate, pause_stops_at_the_next_transition_and_resume_goes_on)
{
	fixture fx;
	journal j, k;
	answer a;
	Ecl__Restate__GetPromiseCommandMessage *g;
	Ecl__Restate__SuspensionMessage *s;
	char msg[1024], *text;
	uint32_t cid;
	cJSON *st;

	start(&fx, two_revisions, &j, TEA);
	/* generate answered, critique asked: the run is running. */
	invoke(fx.e, "critique-revise", "run", &j, "p1", &a);
	apply(&j, &a);
	answer_free(&a);
	invoke(fx.e, "critique-revise", "run", &j, "p1", &a);
	apply(&j, &a);
	answer_free(&a);
	cr_assert(strstr(j.status, "\"status\":\"running\""), "%s", j.status);

	/* pause completes pause#1; a second pause asks the same and is answered alike. */
	call_lifecycle(&fx, &j, "pause", "p1", 0, &k, &a);
	text = output_value(&a, NULL);
	cr_assert_str_eq(text, "{\"id\":\"p1\",\"workflow\":\"critique-revise\","
			       "\"pause\":\"requested\"}");
	free(text);
	answer_free(&a);
	journal_free(&k);
	handler_journal(&k, &j, "{}");
	invoke(fx.e, "critique-revise", "pause", &k, "p1", &a);
	text = completed_key(&a);
	cr_assert_str_eq(text, "pause#1");
	free(text);
	answer_free(&a);
	journal_free(&k);
	call_lifecycle(&fx, &j, "pause", "p1", 1, &k, &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "\"pause\":\"requested\""), "%s", text);
	free(text);
	answer_free(&a);
	journal_free(&k);
	j.paused = 1; /* Restate answers the run's next peek with the promise's value */

	/* critique's peek came before the pause: its transition goes on, revise is asked, and
	 * at revise's transition the run stops as paused, awaiting resume#1. */
	drive(&fx, &j, "p1", &a);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 3);
	cr_assert_eq(a.frames[a.n - 1].type, RESTATE_SUSPENSION);
	cr_assert_eq(a.frames[a.n - 2].type, RESTATE_GET_PROMISE);
	cr_assert_eq(a.frames[a.n - 3].type, RESTATE_SET_STATE);
	g = get_promise_of(&a);
	cr_assert_str_eq(g->key, "resume#1");
	cid = g->result_completion_id;
	ecl__restate__get_promise_command_message__free_unpacked(g, NULL);
	s = ecl__restate__suspension_message__unpack(NULL, a.frames[a.n - 1].len,
						     a.frames[a.n - 1].body);
	cr_assert_eq(s->waiting_completions[0], cid);
	cr_assert_eq(s->n_waiting_signals, 1, "a paused run can be cancelled");
	ecl__restate__suspension_message__free_unpacked(s, NULL);
	answer_free(&a);
	st = cJSON_Parse(j.status);
	cr_assert_str_eq(cJSON_GetObjectItem(st, "status")->valuestring, "paused");
	cr_assert_str_eq(cJSON_GetObjectItem(st, "step")->valuestring, "critique");
	cr_assert_eq(cJSON_GetObjectItem(st, "step_count")->valueint, 3);
	cr_assert_str_eq(cJSON_GetObjectItem(st, "promise")->valuestring, "resume#1");
	cJSON_Delete(st);

	/* Invoked again before the resume: only the same suspension. */
	invoke(fx.e, "critique-revise", "run", &j, "p1", &a);
	cr_assert_eq(a.n, 1);
	cr_assert_eq(a.frames[0].type, RESTATE_SUSPENSION);
	answer_free(&a);

	/* A paused run is not paused again. */
	call_lifecycle(&fx, &j, "pause", "p1", 0, &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	cr_assert(strstr(msg, "run p1 is paused: only a running run can be paused"), "%s", msg);
	answer_free(&a);
	journal_free(&k);

	/* resume completes resume#1; a second resume finds it completed. */
	call_lifecycle(&fx, &j, "resume", "p1", 0, &k, &a);
	text = output_value(&a, NULL);
	cr_assert_str_eq(text, "{\"id\":\"p1\",\"workflow\":\"critique-revise\",\"resumed\":true}");
	free(text);
	answer_free(&a);
	journal_free(&k);
	call_lifecycle(&fx, &j, "resume", "p1", 1, &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	cr_assert(strstr(msg, "run p1 was resumed already"), "%s", msg);
	answer_free(&a);
	journal_free(&k);
	promise_completed(&j, cid, "true");

	/* The run goes on from where it stopped and completes; no step was asked twice. */
	drive(&fx, &j, "p1", &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "Draft v2 on tea"), "%s", text);
	free(text);
	answer_free(&a);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 6,
		     "a journaled step was asked again");
	st = cJSON_Parse(j.status);
	cr_assert_str_eq(cJSON_GetObjectItem(st, "status")->valuestring, "completed");
	cr_assert_eq(cJSON_GetObjectItem(st, "pauses")->valueint, 1);
	cJSON_Delete(st);

	/* A finished run is neither paused nor resumed; an unknown one is not found. */
	call_lifecycle(&fx, &j, "pause", "p1", 0, &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	cr_assert(strstr(msg, "run p1 is completed: only a running run can be paused"), "%s", msg);
	answer_free(&a);
	journal_free(&k);
	call_lifecycle(&fx, &j, "resume", "p1", 0, &k, &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 409);
	cr_assert(strstr(msg, "run p1 is completed: only a paused run can be resumed"), "%s", msg);
	answer_free(&a);
	journal_free(&k);
	memset(&k, 0, sizeof(k));
	add_input(&k, "{}");
	invoke(fx.e, "critique-revise", "resume", &k, "nope", &a);
	cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 404);
	cr_assert(strstr(msg, "no run nope of critique-revise"), "%s", msg);
	answer_free(&a);
	journal_free(&k);
	memset(&k, 0, sizeof(k));
	invoke(fx.e, "critique-revise", "pause", &k, "nope", &a);
	cr_assert_eq(error_in(&a).code, RESTATE_PROTOCOL_VIOLATION);
	answer_free(&a);
	journal_free(&k);
	finish(&fx, &j, &a);
}

/* The PeekPromise of a pause, journaled with another key. */
static void peek_of_another_pause(journal *to, const frame *f)
{
	Ecl__Restate__PeekPromiseCommandMessage m =
		ECL__RESTATE__PEEK_PROMISE_COMMAND_MESSAGE__INIT;

	(void)f;
	m.key = "pause#7";
	m.result_completion_id = 2;
	add(to, RESTATE_PEEK_PROMISE, &m.base);
}

/* The GetPromise of a paused run, journaled for another promise. */
static void resume_of_another_pause(journal *to, const frame *f)
{
	Ecl__Restate__GetPromiseCommandMessage g = ECL__RESTATE__GET_PROMISE_COMMAND_MESSAGE__INIT;

	(void)f;
	g.key = "resume#9";
	g.result_completion_id = 7;
	add(to, RESTATE_GET_PROMISE, &g.base);
}

Test(restate, pause_journal_mismatches_and_a_peek_not_answered_yet)
{
	fixture fx;
	journal j, k;
	answer a;
	error_info err;
	Ecl__Restate__SuspensionMessage *s;

	start(&fx, two_revisions, &j, TEA);
	invoke(fx.e, "critique-revise", "run", &j, "p2", &a);
	apply(&j, &a);
	answer_free(&a);
	/* The answer came back before the peek's result: the run waits for that. */
	cr_assert_eq(j.entries[j.n - 1].type, RESTATE_PEEK_PROMISE_DONE);
	free(j.entries[--j.n].body);
	invoke(fx.e, "critique-revise", "run", &j, "p2", &a);
	cr_assert_eq(a.n, 3); /* generate's step#1 record, the status, the suspension */
	cr_assert_eq(a.frames[0].type, RESTATE_SET_STATE);
	cr_assert_eq(a.frames[1].type, RESTATE_SET_STATE);
	cr_assert_eq(a.frames[2].type, RESTATE_SUSPENSION);
	s = ecl__restate__suspension_message__unpack(NULL, a.frames[2].len, a.frames[2].body);
	cr_assert_eq(s->waiting_completions[0], 2, "the peek's completion");
	cr_assert_eq(s->n_waiting_signals, 0);
	ecl__restate__suspension_message__free_unpacked(s, NULL);
	answer_free(&a);

	/* A peek of another promise: a mismatch. */
	memset(&k, 0, sizeof(k));
	rewrite(&k, &j, RESTATE_PEEK_PROMISE, peek_of_another_pause);
	invoke(fx.e, "critique-revise", "run", &k, "p2", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert(strstr(err.message, "peeks at promise pause#1 (completion 2)"), "%s",
		  err.message);
	answer_free(&a);
	journal_free(&k);
	journal_free(&j);
	answer_free(&a);
	teardown(&fx);

	/* A paused run whose journal awaits another promise: a mismatch. */
	start(&fx, two_revisions, &j, TEA);
	j.paused = 1;
	drive(&fx, &j, "p3", &a);
	cr_assert(strstr(j.status, "\"status\":\"paused\""), "%s", j.status);
	answer_free(&a);
	memset(&k, 0, sizeof(k));
	rewrite(&k, &j, RESTATE_GET_PROMISE, resume_of_another_pause);
	invoke(fx.e, "critique-revise", "run", &k, "p3", &a);
	err = error_in(&a);
	cr_assert_eq(err.code, RESTATE_JOURNAL_MISMATCH);
	cr_assert(strstr(err.message, "awaits promise resume#1"), "%s", err.message);
	journal_free(&k);
	finish(&fx, &j, &a);
}

/* ---- the history records ---------------------------------------------------------------- */

/* The value of the last SetState of key in the journal (caller frees), or NULL. */
static char *state_in(const journal *j, const char *key)
{
	char *text = NULL;
	int i;

	for (i = 0; i < j->n; i++) {
		const frame *f = &j->entries[i];
		Ecl__Restate__SetStateCommandMessage *s;

		if (f->type != RESTATE_SET_STATE)
			continue;
		s = ecl__restate__set_state_command_message__unpack(NULL, f->len, f->body);
		if (s->key.len == strlen(key) && memcmp(s->key.data, key, s->key.len) == 0) {
			free(text);
			text = strndup((const char *)s->value->content.data, s->value->content.len);
		}
		ecl__restate__set_state_command_message__free_unpacked(s, NULL);
	}
	return text;
}

Test(restate, history_records_keep_every_call_and_transition)
{
	static const char script[] =
		"{\"generate\": [[{\"$error\": \"transient\", \"message\": \"try later\"}, " GEN
		"]], \"critique\": [[\"no JSON here\", " PASS "]]}";
	fixture fx;
	journal j;
	answer a;
	char *rec;
	cJSON *r, *calls;

	start(&fx, script, &j, TEA);
	drive(&fx, &j, "h9", &a);
	cr_assert(strstr(j.status, "\"status\":\"completed\""), "%s", j.status);
	/* generate: a failed call, then its retry, both kept with the answer's record */
	rec = state_in(&j, "call#1");
	cr_assert_not_null(rec);
	r = cJSON_Parse(rec);
	calls = cJSON_GetObjectItem(r, "calls");
	cr_assert_eq(cJSON_GetArraySize(calls), 2, "%s", rec);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "kind")->valuestring,
			 "first");
	cr_assert(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "error")->valuestring,
			 "try later"),
		  "%s", rec);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 1), "kind")->valuestring,
			 "retry");
	cJSON_Delete(r);
	free(rec);
	/* critique: an answer refused, then the repair's, each an answer of its own */
	rec = state_in(&j, "call#5");
	cr_assert_not_null(rec);
	r = cJSON_Parse(rec);
	cr_assert_not_null(cJSON_GetObjectItem(r, "fix"), "%s", rec);
	cr_assert_null(cJSON_GetObjectItem(r, "prompt"), "%s", rec);
	cr_assert_str_eq(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "calls"), 0), "kind")
			->valuestring,
		"repair");
	cJSON_Delete(r);
	free(rec);
	rec = state_in(&j, "step#2");
	cr_assert_not_null(rec);
	r = cJSON_Parse(rec);
	cr_assert_str_eq(cJSON_GetObjectItem(r, "step")->valuestring, "critique");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "next")), "%s", rec);
	calls = cJSON_GetObjectItem(r, "calls");
	cr_assert_eq(cJSON_GetArraySize(calls), 2, "%s", rec);
	cr_assert_eq(cJSON_GetArrayItem(calls, 0)->valueint, 3, "%s", rec);
	cr_assert_eq(cJSON_GetArrayItem(calls, 1)->valueint, 5, "%s", rec);
	cr_assert_str_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(r, "output"), "decision")->valuestring,
		"pass");
	cJSON_Delete(r);
	free(rec);
	finish(&fx, &j, &a);
}

/* ---- forks ------------------------------------------------------------------------------ */

/* The input of a run forked from another at checkpoint from, with these answers (a JSON
 * array text) and version (NULL: the workflow's). */
static char *fork_input(const char *inputs, const char *wf, const char *version, int from,
			const char *answers)
{
	cJSON *in = cJSON_Parse(inputs), *f = cJSON_AddObjectToObject(in, "$fork");
	char *text;

	cJSON_AddStringToObject(f, "run", "old");
	cJSON_AddStringToObject(f, "version", version ? version : ts_workflow(wf)->version);
	cJSON_AddNumberToObject(f, "from", from);
	cJSON_AddItemToObject(f, "answers", cJSON_Parse(answers));
	text = cJSON_PrintUnformatted(in);
	cJSON_Delete(in);
	return text;
}

Test(restate, a_fork_takes_the_answers_given_then_asks)
{
	fixture fx;
	journal j;
	answer a;
	char *in, *text;

	/* generate and the first critique (revise) are the old run's: revise and the second
	 * critique are asked (the script answers each step's k-th visit) */
	in = fork_input(TEA, "critique-revise", NULL, 2,
			"["
			"\""
			"{\\\"content\\\": \\\"Draft v0 on tea\\\", \\\"word_count\\\": 4}"
			"\", \""
			"{\\\"decision\\\": \\\"revise\\\", \\\"feedback\\\": \\\"x\\\", "
			"\\\"quality_score\\\": 1}"
			"\"]");
	start(&fx, "{\"critique\": [" PASS ", " PASS "], \"revise\": [" REV1 "]}", &j, in);
	free(in);
	drive(&fx, &j, "f1", &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "Draft v1 on tea"), "%s", text);
	free(text);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 2);
	{
		char *rec = state_in(&j, "step#1");

		cr_assert(strstr(rec, "\"calls\":[]"), "%s", rec);
		free(rec);
	}
	finish(&fx, &j, &a);

	/* summarize: the draft and the person's answer given, nothing asked, nobody waits */
	in = fork_input(
		"{\"document\": \"" DOCUMENT "\"}", "summarize", NULL, 3,
		"[\"{\\\"summary\\\": \\\"A workflow records its steps and resumes after "
		"a crash.\\\"}\", \"{\\\"approved\\\": true, \\\"comment\\\": \\\"Good\\\"}\"]");
	start(&fx, SUMMARIES, &j, in);
	free(in);
	drive_wf(&fx, "summarize", &j, "f2", &a);
	text = output_value(&a, NULL);
	cr_assert(strstr(text, "\"comment\":\"Good\""), "%s", text);
	free(text);
	cr_assert_eq(ts_count_lines(ts_path(fx.dir, "calls.log"), NULL), 0);
	finish(&fx, &j, &a);
}

Test(restate, a_fork_of_another_version_or_malformed_is_refused)
{
	static const struct {
		const char *fork, *says;
	} cases[] = {
		{"{\"$fork\": 3}", "input $fork is not"},
		{"{\"$fork\": {\"version\": \"v\", \"from\": -1, \"answers\": []}}",
		 "input $fork is not"},
		{"{\"$fork\": {\"version\": \"v\", \"from\": 1, \"answers\": [1]}}",
		 "an answer is not a text"},
		{"{\"$fork\": {\"version\": \"v0\", \"from\": 1, \"answers\": []}}",
		 "the run forked ran version v0 of critique-revise"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fixture fx;
		journal j;
		answer a;
		char msg[1024];
		cJSON *in = cJSON_Parse(cases[i].fork);
		char *text;

		cJSON_AddStringToObject(in, "topic", "tea");
		text = cJSON_PrintUnformatted(in);
		cJSON_Delete(in);
		start(&fx, two_revisions, &j, text);
		free(text);
		invoke(fx.e, "critique-revise", "run", &j, "f3", &a);
		cr_assert_eq(failure_of(&a, msg, sizeof(msg)), 400, "case %zu", i);
		cr_assert(strstr(msg, cases[i].says), "case %zu: %s", i, msg);
		finish(&fx, &j, &a);
	}
}

Test(restate, a_long_prompt_is_kept_cut_in_its_record)
{
	fixture fx;
	journal j;
	answer a;
	size_t n = 40000, i;
	char *in = malloc(2 * n + 32), *p = in, *rec;
	cJSON *r;
	const char *prompt;

	p += sprintf(p, "{\"topic\": \"");
	for (i = 0; i < n; i++)
		p += sprintf(p, "\xc3\xa9"); /* é: the cut falls inside no character */
	sprintf(p, "\"}");
	start(&fx, two_revisions, &j, in);
	free(in);
	invoke(fx.e, "critique-revise", "run", &j, "long1", &a);
	cr_assert(state_key_is(&a.frames[2], "call#1"));
	rec = state_value(&a.frames[2]);
	r = cJSON_Parse(rec);
	prompt = cJSON_GetObjectItem(r, "prompt")->valuestring;
	cr_assert_lt(strlen(prompt), 64 * 1024 + 64);
	cr_assert(strstr(prompt, "more bytes not kept]"), "%.100s", prompt + strlen(prompt) - 60);
	cr_assert_eq(ecl_text_check(prompt, strlen(prompt), NULL, 0), ECL_OK, "not UTF-8");
	cJSON_Delete(r);
	free(rec);
	finish(&fx, &j, &a);
}
