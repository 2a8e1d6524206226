/*
 * restate_invocation.h - what the parts of the Restate endpoint share: one invocation of a
 * handler (its journal, where the replay is, what it answers), the driver that replays it
 * (driver_restate.c), the handlers (restate_handlers.c) and the discovery manifest
 * (restate_discovery.c). Not for the rest of the runtime: restate.h is the endpoint's face.
 */
#ifndef ECL_RESTATE_INVOCATION_H
#define ECL_RESTATE_INVOCATION_H

#include <stdint.h>

#include "restate.h"
/* protoc-c's initialisers of messages with a oneof leave out the union's braces. */
#pragma GCC diagnostic ignored "-Wmissing-braces"
#include "restate.pb-c.h"

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
	/* Pauses. The handler `pause` completes promise pause#N (N = pauses + 1); after each
	 * answer it proposes, the run journals a PeekPromise of it, and at the transition after
	 * that step it looks at the peek's result: a value stops the run as `paused`, awaiting
	 * promise resume#N, which the handler `resume` completes. */
	int pauses;           /* pauses the run came back from */
	uint32_t peek_cid;    /* the peek of the step under way (0: none) */
	int peek_journaled;   /* ... journaled already with its Run (a replay asks again) */
	int pausing;          /* the transition found a pause: release records it, suspends */
	int paused_journaled; /* ... its `paused` status is in the journal */
	uint32_t resume_cid;  /* ... its GetPromise of resume#N is, with this completion id */
	uint32_t peek_wait;   /* the peek's result is not in the journal yet: wait for it */
	char *paused_status;  /* the `paused` status to write (mem_free), or NULL */
	/* The history, kept in the state beside the status for `ecl history --engine restate`:
	 * each answer asked as call#<cid> (the calls made for it: what was sent, what came back,
	 * tokens, times), written with its proposal; each transition as step#<seq> (the step,
	 * its output, the completion ids of its answers), written with its status. A replay
	 * passes over them: their times are those of the first invocation. */
	cJSON *tries;      /* the failed calls for the pending answer, or NULL */
	cJSON *step_calls; /* the completion ids of the answers of the step under way, or NULL */
	int recorded;      /* the pending answer's record is journaled already */
	/* A fork (ecl fork --engine restate): the answers of another run's first fork_from
	 * transitions, given with the inputs ("$fork"), taken in order instead of asking. */
	cJSON *fork;   /* the "$fork" object, or NULL */
	int fork_from; /* transitions the answers cover */
	int fork_next; /* the next answer to take */
} invocation;

/* ---- frames (restate_frame.c) ------------------------------------------------------------- */

/* A message type as a noun phrase for an error: "a RunCommand", "an unknown command (0x0c00)". */
const char *restate_type_phrase(uint16_t type, char text[64]);
/* Notifications have the high bit set; commands live from 0x0400 up. */
int restate_is_notification(uint16_t type);

/* ---- the driver (driver_restate.c) -------------------------------------------------------- */

/* The driver ops of an invocation: its driver is v->base. */
extern const driver_ops restate_ops;
/* Record that the journal does not match what the code does, at the replay's cursor; returns
 * ECL_ESTATE with the detail on the run's engine. */
int restate_mismatch(invocation *v, ecl_run *run, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write an ErrorMessage naming the command (index, type) at fault. */
void restate_put_error(buf *out, uint32_t code, const char *msg, int index, uint16_t type);
/* Suspend until completion cid is in the journal, or (cancellable) until the run is
 * cancelled: a person may never answer. */
void restate_put_suspension(buf *out, uint32_t cid, int cancellable);
/* Write the invocation's output (text, or the failure with code) and its end. */
void restate_put_output(buf *out, const char *text, const char *failure, uint32_t code);
/* Write a SetState of the run's status. */
void restate_put_set_state(buf *out, const char *text);
/* Write a SetState of key. */
void restate_put_state(buf *out, const char *key, const char *text);
/* The state keys of the history: "call#<cid>", "step#<seq>". */
#define RESTATE_CALL_KEY "call#"
#define RESTATE_STEP_KEY "step#"
/* The run's status as get_status answers it and SetState keeps it (caller frees with
 * cJSON_free), or NULL when out of memory; pauses is how many pauses the run came back
 * from (left out when 0). */
char *restate_status_json(const ecl_run *run, const store_commit *c, const char *question,
			  const char *promise, int pauses);
/* The promise a pause or a resume completes: "pause#N" or "resume#N". */
void restate_pause_key(char *out, size_t n, const char *verb, int nth);

/* ---- the handlers (restate_handlers.c) and discovery (restate_discovery.c) ---------------- */

void restate_handle_run(invocation *v, const ecl_workflow *wf);
void restate_handle_get_status(invocation *v);
void restate_handle_answer(invocation *v, const ecl_workflow *wf);
/* The shared handlers `pause` (resume 0) and `resume` (resume 1). */
void restate_handle_pause(invocation *v, const ecl_workflow *wf, int resume);
/* The discovery manifest of the engine's workflows, appended to out. */
int restate_manifest(ecl_engine *e, buf *out);
/* The manifest version to answer with: the highest of 1..3 the Accept header names. */
const char *restate_manifest_type(const char *accept);

#endif /* ECL_RESTATE_INVOCATION_H */
