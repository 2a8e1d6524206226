/*
 * sqlite.c - the embedded store (the store seam, store.h): one SQLite file in WAL mode. Each
 * transition is one IMMEDIATE transaction that inserts the checkpoint and advances the run; the
 * update only applies when the run is still at the checkpoint the driver loaded, so a second
 * process that drives the same run cannot commit over it. Each statement is prepared on its first
 * use (a command uses few of them) and reused after.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "internal.h"

/* "ecl1" as a big-endian number, in the header of every ecl database. */
#define APPLICATION_ID 0x65636c31

/* The schema is built by running every migration in order; PRAGMA user_version says how many
 * have run. A migration is only ever appended, never changed. */
static const char *const migrations[] = {
	/* 1: runs and their checkpoints */
	"CREATE TABLE runs("
	" id TEXT PRIMARY KEY,"
	" workflow TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" step TEXT,"
	" seq INTEGER NOT NULL DEFAULT 0,"
	" attempt INTEGER NOT NULL DEFAULT 1,"
	" inputs TEXT NOT NULL,"
	" output TEXT,"
	" error TEXT,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX runs_by_status ON runs(status, workflow);"
	"CREATE TABLE steps("
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" step TEXT NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" next TEXT,"
	" output TEXT,"
	" raw TEXT,"
	" vars TEXT,"
	" tokens_in INTEGER NOT NULL DEFAULT 0,"
	" tokens_out INTEGER NOT NULL DEFAULT 0,"
	" started_ms INTEGER NOT NULL,"
	" duration_us INTEGER NOT NULL,"
	" PRIMARY KEY(run_id, seq)"
	") WITHOUT ROWID;",
	/* 2: leases, requests from other processes, forks, and a history of lifecycle events */
	"ALTER TABLE runs ADD COLUMN owner TEXT;"
	"ALTER TABLE runs ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE runs ADD COLUMN request TEXT;"
	"ALTER TABLE runs ADD COLUMN parent TEXT;"
	"CREATE TABLE notes("
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" ts_ms INTEGER NOT NULL,"
	" text TEXT NOT NULL"
	");"
	"CREATE INDEX notes_by_run ON notes(run_id, seq);",
	/* 3: smaller checkpoints: only runs that are not over are indexed by status (finished
	 * ones are only ever scanned, by listings and prune), and steps.next is no longer
	 * written (it is the step of the following checkpoint, or the run's current step) */
	"DROP INDEX runs_by_status;"
	"CREATE INDEX runs_live ON runs(status, workflow)"
	" WHERE status NOT IN ('completed', 'failed', 'cancelled');",
	/* 4: the same index under a condition of plain comparisons: SQLite evaluates a NOT IN
	 * list of three constants through a temporary table built anew by every statement that
	 * writes a run's status */
	"DROP INDEX runs_live;"
	"CREATE INDEX runs_live ON runs(status, workflow)"
	" WHERE status <> 'completed' AND status <> 'failed' AND status <> 'cancelled';",
	/* 5: the provider a run was started with (never its key), so that resuming it without
	 * flags goes on with the same model */
	"ALTER TABLE runs ADD COLUMN provider TEXT;"
	"ALTER TABLE runs ADD COLUMN model TEXT;"
	"ALTER TABLE runs ADD COLUMN base_url TEXT;",
	/* 6: a human's answer in a table of its own, one per checkpoint a run waited at; the
	 * answers older databases kept as notes "answer {json}" move there. Before ecl kept the
	 * first answer a checkpoint could get several such notes, and a resume applied the
	 * last: that one is kept. */
	"CREATE TABLE answers("
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" ts_ms INTEGER NOT NULL,"
	" answer TEXT NOT NULL,"
	" PRIMARY KEY(run_id, seq)"
	") WITHOUT ROWID;"
	"INSERT INTO answers SELECT run_id, seq, ts_ms, substr(text, 8) FROM notes n"
	" WHERE substr(text, 1, 7) = 'answer ' AND rowid = (SELECT max(rowid) FROM notes"
	" WHERE run_id = n.run_id AND seq = n.seq AND substr(text, 1, 7) = 'answer ');"
	"DELETE FROM notes WHERE substr(text, 1, 7) = 'answer ';",
	/* 7: what a step sent and received: each workflow version's definition once, and the
	 * calls of a step that made more than one or had none accepted (a step with one accepted
	 * call stores no row: see store_call) */
	"CREATE TABLE versions("
	" workflow TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" def TEXT NOT NULL,"
	" PRIMARY KEY(workflow, version)"
	") WITHOUT ROWID;"
	"CREATE TABLE calls("
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" n INTEGER NOT NULL,"
	" kind INTEGER NOT NULL,"
	" repair INTEGER NOT NULL,"
	" fix TEXT,"
	" answer TEXT,"
	" error TEXT,"
	" tokens_in INTEGER NOT NULL,"
	" tokens_out INTEGER NOT NULL,"
	" latency_us INTEGER NOT NULL,"
	" PRIMARY KEY(run_id, seq, n)"
	") WITHOUT ROWID;",
	/* 8: the workers (ecl worker) alive, for `ecl workers`: each registers, beats with its
	 * leases and removes its row when it stops; the runs it holds are those it owns */
	"CREATE TABLE workers("
	" id TEXT PRIMARY KEY,"
	" host TEXT NOT NULL,"
	" pid INTEGER NOT NULL,"
	" workflows TEXT NOT NULL,"
	" concurrency INTEGER NOT NULL,"
	" lease_ms INTEGER NOT NULL,"
	" started_ms INTEGER NOT NULL,"
	" heartbeat_ms INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 9: the run's trace context (a W3C traceparent), so that every process that drives
	 * it adds its spans to one trace */
	"ALTER TABLE runs ADD COLUMN trace TEXT;",
	/* 10: the input tokens a provider read from its prompt cache and wrote to it, of a
	 * step's and of a call's tokens_in, and a streamed call's time to its first token */
	"ALTER TABLE steps ADD COLUMN tokens_cached INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE steps ADD COLUMN tokens_cache_write INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE steps ADD COLUMN ttft_us INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE calls ADD COLUMN tokens_cached INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE calls ADD COLUMN tokens_cache_write INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE calls ADD COLUMN ttft_us INTEGER NOT NULL DEFAULT 0;",
};

/* The condition of the runs_live index, word for word: a query uses that index only when its
 * WHERE clause holds this very term. Here, in the migrations and in the statements below the
 * statuses are spelt in SQL as ecl_run_status_name writes them: the text is the stored format
 * (test_values checks that it never changes), and a migration is history that must not. */
#define NOT_OVER "status <> 'completed' AND status <> 'failed' AND status <> 'cancelled'"

/* 1 when a run with this status is over (no longer indexed by status). */
static int is_over(const char *status)
{
	return run_status_is(status, ECL_RUN_COMPLETED) || run_status_is(status, ECL_RUN_FAILED) ||
	       run_status_is(status, ECL_RUN_CANCELLED);
}

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT_RUN,
	ST_GET_RUN,
	ST_LIST_STEPS,
	ST_INSERT_STEP,
	ST_ADVANCE_RUN,
	ST_FINISH_RUN,
	ST_GET_REQUEST,
	ST_CLAIM,
	ST_ACQUIRE,
	ST_HEARTBEAT,
	ST_RELEASE,
	ST_REQUEST_DIRECT,
	ST_REQUEST_DEFERRED,
	ST_NOTE,
	ST_ANSWER,
	ST_GET_ANSWER,
	ST_LIST_ANSWERS,
	ST_LIST_NOTES,
	ST_FORK_STEPS,
	ST_SET_VERSION,
	ST_LIST_OUTPUTS,
	ST_INSERT_CALL,
	ST_LIST_CALLS,
	ST_FORK_CALLS,
	ST_PUT_DEF,
	ST_GET_DEF,
	ST_WORKER_PUT,
	ST_WORKER_PRUNE,
	ST_WORKER_BEAT,
	ST_WORKER_REMOVE,
	ST_LIST_WORKERS,
	ST_COUNT
};

