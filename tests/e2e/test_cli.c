/*
 * test_cli.c - the ecl command end to end: the built binary run as a user would, checking
 * its output, its exit status and what it leaves in the database.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <poll.h>
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

#include "ecl.h"
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
#define ECL(out, err, ...) ts_ecl(db, out, err, (const char *[]){__VA_ARGS__, NULL})

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

/* As JSON: id and name; detailed, eclc's description with each LLM step's JSON Schema. */
Test(cli, list_as_json)
{
	char *out;
	cJSON *all, *wf = NULL, *step, *schema;

	cr_assert_eq(ECL(&out, NULL, "list", "-o", "json"), 0);
	all = cJSON_Parse(out);
	cr_assert(cJSON_IsArray(all), "%s", out);
	cJSON_ArrayForEach (wf, all)
		cr_assert_null(cJSON_GetObjectItemCaseSensitive(wf, "steps"), "%s", out);
	cJSON_Delete(all);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "list", "--detailed", "--output", "json"), 0);
	all = cJSON_Parse(out);
	cJSON_ArrayForEach (wf, all)
		if (!strcmp(cJSON_GetObjectItemCaseSensitive(wf, "id")->valuestring, "triage"))
			break;
	cr_assert_not_null(wf, "%s", out);
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(wf, "usage")->valuestring,
			 "ecl run triage --request <string> [--tier <free|pro|enterprise>]");
	step = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(wf, "steps"), 0);
	schema = cJSON_GetObjectItemCaseSensitive(step, "schema");
	{
		char *text = cJSON_PrintUnformatted(schema);

		cr_assert_str_eq(
			text,
			"{\"type\":\"object\",\"properties\":{\"category\":{\"type\":\"string\","
			"\"enum\":[\"bug\",\"billing\",\"feature\",\"spam\"]},\"urgency\":{"
			"\"type\":\"integer\",\"minimum\":1,\"maximum\":5},\"summary\":{\"type\":"
			"\"string\"}},\"required\":[\"category\",\"urgency\",\"summary\"],"
			"\"additionalProperties\":false}");
		free(text);
	}
	cJSON_Delete(all);
	free(out);
	cr_assert_eq(ECL(NULL, NULL, "list", "-o", "yaml"), 2);
}

Test(cli, run_with_topic_on_the_offline_provider)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "Benefits of Rust"), 0,
		     "%s%s", out, err);
	ts_started_id(out);
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

	cr_assert_eq(
		ECL(&out, NULL, "--provider", "scripted", "--script",
		    ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE
				   ", " PASS "], \"revise\": [" REV1 ", " REV2 "]}"),
		    "run", "critique-revise", "--topic", "tea"),
		0, "%s", out);
	id = strdup(ts_started_id(out));
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
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE
					", " REVISE ", " REVISE ", " REVISE "], \"revise\": [" REV1
					", " REV2 ", " REV3 "]}"),
			 "run", "critique-revise", "--topic", "tea"),
		     1);
	cr_assert(strstr(out, "failed at step critique: max revisions (3) reached"), "%s", out);
	id = strdup(ts_started_id(out));
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
	id = strdup(ts_started_id(out));
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
		{"run", "critique-revise", "--topic", "x", "--min-words", "99999999999999999999"},
		{"run", "critique-revise", "--topic", "x", "--min-words", "0x10"},
		{"run", NULL},
		{"frobnicate", NULL},
	};
	static const char *const expect[] = {
		"ecl: unknown workflow `no-such-workflow`",
		"ecl: missing required input `topic`",
		"ecl: cannot read the input file /nonexistent/in.json: No such file",
		"ecl: input `min_words`: `many` is not an integer",
		"ecl: workflow critique-revise has no input `colour`",
		"ecl: input `min_words`: `99999999999999999999` is not an integer from "
		"-9223372036854775808 to 9223372036854775807\n",
		"ecl: input `min_words`: `0x10` is not an integer\n",
		"ecl: run: which workflow?",
		"ecl: unknown command `frobnicate`",
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err;

		cr_assert_eq(ts_ecl(db, &out, &err, (const char **)cases[i]), 2, "case %zu: %s", i,
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
	cr_assert_eq(
		ECL(&out, &err, "--provider", "scripted", "--script",
		    ts_script(dir,
			      "{\"generate\": [[\"{\\\"content\\\": \\\"a\\\\u0000b\\\", "
			      "\\\"word_count\\\": 2}\", " GEN "]], \"critique\": [[\"{"
			      "\\\"decision\\\": \\\"pass\\\", \\\"feedback\\\": \\\"a\xff\\\", "
			      "\\\"quality_score\\\": 2}\", " PASS "]]}"),
		    "run", "critique-revise", "--topic", "caf\xc3\xa9 \x1b[31m"),
		0, "%s%s", out, err);
	cr_assert(strstr(err, "field `content` of the answer holds a NUL character"), "%s", err);
	cr_assert(strstr(err, "field `feedback` of the answer holds bytes that are not UTF-8"),
		  "%s", err);
	id = strdup(ts_started_id(out));
	free(out);
	free(err);
	out = ts_sql_text(db, "SELECT json_extract(output, '$.content') FROM runs");
	cr_assert_str_eq(out, "Draft v0");
	free(out);
	/* and when the repairs run out, the run fails with the reason, still valid JSON */
	cr_assert_eq(
		ECL(&out, &err, "--provider", "scripted", "--script",
		    ts_script(dir, "{\"generate\": [[\"{\\\"content\\\": \\\"\\\\ud800\\\", "
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
static int stdout_on_tty(char **out, const char **args)
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

	cr_assert_eq(
		ECL(&out, NULL, "--provider", "scripted", "--script",
		    ts_script(dir, "{\"generate\": [{\"content\": \"Draft \\u001b[31mred\\u001b]0;"
				   "title\\u0007 back\\rover \\u009b2J\", \"word_count\": 2}], "
				   "\"critique\": [" PASS "]}"),
		    "run", "critique-revise", "--topic", "Tea \x1b[1mbold\x7f"),
		0, "%s", out);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(stdout_on_tty(&out, (const char *[]){"history", id, "--full", NULL}), 0, "%s",
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
	id = strdup(ts_started_id(out));
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
	argv[6] = ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 60000, "
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
	ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
		       "], \"revise\": [" REV1 "]}");
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
	pid = ts_ecl_background(db, dir,
				"{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 60000, "
				"\"$answer\": " PASS "}]}",
				log);
	ts_wait_for_line(log, " critique ");
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
	ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}"),
			 "resume", id),
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
	pid = ts_ecl_background(db, dir,
				"{\"generate\": [" GEN "], \"critique\": [{\"$delay_ms\": 300, "
				"\"$answer\": " REVISE
				"}, {\"$delay_ms\": 60000, \"$answer\": " PASS
				"}], \"revise\": [" REV1 "]}",
				log);
	ts_wait_for_line(log, " critique ");
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

/* Every call of a step: history counts them, --full shows each with its kind, what it sent
 * and what came back, and -o json gives them as a list; a run whose workflow version's texts
 * were never stored says so instead of showing today's. */
Test(cli, history_shows_every_call_of_a_step)
{
	char *out, *id;
	cJSON *json, *calls, *c;

	cr_assert_eq(
		ECL(&out, NULL, "--provider", "scripted", "--script",
		    ts_script(dir,
			      "{\"generate\": [[{\"$error\": \"transient\", \"message\": \"server "
			      "busy\"}, \"not json\", " GEN "]], \"critique\": [[\"nope\", " PASS
			      "]]}"),
		    "run", "critique-revise", "--topic", "Tea"),
		0, "%s", out);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id), 0);
	cr_assert(strstr(out, "-> critique  3 calls: 1 retry, 1 repair\n"), "%s", out);
	cr_assert(strstr(out, "decision: pass  2 calls: 1 repair\n"), "%s", out);
	cr_assert(!strstr(out, "prompt:"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full"), 0);
	cr_assert(strstr(out, "    call 1: first, "), "%s", out);
	cr_assert(strstr(out, "      system:\n        | You are a careful writer."), "%s", out);
	cr_assert(strstr(out, "      prompt:\n        | Write a piece of at least 50 words on "
			      "this topic: Tea\n"),
		  "%s", out);
	cr_assert(strstr(out, "      error:\n        | scripted: server busy\n    call 2: retry, "),
		  "%s", out);
	cr_assert(strstr(out, "      sent: the system prompt and prompt of call 1\n      answer:\n"
			      "        | not json\n"),
		  "%s", out);
	cr_assert(strstr(out, "    call 3: repair, "), "%s", out);
	cr_assert(strstr(out,
			 "      sent: the system prompt and prompt of call 1, then each "
			 "refused answer and its repair prompt\n      repair prompt:\n"
			 "        | Your answer could not be used: step `generate`: the answer "
			 "holds no JSON object: \"not json\".\n"),
		  "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full", "-o", "json"), 0);
	cr_assert(strict_json(out), "%s", out);
	json = cJSON_Parse(out);
	calls = cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0), "calls");
	cr_assert_eq(cJSON_GetArraySize(calls), 3, "%s", out);
	c = cJSON_GetArrayItem(calls, 0);
	cr_assert_str_eq(cJSON_GetObjectItem(c, "kind")->valuestring, "first");
	cr_assert_str_eq(cJSON_GetObjectItem(c, "error")->valuestring, "scripted: server busy");
	cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(c, "latency_us")), "%s", out);
	cr_assert(strstr(cJSON_GetObjectItem(c, "prompt")->valuestring, "topic: Tea"), "%s", out);
	c = cJSON_GetArrayItem(calls, 2);
	cr_assert_str_eq(cJSON_GetObjectItem(c, "kind")->valuestring, "repair");
	cr_assert_eq(cJSON_GetObjectItem(c, "repair")->valueint, 1);
	cr_assert(strstr(cJSON_GetObjectItem(c, "fix")->valuestring, "could not be used"), "%s",
		  out);
	cr_assert(strstr(cJSON_GetObjectItem(c, "answer")->valuestring, "Draft v0"), "%s", out);
	calls = cJSON_GetObjectItem(cJSON_GetArrayItem(json, 1), "calls");
	cr_assert_eq(cJSON_GetArraySize(calls), 2, "%s", out);
	cJSON_Delete(json);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "-o", "json"), 0);
	json = cJSON_Parse(out);
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0), "calls"), 1);
	cr_assert_str_eq(cJSON_GetObjectItem(c, "kind")->valuestring, "retry");
	cr_assert_null(cJSON_GetObjectItem(c, "answer"), "texts only with --full: %s", out);
	cJSON_Delete(json);
	free(out);
	/* a run made before ecl stored what it sent: the calls, but no texts of today's */
	ts_sql(db, "DELETE FROM versions");
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full"), 0);
	cr_assert(strstr(out, "-> critique  3 calls: 1 retry, 1 repair\n    call 1: first, "), "%s",
		  out);
	cr_assert(strstr(out, "(what it sent is not stored: the run was made before ecl stored "
			      "it)"),
		  "%s", out);
	cr_assert(!strstr(out, "careful writer"), "%s", out);
	free(out);
	free(id);
	/* retries alone */
	cr_assert_eq(
		ECL(&out, NULL, "--provider", "scripted", "--script",
		    ts_script(dir,
			      "{\"generate\": [[{\"$error\": \"transient\", \"message\": \"a\"}, "
			      "{\"$error\": \"transient\", \"message\": \"b\"}, " GEN
			      "]], \"critique\": [" PASS "]}"),
		    "run", "critique-revise", "--topic", "Tea"),
		0, "%s", out);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id), 0);
	cr_assert(strstr(out, "-> critique  3 calls: 2 retries\n"), "%s", out);
	free(out);
	free(id);
}

