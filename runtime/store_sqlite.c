/*
 * store_sqlite.c - the embedded store: one SQLite file in WAL mode. Each transition is one
 * IMMEDIATE transaction that inserts the checkpoint and advances the run; the update only
 * applies when the run is still at the checkpoint the driver loaded, so a second process
 * that drives the same run cannot commit over it. Statements are prepared once and reused.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "internal.h"

/* "ecl1" as a big-endian number, in the header of every ecl database. */
#define APPLICATION_ID 0x65636c31
#define SCHEMA_VERSION 1

static const char schema[] = "CREATE TABLE runs("
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
			     ") WITHOUT ROWID;";

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT_RUN,
	ST_GET_RUN,
	ST_LIST_STEPS,
	ST_INSERT_STEP,
	ST_ADVANCE_RUN,
	ST_SET_STATUS,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT_RUN] = "INSERT INTO runs(id, workflow, version, status, step, seq, attempt,"
			  " inputs, created_ms, updated_ms) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6, ?7,"
			  " ?8, ?8)",
	[ST_GET_RUN] = "SELECT workflow, version, status, step, seq, attempt, inputs, output,"
		       " error, created_ms, updated_ms FROM runs WHERE id = ?1",
	[ST_LIST_STEPS] = "SELECT seq, step, attempt, next, output, raw, vars, tokens_in,"
			  " tokens_out, started_ms, duration_us FROM steps WHERE run_id = ?1"
			  " ORDER BY seq",
	[ST_INSERT_STEP] = "INSERT INTO steps(run_id, seq, step, attempt, next, output, raw, vars,"
			   " tokens_in, tokens_out, started_ms, duration_us)"
			   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_ADVANCE_RUN] = "UPDATE runs SET status = ?2, step = ?3, seq = ?4, attempt = ?5,"
			   " output = ?6, error = ?7, updated_ms = ?8"
			   " WHERE id = ?1 AND seq = ?4 - 1 AND status = 'running'",
	[ST_SET_STATUS] = "UPDATE runs SET status = ?2, attempt = ?3, error = ?4, updated_ms = ?5"
			  " WHERE id = ?1",
};

typedef struct sqlite_store {
	store base;
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[ST_COUNT];
	char err[1024];
} sqlite_store;

/* Record the failure of the last SQLite call, naming the file and what we were doing. */
static int fail(sqlite_store *s, int rc, const char *doing)
{
	const char *why = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	const char *hint = "";

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
	snprintf(s->err, sizeof(s->err), "%s: %s: %s%s", s->path, doing, why, hint);
	return (rc & 0xff) == SQLITE_NOMEM ? ECL_ENOMEM : ECL_ESTORE;
}

