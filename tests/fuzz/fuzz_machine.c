/*
 * fuzz_machine.c - the bundled state machines driven through the real runtime and a real
 * SQLite file, with the fuzzer's bytes choosing what the provider does at every call (a valid
 * answer with chosen values, an invalid answer, a transient or permanent failure) and where
 * the process "crashes" (just before or just after a commit; the engine is then thrown away
 * and the run resumed by a new one). Each input is run twice, with and without the crashes,
 * and the target checks: the run ends completed or failed, within the step bound proven at
 * compile time; no loop passes its limit; the database is intact; and the checkpoints are the
 * same steps, in the same order, with the same result, as without the crashes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct plan {
	const uint8_t *data;
	size_t size;
	unsigned before; /* bit k-1: crash before committing checkpoint k */
	unsigned after;  /* bit k-1: crash after committing checkpoint k */
	int crashes;     /* 0: run without crashing */
	volatile sig_atomic_t stop;
	int seq; /* checkpoints committed so far, as seen through events */
} plan;

typedef struct fuzz_provider {
	llm_provider base;
	plan *p;
} fuzz_provider;

static uint8_t byte_at(const plan *p, unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint32_t h = 2166136261u;

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

static int fuzz_complete(llm_provider *lp, const llm_request *req, llm_response *res)
{
	plan *p = ((fuzz_provider *)lp)->p;
	unsigned si = (unsigned)step_index(req->wf, req->step);
	/* Answers depend on the step, the visit and the repair round, never on the attempt
	 * or on retries, so a resumed step is answered as it was; transport faults depend on
	 * the attempt too and stop after the second, so every run ends. */
	uint8_t what = byte_at(p, si, (unsigned)req->visit, (unsigned)req->repair, 0);
	uint8_t fault = byte_at(p, si, (unsigned)req->visit, (unsigned)req->call,
				(unsigned)req->attempt + 1);
	cJSON *obj;

	if (p->crashes && (p->before >> p->seq & 1) && p->seq < 32) {
		p->before &= ~(1u << p->seq); /* crash once there */
		p->stop = 1;
		snprintf(res->error, sizeof(res->error), "crashed");
		res->fault = LLM_FAULT_TRANSIENT;
		return ECL_EPROVIDER;
	}
	if (req->attempt <= 2 && req->call < 3 && fault % 8 == 6) {
		snprintf(res->error, sizeof(res->error), "fuzz: timeout");
		res->fault = LLM_FAULT_TRANSIENT;
		return ECL_EPROVIDER;
	}
	if (req->attempt <= 2 && req->call < 3 && fault % 8 == 7) {
		snprintf(res->error, sizeof(res->error), "fuzz: HTTP 401");
		res->fault = LLM_FAULT_PERMANENT;
		return ECL_EPROVIDER;
	}
	if (req->repair < 3 && what % 8 == 5) {
		res->text = mem_strdup("{\"not\": \"the schema\"");
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

static int on_event(void *ctx, const ecl_event *ev)
{
	plan *p = ctx;

	if (ev->kind != ECL_EV_COMMIT)
		return 0;
	p->seq = ev->seq;
	if (p->crashes && ev->seq <= 32 && (p->after >> (ev->seq - 1) & 1)) {
		p->after &= ~(1u << (ev->seq - 1));
		return 1; /* stop right after this commit */
	}
	return 0;
}

static ecl_engine *open_engine(const char *db, plan *p)
{
	ecl_options o = {0};
	ecl_engine *e = NULL;
	fuzz_provider *fp;
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
	if (ecl_engine_open(&o, &e, err, sizeof(err)) != ECL_OK)
		abort();
	fp = mem_calloc(1, sizeof(*fp));
	if (!fp)
		abort();
	fp->base.name = "fuzz";
	fp->base.complete = fuzz_complete;
	fp->base.destroy = fuzz_destroy;
	fp->p = p;
	e->llm->destroy(e->llm);
	e->llm = &fp->base;
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

/* Run the workflow to its end, resuming after every crash; then check the invariants. */
static void run(const char *db, const ecl_workflow *wf, plan *p, outcome *o)
{
	char id[ECL_ID_MAX], q[4200], *inputs;
	ecl_engine *e;
	sqlite3 *h;
	int rc, resumes = 0, i;

	for (i = 0; i < 3; i++) {
		snprintf(q, sizeof(q), "%s%s", db, (const char *[]){"", "-wal", "-shm"}[i]);
		unlink(q);
	}
	e = open_engine(db, p);
	inputs = make_inputs(wf);
	if (!inputs || ecl_run_start(e, wf, inputs, id) != ECL_OK)
		abort();
	mem_free(inputs);
	p->seq = 0;
	for (;;) {
		rc = ecl_run_drive(e, id);
		if (rc == ECL_OK || rc == ECL_EFAILED)
			break;
		if (rc != ECL_EINTERRUPTED && rc != ECL_EPROVIDER)
			abort(); /* a store error or a lost lease: not expected here */
		if (++resumes > 64)
			abort();     /* it must end */
		ecl_engine_close(e); /* the "crash": everything in memory is gone */
		p->stop = 0;
		e = open_engine(db, p);
	}
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
	if (o->seq > wf->max_steps)
		abort(); /* the proven bound */
	if (strcmp(o->status, "completed ") != 0 && strcmp(o->status, "failed ") != 0)
		abort();
	for (i = 0; i < wf->nsteps; i++) {
		if (!wf->steps[i].limit)
			continue;
		snprintf(q, sizeof(q), "SELECT count(*) FROM steps WHERE step = '%s'",
			 wf->steps[i].name);
		{
			char n[32];

			sql_text(h, q, n, sizeof(n));
			if (atoi(n) > wf->steps[i].limit)
				abort(); /* a loop passed its limit */
		}
	}
	sqlite3_close(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char db[64];
	plan p = {0};
	outcome a, b;
	const ecl_workflow *wf;

	if (size < 4)
		return 0;
	if (!db[0])
		snprintf(db, sizeof(db), "%s/ecl-fuzz-machine-%ld.db",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
	wf = ecl_workflows[data[0] % ecl_nworkflows];
	p.data = data + 3;
	p.size = size - 3;
	run(db, wf, &p, &a);
	memset(&p, 0, sizeof(p));
	p.data = data + 3;
	p.size = size - 3;
	p.crashes = 1;
	p.before = data[1];
	p.after = data[2];
	run(db, wf, &p, &b);
	if (strcmp(a.steps, b.steps) != 0 || strcmp(a.status, b.status) != 0 ||
	    strcmp(a.output, b.output) != 0) {
		fprintf(stderr, "without crashes: %s-> %s%s\nwith crashes:    %s-> %s%s\n", a.steps,
			a.status, a.output, b.steps, b.status, b.output);
		abort();
	}
	return 0;
}
