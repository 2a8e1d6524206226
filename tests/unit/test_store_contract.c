/*
 * test_store_contract.c - the contract of the store seam (runtime/store/store.h), as one suite that
 * every backend runs. A test reaches a store only through a factory and calls only the ops of
 * store.h: no SQL, no file, nothing a second backend would not have. Each test runs once per
 * factory in `factories`; a new backend adds its factory there, in one line.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* mem_free for a lease's holder and an answer */
#include "support.h"

/* How the suite gets a store: open(where) gives a handle on the store that lives in the
 * scratch directory `where` (a second open of the same place gives a second handle on the same
 * store, as another process would hold); cleanup(where) removes what open made outside it. */
typedef struct store_factory {
	const char *name;
	int (*open)(const char *where, store **out, char *err, size_t errlen);
	void (*cleanup)(const char *where);
} store_factory;

static int sqlite_open(const char *where, store **out, char *err, size_t errlen)
{
	return store_sqlite_open(ts_path(where, "runs.db"), ECL_DURABLE_NORMAL, 2000, 0, out, err,
				 errlen);
}

static void sqlite_cleanup(const char *where)
{
	(void)where; /* the file is in `where` */
}

/* PostgreSQL: a database of its own for each scratch directory, on the server the test set-up
 * started; its URL is kept in the directory, so that a second open finds the same one. */
static int pg_open(const char *where, store **out, char *err, size_t errlen)
{
	char url[512] = "";
	FILE *f = fopen(ts_path(where, "pgdb"), "r");

	if (f) {
		cr_assert(fgets(url, sizeof(url), f));
		fclose(f);
	} else {
		ts_pg_create(url, sizeof(url));
		cr_assert((f = fopen(ts_path(where, "pgdb"), "w")) != NULL);
		fputs(url, f);
		fclose(f);
	}
	return store_pg_open(url, 0, 2000, out, err, errlen);
}

static void pg_cleanup(const char *where)
{
	char url[512];
	FILE *f = fopen(ts_path(where, "pgdb"), "r");

	if (!f)
		return;
	if (fgets(url, sizeof(url), f))
		ts_pg_drop(url);
	fclose(f);
}

static const store_factory factories[] = {
	{"sqlite", sqlite_open, sqlite_cleanup},
	{"postgres", pg_open, pg_cleanup},
};
#define NFACTORIES ((int)(sizeof(factories) / sizeof(factories[0])))
_Static_assert(sizeof(factories) / sizeof(factories[0]) <= 8, "CONTRACT() indexes up to 8");

static const store_factory *factory;
static char *where;
static store *st, *st2;

static void setup(void)
{
	mem_init();
	where = ts_tmpdir();
}

static void teardown(void)
{
	if (st2)
		st2->ops->close(st2);
	if (st)
		st->ops->close(st);
	st = st2 = NULL;
	if (factory)
		factory->cleanup(where);
	ts_rmtree(where);
	free(where);
}

/* Open the store of factory i as st. */
static void use(int i)
{
	char err[512] = "";

	factory = &factories[i];
	cr_assert_eq(factory->open(where, &st, err, sizeof(err)), ECL_OK, "%s: %s", factory->name,
		     err);
}

/* A second handle on the same store, as another process would have. */
static store *second(void)
{
	char err[512] = "";

	cr_assert_eq(factory->open(where, &st2, err, sizeof(err)), ECL_OK, "%s", err);
	return st2;
}

/* A test of the contract, run against each factory. */
#define CONTRACT(name)                                                                             \
	static void name##_body(void);                                                             \
	ParameterizedTestParameters(contract, name)                                                \
	{                                                                                          \
		static int idx[] = {0, 1, 2, 3, 4, 5, 6, 7};                                       \
		return cr_make_param_array(int, idx, NFACTORIES);                                  \
	}                                                                                          \
	ParameterizedTest(int *i, contract, name)                                                  \
	{                                                                                          \
		use(*i);                                                                           \
		name##_body();                                                                     \
	}                                                                                          \
	static void name##_body(void)

TestSuite(contract, .init = setup, .fini = teardown);

#define A     "0000000000000001"
#define B     "0000000000000002"
#define C     "0000000000000003"
#define OWNER "host/1/aaaa"
#define OTHER "host/2/bbbb"

#define OK(call) cr_assert_eq((call), ECL_OK, "%s: %s", #call, st->ops->errmsg(st))

/* A run as the engine creates one, every field set (owner: the lease holder, or NULL). */
static store_run a_run(const char *id, const char *owner, long long created_ms)
{
	store_run r = {0};

	snprintf(r.id, sizeof(r.id), "%s", id);
	r.workflow = "critique-revise";
	r.version = "v1";
	r.status = "running";
	r.step = "generate";
	r.attempt = 1;
	r.inputs = "{\"topic\":\"t\"}";
	r.created_ms = created_ms;
	r.owner = (char *)owner;
	r.lease_until_ms = owner ? 10000 : 0;
	return r;
}

static void create(const char *id, const char *owner, long long created_ms)
{
	store_run r = a_run(id, owner, created_ms);

	OK(st->ops->create_run(st, &r));
}

/* The transition of checkpoint seq of run id to `next` (NULL: the run completes). */
static store_commit a_commit(const char *id, int seq, const char *owner, const char *next)
{
	store_commit c = {0};

	c.run_id = id;
	c.step.seq = seq;
	c.step.step = seq == 1 ? "generate" : seq % 2 ? "revise" : "critique";
	c.step.attempt = 1;
	c.step.next = next;
	c.step.output = "{\"content\":\"x\"}";
	c.step.vars = "{}";
	c.step.started_ms = 1000 + seq;
	c.step.duration_us = 10;
	c.status = next ? "running" : "completed";
	c.current = next;
	c.attempt = 1;
	c.output = next ? NULL : "\"x\"";
	c.owner = owner;
	c.now_ms = 2000 + seq;
	c.lease_until_ms = 20000 + seq;
	return c;
}

static void commit(const store_commit *c, const char **request)
{
	const char *r = "unset";

	OK(st->ops->commit(st, c, request ? request : &r));
	if (!request)
		cr_assert_null(r, "no request pending");
}

/* The run id read back; release with store_run_clear. */
static store_run get(store *s, const char *id)
{
	store_run r;

	cr_assert_eq(s->ops->get_run(s, id, &r), ECL_OK, "%s", s->ops->errmsg(s));
	return r;
}

#define S(x) ((x) ? (x) : "(null)")

/* Every field of a run as one line, to compare a run before and after. */
static void run_text(const store_run *r, char *out, size_t n)
{
	snprintf(out, n, "%s|%s|%s|%s|%s|%d|%d|%s|%s|%s|%lld|%lld|%s|%lld|%s|%s|%s|%s|%s", r->id,
		 S(r->workflow), S(r->version), S(r->status), S(r->step), r->seq, r->attempt,
		 S(r->inputs), S(r->output), S(r->error), r->created_ms, r->updated_ms, S(r->owner),
		 r->lease_until_ms, S(r->request), S(r->parent), S(r->provider), S(r->model),
		 S(r->base_url));
}

/* The run as one line (static buffer, one at a time per slot). */
static const char *snapshot(const char *id, int slot)
{
	static char text[2][2048];
	store_run r = get(st, id);

	run_text(&r, text[slot], sizeof(text[slot]));
	store_run_clear(&r);
	return text[slot];
}

static int add_step(void *ctx, const store_step *s)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 4096 - n, "%d:%s:%d>%s %s %s %s %lld/%lld", s->seq, s->step, s->attempt,
		 S(s->next), S(s->output), S(s->raw), S(s->vars), s->tokens_in, s->tokens_out);
	n = strlen(out);
	if (s->tokens_cached || s->tokens_cache_write || s->ttft_us)
		snprintf(out + n, 4096 - n, "[c%lld w%lld t%lld]", s->tokens_cached,
			 s->tokens_cache_write, s->ttft_us);
	n = strlen(out);
	snprintf(out + n, 4096 - n, " %lld+%lld\n", s->started_ms, s->duration_us);
	return 0;
}

/* The checkpoints of run id as text, one line each (static buffer). */
static const char *steps_of(const char *id)
{
	static char out[4096];

	out[0] = '\0';
	OK(st->ops->list_steps(st, id, add_step, out));
	return out;
}

/* "seq>next " of each checkpoint. */
static int add_next(void *ctx, const store_step *s)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%d:%s>%s ", s->seq, s->step, S(s->next));
	return 0;
}

