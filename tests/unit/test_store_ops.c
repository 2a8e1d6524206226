/*
 * test_store_ops.c - every operation of the SQLite store, through the store seam itself:
 * what each says when another process holds the database (an error naming the file, nothing
 * changed), when the run is unknown, finished or driven by someone else, when its lease was
 * lost, and when a run id is taken. The engine-level tests reach these only by chance.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"

static char *dir;
static char db[4096];
static store *st;

static void setup(void)
{
	char err[512] = "";

	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	mem_init();
	cr_assert_eq(store_sqlite_open(db, ECL_DURABLE_NORMAL, 50, 0, &st, err, sizeof(err)),
		     ECL_OK, "%s", err);
}

static void teardown(void)
{
	if (st)
		st->ops->close(st);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(store_ops, .init = setup, .fini = teardown);

#define OWNER "host/1/aaaa"
#define OTHER "host/2/bbbb"

static void create(const char *id, const char *owner)
{
	store_run r = {0};

	snprintf(r.id, sizeof(r.id), "%s", id);
	r.workflow = "critique-revise";
	r.version = "v1";
	r.status = "running";
	r.step = "generate";
	r.attempt = 1;
	r.inputs = "{\"topic\":\"t\"}";
	r.created_ms = 1000;
	r.owner = (char *)owner;
	r.lease_until_ms = owner ? 1000000 : 0;
	cr_assert_eq(st->ops->create_run(st, &r), ECL_OK, "%s", st->ops->errmsg(st));
}

static store_commit step_commit(const char *id, int seq, const char *owner, const char *next)
{
	store_commit c = {0};

	c.run_id = id;
	c.step.seq = seq;
	c.step.step = seq == 1 ? "generate" : "critique";
	c.step.attempt = 1;
	c.step.next = next;
	c.step.output = "{\"content\":\"x\",\"word_count\":1}";
	c.step.vars = "{}";
	c.status = next ? "running" : "completed";
	c.current = next;
	c.attempt = 1;
	c.output = next ? NULL : "\"x\"";
	c.owner = owner;
	c.now_ms = 2000;
	c.lease_until_ms = 1000000;
	return c;
}

static void expect_named_error(int rc, int want, const char *needle)
{
	const char *msg = st->ops->errmsg(st);

	cr_assert_eq(rc, want, "status %d (%s)", rc, msg);
	cr_assert(strstr(msg, needle), "`%s` does not say `%s`", msg, needle);
}

Test(store_ops, a_taken_id_is_refused)
{
	store_run r = {0};

	create("0000000000000001", OWNER);
	snprintf(r.id, sizeof(r.id), "0000000000000001");
	r.workflow = "critique-revise";
	r.version = "v1";
	r.status = "running";
	r.step = "generate";
	r.inputs = "{}";
	expect_named_error(st->ops->create_run(st, &r), ECL_EUSAGE, "exists already");
}

Test(store_ops, commits_need_the_lease_and_the_next_seq)
{
	store_commit c;
	const char *request = "none";

	create("0000000000000001", OWNER);
	c = step_commit("0000000000000001", 1, OTHER, "critique");
	expect_named_error(st->ops->commit(st, &c, &request), ECL_ESTATE,
			   "another process took it over");
	c = step_commit("0000000000000001", 1, OWNER, "critique");
	cr_assert_eq(st->ops->commit(st, &c, &request), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_null(request);
	/* the same checkpoint again: a second driver that thought it held the run */
	cr_assert_neq(st->ops->commit(st, &c, &request), ECL_OK);
	c = step_commit("0000000000000001", 2, OWNER, NULL);
	cr_assert_eq(st->ops->commit(st, &c, &request), ECL_OK, "%s", st->ops->errmsg(st));
	/* a finished run: no lease, no release, no heartbeat, no request */
	expect_named_error(st->ops->acquire(st, "0000000000000001", OWNER, NULL, 2, 3000, 9000,
					    &(char *){NULL}),
			   ECL_ESTATE, "cannot be driven any more");
	cr_assert_eq(st->ops->heartbeat(st, "0000000000000001", OWNER, 3000, 9000, &request),
		     ECL_ESTATE);
	cr_assert_eq(st->ops->release(st, "0000000000000001", OWNER, "interrupted", NULL, 3000),
		     ECL_ESTATE);
	expect_named_error(st->ops->request(st, "0000000000000001", "pause", 3000, &(int){0}),
			   ECL_ESTATE, "it cannot be paused");
	expect_named_error(st->ops->request(st, "0000000000000001", "cancel", 3000, &(int){0}),
			   ECL_ESTATE, "it cannot be cancelled");
}

