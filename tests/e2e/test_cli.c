/*
 * test_cli.c - the ecl command end to end: the built binary run as a user would, checking
 * its output, its exit status and what it leaves in the database.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <pty.h>

#include "support.h"

#define GEN    "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1\", \"word_count\": 2}"
#define REV2   "{\"content\": \"Draft v2\", \"word_count\": 2}"
#define REV3   "{\"content\": \"Draft v3\", \"word_count\": 2}"

static char *dir;
static char db[4096];

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
}

static void teardown(void)
{
	ts_rmtree(dir);
	free(dir);
}

TestSuite(cli, .init = setup, .fini = teardown);

/* Run ecl with --db and the given arguments (NULL-terminated). */
#define ECL(out, err, ...) run_ecl(out, err, (const char *[]){__VA_ARGS__, NULL})

static int run_ecl(char **out, char **err, const char **args)
{
	const char *argv[32] = {ECL_BIN, "--db", db};
	int n = 3, i;

	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return ts_run(argv, out, err);
}

/* The id from the first line, "Workflow started: <id>". */
static char *started_id(const char *out)
{
	static char id[64];

	cr_assert(strncmp(out, "Workflow started: ", 18) == 0, "first line: %s", out);
	sscanf(out + 18, "%63s", id);
	return id;
}

static const char *script(const char *text)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/script.json", dir);
	ts_write(path, text);
	return path;
}

Test(cli, list)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "list"), 0);
	cr_assert(strncmp(out, "Available Workflows:\n", 21) == 0, "%s", out);
	cr_assert(strstr(out, "critique-revise"));
	cr_assert_str_empty(err);
	free(out);
	free(err);
}

Test(cli, list_detailed)
{
	char *out;

	cr_assert_eq(ECL(&out, NULL, "list", "--detailed"), 0);
	cr_assert(strstr(out, "Available Workflows:"));
	cr_assert(strstr(out, "Critique and Revise Loop"));
	cr_assert(strstr(out, "Description: "));
	cr_assert(strstr(out, "Steps:"));
	cr_assert(strstr(out, "generate"));
	cr_assert(strstr(out, "critique"));
	cr_assert(strstr(out, "revise (llm), at most 3 times (revisions)"), "%s", out);
	cr_assert(strstr(out, "Max steps per run: 8"));
	cr_assert(strstr(out, "Usage: ecl run critique-revise --topic <string>"));
	free(out);
}

Test(cli, run_with_topic_on_the_offline_provider)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "Benefits of Rust"), 0,
		     "%s%s", out, err);
	started_id(out);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	cr_assert(strstr(out, "\"content\""));
	cr_assert(strstr(out, "not written by a model"), "the offline provider says what it is");
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 1);
	free(out);
	free(err);
}

Test(cli, status_text_and_json)
{
	char *out, *id, *st;
	cJSON *json;

	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 script("{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE
				", " PASS "], \"revise\": [" REV1 ", " REV2 "]}"),
			 "run", "critique-revise", "--topic", "tea"),
		     0, "%s", out);
	id = strdup(started_id(out));
	free(out);
	cr_assert_eq(ECL(&st, NULL, "status", id), 0);
	cr_assert(strstr(st, "Workflow ID:  "), "%s", st);
	cr_assert(strstr(st, id));
	cr_assert(strstr(st, "Status:       completed"), "%s", st);
	cr_assert(strstr(st, "Revisions:    2 of at most 3"), "%s", st);
	cr_assert(strstr(st, "Steps:        6"), "%s", st);
	cr_assert(strstr(st, "Draft v2"), "%s", st);
	free(st);
	cr_assert_eq(ECL(&st, NULL, "status", id, "-o", "json"), 0);
	json = cJSON_Parse(st);
	cr_assert_not_null(json, "%s", st);
	cr_assert_str_eq(cJSON_GetObjectItem(json, "id")->valuestring, id);
	cr_assert_str_eq(cJSON_GetObjectItem(json, "status")->valuestring, "completed");
	cr_assert_eq(cJSON_GetObjectItem(json, "step_count")->valueint, 6);
	cr_assert_eq(cJSON_GetObjectItem(json, "revisions")->valueint, 2);
	cr_assert_str_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(json, "output"), "content")->valuestring,
		"Draft v2");
	cJSON_Delete(json);
	free(st);
	free(id);
}

