/*
 * test_store.c - the SQLite store under bad conditions: old, newer, foreign, damaged,
 * truncated, read-only, locked and full databases each give a clear error naming the file
 * and lose nothing that was committed.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define GEN  "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"

static char *dir;
static char db[4096], script[4096];

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	snprintf(script, sizeof(script), "%s/script.json", dir);
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
}

static void teardown(void)
{
	ts_rmtree(dir);
	free(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

static void sql(const char *path, const char *text)
{
	sqlite3 *h;

	cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, text, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	sqlite3_close(h);
}

/* Open an engine on db; returns the status and the error text in err. */
static int try_open(char *err, size_t errlen)
{
	ecl_options o = ts_options(db, script, NULL);
	ecl_engine *e = NULL;
	int rc = ecl_engine_open(&o, &e, err, errlen);

	ecl_engine_close(e);
	return rc;
}

/* A history callback appending "seq:step>next " (- for none) of each checkpoint to ctx. */
static int collect_next(void *ctx, const ecl_history_entry *entry)
{
	char *out = ctx;
	size_t n = strlen(out);

	if (!entry->note)
		snprintf(out + n, 256 - n, "%d:%s>%s ", entry->seq, entry->step,
			 entry->next ? entry->next : "-");
	return 0;
}

/* One completed run in db; returns its id in a static buffer. */
static const char *one_run(void)
{
	static char id[ECL_ID_MAX];
	ecl_engine *e = ts_engine(db, script, NULL);

	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	return id;
}

Test(store, a_new_database_has_the_current_schema)
{
	char err[512];

	cr_assert_eq(try_open(err, sizeof(err)), ECL_OK, "%s", err);
	cr_assert_eq(ts_sql_int(db, "PRAGMA user_version"), 8);
	cr_assert_eq(ts_sql_int(db, "PRAGMA application_id"), 0x65636c31);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('calls',"
				    " 'versions')"),
		     2);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name ="
				    " 'lease_until_ms'"),
		     1);
	{
		char *mode = ts_sql_text(db, "PRAGMA journal_mode");

		cr_assert_str_eq(mode, "wal");
		free(mode);
	}
}

/* The index of the runs that are not over holds plain comparisons (a NOT IN list would make
 * every write of a run's status build a temporary table), and a listing of live runs by
 * status, written as the store writes it, still finds its rows through that index. */
Test(store, live_runs_are_listed_through_their_partial_index)
{
	char err[512], *index_sql;
	sqlite3 *h;
	sqlite3_stmt *st;
	const char *detail;

	cr_assert_eq(try_open(err, sizeof(err)), ECL_OK, "%s", err);
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(
		sqlite3_prepare_v2(h,
				   "EXPLAIN QUERY PLAN SELECT id FROM runs WHERE 1 AND status IN"
				   " ('running', 'paused') AND status <> 'completed' AND status"
				   " <> 'failed' AND status <> 'cancelled'",
				   -1, &st, NULL),
		SQLITE_OK, "%s", sqlite3_errmsg(h));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	detail = (const char *)sqlite3_column_text(st, 3);
	cr_assert(strstr(detail, "INDEX runs_live"), "%s", detail);
	sqlite3_finalize(st);
	sqlite3_close(h);
	index_sql = ts_sql_text(db, "SELECT sql FROM sqlite_schema WHERE name = 'runs_live'");
	cr_assert(!strstr(index_sql, " IN "), "%s", index_sql);
	free(index_sql);
}