Test(cli, runs_history_fork_recover_prune)
{
	char *out, *id, *fid;
	cJSON *json;

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "one"), 0);
	id = strdup(ts_started_id(out));
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
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [[{\"$error\": "
					"\"permanent\", \"message\": \"down\"}]]}"),
			 "run", "critique-revise", "--topic", "two"),
		     1);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}"),
			 "recover"),
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
	cr_assert_eq(ECL(NULL, NULL, "prune", "--status", "running", "--older-than", "0s"), 2);
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

	/* In a bin/ of its own: the installed place it also looks at, bin/../lib/ecl, is then in
	 * the test's directory too. */
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	cr_assert_eq(mkdir(bin, 0755), 0);
	snprintf(bin, sizeof(bin), "%s/bin/ecl", dir);
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

/* Every usage error of every command: exit status 2, one line naming the argument at fault,
 * nothing on stdout and no database created. */
Test(cli, every_usage_error_names_the_argument_at_fault)
{
	static const struct {
		const char *args[8];
		const char *err;
	} cases[] = {
		{{"--timeout", "0", "list"},
		 "ecl: --timeout: `0` is not a duration in seconds from 0.001 to 604800"},
		{{"--connect-timeout", "x", "list"},
		 "ecl: --connect-timeout: `x` is not a duration in seconds from 0.001 to 604800"},
		{{"--max-answer-bytes", "-1", "list"},
		 "ecl: --max-answer-bytes: `-1` is not a positive number of bytes"},
		{{"--durability", "sometimes", "list"},
		 "ecl: --durability: `sometimes` is not full or normal"},
		{{"--log-format", "xml", "list"},
		 "ecl: --log-format: `xml` is not pretty, compact or json"},
		{{"list", "--model"}, "ecl: --model needs a value"},
		{{"list", "--bogus"}, "ecl: list: unknown argument `--bogus`"},
		{{"graph"}, "ecl: usage: ecl graph <workflow> [--format mermaid|dot|json]"},
		{{"graph", "critique-revise", "--format"},
		 "ecl: --format needs mermaid, dot or json"},
		{{"graph", "critique-revise", "--format=svg"},
		 "ecl: --format: `svg` is not mermaid, dot or json"},
		{{"graph", "critique-revise", "extra"}, "ecl: graph: unexpected argument `extra`"},
		{{"answer"},
		 "ecl: usage: ecl answer <run-id> --set FIELD=VALUE ... [--no-wait] (or "
		 "--engine restate [--restate-url URL] [--wait])"},
		{{"answer", "id", "--set"}, "ecl: --set needs FIELD=VALUE"},
		{{"answer", "id", "--set", "x"}, "ecl: --set needs FIELD=VALUE"},
		{{"answer", "id", "--bogus"}, "ecl: answer: unexpected argument `--bogus`"},
		{{"answer", "id", "--engine"}, "ecl: --engine needs a value"},
		{{"batch"},
		 "ecl: usage: ecl batch FILE.jsonl --workflow ID [--concurrency N] [--queue]"},
		{{"batch", "f", "--workflow"}, "ecl: --workflow needs a value"},
		{{"batch", "f", "--concurrency", "x"},
		 "ecl: --concurrency: `x` is not a number from 1 to 100000"},
		{{"batch", "f", "--bogus"}, "ecl: batch: unexpected argument `--bogus`"},
		{{"batch", "/nonexistent.jsonl", "--workflow", "critique-revise"},
		 "ecl: cannot read /nonexistent.jsonl: No such file or directory"},
		{{"runs", "--limit", "x"}, "ecl: --limit: `x` is not a number"},
		{{"runs", "--bogus", "x"}, "ecl: runs: unknown argument `--bogus`"},
		{{"runs", "--status"}, "ecl: runs: `--status` needs a value or is unknown"},
		{{"history"}, "ecl: usage: ecl history <run-id> [--full] [-o json]"},
		{{"history", "id", "--bogus"}, "ecl: history: unexpected argument `--bogus`"},
		{{"fork"}, "ecl: usage: ecl fork <run-id> --from <checkpoint>"},
		{{"fork", "id", "--from", "x"}, "ecl: --from: `x` is not a checkpoint number"},
		{{"fork", "id", "--bogus"}, "ecl: fork: unexpected argument `--bogus`"},
		{{"recover", "extra"}, "ecl: usage: ecl recover"},
		{{"prune", "--bogus"}, "ecl: prune: unknown argument `--bogus`"},
		{{"prune", "--older-than", "x"},
		 "ecl: --older-than: `x` is not an age like 30d, 12h"},
		{{"status"}, "ecl: usage: ecl status <run-id> [-o text|json]"},
		{{"status", "id", "-o"}, "ecl: -o needs text or json"},
		{{"status", "id", "-o", "xml"}, "ecl: -o: `xml` is not text or json"},
		{{"status", "id", "extra"}, "ecl: status: unexpected argument `extra`"},
		{{"status", "id", "--engine", "nope"},
		 "ecl: --engine: `nope` is not local or restate"},
		{{"status", "--engine", "restate"},
		 "ecl: status: usage: ecl status --engine restate <run-id>"},
		{{"cancel", "--engine", "restate"},
		 "ecl: cancel: usage: ecl cancel --engine restate <run-id>"},
		{{"pause", "--engine", "restate"},
		 "ecl: pause: usage: ecl pause --engine restate <run-id>"},
		{{"resume", "a", "b", "--engine", "restate"},
		 "ecl: resume: usage: ecl resume --engine restate <run-id> [--wait]"},
		{{"pause", "id", "--engine", "nope"},
		 "ecl: --engine: `nope` is not local or restate"},
		{{"resume", "id", "--engine"}, "ecl: --engine needs a value"},
		{{"runs", "--engine", "nope"}, "ecl: --engine: `nope` is not local or restate"},
		{{"history", "id", "--admin-url"}, "ecl: --admin-url needs a value"},
		{{"history", "--engine", "restate"},
		 "ecl: usage: ecl history <run-id> [--full] [-o json]"},
		{{"resume"}, "ecl: usage: ecl resume <run-id>"},
		{{"pause"}, "ecl: usage: ecl pause <run-id>"},
		{{"cancel"}, "ecl: usage: ecl cancel <run-id>"},
		{{"providers", "-o", "xml"}, "ecl: usage: ecl providers [-o text|json]"},
		{{"serve", "--port"}, "ecl: serve: --port needs a value"},
		{{"serve", "--port", "x"}, "ecl: serve: --port: `x` is not a port number"},
		{{"serve", "--bogus"},
		 "ecl: serve: unknown argument `--bogus`; usage: ecl serve "
		 "[--port 9080] [--bind ADDR] [--register ADMIN-URL] "
		 "[--advertise URL]"},
		{{"run", "critique-revise", "--input-file"}, "ecl: --input-file needs a file name"},
		{{"run", "critique-revise", "--set"}, "ecl: --set needs NAME=VALUE"},
		{{"run", "critique-revise", "--set", "x"}, "ecl: --set needs NAME=VALUE"},
		{{"run", "critique-revise", "--topic"}, "ecl: --topic needs a value"},
		{{"--api-key"}, "ecl: --api-key needs a value"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err;

		cr_assert_eq(ts_ecl(db, &out, &err, (const char **)cases[i].args), 2,
			     "case %zu (%s): %s", i, cases[i].err, err);
		cr_assert(strncmp(err, cases[i].err, strlen(cases[i].err)) == 0 &&
				  err[strlen(cases[i].err)] == '\n' &&
				  err[strlen(cases[i].err) + 1] == '\0',
			  "case %zu: `%s` expected, got `%s`", i, cases[i].err, err);
		cr_assert_str_empty(out, "case %zu", i);
		cr_assert_eq(access(db, F_OK), -1, "case %zu created the database", i);
		free(out);
		free(err);
	}
}

/* A file of inputs that is JSON but not an object is refused, naming the file. */
Test(cli, an_input_file_must_hold_an_object)
{
	char path[4200], *out, *err, want[4300];

	snprintf(path, sizeof(path), "%s/inputs.json", dir);
	ts_write(path, "[1]");
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--input-file", path), 2);
	snprintf(want, sizeof(want), "ecl: %s: not a JSON object of inputs\n", path);
	cr_assert_str_eq(err, want);
	cr_assert_str_empty(out);
	free(out);
	free(err);
}

/* -h prints the usage on stdout and succeeds; no command at all prints it on stderr and
 * fails with 2. */
Test(cli, help_and_no_command)
{
	const char *help[] = {ECL_BIN, "--help", NULL}, *none[] = {ECL_BIN, NULL};
	char *out, *err;

	cr_assert_eq(ts_run(help, &out, &err), 0);
	cr_assert(strncmp(out, "usage: ecl [global options] <command> [arguments]\n", 50) == 0,
		  "%s", out);
	cr_assert(strstr(out, "  -h, --help                        this text; COMMAND --help, help "
			      "COMMAND: the\n"),
		  "%s", out);
	cr_assert_str_empty(err);
	free(out);
	free(err);
	cr_assert_eq(ts_run(none, &out, &err), 2);
	cr_assert_str_empty(out);
	cr_assert(strncmp(err, "usage: ecl [global options] <command> [arguments]\n", 50) == 0,
		  "%s", err);
	free(out);
	free(err);
}

/* Without --db: ECL_DB, else $XDG_DATA_HOME/ecl/ecl.db, else ~/.local/share/ecl/ecl.db, its
 * directories made; with none of the three, a usage error. */
Test(cli, the_default_database)
{
	const char *argv[] = {ECL_BIN, "runs", NULL};
	char *out, *err, path[4300];

	unsetenv("ECL_DB");
	setenv("XDG_DATA_HOME", ts_path(dir, "xdg"), 1);
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
	cr_assert_str_eq(out, "No runs.\n");
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/xdg/ecl/ecl.db", dir);
	cr_assert_eq(access(path, F_OK), 0, "no %s", path);

	unsetenv("XDG_DATA_HOME");
	setenv("HOME", ts_path(dir, "home"), 1);
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/home/.local/share/ecl/ecl.db", dir);
	cr_assert_eq(access(path, F_OK), 0, "no %s", path);

	setenv("ECL_DB", ts_path(dir, "env/deep/runs.db"), 1);
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/env/deep/runs.db", dir);
	cr_assert_eq(access(path, F_OK), 0, "no %s", path);

	/* a directory that cannot be made */
	ts_write(ts_path(dir, "file"), "x");
	setenv("ECL_DB", ts_path(dir, "file/sub/runs.db"), 1);
	cr_assert_eq(ts_run(argv, &out, &err), 1);
	snprintf(path, sizeof(path),
		 "ecl: cannot create the directory of %s/file/sub/runs.db: Not a directory\n", dir);
	cr_assert_str_eq(err, path);
	free(out);
	free(err);

	unsetenv("ECL_DB");
	unsetenv("HOME");
	cr_assert_eq(ts_run(argv, &out, &err), 2);
	cr_assert_str_eq(err, "ecl: no database: give --db PATH (neither HOME nor XDG_DATA_HOME is "
			      "set)\n");
	free(out);
	free(err);
}

/* history -o json, with and without --full: one object per checkpoint, and the notes (an
 * answer to a human step) with their time. */
Test(cli, history_as_json)
{
	char *out, *id;
	cJSON *json, *first, *last;
	int n;

	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"draft\": [{\"summary\": \"a b c\"}]}"), "run",
			 "summarize", "--document", "one two three four five six"),
		     0, "%s", out);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "answer", id, "--set", "approved=true", "--no-wait"), 0);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "-o", "json"), 0);
	json = cJSON_Parse(out);
	cr_assert(cJSON_IsArray(json), "%s", out);
	n = cJSON_GetArraySize(json);
	cr_assert_geq(n, 3, "%s", out);
	first = cJSON_GetArrayItem(json, 0);
	last = cJSON_GetArrayItem(json, n - 1);
	cr_assert_eq(cJSON_GetObjectItem(first, "seq")->valueint, 1, "%s", out);
	cr_assert_str_eq(cJSON_GetObjectItem(first, "step")->valuestring, "draft");
	cr_assert(cJSON_IsString(cJSON_GetObjectItem(first, "next")), "%s", out);
	cr_assert_eq(cJSON_GetObjectItem(first, "attempt")->valueint, 1);
	cr_assert(cJSON_IsObject(cJSON_GetObjectItem(first, "output")), "%s", out);
	cr_assert_null(cJSON_GetObjectItem(first, "prompt"), "prompts only with --full: %s", out);
	cr_assert(cJSON_IsString(cJSON_GetObjectItem(last, "note")), "the answer: %s", out);
	cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(last, "ts_ms")), "%s", out);
	cJSON_Delete(json);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full", "-o", "json"), 0);
	json = cJSON_Parse(out);
	first = cJSON_GetArrayItem(json, 0);
	cr_assert(cJSON_IsString(cJSON_GetObjectItem(first, "prompt")), "%s", out);
	cr_assert(cJSON_IsString(cJSON_GetObjectItem(first, "answer")), "%s", out);
	cJSON_Delete(json);
	free(out);
	/* a run that waits shows its step and question in the listing */
	cr_assert_eq(ECL(&out, NULL, "runs", "-o", "json", "--status", "waiting"), 0);
	json = cJSON_Parse(out);
	cr_assert_eq(cJSON_GetArraySize(json), 1, "%s", out);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0), "step")->valuestring,
			 "approve");
	cr_assert(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0), "question")),
		  "%s", out);
	cJSON_Delete(json);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "runs", "--workflow", "triage", "--all"), 0);
	cr_assert_str_eq(out, "No runs.\n");
	free(out);
	free(id);
}