static const char *nexts_of(const char *id)
{
	static char out[512];

	out[0] = '\0';
	OK(st->ops->list_steps(st, id, add_next, out));
	return out;
}

static int add_note(void *ctx, int seq, long long ts_ms, const char *text)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 2048 - n, "%d@%lld:%s\n", seq, ts_ms, text);
	return 0;
}

static const char *notes_of(const char *id)
{
	static char out[2048];

	out[0] = '\0';
	OK(st->ops->list_notes(st, id, add_note, out));
	return out;
}

/* The answers run id was given, as notes_of writes notes. */
static const char *answers_of(const char *id)
{
	static char out[2048];

	out[0] = '\0';
	OK(st->ops->list_answers(st, id, add_note, out));
	return out;
}

/* The answer the driver would apply to run id waiting after checkpoint seq, or "(none)". */
static const char *pending_answer(const char *id, int seq)
{
	static char out[256];
	char *answer = (char *)"";

	OK(st->ops->get_answer(st, id, seq, &answer));
	snprintf(out, sizeof(out), "%s", answer ? answer : "(none)");
	mem_free(answer);
	return out;
}

static int add_id(void *ctx, const store_run *r)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s ", r->id + 13); /* the last 3 digits */
	return 0;
}

static const char *listed(const store_filter *f)
{
	static char out[512];

	out[0] = '\0';
	OK(st->ops->list_runs(st, f, add_id, out));
	return out;
}

/* ---- runs ---------------------------------------------------------------------------------- */

