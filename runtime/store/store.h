/*
 * store.h - the store seam: where runs and their checkpoints live.
 *
 * The driver talks to a store only through the operations below, so another backend
 * (PostgreSQL) can stand beside the embedded SQLite one (sqlite.c). A store commits each transition
 * of a run atomically: the checkpoint row and the run's new state together, or neither.
 */
#ifndef ECL_STORE_H
#define ECL_STORE_H

#include <string.h>

#include "ecl.h"
#include "shared.h"

/* A run as stored. Strings are owned by the struct; release with store_run_clear. */
typedef struct store_run {
	char id[ECL_ID_MAX];
	char *workflow;
	char *version;
	/* ecl_run_status_name of its ecl_run_status: running, waiting, paused or interrupted;
	 * once over: completed, failed or cancelled */
	char *status;
	char *step;   /* the current step (or the step that failed); NULL when completed */
	int seq;      /* checkpoints committed */
	int attempt;  /* attempt recorded for the current step, from 1 */
	char *inputs; /* JSON object */
	char *output; /* JSON text, when completed */
	char *error;  /* message, when failed or interrupted by an error */
	long long created_ms;
	long long updated_ms;
	char *owner; /* who holds the lease ("host/pid/nonce"), or NULL */
	long long lease_until_ms;
	char *request; /* "pause" or "cancel" asked by another process, or NULL */
	char *parent;  /* "<run>@<seq>" for a fork, or NULL */
	/* The provider the run was started with, its model and base URL (NULL: not given, or
	 * a run of a database before schema 5). Never the key. */
	char *provider;
	char *model;
	char *base_url;
	/* The run's trace context, a W3C traceparent ("00-<trace id>-<span id>-01": the span
	 * of the process that first drives it), or NULL (before schema 8) */
	char *trace;
} store_run;

/* A filter for listing runs; NULL or 0 fields match everything. */
typedef struct store_filter {
	const char *const *statuses; /* any of these statuses */
	int nstatuses;
	const char *workflow;
	long long updated_before_ms; /* last changed before this time */
	int limit;
} store_filter;

/* One group of runs that count_runs counts (borrowed strings). */
typedef int (*store_count_fn)(void *ctx, const char *workflow, const char *status, long long runs,
			      long long steps);

/* One checkpoint that walk_durations walks, with the provider and model its run was started
 * with (NULL when not stored); borrowed strings. */
typedef int (*store_duration_fn)(void *ctx, const char *step, long long duration_us,
				 long long tokens_in, long long tokens_out, const char *provider,
				 const char *model);

/* Called once per run listed; a non-zero return stops the walk and is returned. */
typedef int (*store_run_fn)(void *ctx, const store_run *run);

/* One checkpoint: a step that ran and the transition it took. Borrowed strings. */
typedef struct store_step {
	int seq;          /* from 1 */
	const char *step; /* the step that ran */
	int attempt;
	const char *next;   /* the step entered, or NULL when the run ended (derived on reads) */
	const char *output; /* the step's validated output, JSON object */
	const char *raw;    /* the provider's answer text, or NULL when identical to output */
	const char *vars;   /* the variables and counters the transition changed, JSON object */
	long long tokens_in;
	long long tokens_out;
	/* of tokens_in: read from the provider's prompt cache, and written to it */
	long long tokens_cached, tokens_cache_write;
	long long ttft_us; /* the accepted call's time to its first token when streamed, else 0 */
	long long started_ms;
	long long duration_us;
} store_step;

/* The kind of a call to the provider: the step's first call, a retry of the same messages
 * after a transport or server error, or a repair (the messages before, the rejected answer and
 * a repair prompt). The numbers are stored. */
typedef enum store_call_kind {
	STORE_CALL_FIRST = 0,
	STORE_CALL_RETRY = 1,
	STORE_CALL_REPAIR = 2
} store_call_kind;

/* One call a step made to the provider. A step that made exactly one call, whose answer was
 * accepted, stores none: that call is implied by the checkpoint (its answer, its tokens) and
 * the definition of the workflow's version (what it sent). Borrowed strings. */