/* `ecl providers` with the config file in ECL_CONFIG holding `text`; returns the exit status.
 * Other environment that selects a config file is cleared. */
static int providers_with(const char *text, char **out, char **err)
{
	const char *argv[] = {ECL_BIN, "providers", NULL};
	char path[4200];

	snprintf(path, sizeof(path), "%s/config", dir);
	ts_write(path, text);
	setenv("ECL_CONFIG", path, 1);
	return ts_run(argv, out, err);
}

/* Every mistake in the config file is a usage error naming the file and line. */
Test(cli, config_file_mistakes_name_the_line)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{"[openai\n", ":1: a section is written [name]"},
		{"# a comment\n\njust words\n", ":3: expected `key = value`"},
		{"model =\n", ":1: `model` has no value"},
		{"[bogus]\n",
		 ":1: unknown section [bogus] (known: openai, anthropic, ollama, prices)"},
		{"[openai]\nprovider = openai\n",
		 ":2: unknown key `provider` (known: provider, model, base_url, api_key, "
		 "api_key_file, timeout, connect_timeout, otlp_endpoint; provider and "
		 "otlp_endpoint only outside sections)"},
		{"otlp_endpoint = localhost:4318\n",
		 ":1: otlp_endpoint `localhost:4318` is not an http:// or https:// URL"},
		{"api_key_file = /nonexistent/key\n",
		 ":1: cannot read the key file /nonexistent/key: No such file or directory"},
	};
	char *out, *err, want[4400], *long_line;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(providers_with(cases[i].text, &out, &err), 2, "case %zu: %s", i, err);
		snprintf(want, sizeof(want), "ecl: %s/config%s\n", dir, cases[i].err);
		cr_assert_str_eq(err, want, "case %zu", i);
		free(out);
		free(err);
	}
	ts_write(ts_path(dir, "empty-key"), "\n");
	snprintf(want, sizeof(want), "api_key_file = %s/empty-key\n", dir);
	cr_assert_eq(providers_with(want, &out, &err), 2);
	snprintf(want, sizeof(want), "ecl: %s/config:1: the key file %s/empty-key is empty\n", dir,
		 dir);
	cr_assert_str_eq(err, want);
	free(out);
	free(err);
	long_line = malloc(6000);
	cr_assert_not_null(long_line);
	memset(long_line, 'x', 5998);
	memcpy(long_line, "model = ", 8);
	long_line[5998] = '\n';
	long_line[5999] = '\0';
	cr_assert_eq(providers_with(long_line, &out, &err), 2);
	snprintf(want, sizeof(want), "ecl: %s/config:1: the line is too long\n", dir);
	cr_assert_str_eq(err, want);
	free(long_line);
	free(out);
	free(err);
	/* a timeout that is no number fails the command that needs it */
	{
		const char *argv[] = {
			ECL_BIN,           "--db",    db,  "--provider", "ollama", "run",
			"critique-revise", "--topic", "t", NULL};

		providers_with("[ollama]\ntimeout = x\n", &out, &err);
		free(out);
		free(err);
		cr_assert_eq(ts_run(argv, &out, &err), 2);
		snprintf(want, sizeof(want),
			 "ecl: %s/config:2: timeout `x` is not a duration in seconds from 0.001 to "
			 "604800\n",
			 dir);
		cr_assert_str_eq(err, want);
		free(out);
		free(err);
	}
	unsetenv("ECL_CONFIG");
}