Test(cli, max_revisions_fails_with_exit_status_1)
{
	char *out, *id, *st;

	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 script("{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE
				", " REVISE ", " REVISE "], \"revise\": [" REV1 ", " REV2 ", " REV3
				"]}"),
			 "run", "critique-revise", "--topic", "tea"),
		     1);
	cr_assert(strstr(out, "failed at step critique: max revisions (3) reached"), "%s", out);
	id = strdup(started_id(out));
	cr_assert_eq(ECL(&st, NULL, "status", id), 0);
	cr_assert(strstr(st, "Status:       failed"), "%s", st);
	cr_assert(strstr(st, "Failed step:  critique"), "%s", st);
	cr_assert(strstr(st, "Revisions:    3 of at most 3"), "%s", st);
	cr_assert(strstr(st, "Steps:        8"), "%s", st);
	cr_assert(strstr(st, "Error:        max revisions (3) reached"), "%s", st);
	free(out);
	free(st);
	free(id);
}

Test(cli, inputs_from_set_and_file)
{
	char *out, *st, *id;
	char path[4200];

	snprintf(path, sizeof(path), "%s/in.json", dir);
	ts_write(path, "{\"topic\": \"from file\", \"min_words\": 10}");
	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--input-file", path, "--set",
			 "min_words=70"),
		     0);
	id = strdup(started_id(out));
	cr_assert_eq(ECL(&st, NULL, "status", id, "-o", "json"), 0);
	cr_assert(strstr(st, "\"topic\": \"from file\""), "%s", st);
	cr_assert(strstr(st, "\"min_words\": 70"), "%s", st);
	free(out);
	free(st);
	free(id);
}

/* Every usage error: one clear line, exit status 2, no database created. */
Test(cli, usage_errors_write_nothing)
{
	static const char *const cases[][6] = {
		{"run", "no-such-workflow", "--topic", "x", NULL},
		{"run", "critique-revise", NULL},
		{"run", "critique-revise", "--input-file", "/nonexistent/in.json", NULL},
		{"run", "critique-revise", "--topic", "x", "--min_words", "many"},
		{"run", "critique-revise", "--topic", "x", "--colour", "red"},
		{"run", NULL},
		{"frobnicate", NULL},
	};
	static const char *const expect[] = {
		"ecl: unknown workflow `no-such-workflow`",
		"ecl: missing required input `topic`",
		"ecl: cannot read the input file /nonexistent/in.json: No such file",
		"ecl: input `min_words`: `many` is not an integer",
		"ecl: workflow critique-revise has no input `colour`",
		"ecl: run: which workflow?",
		"ecl: unknown command `frobnicate`",
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err;

		cr_assert_eq(run_ecl(&out, &err, (const char **)cases[i]), 2, "case %zu: %s", i,
			     err);
		cr_assert(strncmp(err, expect[i], strlen(expect[i])) == 0, "case %zu: %s", i, err);
		cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
		cr_assert_str_empty(out);
		cr_assert_eq(access(db, F_OK), -1, "case %zu created the database", i);
		free(out);
		free(err);
	}
}

/* JSON as a strict reader takes it: UTF-8 throughout (a check of its own, not the runtime's),
 * and parsed whole. */
