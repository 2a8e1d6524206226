/*
 * pg_bench.c - the anchor workload (bench/README.md) on PostgreSQL, one JSON line per figure.
 *
 *   ecl_pg_bench a --server URL [--n 500] [--warmup 20] [--reps 3]
 *       variant A on PostgreSQL: the in-process fake LLM, workflows one at a time, a
 *       checkpoint per transition; beside it the floor, pgbench doing one transaction per
 *       transition (insert a step row, update the run row, prepared) with one client.
 *   ecl_pg_bench q --server URL [--n 2000] [--workers 1,2,4] [--concurrency 10] [--reps 1]
 *       variant Q: n workflows queued at once, then drained by W `ecl_worker` processes, each
 *       driving up to 10 at a time with the in-process fake LLM; timed from the first
 *       enqueue to the last completion; beside it pgbench with W clients.
 *
 * URL is a server without a database (postgres://user@host:port); every repetition gets a
 * fresh database, dropped after it (kept, to look at its tables, when ECL_BENCH_KEEP_DB is
 * set). Every workflow's result is checked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ecl.h"
#include "pg_util.h"
#include "util.h"
#include "variant_a.h"

static const char *server;

/* ---- the floor: pgbench, one transaction per transition ------------------------------------ */

/* pgbench with `clients` clients doing `per_client` transitions each; transitions per second. */
static double floor_tps(int clients, long per_client)
{
	char name[64], url[600], script[128], cmd[1200], line[512];
	double tps = -1;
	FILE *f;

	bench_pg_fresh_db("floor", name, sizeof(name), url, sizeof(url));
	free(bench_pg_sql(name,
			  "CREATE TABLE runs(id bigint PRIMARY KEY, seq int, updated_ms bigint);"
			  "CREATE TABLE steps(run_id bigint, seq int, step text, output text,"
			  " PRIMARY KEY(run_id, seq));"
			  "INSERT INTO runs SELECT g, 0, 0 FROM generate_series(0, 99) g"));
	snprintf(script, sizeof(script), "/tmp/ecl-pg-floor-%ld.sql", (long)getpid());
	if (!(f = fopen(script, "w")))
		bench_die("cannot write %s", script);
	fputs("\\set r random(1, 1000000000)\n"
	      "BEGIN;\n"
	      "INSERT INTO steps VALUES (:r, :client_id, 'critique',"
	      " '{\"decision\":\"revise\",\"feedback\":\"more\",\"quality_score\":40}');\n"
	      "UPDATE runs SET seq = seq + 1, updated_ms = :r WHERE id = :client_id;\n"
	      "END;\n",
	      f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "pgbench -n -M prepared -c %d -j %d -t %ld -f %s '%s' 2>&1",
		 clients, clients, per_client, script, url);
	if (!(f = popen(cmd, "r")))
		bench_die("cannot run %s", cmd);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "tps = ", 6))
			tps = atof(line + 6);
	if (pclose(f) != 0 || tps <= 0)
		bench_die("pgbench failed: %s", cmd);
	remove(script);
	bench_pg_drop_db(name);
	return tps;
}

/* ---- variant A ------------------------------------------------------------------------------ */

