/*
 * bench.c - the anchor workload (bench/README.md) run on ecl, one JSON line per variant.
 *
 *   ecl_bench a --durability full|normal [--n 2000] [--warmup 20] [--reps 3] [--dir DIR]
 *       variant A: the in-process fake LLM, workflows one at a time, a checkpoint per
 *       transition; and beside it the floor: raw SQLite, one transaction per transition with
 *       the same rows and the same durability, no workflow engine.
 *
 *   ecl_bench stats [--n 100000] [--reps 5] [--dir DIR]
 *       ecl stats (ecl_stats) on a database of n finished variant A workflows, beside the
 *       floor: one SQLite scan that reads every checkpoint's duration once.
 *
 * Each repetition runs in a fresh child process, so its peak RSS and CPU time are its own
 * (from wait4, as /usr/bin/time -v reports them); the figures printed are the medians. Every
 * workflow's result is checked (6 steps, completed, 2 revisions, the critic's 90); a
 * mismatch aborts the benchmark.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ecl.h"
#include "util.h"
#include "variant_a.h"

typedef struct result {
	double wall_s;
	double bytes;
	double answer_bytes; /* of the answers stored, per workflow */
	double cpu_s;
	double rss_kb;
} result;

/* ---- the floor: the same rows, raw SQLite --------------------------------------------------- */

static void exec(sqlite3 *h, const char *sql)
{
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		bench_die("sqlite: %s", sqlite3_errmsg(h));
}

