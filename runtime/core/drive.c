/*
 * drive.c - the loop that advances a run: call the generated step function, obtain and
 * validate answers (with retries and repair prompts), and hand every transition to the
 * driver to make durable before the next step starts. The drivers are elsewhere: the local
 * one in driver_local.c, Restate's in net/driver_restate.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Defaults when neither the step nor the workflow sets a policy. */
#define DEFAULT_RETRIES          2
#define DEFAULT_REPAIRS          1
#define BACKOFF_CAP_MS           10000
#define DRIVE_DEFAULT_TIMEOUT_MS 120000L /* the providers' default per call (provider.h) */

/* ---- one run as a small state record ------------------------------------------------------ */

static int interrupted(ecl_engine *e)
{
	return e->stop_requested || (e->interrupt && *e->interrupt);
}

/* ---- traces: a span per drive of a run, per step attempt, per LLM call (trace.h) ---------- */

/* The trace and span ids a log line of the run carries (none when it is not traced). */
#define LOG_IDS(run)                                                                               \
	"trace_id", (run)->trace_hex[0] ? (run)->trace_hex : NULL, "span_id",                      \
		(run)->span_hex[0] ? (run)->span_hex : NULL

static void log_ids(ecl_run *run, const trace_span *span)
{
	if (span) {
		trace_hex(span->trace_id, 16, run->trace_hex);
		trace_hex(span->span_id, 8, run->span_hex);
	}
}

/* error.type of a failure: a few words that group failures alike (not the message). */
static const char *error_type(int rc)
{
	switch (rc) {
	case ECL_EANSWER: return "invalid_answer";
	case ECL_EPROVIDER: return "provider_error";
	case ECL_EBOUND: return "step_bound";
	case ECL_EFAILED: return "workflow_failed";
	case ECL_ESTORE: return "store_error";
	case ECL_ENOMEM: return "out_of_memory";
	case ECL_ESTATE: return "lease_lost";
	default: return "_OTHER";
	}
}

/* Whether rc ends a run or a step in failure (not a stop that leaves it resumable). */
static int is_failure(int rc)
{
	return rc != ECL_OK && rc != ECL_EWAITING && rc != ECL_EINTERRUPTED && rc != ECL_EPAUSED &&
	       rc != ECL_ECANCELLED;
}

static const char *stop_status(int rc)
{
	switch (rc) {
	case ECL_OK: return ecl_run_status_name(ECL_RUN_COMPLETED);
	case ECL_EWAITING: return ecl_run_status_name(ECL_RUN_WAITING);
	case ECL_EPAUSED: return ecl_run_status_name(ECL_RUN_PAUSED);
	case ECL_ECANCELLED: return ecl_run_status_name(ECL_RUN_CANCELLED);
	case ECL_EFAILED:
	case ECL_EANSWER:
	case ECL_EBOUND: return ecl_run_status_name(ECL_RUN_FAILED);
	default: return ecl_run_status_name(ECL_RUN_INTERRUPTED);
	}
}

/* The span of this drive of the run (`invoke_workflow <workflow>`). Its first drive's span
 * is the one the run stored at its creation, the root of its trace; a later drive (a resume,
 * after a crash, a pause or a human answer) is a child of it, in the same trace. Only runs of
 * the local driver are traced: a Restate invocation replays its journal through the loop. */
static void trace_run_begin(drive_task *t)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	unsigned char tid[16], sid[8];
	char name[300];
	trace_span *s;
	int have;

	run->trace_hex[0] = run->span_hex[0] = '\0';
	if (t->d != &e->local || !(t->tracer = tracer_get(e)))
		return;
	have = trace_parent_parse(run->trace, tid, sid) == 0;
	snprintf(name, sizeof(name), "invoke_workflow %s", run->wf->id);
	if (!(s = trace_begin(t->tracer, name, TRACE_KIND_INTERNAL, NULL, have ? tid : NULL)))
		return;
	if (have && run->trace_root) {
		memcpy(s->span_id, sid, 8);
	} else if (have) {
		memcpy(s->parent_id, sid, 8);
		s->has_parent = 1;
	}
	if (run->trace_link[0] &&
	    trace_parent_parse(run->trace_link, s->link_trace, s->link_span) == 0)
		s->has_link = 1;
	trace_str(s, "gen_ai.operation.name", "invoke_workflow");
	trace_str(s, "gen_ai.workflow.name", run->wf->id);
	trace_str(s, "ecl.run.id", run->id);
	trace_str(s, "ecl.workflow.version", run->wf->version);
	trace_bool(s, "ecl.run.resumed", !have || !run->trace_root);
	t->span_run = s;
	log_ids(run, s);
}

static void trace_run_end(drive_task *t, int rc, int cause)
{
	ecl_run *run = t->run;
	trace_span *s = t->span_run;
	int i;

	if (!s)
		return;
	t->span_run = NULL;
	trace_str(s, "ecl.run.status", stop_status(rc));
	trace_int(s, "ecl.run.steps", run->seq + t->fail_committed);
	for (i = 0; i < run->wf->nsteps; i++) {
		const ecl_step_def *step = &run->wf->steps[i];

		if (step->limit > 0 && step->counter >= 0) {
			trace_int(s, "ecl.run.revisions", run->vals[step->counter].i);
			break;
		}
	}
	trace_int(s, "gen_ai.usage.input_tokens", t->run_tokens_in);
	trace_int(s, "gen_ai.usage.output_tokens", t->run_tokens_out);
	if (!t->cost_unknown)
		trace_double(s, "ecl.run.cost", t->run_cost);
	if (is_failure(rc))
		trace_error(s, error_type(cause), run->eng->err);
	trace_end(t->tracer, s);
	run->trace_hex[0] = run->span_hex[0] = '\0';
}

