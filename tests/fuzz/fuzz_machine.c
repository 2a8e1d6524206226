/*
 * fuzz_machine.c - the bundled state machines driven through the real runtime and a real
 * SQLite file, with the fuzzer's bytes choosing what the provider does at every call (a valid
 * answer with chosen values, an invalid answer, a timeout, a transient or permanent transport
 * failure) and where the process "crashes".
 *
 * Input: byte 0 chooses the workflow; bytes 1 to 4 are bit maps over checkpoints 1 to 8 (bit
 * k-1 for checkpoint k) of where to crash: 1 while the provider is answering the step, 2 just
 * before its commit reaches the store, 3 just after the commit (the driver never learns it
 * happened), 4 a clean stop after the commit (as Ctrl-C does). The rest chooses the outcomes.
 * A crash makes the process "die": from that instant neither the store nor the provider does
 * anything for it (every operation fails), the engine is thrown away and a new one resumes
 * the run, as `ecl recover` would after a reboot.
 *
 * Each input is run twice, without and with the crashes, and the target checks: the run ends
 * completed or failed, within the step bound proven at compile time, after a bounded number
 * of resumes; no loop passes its limit at any commit or in the end; a step whose checkpoint
 * was committed is never asked again; the database is intact; and the committed checkpoints
 * are the same steps, in the same order, with the same status and output, as without crashes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER      5  /* bytes before the outcome bytes */
#define MAX_STEPS   64 /* most steps of a bundled workflow this target follows */
#define MAX_RESUMES 64

enum crash_kind { CRASH_CALL = 0, CRASH_BEFORE = 1, CRASH_AFTER = 2, STOP_AFTER = 3 };

typedef struct plan {
	const ecl_workflow *wf;
	const uint8_t *data; /* the outcome bytes */
	size_t size;
	unsigned crash[4]; /* per crash_kind: bit k-1 for checkpoint k, cleared once used */
	int crashes;       /* 0: the run without crashes */
	int dead;          /* the "process" has crashed: nothing reaches store or provider */
	volatile sig_atomic_t stop;
	int seq;                  /* checkpoints committed, as the store saw them */
	int committed[MAX_STEPS]; /* per step: checkpoints committed (its last visit done) */
} plan;

static int crash_at(plan *p, enum crash_kind kind, int checkpoint)
{
	unsigned bit;

	if (!p->crashes || checkpoint < 1 || checkpoint > 8)
		return 0;
	bit = 1u << (checkpoint - 1);
	if (!(p->crash[kind] & bit))
		return 0;
	p->crash[kind] &= ~bit; /* each crash happens once */
	return 1;
}

static void die(plan *p)
{
	p->dead = 1;
	p->stop = 1; /* the driver gives up at its next look, as a killed one would */
}

/* ---- the provider ------------------------------------------------------------------------- */

typedef struct fuzz_provider {
	llm_provider base;
	plan *p;
} fuzz_provider;

static uint8_t byte_at(const plan *p, unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint32_t h = 2166136261u;

	if (!p->size)
		return 0;
	h = (h ^ a) * 16777619u;
	h = (h ^ b) * 16777619u;
	h = (h ^ c) * 16777619u;
	h = (h ^ d) * 16777619u;
	return p->data[h % p->size];
}

static int step_index(const ecl_workflow *wf, const ecl_step_def *s)
{
	return (int)(s - wf->steps);
}

static int step_named(const ecl_workflow *wf, const char *name)
{
	int i;

	for (i = 0; name && i < wf->nsteps; i++)
		if (strcmp(wf->steps[i].name, name) == 0)
			return i;
	return -1;
}