typedef struct store_call {
	int n;              /* from 1, in the order made */
	int kind;           /* a store_call_kind */
	int repair;         /* repair rounds in the messages it sent: 0 for the prompt alone */
	const char *fix;    /* STORE_CALL_REPAIR: the repair prompt it added, else NULL */
	const char *answer; /* the answer text received; NULL for none or for the accepted
			     * answer (the checkpoint's) */
	const char *error;  /* why the call failed, or why its answer was refused; or NULL */
	long long tokens_in, tokens_out;
	long long latency_us;
	long long tokens_cached, tokens_cache_write; /* of tokens_in, as store_step's */
	long long ttft_us; /* time to the first token of a streamed call, else 0 */
} store_call;

/* A workflow version's definition (its slots and the templates of its steps, as JSON text,
 * see wfdef.c), kept once per version so that a history shows what a run was sent. */
typedef struct store_def {
	const char *workflow;
	const char *version;
	const char *text;
} store_def;

/* What one transition writes, atomically. */
typedef struct store_commit {
	const char *run_id;
	store_step step;
	const char *status;  /* the run's status after the transition */
	const char *current; /* the run's step after it: the next one, the failed one, or NULL */
	int attempt;         /* the attempt recorded for that next step (1) */
	const char *output;  /* completed: the run's output */
	const char *error;   /* failed: the message */
	const char *owner; /* the lease holder committing; the commit fails if it lost the lease */
	long long lease_until_ms; /* the lease is renewed until then */
	long long now_ms;
	/* The calls the step made, when they are to be stored (see store_call), else NULL and
	 * 0: stored with the checkpoint, in the same transaction. */
	const store_call *calls;
	int ncalls;
	/* The definition of the run's workflow version, or NULL: stored in the same transaction
	 * unless that version's is stored already (the first one stays). */
	const store_def *def;
} store_commit;

/* Called once per stored call of a run, by checkpoint then call number; a non-zero return
 * stops the walk and is returned. */
typedef int (*store_call_fn)(void *ctx, int seq, const store_call *call);

/* Called once per checkpoint, in order; a non-zero return stops the walk and is returned. */
typedef int (*store_step_fn)(void *ctx, const store_step *step);

/* A worker (ecl_worker) as stored: who it is, what it takes, and when it last said it was
 * alive. Borrowed strings. */
typedef struct store_worker {
	const char *id; /* its lease owner, "host/pid/nonce": runs.owner of the runs it holds */
	const char *host;
	long long pid;
	const char *workflows; /* the workflows it takes, comma-separated */
	int concurrency;
	long long lease_ms; /* its lease period: it beats every third of it */
	long long started_ms;
	long long heartbeat_ms;
	int held; /* listed: the runs leased to it now (runs.owner), live or not */
} store_worker;

/* Called once per worker listed; a non-zero return stops the walk and is returned. */
typedef int (*store_worker_fn)(void *ctx, const store_worker *w);

typedef struct store store;

