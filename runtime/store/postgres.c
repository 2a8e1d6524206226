/*
 * store_pg.c - the PostgreSQL store: runs and their checkpoints in one database that many
 * processes on many machines share, through libpq.
 *
 * The tables live in their own schema, `ecl`, so that they sit beside an application's own
 * without clashing. Every statement is prepared once per connection and takes its values as
 * parameters. A transition is one statement: the run's row is updated only when this process
 * holds its lease at the checkpoint before, and the checkpoint's row is inserted only when the
 * update applied, so that an autocommitted transition needs one round trip and one commit.
 * The schema version and its migrations are SQLite's (sqlite.c), in PostgreSQL's words.
 *
 * A connection that breaks is made again before the next operation. A transition whose
 * COMMIT was sent but whose answer never came is resolved by reading the run again: it either
 * shows the checkpoint or it does not. Errors name the server as user@host:port/database,
 * never with a password.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "internal.h"

/* The migrations to schema version N are migrations[N - 1]; store_sqlite.c has the same list
 * (a migration there that only SQLite needs is a no-op here, so that the numbers agree). */
static const char *const migrations[] = {
	/* 1: runs and their checkpoints */
	"CREATE TABLE ecl.runs("
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
	" created_ms BIGINT NOT NULL,"
	" updated_ms BIGINT NOT NULL);"
	"CREATE INDEX runs_by_status ON ecl.runs(status, workflow);"
	"CREATE TABLE ecl.steps("
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" step TEXT NOT NULL,"
	" attempt INTEGER NOT NULL,"
	" next TEXT,"
	" output TEXT,"
	" raw TEXT,"
	" vars TEXT,"
	" tokens_in BIGINT NOT NULL DEFAULT 0,"
	" tokens_out BIGINT NOT NULL DEFAULT 0,"
	" started_ms BIGINT NOT NULL,"
	" duration_us BIGINT NOT NULL,"
	" PRIMARY KEY(run_id, seq));",
	/* 2: leases, requests from other processes, forks, and a history of lifecycle events */
	"ALTER TABLE ecl.runs ADD COLUMN owner TEXT,"
	" ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0,"
	" ADD COLUMN request TEXT, ADD COLUMN parent TEXT;"
	"CREATE TABLE ecl.notes("
	" n BIGINT GENERATED ALWAYS AS IDENTITY,"
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" ts_ms BIGINT NOT NULL,"
	" text TEXT NOT NULL);"
	"CREATE INDEX notes_by_run ON ecl.notes(run_id, seq, n);",
	/* 3: only runs that are not over are indexed by status */
	"DROP INDEX ecl.runs_by_status;"
	"CREATE INDEX runs_live ON ecl.runs(status, workflow)"
	" WHERE status <> 'completed' AND status <> 'failed' AND status <> 'cancelled';",
	/* 4: SQLite only (the same index under another spelling of its condition) */
	"",
	/* 5: the provider a run was started with (never its key) */
	"ALTER TABLE ecl.runs ADD COLUMN provider TEXT, ADD COLUMN model TEXT,"
	" ADD COLUMN base_url TEXT;",
	/* 6: a human's answer in a table of its own, one per checkpoint a run waited at; the
	 * answers kept as notes "answer {json}" move there (the last of a checkpoint's) */
	"CREATE TABLE ecl.answers("
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" ts_ms BIGINT NOT NULL,"
	" answer TEXT NOT NULL,"
	" PRIMARY KEY(run_id, seq));"
	"INSERT INTO ecl.answers SELECT DISTINCT ON (run_id, seq) run_id, seq, ts_ms,"
	" substr(text, 8) FROM ecl.notes WHERE starts_with(text, 'answer ')"
	" ORDER BY run_id, seq, n DESC;"
	"DELETE FROM ecl.notes WHERE starts_with(text, 'answer ');",
	/* 7: what a step sent and received: each workflow version's definition once, and the
	 * calls of a step that made more than one or had none accepted */
	"CREATE TABLE ecl.versions("
	" workflow TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" def TEXT NOT NULL,"
	" PRIMARY KEY(workflow, version));"
	"CREATE TABLE ecl.calls("
	" run_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" n INTEGER NOT NULL,"
	" kind INTEGER NOT NULL,"
	" repair INTEGER NOT NULL,"
	" fix TEXT,"
	" answer TEXT,"
	" error TEXT,"
	" tokens_in BIGINT NOT NULL,"
	" tokens_out BIGINT NOT NULL,"
	" latency_us BIGINT NOT NULL,"
	" PRIMARY KEY(run_id, seq, n));",
	/* 8: the workers (ecl worker) alive, for `ecl workers` */
	"CREATE TABLE ecl.workers("
	" id TEXT PRIMARY KEY,"
	" host TEXT NOT NULL,"
	" pid BIGINT NOT NULL,"
	" workflows TEXT NOT NULL,"
	" concurrency INTEGER NOT NULL,"
	" lease_ms BIGINT NOT NULL,"
	" started_ms BIGINT NOT NULL,"
	" heartbeat_ms BIGINT NOT NULL);",
	/* 9: the run's trace context (a W3C traceparent) */
	"ALTER TABLE ecl.runs ADD COLUMN trace TEXT;",
	/* 10: the input tokens a provider read from its prompt cache and wrote to it, of a
	 * step's and of a call's tokens_in, and a streamed call's time to its first token */
	"ALTER TABLE ecl.steps ADD COLUMN tokens_cached BIGINT NOT NULL DEFAULT 0,"
	" ADD COLUMN tokens_cache_write BIGINT NOT NULL DEFAULT 0,"
	" ADD COLUMN ttft_us BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE ecl.calls ADD COLUMN tokens_cached BIGINT NOT NULL DEFAULT 0,"
	" ADD COLUMN tokens_cache_write BIGINT NOT NULL DEFAULT 0,"
	" ADD COLUMN ttft_us BIGINT NOT NULL DEFAULT 0;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The key of the advisory lock that serialises schema upgrades ("ecl" in ASCII). */
#define UPGRADE_LOCK "6579564"

enum stmt_id {
	ST_INSERT_RUN,
	ST_GET_RUN,
	ST_LIST_STEPS,
	ST_ADVANCE,
	ST_FINISH,
	ST_CLAIM,
	ST_CLAIMED,
	ST_ACQUIRE,
	ST_HEARTBEAT,
	ST_RELEASE,
	ST_REQUEST_DIRECT,
	ST_REQUEST_DEFERRED,
	ST_NOTE,
	ST_ANSWER,
	ST_GET_ANSWER,
	ST_LIST_ANSWERS,
	ST_LIST_OUTPUTS,
	ST_LIST_NOTES,
	ST_LIST_CALLS,
	ST_GET_DEF,
	ST_FORK_CALLS,
	ST_FORK_STEPS,
	ST_SET_VERSION,
	ST_COMMITTED,
	ST_WORKER_REGISTER,
	ST_WORKER_BEAT,
	ST_WORKER_REMOVE,
	ST_LIST_WORKERS,
	ST_COUNT
};

#define RUN_COLUMNS                                                                                \
	"id, workflow, version, status, step, seq, attempt, inputs, output, error, created_ms,"    \
	" updated_ms, owner, lease_until_ms, request, parent, provider, model, base_url, trace"

/* The run's update of a transition ($1 id, $2 status, $3 step, $4 seq, $5 attempt, $6 output,
 * $7 error, $8 now, $9 owner, $10 lease until), then the inserts of the checkpoint ($11..$19:
 * step, attempt, output, raw, vars, tokens in, tokens out, started, duration; $24, $25, $26:
 * tokens cached, written to the cache, time to the first token), of its calls ($20, a JSON array,
 * NULL for none) and of the workflow version's definition ($21 workflow, $22 version, $23 text;
 * NULL for none), which CTEs make conditional on the update: one statement. */
#define STEP_INSERT                                                                                \
	" ), ins AS (INSERT INTO ecl.steps(run_id, seq, step, attempt, output, raw, vars,"         \
	" tokens_in, tokens_out, started_ms, duration_us, tokens_cached, tokens_cache_write,"      \
	" ttft_us) SELECT $1, $4, $11, $12, $13, $14, $15, $16, $17, $18, $19, $24, $25, $26"      \
	" FROM upd),"                                                                              \
	" c AS (INSERT INTO ecl.calls(run_id, seq, n, kind, repair, fix, answer, error,"           \
	" tokens_in, tokens_out, latency_us, tokens_cached, tokens_cache_write, ttft_us)"          \
	" SELECT $1, $4, (k->>'n')::int, (k->>'kind')::int,"                                       \
	" (k->>'repair')::int, k->>'fix', k->>'answer', k->>'error', (k->>'tokens_in')::bigint,"   \
	" (k->>'tokens_out')::bigint, (k->>'latency_us')::bigint, (k->>'tokens_cached')::bigint,"  \
	" (k->>'tokens_cache_write')::bigint, (k->>'ttft_us')::bigint"                             \
	" FROM upd, json_array_elements($20::json) k),"                                            \
	" d AS (INSERT INTO ecl.versions(workflow, version, def) SELECT $21, $22, $23 FROM upd"    \
	" WHERE $21::text IS NOT NULL ON CONFLICT DO NOTHING)"                                     \
	" SELECT request FROM upd"
#define STEP_WHERE " WHERE id = $1 AND seq = $4 - 1 AND status = 'running' AND owner = $9"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_INSERT_RUN] = "INSERT INTO ecl.runs(id, workflow, version, status, step, seq, attempt,"
			  " inputs, created_ms, updated_ms, parent, owner, lease_until_ms,"
			  " provider, model, base_url, trace)"
			  " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13,"
			  " $14, $15, $16) ON CONFLICT (id) DO NOTHING",
	[ST_GET_RUN] = "SELECT " RUN_COLUMNS " FROM ecl.runs WHERE id = $1",
	[ST_LIST_STEPS] =
		"SELECT s.seq, s.step, s.attempt, coalesce(s.next,"
		" lead(s.step) OVER (ORDER BY s.seq),"
		" CASE WHEN r.seq = s.seq THEN r.step END), s.output, s.raw, s.vars,"
		" s.tokens_in, s.tokens_out, s.started_ms, s.duration_us, s.tokens_cached,"
		" s.tokens_cache_write, s.ttft_us FROM ecl.steps s JOIN ecl.runs r"
		" ON r.id = s.run_id"
		" WHERE s.run_id = $1 ORDER BY s.seq",
	[ST_ADVANCE] = "WITH upd AS (UPDATE ecl.runs SET step = $3, seq = $4, attempt = $5,"
		       " updated_ms = $8, lease_until_ms = $10" STEP_WHERE
		       " RETURNING request, $2::text, $6::text, $7::text" STEP_INSERT,
	[ST_FINISH] = "WITH upd AS (UPDATE ecl.runs SET status = $2, step = $3, seq = $4,"
		      " attempt = $5, output = $6, error = $7, updated_ms = $8, lease_until_ms = 0,"
		      " owner = NULL" STEP_WHERE " RETURNING request, $10::bigint" STEP_INSERT,
	/* the oldest runs of the workflows in $4 (an array; empty for any) that are queued or
	 * whose driver's lease expired; rows another claim is taking are skipped, not waited for */
	[ST_CLAIM] = "UPDATE ecl.runs SET owner = $1, lease_until_ms = $3, status = 'running',"
		     " attempt = attempt + 1, updated_ms = $2, error = NULL, request = NULL"
		     " WHERE id IN (SELECT id FROM ecl.runs"
		     " WHERE status <> 'completed' AND status <> 'failed' AND status <> 'cancelled'"
		     " AND (status = 'queued' OR (status = 'running' AND lease_until_ms < $2))"
		     " AND (cardinality($4::text[]) = 0 OR workflow = ANY($4::text[]))"
		     " ORDER BY created_ms, id LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING id",
	/* the runs a claim of owner $1 stamped $2 took: what a claim whose answer was lost made */
	[ST_CLAIMED] = "SELECT id FROM ecl.runs WHERE owner = $1 AND updated_ms = $2"
		       " AND status = 'running' ORDER BY created_ms, id LIMIT $3",
	[ST_ACQUIRE] = "UPDATE ecl.runs SET owner = $2, lease_until_ms = $5, status = 'running',"
		       " attempt = $4, error = NULL, request = NULL, updated_ms = $3"
		       " WHERE id = $1 AND status IN ('running', 'interrupted', 'paused', "
		       "'waiting', 'queued')"
		       " AND (owner IS NULL OR owner = $2 OR owner = $6 OR lease_until_ms < $3)",
	[ST_HEARTBEAT] = "UPDATE ecl.runs SET lease_until_ms = $3 WHERE id = $1 AND owner = $2"
			 " AND status = 'running' RETURNING request",
	[ST_RELEASE] = "UPDATE ecl.runs SET status = $3, error = $4, updated_ms = $5,"
		       " owner = NULL, lease_until_ms = 0, request = NULL"
		       " WHERE id = $1 AND owner = $2",
	[ST_REQUEST_DIRECT] = "UPDATE ecl.runs SET status = $2, request = NULL, updated_ms = $3"
			      " WHERE id = $1 AND status IN ($4, $5, $6, $7, $8)"
			      " AND (owner IS NULL OR lease_until_ms < $3)",
	[ST_REQUEST_DEFERRED] = "UPDATE ecl.runs SET request = $2 WHERE id = $1"
				" AND status = 'running' AND owner IS NOT NULL"
				" AND lease_until_ms >= $3",
	[ST_NOTE] = "INSERT INTO ecl.notes(run_id, seq, ts_ms, text) VALUES($1, $2, $3, $4)",
	/* the answer, written only while the run waits at checkpoint $2 (the primary key keeps
	 * the first of two given at once) */
	[ST_ANSWER] = "INSERT INTO ecl.answers(run_id, seq, ts_ms, answer) SELECT $1, $2, $3, $4"
		      " WHERE EXISTS(SELECT 1 FROM ecl.runs WHERE id = $1 AND seq = $2"
		      " AND status = 'waiting') ON CONFLICT DO NOTHING",
	[ST_GET_ANSWER] = "SELECT answer FROM ecl.answers WHERE run_id = $1 AND seq = $2",
	[ST_LIST_ANSWERS] = "SELECT seq, ts_ms, answer FROM ecl.answers WHERE run_id = $1"
			    " ORDER BY seq",
	[ST_LIST_OUTPUTS] = "SELECT seq, output FROM ecl.steps WHERE run_id = $1 AND seq <= $2"
			    " AND output IS NOT NULL ORDER BY seq DESC LIMIT $3",
	[ST_LIST_NOTES] = "SELECT seq, ts_ms, text FROM ecl.notes WHERE run_id = $1"
			  " ORDER BY seq, n",
	[ST_FORK_STEPS] =
		"INSERT INTO ecl.steps SELECT $2, seq, step, attempt, next, output,"
		" raw, vars, tokens_in, tokens_out, started_ms, duration_us, tokens_cached,"
		" tokens_cache_write, ttft_us FROM ecl.steps WHERE run_id = $1 AND seq <= $3",
	[ST_LIST_CALLS] = "SELECT seq, n, kind, repair, fix, answer, error, tokens_in, tokens_out,"
			  " latency_us, tokens_cached, tokens_cache_write, ttft_us FROM ecl.calls"
			  " WHERE run_id = $1 ORDER BY seq, n",
	[ST_GET_DEF] = "SELECT def FROM ecl.versions WHERE workflow = $1 AND version = $2",
	[ST_FORK_CALLS] =
		"INSERT INTO ecl.calls SELECT $2, seq, n, kind, repair, fix, answer,"
		" error, tokens_in, tokens_out, latency_us, tokens_cached, tokens_cache_write,"
		" ttft_us FROM ecl.calls WHERE run_id = $1 AND seq <= $3",
	[ST_SET_VERSION] = "UPDATE ecl.runs SET version = $2, updated_ms = $3 WHERE id = $1",
	/* whether the transition to checkpoint $2 of run $1 by $3 committed */
	[ST_COMMITTED] = "SELECT 1 FROM ecl.steps s JOIN ecl.runs r ON r.id = s.run_id"
			 " WHERE s.run_id = $1 AND s.seq = $2 AND r.seq >= $2"
			 " AND (r.owner = $3 OR r.owner IS NULL)",
	/* the worker's row, and the rows of workers silent for ten lease periods (dead without
	 * removing them), in one statement */
	[ST_WORKER_REGISTER] = "WITH gone AS (DELETE FROM ecl.workers WHERE id <> $1"
			       " AND heartbeat_ms < $8 - 10 * lease_ms)"
			       " INSERT INTO ecl.workers(id, host, pid, workflows, concurrency,"
			       " lease_ms, started_ms, heartbeat_ms)"
			       " VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE"
			       " SET host = $2, pid = $3, workflows = $4, concurrency = $5,"
			       " lease_ms = $6, started_ms = $7, heartbeat_ms = $8",
	[ST_WORKER_BEAT] = "UPDATE ecl.workers SET heartbeat_ms = $2 WHERE id = $1",
	[ST_WORKER_REMOVE] = "DELETE FROM ecl.workers WHERE id = $1",
	/* the runs held: only runs that are not over have an owner (runs_live finds them) */
	[ST_LIST_WORKERS] = "SELECT w.id, w.host, w.pid, w.workflows, w.concurrency, w.lease_ms,"
			    " w.started_ms, w.heartbeat_ms, coalesce(h.n, 0) FROM ecl.workers w"
			    " LEFT JOIN (SELECT owner, count(*) AS n FROM ecl.runs"
			    " WHERE status <> 'completed' AND status <> 'failed'"
			    " AND status <> 'cancelled' AND owner IS NOT NULL GROUP BY owner) h"
			    " ON h.owner = w.id ORDER BY w.started_ms, w.id",
};

