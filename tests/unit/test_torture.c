/*
 * test_torture.c - crash torture: a child process drives critique-revise runs and is killed
 * with SIGKILL at random instants (between steps, inside provider calls, inside SQLite
 * commits); after every kill another child resumes the run. After every kill the database
 * passes an integrity check, no checkpoint is lost, no committed step is asked of the
 * provider again, and the loop never passes its bound; every run ends exactly as an
 * uninterrupted run with the same answers. On SQLite and on PostgreSQL: ECL_TORTURE_KILLS sets
 * the number of kills on SQLite (200 by default), ECL_TORTURE_PG_KILLS on PostgreSQL (1,000);
 * bench/torture runs 10,000.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define GEN          "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS         "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE       "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1         "{\"content\": \"Draft v1\", \"word_count\": 2}"
#define REV2         "{\"content\": \"Draft v2\", \"word_count\": 2}"
#define SLOW(answer) "{\"$delay_ms\": 1, \"$answer\": " answer "}"

static const char expected_steps[] = "generate critique revise critique revise critique ";

/* The (step, visit) pairs run id had committed: "generate 1 critique 1 ..." */
static char *committed_pairs(const char *db, const char *id)
{
	static const char *const names[] = {"generate", "critique", "revise"};
	char q[256], *pairs = calloc(1, 512);
	int seq, visits[3] = {0, 0, 0}, k;

	cr_assert_not_null(pairs);
	for (seq = 1;; seq++) {
		char *step;

		snprintf(q, sizeof(q), "SELECT step FROM steps WHERE run_id = '%s' AND seq = %d",
			 id, seq);
		step = ts_sql_text(db, q);
		if (!step)
			break;
		for (k = 0; k < 3 && strcmp(step, names[k]) != 0; k++)
			;
		cr_assert_lt(k, 3, "unknown step %s", step);
		snprintf(pairs + strlen(pairs), 512 - strlen(pairs), "%s %d ", step, ++visits[k]);
		free(step);
	}
	return pairs;
}

static char *step_sequence(const char *db, const char *id)
{
	char q[256], *seq = calloc(1, 512);
	int i;

	cr_assert_not_null(seq);
	for (i = 1;; i++) {
		char *step;

		snprintf(q, sizeof(q), "SELECT step FROM steps WHERE run_id = '%s' AND seq = %d",
			 id, i);
		if (!(step = ts_sql_text(db, q)))
			break;
		strcat(seq, step);
		strcat(seq, " ");
		free(step);
	}
	return seq;
}

/* How many kills: the environment variable var when set, else dflt. */
static long kills_wanted(const char *var, long dflt)
{
	const char *env = getenv(var);

	return env && atol(env) > 0 ? atol(env) : dflt;
}

/* Kill `target` drivers of runs on database db (a SQLite file, or a PostgreSQL URL) at random
 * instants, checking every invariant after each kill. */