Test(store, an_old_database_is_upgraded_in_place)
{
	ecl_engine *e;
	ecl_run_info *info;

	/* Schema version 1, as the first ecl wrote it, with a run interrupted after one step. */
	sql(db,
	    "CREATE TABLE runs(id TEXT PRIMARY KEY, workflow TEXT NOT NULL, version TEXT NOT "
	    "NULL, status TEXT NOT NULL, step TEXT, seq INTEGER NOT NULL DEFAULT 0, attempt "
	    "INTEGER NOT NULL DEFAULT 1, inputs TEXT NOT NULL, output TEXT, error TEXT, "
	    "created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL) WITHOUT ROWID;"
	    "CREATE INDEX runs_by_status ON runs(status, workflow);"
	    "CREATE TABLE steps(run_id TEXT NOT NULL, seq INTEGER NOT NULL, step TEXT NOT NULL, "
	    "attempt INTEGER NOT NULL, next TEXT, output TEXT, raw TEXT, vars TEXT, tokens_in "
	    "INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0, started_ms "
	    "INTEGER NOT NULL, duration_us INTEGER NOT NULL, PRIMARY KEY(run_id, seq)) WITHOUT "
	    "ROWID;"
	    "PRAGMA application_id = 1701014577; PRAGMA user_version = 1;");
	{
		char text[1024];

		snprintf(
			text, sizeof(text),
			"INSERT INTO runs VALUES('oldrun', 'critique-revise', '%s', 'interrupted', "
			"'critique', 1, 1, '{\"topic\":\"t\",\"min_words\":50}', NULL, NULL, 1, 1);"
			"INSERT INTO steps VALUES('oldrun', 1, 'generate', 1, 'critique', '" GEN
			"', NULL, '{\"content\":\"Draft v0\",\"word_count\":2}', 0, 0, 1, 1);",
			ts_workflow("critique-revise")->version);
		sql(db, text);
	}
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ts_sql_int(db, "PRAGMA user_version"), 8);
	cr_assert_eq(ecl_run_drive(e, "oldrun"), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, "oldrun", &info), ECL_OK);
	cr_assert_eq(info->step_count, 2);
	cr_assert(strstr(info->output, "Draft v0"));
	cr_assert_null(info->provider, "a run of schema 1 has no provider recorded");
	ecl_run_info_free(info);
	/* The old checkpoint keeps its stored next step; the new one has none (the run ended). */
	{
		char got[256] = "";

		cr_assert_eq(ecl_run_history(e, "oldrun", 0, collect_next, got), ECL_OK);
		cr_assert_str_eq(got, "1:generate>critique 2:critique>- ");
	}
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs_live'"),
		     1);
	cr_assert_eq(
		ts_sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs_by_status'"),
		0);
	ecl_engine_close(e);
}

static int collect_notes(void *ctx, const ecl_history_entry *entry)
{
	char *out = ctx;
	size_t n = strlen(out);

	if (entry->note)
		snprintf(out + n, 1024 - n, "%d:%s\n", entry->seq, entry->note);
	return 0;
}

/* A database of schema 5 kept a human's answer as a note "answer {json}". The upgrade moves
 * each into the answers (of several to one checkpoint, from before the first was kept, the
 * last: the one a resume applied), the history shows them where they were, and the answer
 * still counts as given. */
Test(store, answer_notes_of_an_old_database_become_answers)
{
	const char *names[] = {"approved"}, *values[] = {"true"};
	char err[512], text[1024], got[1024] = "";
	ecl_engine *e;

	cr_assert_eq(try_open(err, sizeof(err)), ECL_OK, "%s", err);
	sql(db, "DROP TABLE answers; DROP TABLE versions; DROP TABLE calls;"
		" ALTER TABLE runs DROP COLUMN trace; PRAGMA user_version = 5;");
	snprintf(text, sizeof(text),
		 "INSERT INTO runs(id, workflow, version, status, step, seq, attempt, inputs,"
		 " created_ms, updated_ms) VALUES('oldrun', 'summarize', '%s', 'waiting',"
		 " 'approve', 0, 1, '{\"document\":\"d\",\"max_words\":60}', 1, 1);"
		 "INSERT INTO notes VALUES('oldrun', 0, 10, 'pause done');"
		 "INSERT INTO notes VALUES('oldrun', 0, 11, 'answer {\"approved\":false}');"
		 "INSERT INTO notes VALUES('oldrun', 0, 12, 'answer {\"approved\":true}');"
		 "INSERT INTO notes VALUES('oldrun', 0, 13, 'cancel requested of the driver');",
		 ts_workflow("summarize")->version);
	sql(db, text);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ts_sql_int(db, "PRAGMA user_version"), 8);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM notes WHERE text LIKE 'answer %'"), 0);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM notes"), 2, "the other notes stay");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM answers WHERE run_id = 'oldrun' AND"
				    " seq = 0 AND ts_ms = 12 AND answer = '{\"approved\":true}'"),
		     1);
	cr_assert_eq(ecl_run_history(e, "oldrun", 0, collect_notes, got), ECL_OK);
	cr_assert_str_eq(got, "0:pause done\n0:answer {\"approved\":true}\n"
			      "0:cancel requested of the driver\n");
	cr_assert_eq(ecl_run_answer(e, "oldrun", names, values, 1), ECL_ESTATE);
	cr_assert(strstr(ecl_engine_errmsg(e), "has an answer to step `approve` already"), "%s",
		  ecl_engine_errmsg(e));
	ecl_engine_close(e);
}

