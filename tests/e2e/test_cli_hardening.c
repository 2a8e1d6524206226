/*
 * test_cli_hardening.c - the ecl command where a careless or hostile argument used to be taken
 * as something else: numbers read strictly (durations, counts, ages), inputs read with a cap,
 * and the other guards of the command line, each through the built binary.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

static char *dir;
static char db[4096];
static char disk[3900]; /* a small file system a test mounted, or "" */

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	setenv("XDG_CONFIG_HOME", dir, 1); /* no config file unless a test writes one */
	unsetenv("ECL_PROVIDER");
	unsetenv("ECL_MODEL");
}

static void teardown(void)
{
	if (disk[0])
		umount2(disk, MNT_DETACH);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(cli_hardening, .init = setup, .fini = teardown, .timeout = 120);

/* Run ecl with --db and the given arguments (NULL-terminated). */
#define ECL(out, err, ...) ts_ecl(db, out, err, (const char *[]){__VA_ARGS__, NULL})

Test(cli_hardening, durations_that_are_not_at_least_a_millisecond_are_refused)
{
	static const char *const bad[] = {"0.0001", "nan", "inf",  "-1",
					  "0",      "1e3", "0x10", " 5",
					  "5s",     "",    "1.",   "99999999999999999999"};
	static const char *const flags[] = {"--timeout", "--connect-timeout"};
	size_t i, k;

	for (k = 0; k < 2; k++)
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *out, *err, want[200];

			cr_assert_eq(ECL(&out, &err, flags[k], bad[i], "list"), 2, "%s %s: %s",
				     flags[k], bad[i], err);
			snprintf(
				want, sizeof(want),
				"ecl: %s: `%s` is not a duration in seconds from 0.001 to 604800\n",
				flags[k], bad[i]);
			cr_assert_str_eq(err, want);
			free(out);
			free(err);
		}
	for (k = 0; k < 2; k++) {
		char *out, *err;

		cr_assert_eq(ECL(&out, &err, flags[k], "0.001", "list"), 0, "%s", err);
		free(out);
		free(err);
	}
	{
		/* the same from the config file, naming its line */
		char path[4200], *out, *err;

		snprintf(path, sizeof(path), "%s/ecl", dir);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/ecl/config", dir);
		ts_write(path, "timeout = nan\n");
		cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "t"), 2, "%s",
			     err);
		cr_assert(strstr(err, "config:1: timeout `nan` is not a duration"), "%s", err);
		free(out);
		free(err);
	}
}

Test(cli_hardening, numbers_are_read_strictly)
{
	static const struct {
		const char *args[4], *error;
	} cases[] = {
		{{"--max-answer-bytes", "99999999999999999999", "list"},
		 "ecl: --max-answer-bytes: `99999999999999999999` is not a positive number of "
		 "bytes\n"},
		{{"--max-answer-bytes", "0x10", "list"},
		 "ecl: --max-answer-bytes: `0x10` is not a positive number of bytes\n"},
		{{"prune", "--older-than", "0x10d", NULL},
		 "ecl: --older-than: `0x10d` is not an age like 30d, 12h\n"},
		{{"prune", "--older-than", "1e400d", NULL},
		 "ecl: --older-than: `1e400d` is not an age like 30d, 12h\n"},
		{{"runs", "--limit", "-1", NULL}, "ecl: --limit: `-1` is not a number\n"},
		{{"runs", "--limit", "99999999999", NULL},
		 "ecl: --limit: `99999999999` is not a number\n"},
		{{"fork", "x", "--from", "+3"}, "ecl: --from: `+3` is not a checkpoint number\n"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err;
		const char *const *a = cases[i].args;

		cr_assert_eq(ECL(&out, &err, a[0], a[1], a[2], a[3]), 2, "%zu: %s", i, err);
		cr_assert_str_eq(err, cases[i].error);
		free(out);
		free(err);
	}
}

/* An input file that never ends (/dev/zero, a FIFO) is cut off at the cap while it is read,
 * with an error naming the input, the file and the cap, and nothing is started. */
Test(cli_hardening, an_endless_input_file_is_refused_at_the_cap)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "run", "summarize", "--input-file", "document=/dev/zero"), 2,
		     "%s", err);
	cr_assert_str_eq(err, "ecl: input `document`: cannot read /dev/zero: it is larger than "
			      "the limit of 16 MiB for an input file\n");
	cr_assert_str_eq(out, "");
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "run", "summarize", "--input-file", "/dev/zero"), 2, "%s",
		     err);
	cr_assert_str_eq(err, "ecl: cannot read the input file /dev/zero: it is larger than the "
			      "limit of 16 MiB for an input file\n");
	free(out);
	free(err);
	cr_assert_eq(access(db, F_OK), -1, "no database was made");
}