/* The operations of a backend. Each returns an ECL_* code; the detail is in errmsg. */
typedef struct store_ops {
	/* Insert a new run. ECL_EUSAGE when the id exists (the run there is left as it is). The
	 * owner and lease_until_ms are stored as given (a run created with its lease);
	 * updated_ms is created_ms; output, error and request start NULL (given ones are not
	 * read). */
	int (*create_run)(store *st, const store_run *run);
	/* Load a run; ECL_ENOTFOUND when absent. Release *out with store_run_clear. Every field
	 * reads back exactly as it was written: a store does not change texts (the core decides
	 * the form of an output, output.c). */
	int (*get_run)(store *st, const char *id, store_run *out);
	/* Walk a run's checkpoints in order; none (ECL_OK) for a run without any or no run. */
	int (*list_steps)(store *st, const char *id, store_step_fn fn, void *ctx);
	/* Walk the outputs of run id's checkpoints numbered up to `upto` that have one, newest
	 * first, at most n of them: fn(ctx, seq, output), the output borrowed for the call; a
	 * non-zero return stops the walk and is returned. None (ECL_OK) for no such run. What the
	 * core reads to store a run's output by reference and to read it back. */
	int (*list_outputs)(store *st, const char *id, int upto, int n,
			    int (*fn)(void *ctx, int seq, const char *output), void *ctx);
	/* Commit one transition: insert the checkpoint, its calls, the definition when given,
	 * and update the run, in one transaction.
	 * Only the lease holder commits (ECL_ESTATE otherwise), and only while the run is
	 * running at checkpoint step.seq - 1 (ECL_ESTATE otherwise); a refused or failed commit
	 * writes nothing. A run left running keeps its lease, renewed until lease_until_ms; any
	 * other status ends it (no owner). *request receives a pause or cancel asked by another
	 * process (a static string) or NULL; it does not stop the commit, and stays pending until
	 * acquire or release. */
	int (*commit)(store *st, const store_commit *c, const char **request);
	/* Walk the calls stored with a run's checkpoints (by seq, then n); none (ECL_OK) for a
	 * run without any or no run. */
	int (*list_calls)(store *st, const char *id, store_call_fn fn, void *ctx);
	/* The definition stored for a workflow version, in *text (caller frees with mem_free);
	 * ECL_ENOTFOUND (*text NULL) when none is stored. */
	int (*get_def)(store *st, const char *workflow, const char *version, char **text);
	/* Take the lease of a run for owner until lease_until_ms, when it is free, expired, held
	 * by owner already, or held by `steal` (a holder known to be dead); ECL_ESTATE with the
	 * holder in *holder (caller frees, with mem_free) when someone else holds it. A lease is
	 * valid up to and including lease_until_ms: expired once now_ms is past it. Only a run
	 * that is running, waiting, paused, interrupted or queued can be taken: ECL_ESTATE (*holder
	 * NULL) for one that is over, ECL_ENOTFOUND for no such run. Sets the status to running and
	 * the attempt, updated_ms to now_ms, and clears the error and any pending request. */
	int (*acquire)(store *st, const char *id, const char *owner, const char *steal, int attempt,
		       long long now_ms, long long lease_until_ms, char **holder);
	/* Take up to `limit` runs nobody drives for owner, until lease_until_ms: queued runs, and
	 * running ones whose lease expired before now_ms (their driver died), of the workflows
	 * named (any when nworkflows is 0), oldest first (by created_ms, then id). Each run taken
	 * is running, leased to owner, its attempt one more than stored (a queued run's first is
	 * 1), updated_ms now_ms, its error and any pending request cleared. Their ids go to
	 * ids[0 .. *count). Claims made at once by several processes never take the same run. */
	int (*claim)(store *st, const char *owner, const char *const *workflows, int nworkflows,
		     int limit, long long now_ms, long long lease_until_ms, char (*ids)[ECL_ID_MAX],
		     int *count);
	/* Renew the lease; ECL_ESTATE when owner lost it or the run is no longer running.
	 * *request as for commit. */
	int (*heartbeat)(store *st, const char *id, const char *owner, long long now_ms,
			 long long lease_until_ms, const char **request);
	/* Give up the lease, leaving the run with a status (paused, interrupted, cancelled) and
	 * an error or NULL. Only when owner holds it (ECL_ESTATE otherwise). Clears the owner,
	 * the lease and any pending request; sets updated_ms to now_ms. */
	int (*release)(store *st, const char *id, const char *owner, const char *status,
		       const char *error, long long now_ms);
	/* Ask for a pause or cancel from outside: a run nobody drives (no live lease) gets the
	 * new status at once (*applied = 1); a driven run gets the request for its driver
	 * (*applied = 0). ECL_ESTATE when the run's status does not allow it. The run's history
	 * gets a note saying which ("pause done", "cancel requested of the driver") in the same
	 * transaction: either both are stored or neither.
	 * `what` is "pause" or "cancel". Nobody drives a run without an owner or whose lease
	 * expired (as for acquire). Applied at once: a pause to a running, interrupted, waiting or
	 * queued run, a cancel to those and to a paused one (updated_ms = now_ms, no request left).
	 * Left for the driver: either, to a running run with a live lease; it replaces a request
	 * pending already. Any other case (a run over, a paused one paused again) is ECL_ESTATE
	 * and writes nothing; no such run is ECL_ENOTFOUND. */
	int (*request)(store *st, const char *id, const char *what, long long now_ms, int *applied);
	/* Record a human's answer (a JSON object text) to the human step run `id` waits at after
	 * checkpoint seq, with its time now_ms. The rule: the first answer is kept, and an
	 * answer applies only while the run waits at that checkpoint. So it is one write that
	 * applies only while the run is waiting at checkpoint seq and has no answer to it yet,
	 * and of two answers given at once exactly one is kept. ECL_ESTATE otherwise, saying
	 * which; ECL_ENOTFOUND for no such run. An answer is not a note (list_notes does not
	 * walk it); the run itself is not changed. */
	int (*answer)(store *st, const char *id, int seq, const char *answer, long long now_ms);
	/* The answer recorded for the human step run `id` waits at after checkpoint seq: in
	 * *answer (caller frees with mem_free), or NULL when none was given (or there is no such
	 * run). What the driver applies when the run goes on. */
	int (*get_answer)(store *st, const char *id, int seq, char **answer);
	/* Walk the answers a run was given, by seq: fn(ctx, seq, ts_ms, answer); a non-zero
	 * return stops the walk and is returned. For the run's history. */
	int (*list_answers)(store *st, const char *id,
			    int (*fn)(void *ctx, int seq, long long ts_ms, const char *answer),
			    void *ctx);
	/* Append a line to a run's history, after checkpoint seq. */
	int (*note)(store *st, const char *id, int seq, const char *text, long long now_ms);
	/* Walk the notes of a run in order (by seq, then as written): fn(ctx, seq, ts_ms, text);
	 * a non-zero return stops the walk and is returned. */
	int (*list_notes)(store *st, const char *id,
			  int (*fn)(void *ctx, int seq, long long ts_ms, const char *text),
			  void *ctx);
	/* Walk runs, newest first: by created_ms, then by id, both descending. */
	int (*list_runs)(store *st, const store_filter *f, store_run_fn fn, void *ctx);
	/* Create run `copy` with the first `upto` checkpoints of run `from` (with their calls)
	 * and a note in its history naming the run it was forked from, atomically: "forked from
	 * run <from> at checkpoint <upto>", at checkpoint upto, time copy->created_ms. The
	 * checkpoints and calls are copied field by field. ECL_EUSAGE when copy's id is taken, and
	 * nothing is written. */
	int (*fork)(store *st, const char *from, int upto, const store_run *copy);
	/* Delete the runs the filter matches (only finished ones) with their checkpoints, calls,
	 * notes and answers (the definitions of versions stay: one per version), then reclaim the
	 * space; *count gets how many runs. Finished: completed, failed or cancelled; the others
	 * are kept whatever the filter says. */
	int (*prune)(store *st, const store_filter *f, int *count);
	/* For ecl stats: the runs created at or after since_ms, of workflow (NULL: of every
	 * workflow), counted by workflow and status in that order: fn(ctx, workflow, status,
	 * runs, steps), steps the sum of their checkpoints; a non-zero return stops the walk and
	 * is returned. */
	int (*count_runs)(store *st, const char *workflow, long long since_ms, store_count_fn fn,
			  void *ctx);
	/* For ecl stats: walk the checkpoints of the runs of workflow created at or after
	 * since_ms, in no given order: fn(ctx, step, duration_us, tokens_in, tokens_out,
	 * provider, model); a non-zero return stops the walk and is returned. */
	int (*walk_durations)(store *st, const char *workflow, long long since_ms,
			      store_duration_fn fn, void *ctx);
	/* Change the workflow version a run uses (after a compatible change of the workflow):
	 * the version and updated_ms, nothing else. */
	int (*set_version)(store *st, const char *id, const char *version, long long now_ms);
	/* Register worker w: store its row (replacing one of the same id, as a worker whose
	 * row was removed registers again), and remove the rows of the workers dead without a
	 * word, whose last heartbeat is more than ten of their lease periods before
	 * w->heartbeat_ms, in one transaction. w->held is not read. */
	int (*worker_register)(store *st, const store_worker *w);
	/* The heartbeat of worker id: its heartbeat_ms becomes now_ms. ECL_ENOTFOUND when it has
	 * no row (it was removed as dead: it registers again). */
	int (*worker_beat)(store *st, const char *id, long long now_ms);
	/* Remove the row of worker id, at its clean exit; ECL_OK when it has none. */
	int (*worker_remove)(store *st, const char *id);
	/* Walk the workers by started_ms, then id, each with the number of runs that are not
	 * over and are leased to it (held). */
	int (*list_workers)(store *st, store_worker_fn fn, void *ctx);
	/* Open a group: the commits and run creations that follow, until group_end, share one
	 * transaction, so that one durable write covers them all. Nothing written inside a
	 * group is durable until group_end(st, 1) returns ECL_OK. A commit or creation that
	 * fails inside a group rolls the whole group back and ends it (its code and detail say
	 * why), so that the caller can write them again one by one; a creation refused for a
	 * taken id (ECL_EUSAGE) leaves the group as it was. Only commit and create_run may be
	 * called inside a group. Optional: NULL when the backend has no groups. */
	int (*group_begin)(store *st);
	/* End the group: keep (1) or drop (0) what it wrote. ECL_OK once it is durable or
	 * dropped; otherwise nothing of the group is kept: the final commit failed, or a commit
	 * inside it failed and ended it already (ECL_ESTORE). ECL_OK when no group is open.
	 * Inside a group, group_begin is ECL_EUSAGE. */
	int (*group_end)(store *st, int keep);
	/* The detail of the last failure, naming the file. Borrowed until the next call. */
	const char *(*errmsg)(const store *st);
	/* Close and free. */
	void (*close)(store *st);
} store_ops;