typedef struct pg_store {
	store base;
	PGconn *conn;
	char *conninfo;  /* as given (it may hold a password: never printed) */
	char label[256]; /* user@host:port/database, for messages */
	int prepared[ST_COUNT];
	int read_only;
	long busy_timeout_ms;
	int group;        /* a group's transaction is open: commits join it */
	int group_broken; /* a commit failed inside the group and rolled it back */
	int txn;          /* a transaction is open (a group's, or an operation's own) */
	int sent; /* the last statement run_stmt failed was sent (else it could not connect) */
	/* The connection was lost at lost_ms and said (on_connection) not to be made again yet */
	int lost;
	long long lost_ms;
	/* The runs the claims made at claim_ms have returned: a claim whose answer is lost
	 * takes the runs stamped with its owner and time that are not among them */
	long long claim_ms;
	char (*claimed)[ECL_ID_MAX];
	int nclaimed, capclaimed;
	/* The last transition committed in the open group: when the group's COMMIT gets no
	 * answer, whether that one was made says whether the whole group was */
	store_commit last;
	char last_run[ECL_ID_MAX], last_owner[256];
	char err[2048];
} pg_store;

/* Up to 24 parameters of a statement, numbers written as text. */
typedef struct params {
	const char *v[28];
	char num[28][24];
	int n;
} params;

