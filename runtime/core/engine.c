/*
 * engine.c - the public entry points: opening an engine (store, provider, logger),
 * starting runs, driving and resuming them, and reading their state back.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <unistd.h>

#include "internal.h"

static unsigned long long random64(void)
{
	unsigned long long r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned long long)clock_mono_us() * 6364136223846793005ULL ^
		    (unsigned long long)getpid();
	return r;
}

/* Ids sort by creation time: 11 hex digits of milliseconds, then 5 of a counter that starts
 * at random in each process. New rows then go to the end of the tables' B-trees, which keeps
 * their pages full and their writes together; the rare clash of two processes in the same
 * millisecond is caught by the primary key and retried with the next id. */
void ecl_run_id_new(char id[ECL_ID_MAX])
{
	/* atomic: engines of several threads (ecl serve's connections) draw ids at once */
	static _Atomic unsigned long counter;
	unsigned long zero = 0;

	if (!atomic_load(&counter))
		atomic_compare_exchange_strong(&counter, &zero, (unsigned long)random64() | 1);
	snprintf(id, ECL_ID_MAX, "%011llx%05lx",
		 (unsigned long long)clock_now_ms() & 0xfffffffffffULL,
		 atomic_fetch_add(&counter, 1) & 0xfffff);
}

static void prices_free(ecl_engine *e)
{
	size_t i;

	for (i = 0; i < e->nprices; i++) {
		mem_free((char *)e->prices[i].provider);
		mem_free((char *)e->prices[i].model);
	}
	mem_free(e->prices);
	e->prices = NULL;
	e->nprices = 0;
}

/* Copy the price table into the engine: ECL_OK, or ECL_ENOMEM. */
static int prices_copy(ecl_engine *e, const ecl_price *p, size_t n)
{
	size_t i;

	if (!n)
		return ECL_OK;
	if (!(e->prices = mem_calloc(n, sizeof(*p))))
		return ECL_ENOMEM;
	for (i = 0; i < n; i++, e->nprices++) {
		e->prices[i] = p[i];
		e->prices[i].provider = mem_strdup(p[i].provider ? p[i].provider : "");
		e->prices[i].model = mem_strdup(p[i].model ? p[i].model : "");
		if (!e->prices[i].provider || !e->prices[i].model) {
			e->nprices++;
			return ECL_ENOMEM;
		}
	}
	return ECL_OK;
}

/* The store lost its server, or has it again: said once an outage, both at warning level, so
 * that whoever reads the warning of the outage also reads that it ended. */
static void on_store_connection(void *ctx, int lost, const char *detail)
{
	ecl_engine *e = ctx;

	if (lost)
		log_event(e, LOG_WARN, "lost the connection to the database; connecting again",
			  "error", detail, NULL);
	else
		log_event(e, LOG_WARN, "connected to the database again", "detail", detail, NULL);
}