/* Every backend's handle starts with this. */
struct store {
	const store_ops *ops;
	/* Told when a store of a server loses its connection (lost 1, as it begins to connect
	 * again; detail names the server and what failed) and when it has one again (lost 0;
	 * detail says after how long): once each an outage, however many operations and tries
	 * meet it, so that a process says so once. NULL for nobody; set by the engine that
	 * opened the store. A store of a file never calls it. */
	void (*on_connection)(void *ctx, int lost, const char *detail);
	void *connection_ctx;
};

/* Release the strings of a store_run (not the struct itself); safe on a zeroed struct. */
ECL_SHARED void store_run_clear(store_run *run);

/* Why acquire was refused for run (as get_run read it, after the refusal): a status that
 * cannot be driven, or a live holder (then *holder takes run->owner, freed by the caller).
 * Writes the message to err, clears run, and returns ECL_ESTATE (store.c). */
ECL_SHARED int store_refused_lease(store_run *run, long long now_ms, char **holder, char *err,
				   size_t errlen);
/* Why answer was refused for run (read after the refusal) at checkpoint seq: it no longer
 * waits there, or has an answer already. Writes err, clears run, returns ECL_ESTATE. */
ECL_SHARED int store_refused_answer(store_run *run, int seq, char *err, size_t errlen);