static void p_text(params *p, const char *t)
{
	p->v[p->n++] = t;
}

static void p_int(params *p, long long x)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", x);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

/* The server's message without its trailing newline, or what libpq says of the connection. */
static void server_message(pg_store *s, const PGresult *res, char *out, size_t len)
{
	const char *m = res ? PQresultErrorMessage(res) : "";
	size_t n;

	if (!m || !*m)
		m = s->conn ? PQerrorMessage(s->conn) : "no connection";
	if (!m || !*m)
		m = "unknown error";
	snprintf(out, len, "%s", m);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

/* Record a failure of the server (res may be NULL), naming it and what we were doing. */
static int fail(pg_store *s, const PGresult *res, const char *doing)
{
	char why[768];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *hint = "";

	server_message(s, res, why, sizeof(why));
	if (!s->conn || PQstatus(s->conn) == CONNECTION_BAD)
		hint = " (the connection to the server was lost: it is made again on the next "
		       "operation)";
	else if (state && strncmp(state, "53", 2) == 0)
		hint = " (the server is out of resources: disk, memory or connections)";
	else if (state && strcmp(state, "55P03") == 0)
		hint = " (another process holds the run)";
	else if (state && strcmp(state, "25006") == 0)
		hint = " (the database is read-only)";
	snprintf(s->err, sizeof(s->err), "postgres %s: %s: %s%s", s->label, doing, why, hint);
	return ECL_ESTORE;
}

static int out_of_memory(pg_store *s, const char *doing)
{
	snprintf(s->err, sizeof(s->err), "postgres %s: out of memory %s", s->label, doing);
	return ECL_ENOMEM;
}

/* The label of a connection: user@host:port/database, without a password. */
static void set_label(pg_store *s)
{
	const char *host = PQhost(s->conn), *port = PQport(s->conn), *db = PQdb(s->conn),
		   *user = PQuser(s->conn);

	snprintf(s->label, sizeof(s->label), "%s@%s:%s/%s", user && *user ? user : "?",
		 host && *host ? host : "localhost", port && *port ? port : "5432",
		 db && *db ? db : "?");
}

static int ensure_connected(pg_store *s);

/* Run one SQL text with no parameters (a transaction's BEGIN or COMMIT, a migration): outside
 * a transaction, on a connection made again first when it broke (inside one, a connection
 * lost is the transaction lost: the statement fails). */
static int exec_sql(pg_store *s, const char *sql, const char *doing)
{
	PGresult *res;
	int rc = s->txn ? ECL_OK : ensure_connected(s);

	if (rc != ECL_OK)
		return rc;
	res = PQexec(s->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = fail(s, res, doing);
	PQclear(res);
	return rc;
}

static void ignore_notice(void *ctx, const char *message)
{
	(void)ctx;
	(void)message;
}

/* Connect (again), set the session up and forget what was prepared on an older connection. */
static int connect_server(pg_store *s)
{
	static const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *vals[] = {"10", "ecl", s->conninfo, NULL};
	char sql[96];

	if (s->conn)
		PQfinish(s->conn);
	memset(s->prepared, 0, sizeof(s->prepared));
	s->group = 0;
	s->txn = 0;
	/* the given text comes last: what it says overrides the defaults before it */
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (!s->conn)
		return out_of_memory(s, "connecting to the database");
	set_label(s);
	/* the server's notices (a shutdown's "terminating connection") are not the user's: the
	 * failure that follows them says what happened */
	PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		char why[768];

		server_message(s, NULL, why, sizeof(why));
		snprintf(s->err, sizeof(s->err), "postgres %s: cannot connect: %s", s->label, why);
		return ECL_ESTORE;
	}
	/* waiting for a row another process holds is bounded as SQLite's busy timeout is */
	snprintf(sql, sizeof(sql), "SET lock_timeout = %ld; SET client_min_messages = warning",
		 s->busy_timeout_ms);
	return exec_sql(s, sql, "cannot set the session up");
}

/* Tell the store's owner that the connection was lost (lost 1) or is made again (lost 0). */
static void tell(pg_store *s, int lost)
{
	char detail[sizeof(s->err) + 64];

	if (!s->base.on_connection)
		return;
	if (lost) {
		char why[768];

		server_message(s, NULL, why, sizeof(why));
		why[strcspn(why, "\n")] = '\0'; /* libpq's lines of advice after it are not ours */
		snprintf(detail, sizeof(detail), "postgres %s: %s", s->label, why);
	} else {
		snprintf(detail, sizeof(detail), "postgres %s: after %.1f s", s->label,
			 (double)(clock_now_ms() - s->lost_ms) / 1000.0);
	}
	s->base.on_connection(s->base.connection_ctx, lost, detail);
}

/* Make the connection again when it broke (the server restarted, a network failure), with a
 * few tries spaced out; outside a group only (a group's transaction died with it). The
 * outage is told once, when it is first met, and its end once, however many operations
 * meet it meanwhile. */
static int ensure_connected(pg_store *s)
{
	int tries;

	if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
		return ECL_OK;
	if (!s->lost) {
		s->lost = 1;
		s->lost_ms = clock_now_ms();
		tell(s, 1);
	}
	/* a server restarting takes seconds: about 15 s in all, the waits growing to 1 s */
	for (tries = 0;; tries++) {
		struct timespec ts = {tries >= 9, tries >= 9 ? 0 : 100000000L * (tries + 1)};
		int rc = connect_server(s);

		if (rc == ECL_OK) {
			s->lost = 0;
			tell(s, 0);
		}
		if (rc != ECL_ESTORE || tries == 19)
			return rc;
		nanosleep(&ts, NULL);
	}
}

/* Statements that may be sent again when the connection broke before their answer came:
 * reads, and writes that give the same result when made twice (a lease taken or renewed by
 * the same owner, a version set). */
static int repeatable(enum stmt_id id)
{
	switch (id) {
	case ST_GET_RUN:
	case ST_LIST_STEPS:
	case ST_LIST_NOTES:
	case ST_GET_ANSWER:
	case ST_LIST_ANSWERS:
	case ST_LIST_OUTPUTS:
	case ST_LIST_CALLS:
	case ST_GET_DEF:
	case ST_ACQUIRE:
	case ST_HEARTBEAT:
	case ST_SET_VERSION:
	case ST_CLAIMED:
	case ST_COMMITTED:
	case ST_WORKER_REGISTER:
	case ST_WORKER_BEAT:
	case ST_WORKER_REMOVE:
	case ST_LIST_WORKERS: return 1;
	default: return 0;
	}
}

/* One try of prepared statement id with p (prepared first on this connection when it is not
 * yet): the result, or NULL with the failed one in *failed (PQclear it). */
static PGresult *try_stmt(pg_store *s, enum stmt_id id, const params *p, PGresult **failed)
{
	char name[8];
	PGresult *res;

	*failed = NULL;
	snprintf(name, sizeof(name), "e%d", (int)id);
	if (!s->prepared[id]) {
		res = PQprepare(s->conn, name, stmt_sql[id], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			*failed = res;
			return NULL;
		}
		PQclear(res);
		s->prepared[id] = 1;
	}
	res = PQexecPrepared(s->conn, name, p->n, p->v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	*failed = res;
	return NULL;
}

/* Run prepared statement id with p: the result (PQclear it), or NULL with s->err set and, when
 * unique is not NULL, *unique = 1 for a unique key taken. A connection that broke while idle
 * (a server restarted) is found out only by using it: a statement that may be sent again is,
 * once, on a new connection, unless a transaction was open (it died with the connection). */
static PGresult *run_stmt(pg_store *s, enum stmt_id id, const params *p, const char *doing,
			  int *unique)
{
	PGresult *failed, *res;
	const char *state;

	if (unique)
		*unique = 0;
	/* outside a transaction, on a connection made again first when it is known broken */
	s->sent = 0;
	if (!s->txn && ensure_connected(s) != ECL_OK)
		return NULL;
	s->sent = 1;
	res = try_stmt(s, id, p, &failed);
	if (!res && PQstatus(s->conn) == CONNECTION_BAD && repeatable(id) && !s->txn) {
		PQclear(failed);
		if (ensure_connected(s) != ECL_OK)
			return NULL;
		res = try_stmt(s, id, p, &failed);
	}
	if (res)
		return res;
	state = PQresultErrorField(failed, PG_DIAG_SQLSTATE);
	if (unique)
		*unique = state && strcmp(state, "23505") == 0;
	fail(s, failed, doing);
	PQclear(failed);
	return NULL;
}

/* Run statement id and give the number of rows it changed or returned in *rows: ECL_OK, or
 * ECL_ESTORE. */
static int run_count(pg_store *s, enum stmt_id id, const params *p, const char *doing, int *rows)
{
	PGresult *res = run_stmt(s, id, p, doing, NULL);

	*rows = 0;
	if (!res)
		return ECL_ESTORE;
	*rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res)
						       : (int)strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return ECL_OK;
}

/* Run a statement made for this call (a listing's, a prune's, whose WHERE clause varies) with
 * p, as run_stmt runs a prepared one: the result (PQclear it), or NULL with s->err set. */
static PGresult *run_sql(pg_store *s, const char *sql, const params *p, const char *doing)
{
	PGresult *res;

	if (!s->txn && ensure_connected(s) != ECL_OK)
		return NULL;
	res = PQexecParams(s->conn, sql, p->n, NULL, p->v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	fail(s, res, doing);
	PQclear(res);
	return NULL;
}

/* Roll the open transaction back (the group's, which ends it). */
static void rollback(pg_store *s)
{
	s->txn = 0;
	if (s->conn && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	if (s->group) {
		s->group = 0;
		s->group_broken = 1;
	}
}

static int begin(pg_store *s, const char *doing)
{
	int rc = exec_sql(s, "BEGIN", doing);

	if (rc == ECL_OK)
		s->txn = 1;
	return rc;
}

/* COMMIT the transaction begun, or roll it back when that fails. */
static int finish(pg_store *s, const char *doing)
{
	int rc = exec_sql(s, "COMMIT", doing);

	s->txn = 0;
	if (rc != ECL_OK)
		rollback(s);
	return rc;
}

static char *value_dup(const PGresult *res, int row, int col, int *oom)
{
	char *copy;

	if (PQgetisnull(res, row, col))
		return NULL;
	if (!(copy = mem_strdup(PQgetvalue(res, row, col))))
		*oom = 1;
	return copy;
}

static const char *value_of(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static long long int_of(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Read row `row` of RUN_COLUMNS into out; ECL_ENOMEM when a copy failed. */
static int read_run(const PGresult *res, int row, store_run *out)
{
	int oom = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(res, row, 0));
	out->workflow = value_dup(res, row, 1, &oom);
	out->version = value_dup(res, row, 2, &oom);
	out->status = value_dup(res, row, 3, &oom);
	out->step = value_dup(res, row, 4, &oom);
	out->seq = (int)int_of(res, row, 5);
	out->attempt = (int)int_of(res, row, 6);
	out->inputs = value_dup(res, row, 7, &oom);
	out->output = value_dup(res, row, 8, &oom);
	out->error = value_dup(res, row, 9, &oom);
	out->created_ms = int_of(res, row, 10);
	out->updated_ms = int_of(res, row, 11);
	out->owner = value_dup(res, row, 12, &oom);
	out->lease_until_ms = int_of(res, row, 13);
	out->request = value_dup(res, row, 14, &oom);
	out->parent = value_dup(res, row, 15, &oom);
	out->provider = value_dup(res, row, 16, &oom);
	out->model = value_dup(res, row, 17, &oom);
	out->base_url = value_dup(res, row, 18, &oom);
	out->trace = value_dup(res, row, 19, &oom);
	if (oom) {
		store_run_clear(out);
		return ECL_ENOMEM;
	}
	return ECL_OK;
}

static int pg_create_run(store *base, const store_run *run)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	int rc, rows;

	if (s->group_broken) {
		snprintf(s->err, sizeof(s->err),
			 "postgres %s: cannot create the run: the group it belongs to was rolled "
			 "back",
			 s->label);
		return ECL_ESTORE;
	}
	p_text(&p, run->id);
	p_text(&p, run->workflow);
	p_text(&p, run->version);
	p_text(&p, run->status);
	p_text(&p, run->step);
	p_int(&p, run->seq);
	p_int(&p, run->attempt);
	p_text(&p, run->inputs);
	p_int(&p, run->created_ms);
	p_text(&p, run->parent);
	p_text(&p, run->owner);
	p_int(&p, run->lease_until_ms);
	p_text(&p, run->provider);
	p_text(&p, run->model);
	p_text(&p, run->base_url);
	p_text(&p, run->trace);
	/* a taken id inserts nothing and fails nothing: a group's transaction goes on */
	if ((rc = run_count(s, ST_INSERT_RUN, &p, "cannot create the run", &rows)) != ECL_OK) {
		if (s->group)
			rollback(s);
		return rc;
	}
	if (rows == 0) {
		snprintf(s->err, sizeof(s->err), "postgres %s: a run with id %s exists already",
			 s->label, run->id);
		return ECL_EUSAGE;
	}
	return ECL_OK;
}

static int pg_get_run(store *base, const char *id, store_run *out)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	p_text(&p, id);
	if ((res = run_stmt(s, ST_GET_RUN, &p, "cannot read the run", NULL)) == NULL)
		return ECL_ESTORE;
	if (PQntuples(res) == 0) {
		PQclear(res);
		snprintf(s->err, sizeof(s->err), "no run with id %s in postgres %s", id, s->label);
		return ECL_ENOTFOUND;
	}
	rc = read_run(res, 0, out);
	PQclear(res);
	return rc == ECL_OK ? ECL_OK : out_of_memory(s, "reading a run");
}

static int pg_list_steps(store *base, const char *id, store_step_fn fn, void *ctx)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, id);
	if ((res = run_stmt(s, ST_LIST_STEPS, &p, "cannot read the checkpoints", NULL)) == NULL)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++) {
		store_step step = {
			.seq = (int)int_of(res, i, 0),
			.step = value_of(res, i, 1),
			.attempt = (int)int_of(res, i, 2),
			.next = value_of(res, i, 3),
			.output = value_of(res, i, 4),
			.raw = value_of(res, i, 5),
			.vars = value_of(res, i, 6),
			.tokens_in = int_of(res, i, 7),
			.tokens_out = int_of(res, i, 8),
			.started_ms = int_of(res, i, 9),
			.duration_us = int_of(res, i, 10),
			.tokens_cached = int_of(res, i, 11),
			.tokens_cache_write = int_of(res, i, 12),
			.ttft_us = int_of(res, i, 13),
		};

		rc = fn(ctx, &step);
	}
	PQclear(res);
	return rc;
}