static const char *step_kind_name(ecl_step_kind kind)
{
	switch (kind) {
	case ECL_STEP_LLM: return "llm";
	case ECL_STEP_CODE: return "code";
	case ECL_STEP_HUMAN: return "human";
	case ECL_STEP_SET: return "set";
	}
	return "llm";
}

/* The span of one attempt of the current step (`step <name>`). A human step's covers the
 * wait: the drive that stops the run to wait makes none, the one that goes on with the
 * answer starts it when the wait began. */
static void trace_step_begin(drive_task *t)
{
	ecl_run *run = t->run;
	const ecl_step_def *step = &run->wf->steps[run->state];
	char name[300];
	trace_span *s;

	if (!t->span_run)
		return;
	snprintf(name, sizeof(name), "step %s", step->name);
	if (!(s = trace_begin(t->tracer, name, TRACE_KIND_INTERNAL, t->span_run, NULL)))
		return;
	if (run->wait_since_ms && step->kind == ECL_STEP_HUMAN)
		s->start_ns = run->wait_since_ms * 1000000LL;
	run->wait_since_ms = 0;
	trace_str(s, "ecl.step.name", step->name);
	trace_str(s, "ecl.step.kind", step_kind_name(step->kind));
	trace_int(s, "ecl.step.attempt", run->attempt);
	trace_int(s, "ecl.step.visit", run->visits[run->state]);
	trace_int(s, "ecl.step.seq", run->seq + 1);
	t->span_step = s;
	log_ids(run, s);
}

/* End the step's span: the transition taken (the next step, or the run's status), or the
 * failure. */
static void trace_step_end(drive_task *t, const char *transition, int cause)
{
	trace_span *s = t->span_step;

	if (!s)
		return;
	t->span_step = NULL;
	trace_str(s, "ecl.step.transition", transition);
	if (t->tokens_in || t->tokens_out) {
		trace_int(s, "gen_ai.usage.input_tokens", t->tokens_in);
		trace_int(s, "gen_ai.usage.output_tokens", t->tokens_out);
	}
	if (is_failure(cause))
		trace_error(s, error_type(cause), t->run->eng->err);
	trace_end(t->tracer, s);
	log_ids(t->run, t->span_run);
}

/* A text as the conventions' message JSON: [{"role": role, "parts": [{"type": "text",
 * "content": text}]}] (and the finish reason of an answer). */
static void content_attr(trace_span *s, const char *key, const char *role, const char *text,
			 const char *finish)
{
	buf b = {0};

	buf_puts(&b, "[{\"role\":\"");
	buf_puts(&b, role);
	buf_puts(&b, "\",\"parts\":[{\"type\":\"text\",\"content\":");
	buf_json_str(&b, text, strlen(text));
	buf_puts(&b, "}]");
	if (finish && *finish) {
		buf_puts(&b, ",\"finish_reason\":");
		buf_json_str(&b, finish, strlen(finish));
	}
	buf_puts(&b, "}]");
	if (!b.oom)
		trace_str(s, key, b.data);
	else
		s->oom = 1;
	buf_free(&b);
}

/* The span of the step's call to the model (`chat <model>`): one per step attempt however
 * many calls it takes, its retries and repairs as events. */
static void trace_chat_begin(drive_task *t)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	const char *model = t->req.model ? t->req.model : e->model;
	char name[300];
	trace_span *s;

	if (!t->span_step)
		return;
	snprintf(name, sizeof(name), "chat %s", model ? model : e->llm->name);
	if (!(s = trace_begin(t->tracer, name, TRACE_KIND_CLIENT, t->span_step, NULL)))
		return;
	trace_str(s, "gen_ai.operation.name", "chat");
	trace_str(s, "gen_ai.provider.name", e->llm->name);
	trace_str(s, "gen_ai.request.model", model);
	if (t->req.temperature >= 0)
		trace_double(s, "gen_ai.request.temperature", t->req.temperature);
	if (t->req.max_tokens > 0)
		trace_int(s, "gen_ai.request.max_tokens", t->req.max_tokens);
	if (e->trace_content) {
		if (t->req.system)
			content_attr(s, "gen_ai.system_instructions", "system", t->req.system,
				     NULL);
		content_attr(s, "gen_ai.input.messages", "user", t->msgs[0].text, NULL);
	}
	trace_parent_text(s, t->traceparent);
	t->req.traceparent = t->traceparent;
	t->span_chat = s;
	log_ids(run, s);
}

/* An event of the chat span: a retry after a failed call, or a repair of a refused answer. */
static void trace_chat_event(drive_task *t, const char *name, const char *error)
{
	trace_event_add(t->span_chat, name);
	trace_event_int(t->span_chat, "ecl.call.number", t->req.call + 1);
	trace_event_str(t->span_chat, "error.message", error);
}

/* End the chat span: the answer accepted (cause ECL_OK), or the failure. */
static void trace_chat_end(drive_task *t, int cause)
{
	ecl_engine *e = t->run->eng;
	const llm_response *res = &t->res;
	trace_span *s = t->span_chat;

	if (!s)
		return;
	t->span_chat = NULL;
	t->req.traceparent = NULL;
	trace_str(s, "gen_ai.response.model", res->model[0] ? res->model : NULL);
	trace_str(s, "gen_ai.response.id", res->id[0] ? res->id : NULL);
	trace_str_list(s, "gen_ai.response.finish_reasons",
		       res->finish_reason[0] ? res->finish_reason : NULL);
	trace_int(s, "gen_ai.usage.input_tokens", t->tokens_in);
	trace_int(s, "gen_ai.usage.output_tokens", t->tokens_out);
	{
		const char *model = t->req.model ? t->req.model : e->model;
		double cost;

		if (ecl_price_cost(e->prices, e->nprices, e->llm->name, model, t->tokens_in,
				   t->tokens_out, &cost)) {
			trace_double(s, "ecl.cost", cost);
			t->run_cost += cost;
		} else {
			t->cost_unknown = 1;
		}
	}
	trace_str(s, "server.address", res->server[0] ? res->server : NULL);
	if (res->server_port > 0)
		trace_int(s, "server.port", res->server_port);
	if (cause == ECL_OK && e->trace_content && t->raw)
		content_attr(s, "gen_ai.output.messages", "assistant", t->raw, res->finish_reason);
	if (is_failure(cause))
		trace_error(s, error_type(cause), e->err);
	trace_end(t->tracer, s);
	log_ids(t->run, t->span_step);
}