static sqlite3_stmt *stmt(sqlite_store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->stmt[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

static int exec_step(sqlite_store *s, enum stmt_id id, const char *doing)
{
	int rc = sqlite3_step(s->stmt[id]);

	sqlite3_reset(s->stmt[id]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return fail(s, rc, doing);
	return ECL_OK;
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

void store_run_clear(store_run *run)
{
	mem_free(run->workflow);
	mem_free(run->version);
	mem_free(run->status);
	mem_free(run->step);
	mem_free(run->inputs);
	mem_free(run->output);
	mem_free(run->error);
	memset(run, 0, sizeof(*run));
}

static int sq_create_run(store *base, const store_run *run)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_INSERT_RUN);
	int rc;

	bind_text(st, 1, run->id);
	bind_text(st, 2, run->workflow);
	bind_text(st, 3, run->version);
	bind_text(st, 4, run->status);
	bind_text(st, 5, run->step);
	sqlite3_bind_int(st, 6, run->attempt);
	bind_text(st, 7, run->inputs);
	sqlite3_bind_int64(st, 8, run->created_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		snprintf(s->err, sizeof(s->err), "%s: a run with id %s exists already", s->path,
			 run->id);
		return ECL_EUSAGE;
	}
	return rc == SQLITE_DONE ? ECL_OK : fail(s, rc, "cannot create the run");
}

static int sq_get_run(store *base, const char *id, store_run *out)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_GET_RUN);
	int rc, oom = 0;

	memset(out, 0, sizeof(*out));
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		snprintf(s->err, sizeof(s->err), "no run with id %s in %s", id, s->path);
		return ECL_ENOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return fail(s, rc, "cannot read the run");
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->workflow = column_dup(st, 0, &oom);
	out->version = column_dup(st, 1, &oom);
	out->status = column_dup(st, 2, &oom);
	out->step = column_dup(st, 3, &oom);
	out->seq = sqlite3_column_int(st, 4);
	out->attempt = sqlite3_column_int(st, 5);
	out->inputs = column_dup(st, 6, &oom);
	out->output = column_dup(st, 7, &oom);
	out->error = column_dup(st, 8, &oom);
	out->created_ms = sqlite3_column_int64(st, 9);
	out->updated_ms = sqlite3_column_int64(st, 10);
	sqlite3_reset(st);
	if (oom || !out->workflow || !out->status || !out->inputs) {
		store_run_clear(out);
		snprintf(s->err, sizeof(s->err), "%s: out of memory reading run %s", s->path, id);
		return ECL_ENOMEM;
	}
	return ECL_OK;
}

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int sq_list_steps(store *base, const char *id, store_step_fn fn, void *ctx)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_LIST_STEPS);
	int rc;

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

static int sq_commit(store *base, const store_commit *c)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st;
	char doing[160];
	int rc;

	snprintf(doing, sizeof(doing), "cannot commit step %d (%s) of run %s", c->step.seq,
		 c->step.step, c->run_id);
	if ((rc = exec_step(s, ST_BEGIN, doing)) != ECL_OK)
		return rc;
	st = stmt(s, ST_INSERT_STEP);
	bind_text(st, 1, c->run_id);
	sqlite3_bind_int(st, 2, c->step.seq);
	bind_text(st, 3, c->step.step);
	sqlite3_bind_int(st, 4, c->step.attempt);
	bind_text(st, 5, c->step.next);
	bind_text(st, 6, c->step.output);
	bind_text(st, 7, c->step.raw);
	bind_text(st, 8, c->step.vars);
	sqlite3_bind_int64(st, 9, c->step.tokens_in);
	sqlite3_bind_int64(st, 10, c->step.tokens_out);
	sqlite3_bind_int64(st, 11, c->step.started_ms);
	sqlite3_bind_int64(st, 12, c->step.duration_us);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		int code = (rc & 0xff) == SQLITE_CONSTRAINT ? ECL_ESTATE : fail(s, rc, doing);

		if (code == ECL_ESTATE)
			snprintf(s->err, sizeof(s->err),
				 "%s: run %s: checkpoint %d exists already: another process drives "
				 "this run",
				 s->path, c->run_id, c->step.seq);
		exec_step(s, ST_ROLLBACK, "cannot roll back");
		return code;
	}
	st = stmt(s, ST_ADVANCE_RUN);
	bind_text(st, 1, c->run_id);
	bind_text(st, 2, c->status);
	bind_text(st, 3, c->current);
	sqlite3_bind_int(st, 4, c->step.seq);
	sqlite3_bind_int(st, 5, c->attempt);
	bind_text(st, 6, c->output);
	bind_text(st, 7, c->error);
	sqlite3_bind_int64(st, 8, c->now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = fail(s, rc, doing);
		exec_step(s, ST_ROLLBACK, "cannot roll back");
		return rc;
	}
	if (sqlite3_changes(s->db) != 1) {
		snprintf(s->err, sizeof(s->err),
			 "%s: run %s is no longer at checkpoint %d or no longer running: another "
			 "process changed it",
			 s->path, c->run_id, c->step.seq - 1);
		exec_step(s, ST_ROLLBACK, "cannot roll back");
		return ECL_ESTATE;
	}
	rc = exec_step(s, ST_COMMIT, doing);
	if (rc != ECL_OK && !sqlite3_get_autocommit(s->db))
		exec_step(s, ST_ROLLBACK, "cannot roll back");
	return rc;
}