/* A request column's value as a static string. */
static const char *request_of(const PGresult *res)
{
	const char *r = PQntuples(res) > 0 ? value_of(res, 0, 0) : NULL;

	if (!r)
		return NULL;
	return strcmp(r, "cancel") == 0 ? "cancel" : strcmp(r, "pause") == 0 ? "pause" : NULL;
}

static const char *commit_doing(const store_commit *c, char *doing, size_t len)
{
	snprintf(doing, len, "cannot commit step %d (%s) of run %s", c->step.seq, c->step.step,
		 c->run_id);
	return doing;
}

/* After a transition's statement failed, whether it was made: a connection that broke
 * before the answer came leaves it unknown, so connect again and read the checkpoint. 1 when
 * it was made, 0 when it was not and the connection works again (the statement can be sent
 * again), -1 when it cannot be known or the failure was not a broken connection (s->err says
 * what failed). */
static int commit_made(pg_store *s, const store_commit *c)
{
	params p = {0};
	char saved[sizeof(s->err)];
	int rows;

	if (PQstatus(s->conn) == CONNECTION_OK)
		return -1;
	memcpy(saved, s->err, sizeof(saved));
	if (ensure_connected(s) != ECL_OK) {
		size_t n = strnlen(saved, sizeof(saved) - 1);

		memcpy(s->err, saved, n);
		snprintf(s->err + n, sizeof(s->err) - n, "%s",
			 "; and the server cannot be reached again to read whether it committed");
		return -1;
	}
	p_text(&p, c->run_id);
	p_int(&p, c->step.seq);
	p_text(&p, c->owner);
	if (run_count(s, ST_COMMITTED, &p, "cannot read whether the commit was made", &rows) !=
	    ECL_OK)
		return -1;
	memcpy(s->err, saved, sizeof(saved));
	return rows == 1;
}