/* The drive ends (rc as drive_run returns it): end what spans are open. */
static void trace_drive_end(drive_task *t, int rc)
{
	int cause = t->cause ? t->cause : rc;

	trace_chat_end(t, cause);
	if (rc == ECL_EWAITING && t->span_step) {
		/* the wait's span is made by the drive that goes on with the answer */
		trace_free(t->span_step);
		t->span_step = NULL;
	}
	trace_step_end(t, stop_status(rc), cause);
	trace_run_end(t, rc, cause);
}

void drive_task_init(drive_task *t, driver *d, ecl_run *run)
{
	memset(t, 0, sizeof(*t));
	t->d = d;
	t->run = run;
	run->driver = d;
	t->phase = DRIVE_PH_STEP;
	t->beat_ms = clock_now_ms();
	trace_run_begin(t);
}

/* Free what the step under way holds (prompts, answers, repair prompts). */
static void ask_clear(drive_task *t)
{
	int i;

	for (i = 0; i < DRIVE_MAX_REPAIRS; i++) {
		free(t->answers[i]);
		t->answers[i] = NULL;
		buf_free(&t->fix[i]);
	}
	buf_free(&t->sys);
	buf_free(&t->prompt);
	free(t->raw);
	t->raw = NULL;
	for (i = 0; i < 2 * t->ncalls; i++)
		mem_free(t->call_own[i]);
	t->ncalls = 0;
}

static void commit_clear(drive_task *t);

void drive_task_clear(drive_task *t)
{
	if (t->span_run)
		trace_drive_end(t, ECL_EINTERRUPTED);
	commit_clear(t);
	ask_clear(t);
	mem_free(t->calls);
	mem_free(t->call_own);
	t->calls = NULL;
	t->call_own = NULL;
	t->capcalls = 0;
	free(t->res.text);
	t->res.text = NULL;
}

int drive_task_beat(drive_task *t, long long now_ms)
{
	ecl_engine *e = t->run->eng;
	const char *request = NULL;

	if (t->lost || now_ms - t->beat_ms < e->lease_ms / 3)
		return t->lost;
	t->beat_ms = now_ms;
	if (t->d->ops->beat(t->d, t->run, now_ms, &request) != ECL_OK) {
		t->lost = 1;
		return 1;
	}
	if (request)
		t->request = request;
	return 0;
}

int drive_task_should_stop(drive_task *t)
{
	return interrupted(t->run->eng) || t->lost ||
	       (t->request && strcmp(t->request, "cancel") == 0);
}

/* What the driver passes blocking providers as their tick: renew the lease now and then, and
 * say whether the call in flight must be abandoned (a signal, a cancel, a lost lease). */
static int tick(void *ctx)
{
	drive_task *t = ctx;

	if (drive_task_should_stop(t))
		return 1;
	drive_task_beat(t, clock_now_ms());
	return drive_task_should_stop(t);
}

/* A piece of a streamed answer, for the engine's on_text. */
static void text_piece(void *ctx, const char *text, size_t len)
{
	drive_task *t = ctx;
	ecl_engine *e = t->run->eng;

	e->on_text(e->event_ctx, t->run->id, t->run->wf->steps[t->run->state].name, text, len);
}

/* The time one call may take: the step's, the workflow's or the engine's timeout, else the
 * providers' default. The longest Retry-After the driver waits for. */
static long call_limit_ms(const llm_request *req)
{
	return req->timeout_ms > 0 ? req->timeout_ms : DRIVE_DEFAULT_TIMEOUT_MS;
}

/* A backoff with full jitter: a random time below a bound that doubles with each retry, or
 * the server's Retry-After when that is longer. */
static long backoff_ms(ecl_engine *e, int try_no, long retry_after_ms)
{
	long cap = e->retry_base_ms << (try_no < 10 ? try_no : 10);
	long ms;

	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	ms = (long)((double)rand() / ((double)RAND_MAX + 1.0) * (double)cap);
	if (retry_after_ms > ms)
		ms = retry_after_ms;
	return ms;
}

static int opt_int(int step, int wf, int dflt)
{
	return step >= 0 ? step : wf >= 0 ? wf : dflt;
}

static void repair_prompt(buf *b, const ecl_run *run, const ecl_step_def *step, const char *why)
{
	int i;

	buf_printf(b,
		   "Your answer could not be used: %s.\nAnswer again with only one JSON object "
		   "with these fields:",
		   why);
	for (i = 0; i < step->noutputs; i++)
		buf_printf(b, "%s %s", i ? "," : "", run->wf->slots[step->outputs[i]].field);
	buf_puts(b, ".");
}

