/*
 * startup.c - how long the commands people type by hand take, from exec to exit:
 * `ecl list` and `ecl status <id>` on a database holding 1,000 finished runs, and `eclc`
 * compiling a chain of N LLM steps for N = 250, 500, 1,000 and 2,000 (linear growth shows as a
 * constant time per step). One JSON line per measurement, the median of many runs, beside
 * the floor: /bin/true, the cost of fork and exec alone on this machine.
 *
 *   ecl_startup BUILD_DIR [--reps N] [--dir DIR]
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ecl_startup: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_ms(void)
{
	return bench_now_s() * 1e3;
}

/* Run argv with stdout and stderr discarded; returns the wall time in ms. A failing command
 * aborts the benchmark. */
static double timed(char *const argv[])
{
	double t0;
	int status;
	pid_t pid;

	fflush(stdout); /* or the child's freopen would write it out a second time */
	t0 = now_ms();
	pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s %s failed (status %d)", argv[0], argv[1], status);
	return now_ms() - t0;
}

static double median_ms(char *const argv[], int reps)
{
	double *t = malloc(sizeof(*t) * (size_t)reps), m;
	int i;

	if (!t)
		die("out of memory");
	timed(argv); /* warm the page cache */
	for (i = 0; i < reps; i++)
		t[i] = timed(argv);
	m = bench_median(t, reps);
	free(t);
	return m;
}

/* A workflow of n LLM steps in a chain, the last one finishing the run. */
static void write_chain(const char *path, int n)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "workflow chain {\n  input topic: string\n  var text: string\n");
	for (i = 0; i < n; i++) {
		fprintf(f,
			"  llm s%d {\n    prompt \"Step %d on {{topic}}: improve {{text}}\"\n"
			"    output {\n      text: string\n      score: int 0..100\n    }\n"
			"    set text = s%d.text\n",
			i, i, i);
		if (i + 1 < n)
			fprintf(f, "    when s%d.score > 50 -> s%d\n    else -> s%d\n  }\n", i,
				i + 1, i + 1);
		else
			fprintf(f, "    -> done text\n  }\n");
	}
	fputs("}\n", f);
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	char ecl[4096], eclc[4096], db[4096], src[4200], out[4096], id[64] = "";
	const char *build, *dir = "/tmp";
	int reps = 51, i, sizes[] = {250, 500, 1000, 2000};
	FILE *p;

	if (argc < 2)
		die("usage: ecl_startup BUILD_DIR [--reps N] [--dir DIR]");
	build = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else
			die("unknown argument %s", argv[i]);
	}
	if (reps < 1)
		die("--reps must be at least 1");
	snprintf(ecl, sizeof(ecl), "%s/ecl", build);
	snprintf(eclc, sizeof(eclc), "%s/eclc", build);
	snprintf(db, sizeof(db), "%s/ecl-startup-%d.db", dir, (int)getpid());

	/* 1,000 finished runs, so that listing and status read a database of some size */
	for (i = 0; i < 1000; i++) {
		char *const run[] = {
			ecl,       "--db", db,  "--durability", "normal", "run", "critique-revise",
			"--topic", "tea",  NULL};

		timed(run);
	}
	{
		char cmd[8400];

		snprintf(cmd, sizeof(cmd), "'%s' --db '%s' runs --limit 1 -o json", ecl, db);
		size_t n;
		const char *at;

		if (!(p = popen(cmd, "r")))
			die("cannot list the runs of %s", db);
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		pclose(p);
		at = strstr(out, "\"id\"");
		if (!at || sscanf(at, "\"id\": \"%63[0-9a-f]", id) != 1)
			die("no run id in: %s", out);
	}
	{
		char *const list[] = {ecl, "list", NULL};
		char *const status[] = {ecl, "--db", db, "status", id, NULL};
		char *const floor[] = {"/bin/true", "floor", NULL};

		printf("{\"system\":\"exec\",\"variant\":\"floor\",\"reps\":%d,\"wall_ms\":%.3f}\n",
		       reps, median_ms(floor, reps));
		printf("{\"system\":\"ecl\",\"variant\":\"list\",\"runs_in_db\":1000,\"reps\":%d,"
		       "\"wall_ms\":%.3f}\n",
		       reps, median_ms(list, reps));
		printf("{\"system\":\"ecl\",\"variant\":\"status\",\"runs_in_db\":1000,\"reps\":%d,"
		       "\"wall_ms\":%.3f}\n",
		       reps, median_ms(status, reps));
	}
	for (i = 0; i < (int)(sizeof(sizes) / sizeof(sizes[0])); i++) {
		char *const compile[] = {eclc, "--out-dir", out, src, NULL};
		double ms;

		snprintf(src, sizeof(src), "%s/chain_%d.ecl", dir, sizes[i]);
		snprintf(out, sizeof(out), "%s", dir);
		write_chain(src, sizes[i]);
		ms = median_ms(compile, reps < 11 ? reps : 11);
		printf("{\"system\":\"eclc\",\"variant\":\"compile\",\"steps\":%d,\"wall_ms\":%.3f,"
		       "\"us_per_step\":%.2f}\n",
		       sizes[i], ms, ms * 1e3 / sizes[i]);
		remove(src);
		snprintf(src, sizeof(src), "%s/chain_%d.c", dir, sizes[i]);
		remove(src);
	}
	remove(db);
	snprintf(src, sizeof(src), "%s-wal", db);
	remove(src);
	snprintf(src, sizeof(src), "%s-shm", db);
	remove(src);
	return 0;
}