CONTRACT(a_run_reads_back_field_by_field)
{
	store_run r = a_run(A, OWNER, 1000), got;

	r.seq = 2;
	r.attempt = 3;
	r.parent = "00000000000000ff@2";
	r.provider = "openai";
	r.model = "gpt-x";
	r.base_url = "http://localhost:1/v1";
	r.trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	r.inputs = "{\"topic\":\"t\",\"n\":[1,2]}";
	OK(st->ops->create_run(st, &r));
	got = get(st, A);
	cr_assert_str_eq(got.id, A);
	cr_assert_str_eq(got.workflow, "critique-revise");
	cr_assert_str_eq(got.version, "v1");
	cr_assert_str_eq(got.status, "running");
	cr_assert_str_eq(got.step, "generate");
	cr_assert_eq(got.seq, 2);
	cr_assert_eq(got.attempt, 3);
	cr_assert_str_eq(got.inputs, "{\"topic\":\"t\",\"n\":[1,2]}");
	cr_assert_null(got.output);
	cr_assert_null(got.error);
	cr_assert_eq(got.created_ms, 1000);
	cr_assert_eq(got.updated_ms, 1000, "a new run was last changed when it was created");
	cr_assert_str_eq(got.owner, OWNER);
	cr_assert_eq(got.lease_until_ms, 10000);
	cr_assert_null(got.request);
	cr_assert_str_eq(got.parent, "00000000000000ff@2");
	cr_assert_str_eq(got.provider, "openai");
	cr_assert_str_eq(got.model, "gpt-x");
	cr_assert_str_eq(got.base_url, "http://localhost:1/v1");
	cr_assert_str_eq(got.trace, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	store_run_clear(&got);

	/* what is not given reads back as NULL; what a new run cannot have is not read */
	r = a_run(B, NULL, 1001);
	r.output = "\"x\"";
	r.error = "e";
	r.request = "pause";
	r.updated_ms = 5;
	OK(st->ops->create_run(st, &r));
	got = get(st, B);
	cr_assert_null(got.output);
	cr_assert_null(got.error);
	cr_assert_null(got.request);
	cr_assert_eq(got.updated_ms, 1001);
	cr_assert_null(got.owner);
	cr_assert_eq(got.lease_until_ms, 0);
	cr_assert_null(got.parent);
	cr_assert_null(got.provider);
	cr_assert_null(got.model);
	cr_assert_null(got.base_url);
	cr_assert_null(got.trace);
	store_run_clear(&got);
	store_run_clear(&got); /* safe twice: it zeroed the struct */
}

CONTRACT(an_unknown_run_is_not_found)
{
	store_run got;

	cr_assert_eq(st->ops->get_run(st, A, &got), ECL_ENOTFOUND);
	cr_assert(strstr(st->ops->errmsg(st), A), "%s", st->ops->errmsg(st));
	store_run_clear(&got);
	cr_assert_str_eq(steps_of(A), "", "an unknown run has no checkpoints");
	cr_assert_str_eq(notes_of(A), "");
}

CONTRACT(a_taken_id_is_refused_and_the_run_kept)
{
	store_run r = a_run(A, NULL, 5000);
	char before[2048];

	create(A, OWNER, 1000);
	snprintf(before, sizeof(before), "%s", snapshot(A, 0));
	r.workflow = "other";
	cr_assert_eq(st->ops->create_run(st, &r), ECL_EUSAGE);
	cr_assert(strstr(st->ops->errmsg(st), A), "%s", st->ops->errmsg(st));
	cr_assert_str_eq(snapshot(A, 1), before);
}

CONTRACT(set_version_changes_the_version_and_nothing_else)
{
	store_run got;
	char before[2048], after[2048];

	create(A, OWNER, 1000);
	snprintf(before, sizeof(before), "%s", snapshot(A, 0));
	OK(st->ops->set_version(st, A, "v2", 4000));
	got = get(st, A);
	cr_assert_str_eq(got.version, "v2");
	cr_assert_eq(got.updated_ms, 4000);
	/* put those two back: the rest is as it was */
	mem_free(got.version);
	got.version = mem_strdup("v1");
	got.updated_ms = 1000;
	run_text(&got, after, sizeof(after));
	store_run_clear(&got);
	cr_assert_str_eq(after, before);
}

/* ---- transitions --------------------------------------------------------------------------- */

CONTRACT(a_commit_stores_the_checkpoint_and_the_run_together)
{
	store_commit c = a_commit(A, 1, OWNER, "critique");
	store_run got;

	create(A, OWNER, 1000);
	c.step.attempt = 2;
	c.step.raw = "```{\"content\":\"x\"}```";
	c.step.vars = "{\"round\":1}";
	c.step.tokens_in = 11;
	c.step.tokens_out = 22;
	c.step.tokens_cached = 5;
	c.step.tokens_cache_write = 3;
	c.step.ttft_us = 77;
	c.attempt = 1;
	commit(&c, NULL);
	cr_assert_str_eq(steps_of(A),
			 "1:generate:2>critique {\"content\":\"x\"} ```{\"content\":\"x\"}``` "
			 "{\"round\":1} 11/22[c5 w3 t77] 1001+10\n");
	got = get(st, A);
	cr_assert_str_eq(got.status, "running");
	cr_assert_str_eq(got.step, "critique");
	cr_assert_eq(got.seq, 1);
	cr_assert_eq(got.attempt, 1);
	cr_assert_eq(got.updated_ms, 2001);
	cr_assert_str_eq(got.owner, OWNER, "a running run keeps its lease");
	cr_assert_eq(got.lease_until_ms, 20001, "renewed by the commit");
	cr_assert_null(got.output);
	store_run_clear(&got);
}

CONTRACT(a_commit_that_ends_the_run_gives_up_the_lease)
{
	/* an output string as long as one of a checkpoint's: however the store keeps it, it
	 * reads back as committed */
	const char *long_text = "a long answer that a checkpoint already holds";
	char out[256], result[256];
	store_commit c;
	store_run got;

	create(A, OWNER, 1000);
	c = a_commit(A, 1, OWNER, "critique");
	snprintf(out, sizeof(out), "{\"content\":\"%s\",\"n\":1}", long_text);
	c.step.output = out;
	commit(&c, NULL);
	c = a_commit(A, 2, OWNER, NULL);
	snprintf(result, sizeof(result), "{\"final\":\"%s\",\"score\":90,\"tags\":[\"a\"]}",
		 long_text);
	c.output = result;
	commit(&c, NULL);
	got = get(st, A);
	cr_assert_str_eq(got.status, "completed");
	cr_assert_null(got.step);
	cr_assert_eq(got.seq, 2);
	cr_assert_str_eq(got.output, result);
	cr_assert_null(got.owner);
	cr_assert_eq(got.lease_until_ms, 0);
	store_run_clear(&got);
	cr_assert_str_eq(nexts_of(A), "1:generate>critique 2:critique>(null) ");

	/* a bare string result that a checkpoint holds, too */
	create(B, OWNER, 1001);
	c = a_commit(B, 1, OWNER, NULL);
	c.step.output = out;
	snprintf(result, sizeof(result), "\"%s\"", long_text);
	c.output = result;
	commit(&c, NULL);
	got = get(st, B);
	cr_assert_str_eq(got.output, result);
	store_run_clear(&got);

	/* a failure keeps the step that failed and the message */
	create(C, OWNER, 1002);
	c = a_commit(C, 1, OWNER, NULL);
	c.status = "failed";
	c.current = "generate";
	c.output = NULL;
	c.error = "step `generate` failed: boom";
	commit(&c, NULL);
	got = get(st, C);
	cr_assert_str_eq(got.status, "failed");
	cr_assert_str_eq(got.step, "generate");
	cr_assert_str_eq(got.error, "step `generate` failed: boom");
	cr_assert_null(got.output);
	cr_assert_null(got.owner);
	store_run_clear(&got);
	cr_assert_str_eq(nexts_of(C), "1:generate>generate ", "the last one enters the run's step");
}

/* A commit that is refused leaves the run and its checkpoints as they were. */
static void refused(const store_commit *c, const char *why)
{
	char before[2048], steps[4096];
	const char *request = "unset";

	snprintf(before, sizeof(before), "%s", snapshot(c->run_id, 0));
	snprintf(steps, sizeof(steps), "%s", steps_of(c->run_id));
	cr_assert_eq(st->ops->commit(st, c, &request), ECL_ESTATE, "%s", why);
	cr_assert_str_eq(snapshot(c->run_id, 1), before, "%s: the run changed", why);
	cr_assert_str_eq(steps_of(c->run_id), steps, "%s: a checkpoint was stored", why);
}

CONTRACT(a_refused_commit_changes_nothing)
{
	store_commit c;

	create(A, OWNER, 1000);
	c = a_commit(A, 1, OTHER, "critique");
	refused(&c, "not the lease holder");
	c = a_commit(A, 2, OWNER, "critique");
	refused(&c, "not the next checkpoint");
	c = a_commit(A, 1, OWNER, "critique");
	commit(&c, NULL);
	refused(&c, "the same checkpoint again");
	c = a_commit(A, 1, OWNER, NULL);
	refused(&c, "the same checkpoint again, ending the run");
	OK(st->ops->release(st, A, OWNER, "interrupted", "stopped", 3000));
	c = a_commit(A, 2, OWNER, "revise");
	refused(&c, "the lease was given up");
	cr_assert_str_eq(nexts_of(A), "1:generate>critique ");
}

static int stop_with_5_calls(void *ctx, int seq, const store_call *k)
{
	(void)seq;
	(void)k;
	(*(int *)ctx)++;
	return 5;
}

static int stop_with_7(void *ctx, const store_step *s)
{
	(*(int *)ctx)++;
	return 7;
}

CONTRACT(checkpoints_are_listed_in_order)
{
	store_commit c;
	int i, n = 0;

	create(A, OWNER, 1000);
	for (i = 1; i <= 4; i++) {
		c = a_commit(A, i, OWNER, i % 2 ? "critique" : "revise");
		commit(&c, NULL);
	}
	cr_assert_str_eq(nexts_of(A), "1:generate>critique 2:critique>revise 3:revise>critique "
				      "4:critique>revise ");
	cr_assert_eq(st->ops->list_steps(st, A, stop_with_7, &n), 7, "the walk's own stop");
	cr_assert_eq(n, 1);
}

/* ---- listing runs -------------------------------------------------------------------------- */

static int stop_with_9(void *ctx, const store_run *r)
{
	(*(int *)ctx)++;
	return 9;
}

CONTRACT(runs_are_listed_newest_first_and_filtered)
{
	store_filter f = {0};
	store_commit c;
	const char *running[] = {"running"}, *over[] = {"completed", "paused"};
	store_run r;
	int n = 0;

	create("0000000000000101", OWNER, 1000);
	create("0000000000000102", OWNER, 3000);
	create("0000000000000103", OWNER, 2000);
	create("0000000000000104", OWNER, 2000); /* same time as 103: by id, descending */
	r = a_run("0000000000000105", NULL, 4000);
	r.workflow = "other";
	OK(st->ops->create_run(st, &r));
	c = a_commit("0000000000000101", 1, OWNER, NULL); /* completed at 2001 */
	commit(&c, NULL);
	OK(st->ops->release(st, "0000000000000102", OWNER, "paused", NULL, 5000));

	cr_assert_str_eq(listed(&f), "105 102 104 103 101 ");
	f.statuses = running;
	f.nstatuses = 1;
	cr_assert_str_eq(listed(&f), "105 104 103 ");
	f.statuses = over;
	f.nstatuses = 2;
	cr_assert_str_eq(listed(&f), "102 101 ");
	f.nstatuses = 0;
	f.workflow = "critique-revise";
	cr_assert_str_eq(listed(&f), "102 104 103 101 ");
	f.workflow = NULL;
	f.updated_before_ms = 3000; /* strictly before */
	cr_assert_str_eq(listed(&f), "104 103 101 ");
	f.updated_before_ms = 0;
	f.limit = 2;
	cr_assert_str_eq(listed(&f), "105 102 ");
	f.limit = 0;
	f.workflow = "critique-revise";
	f.statuses = running;
	f.nstatuses = 1;
	f.updated_before_ms = 2001;
	cr_assert_str_eq(listed(&f), "104 103 ", "every field at once");
	cr_assert_eq(st->ops->list_runs(st, &f, stop_with_9, &n), 9, "the walk's own stop");
	cr_assert_eq(n, 1);
}

/* ---- leases -------------------------------------------------------------------------------- */

CONTRACT(a_lease_is_taken_renewed_refused_and_taken_over)
{
	char *holder = NULL;
	const char *request = "unset";
	store_run got;

	create(A, NULL, 1000);
	cr_assert_eq(st->ops->release(st, A, OWNER, "interrupted", "x", 1500), ECL_ESTATE);

	/* free: taken, the run running at the attempt given */
	OK(st->ops->acquire(st, A, OWNER, NULL, 2, 2000, 5000, &holder));
	cr_assert_null(holder);
	got = get(st, A);
	cr_assert_str_eq(got.status, "running");
	cr_assert_str_eq(got.owner, OWNER);
	cr_assert_eq(got.lease_until_ms, 5000);
	cr_assert_eq(got.attempt, 2);
	store_run_clear(&got);

	/* renewed by its holder; refused to anyone else while it is valid, up to its end */
	OK(st->ops->heartbeat(st, A, OWNER, 3000, 6000, &request));
	cr_assert_null(request);
	cr_assert_eq(st->ops->heartbeat(st, A, OTHER, 3000, 6000, &request), ECL_ESTATE);
	got = get(st, A);
	cr_assert_eq(got.lease_until_ms, 6000);
	store_run_clear(&got);
	cr_assert_eq(st->ops->acquire(st, A, OTHER, NULL, 3, 6000, 9000, &holder), ECL_ESTATE);
	cr_assert_str_eq(holder, OWNER);
	mem_free(holder);
	holder = NULL;
	OK(st->ops->acquire(st, A, OWNER, NULL, 3, 4000, 7000, &holder)); /* its holder again */
	got = get(st, A);
	cr_assert_eq(got.attempt, 3);
	cr_assert_eq(got.lease_until_ms, 7000);
	store_run_clear(&got);

	/* expired: taken over, and the old holder can neither renew nor commit nor release */
	OK(st->ops->acquire(st, A, OTHER, NULL, 4, 7001, 12000, &holder));
	cr_assert_null(holder);
	cr_assert_eq(st->ops->heartbeat(st, A, OWNER, 7002, 15000, &request), ECL_ESTATE);
	{
		store_commit c = a_commit(A, 1, OWNER, "critique");

		refused(&c, "the lease was taken over");
	}
	cr_assert_eq(st->ops->release(st, A, OWNER, "interrupted", NULL, 7002), ECL_ESTATE);
	got = get(st, A);
	cr_assert_str_eq(got.owner, OTHER);
	cr_assert_eq(got.lease_until_ms, 12000);
	store_run_clear(&got);

	/* a holder known to be dead: taken at once */
	OK(st->ops->acquire(st, A, OWNER, OTHER, 5, 7003, 13000, &holder));
	cr_assert_null(holder);

	/* given up: the status and message it is left with, no holder */
	OK(st->ops->release(st, A, OWNER, "interrupted", "the provider failed", 8000));
	got = get(st, A);
	cr_assert_str_eq(got.status, "interrupted");
	cr_assert_str_eq(got.error, "the provider failed");
	cr_assert_null(got.owner);
	cr_assert_eq(got.lease_until_ms, 0);
	cr_assert_eq(got.updated_ms, 8000);
	store_run_clear(&got);
	cr_assert_eq(st->ops->heartbeat(st, A, OWNER, 8001, 9000, &request), ECL_ESTATE);

	/* taken again: the old message is cleared */
	OK(st->ops->acquire(st, A, OTHER, NULL, 6, 9000, 14000, &holder));
	got = get(st, A);
	cr_assert_null(got.error);
	cr_assert_eq(got.updated_ms, 9000);
	store_run_clear(&got);
}

CONTRACT(a_finished_or_unknown_run_has_no_lease)
{
	char *holder = NULL;
	store_commit c = a_commit(A, 1, OWNER, NULL);
	const char *s;
	char before[2048];

	create(A, OWNER, 1000);
	commit(&c, NULL);
	snprintf(before, sizeof(before), "%s", snapshot(A, 0));
	cr_assert_eq(st->ops->acquire(st, A, OWNER, NULL, 2, 3000, 9000, &holder), ECL_ESTATE);
	cr_assert_null(holder, "nobody holds a finished run");
	cr_assert_eq(st->ops->acquire(st, B, OWNER, NULL, 1, 3000, 9000, &holder), ECL_ENOTFOUND);
	cr_assert_null(holder);
	cr_assert_eq(st->ops->heartbeat(st, A, OWNER, 3000, 9000, &s), ECL_ESTATE);
	{ /* a lease on a run that is not running is not renewed */
		store_run r = a_run(B, OWNER, 1000);

		r.status = "waiting";
		OK(st->ops->create_run(st, &r));
		cr_assert_eq(st->ops->heartbeat(st, B, OWNER, 3000, 9000, &s), ECL_ESTATE);
	}
	cr_assert_eq(st->ops->release(st, A, OWNER, "interrupted", NULL, 3000), ECL_ESTATE);
	cr_assert_str_eq(snapshot(A, 1), before);
}

/* ---- requests from other processes ---------------------------------------------------------- */

CONTRACT(a_request_to_a_driven_run_goes_to_its_driver)
{
	const char *request = "unset";
	store_commit c;
	store_run got;
	int applied = -1;

	create(A, OWNER, 1000);
	OK(st->ops->request(st, A, "pause", 3000, &applied));
	cr_assert_eq(applied, 0);
	got = get(st, A);
	cr_assert_str_eq(got.status, "running", "its driver applies it");
	cr_assert_str_eq(got.request, "pause");
	store_run_clear(&got);
	cr_assert(strstr(notes_of(A), ":pause requested of the driver\n"), "%s", notes_of(A));
	/* the driver hears of it from a renewal and from a commit, which still applies */
	OK(st->ops->heartbeat(st, A, OWNER, 3001, 20000, &request));
	cr_assert_str_eq(request, "pause");
	c = a_commit(A, 1, OWNER, "critique");
	request = "unset";
	commit(&c, &request);
	cr_assert_str_eq(request, "pause");
	cr_assert_str_eq(nexts_of(A), "1:generate>critique ");
	/* a cancel asked later replaces it */
	OK(st->ops->request(st, A, "cancel", 3002, &applied));
	cr_assert_eq(applied, 0);
	OK(st->ops->heartbeat(st, A, OWNER, 3003, 20000, &request));
	cr_assert_str_eq(request, "cancel");
	/* the driver gives up the lease as asked: the request is done */
	OK(st->ops->release(st, A, OWNER, "cancelled", NULL, 3004));
	got = get(st, A);
	cr_assert_str_eq(got.status, "cancelled");
	cr_assert_null(got.request);
	store_run_clear(&got);
}

CONTRACT(a_request_to_a_run_nobody_drives_applies_at_once)
{
	store_run got;
	char *holder = NULL;
	int applied = -1;

	create(A, NULL, 1000);  /* never driven */
	create(B, OWNER, 1000); /* its lease (until 10000) expired */
	OK(st->ops->request(st, A, "pause", 3000, &applied));
	cr_assert_eq(applied, 1);
	got = get(st, A);
	cr_assert_str_eq(got.status, "paused");
	cr_assert_null(got.request);
	cr_assert_eq(got.updated_ms, 3000);
	store_run_clear(&got);
	cr_assert(strstr(notes_of(A), ":pause done\n"), "%s", notes_of(A));
	/* a paused run is not paused again, but it can be cancelled */
	cr_assert_eq(st->ops->request(st, A, "pause", 3001, &applied), ECL_ESTATE);
	OK(st->ops->request(st, A, "cancel", 3002, &applied));
	cr_assert_eq(applied, 1);
	got = get(st, A);
	cr_assert_str_eq(got.status, "cancelled");
	store_run_clear(&got);
	cr_assert(strstr(notes_of(A), ":cancel done\n"), "%s", notes_of(A));
	/* a cancelled run is over */
	cr_assert_eq(st->ops->request(st, A, "cancel", 3003, &applied), ECL_ESTATE);
	cr_assert_eq(st->ops->request(st, A, "pause", 3003, &applied), ECL_ESTATE);
	cr_assert_eq(st->ops->acquire(st, A, OWNER, NULL, 1, 3004, 9000, &holder), ECL_ESTATE);

	create(C, OWNER, 1000);
	OK(st->ops->release(st, C, OWNER, "interrupted", "boom", 2000));
	OK(st->ops->request(st, C, "pause", 3000, &applied));
	cr_assert_eq(applied, 1);
	got = get(st, C);
	cr_assert_str_eq(got.status, "paused");
	store_run_clear(&got);

	OK(st->ops->request(st, B, "cancel", 10001, &applied));
	cr_assert_eq(applied, 1, "an expired lease drives nothing");
	got = get(st, B);
	cr_assert_str_eq(got.status, "cancelled");
	store_run_clear(&got);
}

CONTRACT(a_refused_request_writes_nothing)
{
	store_commit c = a_commit(A, 1, OWNER, NULL);
	int applied = -1;

	create(A, OWNER, 1000);
	commit(&c, NULL);
	cr_assert_eq(st->ops->request(st, A, "pause", 3000, &applied), ECL_ESTATE);
	cr_assert_eq(applied, 0);
	cr_assert_eq(st->ops->request(st, A, "cancel", 3000, &applied), ECL_ESTATE);
	cr_assert_str_eq(notes_of(A), "", "no note of a refused request");
	cr_assert_eq(st->ops->request(st, B, "pause", 3000, &applied), ECL_ENOTFOUND);
}

CONTRACT(taking_the_lease_clears_a_pending_request)
{
	char *holder = NULL;
	const char *request = "unset";
	store_run got;
	int applied = -1;

	create(A, OWNER, 1000);
	OK(st->ops->request(st, A, "pause", 3000, &applied));
	cr_assert_eq(applied, 0);
	OK(st->ops->acquire(st, A, OTHER, OWNER, 2, 3001, 9000, &holder));
	got = get(st, A);
	cr_assert_null(got.request);
	store_run_clear(&got);
	OK(st->ops->heartbeat(st, A, OTHER, 3002, 9000, &request));
	cr_assert_null(request);
}

/* ---- checkpoint outputs ------------------------------------------------------------------- */

static int add_output(void *ctx, int seq, const char *output)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%d=%s ", seq, output);
	return 0;
}