static cJSON *valid_answer(const plan *p, const llm_request *req)
{
	const ecl_step_def *s = req->step;
	cJSON *obj = cJSON_CreateObject();
	int i;

	for (i = 0; obj && i < s->noutputs; i++) {
		const ecl_slot_def *def = &req->wf->slots[s->outputs[i]];
		uint8_t b = byte_at(p, (unsigned)step_index(req->wf, s), (unsigned)req->visit, 100,
				    (unsigned)i);
		char text[32];
		cJSON *v = NULL;

		switch (def->type) {
		case ECL_T_STRING:
			snprintf(text, sizeof(text), "s%u", b);
			v = cJSON_CreateString(text);
			break;
		case ECL_T_ENUM: v = cJSON_CreateString(def->choices[b % def->nchoices]); break;
		case ECL_T_INT:
			v = cJSON_CreateNumber(
				def->has_range ? (double)(def->min + b % (def->max - def->min + 1))
					       : (double)b);
			break;
		case ECL_T_FLOAT: v = cJSON_CreateNumber(b / 8.0); break;
		case ECL_T_BOOL: v = cJSON_CreateBool(b & 1); break;
		case ECL_T_LIST: v = cJSON_CreateArray(); break;
		}
		if (!v || !cJSON_AddItemToObject(obj, def->field, v)) {
			cJSON_Delete(v);
			cJSON_Delete(obj);
			return NULL;
		}
	}
	return obj;
}

static int fail_call(llm_response *res, llm_fault fault, const char *why)
{
	snprintf(res->error, sizeof(res->error), "%s", why);
	res->fault = fault;
	return ECL_EPROVIDER;
}

static int fuzz_complete(llm_provider *lp, const llm_request *req, llm_response *res)
{
	plan *p = ((fuzz_provider *)lp)->p;
	int si = step_index(req->wf, req->step);
	/* Answers depend on the step, the visit and the repair round, never on the attempt
	 * or on retries, so a resumed step is answered as it was; transport faults depend on
	 * the attempt too and stop after the second, so every run ends. */
	uint8_t what = byte_at(p, (unsigned)si, (unsigned)req->visit, (unsigned)req->repair, 0);
	uint8_t fault = byte_at(p, (unsigned)si, (unsigned)req->visit, (unsigned)req->call,
				(unsigned)req->attempt + 1);
	cJSON *obj;

	if (p->dead)
		return fail_call(res, LLM_FAULT_TRANSIENT, "fuzz: the process is dead");
	if (si < MAX_STEPS && req->visit <= p->committed[si]) {
		fprintf(stderr, "step `%s` visit %d asked again after its commit\n",
			req->step->name, req->visit);
		abort(); /* a committed step is never redone */
	}
	if (crash_at(p, CRASH_CALL, p->seq + 1)) {
		die(p);
		return fail_call(res, LLM_FAULT_TRANSIENT, "fuzz: crashed during the call");
	}
	if (req->attempt <= 2 && req->call < 3) {
		switch (fault % 16) {
		case 12: /* what a transport gives when the call outlasts its time limit */
			return fail_call(res, LLM_FAULT_TRANSIENT,
					 "Timeout was reached (operation timed out)");
		case 13: return fail_call(res, LLM_FAULT_TRANSIENT, "HTTP 503: overloaded");
		case 14: return fail_call(res, LLM_FAULT_TRANSIENT, "Could not connect to server");
		case 15: return fail_call(res, LLM_FAULT_PERMANENT, "HTTP 401: bad key");
		default: break;
		}
	}
	if (req->repair < 3 && what % 8 >= 5) {
		static const char *const bad[] = {"{\"not\": \"the schema\"", "no JSON here",
						  "{\"decision\": 7, \"content\": null}"};

		res->text = mem_strdup(bad[what % 8 - 5]);
		res->len = res->text ? strlen(res->text) : 0;
		return res->text ? ECL_OK : ECL_ENOMEM;
	}
	obj = valid_answer(p, req);
	res->text = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	if (!res->text)
		return ECL_ENOMEM;
	res->len = strlen(res->text);
	return ECL_OK;
}

static void fuzz_destroy(llm_provider *lp)
{
	mem_free(lp);
}

/* ---- the store: the real SQLite one, behind a wrapper that can "crash" -------------------- */

typedef struct crash_store {
	store base;
	store *inner;
	plan *p;
} crash_store;

static store *inner_of(store *st)
{
	return ((crash_store *)st)->inner;
}

static plan *plan_of(store *st)
{
	return ((crash_store *)st)->p;
}

