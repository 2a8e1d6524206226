/*
 * test_store_pg.c - what only the PostgreSQL store has to do beyond the store contract
 * (test_store_contract.c runs that against it): go on over a connection the server closed
 * under it, and resolve a transition whose answer was lost by reading, never by making it
 * twice.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"

#define A     "0000000000000001"
#define OWNER "host/1/aaaa"

static char url[512];
static store *st;

static void setup(void)
{
	char err[512] = "";

	mem_init();
	ts_pg_create(url, sizeof(url));
	cr_assert_eq(store_pg_open(url, 0, 2000, &st, err, sizeof(err)), ECL_OK, "%s", err);
}

static void teardown(void)
{
	if (st)
		st->ops->close(st);
	st = NULL;
	ts_pg_drop(url);
}

TestSuite(store_pg, .init = setup, .fini = teardown, .timeout = 60);

#define OK(call) cr_assert_eq((call), ECL_OK, "%s: %s", #call, st->ops->errmsg(st))

/* The server ends every connection of this test's database, as a restart would. */
static void server_closes_connections(void)
{
	char sql[700], admin[512];
	const char *name = strrchr(url, '/') + 1;

	snprintf(admin, sizeof(admin), "%s/postgres", getenv("ECL_TEST_PG"));
	snprintf(sql, sizeof(sql),
		 "DO $$BEGIN PERFORM pg_terminate_backend(pid) FROM pg_stat_activity"
		 " WHERE datname = '%s' AND pid <> pg_backend_pid(); END$$",
		 name);
	cr_assert(ts_pg_sql(admin, sql));
}

static void create_run(void)
{
	store_run r = {0};

	snprintf(r.id, sizeof(r.id), "%s", A);
	r.workflow = "critique-revise";
	r.version = "v1";
	r.status = "running";
	r.step = "generate";
	r.attempt = 1;
	r.inputs = "{}";
	r.created_ms = 1000;
	r.owner = OWNER;
	r.lease_until_ms = 100000;
	OK(st->ops->create_run(st, &r));
}

static store_commit a_commit(int seq)
{
	store_commit c = {0};

	c.run_id = A;
	c.step.seq = seq;
	c.step.step = seq == 1 ? "generate" : "critique";
	c.step.attempt = 1;
	c.step.output = "{\"content\":\"x\"}";
	c.step.vars = "{}";
	c.step.started_ms = 1000 + seq;
	c.step.duration_us = 10;
	c.status = "running";
	c.current = "critique";
	c.attempt = 1;
	c.owner = OWNER;
	c.now_ms = 2000 + seq;
	c.lease_until_ms = 100000 + seq;
	return c;
}

static int count_steps(void *ctx, const store_step *s)
{
	(void)s;
	++*(int *)ctx;
	return 0;
}

Test(store_pg, a_commit_over_a_closed_connection_is_made_once)
{
	store_commit c = a_commit(1);
	const char *request;
	store_run r;
	int n = 0;

	create_run();
	server_closes_connections();
	OK(st->ops->commit(st, &c, &request));
	OK(st->ops->get_run(st, A, &r));
	cr_assert_eq(r.seq, 1);
	store_run_clear(&r);
	OK(st->ops->list_steps(st, A, count_steps, &n));
	cr_assert_eq(n, 1);
	/* the same checkpoint again is still refused: made once is made once */
	cr_assert_eq(st->ops->commit(st, &c, &request), ECL_ESTATE);
}

Test(store_pg, reads_and_leases_go_on_over_a_closed_connection)
{
	const char *request;
	store_run r;

	create_run();
	server_closes_connections();
	OK(st->ops->heartbeat(st, A, OWNER, 3000, 200000, &request));
	server_closes_connections();
	OK(st->ops->get_run(st, A, &r));
	cr_assert_eq(r.lease_until_ms, 200000);
	store_run_clear(&r);
}

Test(store_pg, a_write_that_cannot_be_repeated_fails_naming_the_server)
{
	create_run();
	server_closes_connections();
	/* a note is not sent twice: it fails, and the next operation connects again */
	cr_assert_eq(st->ops->note(st, A, 0, "hello", 3000), ECL_ESTORE);
	cr_assert(strstr(st->ops->errmsg(st), "ecl@127.0.0.1:"), "%s", st->ops->errmsg(st));
	cr_assert(strstr(st->ops->errmsg(st), "connection"), "%s", st->ops->errmsg(st));
	OK(st->ops->note(st, A, 0, "hello", 3000));
}

Test(store_pg, a_group_cut_off_by_the_server_is_made_again_one_by_one)
{
	store_commit c = a_commit(1);
	const char *request;
	store_run r;

	create_run();
	OK(st->ops->group_begin(st));
	OK(st->ops->commit(st, &c, &request));
	server_closes_connections();
	/* the group's transaction died with its connection: nothing of it was made */
	cr_assert_eq(st->ops->group_end(st, 1), ECL_ESTORE);
	OK(st->ops->get_run(st, A, &r));
	cr_assert_eq(r.seq, 0);
	store_run_clear(&r);
	/* as the batch engine does then: each transition again, alone */
	OK(st->ops->commit(st, &c, &request));
	OK(st->ops->get_run(st, A, &r));
	cr_assert_eq(r.seq, 1);
	store_run_clear(&r);
}

Test(store_pg, a_claim_over_a_closed_connection_fails_then_takes_the_run_once)
{
	char ids[2][ECL_ID_MAX];
	store_run r = {0};
	int n = -1;

	snprintf(r.id, sizeof(r.id), "%s", A);
	r.workflow = "critique-revise";
	r.version = "v1";
	r.status = "queued";
	r.step = "generate";
	r.inputs = "{}";
	r.created_ms = 1000;
	OK(st->ops->create_run(st, &r));
	server_closes_connections();
	/* nothing was sent: nothing was taken, and the failure says so */
	cr_assert_eq(st->ops->claim(st, OWNER, NULL, 0, 2, 3000, 9000, ids, &n), ECL_ESTORE);
	cr_assert(strstr(st->ops->errmsg(st), "connection"), "%s", st->ops->errmsg(st));
	OK(st->ops->claim(st, OWNER, NULL, 0, 2, 3000, 9000, ids, &n));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(ids[0], A);
	OK(st->ops->claim(st, OWNER, NULL, 0, 2, 3000, 9000, ids, &n));
	cr_assert_eq(n, 0, "taken once");
}

static int told_lost, told_back;
static char told[1024];

static void on_connection(void *ctx, int lost, const char *detail)
{
	(void)ctx;
	if (lost)
		told_lost++;
	else
		told_back++;
	snprintf(told + strlen(told), sizeof(told) - strlen(told), "%s\n", detail);
}

/* A connection lost is told to the store's owner once, and its return once, however many
 * operations meet the outage: what a process says once. */
Test(store_pg, a_connection_lost_is_told_once_and_its_return_once)
{
	store_run got;
	int i;

	create_run();
	st->on_connection = on_connection;
	for (i = 1; i <= 2; i++) {
		server_closes_connections();
		OK(st->ops->get_run(st, A, &got));
		store_run_clear(&got);
		OK(st->ops->get_run(st, A, &got));
		store_run_clear(&got);
		cr_assert_eq(told_lost, i, "%s", told);
		cr_assert_eq(told_back, i, "%s", told);
	}
	cr_assert(strstr(told, "postgres ecl@127.0.0.1:"), "the server is named: %s", told);
	cr_assert(strstr(told, "terminating connection"), "what failed is said: %s", told);
	cr_assert(strstr(told, ": after "), "how long it took is said: %s", told);
}
