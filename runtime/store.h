/*
 * store.h - the store seam: where runs and their checkpoints live.
 *
 * The driver talks to a store only through the operations below, so another backend
 * (PostgreSQL) can stand beside the embedded SQLite one. A store commits each transition of
 * a run atomically: the checkpoint row and the run's new state together, or neither.
 */
#ifndef ECL_STORE_H
#define ECL_STORE_H

#include "ecl.h"

/* A run as stored. Strings are owned by the struct; release with store_run_clear. */
typedef struct store_run {
	char id[ECL_ID_MAX];
	char *workflow;
	char *version;
	char *status; /* running, completed, failed, interrupted */
	char *step;   /* the current step (or the step that failed); NULL when completed */
	int seq;      /* checkpoints committed */
	int attempt;  /* attempt recorded for the current step, from 1 */
	char *inputs; /* JSON object */
	char *output; /* JSON text, when completed */
	char *error;  /* message, when failed or interrupted by an error */
	long long created_ms;
	long long updated_ms;
} store_run;

/* One checkpoint: a step that ran and the transition it took. Borrowed strings. */
typedef struct store_step {
	int seq;          /* from 1 */
	const char *step; /* the step that ran */
	int attempt;
	const char *next;   /* the step entered, or NULL when the run ended */
	const char *output; /* the step's validated output, JSON object */
	const char *raw;    /* the provider's answer text, or NULL when identical to output */
	const char *vars;   /* the variables and counters the transition changed, JSON object */
	long long tokens_in;
	long long tokens_out;
	long long started_ms;
	long long duration_us;
} store_step;

/* What one transition writes, atomically. */
typedef struct store_commit {
	const char *run_id;
	store_step step;
	const char *status;  /* the run's status after the transition */
	const char *current; /* the run's step after it: the next one, the failed one, or NULL */
	int attempt;         /* the attempt recorded for that next step (1) */
	const char *output;  /* completed: the run's output */
	const char *error;   /* failed: the message */
	long long now_ms;
} store_commit;

/* Called once per checkpoint, in order; a non-zero return stops the walk and is returned. */
typedef int (*store_step_fn)(void *ctx, const store_step *step);

typedef struct store store;

/* The operations of a backend. Each returns an ECL_* code; the detail is in errmsg. */
typedef struct store_ops {
	/* Insert a new run. ECL_EUSAGE when the id exists. */
	int (*create_run)(store *st, const store_run *run);
	/* Load a run; ECL_ENOTFOUND when absent. Release *out with store_run_clear. */
	int (*get_run)(store *st, const char *id, store_run *out);
	/* Walk a run's checkpoints in order. */
	int (*list_steps)(store *st, const char *id, store_step_fn fn, void *ctx);
	/* Commit one transition: insert the checkpoint and update the run, in one transaction. */
	int (*commit)(store *st, const store_commit *c);
	/* Set the status, attempt and error of a run outside a transition (interrupt, resume). */
	int (*set_status)(store *st, const char *id, const char *status, int attempt,
			  const char *error, long long now_ms);
	/* The detail of the last failure, naming the file. Borrowed until the next call. */
	const char *(*errmsg)(const store *st);
	/* Close and free. */
	void (*close)(store *st);
} store_ops;

/* Every backend's handle starts with this. */
struct store {
	const store_ops *ops;
};

/* Release the strings of a store_run (not the struct itself); safe on a zeroed struct. */
void store_run_clear(store_run *run);

/* Open (creating if needed) the SQLite store at path. On failure *out is NULL and err says
 * why, naming the file. Close with st->ops->close. */
int store_sqlite_open(const char *path, ecl_durability durability, store **out, char *err,
		      size_t errlen);

#endif /* ECL_STORE_H */