#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"

/* Checkpoints do not store the step they lead to: it is the step of the next checkpoint, or
 * for the last one the step the run is at. History shows it all the same, for a run that
 * ended, for one that stopped in the middle, and for a fork of it. */
Test(store, history_names_the_next_step_without_storing_it)
{
	ecl_engine *e;
	char id[ECL_ID_MAX], fork[ECL_ID_MAX], got[256] = "";
	int applied;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS "],"
			 " \"revise\": [" GEN "]}");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_history(e, id, 0, collect_next, got), ECL_OK);
	cr_assert_str_eq(got, "1:generate>critique 2:critique>revise 3:revise>critique "
			      "4:critique>- ");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE next IS NOT NULL"), 0);

	/* A fork from checkpoint 2 stops before revise; cancelled there, it still names it. */
	cr_assert_eq(ecl_run_fork(e, id, 2, fork), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_cancel(e, fork, &applied), ECL_OK, "%s", ecl_engine_errmsg(e));
	got[0] = '\0';
	cr_assert_eq(ecl_run_history(e, fork, 0, collect_next, got), ECL_OK);
	cr_assert_str_eq(got, "1:generate>critique 2:critique>revise ");
	ecl_engine_close(e);
}

/* Processes that open a database that does not exist yet, all at once, all get it with the
 * current schema: the upgrade is one transaction that one of them makes while the others
 * wait, then find the schema made ("table runs already exists" and the like before). */
Test(store, processes_opening_a_new_database_at_once_all_succeed)
{
	enum { PROCS = 8, ROUNDS = 12 };
	int round;

	for (round = 0; round < ROUNDS; round++) {
		char path[4200];
		pid_t pids[PROCS];
		int go[2], k, status;

		snprintf(path, sizeof(path), "%s/fresh%d.db", dir, round);
		cr_assert_eq(pipe(go), 0);
		for (k = 0; k < PROCS; k++) {
			pids[k] = fork();
			cr_assert_neq(pids[k], -1);
			if (pids[k] == 0) {
				ecl_options o = ts_options(path, script, NULL);
				ecl_engine *e = NULL;
				char err[512], id[ECL_ID_MAX], c;
				int rc;

				close(go[1]);
				if (read(go[0], &c, 1) != 0) /* the parent closes it: all start */
					ts_exit(3);
				o.busy_timeout_ms = 20000;
				rc = ecl_engine_open(&o, &e, err, sizeof(err));
				if (rc == ECL_OK)
					rc = ecl_run_start(e, ts_workflow("critique-revise"),
							   "{\"topic\": \"t\"}", id);
				if (rc != ECL_OK)
					fprintf(stderr, "round %d, process %d: %s\n", round, k,
						e ? ecl_engine_errmsg(e) : err);
				ecl_engine_close(e);
				ts_exit(rc == ECL_OK ? 0 : 1);
			}
		}
		close(go[0]);
		close(go[1]);
		for (k = 0; k < PROCS; k++) {
			cr_assert_eq(waitpid(pids[k], &status, 0), pids[k]);
			cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				  "round %d: process %d failed to open the new database", round, k);
		}
		cr_assert_eq(ts_sql_int(path, "PRAGMA user_version"), 8);
		cr_assert_eq(ts_sql_int(path, "SELECT count(*) FROM runs"), PROCS);
		cr_assert_eq(ts_sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE name ="
					      " 'runs_live'"),
			     1);
	}
}

