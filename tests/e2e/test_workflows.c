/*
 * test_workflows.c - the bundled workflows end to end through the ecl command, with the
 * scripted answers of dsl/examples: summarize (a document from --input-file, a code step, a
 * human approval answered from other processes), triage (guarded branches, retries on a
 * flaky step), critique-revise; runs that fail at their loop bound or in a code step; and
 * `ecl graph`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "testhooks.h"

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

TestSuite(workflows, .init = setup, .fini = teardown);

/* Run ecl with --db and the given arguments (NULL-terminated); with --script, the scripted
 * provider. */
#define ECL(out, err, ...) run_ecl(out, err, (const char *[]){__VA_ARGS__, NULL})

static int run_ecl(char **out, char **err, const char **args)
{
	const char *argv[40] = {ECL_BIN, "--db", db};
	int n = 3, i;

	for (i = 0; args[i]; i++)
		if (strcmp(args[i], "--script") == 0) {
			argv[n++] = "--provider";
			argv[n++] = "scripted";
		}
	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return ts_run(argv, out, err);
}

/* The id from the first line, "Workflow started: <id>". */
static const char *started_id(const char *out)
{
	static char id[64];

	cr_assert(strncmp(out, "Workflow started: ", 18) == 0, "first line: %s", out);
	sscanf(out + 18, "%63s", id);
	return id;
}

static const char *file(const char *name, const char *text)
{
	static char path[4][4200];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	ts_write(path[k], text);
	return path[k];
}

static long long sql_int(const char *fmt, const char *id)
{
	char q[512];

	snprintf(q, sizeof(q), fmt, id);
	return ts_sql_int(db, q);
}

static char *sql_text(const char *fmt, const char *id)
{
	char q[512];

	snprintf(q, sizeof(q), fmt, id);
	return ts_sql_text(db, q);
}

/* The query's text result is want. */
static void expect_sql(const char *want, const char *fmt, const char *id)
{
	char *got = sql_text(fmt, id);

	cr_assert(got, "no result for %s", fmt);
	cr_assert_str_eq(got, want, "%s", fmt);
	free(got);
}

/* A JSON field of the run's output is want. */
static void expect_output(const char *id, const char *field, const char *want)
{
	char q[512];

	snprintf(q, sizeof(q), "SELECT json_extract(output, '$.%s') FROM runs WHERE id = '%%s'",
		 field);
	expect_sql(want, q, id);
}

#define SUMMARY_SCRIPT "dsl/examples/summarize.json"
#define DOCUMENT       "document=dsl/examples/document.txt"

/* ---- summarize ------------------------------------------------------------------------------ */

Test(workflows, summarize_waits_for_a_human_then_goes_on_after_answers_from_other_processes)
{
	char *out, *err, *status, *text;
	char id[64];

	cr_assert_eq(ECL(&out, &err, "--script", SUMMARY_SCRIPT, "run", "summarize", "--input-file",
			 DOCUMENT),
		     0, "%s%s", out, err);
	snprintf(id, sizeof(id), "%s", started_id(out));
	cr_assert(strstr(out, "is waiting for an answer at step approve:\nApprove this summary of "
			      "21 words?"),
		  "%s", out);
	cr_assert(strstr(out, "answer "), "%s", out);
	free(out);
	free(err);
	/* The document reached the prompt from its file, and the code step's output is stored. */
	expect_sql("waiting", "SELECT status FROM runs WHERE id = '%s'", id);
	text = sql_text("SELECT json_extract(output, '$.words') FROM steps WHERE run_id = '%s' AND "
			"step = 'check'",
			id);
	cr_assert_str_eq(text, "21");
	free(text);

	/* ecl status and ecl runs show the question. */
	cr_assert_eq(ECL(&status, NULL, "status", id), 0);
	cr_assert(strstr(status, "Status:       waiting\n"), "%s", status);
	cr_assert(strstr(status, "Question:\nApprove this summary of 21 words?"), "%s", status);
	cr_assert(strstr(status, "Fields:       approved=<true|false>, comment=<string> "
				 "(optional)\n"),
		  "%s", status);
	free(status);
	cr_assert_eq(ECL(&out, NULL, "runs", "--status", "waiting"), 0);
	cr_assert(strstr(out, id) && strstr(out, "question: Approve this summary"), "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "status", id, "-o", "json"), 0);
	cr_assert(strstr(out, "\"question\": \"Approve this summary of 21 words?"), "%s", out);
	free(out);

	/* A resume without an answer asks nobody anything: it waits again, and the committed code
	 * step is not run again. */
	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "resume", id), 0);
	cr_assert(strstr(out, "is waiting for an answer at step approve"), "%s", out);
	free(out);
	cr_assert_eq(sql_int("SELECT count(*) FROM steps WHERE run_id = '%s'", id), 2);

	/* Bad answers are refused, naming the field and the value, and change nothing. */
	cr_assert_eq(ECL(NULL, &err, "answer", id, "--set", "approved=maybe"), 2);
	cr_assert(strstr(err, "field `approved` of step `approve` is a bool: `maybe` is neither "
			      "true nor false"),
		  "%s", err);
	free(err);
	cr_assert_eq(ECL(NULL, &err, "answer", id, "--set", "aproved=true"), 2);
	cr_assert(strstr(err, "step `approve` has no field `aproved` (its fields: approved, "
			      "comment (optional))"),
		  "%s", err);
	free(err);
	cr_assert_eq(ECL(NULL, &err, "answer", id, "--set", "comment=fine"), 2);
	cr_assert(strstr(err, "needs field `approved`"), "%s", err);
	free(err);
	cr_assert_eq(sql_int("SELECT count(*) FROM notes WHERE run_id = '%s'", id), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM answers WHERE run_id = '%s'", id), 0);

	/* A paused run takes no answer until it is resumed, and then it waits again. */
	cr_assert_eq(ECL(NULL, NULL, "pause", id), 0);
	cr_assert_eq(ECL(NULL, &err, "answer", id, "--set", "approved=true"), 1);
	cr_assert(strstr(err, "is paused at step `approve`: resume it, and it waits for the answer "
			      "again"),
		  "%s", err);
	free(err);
	expect_sql("paused", "SELECT status FROM runs WHERE id = '%s'", id);
	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "resume", id), 0);
	cr_assert(strstr(out, "is waiting for an answer at step approve"), "%s", out);
	free(out);
	expect_sql("waiting", "SELECT status FROM runs WHERE id = '%s'", id);
	cr_assert_eq(sql_int("SELECT count(*) FROM answers WHERE run_id = '%s'", id), 0);

	/* A refusal from another process: the run drafts again and waits on the new summary. */
	cr_assert_eq(ECL(&out, &err, "--script", SUMMARY_SCRIPT, "answer", id, "--set",
			 "approved=false", "--set", "comment=Mention SQLite"),
		     0, "%s%s", out, err);
	cr_assert(strstr(out, "Approve this summary of 27 words?"), "%s", out);
	free(out);
	free(err);
	text = sql_text("SELECT vars FROM steps WHERE run_id = '%s' AND step = 'reviewed'", id);
	cr_assert(text && strstr(text, "A reviewer refused your last summary: Mention SQLite"),
		  "%s", text);
	free(text);

	/* An approval recorded without driving, then a resume finishes the run. */
	cr_assert_eq(ECL(&out, NULL, "answer", id, "--set", "approved=true", "--set",
			 "comment=Good", "--no-wait"),
		     0);
	cr_assert(strstr(out, "Answer recorded for"), "%s", out);
	free(out);
	expect_sql("waiting", "SELECT status FROM runs WHERE id = '%s'", id);
	cr_assert_eq(ECL(&out, &err, "--script", SUMMARY_SCRIPT, "resume", id), 0, "%s%s", out,
		     err);
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	free(out);
	free(err);
	expect_output(id, "words", "27");
	expect_output(id, "drafts", "2");
	expect_output(id, "comment", "Good");
	cr_assert_eq(sql_int("SELECT count(*) FROM steps WHERE run_id = '%s'", id), 7);

	/* The answers are in the history; an answered run takes no more answers. */
	cr_assert_eq(ECL(&out, NULL, "history", id), 0);
	cr_assert(strstr(out, "answer {\"approved\":false,\"comment\":\"Mention SQLite\"}"), "%s",
		  out);
	free(out);
	cr_assert_eq(ECL(NULL, &err, "answer", id, "--set", "approved=true"), 1);
	cr_assert(strstr(err, "is completed: it does not wait for an answer"), "%s", err);
	free(err);
}