/* Settings come from the config file (a quoted value, a key read from a file, ~/ for the
 * home directory), from the environment (OLLAMA_HOST as ollama reads it: host:port) and from
 * flags; a key is never shown, only its length. */
Test(cli, config_file_settings_and_key_files)
{
	char *out, *err, text[4400], home[4200];

	ts_write(ts_path(dir, "key"), "sk-fromfile  \n");
	snprintf(text, sizeof(text), "[openai]\napi_key_file = %s/key\nmodel = \"gpt-x\"\n", dir);
	cr_assert_eq(providers_with(text, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "  model            gpt-x "), "%s", out);
	cr_assert(strstr(out, "  api_key          **** (11 characters) "), "%s", out);
	cr_assert_null(strstr(out, "sk-fromfile"), "%s", out);
	free(out);
	free(err);
	/* ~/ is the home directory */
	snprintf(home, sizeof(home), "%s/home", dir);
	mkdir(home, 0700);
	ts_write(ts_path(home, "key"), "sk-home");
	setenv("HOME", home, 1);
	cr_assert_eq(providers_with("api_key_file = ~/key\n", &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "  api_key          **** (7 characters) "), "%s", out);
	free(out);
	free(err);
	setenv("OLLAMA_HOST", "127.0.0.1:9", 1);
	cr_assert_eq(providers_with("", &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "  base_url         http://127.0.0.1:9                       (env "
			      "OLLAMA_HOST)\n"),
		  "%s", out);
	free(out);
	free(err);
	unsetenv("OLLAMA_HOST");
	unsetenv("ECL_CONFIG");
	/* without ECL_CONFIG: $XDG_CONFIG_HOME/ecl/config, else ~/.config/ecl/config */
	{
		const char *argv[] = {ECL_BIN, "providers", NULL};
		char path[4400];

		snprintf(path, sizeof(path), "%s/.config", home);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/.config/ecl", home);
		mkdir(path, 0700);
		ts_write(ts_path(path, "config"), "model = m\n");
		unsetenv("XDG_CONFIG_HOME");
		cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
		snprintf(path, sizeof(path), "Config file: %s/.config/ecl/config\n", home);
		cr_assert(strncmp(out, path, strlen(path)) == 0, "%s", out);
		free(out);
		free(err);
		setenv("XDG_CONFIG_HOME", dir, 1);
		cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
		snprintf(path, sizeof(path), "Config file: %s/ecl/config (not present)\n", dir);
		cr_assert(strncmp(out, path, strlen(path)) == 0, "%s", out);
		free(out);
		free(err);
		unsetenv("XDG_CONFIG_HOME");
		unsetenv("HOME");
		cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
		cr_assert(strncmp(out, "Config file: (none: HOME is not set) (not present)\n",
				  51) == 0,
			  "%s", out);
		free(out);
		free(err);
	}
	/* a key given as a flag is shown by its length; one too long is refused */
	{
		const char *argv[] = {ECL_BIN, "--api-key", "abc", "providers", NULL};
		char *big = malloc(5001);
		const char *too_long[] = {ECL_BIN, "--api-key", big, "providers", NULL};

		cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
		cr_assert(strstr(out, "  api_key          **** (3 characters)                      "
				      "(flag --api-key)\n"),
			  "%s", out);
		free(out);
		free(err);
		cr_assert_not_null(big);
		memset(big, 'k', 5000);
		big[5000] = '\0';
		cr_assert_eq(ts_run(too_long, &out, &err), 2);
		cr_assert_str_eq(err, "ecl: --api-key: the key is too long\n");
		free(out);
		free(err);
		free(big);
	}
}

/* Run ecl --db db with args and its stderr on a pseudo-terminal (stdout to a pipe): what the
 * terminal showed in *tty, what went to stdout in *out. Returns the exit status. */
static int run_on_tty(const char *const *args, char **tty, char **out)
{
	const char *argv[32] = {ECL_BIN, "--db", db};
	int master = posix_openpt(O_RDWR | O_NOCTTY), n = 3, pipefd[2], st;
	size_t len = 0, cap = 1 << 16, olen = 0;
	pid_t pid;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_geq(master, 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY);

		if (slave < 0)
			_exit(126);
		dup2(slave, STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		close(master);
		close(pipefd[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	*tty = malloc(cap);
	*out = malloc(cap);
	cr_assert(*tty && *out);
	for (;;) {
		struct pollfd p[2] = {{master, POLLIN, 0}, {pipefd[0], POLLIN, 0}};
		ssize_t r;

		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[1].revents & (POLLIN | POLLHUP)) {
			r = read(pipefd[0], *out + olen, cap - 1 - olen);
			if (r > 0)
				olen += (size_t)r;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read(master, *tty + len, cap - 1 - len);
			if (r <= 0)
				break; /* EIO: the child closed the terminal */
			len += (size_t)r;
		}
	}
	while (olen < cap - 1) {
		ssize_t r = read(pipefd[0], *out + olen, cap - 1 - olen);

		if (r <= 0)
			break;
		olen += (size_t)r;
	}
	(*tty)[len] = '\0';
	(*out)[olen] = '\0';
	close(master);
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* On a terminal, a run shows one line per step, with the loop's counter and the next step,
 * and a batch one progress line, rewritten in place. */
Test(cli, a_terminal_shows_progress)
{
	const char *run[] = {"--provider",      "scripted", "--script", NULL, "run",
			     "critique-revise", "--topic",  "tty",      NULL};
	char *tty, *out, path[4300];

	run[3] = ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
				"], \"revise\": [" REV1 "]}");
	cr_assert_eq(run_on_tty(run, &tty, &out), 0, "%s%s", out, tty);
	cr_assert(strstr(tty, "  [1/8] generate ... done in "), "%s", tty);
	cr_assert(strstr(tty, " ms, next: critique\r\n"), "%s", tty);
	cr_assert(strstr(tty, "  [3/8] revise (revisions 1 of at most 3) ... done in "), "%s", tty);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(tty);
	free(out);

	snprintf(path, sizeof(path), "%s/in.jsonl", dir);
	ts_write(path, "{\"topic\": \"a\"}\n{\"topic\": \"b\"}\n");
	{
		const char *batch[] = {"batch", path, "--workflow", "critique-revise", NULL};

		cr_assert_eq(run_on_tty(batch, &tty, &out), 0, "%s%s", out, tty);
		cr_assert(strstr(tty, "\rbatch: 2/2 ended, 2 completed, 0 waiting, 0 failed, 0 "
				      "stopped, 0 in "
				      "flight, "),
			  "%s", tty);
		free(tty);
		free(out);
	}
}

/* Commands on a run that does not exist fail with 1, naming the id and the database. */
Test(cli, commands_on_an_unknown_run)
{
	static const char *const cases[][5] = {
		{"pause", "nosuch", NULL},   {"cancel", "nosuch", NULL},
		{"history", "nosuch", NULL}, {"status", "nosuch", NULL},
		{"resume", "nosuch", NULL},  {"fork", "nosuch", "--from", "1", NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err, want[4300];

		cr_assert_eq(ts_ecl(db, &out, &err, (const char **)cases[i]), 1, "case %zu: %s", i,
			     err);
		snprintf(want, sizeof(want), "ecl: no run with id nosuch in %s\n", db);
		cr_assert_str_eq(err, want, "case %zu", i);
		free(out);
		free(err);
	}
}

/* A cancelled run is over: resuming it fails, its status says so. */
Test(cli, a_cancelled_run_is_over)
{
	char *out, *err, *id, want[256];
	cJSON *json;

	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"draft\": [{\"summary\": \"a b c\"}]}"), "run",
			 "summarize", "--document", "one two three four five six"),
		     0, "%s", out);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "cancel", id), 0);
	snprintf(want, sizeof(want), "Workflow %s cancelled\n", id);
	cr_assert_str_eq(out, want);
	free(out);
	cr_assert_eq(ECL(&out, &err, "resume", id), 1);
	snprintf(want, sizeof(want), "ecl: run %s is cancelled; there is nothing to resume\n", id);
	cr_assert_str_eq(err, want);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, NULL, "status", id, "-o", "json"), 0);
	json = cJSON_Parse(out);
	cr_assert_str_eq(cJSON_GetObjectItem(json, "status")->valuestring, "cancelled", "%s", out);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(json, "error")), "%s", out);
	cJSON_Delete(json);
	free(out);
	free(id);
}