static int stop_outputs_with_9(void *ctx, int seq, const char *output)
{
	(void)seq;
	(void)output;
	(*(int *)ctx)++;
	return 9;
}

/* The outputs of a run's checkpoints, newest first from a given one, as many as asked; a
 * checkpoint without an output is skipped. */
CONTRACT(the_outputs_of_recent_checkpoints_are_walked_newest_first)
{
	store_commit c;
	char got[512] = "";
	int calls = 0;

	create(A, OWNER, 1000);
	c = a_commit(A, 1, OWNER, "critique");
	c.step.output = "{\"n\":1}";
	commit(&c, NULL);
	c = a_commit(A, 2, OWNER, "revise");
	c.step.output = NULL; /* a set step stores none */
	commit(&c, NULL);
	c = a_commit(A, 3, OWNER, "critique");
	c.step.output = "{\"n\":3}";
	commit(&c, NULL);
	OK(st->ops->list_outputs(st, A, 3, 16, add_output, got));
	cr_assert_str_eq(got, "3={\"n\":3} 1={\"n\":1} ");
	got[0] = '\0';
	OK(st->ops->list_outputs(st, A, 3, 1, add_output, got));
	cr_assert_str_eq(got, "3={\"n\":3} ", "at most n");
	got[0] = '\0';
	OK(st->ops->list_outputs(st, A, 2, 16, add_output, got));
	cr_assert_str_eq(got, "1={\"n\":1} ", "none after upto");
	got[0] = '\0';
	OK(st->ops->list_outputs(st, A, 0, 16, add_output, got));
	OK(st->ops->list_outputs(st, B, 3, 16, add_output, got));
	cr_assert_str_eq(got, "", "before the first checkpoint, and no such run");
	cr_assert_eq(st->ops->list_outputs(st, A, 3, 16, stop_outputs_with_9, &calls), 9);
	cr_assert_eq(calls, 1);
}