/* A run waiting for a person keeps the first answer it is given: a second is refused with a
 * message and exit status 1, whether it comes later or at the same instant from another
 * process; the store checks and writes in one conditional write. */
Test(workflows, a_second_answer_is_refused_and_the_first_kept)
{
	char *out, *err, *kept, id[64];
	int trial, k, ok, refused;

	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "run", "summarize", "--input-file",
			 DOCUMENT),
		     0);
	snprintf(id, sizeof(id), "%s", started_id(out));
	free(out);
	/* a value that is not text is refused as a usage error, and records nothing */
	cr_assert_eq(ECL(NULL, &err, "answer", id, "--set", "approved=true", "--set",
			 "comment=\xff", "--no-wait"),
		     2);
	cr_assert(strstr(err, "field `comment` of step `approve` holds bytes that are not UTF-8"),
		  "%s", err);
	free(err);
	cr_assert_eq(ECL(&out, NULL, "answer", id, "--set", "approved=true", "--set",
			 "comment=first", "--no-wait"),
		     0);
	free(out);
	cr_assert_eq(ECL(&out, &err, "answer", id, "--set", "approved=false", "--set",
			 "comment=second", "--no-wait"),
		     1, "%s", out);
	cr_assert(strstr(err, "has an answer to step `approve` already: the first answer is kept"),
		  "%s", err);
	cr_assert_str_empty(out);
	free(out);
	free(err);
	cr_assert_eq(sql_int("SELECT count(*) FROM answers WHERE run_id = '%s'", id), 1);
	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "resume", id), 0);
	free(out);
	expect_output(id, "comment", "first");

	/* at the same instant, from six processes: exactly one is kept, each time */
	for (trial = 0; trial < 4; trial++) {
		pid_t pids[6];
		int status;

		cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "run", "summarize",
				 "--input-file", DOCUMENT),
			     0);
		snprintf(id, sizeof(id), "%s", started_id(out));
		free(out);
		for (k = 0; k < 6; k++) {
			pids[k] = fork();
			cr_assert_neq(pids[k], -1);
			if (pids[k] == 0) {
				char set[48];
				int rc;

				snprintf(set, sizeof(set), "comment=c%d", k);
				rc = ECL(NULL, NULL, "answer", id, "--set", "approved=true",
					 "--set", set, "--no-wait");
				ts_exit(rc);
			}
		}
		ok = refused = 0;
		for (k = 0; k < 6; k++) {
			cr_assert_eq(waitpid(pids[k], &status, 0), pids[k]);
			cr_assert(WIFEXITED(status));
			ok += WEXITSTATUS(status) == 0;
			refused += WEXITSTATUS(status) == 1;
		}
		cr_assert_eq(ok, 1, "trial %d: %d answers recorded", trial, ok);
		cr_assert_eq(refused, 5, "trial %d", trial);
		cr_assert_eq(sql_int("SELECT count(*) FROM answers WHERE run_id = '%s'", id), 1);
		cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "resume", id), 0);
		free(out);
		kept = sql_text("SELECT json_extract(answer, '$.comment') FROM answers"
				" WHERE run_id = '%s'",
				id);
		cr_assert_not_null(kept);
		expect_output(id, "comment", kept);
		free(kept);
	}
}