/* The global flags that tune a run: a size cap, durability, and the two other log formats. */
Test(cli, global_flags_tune_the_run)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "--max-answer-bytes", "100000", "--durability", "full",
			 "--log-format", "pretty", "-v", "run", "critique-revise", "--topic", "t"),
		     0, "%s", err);
	cr_assert(strstr(err, "Z info  started      run="), "%s", err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "--log-format", "compact", "--verbose", "run",
			 "critique-revise", "--topic", "t"),
		     0, "%s", err);
	cr_assert(strncmp(err, "ts=", 3) == 0, "%s", err);
	cr_assert(strstr(err, "Z level=info msg=\"started\" run="), "%s", err);
	free(out);
	free(err);
}

/* The listing shows how long each run took, in the unit that reads best; prune takes ages in
 * days, hours, minutes or seconds and a workflow. */
Test(cli, durations_and_ages)
{
	static const struct {
		long long ms;
		const char *shown;
	} cases[] = {{1500, "  1.5s       revisions 1/3\n"},
		     {90000, "  1m30s      revisions 1/3\n"},
		     {7260000, "  2h01m      revisions 1/3\n"}};
	char *out, sql[256];
	size_t i;

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "t"), 0);
	free(out);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(sql, sizeof(sql), "UPDATE runs SET created_ms = updated_ms - %lld",
			 cases[i].ms);
		ts_sql(db, sql);
		cr_assert_eq(ECL(&out, NULL, "runs"), 0);
		cr_assert(strstr(out, cases[i].shown), "`%s` in %s", cases[i].shown, out);
		free(out);
	}
	ts_sql(db, "UPDATE runs SET updated_ms = updated_ms - 7200000");
	cr_assert_eq(ECL(&out, NULL, "prune", "--older-than", "3h", "--dry-run"), 0);
	cr_assert_str_eq(out,
			 "Would delete 0 runs (completed, failed or cancelled, last changed 3h "
			 "ago or more)\n");
	free(out);
	cr_assert_eq(ECL(&out, NULL, "prune", "--older-than", "90m", "--workflow", "triage"), 0);
	cr_assert_str_eq(out,
			 "Deleted 0 runs (completed, failed or cancelled of workflow triage, last "
			 "changed 90m ago or more)\n");
	free(out);
	cr_assert_eq(
		ECL(&out, NULL, "prune", "--older-than", "1.5h", "--workflow", "critique-revise"),
		0);
	cr_assert_str_eq(out, "Deleted 1 run (completed, failed or cancelled of workflow "
			      "critique-revise, last changed 1.5h ago or more)\n");
	free(out);
	cr_assert_eq(ECL(NULL, NULL, "prune", "--older-than", "5x"), 2);
}

/* recover reports a run that fails again, and exits 1. */
Test(cli, recover_reports_a_run_that_fails_again)
{
	const char *down = ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [[{\"$error\": "
					  "\"permanent\", \"message\": \"down\"}]]}");
	char *out;

	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script", down, "run",
			 "critique-revise", "--topic", "two"),
		     1);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script", down, "recover"), 1,
		     "%s", out);
	cr_assert(strstr(out, "Recovering 1 run\n"), "%s", out);
	cr_assert(strstr(out, "Recovered 0, skipped 0 alive, 1 did not complete\n"), "%s", out);
	free(out);
}

/* A finished run's history as JSON: the last checkpoint has no next step; a failed run's
 * status carries its error. */
Test(cli, finished_runs_as_json)
{
	char *out, *id;
	cJSON *json, *last;

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "t"), 0);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "-o", "json"), 0);
	json = cJSON_Parse(out);
	last = cJSON_GetArrayItem(json, cJSON_GetArraySize(json) - 1);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(last, "next")), "%s", out);
	cJSON_Delete(json);
	free(out);
	free(id);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE
					", " REVISE ", " REVISE ", " REVISE "], \"revise\": [" REV1
					", " REV2 ", " REV3 "]}"),
			 "run", "critique-revise", "--topic", "t"),
		     1);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "status", id, "-o", "json"), 0);
	json = cJSON_Parse(out);
	cr_assert_str_eq(cJSON_GetObjectItem(json, "status")->valuestring, "failed", "%s", out);
	cr_assert(cJSON_IsString(cJSON_GetObjectItem(json, "error")), "%s", out);
	cJSON_Delete(json);
	free(out);
	free(id);
}

/* Blanks around a config line and its value do not count. */
Test(cli, config_lines_are_trimmed)
{
	char *out, *err;

	cr_assert_eq(providers_with("  \t[openai]  \n\tmodel =   gpt-y \t\n", &out, &err), 0, "%s",
		     err);
	cr_assert(strstr(out, "  model            gpt-y "), "%s", out);
	free(out);
	free(err);
	unsetenv("ECL_CONFIG");
}

/* Every command that opens the database names a damaged one, and exits 1. */
Test(cli, a_damaged_database_is_named_by_every_command)
{
	static const char *const cases[][6] = {
		{"pause", "x", NULL},
		{"cancel", "x", NULL},
		{"runs", NULL},
		{"history", "x", NULL},
		{"fork", "x", "--from", "1", NULL},
		{"recover", NULL},
		{"prune", "--older-than", "1d", NULL},
		{"status", "x", NULL},
		{"resume", "x", NULL},
		{"run", "critique-revise", "--topic", "t", NULL},
		{"batch", NULL, "--workflow", "critique-revise", NULL},
		{"answer", "x", "--set", "a=b", NULL},
	};
	char in[4300], want[4400];
	size_t i;

	ts_write(db, "this is not a database, not at all: garbage garbage garbage garbage garbage "
		     "garbage garbage garbage garbage garbage\n");
	snprintf(in, sizeof(in), "%s/in.jsonl", dir);
	ts_write(in, "{\"topic\": \"a\"}\n");
	snprintf(want, sizeof(want),
		 "ecl: %s: cannot open the database: file is not a database (the file is damaged "
		 "or not a database)\n",
		 db);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[6];
		char *out, *err;
		size_t k;

		for (k = 0; k < 6; k++)
			args[k] = cases[i][k];
		if (!strcmp(args[0], "batch"))
			args[1] = in;
		cr_assert_eq(ts_ecl(db, &out, &err, args), 1, "%s: %s", args[0], err);
		cr_assert_str_eq(err, want, "%s", args[0]);
		free(out);
		free(err);
	}
}

/* Inputs as --NAME=VALUE too; anything else that is not an option is refused. */
Test(cli, inputs_with_an_equals_sign)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic=equals", "--min_words=3"),
		     0, "%s", err);
	cr_assert(strstr(out, "on the topic \\\"equals\\\""), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "stray"), 2);
	cr_assert_str_eq(err, "ecl: run: unexpected argument `stray` (inputs are given as --NAME "
			      "VALUE)\n");
	free(out);
	free(err);
	{
		const char *argv[] = {ECL_BIN, "providers", NULL};

		setenv("ECL_CONFIG", "/etc/passwd/config", 1);
		cr_assert_eq(ts_run(argv, &out, &err), 2);
		cr_assert_str_eq(err, "ecl: cannot read the config file /etc/passwd/config: Not a "
				      "directory\n");
		free(out);
		free(err);
		unsetenv("ECL_CONFIG");
	}
}

