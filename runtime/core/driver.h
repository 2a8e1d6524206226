/*
 * driver.h - the driver seam: what advances a machine and makes each transition durable.
 *
 * drive_run() is the one loop every driver shares: it calls the generated step function,
 * gets answers for LLM steps (asking, retrying, repairing), and hands every transition to
 * the driver to make durable before the next step starts. A driver supplies two operations:
 * how an answer is obtained and how a transition is made durable. The local driver
 * (driver_local.c) asks the provider and commits to the store; the Restate driver
 * (net/driver_restate.c) takes answers from the invocation's journal and keeps the run's
 * status there.
 */
#ifndef ECL_DRIVER_H
#define ECL_DRIVER_H

#include "buf.h"
#include "shared.h"
#include "provider.h"
#include "store.h"
#include "trace.h"

typedef struct driver driver;

typedef struct driver_ops {
	/* Obtain one answer for the request (one try: drive_run retries and repairs). */
	int (*answer)(driver *d, ecl_run *run, const llm_request *req, llm_response *res);
	/* The answer given to the run's current human step, as JSON text in *json (caller frees
	 * with mem_free), or *json NULL while there is none. Another code (detail on the
	 * engine) when it cannot be had: ECL_EFAILED when the answer was refused for good. */
	int (*human)(driver *d, ecl_run *run, char **json);
	/* Make a transition durable; ECL_OK only once it is. *request receives a pause or cancel
	 * asked by another process since (a static string), or NULL. */
	int (*commit)(driver *d, ecl_run *run, const store_commit *c, const char **request);
	/* Renew the run's lease while a step is under way; *request as for commit. ECL_ESTATE
	 * when this process lost the run. */
	int (*beat)(driver *d, ecl_run *run, long long now_ms, const char **request);
	/* Stop driving the run, leaving it with a status (the ecl_run_status_name of interrupted,
	 * paused, cancelled or waiting) and an error or NULL. */
	int (*release)(driver *d, ecl_run *run, const char *status, const char *error);
	/* Optional (NULL when the driver has none): open a group, in which the commits (and,
	 * for the local driver, the runs ecl_run_start creates) that follow share one durable
	 * write. Nothing written in a group is durable until end_group(d, 1) returns ECL_OK; a
	 * write that fails in a group rolls the whole group back and ends it. Only commit and
	 * ecl_run_start may be called inside a group. */
	int (*begin_group)(driver *d);
	/* End the group: keep (1) or drop (0) what it wrote. ECL_OK once it is durable (or
	 * dropped); any other code (detail on the engine) means nothing of the group is kept,
	 * including when a commit in it failed and ended it already. */
	int (*end_group)(driver *d, int keep);
} driver_ops;

struct driver {
	const driver_ops *ops;
};

/* The local driver (driver_local.c): answers from the engine's provider, transitions into
 * its store. */
extern const driver_ops drive_local_ops;

/* ---- one run as a small state record, for drive_run and for the batch scheduler ---------- */

#define DRIVE_MAX_REPAIRS 8 /* repair prompts a step may send, at most */

/* What drive_task_advance asks of its caller. */
enum {
	DRIVE_ASK = 0,   /* obtain the answer to t->req into t->res, then drive_task_answer */
	DRIVE_WAIT = 1,  /* a retry is due at t->wake_us (clock_mono_us); advance again then */
	DRIVE_END = 2,   /* the run stopped; t->rc says how, as drive_run returns it */
	DRIVE_COMMIT = 3 /* t->group: t->commit is to be made durable: drive_task_write (alone or
			  * in a group), then drive_task_committed */
};

/* Where a task is. */
typedef enum drive_phase {
	DRIVE_PH_STEP = 0, /* about to call the step function */
	DRIVE_PH_ASK,      /* waiting for the answer to t->req */
	DRIVE_PH_GOT,      /* an answer (or a failed call) to look at */
	DRIVE_PH_WAIT,     /* backing off before a retry */
	DRIVE_PH_COMMIT,   /* a transition waits to be made durable (t->group) */
	DRIVE_PH_END
} drive_phase;

/* A run being driven: its position in the loop and what the step under way holds. It is
 * owned by whoever drives it (on the stack of drive_run, in a batch's table). */