/* The number of checkpoints of run id, read through a second connection. */
static long long checkpoints(const char *id)
{
	char q[128];

	snprintf(q, sizeof(q), "SELECT count(*) FROM steps WHERE run_id = '%s'", id);
	return ts_sql_int(db, q);
}

Test(store_ops, a_group_is_durable_whole_or_not_at_all)
{
	store_commit a1 = step_commit("0000000000000001", 1, OWNER, "critique");
	store_commit b1 = step_commit("0000000000000002", 1, OWNER, "critique");
	store_commit a2 = step_commit("0000000000000001", 2, OWNER, NULL);
	store_commit b2 = step_commit("0000000000000002", 2, OTHER, NULL);
	const char *request = "none";

	create("0000000000000001", OWNER);
	create("0000000000000002", OWNER);
	/* kept: both transitions at once, invisible to others until the group ends */
	cr_assert_eq(st->ops->group_begin(st), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(st->ops->group_begin(st), ECL_EUSAGE, "a group inside a group");
	cr_assert_eq(st->ops->commit(st, &a1, &request), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_null(request);
	cr_assert_eq(st->ops->commit(st, &b1, &request), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(checkpoints("0000000000000001"), 0, "not durable before the group ends");
	cr_assert_eq(st->ops->group_end(st, 1), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(checkpoints("0000000000000001"), 1);
	cr_assert_eq(checkpoints("0000000000000002"), 1);
	/* dropped: nothing of it stays */
	cr_assert_eq(st->ops->group_begin(st), ECL_OK);
	cr_assert_eq(st->ops->commit(st, &a2, &request), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(st->ops->group_end(st, 0), ECL_OK);
	cr_assert_eq(checkpoints("0000000000000001"), 1);
	/* one transition that cannot be committed (run 2's lease is not OTHER's) rolls the
	 * whole group back, the good one with it, and ends the group */
	cr_assert_eq(st->ops->group_begin(st), ECL_OK);
	cr_assert_eq(st->ops->commit(st, &a2, &request), ECL_OK, "%s", st->ops->errmsg(st));
	expect_named_error(st->ops->commit(st, &b2, &request), ECL_ESTATE,
			   "another process took it over");
	expect_named_error(st->ops->commit(st, &a2, &request), ECL_ESTORE,
			   "the group it belongs to was rolled back");
	expect_named_error(st->ops->group_end(st, 1), ECL_ESTORE, "rolled back");
	cr_assert_eq(checkpoints("0000000000000001"), 1, "the group left nothing behind");
	cr_assert_eq(checkpoints("0000000000000002"), 1, "what was committed before stays");
	/* then each transition alone gets its own outcome */
	cr_assert_eq(st->ops->commit(st, &a2, &request), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(st->ops->commit(st, &b2, &request), ECL_ESTATE);
	cr_assert_eq(checkpoints("0000000000000001"), 2);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 1);
}

Test(store_ops, a_group_needs_the_write_lock)
{
	sqlite3 *other;

	cr_assert_eq(sqlite3_open(db, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	expect_named_error(st->ops->group_begin(st), ECL_ESTORE, db);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	cr_assert_eq(st->ops->group_end(st, 1), ECL_OK, "no group is open: nothing to do");
	cr_assert_eq(st->ops->group_begin(st), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(st->ops->group_end(st, 1), ECL_OK, "%s", st->ops->errmsg(st));
}

Test(store_ops, a_statement_that_cannot_be_prepared_fails_saying_why)
{
	store_commit c = step_commit("0000000000000001", 1, OWNER, "critique");
	const char *request = NULL;
	sqlite3 *other;

	create("0000000000000001", OWNER);
	/* statements are prepared on first use: a table gone since the store opened */
	cr_assert_eq(sqlite3_open(db, &other), SQLITE_OK);
	cr_assert_eq(
		sqlite3_exec(other,
			     "DROP TABLE notes; DROP TABLE answers; ALTER TABLE steps RENAME TO"
			     " gone",
			     NULL, NULL, NULL),
		SQLITE_OK, "%s", sqlite3_errmsg(other));
	sqlite3_close(other);
	expect_named_error(st->ops->note(st, "0000000000000001", 0, "x", 3000), ECL_ESTORE,
			   "no such table: notes");
	cr_assert(strstr(st->ops->errmsg(st), db), "the file is named");
	expect_named_error(st->ops->commit(st, &c, &request), ECL_ESTORE, "no such table: steps");
	expect_named_error(st->ops->list_steps(st, "0000000000000001", NULL, NULL), ECL_ESTORE,
			   "no such table");
	expect_named_error(st->ops->list_outputs(st, "0000000000000001", 1, 1, NULL, NULL),
			   ECL_ESTORE, "no such table: steps");
	expect_named_error(st->ops->answer(st, "0000000000000001", 0, "{}", 3000), ECL_ESTORE,
			   "no such table: answers");
	{
		char *answer = NULL;

		expect_named_error(st->ops->get_answer(st, "0000000000000001", 0, &answer),
				   ECL_ESTORE, "no such table: answers");
		cr_assert_null(answer);
	}
	expect_named_error(st->ops->list_answers(st, "0000000000000001", NULL, NULL), ECL_ESTORE,
			   "no such table: answers");
	/* no transaction was left open: the writes that need no missing table go through */
	cr_assert_eq(st->ops->release(st, "0000000000000001", OWNER, "interrupted", NULL, 3000),
		     ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), 1);
}

/* The calls and definitions of versions: a commit that cannot store them stores nothing. */
Test(store_ops, a_commit_whose_calls_cannot_be_stored_stores_nothing)
{
	store_commit c = step_commit("0000000000000001", 1, OWNER, "critique");
	store_call call = {1, STORE_CALL_FIRST, 0, NULL, "bad", "refused", 0, 0, 1, 0, 0, 0};
	store_def def = {"critique-revise", "v1", "{}"};
	store_run copy = {0};
	const char *request = NULL;
	char *text = NULL;
	sqlite3 *other;

	create("0000000000000001", OWNER);
	cr_assert_eq(sqlite3_open(db, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "DROP TABLE calls; DROP TABLE versions", NULL, NULL, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(other));
	sqlite3_close(other);
	c.calls = &call;
	c.ncalls = 1;
	expect_named_error(st->ops->commit(st, &c, &request), ECL_ESTORE, "no such table: calls");
	c.calls = NULL;
	c.ncalls = 0;
	c.def = &def;
	expect_named_error(st->ops->commit(st, &c, &request), ECL_ESTORE,
			   "no such table: versions");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 0, "the checkpoint went too");
	expect_named_error(st->ops->list_calls(st, "0000000000000001", NULL, NULL), ECL_ESTORE,
			   "no such table: calls");
	expect_named_error(st->ops->get_def(st, "critique-revise", "v1", &text), ECL_ESTORE,
			   "no such table: versions");
	cr_assert_null(text);
	c.def = NULL;
	cr_assert_eq(st->ops->commit(st, &c, &request), ECL_OK, "%s", st->ops->errmsg(st));
	snprintf(copy.id, sizeof(copy.id), "0000000000000002");
	copy.workflow = "critique-revise";
	copy.version = "v1";
	copy.status = "interrupted";
	copy.step = "critique";
	copy.seq = 1;
	copy.inputs = "{}";
	expect_named_error(st->ops->fork(st, "0000000000000001", 1, &copy), ECL_ESTORE,
			   "no such table: calls");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 1, "nothing forked");
}

Test(store_ops, a_live_lease_is_kept_and_a_dead_one_taken)
{
	char *holder = NULL;
	const char *request = NULL;
	int applied = -1;

	create("0000000000000001", OWNER);
	expect_named_error(
		st->ops->acquire(st, "0000000000000001", OTHER, NULL, 2, 3000, 9000, &holder),
		ECL_ESTATE, "is being driven by " OWNER);
	cr_assert_str_eq(holder, OWNER);
	mem_free(holder);
	holder = NULL;
	/* a request for a driven run waits for its driver */
	cr_assert_eq(st->ops->request(st, "0000000000000001", "pause", 3000, &applied), ECL_OK);
	cr_assert_eq(applied, 0);
	cr_assert_eq(st->ops->heartbeat(st, "0000000000000001", OWNER, 3000, 1000000, &request),
		     ECL_OK);
	cr_assert_str_eq(request, "pause");
	/* the holder is known dead: taken over */
	cr_assert_eq(st->ops->acquire(st, "0000000000000001", OTHER, OWNER, 2, 3000, 9000, &holder),
		     ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(st->ops->heartbeat(st, "0000000000000001", OWNER, 3000, 9000, &request),
		     ECL_ESTATE, "the old holder lost it");
	cr_assert_eq(st->ops->release(st, "0000000000000001", OTHER, "paused", NULL, 3000), ECL_OK);
	expect_named_error(
		st->ops->acquire(st, "0000000000000002", OTHER, NULL, 1, 3000, 9000, &holder),
		ECL_ENOTFOUND, "0000000000000002");
}

static int count_notes(void *ctx, int seq, long long ts_ms, const char *text)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_runs(void *ctx, const store_run *run)
{
	(*(int *)ctx)++;
	return 0;
}

Test(store_ops, a_locked_database_fails_every_write_naming_the_file)
{
	store_commit c;
	store_run copy = {0}, row = {0};
	store_filter f = {0};
	const char *request = NULL;
	char *holder = NULL;
	int applied = -1, count = -1, n = 0;
	sqlite3 *h;

	create("0000000000000001", OWNER);
	c = step_commit("0000000000000001", 1, OWNER, "critique");
	cr_assert_eq(st->ops->commit(st, &c, &request), ECL_OK);
	create("0000000000000002", NULL);

	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	c = step_commit("0000000000000001", 2, OWNER, NULL);
	expect_named_error(st->ops->commit(st, &c, &request), ECL_ESTORE, db);
	expect_named_error(
		st->ops->acquire(st, "0000000000000002", OWNER, NULL, 1, 3000, 9000, &holder),
		ECL_ESTORE, db);
	expect_named_error(
		st->ops->heartbeat(st, "0000000000000001", OWNER, 3000, 1000000, &request),
		ECL_ESTORE, db);
	expect_named_error(
		st->ops->release(st, "0000000000000001", OWNER, "interrupted", NULL, 3000),
		ECL_ESTORE, db);
	expect_named_error(st->ops->request(st, "0000000000000002", "cancel", 3000, &applied),
			   ECL_ESTORE, db);
	expect_named_error(st->ops->note(st, "0000000000000001", 1, "a note", 3000), ECL_ESTORE,
			   db);
	snprintf(copy.id, sizeof(copy.id), "0000000000000003");
	copy.workflow = "critique-revise";
	copy.version = "v1";
	copy.status = "interrupted";
	copy.step = "critique";
	copy.seq = 1;
	copy.inputs = "{}";
	copy.parent = "0000000000000001@1";
	expect_named_error(st->ops->fork(st, "0000000000000001", 1, &copy), ECL_ESTORE, db);
	expect_named_error(st->ops->set_version(st, "0000000000000001", "v2", 3000), ECL_ESTORE,
			   db);
	expect_named_error(st->ops->prune(st, &f, &count), ECL_ESTORE, db);
	expect_named_error(st->ops->create_run(st, &copy), ECL_ESTORE, db);

	/* reads go on (WAL), and nothing changed */
	cr_assert_eq(st->ops->list_runs(st, &f, count_runs, &n), ECL_OK);
	cr_assert_eq(n, 2);
	n = 0;
	cr_assert_eq(st->ops->list_notes(st, "0000000000000001", count_notes, &n), ECL_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(st->ops->get_run(st, "0000000000000001", &row), ECL_OK);
	cr_assert_eq(row.seq, 1);
	cr_assert_str_eq(row.status, "running");
	cr_assert_str_eq(row.version, "v1");
	store_run_clear(&row);

	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h);
	/* with the lock gone, the same calls succeed */
	cr_assert_eq(st->ops->commit(st, &c, &request), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(st->ops->fork(st, "0000000000000001", 1, &copy), ECL_OK, "%s",
		     st->ops->errmsg(st));
	cr_assert_eq(st->ops->set_version(st, "0000000000000003", "v2", 3000), ECL_OK);
	cr_assert_eq(st->ops->note(st, "0000000000000003", 1, "a note", 3000), ECL_OK);
	n = 0;
	cr_assert_eq(st->ops->list_notes(st, "0000000000000003", count_notes, &n), ECL_OK);
	cr_assert_eq(n, 2, "the fork's own note and this one");
	cr_assert_eq(st->ops->prune(st, &f, &count), ECL_OK, "%s", st->ops->errmsg(st));
	cr_assert_eq(count, 1, "only the completed run");
}

static int stop_at_first(void *ctx, const store_step *s)
{
	(*(int *)ctx)++;
	return 7;
}

Test(store_ops, walks_stop_when_told)
{
	store_commit c;
	const char *request = NULL;
	store_filter f = {0};
	int n = 0;

	create("0000000000000001", OWNER);
	c = step_commit("0000000000000001", 1, OWNER, "critique");
	cr_assert_eq(st->ops->commit(st, &c, &request), ECL_OK);
	cr_assert_eq(st->ops->note(st, "0000000000000001", 1, "one", 3000), ECL_OK);
	cr_assert_eq(st->ops->note(st, "0000000000000001", 1, "two", 3000), ECL_OK);
	cr_assert_eq(st->ops->list_steps(st, "0000000000000001", stop_at_first, &n), 7);
	cr_assert_eq(n, 1);
	f.workflow = "critique-revise";
	f.updated_before_ms = 1;
	n = 0;
	cr_assert_eq(st->ops->list_runs(st, &f, count_runs, &n), ECL_OK);
	cr_assert_eq(n, 0);
}