/* A bare prune deleted every finished run, minutes old ones too: it now needs an age, and
 * says what it deletes. */
Test(cli_hardening, prune_needs_an_age_and_says_what_it_deletes)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "run", "critique-revise", "--topic", "Tea"), 0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "prune"), 2);
	cr_assert_str_eq(err, "ecl: prune: say how old a run must be to go, e.g. --older-than 30d "
			      "(--older-than 0s for every finished run); --dry-run counts them "
			      "first\n");
	free(out);
	free(err);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 1, "nothing deleted");
	cr_assert_eq(ECL(&out, &err, "prune", "--older-than", "1d"), 0, "%s", err);
	cr_assert_str_eq(out, "Deleted 0 runs (completed, failed or cancelled, last changed 1d ago "
			      "or more)\n");
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "prune", "--older-than", "0s", "--status", "completed,failed",
			 "--workflow", "critique-revise", "--dry-run"),
		     0, "%s", err);
	cr_assert_str_eq(out, "Would delete 1 run (completed or failed of workflow "
			      "critique-revise, last changed 0s ago or more)\n");
	free(out);
	free(err);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 1);
}

static const char *write_script(const char *text)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/script.json", dir);
	ts_write(path, text);
	return path;
}

/* The command a hint tells the user to run names the database as one shell word, whatever
 * the path holds. */
Test(cli_hardening, the_resume_hint_is_quoted_for_the_shell)
{
	char odd[4300], want[9000], *out, *err;
	const char *id;
	const char *argv[] = {ECL_BIN,           "--db",     odd,  "--provider",
			      "scripted",        "--script", NULL, "run",
			      "critique-revise", "--topic",  "t",  NULL};

	snprintf(odd, sizeof(odd), "%s/my 'runs'\n$HOME.db", dir);
	argv[6] = write_script("{}"); /* no answer: the run is interrupted at once */
	cr_assert_eq(ts_run(argv, &out, &err), 1, "%s%s", out, err);
	id = ts_started_id(out);
	snprintf(want, sizeof(want),
		 "resume it with: ecl --db '%s/my '\\''runs'\\''\n$HOME.db' resume %s\n", dir, id);
	cr_assert(strstr(err, want), "%s", err);
	free(out);
	free(err);
}

/* A refusal is printed alone: no "Workflow resumed:" before it, no "History of" before an
 * unknown run. */
Test(cli_hardening, refusals_are_not_announced_as_resumed)
{
	char *out, *err, id[64];

	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 "dsl/examples/summarize.json", "run", "summarize", "--input-file",
			 "document=dsl/examples/document.txt"),
		     0, "%s", err);
	snprintf(id, sizeof(id), "%s", ts_started_id(out));
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "cancel", id), 0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "resume", id), 1);
	cr_assert_str_eq(out, "");
	cr_assert(strstr(err, "is cancelled; there is nothing to resume"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "history", "nope"), 1);
	cr_assert_str_eq(out, "");
	cr_assert(strstr(err, "no run with id nope"), "%s", err);
	free(out);
	free(err);
}