/* A store changes no text it keeps: an output that repeats a checkpoint's strings, or looks
 * like a reference to one, reads back as it was committed. */
CONTRACT(an_output_reads_back_as_committed)
{
	const char *result = "{\"content\":{\"@\":1,\"=\":\"content\"},\"again\":\"a string "
			     "long enough to be referred to\"}";
	store_commit c;
	store_run got;

	create(A, OWNER, 1000);
	c = a_commit(A, 1, OWNER, NULL);
	c.step.output = "{\"content\":\"a string long enough to be referred to\"}";
	c.output = result;
	commit(&c, NULL);
	got = get(st, A);
	cr_assert_str_eq(got.output, result);
	store_run_clear(&got);
}

/* ---- human answers ------------------------------------------------------------------------- */

/* Run A waiting for an answer after checkpoint 1. */
static void waiting_run(void)
{
	store_commit c = a_commit(A, 1, OWNER, "approve");

	create(A, OWNER, 1000);
	commit(&c, NULL);
	OK(st->ops->release(st, A, OWNER, "waiting", NULL, 2500));
}

CONTRACT(the_first_answer_is_kept)
{
	store_run got;
	char *holder = NULL;
	int applied = -1;

	waiting_run();
	cr_assert_eq(st->ops->answer(st, A, 0, "{\"ok\":true}", 3000), ECL_ESTATE,
		     "not the checkpoint it waits at");
	cr_assert_eq(st->ops->answer(st, A, 2, "{\"ok\":true}", 3000), ECL_ESTATE);
	cr_assert_str_eq(answers_of(A), "");
	cr_assert_str_eq(pending_answer(A, 1), "(none)");
	OK(st->ops->answer(st, A, 1, "{\"ok\":true}", 3001));
	cr_assert_str_eq(answers_of(A), "1@3001:{\"ok\":true}\n");
	cr_assert_str_eq(pending_answer(A, 1), "{\"ok\":true}");
	cr_assert_str_eq(pending_answer(A, 0), "(none)", "an answer is to one checkpoint");
	cr_assert_eq(st->ops->answer(st, A, 1, "{\"ok\":false}", 3002), ECL_ESTATE);
	cr_assert_str_eq(answers_of(A), "1@3001:{\"ok\":true}\n", "one answer kept");
	cr_assert_str_eq(pending_answer(A, 1), "{\"ok\":true}", "the first one");
	cr_assert_str_eq(notes_of(A), "", "an answer is not a note");
	got = get(st, A);
	cr_assert_str_eq(got.status, "waiting", "an answer does not change the run");
	store_run_clear(&got);

	/* a waiting run can be paused; then it no longer waits for an answer */
	create(B, OWNER, 1000);
	OK(st->ops->release(st, B, OWNER, "waiting", NULL, 2500));
	OK(st->ops->request(st, B, "pause", 3000, &applied));
	cr_assert_eq(applied, 1);
	cr_assert_eq(st->ops->answer(st, B, 0, "{}", 3001), ECL_ESTATE);
	/* and a waiting run can be driven on */
	OK(st->ops->acquire(st, A, OTHER, NULL, 1, 3003, 9000, &holder));
	cr_assert_eq(st->ops->answer(st, A, 1, "{\"ok\":false}", 3004), ECL_ESTATE,
		     "no longer waiting");
	cr_assert_eq(st->ops->answer(st, C, 1, "{}", 3004), ECL_ENOTFOUND);
	cr_assert_str_eq(answers_of(C), "");
	cr_assert_str_eq(pending_answer(C, 1), "(none)", "no such run: no answer");
}

static int stop_answers_with_7(void *ctx, int seq, long long ts_ms, const char *text)
{
	(void)seq;
	(void)ts_ms;
	(void)text;
	(*(int *)ctx)++;
	return 7;
}

/* A run waits at several human steps in turn: each checkpoint keeps its own answer, the walk
 * goes by checkpoint and stops when asked, and a prune takes the answers with the run. */
CONTRACT(each_checkpoint_has_its_own_answer)
{
	static const char *const done[] = {"completed"};
	store_filter f = {.statuses = done, .nstatuses = 1};
	store_commit c;
	char *holder = NULL;
	int calls = 0, count = -1;

	waiting_run();
	OK(st->ops->answer(st, A, 1, "{\"n\":1}", 3001));
	OK(st->ops->acquire(st, A, OWNER, NULL, 1, 3002, 9000, &holder));
	c = a_commit(A, 2, OWNER, "approve");
	c.now_ms = 3003;
	commit(&c, NULL);
	OK(st->ops->release(st, A, OWNER, "waiting", NULL, 3004));
	cr_assert_str_eq(pending_answer(A, 2), "(none)", "the new checkpoint has none yet");
	OK(st->ops->answer(st, A, 2, "{\"n\":2}", 3005));
	cr_assert_str_eq(answers_of(A), "1@3001:{\"n\":1}\n2@3005:{\"n\":2}\n");
	cr_assert_str_eq(pending_answer(A, 1), "{\"n\":1}");
	cr_assert_str_eq(pending_answer(A, 2), "{\"n\":2}");
	cr_assert_eq(st->ops->list_answers(st, A, stop_answers_with_7, &calls), 7);
	cr_assert_eq(calls, 1);

	OK(st->ops->acquire(st, A, OWNER, NULL, 1, 3006, 9000, &holder));
	c = a_commit(A, 3, OWNER, NULL);
	c.now_ms = 3007;
	commit(&c, NULL);
	OK(st->ops->prune(st, &f, &count));
	cr_assert_eq(count, 1);
	cr_assert_str_eq(answers_of(A), "", "pruned with the run");
	cr_assert_str_eq(pending_answer(A, 2), "(none)");
}

/* ---- history ------------------------------------------------------------------------------- */

static int stop_with_5(void *ctx, int seq, long long ts_ms, const char *text)
{
	(*(int *)ctx)++;
	return 5;
}

CONTRACT(notes_are_listed_by_checkpoint_then_as_written)
{
	int n = 0;

	create(A, OWNER, 1000);
	OK(st->ops->note(st, A, 2, "b", 3000));
	OK(st->ops->note(st, A, 1, "a1", 3001));
	OK(st->ops->note(st, A, 2, "c", 2000));
	OK(st->ops->note(st, A, 1, "a2", 3002));
	cr_assert_str_eq(notes_of(A), "1@3001:a1\n1@3002:a2\n2@3000:b\n2@2000:c\n");
	cr_assert_eq(st->ops->list_notes(st, A, stop_with_5, &n), 5);
	cr_assert_eq(n, 1);
}

/* ---- forks --------------------------------------------------------------------------------- */

