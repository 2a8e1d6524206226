/*
 * batch_bench.c - variants B and scale of the workload (bench/README.md): critique-revise
 * over HTTP against bench/fake_llm_server.c answering after a fixed latency, many workflows
 * in flight, driven by ecl_batch_drive from one thread; beside it the HTTP floor
 * (bench/http_floor.c: the same calls with no engine).
 *
 *   batch_bench --variant B --n 200 --concurrency 50 --latency-ms 20 --server PATH
 *               --floor PATH [--reps 3] [--dir /tmp] [--pg postgres://USER@HOST:PORT]
 *
 * Each repetition runs in a fresh child process against a fresh server, so its peak RSS and
 * CPU time are its own (wait4). Every workflow is checked (completed, 6 steps, the critic's
 * 90, 2 revisions); a mismatch aborts. bytes_per_inflight_run is the peak RSS above that of
 * the same batch at concurrency 1 (the same workflows, answered without latency), over the
 * concurrency. With --pg the runs are stored in a fresh database of that PostgreSQL server
 * per repetition (bytes_per_workflow then counts ecl's tables and indexes there).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ecl.h"
#include "pg_util.h"
#include "util.h"

static pid_t server_start(const char *server, const char *dir, int latency, int *port)
{
	char pf[4200], lat[16], buf[32];
	pid_t pid;
	int i;

	snprintf(pf, sizeof(pf), "%s/bench-port-%ld", dir, (long)getpid());
	remove(pf);
	snprintf(lat, sizeof(lat), "%d", latency);
	pid = fork();
	if (pid == 0) {
		execl(server, server, "--port", "0", "--latency-ms", lat, "--port-file", pf,
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		FILE *f = fopen(pf, "r");
		struct timespec ts = {0, 10000000};

		if (f && fgets(buf, sizeof(buf), f)) {
			fclose(f);
			remove(pf);
			*port = atoi(buf);
			return pid;
		}
		if (f)
			fclose(f);
		nanosleep(&ts, NULL);
	}
	bench_die("%s", "the fake server did not start");
	return -1;
}

static int ended;
static int failed;

static int on_end(void *ctx, const ecl_batch_end *end)
{
	(void)ctx;
	ended++;
	if (end->rc != ECL_OK && failed++ < 3)
		fprintf(stderr, "batch_bench: run %s %s: %s\n", end->run_id, end->status,
			end->error ? end->error : "");
	return 0;
}

/* One batch in this process; returns its wall time. */
static double run_batch(const char *db, int port, long n, int conc)
{
	const ecl_workflow *wf =
		ecl_workflow_find(ecl_workflows, ecl_nworkflows, "bench-critique-revise");
	ecl_options o = {0};
	ecl_engine *e;
	char url[64], err[512], **inputs;
	double t0, wall;
	long i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
	o.db_path = db;
	o.durability = ECL_DURABLE_NORMAL;
	o.provider = "openai";
	o.model = "fake";
	o.base_url = url;
	o.workflows = ecl_workflows;
	o.nworkflows = ecl_nworkflows;
	if (!wf || ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
		bench_die("%s", err);
	inputs = calloc((size_t)n, sizeof(*inputs));
	for (i = 0; inputs && i < n; i++) {
		inputs[i] = malloc(128);
		if (!inputs[i])
			bench_die("%s", "out of memory");
		snprintf(inputs[i], 128,
			 "{\"wf\": \"eclB-%ld-w%ld\", \"topic\": \"durable "
			 "workflows in C\"}",
			 (long)getpid(), i);
	}
	if (!inputs)
		bench_die("%s", "out of memory");
	t0 = bench_now_s();
	if (ecl_batch_drive(e, wf, (const char *const *)inputs, (size_t)n, conc, on_end, NULL) !=
		    ECL_OK ||
	    failed || ended != n)
		bench_die("the batch failed: %s", ecl_engine_errmsg(e));
	wall = bench_now_s() - t0;
	for (i = 0; i < n; i++)
		free(inputs[i]);
	free(inputs);
	ecl_engine_close(e);
	return wall;
}

static long long sql_int(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

typedef struct result {
	double wall_s, cpu_s, rss_kb, bytes;
} result;

static double file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (double)st.st_size : 0.0;
}

static const char *pg; /* --pg: the PostgreSQL server, or NULL for a SQLite file */

/* The number a query of the repetition's database gives. */
static long long count_of(const char *db, const char *pgname, const char *sql)
{
	long long v = -1;

	if (pg) {
		char *text = bench_pg_sql(pgname, sql);

		v = text ? atoll(text) : -1;
		free(text);
	} else {
		sqlite3 *h;

		if (sqlite3_open(db, &h) != SQLITE_OK)
			bench_die("cannot open %s", db);
		v = sql_int(h, sql);
		sqlite3_close(h);
	}
	return v;
}

static result one_rep(const char *server, const char *dir, int latency, long n, int conc)
{
	char db[4096], side[4200], pgname[64] = "";
	int fds[2], status, port;
	struct rusage ru;
	result r = {0};
	pid_t srv = server_start(server, dir, latency, &port), pid;

	if (pg) {
		bench_pg_fresh_db("b", pgname, sizeof(pgname), db, sizeof(db));
		side[0] = '\0';
	} else {
		snprintf(db, sizeof(db), "%s/bench-batch-%ld.db", dir, (long)getpid());
		snprintf(side, sizeof(side), "%s-wal", db);
		remove(db);
		remove(side);
	}
	if (pipe(fds) != 0)
		bench_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		double wall = run_batch(db, port, n, conc);

		if (write(fds[1], &wall, sizeof(wall)) != (ssize_t)sizeof(wall))
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &r.wall_s, sizeof(r.wall_s)) != (ssize_t)sizeof(r.wall_s))
		r.wall_s = -1;
	close(fds[0]);
	if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("%s", "a repetition failed");
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	r.rss_kb = (double)ru.ru_maxrss;
	r.cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	r.bytes = pg ? bench_pg_bytes_per_workflow(pgname, n)
		     : (file_size(db) + file_size(side)) / (double)n;
	if (count_of(db, pgname,
		     pg ? "SELECT count(*) FROM ecl.runs WHERE status = 'completed' AND seq = 6 "
			  "AND output LIKE '%\"quality_score\":90%'"
			: "SELECT count(*) FROM runs WHERE status = 'completed' AND seq = 6 AND "
			  "output LIKE '%\"quality_score\":90%'") != n ||
	    count_of(db, pgname,
		     pg ? "SELECT count(*) FROM ecl.steps WHERE step = 'revise'"
			: "SELECT count(*) FROM steps WHERE step = 'revise'") != 2 * n)
		bench_die("%s",
			  "a workflow did not end with 6 steps, 2 revisions and the critic's 90");
	if (pg) {
		bench_pg_drop_db(pgname);
	} else {
		remove(db);
		remove(side);
	}
	return r;
}