Test(workflows, summarize_fails_at_its_loop_bound)
{
	/* Three drafts, each longer than the document allows: the code step refuses each. */
	const char *script = file(
		"script.json",
		"{\"draft\": [{\"summary\": \"one two three four five six\"}, {\"summary\": \"one "
		"two three four five six seven\"}, {\"summary\": \"a b c d e f g h\"}]}");
	char *out, *err, id[64], *text;

	cr_assert_eq(ECL(&out, &err, "--script", script, "run", "summarize", "--input-file",
			 DOCUMENT, "--max_words", "5"),
		     1, "%s%s", out, err);
	snprintf(id, sizeof(id), "%s", started_id(out));
	cr_assert(strstr(out, "failed at step redraft: no approved summary after 3 drafts"), "%s",
		  out);
	free(out);
	free(err);
	text = sql_text("SELECT json_extract(vars, '$.feedback') FROM steps WHERE run_id = '%s' "
			"ORDER BY seq DESC LIMIT 1",
			id);
	cr_assert_str_eq(text, "Your last summary was refused: the summary has more words than "
			       "allowed. Write it again.");
	free(text);
	cr_assert_eq(
		sql_int("SELECT count(*) FROM steps WHERE run_id = '%s' AND step = 'check'", id),
		3);
}

Test(workflows, a_failing_code_step_fails_the_run_naming_step_and_function)
{
	char *out, *err, *status;
	char input[4300], id[64];

	snprintf(input, sizeof(input), "document=%s", file("empty.txt", "  \n"));
	cr_assert_eq(ECL(&out, &err, "--script", SUMMARY_SCRIPT, "run", "summarize", "--input-file",
			 input),
		     1, "%s%s", out, err);
	snprintf(id, sizeof(id), "%s", started_id(out));
	cr_assert(strstr(out, "failed at step check: code step `check`: function check_summary "
			      "failed: the document is empty"),
		  "%s", out);
	free(out);
	free(err);
	cr_assert_eq(ECL(&status, NULL, "status", id), 0);
	cr_assert(strstr(status, "Status:       failed\nFailed step:  check\n"), "%s", status);
	free(status);
	/* The draft before it stays committed; the failure is the run's last checkpoint. */
	cr_assert_eq(sql_int("SELECT count(*) FROM steps WHERE run_id = '%s'", id), 2);
}

Test(workflows, input_file_reads_one_input_from_a_file)
{
	char *out, *err;

	/* A missing file: a usage error naming the input and the file, and no run. */
	cr_assert_eq(ECL(NULL, &err, "run", "summarize", "--input-file",
			 "document=/nonexistent/doc.txt"),
		     2);
	cr_assert(strstr(err, "input `document`: cannot read /nonexistent/doc.txt"), "%s", err);
	free(err);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), -1); /* no database at all */
	/* An int input from a file whose text is not one. */
	cr_assert_eq(ECL(NULL, &err, "run", "summarize", "--input-file", DOCUMENT, "--input-file",
			 "max_words=dsl/examples/document.txt"),
		     2);
	cr_assert(strstr(err, "input `max_words`: the text of dsl/examples/document.txt is not an "
			      "integer"),
		  "%s", err);
	free(err);
	/* The file's text is the value, as it is. */
	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "run", "summarize", "--input-file",
			 DOCUMENT),
		     0);
	{
		char *doc = ts_read("dsl/examples/document.txt");
		char *stored = sql_text("SELECT json_extract(inputs, '$.document') FROM runs WHERE "
					"id = '%s'",
					started_id(out));

		cr_assert_str_eq(stored, doc);
		free(doc);
		free(stored);
	}
	free(out);
}

/* ---- triage --------------------------------------------------------------------------------- */

/* Run triage with one classification (and the answers of later steps); returns the run's id
 * in a static buffer. */
static const char *triage(const char *answers, const char *tier, int want_status)
{
	static char id[64];
	char text[2048];
	char *out, *err;

	snprintf(text, sizeof(text), "{%s}", answers);
	cr_assert_eq(ECL(&out, &err, "--script", file("triage.json", text), "run", "triage",
			 "--request", "Something about the product", "--tier", tier),
		     want_status, "%s%s", out, err);
	snprintf(id, sizeof(id), "%s", started_id(out));
	free(out);
	free(err);
	return id;
}

Test(workflows, triage_retries_its_flaky_classifier_then_escalates)
{
	char *out, *err;
	char id[64];

	cr_assert_eq(ECL(&out, &err, "--script", "dsl/examples/triage.json", "run", "triage",
			 "--request", "The export button crashes the app", "--tier", "pro"),
		     0, "%s%s", out, err);
	snprintf(id, sizeof(id), "%s", started_id(out));
	cr_assert(strstr(out, "completed successfully"), "%s", out);
	/* Two transient failures, each retried. */
	cr_assert(strstr(err, "retry") && strstr(err, "HTTP 503 from the classifier") &&
			  strstr(err, "connection reset"),
		  "%s", err);
	free(out);
	free(err);
	expect_output(id, "action", "escalated");
	expect_output(id, "urgency", "5");
	expect_output(id, "page", "1");
}