typedef struct drive_task {
	driver *d;
	ecl_run *run;
	drive_phase phase;
	int rc; /* DRIVE_END: the result */
	/* the step under way */
	long long started_ms, t0; /* wall clock, monotonic (us) */
	long long tokens_in, tokens_out;
	long long tokens_cached, tokens_cache_write; /* of tokens_in */
	long long ttft_us; /* the accepted call's time to its first token, when streamed */
	long long llm_us;  /* time spent in calls to the provider */
	long long call_us; /* when the call in flight started */
	long long wake_us; /* DRIVE_PH_WAIT: when to retry */
	int retries, repairs, repair, try_no, call;
	int answer_rc; /* the outcome of the last call */
	llm_request req;
	llm_response res;
	llm_message msgs[1 + 2 * DRIVE_MAX_REPAIRS];
	char *answers[DRIVE_MAX_REPAIRS]; /* the rejected answers, for the repair dialogue */
	buf sys, prompt, fix[DRIVE_MAX_REPAIRS];
	char *raw; /* the accepted answer text */
	/* the calls of the step, stored with its checkpoint when it made more than one or none
	 * was accepted (store_call): recorded from the second call on */
	int kind;          /* the store_call_kind of the call in flight */
	long long last_us; /* how long the last call took */
	store_call *calls; /* ncalls of them, room for capcalls */
	char **call_own;   /* the texts they point to that the task owns: an error and an
			    * answer's printable copy per call (or NULL) */
	int ncalls, capcalls;
	/* control */
	long long beat_ms;   /* when the lease was last renewed */
	const char *request; /* "pause" or "cancel" asked by another process, or NULL */
	int lost;            /* the lease was lost: abandon the run */
	/* the transition being made durable */
	int group; /* set by the caller: stop at DRIVE_COMMIT instead of committing at once */
	store_commit commit;
	char *commit_output, *commit_vars; /* the texts t->commit points to, owned */
	const char *commit_request;        /* what the commit read back: a pause or cancel */
	/* tracing (trace.h): the spans under way, NULL when the run is not traced */
	trace_exporter *tracer;
	trace_span *span_run, *span_step, *span_chat;
	char traceparent[56]; /* the chat span's, sent with each call */
	int cause;            /* why the step is ending in failure (an ECL_* code), or 0 */
	int fail_committed;   /* the run's failure was committed as its last checkpoint */
	long long run_tokens_in, run_tokens_out; /* of the steps this drive committed */
	double run_cost;  /* of the calls this drive made, by the engine's prices */
	int cost_unknown; /* a call's model had no price */
} drive_task;

/* Start a task at the run's current step. */
ECL_SHARED void drive_task_init(drive_task *t, driver *d, ecl_run *run);
/* Run the task until it needs an answer (DRIVE_ASK), must wait for a retry (DRIVE_WAIT) or
 * has ended (DRIVE_END). Every transition is committed through the driver on the way, or,
 * when t->group is set, handed to the caller (DRIVE_COMMIT) to be made durable before the
 * task goes on. */
ECL_SHARED int drive_task_advance(drive_task *t);
/* Write the transition of a task at DRIVE_COMMIT through the driver's commit: durable at
 * once outside a group, pending until end_group inside one. Returns the driver's code (the
 * detail on the engine); the task is unchanged, so a transition whose group was dropped can
 * be written again alone. */
ECL_SHARED int drive_task_write(drive_task *t);
/* Tell a task at DRIVE_COMMIT the transition is durable (ECL_OK) or cannot be made so (the
 * code, with the detail on the engine): the task moves on to its next step or ends; advance
 * it again. */
ECL_SHARED void drive_task_committed(drive_task *t, int rc);
/* Hand the task the outcome (an ECL_* code) of the call for t->req, with t->res filled. */
ECL_SHARED void drive_task_answer(drive_task *t, int rc);
/* Renew the run's lease when a third of it has passed; 1 when the lease is lost. */
ECL_SHARED int drive_task_beat(drive_task *t, long long now_ms);
/* Whether the task must stop (a signal, a cancel, a lost lease): its call may be dropped. */
ECL_SHARED int drive_task_should_stop(drive_task *t);
/* Free what the task holds (not the run). */
ECL_SHARED void drive_task_clear(drive_task *t);

/* Drive a loaded run until it completes, fails, is interrupted or hits an error. Returns
 * ECL_OK (completed), ECL_EFAILED (the workflow failed), ECL_EINTERRUPTED, or an error code
 * with the detail on the engine. */
ECL_SHARED int drive_run(driver *d, ecl_run *run);

#endif /* ECL_DRIVER_H */