static double floor_rep(const char *server, const char *floor, const char *dir, int latency, long n,
			int conc)
{
	char cmd[8192];
	int port;
	pid_t srv = server_start(server, dir, latency, &port);
	FILE *p;
	double wall = -1;

	snprintf(cmd, sizeof(cmd),
		 "%s --url http://127.0.0.1:%d/v1/chat/completions --n %ld --concurrency %d", floor,
		 port, n, conc);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "{\"wall_s\": %lf", &wall) != 1)
		bench_die("%s", "the HTTP floor failed");
	pclose(p);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	return wall;
}

int main(int argc, char **argv)
{
	const char *variant = "B", *server = NULL, *floor = NULL, *dir = "/tmp";
	long n = 200;
	int conc = 50, latency = 20, reps = 3, i;
	double wall[16], cpu[16], rss[16], bytes[16], fl[16], base_rss, ideal;
	result one;

	bench_name = "batch_bench";
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--variant"))
			variant = argv[i + 1];
		else if (!strcmp(argv[i], "--n"))
			n = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--concurrency"))
			conc = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--latency-ms"))
			latency = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--server"))
			server = argv[i + 1];
		else if (!strcmp(argv[i], "--floor"))
			floor = argv[i + 1];
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--pg"))
			bench_pg_server(pg = argv[i + 1]);
		else
			bench_die("unknown argument %s", argv[i]);
	}
	if (!server || !floor || n < 1 || conc < 1 || reps < 1 || reps > 15)
		bench_die("%s",
			  "usage: batch_bench --variant NAME --n N --concurrency C --latency-ms MS "
			  "--server PATH --floor PATH [--reps R] [--dir DIR] [--pg URL]");
	for (i = 0; i < reps; i++) {
		result r = one_rep(server, dir, latency, n, conc);

		wall[i] = r.wall_s;
		cpu[i] = r.cpu_s;
		rss[i] = r.rss_kb;
		bytes[i] = r.bytes;
		fl[i] = floor_rep(server, floor, dir, latency, n, conc);
	}
	/* The same batch one at a time: the memory that is not per run in flight. The same
	 * workflows, since the inputs and SQLite's page cache grow with them; answered at once,
	 * since the latency changes the time, not the memory. */
	one = one_rep(server, dir, 0, n, 1);
	base_rss = one.rss_kb;
	ideal = 6.0 * latency / 1000.0 * (double)n / (double)conc;
	printf("{\"system\":\"ecl\",\"variant\":\"%s%s\",\"n\":%ld,\"concurrency\":%d,"
	       "\"wall_s\":%.4f,\"workflows_per_s\":%.1f,\"mean_us_per_step\":%.2f,"
	       "\"peak_rss_kb\":%.0f,\"bytes_per_workflow\":%.0f,\"cpu_s\":%.3f,"
	       "\"latency_ms\":%d,\"ideal_wall_s\":%.4f,\"wall_over_ideal\":%.3f,"
	       "\"bytes_per_inflight_run\":%.0f,\"http_floor_wall_s\":%.4f,"
	       "\"floor_over_ideal\":%.3f,\"ratio_to_floor\":%.3f}\n",
	       variant, pg ? "-postgres" : "", n, conc, bench_median(wall, reps),
	       (double)n / bench_median(wall, reps),
	       bench_median(wall, reps) / (double)(n * 6) * 1e6, bench_median(rss, reps),
	       bench_median(bytes, reps), bench_median(cpu, reps), latency, ideal,
	       bench_median(wall, reps) / ideal,
	       (bench_median(rss, reps) - base_rss) * 1024.0 / conc, bench_median(fl, reps),
	       bench_median(fl, reps) / ideal, bench_median(wall, reps) / bench_median(fl, reps));
	return 0;
}