static int count_run(void *ctx, const ecl_run_info *info)
{
	(void)info;
	++*(int *)ctx;
	return 0;
}

static int open_read_only(const char *path, ecl_engine **e, char *err, size_t errlen)
{
	ecl_options o = ts_options(path, script, NULL);

	o.read_only = 1;
	return ecl_engine_open(&o, e, err, errlen);
}

/* A read-only engine reads any file of the current schema, whatever its name; it makes a
 * missing one as others do, refuses an older one (a writer upgrades it), and writes nothing. */
Test(store, read_only_opens)
{
	const char *statuses[] = {"completed"};
	ecl_run_filter f = {.statuses = statuses, .nstatuses = 1};
	char path[4200], err[512], id[ECL_ID_MAX];
	ecl_engine *e, *w;
	int n = 0;

	snprintf(path, sizeof(path), "%s/odd ?name#100%%.db", dir);
	cr_assert_eq(open_read_only(path, &e, err, sizeof(err)), ECL_OK, "%s", err);
	cr_assert_eq(ts_sql_int(path, "PRAGMA user_version"), 8, "made as other commands do");
	ecl_engine_close(e);
	w = ts_engine(path, script, NULL);
	cr_assert_eq(ecl_run_start(w, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(w, id), ECL_OK, "%s", ecl_engine_errmsg(w));
	cr_assert_eq(open_read_only(path, &e, err, sizeof(err)), ECL_OK, "%s", err);
	cr_assert_eq(ecl_run_list(e, &f, count_run, &n), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(n, 1);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "read-only") ||
			  strstr(ecl_engine_errmsg(e), "readonly"),
		  "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	ecl_engine_close(w);

	sql(db, "CREATE TABLE runs(id TEXT PRIMARY KEY); PRAGMA application_id = 1701014577;"
		" PRAGMA user_version = 1;");
	cr_assert_eq(open_read_only(db, &e, err, sizeof(err)), ECL_ESTORE);
	cr_assert(strstr(err, "schema version 1, older than this ecl's (8): a command that "
			      "writes (ecl resume, ecl recover) upgrades it"),
		  "%s", err);
	cr_assert_eq(ts_sql_int(db, "PRAGMA user_version"), 1, "left as it was");
	snprintf(path, sizeof(path), "%s/no-such-dir/x.db", dir);
	cr_assert_eq(open_read_only(path, &e, err, sizeof(err)), ECL_ESTORE);
	cr_assert(strstr(err, "cannot open the database"), "%s", err);
}

Test(store, a_newer_database_is_refused)
{
	char err[512];

	one_run();
	sql(db, "PRAGMA user_version = 99");
	cr_assert_eq(try_open(err, sizeof(err)), ECL_ESTORE);
	cr_assert(strstr(err, db), "%s", err);
	cr_assert(strstr(err, "schema version 99, newer than this ecl reads (8)"), "%s", err);
}

Test(store, a_database_of_another_program_is_refused)
{
	char err[512];

	sql(db, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT)");
	cr_assert_eq(try_open(err, sizeof(err)), ECL_ESTORE);
	cr_assert(strstr(err, db), "%s", err);
	cr_assert(strstr(err, "not an ecl database"), "%s", err);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM sqlite_schema"), 1, "left untouched");
}

Test(store, a_file_that_is_not_a_database_is_refused)
{
	char err[512];

	ts_write(db, "This is a text file, not a database. It has more than one hundred bytes "
		     "of text so that SQLite reads a whole header from it and rejects it.\n");
	cr_assert_eq(try_open(err, sizeof(err)), ECL_ESTORE);
	cr_assert(strstr(err, db), "%s", err);
	cr_assert(strstr(err, "not a database"), "%s", err);
	{
		char *text = ts_read(db);

		cr_assert(strncmp(text, "This is a text file", 19) == 0,
			  "the file was not changed");
		free(text);
	}
}

Test(store, a_truncated_database_gives_a_clear_error)
{
	char err[512];
	struct stat st;
	int i, rc;

	for (i = 0; i < 20; i++)
		one_run();
	sql(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(truncate(db, st.st_size / 2), 0);
	rc = try_open(err, sizeof(err));
	if (rc == ECL_OK) {
		/* The header survived: reading the damaged pages must fail cleanly. */
		ecl_engine *e = ts_engine(db, script, NULL);
		ecl_run_filter f = {0};

		rc = ecl_run_list(e, &f, NULL, NULL);
		snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
		ecl_engine_close(e);
	}
	cr_assert_eq(rc, ECL_ESTORE, "%s", err);
	cr_assert(strstr(err, db), "%s", err);
	cr_assert(strstr(err, "damaged") || strstr(err, "malformed"), "%s", err);
}

static int count_entries(void *ctx, const ecl_history_entry *entry)
{
	(void)entry;
	++*(int *)ctx;
	return 0;
}

static int ignore_run(void *ctx, const ecl_run_info *info)
{
	(void)ctx;
	(void)info;
	return 0;
}

/* Overwrite page `page` of the file (after moving the WAL into it) with 0xff bytes. */
static void overwrite_page(long long page)
{
	long long size = ts_sql_int(db, "PRAGMA page_size");
	char junk[65536];
	FILE *f;

	cr_assert(size > 0 && size <= (long long)sizeof(junk) && page > 1);
	sql(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	memset(junk, 0xff, sizeof(junk));
	cr_assert_not_null(f = fopen(db, "r+b"));
	cr_assert_eq(fseek(f, (long)((page - 1) * size), SEEK_SET), 0);
	cr_assert_eq(fwrite(junk, 1, (size_t)size, f), (size_t)size);
	fclose(f);
}

/* What the store holds but the runtime never wrote says the file is damaged and how to check
 * it, wherever it is found; a fork of a damaged run is refused instead of making a run that
 * fails at once. */
Test(store, a_damaged_database_is_said_to_be_and_its_runs_are_not_forked)
{
	char id[ECL_ID_MAX], fork_id[ECL_ID_MAX], q[256];
	ecl_run_filter f = {0};
	ecl_engine *e;
	int n = 0;

	snprintf(id, sizeof(id), "%s", one_run());
	snprintf(q, sizeof(q),
		 "UPDATE steps SET vars = '{\"content\":123}' WHERE run_id = '%s'"
		 " AND seq = 1",
		 id);
	sql(db, q);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_history(e, id, 1, count_entries, &n), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "checkpoint value content: expected a string, got "
					       "123"),
		  "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "; the database seems damaged: check it with: "
					       "sqlite3 ") &&
			  strstr(ecl_engine_errmsg(e), "'pragma integrity_check'; or restore a "
						       "backup"),
		  "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), db), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(n, 1, "the checkpoint before the damage was shown");
	cr_assert_eq(ecl_run_fork(e, id, 1, fork_id), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "is not forked"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_fork(e, id, 0, fork_id), ECL_OK, "before the damage, it can be");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 2);
	/* a checkpoint that does not parse */
	snprintf(q, sizeof(q),
		 "UPDATE steps SET vars = '{', output = NULL WHERE run_id = '%s'"
		 " AND seq = 1",
		 id);
	sql(db, q);
	cr_assert_eq(ecl_run_fork(e, id, 1, fork_id), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "a stored checkpoint is not JSON; the database"),
		  "%s", ecl_engine_errmsg(e));
	snprintf(q, sizeof(q),
		 "UPDATE steps SET vars = NULL, output = '[' WHERE run_id = '%s'"
		 " AND seq = 1",
		 id);
	sql(db, q);
	cr_assert_eq(ecl_run_fork(e, id, 1, fork_id), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "checkpoint 1 is damaged; the database"), "%s",
		  ecl_engine_errmsg(e));
	snprintf(q, sizeof(q),
		 "UPDATE steps SET output = '{\"content\": 5}' WHERE run_id = '%s'"
		 " AND seq = 1",
		 id);
	sql(db, q);
	cr_assert_eq(ecl_run_fork(e, id, 1, fork_id), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "stored output generate.content: expected a string"),
		  "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "seems damaged"), "%s", ecl_engine_errmsg(e));
	snprintf(q, sizeof(q), "UPDATE runs SET inputs = '{' WHERE id = '%s'", id);
	sql(db, q);
	cr_assert_eq(ecl_run_fork(e, id, 1, fork_id), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "the stored inputs are damaged; the database"), "%s",
		  ecl_engine_errmsg(e));
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 2, "nothing was forked");
	ecl_engine_close(e);

	/* pages overwritten: the checkpoints' root (a run's output refers to one that SQLite no
	 * longer finds), then the runs' root (SQLite finds the file malformed) */
	snprintf(db, sizeof(db), "%s/second.db", dir);
	e = ts_engine(db, NULL, NULL); /* the offline provider: long strings, stored by reference */
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	cr_assert(ts_sql_int(db, "SELECT count(*) FROM runs WHERE output LIKE '%\"@\":%'") == 1,
		  "the output refers to a checkpoint");
	overwrite_page(ts_sql_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = 'steps'"));
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_list(e, &f, ignore_run, NULL), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "which has none: the file is damaged: check it with"
					       ": sqlite3 "),
		  "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	overwrite_page(ts_sql_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = 'runs'"));
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_list(e, &f, ignore_run, NULL), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "malformed (the file is damaged or not a database): "
					       "check it with: sqlite3 "),
		  "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
}