static void variant_a(long n, long warmup, int reps)
{
	double us[16], floor_tx[16];
	int i;

	for (i = 0; i < reps; i++) {
		char name[64], url[600];
		int fds[2], status;
		double wall = -1;
		pid_t pid;

		bench_pg_fresh_db("a", name, sizeof(name), url, sizeof(url));
		if (pipe(fds) != 0)
			bench_die("pipe: %s", strerror(errno));
		if ((pid = fork()) == 0) {
			wall = bench_variant_a(url, ECL_DURABLE_FULL, n, warmup);
			_exit(write(fds[1], &wall, sizeof(wall)) == (ssize_t)sizeof(wall) ? 0 : 3);
		}
		close(fds[1]);
		if (read(fds[0], &wall, sizeof(wall)) != (ssize_t)sizeof(wall) ||
		    waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bench_die("%s", "a repetition failed");
		close(fds[0]);
		us[i] = wall * 1e6 / (double)(n * 6);
		if (i == 0)
			printf("{\"system\":\"ecl\",\"variant\":\"A-postgres\",\"n\":%ld,"
			       "\"bytes_per_workflow\":%.0f}\n",
			       n, bench_pg_bytes_per_workflow(name, n + warmup));
		bench_pg_drop_db(name);
		floor_tx[i] = 1e6 / floor_tps(1, n * 6);
	}
	printf("{\"system\":\"ecl\",\"variant\":\"A-postgres\",\"n\":%ld,\"us_per_step\":%.1f,"
	       "\"floor_us_per_transition\":%.1f,\"ratio_to_floor\":%.3f}\n",
	       n, bench_median(us, reps), bench_median(floor_tx, reps),
	       bench_median(us, reps) / bench_median(floor_tx, reps));
}

/* ---- variant Q ------------------------------------------------------------------------------ */

typedef struct tally {
	long completed, other;
} tally;

static int on_end(void *ctx, const ecl_batch_end *end)
{
	tally *t = ctx;

	if (!strcmp(end->status, "completed"))
		t->completed++;
	else
		t->other++;
	return 0;
}

/* One worker process: drain the queue of url; exits 0 when every run it took completed. */
static void worker(const char *url, int concurrency)
{
	ecl_worker_options w = {0};
	ecl_options o = {0};
	ecl_engine *e;
	tally t = {0};
	char err[512];

	o.db_path = url;
	o.provider = "fake";
	o.workflows = ecl_workflows;
	o.nworkflows = ecl_nworkflows;
	if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
		bench_die("%s", err);
	w.concurrency = concurrency;
	w.exit_when_idle = 1;
	w.poll_ms = 20;
	w.on_end = on_end;
	w.ctx = &t;
	if (ecl_worker(e, &w) != ECL_OK)
		bench_die("worker: %s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	if (t.other)
		bench_die("%s", "a run did not complete");
	_exit(0);
}

static void variant_q(long n, int workers, int concurrency)
{
	const ecl_workflow *wf =
		ecl_workflow_find(ecl_workflows, ecl_nworkflows, "bench-critique-revise");
	char name[64], url[600], inputs[200], id[ECL_ID_MAX], err[512], *v;
	ecl_options o = {0};
	pid_t pids[64];
	ecl_engine *e;
	double t0, wall, rss_kb = 0, cpu_s = 0;
	long i;
	int w;

	bench_pg_fresh_db("q", name, sizeof(name), url, sizeof(url));
	o.db_path = url;
	o.provider = "fake";
	o.workflows = ecl_workflows;
	o.nworkflows = ecl_nworkflows;
	if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
		bench_die("%s", err);
	t0 = bench_now_s();
	for (i = 0; i < n; i++) {
		snprintf(inputs, sizeof(inputs),
			 "{\"wf\": \"eclQ-%ld\", \"topic\": \"durable workflows in C\"}", i);
		if (ecl_run_enqueue(e, wf, inputs, id) != ECL_OK)
			bench_die("cannot enqueue: %s", ecl_engine_errmsg(e));
	}
	ecl_engine_close(e);
	for (w = 0; w < workers; w++)
		if ((pids[w] = fork()) == 0)
			worker(url, concurrency);
	for (w = 0; w < workers; w++) {
		struct rusage ru;
		int status;

		if (wait4(pids[w], &status, 0, &ru) != pids[w] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bench_die("%s", "a worker failed");
		rss_kb += (double)ru.ru_maxrss;
		cpu_s += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	}
	wall = bench_now_s() - t0;
	v = bench_pg_sql(name,
			 "SELECT count(*) FROM ecl.runs WHERE status = 'completed' AND seq = 6");
	if (!v || atol(v) != n)
		bench_die("only %s runs completed with 6 checkpoints", v ? v : "?");
	free(v);
	printf("{\"system\":\"ecl\",\"variant\":\"Q-postgres\",\"n\":%ld,\"workers\":%d,"
	       "\"concurrency\":%d,\"wall_s\":%.3f,\"workflows_per_s\":%.1f,\"steps_per_s\":%.1f,"
	       "\"peak_rss_kib_all_workers\":%.0f,\"worker_cpu_s\":%.2f,"
	       "\"bytes_per_workflow\":%.0f,\"floor_tps\":%.1f}\n",
	       n, workers, concurrency, wall, (double)n / wall, (double)n * 6 / wall, rss_kb, cpu_s,
	       bench_pg_bytes_per_workflow(name, n), floor_tps(workers, n * 6 / workers));
	fflush(stdout);
	bench_pg_drop_db(name);
}

int main(int argc, char **argv)
{
	const char *variant = argc > 1 ? argv[1] : "", *workers = "1,2,4";
	long n = 0, warmup = 20;
	int reps = 3, concurrency = 10, i;

	bench_name = "ecl_pg_bench";
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--server") && i + 1 < argc)
			bench_pg_server(server = argv[++i]);
		else if (!strcmp(argv[i], "--n") && i + 1 < argc)
			n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
			warmup = atol(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
			workers = argv[++i];
		else if (!strcmp(argv[i], "--concurrency") && i + 1 < argc)
			concurrency = atoi(argv[++i]);
		else
			bench_die("unknown argument %s", argv[i]);
	}
	if (!server || (strcmp(variant, "a") && strcmp(variant, "q")) || reps < 1 || reps > 16)
		bench_die("%s", "usage: ecl_pg_bench a|q --server postgres://USER@HOST:PORT "
				"[--n N] [--reps N] [--workers 1,2,4] [--concurrency N]");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(variant, "a")) {
		variant_a(n ? n : 500, warmup, reps);
	} else {
		char *list = strdup(workers), *save = NULL, *w;

		for (w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save))
			variant_q(n ? n : 2000, atoi(w), concurrency);
		free(list);
	}
	return 0;
}