static int strict_json(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	cJSON *json;

	while (*p) {
		int n = *p < 0x80             ? 0
			: (*p & 0xe0) == 0xc0 ? 1
			: (*p & 0xf0) == 0xe0 ? 2
			: (*p & 0xf8) == 0xf0 ? 3
					      : -1;
		int i;

		if (n < 0 || (n == 1 && *p < 0xc2))
			return 0;
		for (i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += n + 1;
	}
	json = cJSON_ParseWithOpts(text, NULL, 1);
	cJSON_Delete(json);
	return json != NULL;
}

/* Text a run cannot hold (a NUL, bytes that are not UTF-8) is refused where it comes in with
 * the input or field named; never cut, never stored: every JSON ecl prints stays valid. */
Test(cli, text_that_would_be_cut_or_is_not_utf8_is_refused)
{
	char path[4300], bin[4200], *out, *err, *id;
	char data[200];
	cJSON *runs, *r;
	FILE *f;

	/* inputs: usage errors (exit 2) naming the input and the file, no database */
	snprintf(path, sizeof(path), "%s/in.json", dir);
	ts_write(path, "{\"topic\": \"a\\u0000b\"}");
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--input-file", path), 2, "%s", out);
	cr_assert(strstr(err, "in.json: input `topic` holds a NUL character"), "%s", err);
	free(out);
	free(err);
	snprintf(bin, sizeof(bin), "%s/blob.bin", dir);
	memset(data, 'x', sizeof(data));
	data[100] = '\0';
	cr_assert_not_null(f = fopen(bin, "wb"));
	fwrite(data, 1, sizeof(data), f);
	fclose(f);
	snprintf(path, sizeof(path), "topic=%s", bin);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--input-file", path), 2);
	cr_assert(strstr(err, "input `topic`: ") && strstr(err, "blob.bin is not text: it holds "
								"a NUL byte at byte 100"),
		  "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "caf\xe9"), 2);
	cr_assert(strstr(err, "input `topic` holds bytes that are not UTF-8 (0xe9)"), "%s", err);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/in.jsonl", dir);
	ts_write(path, "{\"topic\": \"fine\"}\n{\"topic\": \"a\\u0000b\"}\n");
	cr_assert_eq(ECL(&out, &err, "batch", path, "--workflow", "critique-revise"), 2);
	cr_assert(strstr(err, "in.jsonl:2: input `topic` holds a NUL character"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(access(db, F_OK), -1, "a refused input created the database");

	/* answers: malformed, so repaired; the model's next answer goes on */
	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 script("{\"generate\": [[\"{\\\"content\\\": \\\"a\\\\u0000b\\\", "
				"\\\"word_count\\\": 2}\", " GEN "]], \"critique\": [[\"{"
				"\\\"decision\\\": \\\"pass\\\", \\\"feedback\\\": \\\"a\xff\\\", "
				"\\\"quality_score\\\": 2}\", " PASS "]]}"),
			 "run", "critique-revise", "--topic", "caf\xc3\xa9 \x1b[31m"),
		     0, "%s%s", out, err);
	cr_assert(strstr(err, "field `content` of the answer holds a NUL character"), "%s", err);
	cr_assert(strstr(err, "field `feedback` of the answer holds bytes that are not UTF-8"),
		  "%s", err);
	id = strdup(started_id(out));
	free(out);
	free(err);
	out = ts_sql_text(db, "SELECT json_extract(output, '$.content') FROM runs");
	cr_assert_str_eq(out, "Draft v0");
	free(out);
	/* and when the repairs run out, the run fails with the reason, still valid JSON */
	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 script("{\"generate\": [[\"{\\\"content\\\": \\\"\\\\ud800\\\", "
				"\\\"word_count\\\": 2}\", \"\xc3\", \"\\u0000\", \"\xff\"]]}"),
			 "run", "critique-revise", "--topic", "x"),
		     1, "%s%s", out, err);
	free(out);
	free(err);

	/* every run's status, the list, and the histories print valid JSON */
	cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json"), 0);
	cr_assert(strict_json(out), "%s", out);
	runs = cJSON_Parse(out);
	free(out);
	cr_assert_eq(cJSON_GetArraySize(runs), 2);
	cJSON_ArrayForEach (r, runs) {
		const char *rid = cJSON_GetObjectItem(r, "id")->valuestring;

		cr_assert_eq(ECL(&out, NULL, "status", rid, "-o", "json"), 0);
		cr_assert(strict_json(out), "status of %s: %s", rid, out);
		free(out);
		cr_assert_eq(ECL(&out, NULL, "history", rid, "--full", "-o", "json"), 0);
		cr_assert(strict_json(out), "history of %s: %s", rid, out);
		free(out);
	}
	cJSON_Delete(runs);
	free(id);
}

/* Run ecl with --db and args with its stdout on a terminal (a pseudo-terminal that does not
 * process output, so that what it writes arrives unchanged); returns the exit status, the output in
 * *out. */
