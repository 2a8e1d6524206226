/*
 * support.h - helpers the tests share: temporary directories, files, child processes and
 * engines on a temporary database.
 */
#ifndef ECL_TEST_SUPPORT_H
#define ECL_TEST_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "ecl.h"

/* A new empty directory under /tmp (caller frees the string; the directory is left). */
char *ts_tmpdir(void);

/* Remove a directory and everything in it. */
void ts_rmtree(const char *dir);

/* path = dir + "/" + name, in a static rotating buffer good for a few calls. */
const char *ts_path(const char *dir, const char *name);

/* Write text to a file (the test fails if it cannot). */
void ts_write(const char *path, const char *text);

/* The whole content of a file, or NULL; caller frees. */
char *ts_read(const char *path);

/* Lines in a file (0 when it does not exist), and lines that contain needle. */
int ts_count_lines(const char *path, const char *needle);

/* Run argv[0] with the arguments (NULL-terminated), capturing stdout and stderr (either may be
 * NULL to discard; caller frees). Returns the exit status, or 128 + signal. */
int ts_run(const char *const argv[], char **out, char **err);
/* Let child pid run for us microseconds, then SIGKILL it and reap it: 1 when the signal
 * killed it, 0 when it had ended on its own with ECL_OK (anything else fails the test,
 * naming what). */
int ts_kill_after(pid_t pid, long us, const char *what);

/* End a forked child at once, as _exit does (no atexit handlers, no second flush of the
 * parent's stdio buffers), after writing its coverage counts in a coverage build: a child
 * that ends with _exit alone loses what it ran from the coverage figures. */
void ts_exit(int status) __attribute__((noreturn));

/* The seed of a randomized test: ECL_TEST_SEED when set (decimal or 0x hex), else one from
 * the clock and the process id. Printed on stderr with `what`, so that any failure can be
 * replayed; the tests also put it in their assertion messages (TS_SEED_FMT, TS_SEED_ARG). */
unsigned ts_seed(const char *what);
#define TS_SEED_FMT       " [seed %u: ECL_TEST_SEED=%u replays it]"
#define TS_SEED_ARG(seed) (seed), (seed)

/* One integer from a SQL query on the database file, or on a PostgreSQL database (a
 * postgres:// URL, its schema ecl first on the search path) (-1 on error). */
long long ts_sql_int(const char *db, const char *sql);

/* One integer from a SQL query that must answer one row: the test fails, naming SQLite's
 * error, when the database cannot be opened or read. The file is opened for reading and
 * writing (never created), as the next ecl would open it: a hot journal a failed write left
 * is rolled back first, which a read-only connection cannot do. */
long long ts_sql_count(const char *db, const char *sql);

/* Every table of the database (its schema, then its rows ordered by every column, one line
 * each) as one text, to compare a database before and after; the test fails when the file
 * cannot be read (opened as ts_sql_count opens it). Caller frees. */
char *ts_sql_dump(const char *db);

/* One text from a SQL query on the database file or PostgreSQL database, as ts_sql_int
 * (NULL on error or no row; caller frees). */
char *ts_sql_text(const char *db, const char *sql);

/* Run SQL on the database file from a connection of its own, as another program would
 * (waiting up to 5 s for a lock); the test fails if it does not succeed. */
void ts_sql(const char *db, const char *sql);

/* A socket bound to 127.0.0.1 on a port the kernel chooses (in *port), listening with that
 * backlog when it is above 0 (else bound only: it refuses connections). */
int ts_listen_any(int *port, int backlog);

/* Options for an engine on db with the scripted provider (offline when script is NULL),
 * durability normal; the strings are borrowed. */
ecl_options ts_options(const char *db, const char *script, const char *call_log);

/* Open an engine with options (the test fails if it cannot). */
ecl_engine *ts_open(const ecl_options *o);

/* An engine on db with the scripted provider (script may be NULL for offline). */
ecl_engine *ts_engine(const char *db, const char *script, const char *call_log);

/* The workflow with that id, compiled into the tests. */
const ecl_workflow *ts_workflow(const char *id);

/* A new empty PostgreSQL database on the server the test set-up started (ECL_TEST_PG, the
 * fixture pg of tests/CMakeLists.txt): its URL in url. The test fails when there is no
 * server. Drop it with ts_pg_drop. */
void ts_pg_create(char *url, size_t len);
/* Run one SQL command (no rows back) on the database of url: 1 when it succeeded, else 0 with
 * the server's message logged. The test fails when it cannot connect. */
int ts_pg_sql(const char *url, const char *sql);
/* Drop the database of a URL ts_pg_create gave, closing the connections still on it. */
void ts_pg_drop(const char *url);

/* ---- the ecl command end to end (cli.c), on a database db: a SQLite file or a PostgreSQL URL */

/* Run ECL_BIN --db db with args (NULL-terminated), as ts_run does. */
int ts_ecl(const char *db, char **out, char **err, const char *const *args);
/* The id from out's first line, "Workflow started: <id>" (a static buffer); the test fails
 * without it. */
const char *ts_started_id(const char *out);
/* Write a script for the scripted provider to dir/script.json; its path (a static buffer). */
const char *ts_script(const char *dir, const char *text);
/* Wait up to 5 s for a line of the file that contains needle; the test fails without one. */
void ts_wait_for_line(const char *path, const char *needle);
/* Start argv (NULL-terminated, argv[0] a path) in the background, its stdout and stderr in
 * the file out_path; its pid. */
pid_t ts_spawn(const char *const *argv, const char *out_path);
/* `ecl run critique-revise --topic bg` on db in the background, with the scripted provider
 * on script_text (written to dir/script.json) and its calls logged to log; its output in
 * dir/bg.out. Its pid. */
pid_t ts_ecl_background(const char *db, const char *dir, const char *script_text, const char *log);
/* The worker of process pid in a listing of `ecl workers -o json`, or NULL. */
struct cJSON *ts_worker_of(struct cJSON *list, pid_t pid);
/* Wait (up to 15 s) until `ecl workers -o json` on db lists n workers, of which, when pid is
 * not 0, the worker of process pid is in state ("live" or "stale") and holds min_held runs
 * or more; that listing (cJSON_Delete it). The test fails, showing the last listing, when it
 * does not come. */
struct cJSON *ts_workers_wait(const char *db, int n, pid_t pid, const char *state, int min_held);

#endif /* ECL_TEST_SUPPORT_H */