/* A failed run is reported once, on stdout, naming its step once. */
Test(cli_hardening, a_failure_is_printed_once_naming_the_step_once)
{
	char *out, *err, want[300];

	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 write_script("{\"generate\": [[{\"content\": \"x\", \"word_count\": "
				      "\"bad\"}, {\"content\": \"x\", \"word_count\": \"bad\"}]]}"),
			 "run", "critique-revise", "--topic", "t"),
		     1, "%s%s", out, err);
	snprintf(want, sizeof(want),
		 "Workflow %s failed at step generate: field `word_count`: expected an integer, "
		 "got \"bad\"\n",
		 ts_started_id(out));
	cr_assert(strstr(out, want), "%s", out);
	cr_assert_null(strstr(err, "failed"), "not again on stderr: %s", err);
	free(out);
	free(err);
}

/* Listings name each loop counter (summarize's is `drafts`, not "revisions"), give the 16
 * characters of an id their column, and refuse a status that does not exist. */
Test(cli_hardening, listings_name_each_limit_and_refuse_unknown_statuses)
{
	char *out, *err, id[64], want[200];

	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script",
			 "dsl/examples/summarize.json", "run", "summarize", "--input-file",
			 "document=dsl/examples/document.txt"),
		     0, "%s", err);
	snprintf(id, sizeof(id), "%s", ts_started_id(out));
	cr_assert_eq(strlen(id), 16);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "status", id), 0, "%s", err);
	cr_assert(strstr(out, "\nDrafts:       1 of at most 3\n"), "%s", out);
	cr_assert_null(strstr(out, "Revisions"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "runs"), 0, "%s", err);
	cr_assert(strncmp(out, "ID               WORKFLOW ", 26) == 0, "%s", out);
	snprintf(want, sizeof(want), "\n%s summarize ", id);
	cr_assert(strstr(out, want), "the id has its column: %s", out);
	cr_assert(strstr(out, " drafts 1/3\n"), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "runs", "-o", "json"), 0, "%s", err);
	cr_assert(strstr(out, "\"counter\": \"drafts\""), "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&out, &err, "runs", "--status", "waiting,bogus"), 2);
	cr_assert_str_eq(err,
			 "ecl: unknown status `bogus` (the statuses: running, waiting, paused, "
			 "interrupted, completed, failed, cancelled)\n");
	cr_assert_str_eq(out, "");
	free(out);
	free(err);
}

/* An input given twice is refused, however it is given, rather than taken from the last. */
Test(cli_hardening, an_input_given_twice_is_refused)
{
	static const char *const cases[][4] = {
		{"--set", "topic=A", "--set", "topic=B"},
		{"--topic", "A", "--set", "topic=B"},
		{"--topic=A", "--input-file", "topic=/etc/hostname", NULL},
		{"--input-file", "topic=/etc/hostname", "--topic", "B"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err;
		const char *const *a = cases[i];

		cr_assert_eq(ECL(&out, &err, "run", "critique-revise", a[0], a[1], a[2], a[3]), 2,
			     "%zu: %s", i, err);
		cr_assert_str_eq(err, "ecl: input `topic` is given twice\n");
		free(out);
		free(err);
	}
	cr_assert_eq(access(db, F_OK), -1, "nothing started");
}

/* Files named on the command line that cannot be read are usage errors alike (exit 2). */
Test(cli_hardening, unreadable_files_of_the_command_line_exit_2)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script", "/nonexistent/script",
			 "run", "critique-revise", "--topic", "t"),
		     2, "%s", err);
	cr_assert_str_eq(err, "ecl: cannot read the script /nonexistent/script: No such file or "
			      "directory\n");
	free(out);
	free(err);
	cr_assert_eq(
		ECL(&out, &err, "run", "summarize", "--input-file", "document=/nonexistent/doc"), 2,
		"%s", err);
	free(out);
	free(err);
}

/* Write path until the file system holding it is full. */
static void fill(const char *path)
{
	static char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	while (write(fd, block, sizeof(block)) > 0)
		;
	cr_assert_eq(errno, ENOSPC, "%s", strerror(errno));
	close(fd);
}

/* The bytes free on the file system holding path. */
static long long room(const char *path)
{
	struct statvfs v;

	cr_assert_eq(statvfs(path, &v), 0);
	return (long long)v.f_bavail * (long long)v.f_frsize;
}