static double floor_sqlite(const char *db, ecl_durability durability, long n, long warmup)
{
	static const char *const steps[6] = {"generate", "critique", "revise",
					     "critique", "revise",   "critique"};
	static const char out_gen[] =
		"{\"content\":\"Draft v0 on durable workflows in C: This draft explains the topic "
		"in "
		"plain words, states one clear claim, gives two short supporting points, names one "
		"limitation, and ends with a practical next step for the "
		"reader.\",\"word_count\":38}";
	static const char out_crit[] = "{\"decision\":\"revise\",\"feedback\":\"Critique 1: add a "
				       "concrete example and tighten the second point.\","
				       "\"quality_score\":40}";
	static const char out_rev[] =
		"{\"content\":\"Draft v1: This draft explains the topic in plain words, states one "
		"clear claim, gives two short supporting points, names one limitation, and ends "
		"with a "
		"practical next step for the reader. Addressed: Critique 1: add a concrete example "
		"and "
		"tighten the second point.\",\"word_count\":44}";
	sqlite3 *h;
	sqlite3_stmt *ins_run, *ins_step, *upd;
	double t0 = 0;
	long i;
	int k;

	if (sqlite3_open(db, &h) != SQLITE_OK)
		bench_die("cannot open %s", db);
	exec(h, "PRAGMA journal_mode = WAL");
	exec(h, durability == ECL_DURABLE_FULL ? "PRAGMA synchronous = FULL"
					       : "PRAGMA synchronous = NORMAL");
	exec(h,
	     "CREATE TABLE runs(id TEXT PRIMARY KEY, workflow TEXT, version TEXT, status TEXT, "
	     "step TEXT, seq INTEGER, attempt INTEGER, inputs TEXT, output TEXT, error TEXT, "
	     "created_ms INTEGER, updated_ms INTEGER, owner TEXT, lease_until_ms INTEGER) WITHOUT "
	     "ROWID;"
	     "CREATE TABLE steps(run_id TEXT, seq INTEGER, step TEXT, attempt INTEGER, next TEXT, "
	     "output TEXT, raw TEXT, vars TEXT, tokens_in INTEGER, tokens_out INTEGER, started_ms "
	     "INTEGER, duration_us INTEGER, PRIMARY KEY(run_id, seq)) WITHOUT ROWID;");
	if (sqlite3_prepare_v2(h,
			       "INSERT INTO runs VALUES(?1, 'bench-critique-revise', "
			       "'0123456789abcdef', 'running', 'generate', 0, 1, ?2, NULL, NULL, "
			       "?3, ?3, 'owner', ?3)",
			       -1, &ins_run, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h,
			       "INSERT INTO steps VALUES(?1, ?2, ?3, 1, ?4, ?5, NULL, ?6, 0, 0, "
			       "?7, 10)",
			       -1, &ins_step, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h,
			       "UPDATE runs SET status = ?2, step = ?3, seq = ?4, output = ?5, "
			       "updated_ms = ?6, lease_until_ms = ?6 WHERE id = ?1",
			       -1, &upd, NULL) != SQLITE_OK)
		bench_die("sqlite: %s", sqlite3_errmsg(h));
	for (i = -warmup; i < n; i++) {
		char id[32];
		long long ms = (long long)time(NULL) * 1000;

		if (i == 0)
			t0 = bench_now_s();
		snprintf(id, sizeof(id), "%012lx", (unsigned long)(i + warmup) * 2654435761UL);
		exec(h, "BEGIN");
		sqlite3_bind_text(ins_run, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins_run, 2,
				  "{\"wf\":\"eclF-1-2-w3\",\"topic\":\"durable workflows "
				  "in C\"}",
				  -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins_run, 3, ms);
		if (sqlite3_step(ins_run) != SQLITE_DONE)
			bench_die("sqlite: %s", sqlite3_errmsg(h));
		sqlite3_reset(ins_run);
		exec(h, "COMMIT");
		for (k = 0; k < 6; k++) {
			const char *out = k == 0 ? out_gen : k % 2 ? out_crit : out_rev;

			exec(h, "BEGIN");
			sqlite3_bind_text(ins_step, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_int(ins_step, 2, k + 1);
			sqlite3_bind_text(ins_step, 3, steps[k], -1, SQLITE_STATIC);
			sqlite3_bind_null(ins_step, 4); /* next is derived, as in ecl's store */
			sqlite3_bind_text(ins_step, 5, out, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins_step, 6, k % 2 ? "{\"revisions\":1}" : out, -1,
					  SQLITE_STATIC);
			sqlite3_bind_int64(ins_step, 7, ms);
			if (sqlite3_step(ins_step) != SQLITE_DONE)
				bench_die("sqlite: %s", sqlite3_errmsg(h));
			sqlite3_reset(ins_step);
			sqlite3_bind_text(upd, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(upd, 2, k < 5 ? "running" : "completed", -1,
					  SQLITE_STATIC);
			sqlite3_bind_text(upd, 3, k < 5 ? steps[k + 1] : NULL, -1, SQLITE_STATIC);
			sqlite3_bind_int(upd, 4, k + 1);
			sqlite3_bind_text(upd, 5, k < 5 ? NULL : out, -1, SQLITE_STATIC);
			sqlite3_bind_int64(upd, 6, ms);
			if (sqlite3_step(upd) != SQLITE_DONE)
				bench_die("sqlite: %s", sqlite3_errmsg(h));
			sqlite3_reset(upd);
			exec(h, "COMMIT");
		}
	}
	sqlite3_finalize(ins_run);
	sqlite3_finalize(ins_step);
	sqlite3_finalize(upd);
	sqlite3_close(h);
	return bench_now_s() - t0;
}

/* ---- repetitions in child processes ------------------------------------------------------- */

static double file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (double)st.st_size : 0.0;
}

static result one_rep(const char *dir, int floor, ecl_durability d, long n, long warmup)
{
	char db[4096];
	int fds[2], status;
	struct rusage ru;
	result r = {0};
	pid_t pid;

	snprintf(db, sizeof(db), "%s/bench-%s-%ld.db", dir, floor ? "floor" : "ecl",
		 (long)getpid());
	remove(db);
	if (pipe(fds) != 0)
		bench_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		double wall =
			floor ? floor_sqlite(db, d, n, warmup) : bench_variant_a(db, d, n, warmup);

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
	r.rss_kb = (double)ru.ru_maxrss;
	r.cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	r.bytes = (file_size(db) + 0.0) / (double)(n + warmup);
	if (!floor) {
		sqlite3 *h;
		sqlite3_stmt *st;

		if (sqlite3_open(db, &h) == SQLITE_OK &&
		    sqlite3_prepare_v2(
			    h, "SELECT sum(coalesce(length(raw), length(output))) FROM steps", -1,
			    &st, NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				r.answer_bytes =
					sqlite3_column_double(st, 0) / (double)(n + warmup);
			sqlite3_finalize(st);
		}
		sqlite3_close(h);
	}
	{
		char side[4200];

		snprintf(side, sizeof(side), "%s-wal", db);
		r.bytes += file_size(side) / (double)(n + warmup);
	}
	remove(db);
	return r;
}

static result medians(const char *dir, int floor, ecl_durability d, long n, long warmup, int reps)
{
	double wall[16], bytes[16], cpu[16], rss[16], ans[16];
	result m;
	int i;

	for (i = 0; i < reps; i++) {
		result r = one_rep(dir, floor, d, n, warmup);

		wall[i] = r.wall_s;
		bytes[i] = r.bytes;
		cpu[i] = r.cpu_s;
		rss[i] = r.rss_kb;
		ans[i] = r.answer_bytes;
	}
	m.answer_bytes = bench_median(ans, reps);
	m.wall_s = bench_median(wall, reps);
	m.bytes = bench_median(bytes, reps);
	m.cpu_s = bench_median(cpu, reps);
	m.rss_kb = bench_median(rss, reps);
	return m;
}

static int no_stats(void *ctx, const ecl_workflow_stats *s)
{
	*(long long *)ctx += s->runs + s->steps.n;
	return 0;
}

/* ecl_stats on a database of n workflows, beside one scan of its checkpoints. */
static void stats_bench(const char *dir, long n, int reps)
{
	char db[4200], err[256];
	double t[16], fl[16], t0;
	ecl_options o = {0};
	ecl_engine *e;
	sqlite3 *h;
	long long seen = 0;
	int i;

	snprintf(db, sizeof(db), "%s/bench-stats-%ld.db", dir, (long)getpid());
	remove(db);
	bench_variant_a(db, ECL_DURABLE_NORMAL, n, 0);
	o.db_path = db;
	o.read_only = 1;
	o.workflows = ecl_workflows;
	o.nworkflows = ecl_nworkflows;
	if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
		bench_die("%s", err);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		bench_die("cannot open %s", db);
	for (i = 0; i < reps; i++) {
		t0 = bench_now_s();
		if (ecl_stats(e, NULL, 0, no_stats, &seen) != ECL_OK)
			bench_die("ecl_stats: %s", ecl_engine_errmsg(e));
		t[i] = bench_now_s() - t0;
		t0 = bench_now_s();
		exec(h, "SELECT count(*), sum(duration_us) FROM steps");
		fl[i] = bench_now_s() - t0;
	}
	if (seen != (long long)reps * n * 7)
		bench_die("%s", "ecl_stats did not count every run and checkpoint");
	sqlite3_close(h);
	ecl_engine_close(e);
	printf("{\"system\":\"ecl\",\"variant\":\"stats\",\"runs_in_db\":%ld,\"reps\":%d,"
	       "\"wall_ms\":%.1f,\"floor_scan_ms\":%.1f,\"ratio_to_floor\":%.2f}\n",
	       n, reps, bench_median(t, reps) * 1e3, bench_median(fl, reps) * 1e3,
	       bench_median(t, reps) / bench_median(fl, reps));
	remove(db);
	snprintf(db + strlen(db), sizeof(db) - strlen(db), "-wal");
	remove(db);
}

int main(int argc, char **argv)
{
	ecl_durability d = ECL_DURABLE_FULL;
	const char *dir = "/tmp", *variant = argc > 1 ? argv[1] : "";
	long n = 2000, warmup = 20;
	int reps = 3, n_given = 0, i;
	result a, f;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--durability") && i + 1 < argc)
			d = !strcmp(argv[++i], "normal") ? ECL_DURABLE_NORMAL : ECL_DURABLE_FULL;
		else if (!strcmp(argv[i], "--n") && i + 1 < argc)
			n = atol(argv[++i]), n_given = 1;
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
			warmup = atol(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else
			bench_die("unknown argument %s", argv[i]);
	}
	if (!strcmp(variant, "stats") && n >= 1 && reps >= 1 && reps <= 15) {
		stats_bench(dir, n_given ? n : 100000, reps);
		return 0;
	}
	if (strcmp(variant, "a") != 0 || n < 1 || reps < 1 || reps > 15)
		bench_die("%s", "usage: ecl_bench a --durability full|normal [--n N] [--warmup N] "
				"[--reps N] [--dir DIR] | stats [--n N] [--reps N] [--dir DIR]");
	if (getenv("ECL_BENCH_INLINE")) { /* one repetition in this process, for profilers */
		char db[4200];
		int fl = !strcmp(getenv("ECL_BENCH_INLINE"), "floor");

		snprintf(db, sizeof(db), "%s/bench-inline.db", dir);
		remove(db);
		printf("%.4f\n",
		       fl ? floor_sqlite(db, d, n, warmup) : bench_variant_a(db, d, n, warmup));
		return 0;
	}
	a = medians(dir, 0, d, n, warmup, reps);
	f = medians(dir, 1, d, n, warmup, reps);
	printf("{\"system\":\"ecl\",\"variant\":\"A-%s\",\"n\":%ld,\"concurrency\":1,"
	       "\"wall_s\":%.4f,\"workflows_per_s\":%.1f,\"mean_us_per_step\":%.2f,"
	       "\"peak_rss_kb\":%.0f,\"bytes_per_workflow\":%.0f,\"cpu_s\":%.3f,"
	       "\"floor_wall_s\":%.4f,\"floor_us_per_step\":%.2f,\"ratio_to_floor\":%.3f,"
	       "\"bytes_per_step\":%.0f,\"overhead_bytes_per_step\":%.0f}\n",
	       d == ECL_DURABLE_FULL ? "full" : "normal", n, a.wall_s, (double)n / a.wall_s,
	       a.wall_s / (double)(n * 6) * 1e6, a.rss_kb, a.bytes, a.cpu_s, f.wall_s,
	       f.wall_s / (double)(n * 6) * 1e6, a.wall_s / f.wall_s, a.bytes / 6.0,
	       (a.bytes - a.answer_bytes) / 6.0);
	printf("{\"system\":\"sqlite-floor\",\"variant\":\"A-%s\",\"n\":%ld,\"concurrency\":1,"
	       "\"wall_s\":%.4f,\"workflows_per_s\":%.1f,\"mean_us_per_step\":%.2f,"
	       "\"peak_rss_kb\":%.0f,\"bytes_per_workflow\":%.0f,\"cpu_s\":%.3f}\n",
	       d == ECL_DURABLE_FULL ? "full" : "normal", n, f.wall_s, (double)n / f.wall_s,
	       f.wall_s / (double)(n * 6) * 1e6, f.rss_kb, f.bytes, f.cpu_s);
	return 0;
}