/* The calls of c as the JSON array the transition's statement takes ($20); NULL when memory
 * ran out. */
static char *calls_json(const store_commit *c)
{
	buf b = {0};
	int i;

	buf_puts(&b, "[");
	for (i = 0; i < c->ncalls; i++) {
		const store_call *k = &c->calls[i];
		const char *texts[3] = {k->fix, k->answer, k->error};
		static const char *const names[3] = {"fix", "answer", "error"};
		int t;

		buf_printf(&b,
			   "%s{\"n\":%d,\"kind\":%d,\"repair\":%d,\"tokens_in\":%lld,"
			   "\"tokens_out\":%lld,\"latency_us\":%lld,\"tokens_cached\":%lld,"
			   "\"tokens_cache_write\":%lld,\"ttft_us\":%lld",
			   i ? "," : "", k->n, k->kind, k->repair, k->tokens_in, k->tokens_out,
			   k->latency_us, k->tokens_cached, k->tokens_cache_write, k->ttft_us);
		for (t = 0; t < 3; t++) {
			if (!texts[t])
				continue;
			buf_printf(&b, ",\"%s\":", names[t]);
			buf_json_str(&b, texts[t], strlen(texts[t]));
		}
		buf_puts(&b, "}");
	}
	buf_puts(&b, "]");
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

static int pg_commit(store *base, const store_commit *c, const char **request)
{
	pg_store *s = (pg_store *)base;
	int advance = run_status_is(c->status, ECL_RUN_RUNNING);
	char doing[160];
	params p = {0};
	PGresult *res;
	char *calls = NULL;
	int unique, tries, made;

	*request = NULL;
	commit_doing(c, doing, sizeof(doing));
	if (s->group_broken) {
		snprintf(s->err, sizeof(s->err),
			 "postgres %s: %s: the group it belongs to was rolled back", s->label,
			 doing);
		return ECL_ESTORE;
	}
	p_text(&p, c->run_id);
	p_text(&p, c->status);
	p_text(&p, c->current);
	p_int(&p, c->step.seq);
	p_int(&p, c->attempt);
	p_text(&p, c->output);
	p_text(&p, c->error);
	p_int(&p, c->now_ms);
	p_text(&p, c->owner);
	p_int(&p, c->lease_until_ms);
	p_text(&p, c->step.step);
	p_int(&p, c->step.attempt);
	p_text(&p, c->step.output);
	p_text(&p, c->step.raw);
	p_text(&p, c->step.vars);
	p_int(&p, c->step.tokens_in);
	p_int(&p, c->step.tokens_out);
	p_int(&p, c->step.started_ms);
	p_int(&p, c->step.duration_us);
	if (c->ncalls > 0 && !(calls = calls_json(c))) {
		rollback(s);
		return out_of_memory(s, "committing the calls of a step");
	}
	p_text(&p, calls);
	p_text(&p, c->def ? c->def->workflow : NULL);
	p_text(&p, c->def ? c->def->version : NULL);
	p_text(&p, c->def ? c->def->text : NULL);
	p_int(&p, c->step.tokens_cached);
	p_int(&p, c->step.tokens_cache_write);
	p_int(&p, c->step.ttft_us);
	for (tries = 0;; tries++) {
		int in_group = s->group;

		res = run_stmt(s, advance ? ST_ADVANCE : ST_FINISH, &p, doing, &unique);
		if (res || unique)
			break;
		rollback(s);
		/* not sent (no connection), or in a group (its transaction died): not made */
		made = tries == 0 && !in_group && s->sent ? commit_made(s, c) : -1;
		if (made != 0) {
			mem_free(calls);
			return made == 1 ? ECL_OK : ECL_ESTORE;
		}
		/* not made, and connected again: send it again */
	}
	mem_free(calls);
	if (!res) {
		snprintf(s->err, sizeof(s->err),
			 "postgres %s: run %s: checkpoint %d exists already: another process "
			 "drives this run",
			 s->label, c->run_id, c->step.seq);
		rollback(s);
		return ECL_ESTATE;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		snprintf(s->err, sizeof(s->err),
			 "postgres %s: run %s changed under this process (it is no longer at "
			 "checkpoint %d, running and leased to it): another process took it over",
			 s->label, c->run_id, c->step.seq - 1);
		rollback(s);
		return ECL_ESTATE;
	}
	*request = request_of(res);
	PQclear(res);
	if (s->group) {
		s->last = *c;
		snprintf(s->last_run, sizeof(s->last_run), "%s", c->run_id);
		snprintf(s->last_owner, sizeof(s->last_owner), "%s", c->owner ? c->owner : "");
		s->last.run_id = s->last_run;
		s->last.owner = s->last_owner;
	}
	return ECL_OK;
}

static int pg_group_begin(store *base)
{
	pg_store *s = (pg_store *)base;
	int rc;

	if (s->group) {
		snprintf(s->err, sizeof(s->err), "postgres %s: a group of commits is open already",
			 s->label);
		return ECL_EUSAGE;
	}
	s->group_broken = 0;
	s->last.run_id = NULL;
	if ((rc = begin(s, "cannot begin a group of commits")) != ECL_OK)
		return rc;
	s->group = 1;
	return ECL_OK;
}

static int pg_group_end(store *base, int keep)
{
	pg_store *s = (pg_store *)base;

	if (!s->group) {
		if (!s->group_broken)
			return ECL_OK;
		s->group_broken = 0;
		if (keep)
			snprintf(s->err, sizeof(s->err),
				 "postgres %s: the group of commits was rolled back by a failure "
				 "inside it",
				 s->label);
		return keep ? ECL_ESTORE : ECL_OK;
	}
	if (!keep) {
		rollback(s);
		s->group_broken = 0;
		return ECL_OK;
	}
	s->group = 0;
	if (exec_sql(s, "COMMIT", "cannot commit a group of transitions") == ECL_OK) {
		s->txn = 0;
		return ECL_OK;
	}
	s->txn = 0;
	/* a COMMIT without an answer may have been made: its last transition says */
	if (s->last.run_id && commit_made(s, &s->last) == 1)
		return ECL_OK;
	rollback(s);
	s->group_broken = 0;
	return ECL_ESTORE;
}

static int pg_acquire(store *base, const char *id, const char *owner, const char *steal,
		      int attempt, long long now_ms, long long lease_until_ms, char **holder)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	store_run run;
	int rc, rows;

	*holder = NULL;
	p_text(&p, id);
	p_text(&p, owner);
	p_int(&p, now_ms);
	p_int(&p, attempt);
	p_int(&p, lease_until_ms);
	p_text(&p, steal ? steal : "");
	if ((rc = run_count(s, ST_ACQUIRE, &p, "cannot take the run's lease", &rows)) != ECL_OK)
		return rc;
	if (rows == 1)
		return ECL_OK;
	if ((rc = pg_get_run(base, id, &run)) != ECL_OK)
		return rc;
	return store_refused_lease(&run, now_ms, holder, s->err, sizeof(s->err));
}