/* On a terminal, a resumed run says which attempt a step is, and a run that fails says so. */
Test(cli, a_terminal_shows_attempts_and_failures)
{
	const char *run[] = {"--provider",      "scripted", "--script", NULL, "run",
			     "critique-revise", "--topic",  "tty",      NULL};
	const char *resume[] = {"--provider", "scripted", "--script", NULL, "resume", NULL, NULL};
	char *tty, *out, *id;

	run[3] = ts_script(
		dir, "{\"generate\": [[{\"$error\": \"permanent\", \"message\": \"down\"}]]}");
	cr_assert_eq(run_on_tty(run, &tty, &out), 1, "%s%s", out, tty);
	cr_assert(strstr(tty, " interrupted\r\n"), "%s", tty);
	id = strdup(ts_started_id(out));
	free(tty);
	free(out);
	resume[3] = ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " REVISE
				   ", " REVISE ", " REVISE "], \"revise\": [" REV1 ", " REV2
				   ", " REV3 "]}");
	resume[5] = id;
	cr_assert_eq(run_on_tty(resume, &tty, &out), 1, "%s%s", out, tty);
	cr_assert(strstr(tty, "  [1/8] generate (attempt 2) ... done in "), "%s", tty);
	cr_assert(strstr(tty, " failed\r\n"), "%s", tty);
	free(tty);
	free(out);
	free(id);
}

/* serve: a registration the admin API refuses stops the server with 1; an address that is no
 * IPv4 address is a usage error; a damaged database stops it before it listens. */
Test(cli, serve_stops_when_it_cannot_start)
{
	char *out, *err, admin[64];
	int port, fd = ts_listen_any(&port, 0); /* bound, not listening: refused */

	snprintf(admin, sizeof(admin), "http://127.0.0.1:%d", port);
	cr_assert_eq(ECL(&out, &err, "serve", "--port", "0", "--bind", "127.0.0.1", "--register",
			 admin, "--advertise", "http://127.0.0.1:1/"),
		     1, "%s", err);
	cr_assert(strstr(err, "ecl serve: listening on port "), "%s", err);
	cr_assert(strstr(err, "ecl: POST http://127.0.0.1:"), "%s", err);
	cr_assert(strstr(err, "/deployments: Failed to connect to 127.0.0.1 port "), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "serve", "--port", "0", "--bind", "999.1.1.1"), 2);
	cr_assert_str_eq(err, "ecl: serve: not an IPv4 address to listen on: 999.1.1.1\n");
	free(out);
	free(err);
	close(fd);
}

/* A batch file that cannot be read, a run of a workflow this program does not have, an
 * input the engine refuses. */
Test(cli, what_a_command_cannot_use)
{
	char *out, *err, want[4400], *id;

	cr_assert_eq(ECL(&out, &err, "batch", dir, "--workflow", "critique-revise"), 1);
	snprintf(want, sizeof(want), "ecl: cannot read %s: Is a directory\n", dir);
	cr_assert_str_eq(err, want);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "run", "triage", "--request", "x", "--tier", "bogus"), 2);
	cr_assert_str_eq(err, "ecl: input `tier`: expected one of \"free\", \"pro\", "
			      "\"enterprise\", got \"bogus\"; usage: ecl run triage --request "
			      "<string> [--tier <free|pro|enterprise>]\n");
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [[{\"$error\": \"permanent\", \"message\": "
					"\"down\"}]]}"),
			 "run", "critique-revise", "--topic", "t"),
		     1);
	id = strdup(ts_started_id(out));
	free(out);
	ts_sql(db, "UPDATE runs SET workflow = 'gone'");
	cr_assert_eq(ECL(&out, &err, "resume", id), 1);
	snprintf(want, sizeof(want),
		 "ecl: run %s uses workflow gone, which this program does not have\n", id);
	cr_assert_str_eq(err, want);
	free(out);
	free(err);
	free(id);
}

/* Settings that cannot be used: a key file flag naming no file, a connect timeout that is
 * no number (named as the setting it is), a value longer than ecl keeps (cut), a Restate
 * ingress that refuses connections. */
Test(cli, settings_that_cannot_be_used)
{
	char *out, *err, want[4400], *text;

	cr_assert_eq(ECL(&out, &err, "--api-key-file", "/nonexistent/key", "providers"), 2);
	cr_assert_str_eq(err, "ecl: --api-key-file: cannot read the key file /nonexistent/key: No "
			      "such file or directory\n");
	free(out);
	free(err);
	providers_with("connect_timeout = 0\n", &out, &err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t"), 2);
	snprintf(want, sizeof(want),
		 "ecl: %s/config:1: connect_timeout `0` is not a duration in seconds from 0.001 to "
		 "604800\n",
		 dir);
	cr_assert_str_eq(err, want);
	free(out);
	free(err);
	/* a value of 4200 characters: the first 4095 are kept */
	text = malloc(4300);
	cr_assert_not_null(text);
	memcpy(text, "model = ", 8);
	memset(text + 8, 'm', 4200);
	strcpy(text + 4208, "\n");
	cr_assert_eq(providers_with(text, &out, &err), 0, "%s", err);
	memset(want, 'm', 4095);
	want[4095] = '\0';
	cr_assert(strstr(out, want), "%s", out);
	want[4095] = 'm';
	want[4096] = '\0';
	cr_assert_null(strstr(out, want), "the value was not cut");
	free(text);
	free(out);
	free(err);
	unsetenv("ECL_CONFIG");
	{
		int port, fd = ts_listen_any(&port, 0);
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
		cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t", "--engine",
				 "restate", "--restate-url", url),
			     1);
		cr_assert(strncmp(err, "ecl: POST http://127.0.0.1:", 27) == 0, "%s", err);
		cr_assert(strstr(err, "/run/send: Failed to connect to 127.0.0.1 port "), "%s",
			  err);
		free(out);
		free(err);
		close(fd);
	}
}

/* The database's directory cannot be made: a file where a directory should be, or a path
 * longer than a path may be. */
Test(cli, a_database_directory_that_cannot_be_made)
{
	char *out, *err, path[6000], want[6100];

	ts_write(ts_path(dir, "file"), "x");
	snprintf(path, sizeof(path), "%s/file/a/b/runs.db", dir);
	setenv("ECL_DB", path, 1);
	{
		const char *argv[] = {ECL_BIN, "runs", NULL};

		cr_assert_eq(ts_run(argv, &out, &err), 1);
	}
	snprintf(want, sizeof(want), "ecl: cannot create the directory of %s: Not a directory\n",
		 path);
	cr_assert_str_eq(err, want);
	free(out);
	free(err);
	unsetenv("ECL_DB");
	memset(path, 'a', 5000);
	path[0] = '/';
	strcpy(path + 5000, "/runs.db");
	{
		const char *argv[] = {ECL_BIN, "--db", path, "runs", NULL};

		cr_assert_eq(ts_run(argv, &out, &err), 1);
	}
	cr_assert(strncmp(err, "ecl: cannot create the directory of /aaaa", 41) == 0, "%s", err);
	free(out);
	free(err);
}

/* A rejected summary is drafted again: the set step on the way (`reviewed`) has no output of
 * its own in the history; on a terminal a batch wider than its concurrency ends with its
 * progress line. */
Test(cli, a_set_step_has_no_output_and_a_batch_waits_its_turn)
{
	const char *s =
		ts_script(dir, "{\"draft\": [{\"summary\": \"a b c\"}, {\"summary\": \"a b\"}]}");
	char *out, *id, *tty, path[4300];
	cJSON *json, *item;
	int nulls = 0;

	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script", s, "run", "summarize",
			 "--document", "one two three four five six"),
		     0, "%s", out);
	id = strdup(ts_started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "answer", id, "--set", "approved=false", "--set", "comment=no",
			 "--no-wait"),
		     0);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--provider", "scripted", "--script", s, "resume", id), 0,
		     "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "history", id, "-o", "json"), 0);
	json = cJSON_Parse(out);
	cJSON_ArrayForEach (item, json)
		if (cJSON_IsString(cJSON_GetObjectItem(item, "step")) &&
		    !strcmp(cJSON_GetObjectItem(item, "step")->valuestring, "reviewed"))
			nulls += cJSON_IsNull(cJSON_GetObjectItem(item, "output"));
	cr_assert_eq(nulls, 1, "%s", out);
	cJSON_Delete(json);
	free(out);
	free(id);

	snprintf(path, sizeof(path), "%s/in.jsonl", dir);
	ts_write(path, "{\"topic\": \"a\"}\n{\"topic\": \"b\"}\n{\"topic\": \"c\"}\n");
	{
		const char *batch[] = {"batch",         path, "--workflow", "critique-revise",
				       "--concurrency", "1",  NULL};

		cr_assert_eq(run_on_tty(batch, &tty, &out), 0, "%s%s", out, tty);
		/* (the lines before it depend on timing: one at most every 0.1 s) */
		cr_assert(strstr(tty, "\rbatch: 3/3 ended, 3 completed, 0 waiting, 0 failed, 0 "
				      "stopped, 0 in "
				      "flight, "),
			  "%s", tty);
		free(tty);
		free(out);
	}
}