#define DEAD_CHECK(st)                                                                             \
	do {                                                                                       \
		if (plan_of(st)->dead)                                                             \
			return ECL_ESTORE;                                                         \
	} while (0)

static int cs_create_run(store *st, const store_run *run)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->create_run(inner_of(st), run);
}

static int cs_get_run(store *st, const char *id, store_run *out)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->get_run(inner_of(st), id, out);
}

static int cs_list_steps(store *st, const char *id, store_step_fn fn, void *ctx)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->list_steps(inner_of(st), id, fn, ctx);
}

static int cs_list_calls(store *st, const char *id, store_call_fn fn, void *ctx)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->list_calls(inner_of(st), id, fn, ctx);
}

static int cs_get_def(store *st, const char *workflow, const char *version, char **text)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->get_def(inner_of(st), workflow, version, text);
}

static int cs_list_outputs(store *st, const char *id, int upto, int n,
			   int (*fn)(void *ctx, int seq, const char *output), void *ctx)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->list_outputs(inner_of(st), id, upto, n, fn, ctx);
}

static int cs_get_answer(store *st, const char *id, int seq, char **answer)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->get_answer(inner_of(st), id, seq, answer);
}

static int cs_list_answers(store *st, const char *id,
			   int (*fn)(void *ctx, int seq, long long ts_ms, const char *answer),
			   void *ctx)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->list_answers(inner_of(st), id, fn, ctx);
}

static int cs_claim(store *st, const char *owner, const char *const *workflows, int nworkflows,
		    int limit, long long now_ms, long long lease_until_ms, char (*ids)[ECL_ID_MAX],
		    int *count)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->claim(inner_of(st), owner, workflows, nworkflows, limit, now_ms,
					lease_until_ms, ids, count);
}

static int cs_commit(store *st, const store_commit *c, const char **request)
{
	plan *p = plan_of(st);
	int rc, si;

	DEAD_CHECK(st);
	if (crash_at(p, CRASH_BEFORE, c->step.seq)) {
		die(p);
		return ECL_ESTORE;
	}
	rc = inner_of(st)->ops->commit(inner_of(st), c, request);
	if (rc != ECL_OK)
		return rc;
	p->seq = c->step.seq;
	si = step_named(p->wf, c->step.step);
	if (si >= 0 && si < MAX_STEPS)
		p->committed[si]++;
	if (crash_at(p, CRASH_AFTER, c->step.seq)) {
		die(p); /* the transaction landed; the driver never hears of it */
		return ECL_ESTORE;
	}
	return ECL_OK;
}

static int cs_acquire(store *st, const char *id, const char *owner, const char *steal, int attempt,
		      long long now_ms, long long lease_until_ms, char **holder)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->acquire(inner_of(st), id, owner, steal, attempt, now_ms,
					  lease_until_ms, holder);
}

static int cs_heartbeat(store *st, const char *id, const char *owner, long long now_ms,
			long long lease_until_ms, const char **request)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->heartbeat(inner_of(st), id, owner, now_ms, lease_until_ms,
					    request);
}

static int cs_release(store *st, const char *id, const char *owner, const char *status,
		      const char *error, long long now_ms)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->release(inner_of(st), id, owner, status, error, now_ms);
}

static int cs_request(store *st, const char *id, const char *what, long long now_ms, int *applied)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->request(inner_of(st), id, what, now_ms, applied);
}

static int cs_answer(store *st, const char *id, int seq, const char *answer, long long now_ms)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->answer(inner_of(st), id, seq, answer, now_ms);
}

static int cs_note(store *st, const char *id, int seq, const char *text, long long now_ms)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->note(inner_of(st), id, seq, text, now_ms);
}

static int cs_list_notes(store *st, const char *id,
			 int (*fn)(void *ctx, int seq, long long ts_ms, const char *text),
			 void *ctx)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->list_notes(inner_of(st), id, fn, ctx);
}

static int cs_list_runs(store *st, const store_filter *f, store_run_fn fn, void *ctx)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->list_runs(inner_of(st), f, fn, ctx);
}

