/*
 * support.c - helpers the tests share.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "support.h"

extern char **environ;

char *ts_tmpdir(void)
{
	char *dir = strdup("/tmp/ecl-test-XXXXXX");

	cr_assert_not_null(dir);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
	return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void ts_rmtree(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *ts_path(const char *dir, const char *name)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

void ts_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

char *ts_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	cr_assert_not_null(data);
	cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	return data;
}

int ts_count_lines(const char *path, const char *needle)
{
	char *text = ts_read(path), *line, *save = NULL;
	int n = 0;

	if (!text)
		return 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!needle || strstr(line, needle))
			n++;
	free(text);
	return n;
}

/* Read what is there; 0 once the pipe is closed. */
static int drain(int fd, char **dst, size_t *len)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n <= 0)
		return 0;
	*dst = realloc(*dst, *len + (size_t)n + 1);
	cr_assert_not_null(*dst);
	memcpy(*dst + *len, chunk, (size_t)n);
	*len += (size_t)n;
	(*dst)[*len] = '\0';
	return 1;
}

int ts_run(const char *const argv[], char **out, char **err)
{
	posix_spawn_file_actions_t fa;
	int po[2], pe[2], status, rc;
	char *text[2];
	size_t len[2] = {0, 0};
	struct pollfd fds[2];
	pid_t pid;
	int i;

	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	posix_spawn_file_actions_addclose(&fa, pe[0]);
	/* only as 1 and 2: a daemon the program starts (a server) must not keep the pipes open */
	posix_spawn_file_actions_addclose(&fa, po[1]);
	posix_spawn_file_actions_addclose(&fa, pe[1]);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	cr_assert_eq(rc, 0, "cannot run %s: %s", argv[0], strerror(rc));
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	text[0] = calloc(1, 1);
	text[1] = calloc(1, 1);
	fds[0] = (struct pollfd){po[0], POLLIN, 0};
	fds[1] = (struct pollfd){pe[0], POLLIN, 0};
	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		if (poll(fds, 2, -1) < 0)
			break;
		for (i = 0; i < 2; i++)
			if (fds[i].fd >= 0 && fds[i].revents &&
			    !drain(fds[i].fd, &text[i], &len[i]))
				fds[i].fd = -1;
	}
	close(po[0]);
	close(pe[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (out)
		*out = text[0];
	else
		free(text[0]);
	if (err)
		*err = text[1];
	else
		free(text[1]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Defined by libgcov in a coverage build (--coverage), absent otherwise. */
extern void __gcov_dump(void) __attribute__((weak));

void ts_exit(int status)
{
	if (__gcov_dump)
		__gcov_dump();
	_exit(status);
}

/* On a PostgreSQL database (a postgres:// URL): the first value of sql's first row, with the
 * schema ecl first on the search path (caller frees), or NULL. */
static char *pg_value(const char *url, const char *sql)
{
	/* one connection kept per process for the last URL: tests read after every step */
	static PGconn *c;
	static char last[600];
	PGresult *r = NULL;
	char *v = NULL;

	if (!c || PQstatus(c) != CONNECTION_OK || strcmp(last, url) != 0) {
		PQfinish(c);
		c = PQconnectdb(url);
		snprintf(last, sizeof(last), "%s", url);
		if (PQstatus(c) == CONNECTION_OK)
			PQclear(PQexec(c, "SET search_path = ecl"));
	}
	if (PQstatus(c) == CONNECTION_OK) {
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
		    !PQgetisnull(r, 0, 0))
			v = strdup(PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return v;
}

static int is_pg(const char *db)
{
	return strncmp(db, "postgres://", 11) == 0 || strncmp(db, "postgresql://", 13) == 0;
}

long long ts_sql_int(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	if (is_pg(db)) {
		char *text = pg_value(db, sql);

		v = text ? strtoll(text, NULL, 10) : -1;
		free(text);
		return v;
	}
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	/* a writer killed a moment ago leaves its WAL to recover: wait for that as ecl does */
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

unsigned ts_seed(const char *what)
{
	const char *env = getenv("ECL_TEST_SEED");
	unsigned seed = env && *env ? (unsigned)strtoul(env, NULL, 0)
				    : (unsigned)time(NULL) ^ (unsigned)getpid() << 16;

	/* on stderr, which Criterion never hides: whatever fails later, the seed is above it */
	fprintf(stderr, "%s: seed %u (ECL_TEST_SEED=%u replays it)\n", what, seed, seed);
	return seed;
}

long long ts_sql_count(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v;
	int rc;

	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK,
		     "%s cannot be opened: %s", db, sqlite3_errmsg(h));
	rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	cr_assert_eq(rc, SQLITE_OK, "%s cannot be read (%s): %s", db, sql, sqlite3_errmsg(h));
	rc = sqlite3_step(st);
	cr_assert_eq(rc, SQLITE_ROW, "%s cannot be read (%s): %s", db, sql, sqlite3_errmsg(h));
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* Append text to a growing string (the test fails when memory runs out). */
static void dump_add(char **s, size_t *len, const char *text)
{
	size_t n = strlen(text);
	char *grown = realloc(*s, *len + n + 1);

	cr_assert_not_null(grown);
	memcpy(grown + *len, text, n + 1);
	*s = grown;
	*len += n;
}

char *ts_sql_dump(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *tables, *rows;
	char *out = NULL;
	size_t len = 0;

	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK,
		     "%s cannot be opened: %s", db, sqlite3_errmsg(h));
	dump_add(&out, &len, "");
	cr_assert_eq(sqlite3_prepare_v2(h,
					"SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL "
					"ORDER BY type, name",
					-1, &tables, NULL),
		     SQLITE_OK, "%s cannot be read: %s", db, sqlite3_errmsg(h));
	for (;;) {
		int rc = sqlite3_step(tables), i, ncol;
		char *q;

		if (rc == SQLITE_DONE)
			break;
		cr_assert_eq(rc, SQLITE_ROW, "%s: the schema cannot be read: %s", db,
			     sqlite3_errmsg(h));
		dump_add(&out, &len, (const char *)sqlite3_column_text(tables, 1));
		dump_add(&out, &len, "\n");
		if (strncmp((const char *)sqlite3_column_text(tables, 1), "CREATE TABLE", 12) != 0)
			continue;
		/* every row, in an order that does not depend on how it was stored */
		q = sqlite3_mprintf("SELECT * FROM \"%w\"", sqlite3_column_text(tables, 0));
		cr_assert_not_null(q);
		cr_assert_eq(sqlite3_prepare_v2(h, q, -1, &rows, NULL), SQLITE_OK, "%s: %s: %s", db,
			     q, sqlite3_errmsg(h));
		ncol = sqlite3_column_count(rows);
		sqlite3_free(q);
		q = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY 1",
				    sqlite3_column_text(tables, 0));
		for (i = 2; i <= ncol; i++) {
			char *more = sqlite3_mprintf("%s, %d", q, i);

			sqlite3_free(q);
			q = more;
			cr_assert_not_null(q);
		}
		sqlite3_finalize(rows);
		cr_assert_eq(sqlite3_prepare_v2(h, q, -1, &rows, NULL), SQLITE_OK, "%s: %s: %s", db,
			     q, sqlite3_errmsg(h));
		sqlite3_free(q);
		while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
			for (i = 0; i < ncol; i++) {
				const unsigned char *t = sqlite3_column_text(rows, i);

				dump_add(&out, &len, i ? " | " : "  ");
				dump_add(&out, &len, t ? (const char *)t : "NULL");
			}
			dump_add(&out, &len, "\n");
		}
		cr_assert_eq(rc, SQLITE_DONE, "%s: a table cannot be read: %s", db,
			     sqlite3_errmsg(h));
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	sqlite3_close(h);
	return out;
}

char *ts_sql_text(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	char *v = NULL;

	if (is_pg(db))
		return pg_value(db, sql);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return NULL;
	}
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			v = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

void ts_sql(const char *db, const char *sql)
{
	sqlite3 *h;
	char *err = NULL;

	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql,
		     err ? err : "");
	sqlite3_close(h);
}

int ts_listen_any(int *port, int backlog)
{
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (backlog > 0)
		cr_assert_eq(listen(fd, backlog), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

ecl_options ts_options(const char *db, const char *script, const char *call_log)
{
	ecl_options o = {0};

	o.db_path = db;
	o.durability = ECL_DURABLE_NORMAL;
	o.provider = script ? "scripted" : "offline";
	o.script_path = script;
	o.call_log = call_log;
	o.workflows = ecl_workflows;
	o.nworkflows = ecl_nworkflows;
	return o;
}

ecl_engine *ts_open(const ecl_options *o)
{
	ecl_engine *e = NULL;
	char err[1024] = "";

	cr_assert_eq(ecl_engine_open(o, &e, err, sizeof(err)), ECL_OK, "engine: %s", err);
	return e;
}

ecl_engine *ts_engine(const char *db, const char *script, const char *call_log)
{
	ecl_options o = ts_options(db, script, call_log);

	return ts_open(&o);
}

const ecl_workflow *ts_workflow(const char *id)
{
	const ecl_workflow *wf = ecl_workflow_find(ecl_workflows, ecl_nworkflows, id);

	cr_assert_not_null(wf, "workflow %s is not compiled in", id);
	return wf;
}

int ts_kill_after(pid_t pid, long us, const char *what)
{
	struct timespec ts = {us / 1000000, us % 1000000 * 1000L};
	int st;

	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		return 1;
	cr_assert_eq(WEXITSTATUS(st), ECL_OK, "%s failed with %d", what, WEXITSTATUS(st));
	return 0;
}

int ts_pg_sql(const char *url, const char *sql)
{
	PGconn *c;
	PGresult *r;
	int ok;

	c = PQconnectdb(url);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s: %s", url, PQerrorMessage(c));
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		cr_log_error("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

/* Run one SQL command on the maintenance database of the test server: 1 when it succeeded. */
static int pg_admin(const char *sql)
{
	const char *server = getenv("ECL_TEST_PG");
	char url[512];

	cr_assert(server && *server, "ECL_TEST_PG is not set: the test set-up starts a PostgreSQL "
				     "server (tests/CMakeLists.txt, fixture pg)");
	snprintf(url, sizeof(url), "%s/postgres", server);
	return ts_pg_sql(url, sql);
}

void ts_pg_create(char *url, size_t len)
{
	static unsigned counter;
	char name[64], sql[128];

	snprintf(name, sizeof(name), "t_%ld_%u_%ld", (long)getpid(), counter++,
		 (long)(random() & 0xffff));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	cr_assert(pg_admin(sql), "cannot create a database on %s", getenv("ECL_TEST_PG"));
	snprintf(url, len, "%s/%s", getenv("ECL_TEST_PG"), name);
}

void ts_pg_drop(const char *url)
{
	const char *name = strrchr(url, '/');
	char sql[128];

	if (!name)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 1);
	pg_admin(sql);
}