CONTRACT(a_fork_copies_the_first_checkpoints)
{
	store_run copy = a_run(B, NULL, 5000), got;
	store_commit c;
	char whole[4096], want[4096];
	const char *line3;
	int i;

	create(A, OWNER, 1000);
	for (i = 1; i <= 3; i++) {
		c = a_commit(A, i, OWNER, "critique");
		c.step.tokens_in = i;
		c.step.tokens_cached = i - 1;
		c.step.tokens_cache_write = 2 * i;
		c.step.ttft_us = 10 * i;
		commit(&c, NULL);
	}
	snprintf(whole, sizeof(whole), "%s", steps_of(A));
	copy.status = "interrupted";
	copy.step = "revise"; /* the step the original entered after checkpoint 2 */
	copy.seq = 2;
	copy.parent = A "@2";
	OK(st->ops->fork(st, A, 2, &copy));
	/* the copy's checkpoints are the first two of the original, field by field */
	line3 = strstr(whole, "\n3:");
	cr_assert_not_null(line3);
	snprintf(want, sizeof(want), "%.*s", (int)(line3 - whole + 1), whole);
	cr_assert_str_eq(steps_of(B), want);
	cr_assert_str_eq(steps_of(A), whole, "the original is unchanged");
	got = get(st, B);
	cr_assert_str_eq(got.parent, A "@2");
	cr_assert_str_eq(got.status, "interrupted");
	cr_assert_eq(got.seq, 2);
	store_run_clear(&got);
	cr_assert_str_eq(notes_of(B), "2@5000:forked from run " A " at checkpoint 2\n");

	/* onto a taken id: refused, nothing copied */
	copy = a_run(A, NULL, 6000);
	cr_assert_eq(st->ops->fork(st, B, 1, &copy), ECL_EUSAGE);
	cr_assert_str_eq(steps_of(A), whole);
	cr_assert(!strstr(notes_of(A), "forked"), "%s", notes_of(A));
}

/* ---- calls and definitions ----------------------------------------------------------------- */

static int add_call(void *ctx, int seq, const store_call *k)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 2048 - n, "%d.%d:%d/%d %s %s %s %lld/%lld %lld c%lld w%lld t%lld\n", seq,
		 k->n, k->kind, k->repair, S(k->fix), S(k->answer), S(k->error), k->tokens_in,
		 k->tokens_out, k->latency_us, k->tokens_cached, k->tokens_cache_write, k->ttft_us);
	return 0;
}

/* The stored calls of run id as text, one line each (static buffer). */
static const char *calls_of(const char *id)
{
	static char out[2048];

	out[0] = '\0';
	OK(st->ops->list_calls(st, id, add_call, out));
	return out;
}

/* Three calls: a failure, an answer refused, and its repair accepted. */
static const store_call three_calls[] = {
	{1, STORE_CALL_FIRST, 0, NULL, NULL, "timeout", 0, 0, 100, 0, 0, 0},
	{2, STORE_CALL_RETRY, 0, NULL, "prose", "no JSON", 5, 6, 200, 4, 1, 90},
	{3, STORE_CALL_REPAIR, 1, "Answer again", NULL, NULL, 7, 8, 300, 6, 0, 150},
};

#define THREE_CALLS                                                                                \
	"1.1:0/0 (null) (null) timeout 0/0 100 c0 w0 t0\n"                                         \
	"1.2:1/0 (null) prose no JSON 5/6 200 c4 w1 t90\n"                                         \
	"1.3:2/1 Answer again (null) (null) 7/8 300 c6 w0 t150\n"

CONTRACT(a_commit_stores_its_calls_and_the_definition_once)
{
	store_def def = {"critique-revise", "v1", "{\"first\":1}"};
	store_def other = {"critique-revise", "v1", "{\"second\":1}"};
	store_call one = {1, STORE_CALL_FIRST, 0, NULL, "bad", "refused", 1, 2, 3, 0, 0, 0};
	store_commit c;
	char *text = NULL;
	int stop = 0;

	create(A, OWNER, 1000);
	cr_assert_eq(st->ops->get_def(st, "critique-revise", "v1", &text), ECL_ENOTFOUND);
	cr_assert_null(text);
	c = a_commit(A, 1, OWNER, "critique");
	c.calls = three_calls;
	c.ncalls = 3;
	c.def = &def;
	commit(&c, NULL);
	c = a_commit(A, 2, OWNER, "revise");
	c.def = &other; /* the first definition of a version stays */
	commit(&c, NULL);
	c = a_commit(A, 2, OWNER, "revise"); /* refused: its calls are not stored either */
	c.calls = &one;
	c.ncalls = 1;
	cr_assert_eq(st->ops->commit(st, &c, &(const char *){NULL}), ECL_ESTATE);
	c = a_commit(A, 3, OWNER, NULL);
	c.status = "failed";
	c.current = "revise";
	c.error = "refused";
	c.calls = &one;
	c.ncalls = 1;
	commit(&c, NULL);
	cr_assert_str_eq(calls_of(A), THREE_CALLS "3.1:0/0 (null) bad refused 1/2 3 c0 w0 t0\n");
	OK(st->ops->get_def(st, "critique-revise", "v1", &text));
	cr_assert_str_eq(text, "{\"first\":1}");
	mem_free(text);
	cr_assert_eq(st->ops->get_def(st, "critique-revise", "v2", &text), ECL_ENOTFOUND);
	cr_assert_eq(st->ops->get_def(st, "other", "v1", &text), ECL_ENOTFOUND);
	cr_assert_str_eq(calls_of(B), "", "no run, no calls");
	cr_assert_eq(st->ops->list_calls(st, A, stop_with_5_calls, &stop), 5);
	cr_assert_eq(stop, 1, "the walk stopped at the first call");
}

CONTRACT(a_fork_and_prune_carry_the_calls_with_the_checkpoints)
{
	store_run copy = a_run(B, NULL, 5000);
	store_filter f = {0};
	store_commit c;
	int i, count;

	create(A, OWNER, 1000);
	for (i = 1; i <= 3; i++) {
		c = a_commit(A, i, OWNER, "critique");
		if (i != 2) {
			c.calls = three_calls;
			c.ncalls = 3;
		}
		commit(&c, NULL);
	}
	copy.status = "interrupted";
	copy.step = "revise";
	copy.seq = 2;
	OK(st->ops->fork(st, A, 2, &copy));
	cr_assert_str_eq(calls_of(B), THREE_CALLS, "the calls of checkpoints 1 and 2 only");
	cr_assert(strstr(calls_of(A), "3.3:"), "the original keeps its own");
	c = a_commit(A, 4, OWNER, NULL);
	commit(&c, NULL);
	OK(st->ops->prune(st, &f, &count));
	cr_assert_eq(count, 1, "the completed original, not the interrupted fork");
	cr_assert_str_eq(calls_of(A), "", "its calls went with it");
	cr_assert_str_eq(calls_of(B), THREE_CALLS);
}

/* ---- prune --------------------------------------------------------------------------------- */

CONTRACT(prune_deletes_only_finished_runs_the_filter_matches)
{
	store_filter f = {0};
	store_commit c;
	store_run got, r;
	int count = -1, applied;

	/* A completed, B failed (other workflow), C cancelled, D running */
	create(A, OWNER, 1000);
	c = a_commit(A, 1, OWNER, NULL);
	commit(&c, NULL);
	OK(st->ops->note(st, A, 1, "done", 3000));
	r = a_run(B, OWNER, 1000);
	r.workflow = "other";
	OK(st->ops->create_run(st, &r));
	c = a_commit(B, 1, OWNER, NULL);
	c.status = "failed";
	c.current = "generate";
	c.error = "boom";
	commit(&c, NULL);
	create(C, NULL, 1000);
	OK(st->ops->request(st, C, "cancel", 3000, &applied));
	create("0000000000000004", OWNER, 1000);
	c = a_commit("0000000000000004", 1, OWNER, "critique");
	commit(&c, NULL);

	f.workflow = "other";
	OK(st->ops->prune(st, &f, &count));
	cr_assert_eq(count, 1);
	cr_assert_eq(st->ops->get_run(st, B, &got), ECL_ENOTFOUND);
	f.workflow = NULL;
	OK(st->ops->prune(st, &f, &count));
	cr_assert_eq(count, 2, "the completed and the cancelled run, not the running one");
	cr_assert_eq(st->ops->get_run(st, A, &got), ECL_ENOTFOUND);
	cr_assert_eq(st->ops->get_run(st, C, &got), ECL_ENOTFOUND);
	cr_assert_str_eq(steps_of(A), "", "its checkpoints went with it");
	cr_assert_str_eq(notes_of(A), "", "its notes went with it");
	cr_assert_str_eq(nexts_of("0000000000000004"), "1:generate>critique ");
	got = get(st, "0000000000000004");
	store_run_clear(&got);
	OK(st->ops->prune(st, &f, &count));
	cr_assert_eq(count, 0);
}

/* ---- groups -------------------------------------------------------------------------------- */