/* The names as a PostgreSQL array literal, {"a","b"}; NULL when memory ran out. */
static char *name_array(const char *const *names, int n)
{
	buf b = {0};
	const char *c;
	int i;

	buf_puts(&b, "{");
	for (i = 0; i < n; i++) {
		buf_puts(&b, i ? ",\"" : "\"");
		for (c = names[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				buf_append(&b, "\\", 1);
			buf_append(&b, c, 1);
		}
		buf_puts(&b, "\"");
	}
	buf_puts(&b, "}");
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Note that a claim at s->claim_ms returned run id (when memory allows: a run not noted could
 * only be returned twice by a second claim in the same millisecond whose answer was lost). */
static void remember_claimed(pg_store *s, const char *id)
{
	if (s->nclaimed == s->capclaimed) {
		int cap = s->capclaimed ? 2 * s->capclaimed : 16;
		char(*grown)[ECL_ID_MAX] = mem_realloc(s->claimed, (size_t)cap * sizeof(*grown));

		if (!grown)
			return;
		s->claimed = grown;
		s->capclaimed = cap;
	}
	snprintf(s->claimed[s->nclaimed++], ECL_ID_MAX, "%s", id);
}

/* A claim's answer was lost: the runs res lists (its owner's, stamped with its time) that no
 * claim of that millisecond returned are the ones it took. None: it failed, to be tried
 * again. */
static int claimed_back(pg_store *s, PGresult *res, int limit, char (*ids)[ECL_ID_MAX], int *count)
{
	int i, k;

	for (i = 0; i < PQntuples(res) && *count < limit; i++) {
		const char *id = PQgetvalue(res, i, 0);

		for (k = 0; k < s->nclaimed && strcmp(s->claimed[k], id) != 0; k++)
			;
		if (k < s->nclaimed)
			continue;
		snprintf(ids[*count], ECL_ID_MAX, "%s", id);
		remember_claimed(s, ids[(*count)++]);
	}
	PQclear(res);
	if (*count > 0)
		return ECL_OK;
	snprintf(s->err, sizeof(s->err),
		 "postgres %s: cannot claim runs: the connection to the server was lost (it is "
		 "made again)",
		 s->label);
	return ECL_ESTORE;
}

static int pg_claim(store *base, const char *owner, const char *const *workflows, int nworkflows,
		    int limit, long long now_ms, long long lease_until_ms, char (*ids)[ECL_ID_MAX],
		    int *count)
{
	pg_store *s = (pg_store *)base;
	char *names = name_array(workflows, nworkflows);
	params p = {0};
	PGresult *res;
	int i;

	*count = 0;
	if (!names)
		return out_of_memory(s, "claiming runs");
	p_text(&p, owner);
	p_int(&p, now_ms);
	p_int(&p, lease_until_ms);
	p_text(&p, names);
	p_int(&p, limit);
	res = run_stmt(s, ST_CLAIM, &p, "cannot claim runs", NULL);
	mem_free(names);
	if (now_ms != s->claim_ms) {
		s->claim_ms = now_ms;
		s->nclaimed = 0;
	}
	/* sent, and its answer lost: connect again and read what it took */
	if (!res && s->sent && PQstatus(s->conn) == CONNECTION_BAD && !s->txn &&
	    ensure_connected(s) == ECL_OK) {
		params q = {0};

		p_text(&q, owner);
		p_int(&q, now_ms);
		p_int(&q, limit + s->nclaimed);
		res = run_stmt(s, ST_CLAIMED, &q, "cannot read what a claim took", NULL);
		return res ? claimed_back(s, res, limit, ids, count) : ECL_ESTORE;
	}
	if (!res)
		return ECL_ESTORE;
	for (i = 0; i < PQntuples(res) && i < limit; i++) {
		snprintf(ids[*count], ECL_ID_MAX, "%s", PQgetvalue(res, i, 0));
		remember_claimed(s, ids[(*count)++]);
	}
	PQclear(res);
	return ECL_OK;
}

static int pg_heartbeat(store *base, const char *id, const char *owner, long long now_ms,
			long long lease_until_ms, const char **request)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;

	(void)now_ms;
	*request = NULL;
	p_text(&p, id);
	p_text(&p, owner);
	p_int(&p, lease_until_ms);
	if ((res = run_stmt(s, ST_HEARTBEAT, &p, "cannot renew the run's lease", NULL)) == NULL)
		return ECL_ESTORE;
	if (PQntuples(res) != 1) {
		PQclear(res);
		snprintf(s->err, sizeof(s->err), "postgres %s: run %s: this process lost its lease",
			 s->label, id);
		return ECL_ESTATE;
	}
	*request = request_of(res);
	PQclear(res);
	return ECL_OK;
}

static int pg_release(store *base, const char *id, const char *owner, const char *status,
		      const char *error, long long now_ms)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	int rc, rows;

	p_text(&p, id);
	p_text(&p, owner);
	p_text(&p, status);
	p_text(&p, error);
	p_int(&p, now_ms);
	if ((rc = run_count(s, ST_RELEASE, &p, "cannot update the run's status", &rows)) != ECL_OK)
		return rc;
	if (rows != 1) {
		snprintf(s->err, sizeof(s->err), "postgres %s: run %s: this process lost its lease",
			 s->label, id);
		return ECL_ESTATE;
	}
	return ECL_OK;
}

/* Insert a note; the connection is made already. */
static int note_insert(pg_store *s, const char *id, int seq, const char *text, long long now_ms)
{
	params p = {0};
	int rows;

	p_text(&p, id);
	p_int(&p, seq);
	p_int(&p, now_ms);
	p_text(&p, text);
	return run_count(s, ST_NOTE, &p, "cannot write the run's history", &rows);
}

static int pg_note(store *base, const char *id, int seq, const char *text, long long now_ms)
{
	return note_insert((pg_store *)base, id, seq, text, now_ms);
}

static int pg_answer(store *base, const char *id, int seq, const char *answer, long long now_ms)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	store_run run;
	int rc, rows;

	p_text(&p, id);
	p_int(&p, seq);
	p_int(&p, now_ms);
	p_text(&p, answer);
	if ((rc = run_count(s, ST_ANSWER, &p, "cannot record the answer", &rows)) != ECL_OK)
		return rc;
	if (rows == 1)
		return ECL_OK;
	if ((rc = pg_get_run(base, id, &run)) != ECL_OK)
		return rc;
	return store_refused_answer(&run, seq, s->err, sizeof(s->err));
}

static int pg_get_answer(store *base, const char *id, int seq, char **answer)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int oom = 0;

	*answer = NULL;
	p_text(&p, id);
	p_int(&p, seq);
	if ((res = run_stmt(s, ST_GET_ANSWER, &p, "cannot read the answer", NULL)) == NULL)
		return ECL_ESTORE;
	if (PQntuples(res) > 0)
		*answer = value_dup(res, 0, 0, &oom);
	PQclear(res);
	return oom ? out_of_memory(s, "reading the answer") : ECL_OK;
}

/* Walk rows (seq, ts_ms, text) of statement id for run id: the notes or the answers. */
static int list_texts(pg_store *s, enum stmt_id id, const char *run_id,
		      int (*fn)(void *ctx, int seq, long long ts_ms, const char *text), void *ctx)
{
	params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, run_id);
	if ((res = run_stmt(s, id, &p, "cannot read the run's history", NULL)) == NULL)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++)
		rc = fn(ctx, (int)int_of(res, i, 0), int_of(res, i, 1), PQgetvalue(res, i, 2));
	PQclear(res);
	return rc;
}

static int pg_list_answers(store *base, const char *id,
			   int (*fn)(void *ctx, int seq, long long ts_ms, const char *answer),
			   void *ctx)
{
	return list_texts((pg_store *)base, ST_LIST_ANSWERS, id, fn, ctx);
}

static int pg_list_calls(store *base, const char *id, store_call_fn fn, void *ctx)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, id);
	if ((res = run_stmt(s, ST_LIST_CALLS, &p, "cannot read the calls of the run", NULL)) ==
	    NULL)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++) {
		store_call call = {
			.n = (int)int_of(res, i, 1),
			.kind = (int)int_of(res, i, 2),
			.repair = (int)int_of(res, i, 3),
			.fix = value_of(res, i, 4),
			.answer = value_of(res, i, 5),
			.error = value_of(res, i, 6),
			.tokens_in = int_of(res, i, 7),
			.tokens_out = int_of(res, i, 8),
			.latency_us = int_of(res, i, 9),
			.tokens_cached = int_of(res, i, 10),
			.tokens_cache_write = int_of(res, i, 11),
			.ttft_us = int_of(res, i, 12),
		};

		rc = fn(ctx, (int)int_of(res, i, 0), &call);
	}
	PQclear(res);
	return rc;
}