#define RUN_COLUMNS                                                                                \
	"id, workflow, version, status, step, seq, attempt, inputs, output, error, created_ms,"    \
	" updated_ms, owner, lease_until_ms, request, parent, provider, model, base_url, trace"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT_RUN] = "INSERT INTO runs(id, workflow, version, status, step, seq, attempt,"
			  " inputs, created_ms, updated_ms, parent, owner, lease_until_ms,"
			  " provider, model, base_url, trace)"
			  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14,"
			  " ?15, ?16)",
	[ST_GET_RUN] = "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1",
	/* next: stored by databases before schema 3, else the step of the following
	 * checkpoint, else for the run's last checkpoint the step the run is at (NULL once
	 * that checkpoint ended the run) */
	[ST_LIST_STEPS] =
		"SELECT s.seq, s.step, s.attempt, coalesce(s.next,"
		" lead(s.step) OVER (ORDER BY s.seq),"
		" CASE WHEN r.seq = s.seq THEN r.step END), s.output, s.raw, s.vars,"
		" s.tokens_in, s.tokens_out, s.started_ms, s.duration_us, s.tokens_cached,"
		" s.tokens_cache_write, s.ttft_us"
		" FROM steps s JOIN runs r ON r.id = s.run_id WHERE s.run_id = ?1"
		" ORDER BY s.seq",
	[ST_INSERT_STEP] = "INSERT INTO steps(run_id, seq, step, attempt, output, raw, vars,"
			   " tokens_in, tokens_out, started_ms, duration_us, tokens_cached,"
			   " tokens_cache_write, ttft_us)"
			   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	/* A transition that keeps the run going touches no indexed column. The last condition of
	 * the updates step_once runs lets it see at no cost that no request is pending. */
	[ST_ADVANCE_RUN] = "UPDATE runs SET step = ?3, seq = ?4, attempt = ?5, updated_ms = ?8,"
			   " lease_until_ms = ?10"
			   " WHERE id = ?1 AND seq = ?4 - 1 AND status = 'running' AND owner = ?9"
			   " AND (request IS NULL OR ?11)",
	[ST_FINISH_RUN] =
		"UPDATE runs SET status = ?2, step = ?3, seq = ?4, attempt = ?5,"
		" output = ?6, error = ?7, updated_ms = ?8, lease_until_ms = 0, owner = NULL"
		" WHERE id = ?1 AND seq = ?4 - 1 AND status = 'running' AND owner = ?9"
		" AND (request IS NULL OR ?11)",
	[ST_GET_REQUEST] = "SELECT request FROM runs WHERE id = ?1",
	/* the oldest runs of the workflows in ?4 (a JSON array; [] for any) that are queued or
	 * whose driver's lease expired */
	[ST_CLAIM] = "UPDATE runs SET owner = ?1, lease_until_ms = ?3, status = 'running',"
		     " attempt = attempt + 1, updated_ms = ?2, error = NULL, request = NULL"
		     " WHERE id IN (SELECT id FROM runs WHERE " NOT_OVER
		     " AND (status = 'queued' OR (status = 'running' AND lease_until_ms < ?2))"
		     " AND (?4 = '[]' OR workflow IN (SELECT value FROM json_each(?4)))"
		     " ORDER BY created_ms, id LIMIT ?5) RETURNING id",
	[ST_ACQUIRE] = "UPDATE runs SET owner = ?2, lease_until_ms = ?5, status = 'running',"
		       " attempt = ?4, error = NULL, request = NULL, updated_ms = ?3"
		       " WHERE id = ?1 AND (status = 'running' OR status = 'interrupted'"
		       " OR status = 'paused' OR status = 'waiting' OR status = 'queued')"
		       " AND (owner IS NULL OR owner = ?2 OR owner = ?6 OR lease_until_ms < ?3)",
	[ST_HEARTBEAT] = "UPDATE runs SET lease_until_ms = ?4 WHERE id = ?1 AND owner = ?2"
			 " AND status = 'running' AND (request IS NULL OR ?11)",
	[ST_RELEASE] = "UPDATE runs SET status = ?3, error = ?4, updated_ms = ?5, owner = NULL,"
		       " lease_until_ms = 0, request = NULL WHERE id = ?1 AND owner = ?2",
	[ST_REQUEST_DIRECT] = "UPDATE runs SET status = ?2, request = NULL, updated_ms = ?3"
			      " WHERE id = ?1 AND status IN (?4, ?5, ?6, ?7, ?8)"
			      " AND (owner IS NULL OR lease_until_ms < ?3)",
	[ST_REQUEST_DEFERRED] = "UPDATE runs SET request = ?2 WHERE id = ?1 AND status = 'running'"
				" AND owner IS NOT NULL AND lease_until_ms >= ?3",
	[ST_NOTE] = "INSERT INTO notes(run_id, seq, ts_ms, text) VALUES(?1, ?2, ?3, ?4)",
	/* the answer, written only while the run waits at checkpoint ?2 (the primary key keeps
	 * the first of two) */
	[ST_ANSWER] = "INSERT OR IGNORE INTO answers(run_id, seq, ts_ms, answer)"
		      " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS(SELECT 1 FROM runs WHERE id = ?1"
		      " AND seq = ?2 AND status = 'waiting')",
	[ST_GET_ANSWER] = "SELECT answer FROM answers WHERE run_id = ?1 AND seq = ?2",
	[ST_LIST_ANSWERS] = "SELECT seq, ts_ms, answer FROM answers WHERE run_id = ?1 ORDER BY seq",
	[ST_LIST_NOTES] =
		"SELECT seq, ts_ms, text FROM notes WHERE run_id = ?1 ORDER BY seq, rowid",
	[ST_FORK_STEPS] = "INSERT INTO steps SELECT ?2, seq, step, attempt, next, output, raw,"
			  " vars, tokens_in, tokens_out, started_ms, duration_us, tokens_cached,"
			  " tokens_cache_write, ttft_us FROM steps WHERE run_id = ?1 AND seq <= ?3",
	[ST_SET_VERSION] = "UPDATE runs SET version = ?2, updated_ms = ?3 WHERE id = ?1",
	[ST_LIST_OUTPUTS] = "SELECT seq, output FROM steps WHERE run_id = ?1 AND seq <= ?2"
			    " AND output IS NOT NULL ORDER BY seq DESC LIMIT ?3",
	[ST_INSERT_CALL] =
		"INSERT INTO calls(run_id, seq, n, kind, repair, fix, answer, error,"
		" tokens_in, tokens_out, latency_us, tokens_cached, tokens_cache_write,"
		" ttft_us) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_LIST_CALLS] = "SELECT seq, n, kind, repair, fix, answer, error, tokens_in, tokens_out,"
			  " latency_us, tokens_cached, tokens_cache_write, ttft_us FROM calls"
			  " WHERE run_id = ?1 ORDER BY seq, n",
	[ST_FORK_CALLS] = "INSERT INTO calls SELECT ?2, seq, n, kind, repair, fix, answer, error,"
			  " tokens_in, tokens_out, latency_us, tokens_cached, tokens_cache_write,"
			  " ttft_us FROM calls WHERE run_id = ?1 AND seq <= ?3",
	[ST_PUT_DEF] = "INSERT OR IGNORE INTO versions(workflow, version, def) VALUES(?1, ?2, ?3)",
	[ST_GET_DEF] = "SELECT def FROM versions WHERE workflow = ?1 AND version = ?2",
	[ST_WORKER_PUT] = "INSERT OR REPLACE INTO workers(id, host, pid, workflows, concurrency,"
			  " lease_ms, started_ms, heartbeat_ms)"
			  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	/* workers silent for ten lease periods died without removing their rows */
	[ST_WORKER_PRUNE] =
		"DELETE FROM workers WHERE id <> ?1 AND heartbeat_ms < ?2 - 10 * lease_ms",
	[ST_WORKER_BEAT] = "UPDATE workers SET heartbeat_ms = ?2 WHERE id = ?1",
	[ST_WORKER_REMOVE] = "DELETE FROM workers WHERE id = ?1",
	/* the runs held: only runs that are not over have an owner (runs_live finds them) */
	[ST_LIST_WORKERS] = "SELECT w.id, w.host, w.pid, w.workflows, w.concurrency, w.lease_ms,"
			    " w.started_ms, w.heartbeat_ms, coalesce(h.n, 0) FROM workers w"
			    " LEFT JOIN (SELECT owner, count(*) AS n FROM runs WHERE " NOT_OVER
			    " AND owner IS NOT NULL GROUP BY owner) h ON h.owner = w.id"
			    " ORDER BY w.started_ms, w.id",
};

typedef struct sqlite_store {
	store base;
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[ST_COUNT];
	int group;        /* a group's transaction is open: commits join it */
	int group_broken; /* a commit failed inside the group and rolled it back */
	int full;         /* the last failure was the disk's being full */
	int reclaim;      /* opened to free space: it may spend the reserve (see reserve_keep) */
	char err[1024];
} sqlite_store;

/* Append to the error of a file found damaged how to check it, and what else to do. */
static void check_advice(sqlite_store *s)
{
	size_t n = strlen(s->err);

	snprintf(s->err + n, sizeof(s->err) - n,
		 ": check it with: sqlite3 %s 'pragma integrity_check'; or restore a backup",
		 s->path);
}

/* An allocation failed: say so, naming the file, as every other failure does. */
static int out_of_memory(sqlite_store *s, const char *doing)
{
	snprintf(s->err, sizeof(s->err), "%s: out of memory %s", s->path, doing);
	return ECL_ENOMEM;
}

/* Record the failure of the last SQLite call, naming the file and what we were doing. */
static int fail(sqlite_store *s, int rc, const char *doing)
{
	/* the connection's message is about rc only when it holds rc: a code the store made
	 * itself (SQLITE_NOMEM for an allocation of ours) leaves it at "not an error" */
	const char *why = s->db && sqlite3_errcode(s->db) == (rc & 0xff) ? sqlite3_errmsg(s->db)
									 : sqlite3_errstr(rc);
	const char *hint = "";
	int sys = s->db ? sqlite3_system_errno(s->db) : 0;

	switch (rc & 0xff) {
	case SQLITE_FULL: hint = " (the disk is full)"; break;
	case SQLITE_READONLY: hint = " (the file is read-only)"; break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: hint = " (another process holds the database)"; break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: hint = " (the file is damaged or not a database)"; break;
	case SQLITE_CANTOPEN: hint = " (cannot open the file)"; break;
	case SQLITE_IOERR: hint = " (an I/O error)"; break;
	default: break;
	}
	if (rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC)
		hint = " (writing failed: the disk may be full or the file too large)";
	if (sys == ENOSPC)
		hint = " (the disk is full)";
	else if (sys == EFBIG)
		hint = " (the file size limit was reached)";
	else if (sys == EROFS)
		hint = " (the file system is read-only)";
	s->full = (rc & 0xff) == SQLITE_FULL || sys == ENOSPC;
	snprintf(s->err, sizeof(s->err), "%s: %s: %s%s", s->path, doing, why, hint);
	if ((rc & 0xff) == SQLITE_CORRUPT)
		check_advice(s);
	return (rc & 0xff) == SQLITE_NOMEM ? ECL_ENOMEM : ECL_ESTORE;
}