Test(workflows, triage_routes_each_category_through_its_branch)
{
	const char *id;

	id = triage(
		"\"classify\": [{\"category\": \"spam\", \"urgency\": 1, \"summary\": \"buy\"}]",
		"free", 0);
	expect_output(id, "action", "ignored");

	id = triage(
		"\"classify\": [{\"category\": \"bug\", \"urgency\": 2, \"summary\": \"typo\"}]",
		"free", 0);
	expect_output(id, "action", "bug filed");
	expect_output(id, "reply", "Thank you: we filed your bug (typo) with urgency 2.");

	/* The same low urgency bug from an enterprise customer is escalated. */
	id = triage(
		"\"classify\": [{\"category\": \"bug\", \"urgency\": 2, \"summary\": \"typo\"}],"
		" \"escalate\": [{\"note\": \"n\", \"page\": false}]",
		"enterprise", 0);
	expect_output(id, "action", "escalated");

	id = triage("\"classify\": [{\"category\": \"billing\", \"urgency\": 3, \"summary\": "
		    "\"refund\"}], \"billing\": [{\"answer\": \"Refunded.\"}]",
		    "pro", 0);
	expect_output(id, "action", "answered");
	expect_output(id, "reply", "Refunded.");

	id = triage("\"classify\": [{\"category\": \"billing\", \"urgency\": 3, \"summary\": "
		    "\"refund\"}]",
		    "free", 0);
	expect_output(id, "action", "self-service");

	id = triage("\"classify\": [{\"category\": \"feature\", \"urgency\": 1, \"summary\": "
		    "\"dark mode\"}]",
		    "free", 0);
	expect_output(id, "action", "feature logged");
	/* len(request): "Something about the product" */
	expect_output(id, "length", "27");
}

Test(workflows, triage_stops_resumable_when_the_retries_run_out)
{
	const char *id = triage(
		"\"classify\": [[{\"$error\": \"transient\", \"message\": \"e1\"}, {\"$error\": "
		"\"transient\", \"message\": \"e2\"}, {\"$error\": \"transient\", \"message\": "
		"\"e3\"}, {\"$error\": \"transient\", \"message\": \"e4\"}, {\"$error\": "
		"\"transient\", \"message\": \"e5\"}]]",
		"free", 1);
	char *error = sql_text("SELECT error FROM runs WHERE id = '%s'", id);

	/* retry 4: five calls, then the run is left interrupted with the last error. */
	expect_sql("interrupted", "SELECT status FROM runs WHERE id = '%s'", id);
	cr_assert(error && strstr(error, "step `classify`: scripted: e5 (retries exhausted)"), "%s",
		  error);
	free(error);
}

/* ---- critique-revise, and the graphs -------------------------------------------------------- */

Test(workflows, critique_revise_demo_script)
{
	char *out, *err;

	cr_assert_eq(ECL(&out, &err, "--script", "dsl/examples/critique_revise.json", "run",
			 "critique-revise", "--topic", "Tea"),
		     0, "%s%s", out, err);
	cr_assert(strstr(out, "\"content\": \"Tea, first drunk in China"), "%s", out);
	free(out);
	free(err);
}

Test(workflows, graph_prints_what_eclc_draws)
{
	static const char *const formats[] = {"mermaid", "dot", "json"};
	int i;

	for (i = 0; i < 3; i++) {
		const char *argv[] = {ECLC_BIN, "--emit", formats[i], "dsl/summarize.ecl", NULL};
		char *out, *want;

		cr_assert_eq(ts_run(argv, &want, NULL), 0);
		cr_assert_eq(ECL(&out, NULL, "graph", "summarize", "--format", formats[i]), 0);
		cr_assert_str_eq(out, want);
		free(out);
		free(want);
	}
	{
		char *out;

		cr_assert_eq(ECL(&out, NULL, "graph", "triage"), 0);
		cr_assert(strncmp(out, "stateDiagram-v2\n", 16) == 0, "%s", out);
		cr_assert(strstr(out, "classify --> escalate"), "%s", out);
		free(out);
		cr_assert_eq(ECL(&out, NULL, "graph", "summarize", "--format", "dot"), 0);
		cr_assert(strstr(out, "\"check\" [label=\"check\\ncode check_summary()\", "
				      "shape=component]"),
			  "%s", out);
		cr_assert(strstr(out, "\"approve\" [label=\"approve\\nhuman\", shape=house]"), "%s",
			  out);
		free(out);
	}
	{
		char *err;

		cr_assert_eq(ECL(NULL, &err, "graph", "nope"), 2);
		cr_assert(strstr(err, "unknown workflow `nope`"), "%s", err);
		free(err);
		cr_assert_eq(ECL(NULL, &err, "graph", "triage", "--format", "png"), 2);
		cr_assert(strstr(err, "`png` is not mermaid, dot or json"), "%s", err);
		free(err);
	}
}

/* ---- allocation failures -------------------------------------------------------------------- */

/* The N-th allocation fails, for every N until summarize gets through all its step kinds (an
 * LLM step, a code step, a set step, a human answer): each attempt ends with an error code,
 * never a crash, a leak (the sanitizer build) or a run failed for good, and with memory back
 * the run finishes from its checkpoints. */