static int run_on_tty(char **out, const char **args)
{
	const char *argv[32] = {ECL_BIN, "--db", db};
	struct termios raw;
	size_t len = 0, cap = 1 << 16;
	int n = 3, i, master, slave, status;
	pid_t pid;
	ssize_t got;

	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	cr_assert_eq(tcgetattr(slave, &raw), 0);
	raw.c_oflag &= ~(tcflag_t)OPOST; /* no \r added before each \n */
	cr_assert_eq(tcsetattr(slave, TCSANOW, &raw), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(slave, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		close(master);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(slave);
	*out = malloc(cap);
	/* read until the other side is closed (EIO once the child has ended) */
	while ((got = read(master, *out + len, cap - len - 1)) > 0)
		if ((len += (size_t)got) + 1 == cap)
			cr_assert_not_null(*out = realloc(*out, cap *= 2));
	(*out)[len] = '\0';
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What a model answered and the prompts made from the inputs may hold escape sequences: on a
 * terminal, history shows them escaped instead of letting the terminal obey them; piped, it
 * writes them as they are. */
Test(cli, history_escapes_control_characters_on_a_terminal)
{
	char *out, *id;

	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 script("{\"generate\": [{\"content\": \"Draft \\u001b[31mred\\u001b]0;"
				"title\\u0007 back\\rover \\u009b2J\", \"word_count\": 2}], "
				"\"critique\": [" PASS "]}"),
			 "run", "critique-revise", "--topic", "Tea \x1b[1mbold\x7f"),
		     0, "%s", out);
	id = strdup(started_id(out));
	free(out);
	cr_assert_eq(run_on_tty(&out, (const char *[]){"history", id, "--full", NULL}), 0, "%s",
		     out);
	cr_assert(strstr(out, "Total: 2 steps"), "%s", out);
	cr_assert(strstr(out, "Tea \\e[1mbold\\x7f"), "the prompt: %s", out);
	cr_assert(strstr(out, "Draft \\e[31mred\\e]0;title\\x07 back\\rover \\u009b2J"),
		  "the answer: %s", out);
	cr_assert_null(strpbrk(out, "\x1b\x07\r\x7f"), "a control character reached the terminal");
	cr_assert_null(strstr(out, "\xc2\x9b"), "a C1 control reached the terminal");
	free(out);
	/* piped, the text is the text */
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full"), 0);
	cr_assert(strstr(out, "Tea \x1b[1mbold\x7f"), "%s", out);
	free(out);
	free(id);
}

/* Run ecl with args as a user who may read the database but not write its directory: as
 * root (for whom permissions are no obstacle) the child becomes nobody; otherwise the directory
 * is made read-only. Returns the exit status; stdout and stderr in *out. */
static int run_read_only(char **out, const char **args)
{
	const char *argv[32] = {ECL_BIN, "--db", db};
	int n = 3, i, fds[2], status;
	size_t len = 0, cap = 1 << 16;
	ssize_t got;
	pid_t pid;

	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		setenv("HOME", dir, 1);
		setenv("XDG_CONFIG_HOME", dir, 1); /* no config file to read */
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	*out = malloc(cap);
	while ((got = read(fds[0], *out + len, cap - len - 1)) > 0)
		if ((len += (size_t)got) + 1 == cap)
			cr_assert_not_null(*out = realloc(*out, cap *= 2));
	(*out)[len] = '\0';
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The commands that only look (runs, status, history) open the database read-only: they work
 * in a directory the user may not write, where SQLite cannot make the -wal and -shm files a
 * read-write open needs, and they leave nothing behind. */
Test(cli, looking_commands_work_in_a_read_only_directory)
{
	char *out, *id, wal[4200];

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "Tea"), 0);
	id = strdup(started_id(out));
	free(out);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	cr_assert_eq(access(wal, F_OK), -1, "the last connection removed its WAL");
	cr_assert_eq(chmod(db, 0644), 0);
	cr_assert_eq(chmod(dir, geteuid() == 0 ? 0755 : 0555), 0);
	cr_assert_eq(run_read_only(&out, (const char *[]){"runs", NULL}), 0, "%s", out);
	cr_assert(strstr(out, id) && strstr(out, "completed"), "%s", out);
	free(out);
	cr_assert_eq(run_read_only(&out, (const char *[]){"status", id, "-o", "json", NULL}), 0,
		     "%s", out);
	cr_assert(strstr(out, "\"status\": \"completed\""), "%s", out);
	free(out);
	cr_assert_eq(run_read_only(&out, (const char *[]){"history", id, "--full", NULL}), 0, "%s",
		     out);
	cr_assert(strstr(out, "Total: 4 steps"), "%s", out);
	free(out);
	/* a command that writes says why it cannot */
	cr_assert_eq(run_read_only(&out, (const char *[]){"fork", id, "--from", "1", NULL}), 1,
		     "%s", out);
	cr_assert(strstr(out, db) && strstr(out, "read-only"), "%s", out);
	free(out);
	cr_assert_eq(access(wal, F_OK), -1, "nothing was left in the directory");
	cr_assert_eq(chmod(dir, 0700), 0);
	free(id);
}