/* Set up the request of an LLM step the step function asked for. */
static int ask_begin(drive_task *t)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	const ecl_workflow *wf = run->wf;
	const ecl_step_def *step = &wf->steps[run->state];
	const ecl_llm_opts *so = &step->opts, *wo = &wf->opts;
	llm_request *req = &t->req;

	t->retries = opt_int(so->retries, wo->retries, DEFAULT_RETRIES);
	t->repairs = opt_int(so->repairs, wo->repairs, DEFAULT_REPAIRS);
	if (t->repairs > DRIVE_MAX_REPAIRS)
		t->repairs = DRIVE_MAX_REPAIRS;
	t->repair = 0;
	t->try_no = 0;
	t->call = 0;
	t->kind = STORE_CALL_FIRST;
	run_render(run, &step->system, &t->sys);
	run_render(run, &step->prompt, &t->prompt);
	if (t->sys.oom || t->prompt.oom)
		return engine_fail(e, ECL_ENOMEM, "out of memory rendering the prompt of `%s`",
				   step->name);
	t->msgs[0].role = "user";
	t->msgs[0].text = t->prompt.data ? t->prompt.data : "";
	memset(req, 0, sizeof(*req));
	req->run_id = run->id;
	req->wf = wf;
	req->step = step;
	req->attempt = run->attempt;
	req->visit = run->visits[run->state];
	req->system = step->system.nparts ? (t->sys.data ? t->sys.data : "") : NULL;
	req->messages = t->msgs;
	req->nmessages = 1;
	/* NULL: the provider's own model, the engine's */
	req->model = e->model_overrides ? NULL : so->model ? so->model : wo->model;
	req->temperature = so->temperature >= 0 ? so->temperature : wo->temperature;
	req->max_tokens = so->max_tokens ? so->max_tokens : wo->max_tokens;
	req->schema = step->schema;
	req->timeout_ms = e->timeout_overrides ? e->timeout_ms
			  : so->timeout_ms     ? so->timeout_ms
			  : wo->timeout_ms     ? wo->timeout_ms
					       : e->timeout_ms;
	req->tick = tick;
	req->tick_ctx = t;
	if (e->on_text) {
		req->on_text = text_piece;
		req->text_ctx = t;
	}
	return ECL_OK;
}

/* What the next call needs: its number, and a response to fill. */
static void ask_next_call(drive_task *t)
{
	t->req.call = t->call++;
	t->req.repair = t->repair;
	t->req.nmessages = 1 + 2 * t->repair;
	free(t->res.text);
	memset(&t->res, 0, sizeof(t->res));
	t->res.retry_after_ms = -1;
	t->call_us = clock_mono_us();
}

void drive_task_answer(drive_task *t, int rc)
{
	t->answer_rc = rc;
	t->last_us = clock_mono_us() - t->call_us;
	t->llm_us += t->last_us;
	t->phase = DRIVE_PH_GOT;
}

/* A refused answer as it can be stored and printed: NULL when it is UTF-8 without a NUL
 * (stored as it is), else a copy (caller frees) in which each byte that is not (a NUL, or
 * no part of a UTF-8 character) is written as \xNN. *oom set when the copy fails. */
static char *printable(const char *s, size_t n, int *oom)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	buf b = {0};
	size_t k;
	char why[8];

	if (text_check(s, n, why, sizeof(why)) == ECL_OK)
		return NULL;
	while (p < end) {
		if (*p && (k = text_utf8_len(p, end)) > 0) {
			buf_append(&b, (const char *)p, k);
			p += k;
		} else {
			buf_printf(&b, "\\x%02x", *p++);
		}
	}
	if (b.oom || !b.data)
		*oom = 1;
	return b.data;
}

/* Record the call that just ended, with the answer it got (borrowed until ask_clear; its
 * length n) and an error (copied), for the checkpoint to store. */
static int record_call(drive_task *t, const char *answer, size_t n, const char *error)
{
	store_call *k;
	char **own;
	int oom = 0;

	if (t->ncalls == t->capcalls) {
		int cap = t->capcalls ? 2 * t->capcalls : 4;
		store_call *calls = mem_realloc(t->calls, (size_t)cap * sizeof(*calls));

		if (!calls)
			return engine_fail(t->run->eng, ECL_ENOMEM, "out of memory");
		t->calls = calls;
		if (!(own = mem_realloc(t->call_own, 2 * (size_t)cap * sizeof(*own))))
			return engine_fail(t->run->eng, ECL_ENOMEM, "out of memory");
		t->call_own = own;
		t->capcalls = cap;
	}
	own = &t->call_own[2 * t->ncalls];
	own[0] = error ? mem_strdup(error) : NULL;
	own[1] = answer ? printable(answer, n, &oom) : NULL;
	if ((error && !own[0]) || oom) {
		mem_free(own[0]);
		mem_free(own[1]);
		return engine_fail(t->run->eng, ECL_ENOMEM, "out of memory");
	}
	k = &t->calls[t->ncalls++];
	memset(k, 0, sizeof(*k));
	k->n = t->req.call + 1;
	k->kind = t->kind;
	k->repair = t->req.repair;
	k->fix = t->kind == STORE_CALL_REPAIR ? t->fix[t->req.repair - 1].data : NULL;
	k->answer = own[1] ? own[1] : answer;
	k->error = own[0];
	k->tokens_in = t->res.tokens_in;
	k->tokens_out = t->res.tokens_out;
	k->tokens_cached = t->res.tokens_cached;
	k->tokens_cache_write = t->res.tokens_cache_write;
	k->ttft_us = t->res.ttft_us;
	k->latency_us = t->last_us;
	return ECL_OK;
}

/* The outcome of one call: the accepted answer (ECL_OK, the step function goes on), another
 * call to make (ECL_PENDING: a repair prompt now, or a retry after t->wake_us), or the
 * step's end with an error. */