Test(workflows, every_allocation_of_summarize_may_fail, .timeout = 300)
{
	static const char *const names[] = {"approved", "comment"};
	static const char *const values[] = {"true", "ok"};
	char path[4200];
	long n;
	int done = 0;

	snprintf(path, sizeof(path), "%s/script.json", dir);
	ts_write(path, "{\"draft\": [{\"summary\": \"a b c\"}]}");
	for (n = 0; n < 20000 && !done; n++) {
		char dbn[4300], err[512], id[ECL_ID_MAX] = "";
		ecl_options o;
		ecl_engine *e = NULL;
		int rc;

		snprintf(dbn, sizeof(dbn), "%s/oom-%ld.db", dir, n);
		o = ts_options(dbn, path, NULL);
		ecl_test_fail_alloc_after(n);
		rc = ecl_engine_open(&o, &e, err, sizeof(err));
		if (rc == ECL_OK) {
			rc = ecl_run_start(e, ts_workflow("summarize"),
					   "{\"document\": \"one two three four five six\"}", id);
			if (rc == ECL_OK)
				rc = ecl_run_drive(e, id);
			if (rc == ECL_EWAITING)
				rc = ecl_run_answer(e, id, names, values, 2);
			if (rc == ECL_OK)
				rc = ecl_run_drive(e, id);
			snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
			ecl_engine_close(e);
		}
		ecl_test_fail_alloc_after(-1);
		/* The script's answers and the inputs are good: the only error is the lack of
		 * memory, and whatever failed says so. */
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM, "allocation %ld: status %d (%s)", n, rc,
			  err);
		if (rc == ECL_OK) {
			done = 1;
			break;
		}
		cr_assert(strstr(err, "out of memory") || strstr(err, strerror(ENOMEM)),
			  "allocation %ld: %s", n, err);
		if (id[0] && ts_sql_count(dbn, "SELECT count(*) FROM runs") == 1) {
			char *status = ts_sql_text(dbn, "SELECT status FROM runs");

			/* never failed or cancelled for good by a lack of memory (a failure after
			 * the last commit leaves it completed) */
			cr_assert(status && (strcmp(status, "interrupted") == 0 ||
					     strcmp(status, "waiting") == 0 ||
					     strcmp(status, "completed") == 0),
				  "allocation %ld: the run is %s", n, status ? status : "(none)");
			/* Memory is back: answer when it waits, and the run completes. */
			if (strcmp(status, "completed") != 0) {
				e = ts_engine(dbn, path, NULL);
				/* (an answer stored before the failure is not asked again) */
				rc = ecl_run_drive(e, id);
				if (rc == ECL_EWAITING &&
				    (rc = ecl_run_answer(e, id, names, values, 2)) == ECL_OK)
					rc = ecl_run_drive(e, id);
				cr_assert_eq(rc, ECL_OK, "allocation %ld: %d %s", n, rc,
					     ecl_engine_errmsg(e));
				ecl_engine_close(e);
			}
			free(status);
			cr_assert_eq(ts_sql_count(dbn, "SELECT count(*) FROM runs WHERE status = "
						       "'completed'"),
				     1, "allocation %ld", n);
		}
	}
	cr_assert(done, "summarize never got through in %ld allocations", n);
}

Test(workflows, list_and_history_name_each_kind_of_step)
{
	char *out, id[64];

	cr_assert_eq(ECL(&out, NULL, "list", "--detailed"), 0);
	cr_assert(strstr(out, "    1. draft (llm), at most 3 times (drafts)\n"
			      "    2. check (code: check_summary)\n"
			      "    3. redraft (set)\n"
			      "    4. approve (human)\n"),
		  "%s", out);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "run", "summarize", "--input-file",
			 DOCUMENT),
		     0);
	snprintf(id, sizeof(id), "%s", started_id(out));
	free(out);
	cr_assert_eq(ECL(&out, NULL, "answer", id, "--set", "approved=true", "--no-wait"), 0);
	free(out);
	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "resume", id), 0);
	free(out);
	/* A human step's prompt is its question; a code step has none. */
	cr_assert_eq(ECL(&out, NULL, "history", id, "--full"), 0);
	cr_assert(strstr(out, "-> approve\n    answer:\n      | {\"ok\":true,\"words\":21,"), "%s",
		  out);
	cr_assert(strstr(out, "-> end\n    prompt:\n      | Approve this summary of 21 words?"),
		  "%s", out);
	free(out);
}

Test(workflows, a_waiting_run_is_never_pruned_and_can_be_cancelled)
{
	char *out, *err, id[64];

	cr_assert_eq(ECL(&out, NULL, "--script", SUMMARY_SCRIPT, "run", "summarize", "--input-file",
			 DOCUMENT),
		     0);
	snprintf(id, sizeof(id), "%s", started_id(out));
	free(out);
	cr_assert_neq(ECL(NULL, &err, "prune", "--status", "waiting", "--older-than", "0s"), 0);
	cr_assert(strstr(err, "prune deletes only finished runs"), "%s", err);
	free(err);
	cr_assert_eq(ECL(&out, NULL, "prune", "--older-than", "0s"), 0);
	free(out);
	expect_sql("waiting", "SELECT status FROM runs WHERE id = '%s'", id);
	cr_assert_eq(ECL(&out, NULL, "cancel", id), 0);
	free(out);
	expect_sql("cancelled", "SELECT status FROM runs WHERE id = '%s'", id);
	cr_assert_eq(ECL(NULL, &err, "answer", id, "--set", "approved=true"), 1);
	cr_assert(strstr(err, "is cancelled: it does not wait for an answer"), "%s", err);
	free(err);
}

/* ---- every kind of step, in process: tests/dsl/ok/steps.ecl ------------------------------- */

extern const ecl_workflow ecl_wf__step_kinds;

int measure_text(ecl_call *call);