static int cs_fork(store *st, const char *from, int upto, const store_run *copy)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->fork(inner_of(st), from, upto, copy);
}

static int cs_prune(store *st, const store_filter *f, int *count)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->prune(inner_of(st), f, count);
}

static int cs_set_version(store *st, const char *id, const char *version, long long now_ms)
{
	DEAD_CHECK(st);
	return inner_of(st)->ops->set_version(inner_of(st), id, version, now_ms);
}

static const char *cs_errmsg(const store *st)
{
	const crash_store *cs = (const crash_store *)st;

	return cs->p->dead ? "fuzz: the process crashed" : cs->inner->ops->errmsg(cs->inner);
}

static void cs_close(store *st)
{
	inner_of(st)->ops->close(inner_of(st));
	mem_free(st);
}

static const store_ops crash_store_ops = {
	.create_run = cs_create_run,
	.get_run = cs_get_run,
	.list_steps = cs_list_steps,
	.list_calls = cs_list_calls,
	.get_def = cs_get_def,
	.list_outputs = cs_list_outputs,
	.get_answer = cs_get_answer,
	.list_answers = cs_list_answers,
	.claim = cs_claim,
	.commit = cs_commit,
	.acquire = cs_acquire,
	.heartbeat = cs_heartbeat,
	.release = cs_release,
	.request = cs_request,
	.answer = cs_answer,
	.note = cs_note,
	.list_notes = cs_list_notes,
	.list_runs = cs_list_runs,
	.fork = cs_fork,
	.prune = cs_prune,
	.set_version = cs_set_version,
	.errmsg = cs_errmsg,
	.close = cs_close,
};

/* ---- driving ------------------------------------------------------------------------------ */

static int on_event(void *ctx, const ecl_event *ev)
{
	plan *p = ctx;
	int si;

	if (ev->kind != ECL_EV_COMMIT)
		return 0;
	si = step_named(p->wf, ev->step);
	if (si < 0 || (p->wf->steps[si].limit && ev->visits > p->wf->steps[si].limit)) {
		fprintf(stderr, "step `%s` committed at visit %d\n", ev->step, ev->visits);
		abort(); /* a loop passed its limit */
	}
	if (ev->seq > p->wf->max_steps)
		abort();                         /* past the proven bound */
	return crash_at(p, STOP_AFTER, ev->seq); /* 1: stop cleanly after this commit */
}

static ecl_engine *open_engine(const char *db, plan *p)
{
	ecl_options o = {0};
	ecl_engine *e = NULL;
	fuzz_provider *fp;
	crash_store *cs;
	char err[256];

	o.db_path = db;
	o.durability = ECL_DURABLE_NORMAL;
	o.provider = "offline";
	o.on_event = on_event;
	o.event_ctx = p;
	o.interrupt = &p->stop;
	o.lease_ms = 1; /* a crashed engine's lease is over at once */
	o.retry_base_ms = 1;
	o.workflows = ecl_workflows;
	o.nworkflows = ecl_nworkflows;
	if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	fp = mem_calloc(1, sizeof(*fp));
	cs = mem_calloc(1, sizeof(*cs));
	if (!fp || !cs)
		abort();
	fp->base.name = "fuzz";
	fp->base.complete = fuzz_complete;
	fp->base.destroy = fuzz_destroy;
	fp->p = p;
	e->llm->destroy(e->llm);
	e->llm = &fp->base;
	cs->base.ops = &crash_store_ops;
	cs->inner = e->st;
	cs->p = p;
	e->st = &cs->base;
	return e;
}

typedef struct outcome {
	char steps[4096];
	char status[32];
	char output[4096];
	int seq;
} outcome;

static void sql_text(sqlite3 *h, const char *q, char *out, size_t outlen)
{
	sqlite3_stmt *st;

	out[0] = '\0';
	if (sqlite3_prepare_v2(h, q, -1, &st, NULL) != SQLITE_OK)
		abort();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		snprintf(out + strlen(out), outlen - strlen(out), "%s ", t ? t : "-");
	}
	sqlite3_finalize(st);
}