static int ask_outcome(drive_task *t)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	const ecl_step_def *step = &run->wf->steps[run->state];
	llm_response *res = &t->res;
	int rc = t->answer_rc;
	char why[512];

	t->tokens_in += res->tokens_in;
	t->tokens_out += res->tokens_out;
	t->tokens_cached += res->tokens_cached;
	t->tokens_cache_write += res->tokens_cache_write;
	if (rc == ECL_OK && res->len > e->max_answer_bytes) {
		engine_fail(e, ECL_EANSWER,
			    "step `%s`: the answer has %zu bytes, more than the limit of %zu",
			    step->name, res->len, e->max_answer_bytes);
		return record_call(t, NULL, 0, e->err) != ECL_OK ? ECL_ENOMEM : ECL_EANSWER;
	}
	if (rc != ECL_OK) {
		if (rc != ECL_EPROVIDER)
			return engine_fail(e, rc, "step `%s`: %s", step->name, ecl_strerror(rc));
		if (drive_task_should_stop(t))
			return ECL_EINTERRUPTED;
		if (res->fault == LLM_FAULT_AGAIN) {
			/* the provider leaves out what its server refused: ask again at once, no
			 * retry spent; the first run of the process to learn it says so */
			if (res->news)
				log_event(e, LOG_WARN, "provider", "run", run->id, "step",
					  step->name, "note", res->error, NULL);
			if (record_call(t, NULL, 0, res->error) != ECL_OK)
				return ECL_ENOMEM;
			t->kind = STORE_CALL_RETRY;
			t->wake_us = 0;
			return ECL_PENDING;
		}
		if (res->fault != LLM_FAULT_TRANSIENT || t->try_no >= t->retries)
			return engine_fail(e, ECL_EPROVIDER, "step `%s`: %s%s", step->name,
					   res->error, t->try_no ? " (retries exhausted)" : "");
		/* A server that asks for a wait longer than a call may take is not waited for
		 * (a process asleep for hours looks hung) nor asked early (it would refuse
		 * again): the step stops as a provider failure, the run stays resumable. */
		if (res->retry_after_ms > call_limit_ms(&t->req))
			return engine_fail(e, ECL_EPROVIDER,
					   "step `%s`: %s (the server asks to wait %ld s, longer "
					   "than the call timeout of %ld s: not retried; resume "
					   "the run later)",
					   step->name, res->error,
					   (res->retry_after_ms + 999) / 1000,
					   (call_limit_ms(&t->req) + 999) / 1000);
		{
			long wait = backoff_ms(e, t->try_no, res->retry_after_ms);
			char ms[24];

			snprintf(ms, sizeof(ms), "%ld", wait);
			log_event(e, LOG_WARN, "retry", "run", run->id, "step", step->name, "error",
				  res->error, "wait_ms", ms, LOG_IDS(run), NULL);
			t->wake_us = clock_mono_us() + 1000LL * wait;
		}
		if (record_call(t, NULL, 0, res->error) != ECL_OK)
			return ECL_ENOMEM;
		trace_chat_event(t, "ecl.retry", res->error);
		t->kind = STORE_CALL_RETRY;
		t->try_no++;
		return ECL_PENDING;
	}
	answer_clear(run);
	rc = answer_parse(run->wf, step, res->text, res->len, &run->answer, &run->answer_text, why,
			  sizeof(why));
	if (rc == ECL_OK) {
		/* the first call alone is implied by the checkpoint; after it, the accepted
		 * answer is the checkpoint's */
		if (t->ncalls && record_call(t, NULL, 0, NULL) != ECL_OK)
			return ECL_ENOMEM;
		t->raw = res->text;
		res->text = NULL;
		t->ttft_us = res->ttft_us;
		return ECL_OK;
	}
	if (rc == ECL_EANSWER && t->repair == t->repairs) {
		engine_fail(e, rc, "%s", why);
		return record_call(t, res->text, res->len, why) != ECL_OK ? ECL_ENOMEM : rc;
	}
	if (rc != ECL_EANSWER)
		return engine_fail(e, rc, "out of memory");
	log_event(e, LOG_WARN, "repair", "run", run->id, "step", step->name, "error", why,
		  LOG_IDS(run), NULL);
	/* the record points to the answer, which the repair dialogue keeps from here */
	if (record_call(t, res->text, res->len, why) != ECL_OK)
		return ECL_ENOMEM;
	trace_chat_event(t, "ecl.repair", why);
	t->answers[t->repair] = res->text;
	res->text = NULL;
	repair_prompt(&t->fix[t->repair], run, step, why);
	if (t->fix[t->repair].oom)
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	t->msgs[1 + 2 * t->repair].role = "assistant";
	t->msgs[1 + 2 * t->repair].text = t->answers[t->repair];
	t->msgs[2 + 2 * t->repair].role = "user";
	t->msgs[2 + 2 * t->repair].text = t->fix[t->repair].data;
	t->kind = STORE_CALL_REPAIR;
	t->repair++;
	t->try_no = 0;
	t->wake_us = 0;
	return ECL_PENDING;
}

/* ---- ending a step ------------------------------------------------------------------------ */

static int emit(ecl_engine *e, const ecl_event *ev)
{
	return e->on_event ? e->on_event(e->event_ctx, ev) : 0;
}

/* Stop driving without a transition: the run keeps its last checkpoint, with a status
 * (interrupted, paused, cancelled) and, after an error, the error. */
static int stop(driver *d, ecl_run *run, const char *status, int rc)
{
	ecl_engine *e = run->eng;
	char *error = NULL;
	ecl_event ev = {.kind = ECL_EV_FINISH,
			.run_id = run->id,
			.step = run->wf->steps[run->state].name,
			.status = status};
	const char *why = NULL;
	int src;

	/* The lease is given up even when the error's copy cannot be made, so that another
	 * process can resume the run at once. */
	if (rc != ECL_EINTERRUPTED && rc != ECL_EPAUSED && rc != ECL_ECANCELLED)
		why = (error = mem_strdup(e->err)) != NULL ? error : "out of memory";
	src = d->ops->release(d, run, status, why);
	log_event(e, why ? e->end_level : LOG_INFO, status, "run", run->id, "step", ev.step,
		  "error", why, LOG_IDS(run), NULL);
	mem_free(error);
	emit(e, &ev);
	return src != ECL_OK ? src : rc;
}