/* The code step of steps.ecl: checks what it was given, and misbehaves on request. */
int measure_text(ecl_call *call)
{
	const char *text = ecl_call_str(call, "text");
	int rc;

	cr_assert_str_eq(ecl_call_step(call), "measure");
	cr_assert_eq(strlen(ecl_call_run_id(call)), 16);
	cr_assert_str_eq(ecl_call_str(call, "tags"), "[\"a\",\"b\"]");
	cr_assert_eq(ecl_call_int(call, "limit"), 2 * (long long)strlen(text) + 1);
	cr_assert_eq(ecl_call_float(call, "ratio"), 1.0);
	cr_assert_str_eq(ecl_call_str(call, "nothing"), "");
	cr_assert_eq(ecl_call_int(call, "nothing"), 0);
	cr_assert_eq(ecl_call_float(call, "nothing"), 0.0);
	if (strstr(text, "fail"))
		return ecl_call_fail(call, "cannot measure %s", "that");
	if (strstr(text, "odd"))
		return ECL_EIO;
	if (strstr(text, "bad"))
		return ecl_call_set_str(call, "score", "high");
	cr_assert_eq(ecl_call_set_str(call, "note", NULL), ECL_EUSAGE);
	/* A set can fail for want of memory (the sweep below): its status is returned. */
	if ((rc = ecl_call_set_bool(call, "ok", 0)) != ECL_OK ||
	    (rc = ecl_call_set_bool(call, "ok", ecl_call_bool(call, "strict"))) != ECL_OK ||
	    (rc = ecl_call_set_str(call, "level", ecl_call_str(call, "level"))) != ECL_OK)
		return rc;
	return ecl_call_set_float(call, "score", 2.5);
}

static ecl_engine *kinds_engine(void)
{
	static const ecl_workflow *const list[] = {&ecl_wf__step_kinds};
	ecl_options o = ts_options(db, NULL, NULL);

	o.workflows = list;
	o.nworkflows = 1;
	return ts_open(&o);
}

static int kinds_start(ecl_engine *e, const char *text, char id[ECL_ID_MAX])
{
	char inputs[512];

	snprintf(inputs, sizeof(inputs),
		 "{\"text\": \"%s\", \"tags\": [\"a\", \"b\"], \"level\": \"high\", \"ratio\": "
		 "0.25}",
		 text);
	cr_assert_eq(ecl_run_start(e, &ecl_wf__step_kinds, inputs, id), ECL_OK);
	return ecl_run_drive(e, id);
}

Test(workflows, every_kind_of_step_in_process)
{
	static const char *const bad[][2] = {
		{"stars", "9"},      {"stars", "x"},      {"stars", ""},       {"mood", "happy"},
		{"weight", "heavy"}, {"weight", "1e999"}, {"approved", "yes"},
	};
	static const char *const want_err[] = {
		"field `stars` of step `review`",  "`x` is not one",     "`` is not one",
		"field `mood` of step `review`",   "`heavy` is not one", "`1e999` is not one",
		"`yes` is neither true nor false",
	};
	const char *names[] = {"approved", "stars", "mood", "weight", "comment"};
	const char *values[] = {"true", "4", "calm", "0.5", "fine"};
	ecl_engine *e = kinds_engine();
	ecl_run_info *info = NULL;
	char id[ECL_ID_MAX];
	size_t i;

	cr_assert_eq(kinds_start(e, "hello", id), ECL_EWAITING, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "waiting");
	cr_assert_str_eq(
		info->question,
		"Review \"[high] hello (2 tags, ratio 0.25, true)\" (score 2.5, review 1).\n");
	ecl_run_info_free(info);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *n[] = {"comment", bad[i][0]};
		const char *v[] = {"c", bad[i][1]};

		cr_assert_eq(ecl_run_answer(e, id, n, v, 2), ECL_EINPUT, "%s", bad[i][1]);
		cr_assert(strstr(ecl_engine_errmsg(e), want_err[i]), "%s", ecl_engine_errmsg(e));
	}
	{
		const char *twice[] = {"approved", "approved"};

		cr_assert_eq(ecl_run_answer(e, id, twice, values, 2), ECL_EINPUT);
		cr_assert(strstr(ecl_engine_errmsg(e), "field `approved` is given twice"));
		cr_assert_eq(ecl_run_answer(e, id, names + 4, values + 4, 1), ECL_EINPUT);
		cr_assert(strstr(ecl_engine_errmsg(e), "needs field `approved`"));
	}
	cr_assert_eq(ecl_run_answer(e, id, names, names, -1), ECL_EUSAGE);
	cr_assert_eq(ecl_run_answer(e, "nosuchrun", names, values, 5), ECL_ENOTFOUND);
	cr_assert_eq(ecl_run_answer(e, id, names, values, 5), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->output,
			 "{\"label\":\"[high] hello (2 tags, ratio 0.25, true)!\","
			 "\"stars\":8,\"score\":1.75,\"calm\":true,\"comment\":\"fine\"}");
	cr_assert_null(info->question);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

Test(workflows, a_code_step_that_fails_or_misbehaves)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{"fail", "code step `measure`: function measure_text failed: cannot measure that"},
		{"odd", "code step `measure`: function measure_text returned 12 (I/O error)"},
		{"bad", "code step `measure`: function measure_text gave an output that does not "
			"match its declared types: step `measure`: field `ok` is missing from the "
			"answer"},
	};
	ecl_engine *e = kinds_engine();
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecl_run_info *info = NULL;
		char id[ECL_ID_MAX];

		cr_assert_eq(kinds_start(e, cases[i].text, id), ECL_EFAILED);
		cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
		cr_assert_str_eq(info->status, "failed");
		cr_assert_str_eq(info->step, "measure");
		cr_assert_str_eq(info->error, cases[i].error);
		ecl_run_info_free(info);
	}
	ecl_engine_close(e);
}