/* A value of the right type for every input without a default. */
static char *make_inputs(const ecl_workflow *wf)
{
	cJSON *obj = cJSON_CreateObject();
	char *text;
	int i;

	for (i = 0; obj && i < wf->nslots; i++) {
		const ecl_slot_def *d = &wf->slots[i];
		cJSON *v;

		if (d->kind != ECL_SLOT_INPUT || d->initial)
			continue;
		v = d->type == ECL_T_INT ? cJSON_CreateNumber((double)(d->has_range ? d->min : 1))
		    : d->type == ECL_T_FLOAT ? cJSON_CreateNumber(1.5)
		    : d->type == ECL_T_BOOL  ? cJSON_CreateTrue()
		    : d->type == ECL_T_ENUM  ? cJSON_CreateString(d->choices[0])
		    : d->type == ECL_T_LIST  ? cJSON_CreateArray()
					     : cJSON_CreateString("fuzz");
		cJSON_AddItemToObject(obj, d->name, v);
	}
	text = obj ? cJSON_PrintUnformatted(obj) : NULL;
	cJSON_Delete(obj);
	return text;
}

static void pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

static void remove_db(const char *db)
{
	char path[128];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", db, (const char *[]){"", "-wal", "-shm"}[i]);
		unlink(path);
	}
}

/* Whether the run has ended (completed or failed). */
static int finished(ecl_engine *e, const char *id)
{
	ecl_run_info *info = NULL;
	int done;

	if (ecl_run_info_get(e, id, &info) != ECL_OK)
		abort();
	done = strcmp(info->status, "completed") == 0 || strcmp(info->status, "failed") == 0;
	ecl_run_info_free(info);
	return done;
}

/* Answer the human step run `id` waits on with a valid value for every field (the same for
 * every run, so that crash-free and crashed runs see the same answers). */
static int answer_human(ecl_engine *e, const ecl_workflow *wf, const char *id)
{
	const char *names[32], *values[32];
	char nums[32][32];
	ecl_run_info *info = NULL;
	int n = 0, i, s;

	if (ecl_run_info_get(e, id, &info) != ECL_OK)
		return ECL_ESTORE;
	for (s = 0; s < wf->nsteps; s++)
		if (info->step && strcmp(wf->steps[s].name, info->step) == 0)
			break;
	ecl_run_info_free(info);
	if (s == wf->nsteps)
		abort(); /* a waiting run is at a step of its workflow */
	for (i = 0; i < wf->steps[s].noutputs && n < 32; i++) {
		const ecl_slot_def *d = &wf->slots[wf->steps[s].outputs[i]];

		switch (d->type) {
		case ECL_T_INT:
			snprintf(nums[n], sizeof(nums[n]), "%lld", d->has_range ? d->min : 0LL);
			values[n] = nums[n];
			break;
		case ECL_T_FLOAT: values[n] = "0.5"; break;
		case ECL_T_BOOL: values[n] = "true"; break;
		case ECL_T_ENUM: values[n] = d->choices[0]; break;
		case ECL_T_LIST:
			if (!d->required)
				continue;
			values[n] = "[\"item\"]";
			break;
		default: values[n] = "a human answer";
		}
		names[n++] = d->field;
	}
	return ecl_run_answer(e, id, names, values, n);
}