CONTRACT(a_group_is_durable_whole_or_not_at_all)
{
	store_commit a1 = a_commit(A, 1, OWNER, "critique"), b1 = a_commit(B, 1, OWNER, NULL);
	store_commit bad = a_commit(B, 2, OTHER, NULL);
	store_run r = a_run(C, OWNER, 1000), got;
	store *other;
	const char *request = "unset";

	if (!st->ops->group_begin)
		cr_skip_test("%s has no groups", factory->name);
	other = second();
	create(A, OWNER, 1000);
	create(B, OWNER, 1000);

	/* dropped: neither the commit nor the creation stays */
	OK(st->ops->group_begin(st));
	cr_assert_eq(st->ops->group_begin(st), ECL_EUSAGE, "a group inside a group");
	commit(&a1, NULL);
	OK(st->ops->create_run(st, &r));
	OK(st->ops->group_end(st, 0));
	cr_assert_eq(st->ops->get_run(st, C, &got), ECL_ENOTFOUND);
	cr_assert_str_eq(steps_of(A), "");

	/* kept: durable together when the group ends, not before */
	OK(st->ops->group_begin(st));
	commit(&a1, NULL);
	OK(st->ops->create_run(st, &r));
	r = a_run(A, NULL, 1000);
	cr_assert_eq(st->ops->create_run(st, &r), ECL_EUSAGE, "a taken id");
	commit(&b1, NULL); /* the group goes on */
	cr_assert_eq(other->ops->get_run(other, C, &got), ECL_ENOTFOUND, "not before the end");
	got = get(other, A);
	cr_assert_eq(got.seq, 0, "not before the end");
	store_run_clear(&got);
	OK(st->ops->group_end(st, 1));
	got = get(other, A);
	cr_assert_eq(got.seq, 1);
	store_run_clear(&got);
	got = get(other, B);
	cr_assert_str_eq(got.status, "completed");
	store_run_clear(&got);
	got = get(other, C);
	store_run_clear(&got);

	/* a commit that fails rolls the whole group back and ends it */
	a1 = a_commit(A, 2, OWNER, NULL);
	r = a_run("0000000000000004", NULL, 1000);
	OK(st->ops->group_begin(st));
	commit(&a1, NULL);
	OK(st->ops->create_run(st, &r));
	cr_assert_eq(st->ops->commit(st, &bad, &request), ECL_ESTATE);
	cr_assert_eq(st->ops->commit(st, &a1, &request), ECL_ESTORE, "the group was rolled back");
	cr_assert_eq(st->ops->group_end(st, 1), ECL_ESTORE);
	cr_assert_str_eq(nexts_of(A), "1:generate>critique ", "nothing of the group stays");
	cr_assert_eq(st->ops->get_run(st, "0000000000000004", &got), ECL_ENOTFOUND);
	/* each again on its own */
	commit(&a1, NULL);
	OK(st->ops->create_run(st, &r));
	OK(st->ops->group_end(st, 1)); /* no group open: nothing to do */
}

/* ---- queues: claims by workers ------------------------------------------------------------- */

/* A run stored for a worker: queued, nobody's, attempt 0, of workflow wf. */
static void enqueue(const char *id, const char *wf, long long created_ms)
{
	store_run r = a_run(id, NULL, created_ms);

	r.status = "queued";
	r.attempt = 0;
	r.workflow = (char *)wf;
	OK(st->ops->create_run(st, &r));
}

CONTRACT(a_claim_takes_the_oldest_queued_runs_of_its_workflows)
{
	const char *only_summarize[] = {"summarize"};
	char ids[4][ECL_ID_MAX];
	store_run got;
	int n = -1;

	enqueue(B, "critique-revise", 2000);
	enqueue(A, "critique-revise", 1000);
	enqueue(C, "summarize", 500);
	create("0000000000000004", OWNER, 100); /* driven, its lease live until 10000 */
	OK(st->ops->claim(st, OWNER, only_summarize, 1, 4, 3000, 9000, ids, &n));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(ids[0], C);
	OK(st->ops->claim(st, OTHER, NULL, 0, 1, 3000, 9000, ids, &n));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(ids[0], A, "the oldest first");
	got = get(st, A);
	cr_assert_str_eq(got.status, "running");
	cr_assert_str_eq(got.owner, OTHER);
	cr_assert_eq(got.lease_until_ms, 9000);
	cr_assert_eq(got.attempt, 1, "a queued run's first attempt");
	cr_assert_eq(got.updated_ms, 3000);
	store_run_clear(&got);
	OK(st->ops->claim(st, OTHER, NULL, 0, 4, 3000, 9000, ids, &n));
	cr_assert_eq(n, 1, "only B is left: the others are driven");
	cr_assert_str_eq(ids[0], B);
	OK(st->ops->claim(st, OTHER, NULL, 0, 4, 3000, 9000, ids, &n));
	cr_assert_eq(n, 0);
}

CONTRACT(a_claim_takes_over_runs_whose_lease_expired)
{
	store_commit c = a_commit(A, 1, OWNER, "critique");
	char ids[2][ECL_ID_MAX];
	const char *request;
	store_run got;
	int n = -1, applied;

	create(A, OWNER, 1000); /* lease until 10000 */
	commit(&c, NULL);       /* renewed until 20001 */
	OK(st->ops->claim(st, OTHER, NULL, 0, 2, 20001, 40000, ids, &n));
	cr_assert_eq(n, 0, "valid up to and including lease_until_ms");
	OK(st->ops->claim(st, OTHER, NULL, 0, 2, 20002, 40000, ids, &n));
	cr_assert_eq(n, 1);
	got = get(st, A);
	cr_assert_str_eq(got.owner, OTHER);
	cr_assert_eq(got.attempt, 2, "the step cut off is asked again, as attempt 2");
	cr_assert_eq(got.seq, 1, "its checkpoints stay");
	store_run_clear(&got);
	/* the old holder has lost it */
	cr_assert_eq(st->ops->heartbeat(st, A, OWNER, 20003, 50000, &request), ECL_ESTATE);
	/* a queued run can be paused and cancelled like any other nobody drives */
	enqueue(B, "critique-revise", 2000);
	OK(st->ops->request(st, B, "cancel", 3000, &applied));
	cr_assert_eq(applied, 1);
	OK(st->ops->claim(st, OTHER, NULL, 0, 2, 30000, 40000, ids, &n));
	cr_assert_eq(n, 0, "a cancelled run is not taken");
}

CONTRACT(two_claims_at_once_never_take_the_same_run)
{
	enum { RUNS = 40 };
	char ids1[RUNS][ECL_ID_MAX], ids2[RUNS][ECL_ID_MAX], id[ECL_ID_MAX];
	store *other = second();
	int i, j, n1 = 0, n2 = 0, k1, k2;

	for (i = 0; i < RUNS; i++) {
		snprintf(id, sizeof(id), "%016d", i + 1);
		enqueue(id, "critique-revise", 1000 + i);
	}
	/* alternate small claims from two handles until the queue is empty */
	do {
		OK(st->ops->claim(st, OWNER, NULL, 0, 3, 3000, 9000, ids1 + n1, &k1));
		cr_assert_eq(
			other->ops->claim(other, OTHER, NULL, 0, 4, 3000, 9000, ids2 + n2, &k2),
			ECL_OK, "%s", other->ops->errmsg(other));
		n1 += k1;
		n2 += k2;
	} while (k1 + k2 > 0);
	cr_assert_eq(n1 + n2, RUNS);
	for (i = 0; i < n1; i++)
		for (j = 0; j < n2; j++)
			cr_assert_str_neq(ids1[i], ids2[j], "run %s taken twice", ids1[i]);
}

/* ---- workers: their rows, for `ecl workers` ------------------------------------------------ */

/* A worker as ecl_worker registers itself. */
static store_worker a_worker(const char *id, long long started_ms, long long lease_ms)
{
	store_worker w = {0};

	w.id = id;
	w.host = "host";
	w.pid = id[5] - '0';
	w.workflows = "critique-revise,summarize";
	w.concurrency = 4;
	w.lease_ms = lease_ms;
	w.started_ms = started_ms;
	w.heartbeat_ms = started_ms;
	return w;
}

static int add_worker(void *ctx, const store_worker *w)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 1024 - n, "%s %s %lld %s %d %lld %lld %lld held %d; ", w->id, w->host,
		 w->pid, w->workflows, w->concurrency, w->lease_ms, w->started_ms, w->heartbeat_ms,
		 w->held);
	return 0;
}