/* Open (creating if needed) the SQLite store at path, waiting up to busy_timeout_ms for a
 * database another process holds. With reclaim (a store opened to free room: ecl prune),
 * the room kept in reserve beside the file is spent when the disk is full, to open the file
 * and to prune (see reserve_keep in sqlite.c). On failure *out is NULL and err says why,
 * naming the file. Close with st->ops->close. */
int store_sqlite_open(const char *path, ecl_durability durability, long busy_timeout_ms,
		      int reclaim, store **out, char *err, size_t errlen);

/* Open the SQLite store at path read-only, when the file exists (else as store_sqlite_open
 * does, creating it): for commands that only look at runs. A database in WAL mode needs its
 * -wal and -shm files; where they are absent and cannot be made (a directory this process
 * may not write), no writer can be at work either, and the file is read as it is. A database
 * of an older schema is refused (a command that writes upgrades it). */
int store_sqlite_open_read(const char *path, long busy_timeout_ms, store **out, char *err,
			   size_t errlen);

/* Whether db names a PostgreSQL database (a postgres:// or postgresql:// URL) rather than a
 * SQLite file. */
static inline int store_is_postgres(const char *db)
{
	return db && (strncmp(db, "postgres://", 11) == 0 || strncmp(db, "postgresql://", 13) == 0);
}

/* Open the PostgreSQL store of conninfo (a postgres:// URL or a libpq connection string; the
 * PG* environment variables fill in what it leaves out), creating its tables (in the schema
 * `ecl`) or upgrading them when this is not a read-only open; read_only refuses an older
 * schema instead. Waits for a run another process holds up to busy_timeout_ms. On failure
 * *out is NULL and err says why, naming the server as user@host:port/database (never a
 * password). Close with st->ops->close. In the network module (libpq loads with it). */
int store_pg_open(const char *conninfo, int read_only, long busy_timeout_ms, store **out, char *err,
		  size_t errlen);

#endif /* ECL_STORE_H */