static int pg_get_def(store *base, const char *workflow, const char *version, char **text)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int oom = 0;

	*text = NULL;
	p_text(&p, workflow);
	p_text(&p, version);
	if ((res = run_stmt(s, ST_GET_DEF, &p, "cannot read a workflow's definition", NULL)) ==
	    NULL)
		return ECL_ESTORE;
	if (PQntuples(res) == 0) {
		PQclear(res);
		snprintf(s->err, sizeof(s->err),
			 "postgres %s: no definition of version %s of %s is stored", s->label,
			 version, workflow);
		return ECL_ENOTFOUND;
	}
	*text = value_dup(res, 0, 0, &oom);
	PQclear(res);
	return oom ? out_of_memory(s, "reading a workflow's definition") : ECL_OK;
}

static int pg_list_outputs(store *base, const char *id, int upto, int n,
			   int (*fn)(void *ctx, int seq, const char *output), void *ctx)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, id);
	p_int(&p, upto);
	p_int(&p, n);
	if ((res = run_stmt(s, ST_LIST_OUTPUTS, &p, "cannot read the checkpoints", NULL)) == NULL)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++)
		rc = fn(ctx, (int)int_of(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return rc;
}

static int pg_request(store *base, const char *id, const char *what, long long now_ms, int *applied)
{
	pg_store *s = (pg_store *)base;
	int cancel = strcmp(what, "cancel") == 0, rows, rc;
	params p = {0};
	store_run run;
	char note[64];

	*applied = 0;
	if ((rc = begin(s, "cannot change the run")) != ECL_OK)
		return rc;
	p_text(&p, id);
	p_text(&p, cancel ? ecl_run_status_name(ECL_RUN_CANCELLED)
			  : ecl_run_status_name(ECL_RUN_PAUSED));
	p_int(&p, now_ms);
	p_text(&p, ecl_run_status_name(ECL_RUN_RUNNING));
	p_text(&p, ecl_run_status_name(ECL_RUN_INTERRUPTED));
	p_text(&p,
	       cancel ? ecl_run_status_name(ECL_RUN_PAUSED) : ecl_run_status_name(ECL_RUN_RUNNING));
	p_text(&p, ecl_run_status_name(ECL_RUN_WAITING));
	p_text(&p, ecl_run_status_name(ECL_RUN_QUEUED));
	if ((rc = run_count(s, ST_REQUEST_DIRECT, &p, "cannot change the run", &rows)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	if (rows == 1) {
		*applied = 1;
	} else {
		p.n = 0;
		p_text(&p, id);
		p_text(&p, what);
		p_int(&p, now_ms);
		if ((rc = run_count(s, ST_REQUEST_DEFERRED, &p, "cannot change the run", &rows)) !=
		    ECL_OK) {
			rollback(s);
			return rc;
		}
		if (rows != 1) {
			rollback(s);
			if ((rc = pg_get_run(base, id, &run)) != ECL_OK)
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
	if ((rc = note_insert(s, id, -1, note, now_ms)) != ECL_OK ||
	    (rc = finish(s, "cannot change the run")) != ECL_OK) {
		rollback(s);
		*applied = 0;
		return rc;
	}
	return ECL_OK;
}

static int pg_list_notes(store *base, const char *id,
			 int (*fn)(void *ctx, int seq, long long ts_ms, const char *text),
			 void *ctx)
{
	return list_texts((pg_store *)base, ST_LIST_NOTES, id, fn, ctx);
}

/* The WHERE clause of a filter, its parameters added to p. */
static void filter_sql(const store_filter *f, buf *b, params *p)
{
	int i;

	buf_puts(b, " WHERE true");
	if (f->nstatuses > 0) {
		buf_puts(b, " AND status IN (");
		for (i = 0; i < f->nstatuses && p->n < 16; i++) {
			p_text(p, f->statuses[i]);
			buf_printf(b, i ? ", $%d" : "$%d", p->n);
		}
		buf_puts(b, ")");
	}
	if (f->workflow) {
		p_text(p, f->workflow);
		buf_printf(b, " AND workflow = $%d", p->n);
	}
	if (f->updated_before_ms) {
		p_int(p, f->updated_before_ms);
		buf_printf(b, " AND updated_ms < $%d", p->n);
	}
}

static int pg_list_runs(store *base, const store_filter *f, store_run_fn fn, void *ctx)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	buf sql = {0};
	PGresult *res;
	int rc, i;

	buf_puts(&sql, "SELECT " RUN_COLUMNS " FROM ecl.runs");
	filter_sql(f, &sql, &p);
	buf_puts(&sql, " ORDER BY created_ms DESC, id DESC");
	if (f->limit > 0)
		buf_printf(&sql, " LIMIT %d", f->limit);
	if (sql.oom) {
		buf_free(&sql);
		return out_of_memory(s, "listing the runs");
	}
	res = run_sql(s, sql.data, &p, "cannot list the runs");
	buf_free(&sql);
	if (!res)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++) {
		store_run run;

		if (read_run(res, i, &run) != ECL_OK) {
			rc = out_of_memory(s, "listing the runs");
			break;
		}
		rc = fn(ctx, &run);
		store_run_clear(&run);
	}
	PQclear(res);
	return rc;
}

static int pg_fork(store *base, const char *from, int upto, const store_run *copy)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	char note[128];
	int rc, rows;

	if ((rc = begin(s, "cannot fork the run")) != ECL_OK)
		return rc;
	if ((rc = pg_create_run(base, copy)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	p_text(&p, from);
	p_text(&p, copy->id);
	p_int(&p, upto);
	if ((rc = run_count(s, ST_FORK_STEPS, &p, "cannot copy the checkpoints", &rows)) !=
		    ECL_OK ||
	    (rc = run_count(s, ST_FORK_CALLS, &p, "cannot copy the calls", &rows)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	snprintf(note, sizeof(note), "forked from run %s at checkpoint %d", from, upto);
	if ((rc = note_insert(s, copy->id, upto, note, copy->created_ms)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	return finish(s, "cannot fork the run");
}

/* Run one DELETE of prune: `head` followed by the filter over finished runs; *rows deleted. */
static int prune_one(pg_store *s, const char *head, const store_filter *f, int *rows)
{
	params p = {0};
	buf sql = {0};
	PGresult *res;

	buf_puts(&sql, head);
	buf_puts(&sql, " (SELECT id FROM ecl.runs");
	filter_sql(f, &sql, &p);
	buf_puts(&sql, " AND status IN ('completed', 'failed', 'cancelled'))");
	if (sql.oom) {
		buf_free(&sql);
		return out_of_memory(s, "pruning");
	}
	res = run_sql(s, sql.data, &p, "cannot prune");
	buf_free(&sql);
	if (!res)
		return ECL_ESTORE;
	*rows = (int)strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return ECL_OK;
}

static int pg_prune(store *base, const store_filter *f, int *count)
{
	pg_store *s = (pg_store *)base;
	int rc, rows;

	*count = 0;
	if ((rc = begin(s, "cannot prune")) != ECL_OK)
		return rc;
	/* checkpoints, notes and answers first: they name the runs the last statement deletes */
	if ((rc = prune_one(s, "DELETE FROM ecl.steps WHERE run_id IN", f, &rows)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM ecl.calls WHERE run_id IN", f, &rows)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM ecl.notes WHERE run_id IN", f, &rows)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM ecl.answers WHERE run_id IN", f, &rows)) != ECL_OK ||
	    (rc = prune_one(s, "DELETE FROM ecl.runs WHERE id IN", f, count)) != ECL_OK) {
		rollback(s);
		*count = 0;
		return rc;
	}
	if ((rc = finish(s, "cannot prune")) != ECL_OK)
		*count = 0;
	return rc; /* the server's autovacuum makes the space free for new rows */
}

static int pg_count_runs(store *base, const char *workflow, long long since_ms, store_count_fn fn,
			 void *ctx)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int rc, i;

	p_int(&p, since_ms);
	p_text(&p, workflow);
	res = run_sql(s,
		      "SELECT workflow, status, count(*), sum(seq) FROM ecl.runs"
		      " WHERE created_ms >= $1 AND ($2::text IS NULL OR workflow = $2)"
		      " GROUP BY workflow, status ORDER BY workflow, status",
		      &p, "cannot count the runs");
	if (!res)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++)
		rc = fn(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), int_of(res, i, 2),
			int_of(res, i, 3));
	PQclear(res);
	return rc;
}

static int pg_walk_durations(store *base, const char *workflow, long long since_ms,
			     store_duration_fn fn, void *ctx)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int rc, i;

	p_text(&p, workflow);
	p_int(&p, since_ms);
	res = run_sql(s,
		      "SELECT s.step, s.duration_us, s.tokens_in, s.tokens_out, r.provider, r.model"
		      " FROM ecl.steps s JOIN ecl.runs r ON r.id = s.run_id"
		      " WHERE r.workflow = $1 AND r.created_ms >= $2",
		      &p, "cannot measure the steps");
	if (!res)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++)
		rc = fn(ctx, PQgetvalue(res, i, 0), int_of(res, i, 1), int_of(res, i, 2),
			int_of(res, i, 3), value_of(res, i, 4), value_of(res, i, 5));
	PQclear(res);
	return rc;
}

static int pg_set_version(store *base, const char *id, const char *version, long long now_ms)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	int rows;

	p_text(&p, id);
	p_text(&p, version);
	p_int(&p, now_ms);
	return run_count(s, ST_SET_VERSION, &p, "cannot update the run's version", &rows);
}

static int pg_worker_register(store *base, const store_worker *w)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	int rows;

	p_text(&p, w->id);
	p_text(&p, w->host);
	p_int(&p, w->pid);
	p_text(&p, w->workflows);
	p_int(&p, w->concurrency);
	p_int(&p, w->lease_ms);
	p_int(&p, w->started_ms);
	p_int(&p, w->heartbeat_ms);
	return run_count(s, ST_WORKER_REGISTER, &p, "cannot register the worker", &rows);
}

static int pg_worker_beat(store *base, const char *id, long long now_ms)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	int rc, rows;

	p_text(&p, id);
	p_int(&p, now_ms);
	if ((rc = run_count(s, ST_WORKER_BEAT, &p, "cannot record the worker's heartbeat",
			    &rows)) != ECL_OK)
		return rc;
	if (rows == 1)
		return ECL_OK;
	snprintf(s->err, sizeof(s->err), "postgres %s: no worker %s is registered", s->label, id);
	return ECL_ENOTFOUND;
}