Test(cli, unknown_run_id_fails_with_exit_status_1)
{
	char *err;

	cr_assert_eq(ECL(NULL, &err, "list"), 0);
	free(err);
	cr_assert_eq(ECL(NULL, &err, "status", "0123456789ab"), 1);
	cr_assert(strstr(err, "no run with id 0123456789ab"), "%s", err);
	free(err);
	cr_assert_eq(ECL(NULL, &err, "resume", "0123456789ab"), 1);
	cr_assert(strstr(err, "no run with id 0123456789ab"), "%s", err);
	free(err);
}

Test(cli, verbose_json_logs_every_transition)
{
	char *out, *err, *line, *save = NULL;
	int transitions = 0;

	cr_assert_eq(ECL(&out, &err, "-v", "--log-format", "json", "run", "critique-revise",
			 "--topic", "logs"),
		     0);
	for (line = strtok_r(err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *json = cJSON_Parse(line);

		cr_assert_not_null(json, "not JSON: %s", line);
		if (strcmp(cJSON_GetObjectItem(json, "msg")->valuestring, "transition") == 0) {
			transitions++;
			cr_assert_not_null(cJSON_GetObjectItem(json, "run"));
			cr_assert_not_null(cJSON_GetObjectItem(json, "step"));
			cr_assert_not_null(cJSON_GetObjectItem(json, "attempt"));
			cr_assert_not_null(cJSON_GetObjectItem(json, "duration_ms"));
		}
		cJSON_Delete(json);
	}
	cr_assert_eq(transitions, 4, "the offline critic revises once: 4 transitions");
	free(out);
	free(err);
}

/* kill -9 of the ecl process in the middle of a step, then `ecl resume`. */
Test(cli, kill_9_then_resume)
{
	char log[4200], *out, *st, *id;
	const char *argv[16];
	pid_t pid;
	int status, i;

	snprintf(log, sizeof(log), "%s/calls.log", dir);
	argv[0] = ECL_BIN;
	argv[1] = "--db";
	argv[2] = db;
	argv[3] = "--provider";
	argv[4] = "scripted";
	argv[5] = "--script";
	argv[6] = script("{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 60000, "
			 "\"$answer\": " REVISE "}, " PASS "], \"revise\": [" REV1 "]}");
	argv[7] = "--call-log";
	argv[8] = log;
	argv[9] = "run";
	argv[10] = "critique-revise";
	argv[11] = "--topic";
	argv[12] = "tea";
	argv[13] = NULL;
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execv(ECL_BIN, (char *const *)argv);
		_exit(127);
	}
	/* Wait until generate is committed and critique has been asked. */
	for (i = 0; i < 500 && ts_count_lines(log, " critique ") < 1; i++) {
		struct timespec ts = {0, 10000000};

		nanosleep(&ts, NULL);
	}
	cr_assert_eq(ts_count_lines(log, " critique "), 1, "critique was never asked");
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	cr_assert_eq(ts_sql_int(db, "SELECT seq FROM runs"), 1);

	/* The same script without the pause answers the resumed critique. */
	script("{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS "], \"revise\": [" REV1
	       "]}");
	id = ts_sql_text(db, "SELECT id FROM runs");
	cr_assert_not_null(id);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script", argv[6], "--call-log",
			 log, "resume", id),
		     0, "%s", out);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	cr_assert(strstr(out, "Draft v1"), "%s", out);
	cr_assert_eq(ECL(&st, NULL, "status", id), 0);
	cr_assert(strstr(st, "Steps:        4"), "%s", st);
	free(st);
	free(out);
	free(id);
	cr_assert_eq(ts_count_lines(log, " generate "), 1, "generate was not asked again");
	cr_assert_eq(ts_count_lines(log, " critique 1 "), 2,
		     "the cut-off critique was asked again");
	cr_assert_eq(ts_sql_int(db, "SELECT attempt FROM steps WHERE seq = 2"), 2);
}