#define KINDS_OUTPUT                                                                               \
	"{\"label\":\"[high] hello (2 tags, ratio 0.25, true)!\",\"stars\":8,\"score\":1.75,"      \
	"\"calm\":true,\"comment\":\"fine\"}"

/* Drive a run of step-kinds to its end, answering its review when it waits. */
static int kinds_finish(ecl_engine *e, const char *id)
{
	static const char *const names[] = {"approved", "stars", "mood", "weight", "comment"};
	static const char *const values[] = {"true", "4", "calm", "0.5", "fine"};
	int rc = ecl_run_drive(e, id);

	if (rc == ECL_EWAITING && (rc = ecl_run_answer(e, id, names, values, 5)) == ECL_OK)
		rc = ecl_run_drive(e, id);
	return rc;
}

/* The N-th allocation fails, for every N until a run of step-kinds gets through all its
 * kinds of step (set steps with computed strings, a code step, a human answer, a computed
 * result): never a crash, a leak or a run failed for good, and with memory back the run ends
 * with exactly the output of a run that never failed. */
Test(workflows, every_allocation_of_every_kind_of_step_may_fail, .timeout = 300)
{
	static const ecl_workflow *const list[] = {&ecl_wf__step_kinds};
	long n;
	int done = 0;

	for (n = 0; n < 20000 && !done; n++) {
		char dbn[4300], err[512], id[ECL_ID_MAX] = "";
		ecl_options o;
		ecl_engine *e = NULL;
		int rc;

		snprintf(dbn, sizeof(dbn), "%s/oom-%ld.db", dir, n);
		o = ts_options(dbn, NULL, NULL);
		o.workflows = list;
		o.nworkflows = 1;
		ecl_test_fail_alloc_after(n);
		rc = ecl_engine_open(&o, &e, err, sizeof(err));
		if (rc == ECL_OK) {
			rc = ecl_run_start(e, &ecl_wf__step_kinds,
					   "{\"text\": \"hello\", \"tags\": [\"a\", \"b\"], "
					   "\"level\": \"high\", \"ratio\": 0.25}",
					   id);
			if (rc == ECL_OK)
				rc = kinds_finish(e, id);
			snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
			ecl_engine_close(e);
		}
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || rc == ECL_ENOMEM, "allocation %ld: status %d (%s)", n, rc,
			  err);
		cr_assert(rc == ECL_OK || strstr(err, "out of memory") ||
				  strstr(err, strerror(ENOMEM)),
			  "allocation %ld: %s", n, err);
		done = rc == ECL_OK;
		if (id[0] && ts_sql_count(dbn, "SELECT count(*) FROM runs") == 1) {
			ecl_run_info *info = NULL;

			e = ts_open(&o);
			cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
			cr_assert(strcmp(info->status, "interrupted") == 0 ||
					  strcmp(info->status, "waiting") == 0 ||
					  strcmp(info->status, "completed") == 0,
				  "allocation %ld: the run is %s", n, info->status);
			/* (a failure after the last commit leaves the run completed) */
			if (strcmp(info->status, "completed") != 0) {
				rc = kinds_finish(e, id);
				cr_assert(rc == ECL_OK, "allocation %ld: %d %s", n, rc,
					  ecl_engine_errmsg(e));
			}
			ecl_run_info_free(info);
			cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
			cr_assert_str_eq(info->output, KINDS_OUTPUT, "allocation %ld", n);
			ecl_run_info_free(info);
			ecl_engine_close(e);
		}
	}
	cr_assert(done, "step-kinds never got through in %ld allocations", n);
}

/* An answer stored for a human step and damaged since (by hand, say) fails the run, naming
 * the step and the field. */