/* Stop for a signal, a request from another process, or a lost lease. */
static int stop_for(drive_task *t)
{
	if (t->lost)
		return ECL_ESTATE; /* another process has the run: leave it alone */
	if (t->request && strcmp(t->request, "cancel") == 0)
		return stop(t->d, t->run, ecl_run_status_name(ECL_RUN_CANCELLED), ECL_ECANCELLED);
	if (t->request && strcmp(t->request, "pause") == 0)
		return stop(t->d, t->run, ecl_run_status_name(ECL_RUN_PAUSED), ECL_EPAUSED);
	return stop(t->d, t->run, ecl_run_status_name(ECL_RUN_INTERRUPTED), ECL_EINTERRUPTED);
}

/* A failure decided by the runtime (an invalid answer, the step bound): commit it as the
 * run's last transition, so the run is failed for good with its reason stored. */
static int fail_run(drive_task *t, const char *raw)
{
	driver *d = t->d;
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	const ecl_step_def *step = &run->wf->steps[run->state];
	char *msg = mem_strdup(e->err);
	const char *request = NULL;
	store_commit c = {0};
	ecl_event ev = {.kind = ECL_EV_FINISH,
			.run_id = run->id,
			.step = step->name,
			.status = ecl_run_status_name(ECL_RUN_FAILED)};
	int rc;

	if (!msg)
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	c.run_id = run->id;
	c.step.seq = run->seq + 1;
	c.step.step = step->name;
	c.step.attempt = run->attempt;
	c.step.raw = raw;
	c.step.tokens_in = t->tokens_in;
	c.step.tokens_out = t->tokens_out;
	c.step.tokens_cached = t->tokens_cached;
	c.step.tokens_cache_write = t->tokens_cache_write;
	c.step.ttft_us = t->ttft_us;
	c.step.started_ms = t->started_ms;
	c.step.duration_us = clock_mono_us() - t->t0;
	c.status = ecl_run_status_name(ECL_RUN_FAILED);
	c.current = step->name;
	c.attempt = run->attempt;
	c.error = msg;
	c.now_ms = clock_now_ms();
	c.owner = e->owner;
	c.lease_until_ms = c.now_ms + e->lease_ms;
	c.calls = t->ncalls ? t->calls : NULL;
	c.ncalls = t->ncalls;
	rc = engine_def_get(e, run->wf, &c.def);
	if (rc == ECL_OK)
		rc = d->ops->commit(d, run, &c, &request);
	if (rc == ECL_OK) {
		engine_def_stored(c.def);
		t->fail_committed = 1;
		t->run_tokens_in += t->tokens_in;
		t->run_tokens_out += t->tokens_out;
		engine_fail(e, ECL_EFAILED, "%s", msg);
		log_event(e, e->end_level, "failed", "run", run->id, "step", step->name, "error",
			  msg, LOG_IDS(run), NULL);
		emit(e, &ev);
		rc = ECL_EFAILED;
	}
	mem_free(msg);
	return rc;
}

/* Free what the transition being made durable holds. */
static void commit_clear(drive_task *t)
{
	mem_free(t->commit_output);
	mem_free(t->commit_vars);
	t->commit_output = NULL;
	t->commit_vars = NULL;
	t->commit_request = NULL;
	memset(&t->commit, 0, sizeof(t->commit));
}

/* Build the transition the step function chose into t->commit. It points into the task
 * (the accepted answer) and the run (its output or error), which stay until it is durable. */
static int commit_prepare(drive_task *t)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	const ecl_workflow *wf = run->wf;
	const ecl_step_def *step = &wf->steps[run->state];
	store_commit *c = &t->commit;

	commit_clear(t);
	/* the answer's text, written by answer_parse as it checked the answer */
	t->commit_output = run->answer_text;
	run->answer_text = NULL;
	t->commit_vars = run_dirty_vars(run);
	if (!t->commit_vars)
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	c->run_id = run->id;
	c->step.seq = run->seq + 1;
	c->step.step = step->name;
	c->step.attempt = run->attempt;
	c->step.output = t->commit_output;
	c->step.raw =
		t->raw && t->commit_output && strcmp(t->raw, t->commit_output) == 0 ? NULL : t->raw;
	c->step.vars = t->commit_vars;
	c->step.tokens_in = t->tokens_in;
	c->step.tokens_out = t->tokens_out;
	c->step.tokens_cached = t->tokens_cached;
	c->step.tokens_cache_write = t->tokens_cache_write;
	c->step.ttft_us = t->ttft_us;
	c->step.started_ms = t->started_ms;
	c->step.duration_us = clock_mono_us() - t->t0;
	c->attempt = 1;
	c->now_ms = clock_now_ms();
	c->owner = e->owner;
	c->lease_until_ms = c->now_ms + e->lease_ms;
	c->calls = t->ncalls ? t->calls : NULL;
	c->ncalls = t->ncalls;
	if (engine_def_get(e, wf, &c->def) != ECL_OK)
		return ECL_ENOMEM;
	switch (run->t) {
	case T_GOTO:
		c->step.next = wf->steps[run->t_next].name;
		c->status = ecl_run_status_name(ECL_RUN_RUNNING);
		c->current = c->step.next;
		break;
	case T_DONE:
		c->status = ecl_run_status_name(ECL_RUN_COMPLETED);
		c->output = run->t_output;
		break;
	case T_FAIL:
		c->status = ecl_run_status_name(ECL_RUN_FAILED);
		c->current = step->name;
		c->attempt = run->attempt;
		c->error = run->t_error;
		break;
	case T_NONE:
		return engine_fail(e, ECL_EUSAGE, "step `%s` of %s ended without a transition",
				   step->name, wf->id);
	}
	return ECL_OK;
}