/* Prepare statement id unless it is already: an SQLite code. */
static int prepared(sqlite_store *s, enum stmt_id id)
{
	if (s->stmt[id])
		return SQLITE_OK;
	return sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
				  NULL);
}

/* The statement id, reset and unbound, in *out: prepared on its first use (most commands use
 * a few of them) and kept. An ECL_* code with the detail in s->err when it cannot be. */
static int stmt(sqlite_store *s, enum stmt_id id, sqlite3_stmt **out)
{
	int rc;

	*out = NULL;
	if ((rc = prepared(s, id)) != SQLITE_OK)
		return fail(s, rc, "cannot prepare a statement");
	sqlite3_reset(s->stmt[id]);
	sqlite3_clear_bindings(s->stmt[id]);
	*out = s->stmt[id];
	return ECL_OK;
}

/* Run statement id once (its parameters bound already, when it has any): SQLITE_DONE or
 * SQLITE_ROW, or the SQLite code of what failed. A transaction begins only once COMMIT and
 * ROLLBACK are prepared, so that it can always be ended. */
static int exec_rc(sqlite_store *s, enum stmt_id id)
{
	int rc;

	if (id == ST_BEGIN && ((rc = prepared(s, ST_COMMIT)) != SQLITE_OK ||
			       (rc = prepared(s, ST_ROLLBACK)) != SQLITE_OK))
		return rc;
	if ((rc = prepared(s, id)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s->stmt[id]);
	sqlite3_reset(s->stmt[id]);
	return rc;
}

/* exec_rc as an ECL_* code, with what it was doing in s->err when it failed. */
static int exec_step(sqlite_store *s, enum stmt_id id, const char *doing)
{
	int rc = exec_rc(s, id);

	return rc == SQLITE_DONE || rc == SQLITE_ROW ? ECL_OK : fail(s, rc, doing);
}

/* Roll back the open transaction, the whole group's when in one (which ends the group). */
static void rollback(sqlite_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec_step(s, ST_ROLLBACK, "cannot roll back");
	if (s->group) {
		s->group = 0;
		s->group_broken = 1;
	}
}

static void bind_text(sqlite3_stmt *st, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static char *column_dup(sqlite3_stmt *st, int i, int *oom)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	char *copy;

	if (!t)
		return NULL;
	copy = mem_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
	if (!copy)
		*oom = 1;
	return copy;
}

static int sq_create_run(store *base, const store_run *run)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if (s->group_broken) {
		snprintf(s->err, sizeof(s->err),
			 "%s: cannot create the run: the group it belongs to was rolled back",
			 s->path);
		return ECL_ESTORE;
	}
	if ((rc = stmt(s, ST_INSERT_RUN, &st)) != ECL_OK) {
		if (s->group)
			rollback(s);
		return rc;
	}
	bind_text(st, 1, run->id);
	bind_text(st, 2, run->workflow);
	bind_text(st, 3, run->version);
	bind_text(st, 4, run->status);
	bind_text(st, 5, run->step);
	sqlite3_bind_int(st, 6, run->seq);
	sqlite3_bind_int(st, 7, run->attempt);
	bind_text(st, 8, run->inputs);
	sqlite3_bind_int64(st, 9, run->created_ms);
	bind_text(st, 10, run->parent);
	bind_text(st, 11, run->owner);
	sqlite3_bind_int64(st, 12, run->lease_until_ms);
	bind_text(st, 13, run->provider);
	bind_text(st, 14, run->model);
	bind_text(st, 15, run->base_url);
	bind_text(st, 16, run->trace);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) { /* only the statement is undone, not a group */
		snprintf(s->err, sizeof(s->err), "%s: a run with id %s exists already", s->path,
			 run->id);
		return ECL_EUSAGE;
	}
	if (rc == SQLITE_DONE)
		return ECL_OK;
	rc = fail(s, rc, "cannot create the run");
	if (s->group)
		rollback(s);
	return rc;
}

/* Read a row of RUN_COLUMNS into out; ECL_ENOMEM when a copy failed. */
static int read_run(sqlite3_stmt *st, store_run *out)
{
	int oom = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", (const char *)sqlite3_column_text(st, 0));
	out->workflow = column_dup(st, 1, &oom);
	out->version = column_dup(st, 2, &oom);
	out->status = column_dup(st, 3, &oom);
	out->step = column_dup(st, 4, &oom);
	out->seq = sqlite3_column_int(st, 5);
	out->attempt = sqlite3_column_int(st, 6);
	out->inputs = column_dup(st, 7, &oom);
	out->output = column_dup(st, 8, &oom);
	out->error = column_dup(st, 9, &oom);
	out->created_ms = sqlite3_column_int64(st, 10);
	out->updated_ms = sqlite3_column_int64(st, 11);
	out->owner = column_dup(st, 12, &oom);
	out->lease_until_ms = sqlite3_column_int64(st, 13);
	out->request = column_dup(st, 14, &oom);
	out->parent = column_dup(st, 15, &oom);
	out->provider = column_dup(st, 16, &oom);
	out->model = column_dup(st, 17, &oom);
	out->base_url = column_dup(st, 18, &oom);
	out->trace = column_dup(st, 19, &oom);
	if (oom || !out->workflow || !out->version || !out->status || !out->inputs) {
		store_run_clear(out);
		return ECL_ENOMEM;
	}
	return ECL_OK;
}