Test(workflows, a_damaged_stored_answer_fails_the_run_naming_the_field)
{
	ecl_engine *e = kinds_engine();
	const char *names[] = {"approved", "stars"};
	const char *values[] = {"true", "4"};
	ecl_run_info *info = NULL;
	char id[ECL_ID_MAX];

	cr_assert_eq(kinds_start(e, "hello", id), ECL_EWAITING);
	cr_assert_eq(ecl_run_answer(e, id, names, values, 2), ECL_OK, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	{
		sqlite3 *h;

		cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
		cr_assert_eq(sqlite3_exec(h,
					  "UPDATE answers SET answer = '{\"approved\": true, "
					  "\"stars\": 9}'",
					  NULL, NULL, NULL),
			     SQLITE_OK);
		cr_assert_eq(sqlite3_changes(h), 1);
		sqlite3_close(h);
	}
	e = kinds_engine();
	cr_assert_eq(ecl_run_drive(e, id), ECL_EFAILED);
	cr_assert(strstr(ecl_engine_errmsg(e), "the answer to human step `review` is invalid"),
		  "%s", ecl_engine_errmsg(e));
	cr_assert(strstr(ecl_engine_errmsg(e), "`stars`"), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->status, "failed");
	cr_assert_str_eq(info->step, "review");
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

static int count_history(void *ctx, const ecl_history_entry *entry)
{
	int *n = ctx;

	n[0]++;
	n[1] += entry->note != NULL;
	return 0;
}

/* A run waiting on its review, with its answer stored: every allocation of its snapshot (the
 * question rendered) and of its history with the prompts (notes among the checkpoints) may
 * fail; what succeeds is exactly what memory to spare gives. */
Test(workflows, every_allocation_of_a_waiting_runs_snapshot_and_history_may_fail)
{
	ecl_engine *e = kinds_engine();
	const char *names[] = {"approved", "stars"};
	const char *values[] = {"false", "4"};
	ecl_run_info *ref = NULL;
	char id[ECL_ID_MAX];
	int want[2] = {0, 0}, k;

	cr_assert_eq(kinds_start(e, "hello", id), ECL_EWAITING);
	cr_assert_eq(ecl_run_answer(e, id, names, values, 2), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &ref), ECL_OK);
	cr_assert_not_null(ref->question);
	cr_assert_eq(ecl_run_history(e, id, 1, count_history, want), ECL_OK);
	cr_assert_gt(want[1], 0, "the answer is a note");
	for (k = 0; k < 2; k++) {
		long n;
		int rc = -1;

		for (n = 0; n < 5000; n++) {
			ecl_run_info *info = NULL;
			int got[2] = {0, 0};

			ecl_test_fail_alloc_after(n);
			rc = k ? ecl_run_history(e, id, 1, count_history, got)
			       : ecl_run_info_get(e, id, &info);
			ecl_test_fail_alloc_after(-1);
			if (rc == ECL_OK) {
				if (k) {
					cr_assert_eq(got[0], want[0], "allocation %ld", n);
					cr_assert_eq(got[1], want[1], "allocation %ld", n);
				} else {
					cr_assert_str_eq(info->question, ref->question);
					cr_assert_str_eq(info->status, "waiting");
					ecl_run_info_free(info);
				}
				break;
			}
			cr_assert(rc == ECL_ENOMEM || rc == ECL_ESTORE, "allocation %ld: %d", n,
				  rc);
			cr_assert_str_neq(ecl_engine_errmsg(e), "", "allocation %ld", n);
		}
		cr_assert_eq(rc, ECL_OK);
	}
	ecl_run_info_free(ref);
	ecl_engine_close(e);
}

/* An answer that cannot be stored (a trigger added by hand makes its insert fail) is not
 * taken: the run still waits, and takes the answer once it can be stored. */
Test(workflows, an_answer_that_cannot_be_stored_leaves_the_run_waiting)
{
	ecl_engine *e = kinds_engine();
	const char *names[] = {"approved", "stars", "mood", "weight", "comment"};
	const char *values[] = {"true", "4", "calm", "0.5", "fine"};
	ecl_run_info *info = NULL;
	char id[ECL_ID_MAX];
	sqlite3 *h;

	cr_assert_eq(kinds_start(e, "hello", id), ECL_EWAITING);
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h,
				  "CREATE TRIGGER fault BEFORE INSERT ON answers"
				  " BEGIN SELECT abs(-9223372036854775808); END",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	cr_assert_eq(ecl_run_answer(e, id, names, values, 5), ECL_ESTORE);
	cr_assert(strstr(ecl_engine_errmsg(e), db), "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_drive(e, id), ECL_EWAITING, "no answer was stored");
	cr_assert_eq(sqlite3_exec(h, "DROP TRIGGER fault", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	cr_assert_eq(ecl_run_answer(e, id, names, values, 5), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_drive(e, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	cr_assert_str_eq(info->output, KINDS_OUTPUT);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

/* ---- a program of its own on ecl_main: typed inputs from flags ---------------------------------
 */

extern const ecl_workflow ecl_wf__review_code;

/* ecl_main of a program whose one workflow is review-code, with --db and args, in a child
 * process; its exit status, and what it wrote to stderr in *err (caller frees). */
static int review_main(char **err, const char *const *args)
{
	static const ecl_workflow *const list[] = {&ecl_wf__review_code};
	char path[4200], *argv[24] = {(char *)"review", (char *)"--db", db};
	int n = 3, status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/stderr.txt", dir);
	while (*args && n < 23)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 2) < 0)
			ts_exit(99);
		ts_exit(ecl_main(n, argv, list, 1));
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	*err = ts_read(path);
	return WEXITSTATUS(status);
}

/* A flag's text becomes its input's type in one way (ecl_value_parse): a bool is true or
 * false and nothing else, a float finite; a refusal names the input and quotes the value. */
Test(workflows, typed_flags_are_converted_one_way)
{
	static const char *const bad[][3] = {
		{"--allow-style-nits", "yes",
		 "input `allow_style_nits`: `yes` is neither true nor false"},
		{"--allow-style-nits", "1",
		 "input `allow_style_nits`: `1` is neither true nor false"},
		{"--strictness", "inf", "input `strictness`: `inf` is not a finite decimal number"},
		{"--strictness", "nan", "input `strictness`: `nan` is not a finite decimal number"},
		{"--max-findings", "7x", "input `max_findings`: `7x` is not an integer"},
	};
	size_t i;
	char *err;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = {"run",     "review-code", "--diff", "d",
				      bad[i][0], bad[i][1],     NULL};

		cr_assert_eq(review_main(&err, args), 2, "%s", bad[i][1]);
		cr_assert(strstr(err, bad[i][2]), "%s", err);
		cr_assert_eq(access(db, F_OK), -1, "a usage error writes nothing");
		free(err);
	}
	/* true and a finite float are taken: the one refusal left is the int's declared range */
	{
		const char *args[] = {"run",
				      "review-code",
				      "--diff",
				      "d",
				      "--allow-style-nits",
				      "true",
				      "--strictness",
				      "0.25",
				      "--max-findings",
				      "99",
				      NULL};

		cr_assert_eq(review_main(&err, args), 2);
		cr_assert(strncmp(err,
				  "review: input `max_findings`: expected an integer in 1..50, "
				  "got 99;",
				  67) == 0,
			  "%s", err);
		free(err);
	}
}