int drive_task_write(drive_task *t)
{
	t->commit_request = NULL;
	return t->d->ops->commit(t->d, t->run, &t->commit, &t->commit_request);
}

/* The transition in t->commit is durable: the run is at its next checkpoint. */
static void commit_done(drive_task *t)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	const ecl_step_def *step = &run->wf->steps[run->state];
	const store_commit *c = &t->commit;
	ecl_event ev = {0};

	t->beat_ms = c->now_ms;
	if (t->commit_request)
		t->request = t->commit_request;
	engine_def_stored(c->def);
	run->seq++;
	t->run_tokens_in += c->step.tokens_in;
	t->run_tokens_out += c->step.tokens_out;
	if (e->verbose && e->log) {
		char dur[32], seq[16], attempt[16];

		snprintf(dur, sizeof(dur), "%.3f", (double)c->step.duration_us / 1000.0);
		snprintf(seq, sizeof(seq), "%d", run->seq);
		snprintf(attempt, sizeof(attempt), "%d", c->step.attempt);
		log_event(e, LOG_INFO, "transition", "run", run->id, "seq", seq, "step", step->name,
			  "attempt", attempt, "duration_ms", dur, "next",
			  c->step.next ? c->step.next : c->status, LOG_IDS(run), NULL);
	}
	trace_step_end(t, c->step.next ? c->step.next : c->status, ECL_OK);
	ev.kind = ECL_EV_COMMIT;
	ev.run_id = run->id;
	ev.step = step->name;
	ev.next = c->step.next;
	ev.attempt = c->step.attempt;
	ev.seq = run->seq;
	ev.visits = run->visits[run->state];
	ev.duration_us = c->step.duration_us;
	if (emit(e, &ev))
		e->stop_requested = 1;
	if (run->t == T_GOTO) {
		run->state = run->t_next;
		run->attempt = 1;
	}
}

static int finish(ecl_run *run)
{
	ecl_engine *e = run->eng;
	ecl_event ev = {
		.kind = ECL_EV_FINISH, .run_id = run->id, .step = run->wf->steps[run->state].name};

	if (run->t == T_DONE) {
		ev.status = ecl_run_status_name(ECL_RUN_COMPLETED);
		log_event(e, LOG_INFO, "completed", "run", run->id, LOG_IDS(run), NULL);
		emit(e, &ev);
		return ECL_OK;
	}
	ev.status = ecl_run_status_name(ECL_RUN_FAILED);
	engine_fail(e, ECL_EFAILED, "%s", run->t_error);
	log_event(e, e->end_level, "failed", "run", run->id, "step", ev.step, "error", run->t_error,
		  LOG_IDS(run), NULL);
	emit(e, &ev);
	return ECL_EFAILED;
}

/* A step that stops the run by itself: a human step without its answer leaves the run
 * waiting (ecl_run_answer, then a resume, go on), a code step whose function failed fails
 * the run for good. */
static int stop_step(drive_task *t, int rc)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	ecl_event ev = {.kind = ECL_EV_FINISH,
			.run_id = run->id,
			.step = run->wf->steps[run->state].name,
			.status = ecl_run_status_name(ECL_RUN_WAITING)};
	int src;

	if (rc == ECL_EFAILED)
		return fail_run(t, NULL);
	src = t->d->ops->release(t->d, run, ecl_run_status_name(ECL_RUN_WAITING), NULL);
	if (src != ECL_OK)
		return src;
	log_event(e, LOG_INFO, "waiting", "run", run->id, "step", ev.step, LOG_IDS(run), NULL);
	emit(e, &ev);
	return engine_fail(e, ECL_EWAITING, "run %s waits for an answer to step `%s`", run->id,
			   ev.step);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static int end(drive_task *t, int rc)
{
	trace_drive_end(t, rc);
	t->rc = rc;
	t->phase = DRIVE_PH_END;
	ask_clear(t);
	return DRIVE_END;
}

/* A commit the store could not make (a full disk, an I/O error): the last good checkpoint
 * stays. The run is left interrupted with the error, so that listings show it stopped and
 * why, and any process resumes it at once. When the store cannot take even that small write,
 * the run stays `running` under a lease this process no longer renews: a resume on this host
 * takes it over at once (its holder is dead), elsewhere once it expires. Either way the
 * commit's error is the one reported. */
static int stop_store_error(drive_task *t)
{
	ecl_engine *e = t->run->eng;
	char err[sizeof(e->err)];

	memcpy(err, e->err, sizeof(err));
	stop(t->d, t->run, ecl_run_status_name(ECL_RUN_INTERRUPTED), ECL_ESTORE);
	memcpy(e->err, err, sizeof(err));
	return ECL_ESTORE;
}

/* The outcome of making the step's transition durable: go on with the next step, or end. */
static int after_commit(drive_task *t, int rc)
{
	ecl_run *run = t->run;

	if (rc == ECL_OK)
		commit_done(t);
	commit_clear(t);
	ask_clear(t);
	if (rc != ECL_OK) {
		if (rc == ECL_ESTATE)
			return end(t, rc); /* another process has the run: leave it alone */
		if (rc == ECL_ESTORE)
			return end(t, stop_store_error(t));
		return end(t, stop(t->d, run, ecl_run_status_name(ECL_RUN_INTERRUPTED), rc));
	}
	if (run->t != T_GOTO)
		return end(t, finish(run));
	t->phase = DRIVE_PH_STEP;
	return -1; /* go on with the next step */
}