static const char *workers_listed(void)
{
	static char out[1024];

	out[0] = '\0';
	OK(st->ops->list_workers(st, add_worker, out));
	return out;
}

static int stop_with_3(void *ctx, const store_worker *w)
{
	(void)w;
	++*(int *)ctx;
	return 3;
}

CONTRACT(workers_register_beat_are_listed_with_the_runs_they_hold_and_go)
{
	store_worker w1 = a_worker(OWNER, 1000, 1000), w2 = a_worker(OTHER, 2000, 500);
	store_commit end = a_commit(C, 1, OWNER, NULL);
	int calls = 0;

	cr_assert_str_eq(workers_listed(), "");
	OK(st->ops->worker_register(st, &w2));
	OK(st->ops->worker_register(st, &w1));
	create(A, OWNER, 100);
	create(B, OWNER, 200);
	create(C, OWNER, 300);
	end.status = "completed";
	commit(&end, NULL); /* over: no longer held */
	create("0000000000000004", OTHER, 400);
	enqueue("0000000000000005", "critique-revise", 500); /* nobody's */
	cr_assert_str_eq(workers_listed(),
			 OWNER " host 1 critique-revise,summarize 4 1000 1000 1000 held 2; " OTHER
			       " host 2 critique-revise,summarize 4 500 2000 2000 held 1; ",
			 "oldest first, each with the runs leased to it");
	OK(st->ops->worker_beat(st, OWNER, 5000));
	cr_assert(strstr(workers_listed(), "1000 1000 5000 held 2"), "%s", workers_listed());
	cr_assert_eq(st->ops->worker_beat(st, "host/9/none", 5000), ECL_ENOTFOUND);
	cr_assert_eq(st->ops->list_workers(st, stop_with_3, &calls), 3, "the walk stops");
	cr_assert_eq(calls, 1);
	/* a clean exit removes the row; a second removal finds nothing to do */
	OK(st->ops->worker_remove(st, OTHER));
	OK(st->ops->worker_remove(st, OTHER));
	cr_assert_str_eq(workers_listed(),
			 OWNER " host 1 critique-revise,summarize 4 1000 1000 5000 held 2; ");
	/* registering again replaces the row of that id */
	w1.concurrency = 8;
	w1.heartbeat_ms = 6000;
	OK(st->ops->worker_register(st, &w1));
	cr_assert_str_eq(workers_listed(),
			 OWNER " host 1 critique-revise,summarize 8 1000 1000 6000 held 2; ");
}

CONTRACT(a_worker_that_registers_removes_those_silent_for_ten_lease_periods)
{
	store_worker old = a_worker(OWNER, 1000, 1000), w = a_worker(OTHER, 5000, 100000);
	store *other = second();

	OK(st->ops->worker_register(st, &old)); /* beats last at 1000: gone after 11000 */
	w.heartbeat_ms = 11000;
	cr_assert_eq(other->ops->worker_register(other, &w), ECL_OK, "%s",
		     other->ops->errmsg(other));
	cr_assert(strstr(workers_listed(), OWNER), "ten lease periods are not past yet: %s",
		  workers_listed());
	w.heartbeat_ms = 11001;
	cr_assert_eq(other->ops->worker_register(other, &w), ECL_OK, "%s",
		     other->ops->errmsg(other));
	cr_assert_str_eq(workers_listed(),
			 OTHER " host 2 critique-revise,summarize 4 100000 5000 11001 held 0; ",
			 "the dead worker's row is gone, not the one of the worker registering");
	/* its own row is never removed so, however old it is */
	w.lease_ms = 1;
	w.heartbeat_ms = 1;
	OK(st->ops->worker_register(st, &w));
	cr_assert(strstr(workers_listed(), OTHER), "%s", workers_listed());
}

/* ---- stats -------------------------------------------------------------------------------- */

static int add_count(void *ctx, const char *workflow, const char *status, long long runs,
		     long long steps)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s/%s:%lld,%lld ", workflow, status, runs, steps);
	return 0;
}

static int stop_counts_with_6(void *ctx, const char *workflow, const char *status, long long runs,
			      long long steps)
{
	(void)workflow, (void)status, (void)runs, (void)steps;
	++*(int *)ctx;
	return 6;
}

/* A run of workflow wf created at created_ms whose checkpoints took the n durations given,
 * alternating generate/critique/revise, completed when done. */
static void measured_run(const char *id, const char *wf, long long created_ms, const long long *us,
			 int n, int done)
{
	store_run r = a_run(id, OWNER, created_ms);
	int i;

	r.workflow = (char *)wf;
	if (!strcmp(id, B)) { /* started with a provider and a model; the others without */
		r.provider = "o";
		r.model = "m";
	}
	OK(st->ops->create_run(st, &r));
	for (i = 1; i <= n; i++) {
		store_commit c = a_commit(id, i, OWNER, i == n && done ? NULL : "critique");

		c.step.duration_us = us[i - 1];
		c.step.tokens_in = 10 * i;
		c.step.tokens_out = i;
		commit(&c, NULL);
	}
}

CONTRACT(stats_count_runs_by_workflow_and_status_since_a_time)
{
	static const long long us[] = {5, 6, 7};
	char out[512] = "";
	int calls = 0;

	measured_run(A, "critique-revise", 1000, us, 3, 1);
	measured_run(B, "critique-revise", 2000, us, 2, 0);
	measured_run(C, "summarize", 3000, us, 1, 1);
	measured_run("0000000000000004", "critique-revise", 500, us, 3, 1); /* too old */
	OK(st->ops->count_runs(st, NULL, 1000, add_count, out));
	cr_assert_str_eq(out, "critique-revise/completed:1,3 critique-revise/running:1,2 "
			      "summarize/completed:1,1 ");
	out[0] = '\0';
	OK(st->ops->count_runs(st, "summarize", 0, add_count, out));
	cr_assert_str_eq(out, "summarize/completed:1,1 ");
	out[0] = '\0';
	OK(st->ops->count_runs(st, "nothing", 0, add_count, out));
	cr_assert_str_eq(out, "");
	cr_assert_eq(st->ops->count_runs(st, NULL, 0, stop_counts_with_6, &calls), 6);
	cr_assert_eq(calls, 1);
}

static int add_duration(void *ctx, const char *step, long long duration_us, long long tokens_in,
			long long tokens_out, const char *provider, const char *model)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 1024 - n, "%c%lld/%lld/%lld/%s/%s ", step[0], duration_us, tokens_in,
		 tokens_out, S(provider), S(model));
	return 0;
}

static int stop_durations_with_8(void *ctx, const char *step, long long duration_us,
				 long long tokens_in, long long tokens_out, const char *provider,
				 const char *model)
{
	(void)step, (void)duration_us, (void)tokens_in, (void)tokens_out, (void)provider,
		(void)model;
	++*(int *)ctx;
	return 8;
}

CONTRACT(stats_walk_the_checkpoints_of_a_workflow)
{
	static const long long first[] = {30, 10, 20}, second[] = {10, 5}, old[] = {1};
	char out[1024] = "";
	int calls = 0;

	measured_run(B, "critique-revise", 1000, first, 3, 1);
	measured_run(A, "critique-revise", 1000, second, 2, 0);
	measured_run(C, "critique-revise", 10, old, 1, 1);              /* too old */
	measured_run("0000000000000004", "summarize", 1000, old, 1, 1); /* another workflow */
	OK(st->ops->walk_durations(st, "critique-revise", 1000, add_duration, out));
	/* in no given order: each checkpoint once */
	cr_assert_eq(strlen(out),
		     strlen("c5/20/2/(null)/(null) g10/10/1/(null)/(null) c10/20/2/o/m "
			    "r20/30/3/o/m g30/10/1/o/m "),
		     "%s", out);
	cr_assert(strstr(out, "g30/10/1/o/m ") && strstr(out, "c10/20/2/o/m ") &&
			  strstr(out, "r20/30/3/o/m ") && strstr(out, "g10/10/1/(null)/(null) ") &&
			  strstr(out, "c5/20/2/(null)/(null) "),
		  "%s", out);
	out[0] = '\0';
	OK(st->ops->walk_durations(st, "nothing", 0, add_duration, out));
	cr_assert_str_eq(out, "");
	cr_assert_eq(
		st->ops->walk_durations(st, "critique-revise", 0, stop_durations_with_8, &calls),
		8);
	cr_assert_eq(calls, 1);
}