/* Start `ecl run` in the background with a script whose critique is slow; returns its pid. */
static pid_t run_in_background(const char *script_text, const char *log)
{
	static char spath[4200];
	pid_t pid;

	snprintf(spath, sizeof(spath), "%s", script(script_text));
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		const char *argv[] = {
			ECL_BIN,           "--db",    db,           "--provider", "scripted",
			"--script",        spath,     "--call-log", log,          "run",
			"critique-revise", "--topic", "bg",         NULL};
		char out[4200];

		snprintf(out, sizeof(out), "%s/bg.out", dir);
		if (!freopen(out, "w", stdout))
			_exit(126);
		execv(ECL_BIN, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void wait_for_line(const char *path, const char *needle)
{
	int i;

	for (i = 0; i < 1000 && ts_count_lines(path, needle) == 0; i++) {
		struct timespec ts = {0, 5000000};

		nanosleep(&ts, NULL);
	}
	cr_assert_gt(ts_count_lines(path, needle), 0, "no `%s` in %s", needle, path);
}

static int wait_exit(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "killed by %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

Test(cli, ctrl_c_leaves_the_run_resumable)
{
	char log[4200], outpath[4200], *out, *id;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/calls.log", dir);
	snprintf(outpath, sizeof(outpath), "%s/bg.out", dir);
	pid = run_in_background("{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 60000, "
				"\"$answer\": " PASS "}]}",
				log);
	wait_for_line(log, " critique ");
	cr_assert_eq(kill(pid, SIGINT), 0);
	cr_assert_eq(wait_exit(pid), 130);
	out = ts_read(outpath);
	cr_assert(strstr(out, "interrupted; resume it with: ecl --db "), "%s", out);
	free(out);
	id = ts_sql_text(db, "SELECT id FROM runs");
	{
		char *st = ts_sql_text(db, "SELECT status FROM runs");

		cr_assert_str_eq(st, "interrupted");
		free(st);
	}
	script("{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 script("{\"generate\": [" GEN "], \"critique\": [" PASS "]}"), "resume",
			 id),
		     0, "%s", out);
	cr_assert(strstr(out, "completed successfully"));
	free(out);
	free(id);
}

Test(cli, pause_and_cancel_from_another_process)
{
	char log[4200], outpath[4200], *out, *id;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/calls.log", dir);
	snprintf(outpath, sizeof(outpath), "%s/bg.out", dir);
	pid = run_in_background("{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 300, "
				"\"$answer\": " REVISE
				"}, {\"$delay_ms\": 60000, \"$answer\": " PASS
				"}], \"revise\": [" REV1 "]}",
				log);
	wait_for_line(log, " critique ");
	id = ts_sql_text(db, "SELECT id FROM runs");
	cr_assert_eq(ECL(&out, NULL, "pause", id), 0);
	cr_assert(strstr(out, "pause requested"), "%s", out);
	free(out);
	cr_assert_eq(wait_exit(pid), 0, "a pause is not a failure");
	out = ts_read(outpath);
	cr_assert(strstr(out, "paused; resume it with"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "--status", "paused"), 0);
	cr_assert(strstr(out, id) && strstr(out, "paused"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "cancel", id), 0);
	cr_assert(strstr(out, "cancelled"), "%s", out);
	free(out);
	cr_assert_eq(ECL(NULL, &out, "resume", id), 1);
	cr_assert(strstr(out, "cancelled"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id), 0);
	cr_assert(strstr(out, "pause requested of the driver"), "%s", out);
	cr_assert(strstr(out, "cancel done"), "%s", out);
	cr_assert(strstr(out, "decision: revise"), "%s", out);
	free(out);
	free(id);
}

Test(cli, runs_history_fork_recover_prune)
{
	char *out, *id, *fid;
	cJSON *json;

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "one"), 0);
	id = strdup(started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json"), 0);
	json = cJSON_Parse(out);
	cr_assert_eq(cJSON_GetArraySize(json), 1, "%s", out);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0), "status")->valuestring,
			 "completed");
	cJSON_Delete(json);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full"), 0);
	cr_assert(strstr(out, "prompt:"), "%s", out);
	cr_assert(strstr(out, "Write a piece of at least 50 words on this topic: one"), "%s", out);
	cr_assert(strstr(out, "Total: 4 steps"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "fork", id, "--from", "2"), 0, "%s", out);
	cr_assert(strstr(out, "Forked"), "%s", out);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 2);
	fid = ts_sql_text(db, "SELECT id FROM runs WHERE parent IS NOT NULL");
	cr_assert_not_null(fid);
	cr_assert_eq(ECL(NULL, NULL, "fork", id, "--from", "9"), 2);
	/* recover: an interrupted run is finished, a completed one left alone */
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 script("{\"generate\": [" GEN "], \"critique\": [[{\"$error\": "
				"\"permanent\", \"message\": \"down\"}]]}"),
			 "run", "critique-revise", "--topic", "two"),
		     1);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 script("{\"generate\": [" GEN "], \"critique\": [" PASS "]}"), "recover"),
		     0, "%s", out);
	cr_assert(strstr(out, "Recovering 1 run"), "%s", out);
	cr_assert(strstr(out, "Recovered 1"), "%s", out);
	free(out);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 3);
	cr_assert_eq(ECL(&out, NULL, "prune", "--status", "completed", "--older-than", "1d",
			 "--dry-run"),
		     0);
	cr_assert(strstr(out, "Would delete 0 runs"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "prune", "--status", "completed,failed,cancelled",
			 "--older-than", "0s"),
		     0);
	cr_assert(strstr(out, "Deleted 3 runs"), "%s", out);
	free(out);
	cr_assert_eq(ECL(NULL, NULL, "prune", "--status", "running"), 2);
	free(fid);
	free(id);
}