/* ---- allocation failures ---------------------------------------------------------------- */

/* Run ecl_oom (ecl with ECL_TEST_FAIL_ALLOC_AFTER, tests/tools/ecl_oom.c) with args for every
 * n until it succeeds: before that, each attempt exits 1 saying "out of memory" (never a
 * crash, a leak in the sanitizer build, whose report would change the status, or a usage
 * error: the arguments are good). fresh: a new database each time, copied from db. Returns
 * the output of the run that succeeded. */
static char *every_allocation_may_fail(const char *const *args, int fresh)
{
	const char *argv[32] = {ECL_OOM_BIN, "--db", NULL};
	char dbn[4300], *out = NULL;
	long n;
	int i = 3, rc = -1;

	argv[2] = fresh ? dbn : db;
	for (; *args; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	for (n = 0; n < 5000; n++) {
		char env[32], *err;

		snprintf(dbn, sizeof(dbn), "%s/oom-%ld.db", dir, n);
		snprintf(env, sizeof(env), "%ld", n);
		setenv("ECL_TEST_FAIL_ALLOC_AFTER", env, 1);
		rc = ts_run(argv, &out, &err);
		unsetenv("ECL_TEST_FAIL_ALLOC_AFTER");
		if (rc == 0) {
			free(err);
			break;
		}
		cr_assert_eq(rc, 1, "%s, allocation %ld: exit status %d: %s", argv[3], n, rc, err);
		cr_assert(strstr(err, "out of memory"), "%s, allocation %ld: %s", argv[3], n, err);
		free(out);
		free(err);
	}
	cr_assert_eq(rc, 0, "%s never got through", argv[3]);
	return out;
}

Test(cli, every_allocation_of_a_batch_may_fail, .timeout = 300)
{
	char path[4300], *out;
	const char *args[] = {"batch", path, "--workflow", "critique-revise", NULL};

	snprintf(path, sizeof(path), "%s/in.jsonl", dir);
	/* (one input: each attempt is a process, ~220 of them, slow under the sanitizers) */
	ts_write(path, "{\"topic\": \"a\"}\n");
	out = every_allocation_may_fail(args, 1);
	cr_assert(strstr(out, "\"completed\": 1"), "%s", out);
	free(out);
}

Test(cli, every_allocation_of_the_json_listings_may_fail, .timeout = 300)
{
	static const char *const providers[] = {"providers", "-o", "json", NULL};
	static const char *const runs[] = {"runs", "-o", "json", NULL};
	static const char *const list[] = {"list", "-o", "json", NULL};
	char *out, id[64];

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "t"), 0);
	snprintf(id, sizeof(id), "%s", ts_started_id(out));
	free(out);
	free(every_allocation_may_fail(providers, 0));
	out = every_allocation_may_fail(list, 0);
	cr_assert(strstr(out, "\"id\": \"triage\""), "%s", out);
	free(out);
	out = every_allocation_may_fail(runs, 0);
	cr_assert(strstr(out, id), "%s", out);
	free(out);
	{
		const char *status[] = {"status", id, "-o", "json", NULL};
		const char *history[] = {"history", id, "--full", "-o", "json", NULL};

		out = every_allocation_may_fail(status, 0);
		cr_assert(strstr(out, "\"status\": \"completed\""), "%s", out);
		free(out);
		out = every_allocation_may_fail(history, 0);
		cr_assert(strstr(out, "\"prompt\": "), "%s", out);
		free(out);
	}
}

/* ---- conventions: --version, help per command, input flags, completion, progress ---------- */

Test(cli, version_names_the_version_the_abi_and_the_revision)
{
	const char *eclc[] = {ECLC_BIN, "--version", NULL};
	char *out = NULL, *err = NULL;

	cr_assert_eq(ECL(&out, &err, "--version"), 0, "%s", err);
	cr_assert(strncmp(out, "ecl " ECL_VERSION " (libecl " ECL_VERSION ", ABI 2", 22) == 0, "%s",
		  out);
	cr_assert(strstr(out, ", ABI 2"), "%s", out);
	cr_assert_eq(access(db, F_OK), -1, "--version opened the database");
	free(out);
	free(err);
	cr_assert_eq(ts_run(eclc, &out, &err), 0, "%s", err);
	cr_assert(strncmp(out, "eclc ", 5) == 0 && strstr(out, "ABI 2"), "%s", out);
	free(out);
	free(err);
}