static int sq_set_status(store *base, const char *id, const char *status, int attempt,
			 const char *error, long long now_ms)
{
	sqlite_store *s = (sqlite_store *)base;
	sqlite3_stmt *st = stmt(s, ST_SET_STATUS);
	int rc;

	bind_text(st, 1, id);
	bind_text(st, 2, status);
	sqlite3_bind_int(st, 3, attempt);
	bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, now_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, rc, "cannot update the run's status");
	if (sqlite3_changes(s->db) != 1) {
		snprintf(s->err, sizeof(s->err), "no run with id %s in %s", id, s->path);
		return ECL_ENOTFOUND;
	}
	return ECL_OK;
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
	.commit = sq_commit,
	.set_status = sq_set_status,
	.errmsg = sq_errmsg,
	.close = sq_close,
};

static int pragma_int(sqlite_store *s, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(s, rc, "cannot read the database header");
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, rc, "cannot read the database header");
	return ECL_OK;
}

/* Check that the file is an ecl database of a version we read, or make it one if empty. */
static int open_schema(sqlite_store *s)
{
	int app, version, tables, rc;

	if ((rc = pragma_int(s, "PRAGMA application_id", &app)) != ECL_OK ||
	    (rc = pragma_int(s, "PRAGMA user_version", &version)) != ECL_OK ||
	    (rc = pragma_int(s, "SELECT count(*) FROM sqlite_schema", &tables)) != ECL_OK)
		return rc;
	if (app == 0 && tables == 0) {
		char sql[sizeof(schema) + 160];

		snprintf(sql, sizeof(sql),
			 "BEGIN IMMEDIATE; %s PRAGMA application_id = %d; PRAGMA user_version = %d;"
			 " COMMIT;",
			 schema, APPLICATION_ID, SCHEMA_VERSION);
		rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			rc = fail(s, rc, "cannot create the tables");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		return ECL_OK;
	}
	if (app != APPLICATION_ID) {
		snprintf(s->err, sizeof(s->err),
			 "%s: not an ecl database (it belongs to another program: application id "
			 "%#x)",
			 s->path, (unsigned)app);
		return ECL_ESTORE;
	}
	if (version > SCHEMA_VERSION) {
		snprintf(s->err, sizeof(s->err),
			 "%s: the database has schema version %d, newer than this ecl reads (%d): "
			 "use a newer ecl",
			 s->path, version, SCHEMA_VERSION);
		return ECL_ESTORE;
	}
	return ECL_OK;
}

int store_sqlite_open(const char *path, ecl_durability durability, store **out, char *err,
		      size_t errlen)
{
	sqlite_store *s = mem_calloc(1, sizeof(*s));
	int rc, i;

	*out = NULL;
	if (!s || !(s->path = mem_strdup(path))) {
		mem_free(s);
		snprintf(err, errlen, "out of memory opening %s", path);
		return ECL_ENOMEM;
	}
	s->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = fail(s, rc, "cannot open the database");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db,
				  durability == ECL_DURABLE_FULL ? "PRAGMA synchronous = FULL"
								 : "PRAGMA synchronous = NORMAL",
				  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = fail(s, rc, "cannot open the database");
		goto out;
	}
	if ((rc = open_schema(s)) != ECL_OK)
		goto out;
	for (i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			rc = fail(s, rc, "cannot prepare a statement");
			goto out;
		}
	}
	*out = &s->base;
	return ECL_OK;
out:
	snprintf(err, errlen, "%s", s->err);
	sq_close(&s->base);
	return rc;
}