static int sq_get_run(store *base, const char *id, store_run *out)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = stmt(s, ST_GET_RUN, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		snprintf(s->err, sizeof(s->err), "no run with id %s in %s", id, s->path);
		return ECL_ENOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		rc = fail(s, rc, "cannot read the run");
		sqlite3_reset(st);
		return rc;
	}
	rc = read_run(st, out);
	sqlite3_reset(st);
	if (rc == ECL_ENOMEM)
		snprintf(s->err, sizeof(s->err), "%s: out of memory reading run %s", s->path, id);
	if (rc != ECL_OK)
		store_run_clear(out);
	return rc;
}

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Walk the outputs of run id's checkpoints up to upto, newest first, at most n. */
static int sq_list_outputs(store *base, const char *id, int upto, int n,
			   int (*fn)(void *ctx, int seq, const char *output), void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, ST_LIST_OUTPUTS, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	sqlite3_bind_int(st, 2, upto);
	sqlite3_bind_int(st, 3, n);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int stop = fn(ctx, sqlite3_column_int(st, 0), col(st, 1));

		if (stop) {
			sqlite3_reset(st);
			return stop;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot read the checkpoints");
}

static int sq_list_steps(store *base, const char *id, store_step_fn fn, void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, ST_LIST_STEPS, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_step step = {
			.seq = sqlite3_column_int(st, 0),
			.step = col(st, 1),
			.attempt = sqlite3_column_int(st, 2),
			.next = col(st, 3),
			.output = col(st, 4),
			.raw = col(st, 5),
			.vars = col(st, 6),
			.tokens_in = sqlite3_column_int64(st, 7),
			.tokens_out = sqlite3_column_int64(st, 8),
			.started_ms = sqlite3_column_int64(st, 9),
			.duration_us = sqlite3_column_int64(st, 10),
			.tokens_cached = sqlite3_column_int64(st, 11),
			.tokens_cache_write = sqlite3_column_int64(st, 12),
			.ttft_us = sqlite3_column_int64(st, 13),
		};
		int stop;

		if (!step.step) {
			sqlite3_reset(st);
			return fail(s, SQLITE_CORRUPT, "a checkpoint has no step");
		}
		stop = fn(ctx, &step);
		if (stop) {
			sqlite3_reset(st);
			return stop;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot read the checkpoints");
}

static int sq_list_calls(store *base, const char *id, store_call_fn fn, void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, ST_LIST_CALLS, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_call call = {
			.n = sqlite3_column_int(st, 1),
			.kind = sqlite3_column_int(st, 2),
			.repair = sqlite3_column_int(st, 3),
			.fix = col(st, 4),
			.answer = col(st, 5),
			.error = col(st, 6),
			.tokens_in = sqlite3_column_int64(st, 7),
			.tokens_out = sqlite3_column_int64(st, 8),
			.latency_us = sqlite3_column_int64(st, 9),
			.tokens_cached = sqlite3_column_int64(st, 10),
			.tokens_cache_write = sqlite3_column_int64(st, 11),
			.ttft_us = sqlite3_column_int64(st, 12),
		};
		int stop = fn(ctx, sqlite3_column_int(st, 0), &call);

		if (stop) {
			sqlite3_reset(st);
			return stop;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot read the calls of the run");
}

static int sq_get_def(store *base, const char *workflow, const char *version, char **text)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc, oom = 0;

	*text = NULL;
	if ((rc = stmt(s, ST_GET_DEF, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, workflow);
	bind_text(st, 2, version);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*text = column_dup(st, 0, &oom);
	sqlite3_reset(st);
	if (oom)
		return out_of_memory(s, "reading a workflow's definition");
	if (rc == SQLITE_ROW)
		return ECL_OK;
	if (rc != SQLITE_DONE)
		return fail(s, rc, "cannot read a workflow's definition");
	snprintf(s->err, sizeof(s->err), "%s: no definition of version %s of %s is stored", s->path,
		 version, workflow);
	return ECL_ENOTFOUND;
}

/* A request column's value as a static string. */
static const char *request_of(sqlite3_stmt *st, int i)
{
	const char *r = (const char *)sqlite3_column_text(st, i);

	if (!r)
		return NULL;
	return strcmp(r, "cancel") == 0 ? "cancel" : strcmp(r, "pause") == 0 ? "pause" : NULL;
}

/* Run an UPDATE of one run whose last condition is `(request IS NULL OR ?11)`, and give in
 * *request the run's request (another process's pause or cancel) as it is in the same
 * transaction. Most runs have none: the update applies with ?11 false and nothing more is
 * read. When it does not apply, the request is read and, if there is one, the update is made
 * again with ?11 true. SQLITE_ROW when the row was updated, SQLITE_DONE when no row matched,
 * or an error. (Reading the request with RETURNING would make SQLite keep a statement
 * journal for every commit.) */
static int step_once(sqlite_store *s, sqlite3_stmt *st, const char *id, const char **request)
{
	sqlite3_stmt *get;
	int rc, pending;

	sqlite3_bind_int(st, 11, 0);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		return rc;
	if (sqlite3_changes(s->db) == 1)
		return SQLITE_ROW;
	if (stmt(s, ST_GET_REQUEST, &get) != ECL_OK)
		return sqlite3_extended_errcode(s->db); /* the prepare's failure */
	bind_text(get, 1, id);
	rc = sqlite3_step(get);
	pending = rc == SQLITE_ROW && sqlite3_column_type(get, 0) != SQLITE_NULL;
	if (pending)
		*request = request_of(get, 0);
	sqlite3_reset(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	if (!pending)
		return SQLITE_DONE; /* the run is not as the update expects */
	sqlite3_reset(st);
	sqlite3_bind_int(st, 11, 1);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE && sqlite3_changes(s->db) == 1)
		return SQLITE_ROW;
	*request = NULL;
	return rc;
}

/* What a commit of c that failed was doing, for its error. */
static const char *commit_doing(const store_commit *c, char *doing, size_t len)
{
	snprintf(doing, len, "cannot commit step %d (%s) of run %s", c->step.seq, c->step.step,
		 c->run_id);
	return doing;
}

/* The failure of SQLite code rc in a commit of c, as fail() gives it. */
static int commit_failed(sqlite_store *s, int rc, const store_commit *c)
{
	char doing[160];

	return fail(s, rc, commit_doing(c, doing, sizeof(doing)));
}

/* Insert the calls of the checkpoint c commits, and the definition it carries: SQLITE_DONE or
 * the SQLite code of what failed. */
static int insert_calls(sqlite_store *s, const store_commit *c)
{
	sqlite3_stmt *st;
	int i, rc;

	for (i = 0; i < c->ncalls; i++) {
		const store_call *k = &c->calls[i];

		if ((rc = prepared(s, ST_INSERT_CALL)) != SQLITE_OK)
			return rc;
		st = s->stmt[ST_INSERT_CALL];
		sqlite3_clear_bindings(st);
		bind_text(st, 1, c->run_id);
		sqlite3_bind_int(st, 2, c->step.seq);
		sqlite3_bind_int(st, 3, k->n);
		sqlite3_bind_int(st, 4, k->kind);
		sqlite3_bind_int(st, 5, k->repair);
		bind_text(st, 6, k->fix);
		bind_text(st, 7, k->answer);
		bind_text(st, 8, k->error);
		sqlite3_bind_int64(st, 9, k->tokens_in);
		sqlite3_bind_int64(st, 10, k->tokens_out);
		sqlite3_bind_int64(st, 11, k->latency_us);
		sqlite3_bind_int64(st, 12, k->tokens_cached);
		sqlite3_bind_int64(st, 13, k->tokens_cache_write);
		sqlite3_bind_int64(st, 14, k->ttft_us);
		if ((rc = exec_rc(s, ST_INSERT_CALL)) != SQLITE_DONE)
			return rc;
	}
	if (!c->def)
		return SQLITE_DONE;
	if ((rc = prepared(s, ST_PUT_DEF)) != SQLITE_OK)
		return rc;
	st = s->stmt[ST_PUT_DEF];
	sqlite3_clear_bindings(st);
	bind_text(st, 1, c->def->workflow);
	bind_text(st, 2, c->def->version);
	bind_text(st, 3, c->def->text);
	return exec_rc(s, ST_PUT_DEF);
}

static int sq_commit(store *base, const store_commit *c, const char **request)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	char doing[160];
	int rc, advance;

	*request = NULL;
	if (s->group_broken) {
		snprintf(s->err, sizeof(s->err), "%s: %s: the group it belongs to was rolled back",
			 s->path, commit_doing(c, doing, sizeof(doing)));
		return ECL_ESTORE;
	}
	if (!s->group && (rc = exec_rc(s, ST_BEGIN)) != SQLITE_DONE)
		return commit_failed(s, rc, c);
	if ((rc = stmt(s, ST_INSERT_STEP, &st)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	bind_text(st, 1, c->run_id);
	sqlite3_bind_int(st, 2, c->step.seq);
	bind_text(st, 3, c->step.step);
	sqlite3_bind_int(st, 4, c->step.attempt);
	bind_text(st, 5, c->step.output);
	bind_text(st, 6, c->step.raw);
	bind_text(st, 7, c->step.vars);
	sqlite3_bind_int64(st, 8, c->step.tokens_in);
	sqlite3_bind_int64(st, 9, c->step.tokens_out);
	sqlite3_bind_int64(st, 10, c->step.started_ms);
	sqlite3_bind_int64(st, 11, c->step.duration_us);
	sqlite3_bind_int64(st, 12, c->step.tokens_cached);
	sqlite3_bind_int64(st, 13, c->step.tokens_cache_write);
	sqlite3_bind_int64(st, 14, c->step.ttft_us);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			snprintf(s->err, sizeof(s->err),
				 "%s: run %s: checkpoint %d exists already: another process drives "
				 "this run",
				 s->path, c->run_id, c->step.seq);
			rc = ECL_ESTATE;
		} else {
			rc = commit_failed(s, rc, c);
		}
		rollback(s);
		return rc;
	}
	if ((rc = insert_calls(s, c)) != SQLITE_DONE) {
		rc = commit_failed(s, rc, c);
		rollback(s);
		return rc;
	}
	advance = run_status_is(c->status, ECL_RUN_RUNNING);
	if ((rc = stmt(s, advance ? ST_ADVANCE_RUN : ST_FINISH_RUN, &st)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	bind_text(st, 1, c->run_id);
	bind_text(st, 2, c->status);
	bind_text(st, 3, c->current);
	sqlite3_bind_int(st, 4, c->step.seq);
	sqlite3_bind_int(st, 5, c->attempt);
	bind_text(st, 6, c->output);
	bind_text(st, 7, c->error);
	sqlite3_bind_int64(st, 8, c->now_ms);
	bind_text(st, 9, c->owner);
	sqlite3_bind_int64(st, 10, c->lease_until_ms);
	rc = step_once(s, st, c->run_id, request);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		snprintf(s->err, sizeof(s->err),
			 "%s: run %s changed under this process (it is no longer at checkpoint %d, "
			 "running and leased to it): another process took it over",
			 s->path, c->run_id, c->step.seq - 1);
		rollback(s);
		return ECL_ESTATE;
	}
	if (rc != SQLITE_ROW) {
		rc = commit_failed(s, rc, c);
		rollback(s);
		return rc;
	}
	if (s->group)
		return ECL_OK; /* durable with the group */
	if ((rc = exec_rc(s, ST_COMMIT)) == SQLITE_DONE)
		return ECL_OK;
	rc = commit_failed(s, rc, c);
	rollback(s);
	return rc;
}

static int sq_group_begin(store *base)
{
	sqlite_store *s = (sqlite_store *)base;
	int rc;

	if (s->group) {
		snprintf(s->err, sizeof(s->err), "%s: a group of commits is open already", s->path);
		return ECL_EUSAGE;
	}
	s->group_broken = 0;
	if ((rc = exec_step(s, ST_BEGIN, "cannot begin a group of commits")) != ECL_OK)
		return rc;
	s->group = 1;
	return ECL_OK;
}

static int sq_group_end(store *base, int keep)
{
	sqlite_store *s = (sqlite_store *)base;
	int rc;

	if (!s->group) {
		if (!s->group_broken)
			return ECL_OK;
		s->group_broken = 0;
		if (keep)
			snprintf(s->err, sizeof(s->err),
				 "%s: the group of commits was rolled back by a failure inside it",
				 s->path);
		return keep ? ECL_ESTORE : ECL_OK;
	}
	if (!keep) {
		rollback(s);
		s->group_broken = 0;
		return ECL_OK;
	}
	s->group = 0;
	rc = exec_step(s, ST_COMMIT, "cannot commit a group of transitions");
	if (rc != ECL_OK)
		rollback(s);
	return rc;
}

/* The lease statement id in *st with the run's id and the lease's owner bound (?1, ?2), as
 * every lease statement takes them. */
static int lease_stmt(sqlite_store *s, enum stmt_id id, const char *run_id, const char *owner,
		      sqlite3_stmt **st)
{
	int rc = stmt(s, id, st);

	if (rc == ECL_OK) {
		bind_text(*st, 1, run_id);
		bind_text(*st, 2, owner);
	}
	return rc;
}

/* Run the bound lease update st once, through step_once when request is not NULL, and reset
 * it: ECL_OK when it changed the run's row, ECL_ESTATE when the row is not as it expects (the
 * caller says why), or a code with what it was doing in s->err. */
static int lease_update(sqlite_store *s, sqlite3_stmt *st, const char *id, const char **request,
			const char *doing)
{
	int rc;

	if (request) {
		rc = step_once(s, st, id, request);
	} else {
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE && sqlite3_changes(s->db) == 1)
			rc = SQLITE_ROW;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return ECL_ESTATE;
	return rc == SQLITE_ROW ? ECL_OK : fail(s, rc, doing);
}

/* A lease update that found the run no longer leased to this process. */
static int lease_lost(sqlite_store *s, const char *id)
{
	snprintf(s->err, sizeof(s->err), "%s: run %s: this process lost its lease", s->path, id);
	return ECL_ESTATE;
}

static int sq_acquire(store *base, const char *id, const char *owner, const char *steal,
		      int attempt, long long now_ms, long long lease_until_ms, char **holder)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	store_run run;
	int rc;

	if ((rc = lease_stmt(s, ST_ACQUIRE, id, owner, &st)) != ECL_OK)
		return rc;
	*holder = NULL;
	sqlite3_bind_int64(st, 3, now_ms);
	sqlite3_bind_int(st, 4, attempt);
	sqlite3_bind_int64(st, 5, lease_until_ms);
	bind_text(st, 6, steal ? steal : "");
	if ((rc = lease_update(s, st, id, NULL, "cannot take the run's lease")) != ECL_ESTATE)
		return rc;
	/* Say why: no such run, a status that cannot be driven, or a live holder. */
	if ((rc = sq_get_run(base, id, &run)) != ECL_OK)
		return rc;
	return store_refused_lease(&run, now_ms, holder, s->err, sizeof(s->err));
}

/* The JSON array of the names, for a statement's parameter; NULL when memory ran out. */
static char *name_array(const char *const *names, int n)
{
	buf b = {0};
	int i;

	buf_puts(&b, "[");
	for (i = 0; i < n; i++) {
		if (i)
			buf_puts(&b, ",");
		buf_json_str(&b, names[i], strlen(names[i]));
	}
	buf_puts(&b, "]");
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

static int sq_claim(store *base, const char *owner, const char *const *workflows, int nworkflows,
		    int limit, long long now_ms, long long lease_until_ms, char (*ids)[ECL_ID_MAX],
		    int *count)
{
	sqlite_store *s = (sqlite_store *)base;
	char *names = name_array(workflows, nworkflows);
	sqlite3_stmt *st;
	int rc;

	*count = 0;
	if (!names)
		return out_of_memory(s, "claiming runs");
	/* IMMEDIATE: the runs are chosen under the write lock, so that two claims never choose
	 * the same one */
	if ((rc = exec_step(s, ST_BEGIN, "cannot claim runs")) != ECL_OK ||
	    (rc = stmt(s, ST_CLAIM, &st)) != ECL_OK) {
		rollback(s);
		mem_free(names);
		return rc;
	}
	bind_text(st, 1, owner);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, lease_until_ms);
	bind_text(st, 4, names);
	sqlite3_bind_int(st, 5, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *count < limit)
		snprintf(ids[(*count)++], ECL_ID_MAX, "%s", col(st, 0));
	sqlite3_reset(st);
	mem_free(names);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = fail(s, rc, "cannot claim runs");
		rollback(s);
		*count = 0;
		return rc;
	}
	if ((rc = exec_step(s, ST_COMMIT, "cannot claim runs")) != ECL_OK) {
		rollback(s);
		*count = 0;
	}
	return rc;
}

static int sq_heartbeat(store *base, const char *id, const char *owner, long long now_ms,
			long long lease_until_ms, const char **request)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = lease_stmt(s, ST_HEARTBEAT, id, owner, &st)) != ECL_OK)
		return rc;
	(void)now_ms;
	*request = NULL;
	sqlite3_bind_int64(st, 4, lease_until_ms);
	rc = lease_update(s, st, id, request, "cannot renew the run's lease");
	return rc == ECL_ESTATE ? lease_lost(s, id) : rc;
}

