/*
 * cli.c - the ecl command as the end-to-end tests run it, on SQLite or PostgreSQL alike: a
 * command on a database, a run or a worker in the background, the id a run prints, a script
 * for the scripted provider, and `ecl workers` waited on.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

int ts_ecl(const char *db, char **out, char **err, const char *const *args)
{
	const char *argv[48] = {ECL_BIN, "--db", db};
	int n = 3, i;

	for (i = 0; args[i]; i++) {
		cr_assert_lt(n, 47, "too many arguments");
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return ts_run(argv, out, err);
}

const char *ts_started_id(const char *out)
{
	static char id[64];

	cr_assert(strncmp(out, "Workflow started: ", 18) == 0, "first line: %s", out);
	sscanf(out + 18, "%63s", id);
	return id;
}

const char *ts_script(const char *dir, const char *text)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/script.json", dir);
	ts_write(path, text);
	return path;
}

void ts_wait_for_line(const char *path, const char *needle)
{
	int i;

	for (i = 0; i < 1000 && ts_count_lines(path, needle) == 0; i++) {
		struct timespec ts = {0, 5000000};

		nanosleep(&ts, NULL);
	}
	cr_assert_gt(ts_count_lines(path, needle), 0, "no `%s` in %s", needle, path);
}

pid_t ts_spawn(const char *const *argv, const char *out_path)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* one open file for both, so that neither writes over the other's lines */
		if (!freopen(out_path, "w", stdout) || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

pid_t ts_ecl_background(const char *db, const char *dir, const char *script_text, const char *log)
{
	static char spath[4200];
	const char *argv[] = {ECL_BIN,           "--db",    db,           "--provider", "scripted",
			      "--script",        spath,     "--call-log", log,          "run",
			      "critique-revise", "--topic", "bg",         NULL};

	snprintf(spath, sizeof(spath), "%s", ts_script(dir, script_text));
	return ts_spawn(argv, ts_path(dir, "bg.out"));
}

/* `ecl workers -o json` on db, parsed (the test fails unless it is a list). */
static cJSON *workers(const char *db)
{
	const char *args[] = {"workers", "-o", "json", NULL};
	char *out, *err;
	cJSON *json;

	cr_assert_eq(ts_ecl(db, &out, &err, args), 0, "%s%s", out, err);
	json = cJSON_Parse(out);
	cr_assert(cJSON_IsArray(json), "%s", out);
	free(out);
	free(err);
	return json;
}

struct cJSON *ts_worker_of(struct cJSON *list, pid_t pid)
{
	cJSON *w;

	cJSON_ArrayForEach (w, list)
		if (cJSON_GetNumberValue(cJSON_GetObjectItem(w, "pid")) == (double)pid)
			return w;
	return NULL;
}

struct cJSON *ts_workers_wait(const char *db, int n, pid_t pid, const char *state, int min_held)
{
	cJSON *list = NULL;
	int i;

	for (i = 0; i < 300; i++) {
		struct timespec ts = {0, 50000000};
		cJSON *w, *s;

		cJSON_Delete(list);
		list = workers(db);
		w = pid ? ts_worker_of(list, pid) : NULL;
		s = cJSON_GetObjectItem(w, "state");
		if (cJSON_GetArraySize(list) == n &&
		    (!pid || (cJSON_IsString(s) && strcmp(s->valuestring, state) == 0 &&
			      cJSON_GetNumberValue(cJSON_GetObjectItem(w, "held")) >= min_held)))
			return list;
		nanosleep(&ts, NULL);
	}
	cr_assert_fail("not %d workers, the one of pid %d %s and holding %d runs or more: %s", n,
		       (int)pid, state, min_held, cJSON_PrintUnformatted(list));
	return NULL;
}