static void torture(const char *dir, const char *db, long target)
{
	char script[4096], log[4200], id[ECL_ID_MAX] = "", q[256];
	long kills = 0, finished = 0;
	int child = 0, sqlite = strncmp(db, "postgres", 8) != 0;
	unsigned seed = ts_seed("torture");
	char child_what[64];

	snprintf(script, sizeof(script), "%s/script.json", dir);
	/* the first critique is repaired once: its checkpoint stores its two calls */
	ts_write(script,
		 "{\"generate\": [" SLOW(GEN) "], \"critique\": [[\"no JSON\", " REVISE "], " SLOW(
			 REVISE) ", " PASS "], \"revise\": [" SLOW(REV1) ", " REV2 "]}");
	srand(seed);
	snprintf(child_what, sizeof(child_what), "the child, seed %u", seed);
	while (kills < target) {
		char *before, *status, *line, *save = NULL, *calls;
		int before_seq;
		pid_t pid;

		if (!id[0]) {
			ecl_options o = ts_options(db, script, NULL);
			ecl_engine *e;

			o.durability = ECL_DURABLE_FULL;
			e = ts_open(&o);
			cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"),
						   "{\"topic\": \"torture\"}", id),
				     ECL_OK, "%s" TS_SEED_FMT, ecl_engine_errmsg(e),
				     TS_SEED_ARG(seed));
			ecl_engine_close(e);
		}
		snprintf(q, sizeof(q), "SELECT seq FROM runs WHERE id = '%s'", id);
		before_seq = (int)ts_sql_int(db, q);
		before = committed_pairs(db, id);
		snprintf(log, sizeof(log), "%s/calls-%d.log", dir, child++);
		pid = fork();
		cr_assert_neq(pid, -1, "fork failed" TS_SEED_FMT, TS_SEED_ARG(seed));
		if (pid == 0) {
			ecl_options o = ts_options(db, script, log);
			ecl_engine *e;
			char err[256];
			int rc;

			o.durability = ECL_DURABLE_FULL;
			if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
				ts_exit(100);
			rc = ecl_run_drive(e, id);
			ecl_engine_close(e);
			ts_exit(rc);
		}
		/* Mostly early kills, some late ones so that runs also get to finish (under
		 * sanitizers a child needs longer to get anywhere). */
		kills += ts_kill_after(pid, rand() % 5 ? rand() % 15000 : rand() % 200000,
				       child_what);

		/* The invariants, after every kill. */
		if (sqlite) {
			status = ts_sql_text(db, "PRAGMA integrity_check");
			cr_assert_str_eq(status, "ok", "after kill %ld" TS_SEED_FMT, kills,
					 TS_SEED_ARG(seed));
			free(status);
		}
		cr_assert_geq(ts_sql_int(db, q), before_seq,
			      "a committed checkpoint was lost" TS_SEED_FMT, TS_SEED_ARG(seed));
		/* the calls of a step are stored with its checkpoint, or not at all */
		cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM calls c WHERE NOT EXISTS (SELECT"
					    " 1 FROM steps s WHERE s.run_id = c.run_id AND s.seq ="
					    " c.seq)"),
			     0, "calls of a checkpoint not committed" TS_SEED_FMT,
			     TS_SEED_ARG(seed));
		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM steps s WHERE run_id = '%s' AND seq = 2 AND 2 <>"
			 " (SELECT count(*) FROM calls c WHERE c.run_id = s.run_id AND c.seq = 2)",
			 id);
		cr_assert_eq(ts_sql_int(db, q), 0,
			     "the first critique was committed without its calls" TS_SEED_FMT,
			     TS_SEED_ARG(seed));
		snprintf(q, sizeof(q),
			 "SELECT count(*) FROM steps WHERE run_id = '%s' AND step = 'revise'", id);
		cr_assert_leq(ts_sql_int(db, q), 3, "the loop passed its bound" TS_SEED_FMT,
			      TS_SEED_ARG(seed));
		calls = ts_read(log);
		for (line = calls ? strtok_r(calls, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save)) {
			char step[32], pair[48];
			int visit, call;

			cr_assert_eq(sscanf(line, "%*s %31s %d %d", step, &visit, &call), 3,
				     "call log line `%s`" TS_SEED_FMT, line, TS_SEED_ARG(seed));
			snprintf(pair, sizeof(pair), "%s %d ", step, visit);
			cr_assert_null(strstr(before, pair),
				       "%s was committed before this process started, and it asked "
				       "for it again" TS_SEED_FMT,
				       pair, TS_SEED_ARG(seed));
		}
		free(calls);
		free(before);

		snprintf(q, sizeof(q), "SELECT status FROM runs WHERE id = '%s'", id);
		status = ts_sql_text(db, q);
		if (strcmp(status, "completed") == 0) {
			char *seq = step_sequence(db, id), *out;

			cr_assert_str_eq(seq, expected_steps, "steps" TS_SEED_FMT,
					 TS_SEED_ARG(seed));
			snprintf(q, sizeof(q), "SELECT output FROM runs WHERE id = '%s'", id);
			out = ts_sql_text(db, q);
			cr_assert_str_eq(out, "{\"content\":\"Draft v2\",\"word_count\":2}",
					 "output" TS_SEED_FMT, TS_SEED_ARG(seed));
			free(out);
			free(seq);
			finished++;
			id[0] = '\0';
		} else {
			cr_assert(strcmp(status, "running") == 0 ||
					  strcmp(status, "interrupted") == 0,
				  "status %s" TS_SEED_FMT, status, TS_SEED_ARG(seed));
		}
		free(status);
	}
	printf("torture: %s: %ld kills, %ld runs completed, every invariant held (seed %u)\n",
	       sqlite ? "sqlite" : "postgres", kills, finished, seed);
	cr_assert_gt(finished, 0, "no run completed" TS_SEED_FMT, TS_SEED_ARG(seed));
}

Test(torture, sigkill_at_random_instants, .timeout = 300)
{
	char *dir = ts_tmpdir(), db[4096];

	snprintf(db, sizeof(db), "%s/runs.db", dir);
	torture(dir, db, kills_wanted("ECL_TORTURE_KILLS", 200));
	ts_rmtree(dir);
	free(dir);
}

/* The same on PostgreSQL, on a database of the server the test set-up started. */
Test(torture, sigkill_at_random_instants_on_postgres, .timeout = 500)
{
	char *dir = ts_tmpdir(), db[512];

	ts_pg_create(db, sizeof(db));
	torture(dir, db, kills_wanted("ECL_TORTURE_PG_KILLS", 1000));
	ts_pg_drop(db);
	ts_rmtree(dir);
	free(dir);
}