/* A disk filled by something else while runs are stored: a run stops with a clear error,
 * the runs can still be listed, prune deletes the old runs and gives their room back to
 * the disk (it spends the reserve kept beside the database to do so, and makes it again),
 * and the stopped run then resumes to its end. */
Test(cli_hardening, prune_frees_room_on_a_full_disk)
{
	char script[4300], filler[4300], reserve[4300], *out, *err, id[64];
	FILE *f;
	struct stat st;
	long long before;
	int i;

	snprintf(disk, sizeof(disk), "%s/disk", dir);
	cr_assert_eq(mkdir(disk, 0755), 0);
	/* a small disk of its own (the tests run as root, as the PostgreSQL ones need) */
	if (mount("tmpfs", disk, "tmpfs", 0, "size=8m") != 0) {
		int e = errno;

		disk[0] = '\0';
		cr_assert_fail("cannot mount a small tmpfs to fill (run the tests as root): %s",
			       strerror(e));
	}
	snprintf(db, sizeof(db), "%s/runs.db", disk);
	snprintf(reserve, sizeof(reserve), "%s-reserve", db);
	snprintf(filler, sizeof(filler), "%s/filler", disk);
	/* an answer of about 400 KiB, so that four runs hold 1.6 MiB */
	snprintf(script, sizeof(script), "%s/script.json", dir);
	cr_assert_not_null(f = fopen(script, "w"));
	fputs("{\"generate\": [{\"content\": \"", f);
	for (i = 0; i < 400 * 1024 / 8; i++)
		fputs("abcdefg ", f);
	fputs("\", \"word_count\": 2}], \"critique\": [{\"decision\": \"pass\", \"feedback\": "
	      "\"good\", \"quality_score\": 90}]}",
	      f);
	cr_assert_eq(fclose(f), 0);
	for (i = 0; i < 4; i++) {
		cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script", script, "run",
				 "critique-revise", "--topic", "t"),
			     0, "%s", err);
		free(out);
		free(err);
	}
	cr_assert_eq(stat(reserve, &st), 0, "the reserve is kept beside the database");
	cr_assert_geq(st.st_blocks * 512, 4 << 20, "its blocks are allocated");

	/* the disk fills up, but for room to start a run, not for its first answer */
	fill(filler);
	cr_assert_eq(stat(filler, &st), 0);
	cr_assert_eq(truncate(filler, st.st_size - 128 * 1024), 0);
	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script", script, "run",
			 "critique-revise", "--topic", "t"),
		     1, "%s", out);
	cr_assert(strstr(err, "(the disk is full)"), "%s", err);
	snprintf(id, sizeof(id), "%s", ts_started_id(out));
	free(out);
	free(err);
	/* looking needs no room */
	cr_assert_eq(ECL(&out, &err, "runs"), 0, "%s", err);
	cr_assert(strstr(out, id), "%s", out);
	free(out);
	free(err);

	/* and then to its last byte: opening the database needs room too */
	snprintf(filler + strlen(filler), sizeof(filler) - strlen(filler), "2");
	fill(filler);
	cr_assert_eq(ECL(&out, &err, "resume", id), 1, "%s", out);
	cr_assert(strstr(err, "(the disk is full)"), "%s", err);
	free(out);
	free(err);
	before = room(disk);
	cr_assert_eq(ECL(&out, &err, "prune", "--older-than", "0s"), 0, "%s", err);
	cr_assert_str_eq(out, "Deleted 4 runs (completed, failed or cancelled, last changed 0s ago "
			      "or more)\n");
	free(out);
	free(err);
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_lt(st.st_size, 512 * 1024, "the file gave its room back: %lld bytes",
		     (long long)st.st_size);
	cr_assert_gt(room(disk), before + (1 << 20), "the disk has room again");
	cr_assert_eq(stat(reserve, &st), 0, "the reserve is made again");

	cr_assert_eq(ECL(&out, &err, "--provider", "scripted", "--script", script, "resume", id), 0,
		     "%s", err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	free(err);
	umount2(disk, MNT_DETACH);
	disk[0] = '\0';
}