Test(store, a_locked_database_names_the_file_and_keeps_the_checkpoint)
{
	ecl_options o = ts_options(db, script, NULL);
	char id[ECL_ID_MAX];
	ecl_engine *e;
	sqlite3 *h;

	o.busy_timeout_ms = 100;
	e = ts_open(&o);
	cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
		     ECL_OK);
	/* Another process holds the write lock for as long as the run tries to commit. */
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(ecl_run_drive(e, id), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), db), "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "another process holds the database"), "%s",
		  ecl_engine_errmsg(e));
	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h);
	cr_assert_eq(ts_sql_int(db, "SELECT seq FROM runs"), 0, "nothing half-written");
	/* Once the lock is gone the same run goes on. */
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	{
		char *check = ts_sql_text(db, "PRAGMA integrity_check");

		cr_assert_str_eq(check, "ok");
		free(check);
	}
}

/* In a child: make the database read-only for this process, then try to run. */
Test(store, a_read_only_database_names_the_file)
{
	const char *id;
	pid_t pid;
	int status;

	id = one_run();
	sql(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	cr_assert_eq(chmod(db, 0444), 0);
	cr_assert_eq(chmod(dir, 0555), 0);
	pid = fork();
	if (pid == 0) {
		ecl_options o = ts_options(db, script, NULL);
		ecl_engine *e = NULL;
		char err[512], nid[ECL_ID_MAX];
		int rc;

		/* Root ignores file modes: drop to nobody first. */
		if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			ts_exit(90);
		rc = ecl_engine_open(&o, &e, err, sizeof(err));
		if (rc == ECL_OK) {
			rc = ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\":\"x\"}",
					   nid);
			snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
			ecl_engine_close(e);
		}
		if (rc == ECL_ESTORE && strstr(err, db) &&
		    (strstr(err, "read-only") || strstr(err, "cannot open")))
			ts_exit(0);
		fprintf(stderr, "rc %d: %s\n", rc, err);
		ts_exit(1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	chmod(dir, 0755);
	chmod(db, 0644);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	{
		char q[128];

		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM runs WHERE id = '%s' AND status = "
			 "'completed'",
			 id);
		cr_assert_eq(ts_sql_int(db, q), 1, "the stored run is intact");
	}
}

/* A disk that fills up in the middle of a run: the file size limit stands in for it. */
Test(store, a_full_disk_stops_the_run_with_its_last_checkpoint_intact)
{
	char id[ECL_ID_MAX], big[4096];
	struct stat st;
	pid_t pid;
	int status;

	/* A generate answer of about 300 KiB, more than the room left. */
	{
		FILE *f = fopen(script, "w");
		int i;

		cr_assert_not_null(f);
		fputs("{\"generate\": [{\"content\": \"", f);
		for (i = 0; i < 300 * 1024 / 8; i++)
			fputs("abcdefg ", f);
		fputs("\", \"word_count\": 2}], \"critique\": [" PASS "]}", f);
		fclose(f);
	}
	{
		ecl_engine *e = ts_engine(db, script, NULL);

		cr_assert_eq(
			ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}", id),
			ECL_OK);
		ecl_engine_close(e);
	}
	sql(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	cr_assert_eq(stat(db, &st), 0);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = {(rlim_t)st.st_size + 64 * 1024, (rlim_t)st.st_size + 64 * 1024};
		ecl_engine *e;
		ecl_options o = ts_options(db, script, NULL);
		char err[512];
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
			ts_exit(90);
		setrlimit(RLIMIT_FSIZE, &rl);
		rc = ecl_run_drive(e, id);
		snprintf(big, sizeof(big), "%s", ecl_engine_errmsg(e));
		ecl_engine_close(e);
		if (rc == ECL_ESTORE && strstr(big, db) && strstr(big, "disk may be full")) {
			fprintf(stderr, "full disk: %s\n", big);
			ts_exit(0);
		}
		fprintf(stderr, "rc %d: %s\n", rc, big);
		ts_exit(1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	{
		char *check = ts_sql_text(db, "PRAGMA integrity_check");

		cr_assert_str_eq(check, "ok");
		free(check);
	}
	cr_assert_eq(ts_sql_int(db, "SELECT seq FROM runs"), 0, "no half-written checkpoint");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps"), 0);
	{
		/* The run is not left `running` until a recover: it says it stopped, and why. */
		char *status = ts_sql_text(db, "SELECT status || ': ' || error FROM runs");

		cr_assert(status && strncmp(status, "interrupted: ", 13) == 0 &&
				  strstr(status, "disk may be full"),
			  "%s", status);
		free(status);
	}
	/* With room again, the run goes on from its last checkpoint. */
	{
		ecl_engine *e = ts_engine(db, script, NULL);

		cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
		ecl_engine_close(e);
	}
}

#define LONG_GEN "{\"content\": \"A draft long enough to be stored once\", \"word_count\": 7}"

static int copy_output(void *ctx, const ecl_run_info *info)
{
	*(char **)ctx = strdup(info->output ? info->output : "");
	return 0;
}

/* A run's output repeats no string a checkpoint stored already: it refers to it, and every
 * read puts the string back. A reference whose checkpoint is gone is a clear error. */
Test(store, the_output_refers_to_checkpoint_strings)
{
	const char *statuses[] = {"completed"};
	ecl_run_filter f = {.statuses = statuses, .nstatuses = 1};
	ecl_run_info *info;
	ecl_engine *e;
	char *listed = NULL;
	const char *id;

	ts_write(script, "{\"generate\": [" LONG_GEN "], \"critique\": [" PASS "]}");
	id = one_run();
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE output = "
				    "'{\"content\":{\"@\":1,\"=\":\"content\"},\"word_count\":7}'"),
		     1);
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_str_eq(
		info->output,
		"{\"content\":\"A draft long enough to be stored once\",\"word_count\":7}");
	ecl_run_info_free(info);
	cr_assert_eq(ecl_run_list(e, &f, copy_output, &listed), ECL_OK);
	cr_assert_str_eq(
		listed, "{\"content\":\"A draft long enough to be stored once\",\"word_count\":7}");
	free(listed);
	ecl_engine_close(e);

	/* A bare result (`done content`) is a marker on its own. */
	sql(db, "UPDATE runs SET output = '{\"@\":1,\"=\":\"content\"}'");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_str_eq(info->output, "\"A draft long enough to be stored once\"");
	ecl_run_info_free(info);
	ecl_engine_close(e);

	sql(db, "DELETE FROM steps WHERE seq = 1");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "refers to `content` of checkpoint 1"), "%s",
		  ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), db), "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);

	/* a marker in a text that is not JSON: damage, said as such */
	sql(db, "UPDATE runs SET output = '{\"@\":1,'");
	e = ts_engine(db, script, NULL);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), "the stored output is not JSON; the database seems "
					       "damaged"),
		  "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
}