static int pg_worker_remove(store *base, const char *id)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	int rows;

	p_text(&p, id);
	return run_count(s, ST_WORKER_REMOVE, &p, "cannot remove the worker", &rows);
}

static int pg_list_workers(store *base, store_worker_fn fn, void *ctx)
{
	pg_store *s = (pg_store *)base;
	params p = {0};
	PGresult *res;
	int rc, i;

	if ((res = run_stmt(s, ST_LIST_WORKERS, &p, "cannot list the workers", NULL)) == NULL)
		return ECL_ESTORE;
	for (i = 0, rc = ECL_OK; rc == ECL_OK && i < PQntuples(res); i++) {
		store_worker w = {
			.id = value_of(res, i, 0),
			.host = value_of(res, i, 1),
			.pid = int_of(res, i, 2),
			.workflows = value_of(res, i, 3),
			.concurrency = (int)int_of(res, i, 4),
			.lease_ms = int_of(res, i, 5),
			.started_ms = int_of(res, i, 6),
			.heartbeat_ms = int_of(res, i, 7),
			.held = (int)int_of(res, i, 8),
		};

		rc = fn(ctx, &w);
	}
	PQclear(res);
	return rc;
}

static const char *pg_errmsg(const store *base)
{
	return ((const pg_store *)base)->err;
}

static void pg_close(store *base)
{
	pg_store *s = (pg_store *)base;

	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn);
	if (s->conninfo) /* it may hold a password: leave nothing of it in freed memory */
		memset(s->conninfo, 0, strlen(s->conninfo));
	mem_free(s->conninfo);
	mem_free(s->claimed);
	mem_free(s);
}

static const store_ops pg_ops = {
	.create_run = pg_create_run,
	.get_run = pg_get_run,
	.list_steps = pg_list_steps,
	.commit = pg_commit,
	.claim = pg_claim,
	.acquire = pg_acquire,
	.heartbeat = pg_heartbeat,
	.release = pg_release,
	.request = pg_request,
	.answer = pg_answer,
	.get_answer = pg_get_answer,
	.list_answers = pg_list_answers,
	.list_outputs = pg_list_outputs,
	.list_calls = pg_list_calls,
	.get_def = pg_get_def,
	.note = pg_note,
	.list_notes = pg_list_notes,
	.list_runs = pg_list_runs,
	.fork = pg_fork,
	.prune = pg_prune,
	.count_runs = pg_count_runs,
	.walk_durations = pg_walk_durations,
	.set_version = pg_set_version,
	.group_begin = pg_group_begin,
	.group_end = pg_group_end,
	.worker_register = pg_worker_register,
	.worker_beat = pg_worker_beat,
	.worker_remove = pg_worker_remove,
	.list_workers = pg_list_workers,
	.errmsg = pg_errmsg,
	.close = pg_close,
};

/* The schema version the database has (0: none yet) in *version, in the open transaction. */
static int read_version(pg_store *s, int *version)
{
	PGresult *res = PQexec(s->conn, "SELECT to_regclass('ecl.schema') IS NOT NULL");
	int rc = ECL_OK;

	*version = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail(s, res, "cannot read the schema version");
	} else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		res = PQexec(s->conn, "SELECT max(version) FROM ecl.schema");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			rc = fail(s, res, "cannot read the schema version");
		else
			*version = (int)int_of(res, 0, 0);
	}
	PQclear(res);
	if (rc == ECL_OK && *version > SCHEMA_VERSION) {
		snprintf(s->err, sizeof(s->err),
			 "postgres %s: the database has schema version %d, newer than this ecl "
			 "reads (%d): use a newer ecl",
			 s->label, *version, SCHEMA_VERSION);
		rc = ECL_ESTORE;
	}
	return rc;
}

/* Bring an older (or an empty) database up to date, in one transaction under an advisory
 * lock, so that of several processes opening a new database at once exactly one migrates it
 * and the others see its work. A read-only open refuses an older schema instead (but sets an
 * empty database up, as it makes a new SQLite file). */
static int open_schema(pg_store *s)
{
	char sql[160];
	int version, rc;

	if ((rc = read_version(s, &version)) != ECL_OK || version == SCHEMA_VERSION)
		return rc;
	if (s->read_only && version > 0) { /* an empty database is set up, as SQLite's new file */
		snprintf(s->err, sizeof(s->err),
			 "postgres %s: the database has schema version %d, older than this ecl's "
			 "(%d): a command that writes (ecl resume, ecl recover) upgrades it",
			 s->label, version, SCHEMA_VERSION);
		return ECL_ESTORE;
	}
	rc = exec_sql(s, "BEGIN; SELECT pg_advisory_xact_lock(" UPGRADE_LOCK ")",
		      "cannot lock the database to upgrade its schema");
	s->txn = rc == ECL_OK; /* the migrations run in it, or fail with it */
	if (rc != ECL_OK || (rc = read_version(s, &version)) != ECL_OK) {
		rollback(s);
		return rc;
	}
	if (version == 0 && (rc = exec_sql(s,
					   "CREATE SCHEMA IF NOT EXISTS ecl;"
					   " CREATE TABLE ecl.schema(version INTEGER NOT NULL)",
					   "cannot create the schema")) != ECL_OK) {
		rollback(s);
		return rc;
	}
	for (; version < SCHEMA_VERSION; version++) {
		snprintf(sql, sizeof(sql), "cannot upgrade the schema to version %d", version + 1);
		if (*migrations[version] &&
		    (rc = exec_sql(s, migrations[version], sql)) != ECL_OK) {
			rollback(s);
			return rc;
		}
	}
	snprintf(sql, sizeof(sql), "DELETE FROM ecl.schema; INSERT INTO ecl.schema VALUES(%d)",
		 SCHEMA_VERSION);
	if ((rc = exec_sql(s, sql, "cannot record the schema version")) != ECL_OK) {
		rollback(s);
		return rc;
	}
	return finish(s, "cannot upgrade the schema");
}

int store_pg_open(const char *conninfo, int read_only, long busy_timeout_ms, store **out, char *err,
		  size_t errlen)
{
	pg_store *s = mem_calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s || !(s->conninfo = mem_strdup(conninfo))) {
		mem_free(s);
		snprintf(err, errlen, "out of memory opening a PostgreSQL store");
		return ECL_ENOMEM;
	}
	s->base.ops = &pg_ops;
	s->read_only = read_only;
	s->busy_timeout_ms = busy_timeout_ms;
	snprintf(s->label, sizeof(s->label), "(not connected)");
	if ((rc = connect_server(s)) != ECL_OK || (rc = open_schema(s)) != ECL_OK) {
		snprintf(err, errlen, "%s", s->err);
		pg_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return ECL_OK;
}