/* `ecl pause --help` and `ecl help pause` print pause's own help, not the global one. */
Test(cli, every_command_has_its_own_help)
{
	static const char *const commands[] = {"list",   "run",    "resume",    "status", "pause",
					       "cancel", "runs",   "history",   "fork",   "recover",
					       "prune",  "batch",  "providers", "answer", "graph",
					       "serve",  "worker", "workers"};
	char *out = NULL, *out2 = NULL, *err = NULL, want[64];
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		cr_assert_eq(ECL(&out, &err, commands[i], "--help"), 0, "%s: %s", commands[i], err);
		snprintf(want, sizeof(want), "usage: ecl [global options] %s", commands[i]);
		cr_assert(strncmp(out, want, strlen(want)) == 0, "%s --help: %s", commands[i], out);
		cr_assert_null(strstr(out, "commands:"), "%s --help is the global help",
			       commands[i]);
		free(err);
		cr_assert_eq(ECL(&out2, &err, "help", commands[i]), 0, "%s", err);
		cr_assert_str_eq(out, out2, "help %s differs from %s --help", commands[i],
				 commands[i]);
		free(out);
		free(out2);
		free(err);
	}
	cr_assert_eq(ECL(&out, &err, "pause", "-h"), 0);
	cr_assert(strstr(out, "pause RUN-ID"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "help"), 0);
	cr_assert(strstr(out, "commands:"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "help", "frobnicate"), 2);
	cr_assert(strstr(err, "unknown command `frobnicate`"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(access(db, F_OK), -1, "help opened the database");
}

Test(cli, run_workflow_help_lists_its_inputs_with_types_and_defaults)
{
	char *out = NULL, *err = NULL;

	cr_assert_eq(ECL(&out, &err, "run", "summarize", "--help"), 0, "%s", err);
	cr_assert(strstr(out, "usage: ecl run summarize [inputs]"), "%s", out);
	cr_assert(strstr(out, "--document               string, required"), "%s", out);
	cr_assert(strstr(out, "--max-words              int 5..1000, default 60"), "%s", out);
	cr_assert(strstr(out, "The most words the summary may have"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "help", "run", "triage"), 0, "%s", err);
	cr_assert(strstr(out, "--tier"), "%s", out);
	cr_assert(strstr(out, "enum ("), "the choices of an enum: %s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "run", "nosuch", "--help"), 2);
	cr_assert(strstr(err, "unknown workflow `nosuch`"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(access(db, F_OK), -1, "help started a run");
}

/* --min-words is the input min_words; --min_words still is. */
Test(cli, input_flags_take_dashes_for_underscores)
{
	char *out = NULL, *err = NULL, *st = NULL, *id;

	cr_assert_eq(
		ECL(&out, &err, "run", "critique-revise", "--topic", "Tea", "--min-words", "77"), 0,
		"%s%s", out, err);
	id = strdup(ts_started_id(out));
	free(out);
	free(err);
	cr_assert_eq(ECL(&st, NULL, "status", id, "-o", "json"), 0);
	cr_assert(strstr(st, "\"min_words\": 77") || strstr(st, "\"min_words\":77"), "%s", st);
	free(st);
	free(id);
	cr_assert_eq(
		ECL(&out, &err, "run", "critique-revise", "--topic", "Tea", "--min-words", "many"),
		2);
	cr_assert(strstr(err, "input `min_words`: `many` is not an integer"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "Tea", "--min_words=5"),
		     0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(
		ECL(&out, &err, "run", "critique-revise", "--topic", "Tea", "--min-wordz", "5"), 2);
	cr_assert(strstr(err, "no input `min-wordz`"), "%s", err);
	free(out);
	free(err);
}

/* The completion script, sourced by bash and asked as bash would ask it. */
static char *complete_line(const char *words)
{
	char cmd[8192], *out = NULL, *err = NULL;
	const char *argv[] = {"/bin/bash", "--norc", "--noprofile", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd),
		 ". %s/scripts/ecl-completion.bash && COMP_WORDS=(%s) && "
		 "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _ecl && "
		 "printf '%%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '",
		 ECL_SOURCE_DIR, words);
	cr_assert_eq(ts_run(argv, &out, &err), 0, "%s", err);
	free(err);
	return out;
}

Test(cli, bash_completion_of_commands_workflows_inputs_and_runs)
{
	char words[6000], *out = NULL, *id;

	out = complete_line(ECL_BIN " pa");
	cr_assert_str_eq(out, "pause ");
	free(out);
	out = complete_line(ECL_BIN " --prov");
	cr_assert_str_eq(out, "--provider ");
	free(out);
	snprintf(words, sizeof(words), "%s --db %s run cri", ECL_BIN, db);
	out = complete_line(words);
	cr_assert_str_eq(out, "critique-revise ");
	free(out);
	out = complete_line(ECL_BIN " worker");
	cr_assert_str_eq(out, "worker workers ");
	free(out);
	out = complete_line(ECL_BIN " workers -");
	cr_assert_str_eq(out, "--help -o ");
	free(out);
	snprintf(words, sizeof(words), "%s --db %s worker --workflows tri", ECL_BIN, db);
	out = complete_line(words);
	cr_assert_str_eq(out, "triage ");
	free(out);
	snprintf(words, sizeof(words), "%s --db %s run critique-revise --", ECL_BIN, db);
	out = complete_line(words);
	cr_assert_str_eq(out, "--help --input-file --min-words --set --topic ");
	free(out);

	cr_assert_eq(ECL(&out, NULL, "run", "critique-revise", "--topic", "Tea"), 0);
	id = strdup(ts_started_id(out));
	free(out);
	snprintf(words, sizeof(words), "%s --db %s status ''", ECL_BIN, db);
	out = complete_line(words);
	cr_assert(strstr(out, id), "the run id %s is not offered: %s", id, out);
	free(out);
	free(id);
}

/* A log line during a step, on a terminal: the progress line is cleared first, and drawn
 * again after it, instead of running into it ("[1/8] generate ...12:00:00 warn repair"). */
Test(cli, a_log_line_on_a_terminal_does_not_break_the_progress_line)
{
	const char *scr = ts_script(dir, "{\"generate\": [[\"not json at all\", " GEN
					 "]], \"critique\": [" PASS "]}");
	char buf[65536], *slave_name;
	size_t len = 0;
	int master, status;
	pid_t pid;
	const char *p, *warn;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
	slave_name = ptsname(master);
	cr_assert_not_null(slave_name);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int slave = open(slave_name, O_RDWR);

		if (slave < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(127);
		close(master);
		execl(ECL_BIN, ECL_BIN, "--db", db, "--provider", "scripted", "--script", scr,
		      "run", "critique-revise", "--topic", "Tea", (char *)NULL);
		_exit(127);
	}
	for (;;) {
		ssize_t n = read(master, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break; /* EIO once the child closed the terminal */
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", buf);
	warn = strstr(buf, "warn");
	cr_assert_not_null(warn, "no log line: %s", buf);
	cr_assert(strstr(warn, "repair"), "%s", buf);
	/* The line was cleared right before the log line ... */
	p = strstr(buf, "  [1/8] generate ...\r\033[K");
	cr_assert_not_null(p, "the progress line was not cleared before the log line: %s", buf);
	p += strlen("  [1/8] generate ...\r\033[K");
	cr_assert(p < warn && strchr(p, '\n') > warn, "not the log line after it: %s", buf);
	/* ... and drawn again after it, where the step then ends. */
	p = strchr(warn, '\n');
	cr_assert_not_null(p);
	cr_assert(strncmp(p + 1, "  [1/8] generate ... done in", 28) == 0, "%s", buf);
}

/* ecl_main names the program after argv[0]: a program of its own built on it suggests its
 * own name in usage texts, --version and the commands it prints to go on with. */
Test(cli, a_program_on_ecl_main_speaks_of_itself)
{
	char bin[4200], doc[4200], scr[4200], *out = NULL, *err = NULL;
	const char *help[] = {bin, "--help", NULL}, *version[] = {bin, "--version", NULL};
	const char *run[] = {bin, "--db", db,          "--provider",   "scripted", "--script",
			     scr, "run",  "summarize", "--input-file", doc,        NULL};

	snprintf(bin, sizeof(bin), "%s/myapp", dir);
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
	cr_assert_eq(ts_run(help, &out, &err), 0, "%s", err);
	cr_assert(strncmp(out, "usage: myapp [global options]", 29) == 0, "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ts_run(version, &out, &err), 0, "%s", err);
	cr_assert(strncmp(out, "myapp: ecl " ECL_VERSION " (", 13 + strlen(ECL_VERSION)) == 0, "%s",
		  out);
	free(out);
	free(err);
	snprintf(doc, sizeof(doc), "document=%s/dsl/examples/document.txt", ECL_SOURCE_DIR);
	snprintf(scr, sizeof(scr), "%s/dsl/examples/summarize.json", ECL_SOURCE_DIR);
	cr_assert_eq(ts_run(run, &out, &err), 0, "%s%s", out, err);
	cr_assert(strstr(out, "Answer it with: myapp --db "), "%s", out);
	free(out);
	free(err);
}

/* ecl stats: per workflow, from the store, in text and JSON. */
Test(cli, stats_per_workflow)
{
	char *out, *err;
	cJSON *j, *w;

	/* one run passed after a revision, one failed after three */
	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
					"], \"revise\": [" REV1 "]}"),
			 "run", "critique-revise", "--topic", "t"),
		     0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"generate\": [" GEN "], \"critique\": [" REVISE
					", " REVISE ", " REVISE ", " REVISE "], \"revise\": [" REV1
					", " REV2 ", " REV3 "]}"),
			 "run", "critique-revise", "--topic", "t"),
		     1, "%s", out);
	free(out);
	free(err);

	/* and one waits for its approval after a draft (LLM) and a check (code) */
	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 ts_script(dir, "{\"draft\": [{\"summary\": \"A short summary.\"}]}"),
			 "run", "summarize", "--input-file", "document=dsl/examples/document.txt"),
		     0, "%s", err);
	free(out);
	free(err);

	cr_assert_eq(ECL(&out, &err, "stats", "-o", "json", "--since", "1d"), 0, "%s", err);
	cr_assert_not_null(j = cJSON_Parse(out), "%s", out);
	cr_assert_eq(cJSON_GetArraySize(j), 2);
	w = cJSON_GetArrayItem(j, 0);
	cr_assert_str_eq(cJSON_GetObjectItem(w, "workflow")->valuestring, "critique-revise");
	cr_assert_eq(cJSON_GetObjectItem(w, "runs")->valueint, 2);
	cr_assert_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(w, "by_status"), "completed")->valueint, 1);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "by_status"), "failed")->valueint,
		     1);
	cr_assert_float_eq(cJSON_GetObjectItem(w, "success_rate")->valuedouble, 0.5, 1e-9);
	/* 4 checkpoints, then 7 and the failure at the limit */
	cr_assert_float_eq(cJSON_GetObjectItem(w, "mean_steps")->valuedouble, 6.0, 1e-9, "%s", out);
	cr_assert_float_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "mean_limits"), "revisions")
				   ->valuedouble,
			   2.0, 1e-9);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "step_latency"), "n")->valueint, 12,
		     "%s", out);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "llm_latency"), "n")->valueint, 12,
		     "every step of it asks the LLM");
	w = cJSON_GetArrayItem(j, 1);
	cr_assert_str_eq(cJSON_GetObjectItem(w, "workflow")->valuestring, "summarize");
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "by_status"), "waiting")->valueint,
		     1);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(w, "success_rate")), "none finished");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(w, "mean_steps")));
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "step_latency"), "n")->valueint, 2);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "llm_latency"), "n")->valueint, 1,
		     "the draft, not the check");
	cr_assert_float_eq(
		cJSON_GetObjectItem(cJSON_GetObjectItem(w, "mean_limits"), "drafts")->valuedouble,
		1.0, 1e-9);
	cJSON_Delete(j);
	free(out);
	free(err);

	cr_assert_eq(ECL(&out, &err, "stats"), 0, "%s", err);
	cr_assert(strstr(out, "critique-revise: 2 runs (completed 1, failed 1)\n"), "%s", out);
	cr_assert(strstr(out, "  success        50.0 % of 2 finished; 6.0 steps per finished "
			      "run\n  revisions      2.00 per run\n  step latency   p50 "),
		  "%s", out);
	cr_assert(strstr(out, " (12 LLM steps)\n"), "%s", out);
	cr_assert(strstr(out, "summarize: 1 run (waiting 1)\n  drafts         1.00 per run\n"),
		  "%s", out);
	cr_assert(strstr(out, " (1 LLM step)\n"), "%s", out);
	free(out);
	free(err);

	cr_assert_eq(ECL(&out, &err, "stats", "--workflow", "triage"), 0, "%s", err);
	cr_assert_str_eq(out, "No runs.\n");
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "stats", "--since", "soon"), 2);
	cr_assert_str_eq(err, "ecl: --since: `soon` is not an age like 7d, 12h\n");
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "stats", "--bogus", "x"), 2);
	free(out);
	free(err);
}