/* Run the workflow to its end, resuming after every crash; then check the invariants. */
static void run(const char *db, plan *p, outcome *o)
{
	const ecl_workflow *wf = p->wf;
	char id[ECL_ID_MAX], q[4200], *inputs;
	ecl_run_info *info = NULL;
	ecl_engine *e;
	sqlite3 *h;
	int rc, resumes = 0, i, was_dead;

	remove_db(db);
	e = open_engine(db, p);
	inputs = make_inputs(wf);
	if (!inputs || ecl_run_start(e, wf, inputs, id) != ECL_OK)
		abort();
	mem_free(inputs);
	for (;;) {
		rc = ecl_run_drive(e, id);
		if (!p->dead && (rc == ECL_OK || rc == ECL_EFAILED))
			break;
		if (!p->dead && rc == ECL_EWAITING) {
			rc = answer_human(e, wf, id);
			if (rc == ECL_OK)
				continue; /* driven on from the human step */
			if (!p->dead) {
				fprintf(stderr, "answer: %s: %s\n", ecl_strerror(rc),
					ecl_engine_errmsg(e));
				abort();
			}
		}
		if (!p->dead && rc != ECL_EINTERRUPTED && rc != ECL_EPROVIDER && rc != ECL_ESTATE) {
			fprintf(stderr, "drive: %s: %s\n", ecl_strerror(rc), ecl_engine_errmsg(e));
			abort(); /* a store error: not expected here */
		}
		if (rc == ECL_ESTATE && finished(e, id))
			break; /* the last commit landed, then the process died */
		if (++resumes > MAX_RESUMES) {
			fprintf(stderr, "still not finished after %d resumes: %s\n", resumes,
				ecl_engine_errmsg(e));
			abort(); /* it must end */
		}
		was_dead = p->dead;
		ecl_engine_close(e); /* everything in memory is gone */
		p->dead = 0;
		p->stop = 0;
		if (rc == ECL_ESTATE || was_dead)
			pause_ms(2); /* the dead holder's 1 ms lease runs out */
		e = open_engine(db, p);
	}
	if (ecl_run_info_get(e, id, &info) != ECL_OK)
		abort();
	if (info->revision_limit && info->revisions > info->revision_limit)
		abort();
	ecl_run_info_free(info);
	ecl_engine_close(e);
	if (sqlite3_open(db, &h) != SQLITE_OK)
		abort();
	sql_text(h, "PRAGMA integrity_check", q, sizeof(q));
	if (strcmp(q, "ok ") != 0)
		abort();
	sql_text(h, "SELECT step FROM steps ORDER BY seq", o->steps, sizeof(o->steps));
	sql_text(h, "SELECT status FROM runs", o->status, sizeof(o->status));
	sql_text(h, "SELECT output FROM runs", o->output, sizeof(o->output));
	sql_text(h, "SELECT seq FROM runs", q, sizeof(q));
	o->seq = atoi(q);
	if (getenv("ECL_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_machine: %s %s: %d resumes, checkpoints %s\n", wf->id,
			p->crashes ? "with crashes" : "without crashes", resumes, o->steps);
	if (o->seq > wf->max_steps)
		abort(); /* the proven bound */
	if (strcmp(o->status, "completed ") != 0 && strcmp(o->status, "failed ") != 0)
		abort();
	for (i = 0; i < wf->nsteps; i++) {
		char n[32];

		if (!wf->steps[i].limit)
			continue;
		snprintf(q, sizeof(q), "SELECT count(*) FROM steps WHERE step = '%s'",
			 wf->steps[i].name);
		sql_text(h, q, n, sizeof(n));
		if (atoi(n) > wf->steps[i].limit)
			abort(); /* a loop passed its limit */
	}
	sqlite3_close(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char db[64];
	plan p = {0};
	outcome a, b;
	int k;

	if (size < HEADER)
		return 0;
	if (!db[0])
		snprintf(db, sizeof(db), "%s/ecl-fuzz-machine-%ld.db",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
	p.wf = ecl_workflows[data[0] % ecl_nworkflows];
	if (p.wf->nsteps > MAX_STEPS)
		return 0;
	p.data = data + HEADER;
	p.size = size - HEADER;
	run(db, &p, &a);
	memset(&p, 0, sizeof(p));
	p.wf = ecl_workflows[data[0] % ecl_nworkflows];
	p.data = data + HEADER;
	p.size = size - HEADER;
	p.crashes = 1;
	for (k = 0; k < 4; k++)
		p.crash[k] = data[1 + k];
	run(db, &p, &b);
	remove_db(db);
	if (strcmp(a.steps, b.steps) != 0 || strcmp(a.status, b.status) != 0 ||
	    strcmp(a.output, b.output) != 0) {
		fprintf(stderr, "without crashes: %s-> %s%s\nwith crashes:    %s-> %s%s\n", a.steps,
			a.status, a.output, b.steps, b.status, b.output);
		abort();
	}
	return 0;
}