static int sq_release(store *base, const char *id, const char *owner, const char *status,
		      const char *error, long long now_ms)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = lease_stmt(s, ST_RELEASE, id, owner, &st)) != ECL_OK)
		return rc;
	bind_text(st, 3, status);
	bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, now_ms);
	rc = lease_update(s, st, id, NULL, "cannot update the run's status");
	return rc == ECL_ESTATE ? lease_lost(s, id) : rc;
}

static int sq_note(store *base, const char *id, int seq, const char *text, long long now_ms)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, ST_NOTE, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	sqlite3_bind_int(st, 2, seq);
	sqlite3_bind_int64(st, 3, now_ms);
	bind_text(st, 4, text);
	return exec_step(s, ST_NOTE, "cannot write the run's history");
}

static int sq_answer(store *base, const char *id, int seq, const char *answer, long long now_ms)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	store_run run;
	int rc;

	/* IMMEDIATE: the conditions are read under the write lock, as of the last commit */
	if ((rc = exec_step(s, ST_BEGIN, "cannot record the answer")) != ECL_OK)
		return rc;
	if ((rc = stmt(s, ST_ANSWER, &st)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	bind_text(st, 1, id);
	sqlite3_bind_int(st, 2, seq);
	sqlite3_bind_int64(st, 3, now_ms);
	bind_text(st, 4, answer);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = fail(s, rc, "cannot record the answer");
		rollback(s);
		return rc;
	}
	if (sqlite3_changes(s->db) == 1) {
		rc = exec_step(s, ST_COMMIT, "cannot record the answer");
		if (rc != ECL_OK)
			rollback(s);
		return rc;
	}
	rollback(s);
	if ((rc = sq_get_run(base, id, &run)) != ECL_OK)
		return rc;
	return store_refused_answer(&run, seq, s->err, sizeof(s->err));
}

static int sq_request(store *base, const char *id, const char *what, long long now_ms, int *applied)
{
	sqlite_store *s = (sqlite_store *)base;
	int cancel = strcmp(what, "cancel") == 0;
	sqlite3_stmt *st;
	store_run run;
	char note[64];
	int rc;

	*applied = 0;
	if ((rc = exec_step(s, ST_BEGIN, "cannot change the run")) != ECL_OK)
		return rc;
	if ((rc = stmt(s, ST_REQUEST_DIRECT, &st)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	bind_text(st, 1, id);
	bind_text(st, 2,
		  cancel ? ecl_run_status_name(ECL_RUN_CANCELLED)
			 : ecl_run_status_name(ECL_RUN_PAUSED));
	sqlite3_bind_int64(st, 3, now_ms);
	bind_text(st, 4, ecl_run_status_name(ECL_RUN_RUNNING));
	bind_text(st, 5, ecl_run_status_name(ECL_RUN_INTERRUPTED));
	bind_text(st, 6,
		  cancel ? ecl_run_status_name(ECL_RUN_PAUSED)
			 : ecl_run_status_name(ECL_RUN_RUNNING));
	bind_text(
		st, 7,
		ecl_run_status_name(
			ECL_RUN_WAITING)); /* a run waiting for a human answer can be paused too */
	bind_text(st, 8, ecl_run_status_name(ECL_RUN_QUEUED));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = fail(s, rc, "cannot change the run");
		rollback(s);
		return rc;
	}
	if (sqlite3_changes(s->db) == 1) {
		*applied = 1;
	} else {
		if ((rc = stmt(s, ST_REQUEST_DEFERRED, &st)) != ECL_OK) {
			rollback(s);
			return rc;
		}
		bind_text(st, 1, id);
		bind_text(st, 2, what);
		sqlite3_bind_int64(st, 3, now_ms);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			rc = fail(s, rc, "cannot change the run");
			rollback(s);
			return rc;
		}
		if (sqlite3_changes(s->db) != 1) {
			rollback(s);
			if ((rc = sq_get_run(base, id, &run)) != ECL_OK)
				return rc;
			snprintf(s->err, sizeof(s->err), "run %s has %s; it cannot be %s", id,
				 run.status,
				 cancel ? ecl_run_status_name(ECL_RUN_CANCELLED)
					: ecl_run_status_name(ECL_RUN_PAUSED));
			store_run_clear(&run);
			return ECL_ESTATE;
		}
	}
	snprintf(note, sizeof(note), "%s %s", cancel ? "cancel" : "pause",
		 *applied ? "done" : "requested of the driver");
	if ((rc = sq_note(base, id, -1, note, now_ms)) != ECL_OK) {
		rollback(s);
		*applied = 0;
		return rc;
	}
	rc = exec_step(s, ST_COMMIT, "cannot change the run");
	if (rc != ECL_OK)
		rollback(s);
	return rc;
}