int ecl_engine_open(const ecl_options *o, ecl_engine **out, char *errbuf, size_t errlen)
{
	ecl_engine *e;
	llm_config cfg = {0};
	char err[1024] = "";
	int rc;

	*out = NULL;
	mem_init();
	if (!o || !o->db_path) {
		snprintf(errbuf, errlen, "no database path given");
		return ECL_EUSAGE;
	}
	e = mem_calloc(1, sizeof(*e));
	/* for messages only: the store is opened with o->db_path itself */
	if (e && (e->db_path = mem_alloc(strlen(o->db_path) + 1)) != NULL)
		ecl_db_display(o->db_path, e->db_path, strlen(o->db_path) + 1);
	if (e && !e->db_path) {
		mem_free(e);
		e = NULL;
	}
	if (!e) {
		snprintf(errbuf, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	e->log = o->log_stream;
	e->on_log = o->on_log;
	e->log_ctx = o->log_ctx;
	e->log_format = o->log_format;
	e->verbose = o->verbose;
	e->on_event = o->on_event;
	e->event_ctx = o->event_ctx;
	e->on_text = o->on_text;
	e->interrupt = o->interrupt;
	e->workflows = o->workflows;
	e->nworkflows = o->nworkflows;
	e->timeout_ms = o->timeout_ms;
	e->end_level = o->caller_reports_ends ? LOG_INFO : LOG_ERROR;
	e->timeout_overrides = o->timeout_overrides && o->timeout_ms > 0;
	e->model_overrides = o->model_overrides && o->model;
	/* recorded with each run started, to resume it with the same provider */
	if ((o->model && !(e->model = mem_strdup(o->model))) ||
	    (o->base_url && !(e->base_url = mem_strdup(o->base_url)))) {
		ecl_engine_close(e);
		snprintf(errbuf, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	e->max_answer_bytes = o->max_answer_bytes ? o->max_answer_bytes : 1024 * 1024;
	e->lease_ms = o->lease_ms > 0 ? o->lease_ms : 15000;
	e->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : 100;
	e->local.ops = &drive_local_ops;
	e->trace_state = o->read_only ? -1 : 0;
	e->trace_content = o->trace_content;
	if ((o->otlp_endpoint && !(e->otlp_endpoint = mem_strdup(o->otlp_endpoint))) ||
	    prices_copy(e, o->prices, o->nprices) != ECL_OK) {
		ecl_engine_close(e);
		snprintf(errbuf, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	srand((unsigned)random64());
	{
		char host[64] = "localhost";

		gethostname(host, sizeof(host) - 1);
		snprintf(e->owner, sizeof(e->owner), "%s/%ld/%08llx", host, (long)getpid(),
			 random64() & 0xffffffffULL);
	}
	cfg.script_path = o->script_path;
	cfg.call_log = o->call_log;
	cfg.base_url = o->base_url;
	cfg.model = o->model;
	cfg.api_key = o->api_key;
	cfg.timeout_ms = o->timeout_ms;
	cfg.connect_timeout_ms = o->connect_timeout_ms;
	rc = llm_provider_new(o->provider ? o->provider : "offline", &cfg, &e->llm, err,
			      sizeof(err));
	if (rc == ECL_OK && store_is_postgres(o->db_path))
		rc = store_pg_open(o->db_path, o->read_only,
				   o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000, &e->st, err,
				   sizeof(err));
	else if (rc == ECL_OK && o->read_only)
		rc = store_sqlite_open_read(o->db_path,
					    o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000,
					    &e->st, err, sizeof(err));
	else if (rc == ECL_OK)
		rc = store_sqlite_open(o->db_path, o->durability,
				       o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000,
				       o->reclaim, &e->st, err, sizeof(err));
	if (rc != ECL_OK) {
		snprintf(errbuf, errlen, "%s", err);
		ecl_engine_close(e);
		return rc;
	}
	e->st->on_connection = on_store_connection;
	e->st->connection_ctx = e;
	*out = e;
	return ECL_OK;
}

void ecl_engine_close(ecl_engine *e)
{
	if (!e)
		return;
	if (e->fresh_id[0] && e->st) /* created here, never driven: let another process drive it */
		e->st->ops->release(e->st, e->fresh_id, e->owner,
				    ecl_run_status_name(ECL_RUN_INTERRUPTED), NULL, clock_now_ms());
	run_free(e->fresh);
	if (e->tracer)
		e->tracer->close(e->tracer);
	while (e->defs) {
		engine_def *d = e->defs;

		e->defs = d->next;
		mem_free(d->text);
		mem_free(d);
	}
	if (e->llm)
		e->llm->destroy(e->llm);
	if (e->st)
		e->st->ops->close(e->st);
	mem_free(e->db_path);
	mem_free(e->model);
	mem_free(e->base_url);
	mem_free(e->otlp_endpoint);
	prices_free(e);
	mem_free(e);
}

const ecl_workflow *ecl_workflow_find(const ecl_workflow *const *list, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] && strcmp(list[i]->id, id) == 0)
			return list[i];
	return NULL;
}

/* Parse and check inputs into a fresh run of engine e (NULL: a run only to check them); the
 * canonical inputs (defaults filled) are returned as JSON text in *canon when canon is not
 * NULL. The message of a failure goes to err. */
static int check_inputs(ecl_engine *e, const ecl_workflow *wf, const char *inputs_json,
			ecl_run **out, char **canon, char *err, size_t errlen)
{
	char key[128], why[256];
	cJSON *inputs;
	ecl_run *run = NULL;
	int rc, i, oom;

	*out = NULL;
	err[0] = '\0';
	/* before the parse, which would cut a string at a \u0000 and keep bytes not UTF-8 */
	rc = inputs_json ? json_check(inputs_json, strlen(inputs_json), key, sizeof(key), why,
				      sizeof(why))
			 : 0;
	if (rc == 2) {
		snprintf(err, errlen, "the name of an input holds %s", why);
		return ECL_EINPUT;
	}
	if (rc) {
		if (key[0])
			snprintf(err, errlen, "input `%s` holds %s", key, why);
		else
			snprintf(err, errlen, "the inputs hold %s", why);
		return ECL_EINPUT;
	}
	inputs = json_parse_str(inputs_json ? inputs_json : "{}", &oom);
	if (!inputs) {
		snprintf(err, errlen, "%s",
			 oom ? "out of memory reading the inputs"
			     : "the inputs are not valid JSON");
		return oom ? ECL_ENOMEM : ECL_EINPUT;
	}
	rc = run_new(e, wf, "", &run);
	if (rc == ECL_OK)
		rc = run_set_inputs(run, inputs, err, errlen);
	cJSON_Delete(inputs);
	if (rc == ECL_OK && canon) {
		/* written as checkpoints write values: a float that needs 17 digits keeps them */
		buf b = {0};
		int first = 1;

		buf_append(&b, "{", 1);
		for (i = 0; i < wf->nslots; i++) {
			if (wf->slots[i].kind != ECL_SLOT_INPUT || !run->vals[i].set)
				continue;
			buf_json_key(&b, first, wf->slots[i].name);
			first = 0;
			value_json(&run->vals[i], &wf->slots[i], &b);
		}
		buf_append(&b, "}", 1);
		if (b.oom) {
			buf_free(&b);
			rc = ECL_ENOMEM;
			err[0] = '\0';
		} else {
			*canon = b.data;
		}
	}
	if (rc == ECL_ENOMEM && !err[0])
		snprintf(err, errlen, "out of memory");
	if (rc != ECL_OK) {
		run_free(run);
		return rc;
	}
	*out = run;
	return ECL_OK;
}

int ecl_workflow_check_inputs(const ecl_workflow *wf, const char *inputs_json, char *err,
			      size_t errlen)
{
	char msg[1024];
	ecl_run *run;
	int rc;

	mem_init();
	rc = check_inputs(NULL, wf, inputs_json, &run, NULL, msg, sizeof(msg));
	run_free(run);
	snprintf(err, errlen, "%s", msg);
	return rc;
}

/* Store a new run's row under a new id: a clash with a stored id, however unlikely, draws
 * another, up to five times. */
static int create_row(ecl_engine *e, store_run *row)
{
	int rc = ECL_OK, tries;

	for (tries = 0; tries < 5; tries++) {
		ecl_run_id_new(row->id);
		rc = e->st->ops->create_run(e->st, row);
		if (rc != ECL_EUSAGE) /* not a clash of ids */
			break;
	}
	return rc;
}

int ecl_run_start(ecl_engine *e, const ecl_workflow *wf, const char *inputs_json,
		  char id_out[ECL_ID_MAX])
{
	store_run row = {0};
	ecl_run *run;
	char *canon = NULL;
	int rc;

	e->err[0] = '\0';
	rc = check_inputs(e, wf, inputs_json, &run, &canon, e->err, sizeof(e->err));
	if (rc != ECL_OK)
		return rc;
	row.workflow = (char *)wf->id;
	row.version = (char *)wf->version;
	row.status = (char *)ecl_run_status_name(ECL_RUN_RUNNING);
	row.step = (char *)wf->steps[wf->start].name;
	row.attempt = 1;
	row.inputs = canon;
	row.created_ms = clock_now_ms();
	row.owner = e->owner;
	row.lease_until_ms = row.created_ms + e->lease_ms;
	row.provider = (char *)e->llm->name;
	row.model = e->model;
	row.base_url = e->base_url;
	trace_parent_new(run->trace);
	row.trace = run->trace;
	run->trace_root = 1;
	rc = create_row(e, &row);
	mem_free(canon);
	if (rc != ECL_OK) {
		run_free(run);
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	}
	snprintf(id_out, ECL_ID_MAX, "%s", row.id);
	/* Keep the run in memory: driving it next needs no reload. */
	snprintf(run->id, sizeof(run->id), "%s", row.id);
	run_free(e->fresh);
	e->fresh = run;
	snprintf(e->fresh_id, sizeof(e->fresh_id), "%s", row.id);
	log_event(e, LOG_INFO, "started", "run", row.id, "workflow", wf->id, NULL);
	return ECL_OK;
}

int ecl_run_enqueue(ecl_engine *e, const ecl_workflow *wf, const char *inputs_json,
		    char id_out[ECL_ID_MAX])
{
	store_run row = {0};
	ecl_run *run;
	char *canon = NULL, trace[56];
	int rc;

	rc = check_inputs(e, wf, inputs_json, &run, &canon, e->err, sizeof(e->err));
	run_free(run);
	if (rc != ECL_OK)
		return rc;
	/* queued: nobody's, at the first step, attempt 0 (a worker's claim or a resume makes it
	 * attempt 1) */
	row.workflow = (char *)wf->id;
	row.version = (char *)wf->version;
	row.status = (char *)ecl_run_status_name(ECL_RUN_QUEUED);
	row.step = (char *)wf->steps[wf->start].name;
	row.inputs = canon;
	row.created_ms = clock_now_ms();
	row.provider = (char *)e->llm->name;
	row.model = e->model;
	row.base_url = e->base_url;
	trace_parent_new(trace);
	row.trace = trace;
	rc = create_row(e, &row);
	mem_free(canon);
	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	snprintf(id_out, ECL_ID_MAX, "%s", row.id);
	return ECL_OK;
}

static int step_index(const ecl_workflow *wf, const char *name)
{
	int i;

	for (i = 0; name && i < wf->nsteps; i++)
		if (strcmp(wf->steps[i].name, name) == 0)
			return i;
	return -1;
}

struct restore {
	ecl_run *run;
	int upto; /* the last checkpoint to apply */
};

static int restore_step(void *ctx, const store_step *s)
{
	const struct restore *r = ctx;
	ecl_run *run = r->run;
	int step = step_index(run->wf, s->step), next = step_index(run->wf, s->next);
	int rc = ECL_OK;

	if (s->seq > r->upto)
		return ECL_OK;
	run->tokens_in += s->tokens_in;
	run->tokens_out += s->tokens_out;
	if (step < 0 || (s->next && next < 0))
		return engine_fail(run->eng, ECL_ESTORE,
				   "run %s: checkpoint %d names a step that workflow %s has not",
				   run->id, s->seq, run->wf->id);
	if (s->output) {
		int oom;
		cJSON *out = json_parse_str(s->output, &oom);

		rc = out   ? run_apply_output(run, step, out)
		     : oom ? engine_fail(run->eng, ECL_ENOMEM, "out of memory")
			   : engine_damaged(run->eng, "run %s: checkpoint %d is damaged", run->id,
					    s->seq);
		cJSON_Delete(out);
	}
	if (rc == ECL_OK)
		rc = run_apply(run, s->vars, 0);
	if (next >= 0)
		run->visits[next]++;
	return rc;
}

int run_load(ecl_engine *e, const char *id, store_run *row, ecl_run **out)
{
	return run_load_upto(e, id, INT_MAX, row, out);
}

int run_load_upto(ecl_engine *e, const char *id, int upto, store_run *row, ecl_run **out)
{
	const ecl_workflow *wf;
	ecl_run *run = NULL;
	struct restore r;
	cJSON *inputs;
	int rc, oom;

	*out = NULL;
	rc = e->st->ops->get_run(e->st, id, row);
	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	wf = ecl_workflow_find(e->workflows, e->nworkflows, row->workflow);
	if (!wf)
		return engine_fail(e, ECL_ENOTFOUND,
				   "run %s uses workflow %s, which this program does not have", id,
				   row->workflow);
	rc = run_new(e, wf, id, &run);
	if (rc != ECL_OK)
		return engine_fail(e, rc, "out of memory");
	inputs = json_parse_str(row->inputs, &oom);
	rc = inputs ? run_set_inputs(run, inputs, e->err, sizeof(e->err))
	     : oom  ? engine_fail(e, ECL_ENOMEM, "out of memory")
		    : engine_damaged(e, "run %s: the stored inputs are damaged", id);
	cJSON_Delete(inputs);
	r.run = run;
	r.upto = upto;
	if (rc == ECL_OK)
		rc = e->st->ops->list_steps(e->st, id, restore_step, &r);
	if (rc == ECL_ESTORE && !e->err[0])
		engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	/* (the store expands a stored output without a message of its own when memory runs out) */
	if (rc == ECL_ENOMEM && !e->err[0])
		engine_fail(e, rc, "out of memory loading run %s", id);
	if (rc == ECL_OK) {
		run->seq = row->seq;
		run->attempt = row->attempt;
		if (row->trace)
			snprintf(run->trace, sizeof(run->trace), "%s", row->trace);
		run->state = row->step ? step_index(wf, row->step) : wf->start;
		if (run->state < 0)
			rc = engine_fail(e, ECL_ESTORE, "run %s is at step `%s`, which %s has not",
					 id, row->step, wf->id);
	}
	if (rc != ECL_OK) {
		run_free(run);
		return rc;
	}
	*out = run;
	return ECL_OK;
}

/* Whether a lease holder ("host/pid/nonce") is a process of this host that has died. */
static int holder_dead(const char *holder)
{
	char host[64] = "", me[64] = "";
	long pid = 0;

	const char *slash = holder ? strchr(holder, '/') : NULL;
	char *end;

	if (!slash || (size_t)(slash - holder) >= sizeof(host))
		return 0;
	memcpy(host, holder, (size_t)(slash - holder));
	pid = strtol(slash + 1, &end, 10);
	if (*end != '/' || pid <= 0)
		return 0;
	gethostname(me, sizeof(me) - 1);
	return strcmp(host, me) == 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Take the lease of a run for its next attempt, taking it over from a dead holder. */
static int take_lease(ecl_engine *e, const char *id, int attempt)
{
	char *holder = NULL;
	long long now = clock_now_ms();
	int rc = e->st->ops->acquire(e->st, id, e->owner, NULL, attempt, now, now + e->lease_ms,
				     &holder);

	if (rc == ECL_ESTATE && holder_dead(holder)) {
		char *again = NULL;

		rc = e->st->ops->acquire(e->st, id, e->owner, holder, attempt, now,
					 now + e->lease_ms, &again);
		mem_free(again);
		if (rc == ECL_OK) {
			char note[256];

			snprintf(note, sizeof(note), "lease taken over from %s, which has died",
				 holder);
			log_event(e, LOG_WARN, "takeover", "run", id, "from", holder, NULL);
			e->st->ops->note(e->st, id, 0, note, now);
		}
	}
	mem_free(holder);
	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

int run_adopt_version(ecl_engine *e, const store_run *row, ecl_run *run)
{
	char note[160];
	int rc;

	if (strcmp(row->version, run->wf->version) == 0)
		return ECL_OK;
	/* Every step and variable the run used still exists with its type (the run loaded), so
	 * it goes on with the new version; the history says so. */
	snprintf(note, sizeof(note), "workflow %s changed from version %s to %s", run->wf->id,
		 row->version, run->wf->version);
	if ((rc = e->st->ops->set_version(e->st, row->id, run->wf->version, clock_now_ms())) !=
		    ECL_OK ||
	    (rc = e->st->ops->note(e->st, row->id, run->seq, note, clock_now_ms())) != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	log_event(e, LOG_WARN, "version", "run", row->id, "from", row->version, "to",
		  run->wf->version, NULL);
	return ECL_OK;
}

int ecl_run_drive(ecl_engine *e, const char *run_id)
{
	store_run row = {0};
	ecl_run *run = NULL;
	int rc, fresh;

	e->err[0] = '\0';
	e->stop_requested = 0;
	fresh = strcmp(e->fresh_id, run_id) == 0;
	e->fresh_id[0] = '\0';
	if (fresh && e->fresh) {
		/* Created by this engine and never driven: its state is the one in memory. */
		run = e->fresh;
		e->fresh = NULL;
		rc = drive_run(&e->local, run);
		run_free(run);
		return rc;
	}
	rc = run_load(e, run_id, &row, &run);
	if (rc != ECL_OK) {
		if (row.version && run == NULL && rc == ECL_ESTORE) {
			const ecl_workflow *wf =
				ecl_workflow_find(e->workflows, e->nworkflows, row.workflow);

			if (wf && strcmp(wf->version, row.version) != 0) {
				char why[sizeof(e->err)];

				snprintf(why, sizeof(why), "%s", e->err);
				rc = engine_fail(
					e, ECL_ESTATE,
					"run %s was started with version %s of %s; this "
					"program has version %s, which does not keep what the "
					"run uses (%s)",
					run_id, row.version, row.workflow, wf->version, why);
			}
		}
		goto out;
	}
	if (!run || !row.status || !row.version) {
		rc = engine_fail(e, ECL_ESTORE, "run %s could not be loaded", run_id);
		goto out;
	}
	if (run_status_is(row.status, ECL_RUN_COMPLETED) ||
	    run_status_is(row.status, ECL_RUN_FAILED) ||
	    run_status_is(row.status, ECL_RUN_CANCELLED)) {
		rc = engine_fail(e, ECL_ESTATE, "run %s is %s; there is nothing to resume", run_id,
				 row.status);
		goto out;
	}
	if (!fresh) {
		/* The recorded attempt may have been cut off halfway: this is the next one. A
		 * run that waited for a human answer was not cut off. */
		run->attempt = row.attempt + !run_status_is(row.status, ECL_RUN_WAITING);
		if ((rc = take_lease(e, run_id, run->attempt)) != ECL_OK)
			goto out;
		log_event(e, LOG_INFO, "resumed", "run", run_id, "step",
			  run->wf->steps[run->state].name, NULL);
	}
	if ((rc = run_adopt_version(e, &row, run)) != ECL_OK)
		goto out;
	/* a queued run or a fork is driven for the first time: attempt 0 */
	tracer_prepare(e, &row, run, row.attempt == 0);
	rc = drive_run(&e->local, run);
out:
	run_free(run);
	store_run_clear(&row);
	return rc;
}

int run_info_build(ecl_engine *e, store_run *row, const ecl_run *run, ecl_run_info **out)
{
	ecl_run_info *info;
	int i, rc;

	*out = NULL;
	if ((rc = output_expand(e, row->id, &row->output)) != ECL_OK) {
		store_run_clear(row);
		return rc;
	}
	info = mem_calloc(1, sizeof(*info));
	if (!info || !(info->id = mem_strdup(row->id))) {
		mem_free(info);
		store_run_clear(row);
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	}
	info->workflow = row->workflow;
	info->version = row->version;
	info->status = row->status;
	info->step = row->step;
	info->output = row->output;
	info->error = row->error;
	info->inputs = row->inputs;
	info->step_count = row->seq;
	info->attempt = row->attempt;
	info->created_ms = row->created_ms;
	info->updated_ms = row->updated_ms;
	info->provider = row->provider;
	info->model = row->model;
	info->base_url = row->base_url;
	info->owner = row->owner;
	info->tokens_in = run ? run->tokens_in : 0;
	info->tokens_out = run ? run->tokens_out : 0;
	info->lease_until_ms = row->owner ? row->lease_until_ms : 0;
	mem_free(row->request);
	mem_free(row->parent);
	mem_free(row->trace);
	memset(row, 0, sizeof(*row));
	if (run && run_status_is(info->status, ECL_RUN_WAITING) &&
	    !(info->question = steps_question(run))) {
		ecl_run_info_free(info);
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	}
	for (i = 0; run && i < run->wf->nsteps; i++) {
		const ecl_step_def *s = &run->wf->steps[i];

		if (s->limit > 0 && s->counter >= 0) {
			if (!info->limits && !(info->limits = mem_calloc((size_t)run->wf->nsteps,
									 sizeof(*info->limits)))) {
				ecl_run_info_free(info);
				return engine_fail(e, ECL_ENOMEM, "out of memory");
			}
			info->limits[info->nlimits].step = s->name;
			info->limits[info->nlimits].label = s->counter_label;
			info->limits[info->nlimits].count = (int)run->vals[s->counter].i;
			info->limits[info->nlimits].limit = s->limit;
			if (info->nlimits++ == 0) {
				info->revisions = (int)run->vals[s->counter].i;
				info->revision_limit = s->limit;
				info->revision_label = s->counter_label;
			}
		}
	}
	*out = info;
	return ECL_OK;
}

int ecl_run_info_get(ecl_engine *e, const char *run_id, ecl_run_info **out)
{
	store_run row = {0};
	ecl_run *run = NULL;
	int rc;

	*out = NULL;
	e->err[0] = '\0';
	rc = run_load(e, run_id, &row, &run);
	if (rc != ECL_OK && !row.workflow)
		return rc;
	rc = run_info_build(e, &row, run, out);
	run_free(run);
	return rc;
}

void ecl_run_info_free(ecl_run_info *info)
{
	if (!info)
		return;
	mem_free(info->id);
	mem_free(info->workflow);
	mem_free(info->version);
	mem_free(info->status);
	mem_free(info->step);
	mem_free(info->output);
	mem_free(info->error);
	mem_free(info->inputs);
	mem_free(info->question);
	mem_free(info->provider);
	mem_free(info->model);
	mem_free(info->base_url);
	mem_free(info->limits);
	mem_free(info->owner);
	mem_free(info);
}