/* What the step function returned, or the outcome of the step's asking: commit the
 * transition (or hand it to the caller to commit), or stop or fail the run. The one place a
 * step's result is handled. */
static int step_result(drive_task *t, int rc)
{
	if (rc == ECL_EANSWER)
		return end(t, fail_run(t, NULL));
	if (rc == ECL_EINTERRUPTED)
		return end(t, stop_for(t));
	if (rc == ECL_OK)
		rc = commit_prepare(t);
	if (rc == ECL_OK && t->group) {
		t->phase = DRIVE_PH_COMMIT;
		return DRIVE_COMMIT;
	}
	if (rc == ECL_OK)
		rc = drive_task_write(t);
	return after_commit(t, rc);
}

/* Call the generated step function. The runtime calls it makes return ECL_ENOMEM without a
 * detail when an allocation fails: name the step then. */
static int call_step(ecl_run *run)
{
	ecl_engine *e = run->eng;
	int rc;

	e->err[0] = '\0';
	rc = run->wf->step(run);
	if (rc == ECL_ENOMEM && !e->err[0])
		engine_fail(e, ECL_ENOMEM, "out of memory in step `%s`",
			    run->wf->steps[run->state].name);
	return rc;
}

void drive_task_committed(drive_task *t, int rc)
{
	if (t->phase == DRIVE_PH_COMMIT)
		after_commit(t, rc);
}

int drive_task_advance(drive_task *t)
{
	ecl_run *run = t->run;
	ecl_engine *e = run->eng;
	const ecl_workflow *wf = run->wf;

	for (;;) {
		switch (t->phase) {
		case DRIVE_PH_STEP: {
			const ecl_step_def *step = &wf->steps[run->state];
			ecl_event ev = {.kind = ECL_EV_STEP_START,
					.run_id = run->id,
					.step = step->name,
					.attempt = run->attempt,
					.seq = run->seq + 1,
					.visits = run->visits[run->state]};
			int rc, r;

			t->started_ms = clock_now_ms();
			t->t0 = clock_mono_us();
			t->tokens_in = t->tokens_out = 0;
			t->tokens_cached = t->tokens_cache_write = t->ttft_us = 0;
			t->llm_us = 0;
			t->cause = 0;
			if (interrupted(e) || t->request || t->lost)
				return end(t, stop_for(t));
			trace_step_begin(t);
			if (run->seq >= wf->max_steps) {
				engine_fail(e, ECL_EBOUND,
					    "run %s exceeded the bound of %d steps proven for %s",
					    run->id, wf->max_steps, wf->id);
				t->cause = ECL_EBOUND;
				return end(t, fail_run(t, NULL));
			}
			emit(e, &ev);
			memset(run->dirty, 0, (size_t)wf->nslots);
			answer_clear(run);
			run->t = T_NONE;
			rc = call_step(run);
			if (rc == ECL_EFAILED)
				t->cause = ECL_EFAILED;
			if (rc == ECL_EWAITING || rc == ECL_EFAILED)
				return end(t, stop_step(t, rc));
			if (rc == ECL_PENDING) {
				rc = ask_begin(t);
				if (rc == ECL_OK) {
					trace_chat_begin(t);
					ask_next_call(t);
					t->phase = DRIVE_PH_ASK;
					return DRIVE_ASK;
				}
			}
			if ((r = step_result(t, rc)) >= 0)
				return r;
			break;
		}
		case DRIVE_PH_ASK: return DRIVE_ASK;
		case DRIVE_PH_WAIT:
			if (drive_task_should_stop(t))
				return end(t, stop_for(t));
			if (clock_mono_us() < t->wake_us)
				return DRIVE_WAIT;
			ask_next_call(t);
			t->phase = DRIVE_PH_ASK;
			return DRIVE_ASK;
		case DRIVE_PH_GOT: {
			int rc = ask_outcome(t), r;

			if (rc == ECL_PENDING) {
				t->phase = DRIVE_PH_WAIT;
				break;
			}
			if (rc != ECL_OK)
				t->cause = rc;
			trace_chat_end(t, rc);
			if (rc == ECL_OK)
				rc = call_step(run);
			else if (rc == ECL_EANSWER)
				return end(t, fail_run(t, NULL));
			else if (rc != ECL_EINTERRUPTED)
				return end(t, stop(t->d, run,
						   ecl_run_status_name(ECL_RUN_INTERRUPTED), rc));
			if ((r = step_result(t, rc)) >= 0)
				return r;
			break;
		}
		case DRIVE_PH_COMMIT: return DRIVE_COMMIT;
		case DRIVE_PH_END: return DRIVE_END;
		}
	}
}

int drive_run(driver *d, ecl_run *run)
{
	drive_task t;
	int need, rc;

	drive_task_init(&t, d, run);
	while ((need = drive_task_advance(&t)) != DRIVE_END) {
		if (need == DRIVE_COMMIT) { /* not reached: t.group is not set here */
			drive_task_committed(&t, drive_task_write(&t));
			continue;
		}
		if (need == DRIVE_ASK) {
			rc = d->ops->answer(d, run, &t.req, &t.res);
			if (rc == ECL_ESUSPENDED) { /* the driver's journal will bring the answer */
				drive_task_clear(&t);
				return rc;
			}
			drive_task_answer(&t, rc);
			continue;
		}
		/* DRIVE_WAIT: sleep in slices, ticking, until the retry is due */
		while (!tick(&t)) {
			long long left = t.wake_us - clock_mono_us();
			struct timespec ts = {0, 0};

			if (left <= 0)
				break;
			ts.tv_nsec = (left < 50000 ? left : 50000) * 1000L;
			nanosleep(&ts, NULL);
		}
	}
	rc = t.rc;
	drive_task_clear(&t);
	return rc;
}