/* The commands that never reach the network start without loading libcurl and the rest of
 * the network half: it lives in libecl-net.so, loaded on first use. */
Test(cli, local_commands_do_not_load_the_network_module)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(setenv("LD_DEBUG", "libs", 1), 0);
	cr_assert_eq(ECL(&out, &err, "list"), 0, "%s", err);
	unsetenv("LD_DEBUG");
	cr_assert(strstr(err, "libsqlite3"), "the loader's trace: %s", err);
	cr_expect_null(strstr(err, "libcurl"), "ecl list loaded libcurl");
	cr_expect_null(strstr(err, "libecl-net"), "ecl list loaded the network module");
	free(out);
	free(err);
}

/* Without its module beside it, `ecl` still runs its local commands, and a command that
 * needs the network says which file it could not load, before starting any run. */
Test(cli, missing_network_module_is_named)
{
	char bin[4096], *out = NULL, *err = NULL;
	const char *argv[16] = {bin, "--db", db};

	snprintf(bin, sizeof(bin), "%s/ecl", dir);
	{
		FILE *in = fopen(ECL_BIN, "rb"), *o = fopen(bin, "wb");
		char chunk[65536];
		size_t n;

		cr_assert(in && o);
		while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
			cr_assert_eq(fwrite(chunk, 1, n, o), n);
		fclose(in);
		cr_assert_eq(fclose(o), 0);
		cr_assert_eq(chmod(bin, 0755), 0);
	}
	argv[3] = "list";
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "critique-revise"), "%s", out);
	free(out);
	free(err);

	argv[3] = "--provider";
	argv[4] = "openai";
	argv[5] = "--model";
	argv[6] = "m";
	argv[7] = "run";
	argv[8] = "critique-revise";
	argv[9] = "--topic";
	argv[10] = "x";
	cr_assert_neq(ts_run(argv, &out, &err), 0);
	cr_assert(strstr(err, "cannot load the network module"), "%s", err);
	cr_assert(strstr(err, "libecl-net.so"), "%s", err);
	cr_expect(access(db, F_OK) != 0 || ts_sql_int(db, "SELECT count(*) FROM runs") == 0,
		  "a run was stored");
	free(out);
	free(err);
}