/* Walk the rows (seq, ts_ms, text) of statement `which` for run id. */
static int list_texts(sqlite_store *s, enum stmt_id which, const char *id,
		      int (*fn)(void *ctx, int seq, long long ts_ms, const char *text), void *ctx)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, which, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int stop = fn(ctx, sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1),
			      col(st, 2) ? col(st, 2) : "");

		if (stop) {
			sqlite3_reset(st);
			return stop;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot read the run's history");
}

static int sq_list_notes(store *base, const char *id,
			 int (*fn)(void *ctx, int seq, long long ts_ms, const char *text),
			 void *ctx)
{
	return list_texts((sqlite_store *)base, ST_LIST_NOTES, id, fn, ctx);
}

static int sq_list_answers(store *base, const char *id,
			   int (*fn)(void *ctx, int seq, long long ts_ms, const char *answer),
			   void *ctx)
{
	return list_texts((sqlite_store *)base, ST_LIST_ANSWERS, id, fn, ctx);
}

static int sq_get_answer(store *base, const char *id, int seq, char **answer)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc, oom = 0;

	*answer = NULL;
	if ((rc = stmt(s, ST_GET_ANSWER, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	sqlite3_bind_int(st, 2, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*answer = column_dup(st, 0, &oom);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, rc, "cannot read the answer");
	if (oom)
		return out_of_memory(s, "reading the answer");
	return ECL_OK;
}

/* The WHERE clause of a filter; bind_filter binds its parameters in the same order. */
static void filter_sql(const store_filter *f, buf *b)
{
	int i;

	buf_puts(b, " WHERE 1");
	if (f->nstatuses > 0) {
		int live = 1;

		buf_puts(b, " AND status IN (");
		for (i = 0; i < f->nstatuses; i++) {
			buf_puts(b, i ? ", ?" : "?");
			live &= !is_over(f->statuses[i]);
		}
		buf_puts(b, ")");
		if (live) /* lets SQLite use the index of the runs that are not over */
			buf_puts(b, " AND " NOT_OVER);
	}
	if (f->workflow)
		buf_puts(b, " AND workflow = ?");
	if (f->updated_before_ms)
		buf_puts(b, " AND updated_ms < ?");
}

static int bind_filter(sqlite3_stmt *st, const store_filter *f)
{
	int i, n = 1;

	for (i = 0; i < f->nstatuses; i++)
		bind_text(st, n++, f->statuses[i]);
	if (f->workflow)
		bind_text(st, n++, f->workflow);
	if (f->updated_before_ms)
		sqlite3_bind_int64(st, n++, f->updated_before_ms);
	return n;
}

static int sq_list_runs(store *base, const store_filter *f, store_run_fn fn, void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st = NULL;
	buf sql = {0};
	int rc, n;

	buf_puts(&sql, "SELECT " RUN_COLUMNS " FROM runs");
	filter_sql(f, &sql);
	buf_puts(&sql, " ORDER BY created_ms DESC, id DESC LIMIT ?");
	if (sql.oom) {
		buf_free(&sql);
		return out_of_memory(s, "listing the runs");
	}
	rc = sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL);
	buf_free(&sql);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot list the runs");
	n = bind_filter(st, f);
	sqlite3_bind_int(st, n, f->limit > 0 ? f->limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_run run;
		int stop;

		if ((rc = read_run(st, &run)) != ECL_OK) {
			store_run_clear(&run);
			sqlite3_finalize(st);
			return rc == ECL_ENOMEM ? out_of_memory(s, "listing the runs") : rc;
		}
		stop = fn(ctx, &run);
		store_run_clear(&run);
		if (stop) {
			sqlite3_finalize(st);
			return stop;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot list the runs");
}

static int sq_fork(store *base, const char *from, int upto, const store_run *copy)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	char note[128];
	int rc;

	if ((rc = exec_step(s, ST_BEGIN, "cannot fork the run")) != ECL_OK)
		return rc;
	if ((rc = sq_create_run(base, copy)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	if ((rc = stmt(s, ST_FORK_STEPS, &st)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	bind_text(st, 1, from);
	bind_text(st, 2, copy->id);
	sqlite3_bind_int(st, 3, upto);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE && (rc = prepared(s, ST_FORK_CALLS)) == SQLITE_OK) {
		st = s->stmt[ST_FORK_CALLS];
		bind_text(st, 1, from);
		bind_text(st, 2, copy->id);
		sqlite3_bind_int(st, 3, upto);
		rc = exec_rc(s, ST_FORK_CALLS);
	}
	if (rc != SQLITE_DONE) {
		rc = fail(s, rc, "cannot copy the checkpoints");
		rollback(s);
		return rc;
	}
	snprintf(note, sizeof(note), "forked from run %s at checkpoint %d", from, upto);
	if ((rc = sq_note(base, copy->id, upto, note, copy->created_ms)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	rc = exec_step(s, ST_COMMIT, "cannot fork the run");
	if (rc != ECL_OK)
		rollback(s);
	return rc;
}

/* A database on a full disk cannot even record the deletion that would free room: SQLite
 * writes each change to the -wal file first, and opening the file makes its -shm file. So
 * beside each database ecl keeps FILE-reserve, this many bytes of blocks allocated to nothing.
 * A store opened to free room (ecl prune) spends it when the disk is full, and makes it again
 * once the room of the deleted runs is given back; every other store that opens to write makes
 * it when it is missing and there is room. */
#define RESERVE_BYTES (4L << 20)

/* The reserve's path in b; 0 for a database that is not a plain file, or out of memory. */
static int reserve_path(const sqlite_store *s, buf *b)
{
	if (!s->path[0] || s->path[0] == ':' || !strncmp(s->path, "file:", 5))
		return 0;
	buf_printf(b, "%s-reserve", s->path);
	return !b->oom;
}

/* Make the reserve when it is missing; where there is no room for all of it, none is made
 * (a later open tries again). */
static void reserve_keep(const sqlite_store *s)
{
	buf path = {0};
	int fd;

	if (reserve_path(s, &path) &&
	    (fd = open(path.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) >= 0) {
		if (posix_fallocate(fd, 0, RESERVE_BYTES) != 0)
			unlink(path.data);
		close(fd);
	}
	buf_free(&path);
}

/* Spend the reserve, when this store may (it was opened to free room): 1 when there was one
 * to give its room. */
static int reserve_release(const sqlite_store *s)
{
	buf path = {0};
	int done = s->reclaim && reserve_path(s, &path) && unlink(path.data) == 0;

	buf_free(&path);
	return done;
}

/* Runs a prune on a full disk deletes in one transaction: each is followed by a checkpoint
 * that gives the room its -wal frames took back, so the reserve need only hold this many
 * runs' pages. */
#define PRUNE_CHUNK 16

/* Run one DELETE of prune: `head` followed by the filter over finished runs, the first limit of
 * them in id order when limit > 0 (the same runs for each statement of a transaction). */
static int prune_one(sqlite_store *s, const char *head, const store_filter *f, int limit)
{
	sqlite3_stmt *st = NULL;
	buf sql = {0};
	int rc;

	buf_puts(&sql, head);
	buf_puts(&sql, " (SELECT id FROM runs");
	filter_sql(f, &sql);
	buf_puts(&sql, " AND status IN ('completed', 'failed', 'cancelled')");
	if (limit > 0)
		buf_printf(&sql, " ORDER BY id LIMIT %d", limit);
	buf_puts(&sql, ")");
	if (sql.oom) {
		buf_free(&sql);
		return out_of_memory(s, "pruning");
	}
	rc = sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL);
	buf_free(&sql);
	if (rc == SQLITE_OK) {
		bind_filter(st, f);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot prune");
}

/* Delete the finished runs f selects (the first limit of them when limit > 0) with everything
 * stored about them, in one transaction; *count is how many. */
static int prune_runs(sqlite_store *s, const store_filter *f, int limit, int *count)
{
	int rc;

	*count = 0;
	if ((rc = exec_step(s, ST_BEGIN, "cannot prune")) != ECL_OK)
		return rc;
	/* Checkpoints, calls, notes and answers first: they name the runs the last statement
	 * deletes. */
	if ((rc = prune_one(s, "DELETE FROM steps WHERE run_id IN", f, limit)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM calls WHERE run_id IN", f, limit)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM notes WHERE run_id IN", f, limit)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM answers WHERE run_id IN", f, limit)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM runs WHERE id IN", f, limit)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	*count = sqlite3_changes(s->db);
	if ((rc = exec_step(s, ST_COMMIT, "cannot prune")) != ECL_OK) {
		*count = 0;
		rollback(s);
	}
	return rc;
}

/* Move the -wal file's frames into the database and cut it to nothing: an SQLite code. */
static int checkpoint(sqlite_store *s)
{
	return sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
}

/* The number a pragma such as freelist_count reads, or -1 when it cannot be read. */
static long long pragma_int(sqlite_store *s, const char *sql)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Give the room of deleted runs back to the file system on a full disk, where VACUUM cannot
 * write its copy of the file: a few free pages at a time are moved to the end of the file
 * and cut off (incremental vacuum, on in every database ecl made or pruned since it
 * keeps a reserve), each step's -wal room given back before the next. */
static int shrink(sqlite_store *s)
{
	long long left = pragma_int(s, "PRAGMA freelist_count"), before;
	int rc = SQLITE_OK;

	do {
		before = left;
		rc = sqlite3_exec(s->db, "PRAGMA incremental_vacuum(64)", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = checkpoint(s);
		left = pragma_int(s, "PRAGMA freelist_count");
	} while (rc == SQLITE_OK && left > 0 && left < before);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot give the room of the deleted runs back");
	if (left > 0) {
		snprintf(s->err, sizeof(s->err),
			 "%s: the room of the deleted runs stays in the file, for new runs: giving "
			 "it back to the disk needs room to rewrite the file (the disk is full): "
			 "free some space and prune again",
			 s->path);
		return ECL_ESTORE;
	}
	return ECL_OK;
}

/* Delete as prune_runs does, a few runs at a time, each transaction's -wal room given back
 * before the next; *count is how many went. */
static int prune_chunks(sqlite_store *s, const store_filter *f, int *count)
{
	int rc, n;

	checkpoint(s);
	do {
		if ((rc = prune_runs(s, f, PRUNE_CHUNK, &n)) == ECL_OK &&
		    (rc = checkpoint(s)) != SQLITE_OK)
			rc = fail(s, rc, "cannot prune");
		*count += n;
	} while (rc == ECL_OK && n > 0);
	return rc;
}

/* Give the room of deleted runs back to the file system: VACUUM rebuilds the file (and turns
 * on incremental vacuum in one made before ecl did), but needs room for a copy of it; on a
 * full disk the file is shrunk in place. */
static int compact(sqlite_store *s)
{
	int rc;

	if (s->full && pragma_int(s, "PRAGMA auto_vacuum") == 2)
		return shrink(s);
	rc = sqlite3_exec(s->db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = checkpoint(s);
	return rc == SQLITE_OK ? ECL_OK : fail(s, rc, "cannot reclaim the space");
}

static int sq_prune(store *base, const store_filter *f, int *count)
{
	sqlite_store *s = (sqlite_store *)base;
	int rc;

	s->full = 0;
	rc = prune_runs(s, f, 0, count);
	/* On a full disk, the reserve (when this store may spend it) gives room to delete a few
	 * runs at a time, and to shrink the file. */
	if (rc == ECL_ESTORE && s->full) {
		reserve_release(s);
		rc = prune_chunks(s, f, count);
	}
	if (rc == ECL_OK && (rc = compact(s)) == ECL_ESTORE && s->full) {
		reserve_release(s);
		checkpoint(s);
		rc = shrink(s);
	}
	if (rc == ECL_OK && s->reclaim)
		reserve_keep(s);
	return rc;
}

static int sq_count_runs(store *base, const char *workflow, long long since_ms, store_count_fn fn,
			 void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc, stop = 0;

	rc = sqlite3_prepare_v2(s->db,
				"SELECT workflow, status, count(*), sum(seq) FROM runs"
				" WHERE created_ms >= ?1 AND (?2 IS NULL OR workflow = ?2)"
				" GROUP BY workflow, status ORDER BY workflow, status",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot count the runs");
	sqlite3_bind_int64(st, 1, since_ms);
	bind_text(st, 2, workflow);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, col(st, 0), col(st, 1), sqlite3_column_int64(st, 2),
			  sqlite3_column_int64(st, 3));
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot count the runs");
}

static int sq_walk_durations(store *base, const char *workflow, long long since_ms,
			     store_duration_fn fn, void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc, stop = 0;

	rc = sqlite3_prepare_v2(s->db,
				"SELECT s.step, s.duration_us, s.tokens_in, s.tokens_out,"
				" r.provider, r.model FROM steps s JOIN runs r ON r.id = s.run_id"
				" WHERE r.workflow = ?1 AND r.created_ms >= ?2",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot measure the steps");
	bind_text(st, 1, workflow);
	sqlite3_bind_int64(st, 2, since_ms);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, col(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
			  sqlite3_column_int64(st, 3), col(st, 4), col(st, 5));
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot measure the steps");
}

static int sq_set_version(store *base, const char *id, const char *version, long long now_ms)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, ST_SET_VERSION, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	bind_text(st, 2, version);
	sqlite3_bind_int64(st, 3, now_ms);
	return exec_step(s, ST_SET_VERSION, "cannot update the run's version");
}

static int sq_worker_register(store *base, const store_worker *w)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = exec_step(s, ST_BEGIN, "cannot register the worker")) != ECL_OK ||
	    (rc = stmt(s, ST_WORKER_PUT, &st)) != ECL_OK)
		goto out;
	bind_text(st, 1, w->id);
	bind_text(st, 2, w->host);
	sqlite3_bind_int64(st, 3, w->pid);
	bind_text(st, 4, w->workflows);
	sqlite3_bind_int(st, 5, w->concurrency);
	sqlite3_bind_int64(st, 6, w->lease_ms);
	sqlite3_bind_int64(st, 7, w->started_ms);
	sqlite3_bind_int64(st, 8, w->heartbeat_ms);
	if ((rc = exec_step(s, ST_WORKER_PUT, "cannot register the worker")) != ECL_OK ||
	    (rc = stmt(s, ST_WORKER_PRUNE, &st)) != ECL_OK)
		goto out;
	bind_text(st, 1, w->id);
	sqlite3_bind_int64(st, 2, w->heartbeat_ms);
	if ((rc = exec_step(s, ST_WORKER_PRUNE, "cannot remove the workers gone")) == ECL_OK)
		rc = exec_step(s, ST_COMMIT, "cannot register the worker");
out:
	if (rc != ECL_OK)
		rollback(s);
	return rc;
}

static int sq_worker_beat(store *base, const char *id, long long now_ms)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, ST_WORKER_BEAT, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms);
	if ((rc = exec_step(s, ST_WORKER_BEAT, "cannot record the worker's heartbeat")) != ECL_OK)
		return rc;
	if (sqlite3_changes(s->db) == 1)
		return ECL_OK;
	snprintf(s->err, sizeof(s->err), "%s: no worker %s is registered", s->path, id);
	return ECL_ENOTFOUND;
}

static int sq_worker_remove(store *base, const char *id)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc;

	if ((rc = stmt(s, ST_WORKER_REMOVE, &st)) != ECL_OK)
		return rc;
	bind_text(st, 1, id);
	return exec_step(s, ST_WORKER_REMOVE, "cannot remove the worker");
}

static int sq_list_workers(store *base, store_worker_fn fn, void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	int rc, stop = 0;

	if ((rc = stmt(s, ST_LIST_WORKERS, &st)) != ECL_OK)
		return rc;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_worker w = {
			.id = col(st, 0),
			.host = col(st, 1),
			.pid = sqlite3_column_int64(st, 2),
			.workflows = col(st, 3),
			.concurrency = sqlite3_column_int(st, 4),
			.lease_ms = sqlite3_column_int64(st, 5),
			.started_ms = sqlite3_column_int64(st, 6),
			.heartbeat_ms = sqlite3_column_int64(st, 7),
			.held = sqlite3_column_int(st, 8),
		};

		stop = fn(ctx, &w);
	}
	sqlite3_reset(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot list the workers");
}

static const char *sq_errmsg(const store *base)
{
	return ((const sqlite_store *)base)->err;
}

static void sq_close(store *base)
{
	sqlite_store *s = (sqlite_store *)base;
	int i;

	if (!s)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	mem_free(s->path);
	mem_free(s);
}

static const store_ops sqlite_ops = {
	.create_run = sq_create_run,
	.get_run = sq_get_run,
	.list_steps = sq_list_steps,
	.list_outputs = sq_list_outputs,
	.list_calls = sq_list_calls,
	.get_def = sq_get_def,
	.commit = sq_commit,
	.claim = sq_claim,
	.acquire = sq_acquire,
	.heartbeat = sq_heartbeat,
	.release = sq_release,
	.request = sq_request,
	.answer = sq_answer,
	.note = sq_note,
	.get_answer = sq_get_answer,
	.list_answers = sq_list_answers,
	.list_notes = sq_list_notes,
	.list_runs = sq_list_runs,
	.fork = sq_fork,
	.prune = sq_prune,
	.count_runs = sq_count_runs,
	.walk_durations = sq_walk_durations,
	.set_version = sq_set_version,
	.group_begin = sq_group_begin,
	.group_end = sq_group_end,
	.worker_register = sq_worker_register,
	.worker_beat = sq_worker_beat,
	.worker_remove = sq_worker_remove,
	.list_workers = sq_list_workers,
	.errmsg = sq_errmsg,
	.close = sq_close,
};

/* The application id, schema version and table count of the file, checked: ECL_OK with
 * *version to upgrade from (0 for an empty file), or ECL_ESTORE for a file of another program
 * or of a newer ecl. */
static int schema_version(sqlite_store *s, int *version)
{
	int app = 0, tables = 0, rc;
	sqlite3_stmt *st;

	/* one statement, so one snapshot: read apart, another process's upgrade could commit
	 * between the reads and the file seem to have tables but no application id */
	rc = sqlite3_prepare_v2(s->db,
				"SELECT (SELECT application_id FROM pragma_application_id),"
				" (SELECT user_version FROM pragma_user_version),"
				" (SELECT count(*) FROM sqlite_schema)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot open the database");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		app = sqlite3_column_int(st, 0);
		*version = sqlite3_column_int(st, 1);
		tables = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return fail(s, rc, "cannot open the database");
	if (app == 0 && tables == 0) {
		*version = 0;
	} else if (app != APPLICATION_ID) {
		snprintf(s->err, sizeof(s->err),
			 "%s: not an ecl database (it belongs to another program: application id "
			 "%#x)",
			 s->path, (unsigned)app);
		return ECL_ESTORE;
	}
	if (*version > SCHEMA_VERSION) {
		snprintf(s->err, sizeof(s->err),
			 "%s: the database has schema version %d, newer than this ecl reads (%d): "
			 "use a newer ecl",
			 s->path, *version, SCHEMA_VERSION);
		return ECL_ESTORE;
	}
	return ECL_OK;
}

/* Check that the file is an ecl database of a version we read, and bring an older (or an
 * empty) one up to date. Several processes may open a new file at once: the upgrade is one
 * IMMEDIATE transaction, which one of them gets first while the others wait, and which reads
 * the version again once it holds the lock, so that each migration runs exactly once. */
static int open_schema(sqlite_store *s)
{
	int version = 0, rc;
	buf sql = {0};

	if ((rc = schema_version(s, &version)) != ECL_OK || version == SCHEMA_VERSION)
		return rc; /* the usual open reads the header and takes no lock */
	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot lock the database to upgrade its schema");
	if ((rc = schema_version(s, &version)) != ECL_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if (version == SCHEMA_VERSION) { /* another process upgraded it while we waited */
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return ECL_OK;
	}
	for (; version < SCHEMA_VERSION; version++)
		buf_puts(&sql, migrations[version]);
	buf_printf(&sql, " PRAGMA application_id = %d; PRAGMA user_version = %d; COMMIT;",
		   APPLICATION_ID, SCHEMA_VERSION);
	rc = sql.oom ? SQLITE_NOMEM : sqlite3_exec(s->db, sql.data, NULL, NULL, NULL);
	buf_free(&sql);
	if (rc != SQLITE_OK) {
		char doing[64];

		snprintf(doing, sizeof(doing), "cannot upgrade the schema to version %d",
			 SCHEMA_VERSION);
		rc = fail(s, rc, doing);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return ECL_OK;
}

/* Settings only possible before SQLite starts (later calls fail harmlessly), given once per
 * process even when threads open stores together: no bulk allocation of page cache when a
 * cache opens (a temporary b-tree's ~90 KiB, freed at once, moved the heap top: a brk pair
 * and a TLB flush), and no global count of the memory SQLite holds, which takes a global
 * mutex on every allocation. */
static pthread_once_t sqlite_setup_once = PTHREAD_ONCE_INIT;

static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Put the file in WAL mode. Switching a new file to it takes an exclusive lock, and SQLite
 * answers SQLITE_BUSY at once when another process holds one instead of waiting as for other
 * statements: so wait here, up to the busy timeout, as for them. */
static int wal_mode(sqlite_store *s, long busy_timeout_ms)
{
	long long deadline = clock_mono_us() + 1000LL * busy_timeout_ms;
	struct timespec ts = {0, 2000000}; /* 2 ms */
	int rc;

	while ((rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) ==
		       SQLITE_BUSY &&
	       clock_mono_us() < deadline)
		nanosleep(&ts, NULL);
	return rc;
}

/* A new store handle for path, before its connection is opened. */
static sqlite_store *store_new(const char *path, char *err, size_t errlen)
{
	sqlite_store *s = mem_calloc(1, sizeof(*s));

	if (!s || !(s->path = mem_strdup(path))) {
		mem_free(s);
		snprintf(err, errlen, "out of memory opening %s", path);
		return NULL;
	}
	s->base.ops = &sqlite_ops;
	pthread_once(&sqlite_setup_once, sqlite_setup);
	return s;
}

/* Open s->db on s->path to read and write, in WAL mode and with the schema up to date. */
static int open_write(sqlite_store *s, ecl_durability durability, long busy_timeout_ms)
{
	int rc;

	/* A store is used by one thread at a time (see ecl_engine_open): no connection mutex. */
	rc = sqlite3_open_v2(s->path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot open the database");
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, (int)busy_timeout_ms);
	/* A new file gives the room of deleted pages back a few at a time, as a prune on a
	 * full disk needs (see shrink); only a file without tables takes this setting, and it
	 * must come before WAL mode writes the file's header. */
	rc = sqlite3_exec(s->db, "PRAGMA auto_vacuum = INCREMENTAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = wal_mode(s, busy_timeout_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db,
				  durability == ECL_DURABLE_FULL ? "PRAGMA synchronous = FULL"
								 : "PRAGMA synchronous = NORMAL",
				  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot open the database");
	return open_schema(s);
}

int store_sqlite_open(const char *path, ecl_durability durability, long busy_timeout_ms,
		      int reclaim, store **out, char *err, size_t errlen)
{
	sqlite_store *s = store_new(path, err, errlen);
	int rc;

	*out = NULL;
	if (!s)
		return ECL_ENOMEM;
	s->reclaim = reclaim;
	rc = open_write(s, durability, busy_timeout_ms);
	/* No room even to open the file: a store opened to free room spends the reserve */
	if (rc == ECL_ESTORE && s->full && reserve_release(s)) {
		sqlite3_close(s->db);
		s->db = NULL;
		rc = open_write(s, durability, busy_timeout_ms);
	}
	if (rc != ECL_OK) {
		snprintf(err, errlen, "%s", s->err);
		sq_close(&s->base);
		return rc;
	}
	if (!reclaim)
		reserve_keep(s);
	*out = &s->base;
	return ECL_OK;
}

/* Open s->db on uri read-only and read its header: ECL_OK, or ECL_ESTORE with s->err set
 * (*sqlite_rc the SQLite code of the failure, 0 for a header refused). */
static int open_read(sqlite_store *s, const char *uri, long busy_timeout_ms, int *sqlite_rc)
{
	int version = 0, rc;

	*sqlite_rc = 0;
	if (s->db) {
		sqlite3_close(s->db);
		s->db = NULL;
	}
	rc = sqlite3_open_v2(uri, &s->db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*sqlite_rc = rc;
		return fail(s, rc, "cannot open the database");
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, (int)busy_timeout_ms);
	if ((rc = schema_version(s, &version)) != ECL_OK) {
		*sqlite_rc = sqlite3_extended_errcode(s->db);
		return rc;
	}
	if (version != SCHEMA_VERSION) {
		snprintf(s->err, sizeof(s->err),
			 "%s: the database has schema version %d, older than this ecl's (%d): a "
			 "command that writes (ecl resume, ecl recover) upgrades it",
			 s->path, version, SCHEMA_VERSION);
		return ECL_ESTORE;
	}
	return ECL_OK;
}

int store_sqlite_open_read(const char *path, long busy_timeout_ms, store **out, char *err,
			   size_t errlen)
{
	sqlite_store *s;
	buf uri = {0}, wal = {0}, parent = {0};
	const char *p, *slash = strrchr(path, '/');
	struct stat st;
	int rc, code;

	*out = NULL;
	if (access(path, F_OK) != 0) /* nothing to read: make it, as other commands do */
		return store_sqlite_open(path, ECL_DURABLE_FULL, busy_timeout_ms, 0, out, err,
					 errlen);
	if (!(s = store_new(path, err, errlen)))
		return ECL_ENOMEM;
	/* a URI, so that the immutable form below can be asked for: the path's own '?', '#'
	 * and '%' are escaped */
	buf_puts(&uri, "file:");
	for (p = path; *p; p++)
		if (*p == '?' || *p == '#' || *p == '%')
			buf_printf(&uri, "%%%02x", (unsigned char)*p);
		else
			buf_append(&uri, p, 1);
	buf_printf(&wal, "%s-wal", path);
	if (slash)
		buf_append(&parent, path, slash > path ? (size_t)(slash - path) : 1);
	else
		buf_puts(&parent, ".");
	if (uri.oom || wal.oom || parent.oom) {
		rc = out_of_memory(s, "opening the database");
		goto out;
	}
	rc = open_read(s, uri.data, busy_timeout_ms, &code);
	/* A WAL database needs its -shm file, which a read-only connection cannot make where
	 * the directory is not writable, or the disk is full. Then no writer can be at work (it
	 * would need them too), and without a -wal file (or with an empty one, which the failed
	 * open may have made) everything is in the database file: read it as it is. */
	if (rc != ECL_OK && (stat(wal.data, &st) != 0 || st.st_size == 0) &&
	    (s->full || (((code & 0xff) == SQLITE_CANTOPEN || (code & 0xff) == SQLITE_READONLY) &&
			 access(parent.data, W_OK) != 0))) {
		buf_puts(&uri, "?immutable=1");
		rc = uri.oom ? out_of_memory(s, "opening the database")
			     : open_read(s, uri.data, busy_timeout_ms, &code);
	}
out:
	buf_free(&uri);
	buf_free(&wal);
	buf_free(&parent);
	if (rc != ECL_OK) {
		snprintf(err, errlen, "%s", s->err);
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return ECL_OK;
}
