/*
 * drive.c - the loop that advances a run: call the generated step function, obtain and
 * validate answers (with retries and repair prompts), and hand every transition to the
 * driver to make durable before the next step starts. Also the local driver, which asks
 * the engine's provider and commits to the engine's store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Defaults when neither the step nor the workflow sets a policy. */
#define DEFAULT_RETRIES 2
#define DEFAULT_REPAIRS 1
#define BACKOFF_CAP_MS  10000

/* ---- the local driver --------------------------------------------------------------------- */

static ecl_engine *engine_of(driver *d)
{
	return (ecl_engine *)((char *)d - offsetof(ecl_engine, local));
}

static int local_answer(driver *d, ecl_run *run, const llm_request *req, llm_response *res)
{
	llm_provider *p = engine_of(d)->llm;

	(void)run;
	return p->complete(p, req, res);
}

static int local_commit(driver *d, ecl_run *run, const store_commit *c, const char **request)
{
	store *st = engine_of(d)->st;
	int rc = st->ops->commit(st, c, request);

	if (rc != ECL_OK)
		return engine_fail(run->eng, rc, "%s", st->ops->errmsg(st));
	return ECL_OK;
}

static int local_beat(driver *d, ecl_run *run, long long now_ms, const char **request)
{
	ecl_engine *e = engine_of(d);
	int rc = e->st->ops->heartbeat(e->st, run->id, e->owner, now_ms, now_ms + e->lease_ms,
				       request);

	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

static int local_release(driver *d, ecl_run *run, const char *status, const char *error)
{
	ecl_engine *e = engine_of(d);
	int rc = e->st->ops->release(e->st, run->id, e->owner, status, error, clock_now_ms());

	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

const driver_ops drive_local_ops = {
	.answer = local_answer,
	.commit = local_commit,
	.beat = local_beat,
	.release = local_release,
};

/* ---- asking for an answer ----------------------------------------------------------------- */

static int interrupted(ecl_engine *e)
{
	return e->stop_requested || (e->interrupt && *e->interrupt);
}

/* What the driver passes providers as their tick: renew the lease now and then, and say
 * whether the call in flight must be abandoned (a signal, a cancel, a lost lease). */
typedef struct ticker {
	driver *d;
	ecl_run *run;
	int lost; /* the lease was lost: abandon everything */
} ticker;

static int tick(void *ctx)
{
	ticker *t = ctx;
	ecl_engine *e = t->run->eng;
	long long now;

	if (interrupted(e) || t->lost)
		return 1;
	now = clock_now_ms();
	if (now - e->beat_ms >= e->lease_ms / 3) {
		const char *request = NULL;

		e->beat_ms = now;
		if (t->d->ops->beat(t->d, t->run, now, &request) != ECL_OK) {
			t->lost = 1;
			return 1;
		}
		if (request)
			e->request = request;
	}
	return e->request && strcmp(e->request, "cancel") == 0;
}

/* Sleep for a backoff with full jitter, in slices, ticking. */
static void backoff(ticker *t, int try_no, long retry_after_ms)
{
	long cap = t->run->eng->retry_base_ms << (try_no < 10 ? try_no : 10);
	long ms;

	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	ms = (long)((double)rand() / ((double)RAND_MAX + 1.0) * (double)cap);
	if (retry_after_ms > ms)
		ms = retry_after_ms;
	while (ms > 0 && !tick(t)) {
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = {0, slice * 1000000L};

		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

static int opt_int(int step, int wf, int dflt)
{
	return step >= 0 ? step : wf >= 0 ? wf : dflt;
}

/* What one step's asking accumulates. */
typedef struct asking {
	char *raw; /* the accepted answer text */
	long long tokens_in;
	long long tokens_out;
} asking;

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

static int ask(driver *d, ecl_run *run, asking *out, ticker *tk)
{
	ecl_engine *e = run->eng;
	const ecl_workflow *wf = run->wf;
	const ecl_step_def *step = &wf->steps[run->state];
	const ecl_llm_opts *so = &step->opts, *wo = &wf->opts;
	int retries = opt_int(so->retries, wo->retries, DEFAULT_RETRIES);
	int repairs = opt_int(so->repairs, wo->repairs, DEFAULT_REPAIRS);
	llm_message msgs[1 + 2 * 8];
	char *answers[8] = {0};
	buf sys = {0}, prompt = {0}, fix[8] = {{0}};
	llm_request req = {0};
	int repair, call = 0, rc = ECL_OK, i;

	if (repairs > 8)
		repairs = 8;
	run_render(run, &step->system, &sys);
	run_render(run, &step->prompt, &prompt);
	if (sys.oom || prompt.oom) {
		rc = engine_fail(e, ECL_ENOMEM, "out of memory rendering the prompt of `%s`",
				 step->name);
		goto out;
	}
	msgs[0].role = "user";
	msgs[0].text = prompt.data ? prompt.data : "";
	req.run_id = run->id;
	req.wf = wf;
	req.step = step;
	req.attempt = run->attempt;
	req.visit = run->visits[run->state];
	req.system = step->system.nparts ? (sys.data ? sys.data : "") : NULL;
	req.messages = msgs;
	req.model = so->model ? so->model : wo->model;
	req.temperature = so->temperature >= 0 ? so->temperature : wo->temperature;
	req.max_tokens = so->max_tokens ? so->max_tokens : wo->max_tokens;
	req.timeout_ms = so->timeout_ms   ? so->timeout_ms
			 : wo->timeout_ms ? wo->timeout_ms
					  : e->timeout_ms;
	req.tick = tick;
	req.tick_ctx = tk;
	for (repair = 0; repair <= repairs; repair++) {
		llm_response res = {0};
		char why[512];
		int try_no;

		req.repair = repair;
		req.nmessages = 1 + 2 * repair;
		for (try_no = 0;; try_no++) {
			memset(&res, 0, sizeof(res));
			res.retry_after_ms = -1;
			req.call = call++;
			rc = d->ops->answer(d, run, &req, &res);
			out->tokens_in += res.tokens_in;
			out->tokens_out += res.tokens_out;
			if (rc == ECL_OK && res.len > e->max_answer_bytes) {
				free(res.text);
				rc = engine_fail(
					e, ECL_EANSWER,
					"step `%s`: the answer has %zu bytes, more than the "
					"limit of %zu",
					step->name, res.len, e->max_answer_bytes);
				goto out;
			}
			if (rc == ECL_OK)
				break;
			free(res.text);
			if (rc != ECL_EPROVIDER) {
				rc = engine_fail(e, rc, "step `%s`: %s", step->name,
						 ecl_strerror(rc));
				goto out;
			}
			if (tick(tk)) {
				rc = ECL_EINTERRUPTED;
				goto out;
			}
			if (res.fault != LLM_FAULT_TRANSIENT || try_no >= retries) {
				rc = engine_fail(e, ECL_EPROVIDER, "step `%s`: %s%s", step->name,
						 res.error, try_no ? " (retries exhausted)" : "");
				goto out;
			}
			log_event(e, LOG_WARN, "retry", "run", run->id, "step", step->name, "error",
				  res.error, NULL);
			backoff(tk, try_no, res.retry_after_ms);
		}
		rc = answer_parse(wf, step, res.text, res.len, &run->answer, why, sizeof(why));
		if (rc == ECL_OK) {
			out->raw = res.text;
			break;
		}
		if (rc != ECL_EANSWER || repair == repairs) {
			free(res.text);
			rc = rc == ECL_EANSWER ? engine_fail(e, rc, "%s", why)
					       : engine_fail(e, rc, "out of memory");
			goto out;
		}
		log_event(e, LOG_WARN, "repair", "run", run->id, "step", step->name, "error", why,
			  NULL);
		answers[repair] = res.text;
		repair_prompt(&fix[repair], run, step, why);
		if (fix[repair].oom) {
			rc = engine_fail(e, ECL_ENOMEM, "out of memory");
			goto out;
		}
		msgs[1 + 2 * repair].role = "assistant";
		msgs[1 + 2 * repair].text = answers[repair];
		msgs[2 + 2 * repair].role = "user";
		msgs[2 + 2 * repair].text = fix[repair].data;
	}
out:
	for (i = 0; i < 8; i++) {
		free(answers[i]);
		buf_free(&fix[i]);
	}
	buf_free(&sys);
	buf_free(&prompt);
	return rc;
}

/* ---- the loop ----------------------------------------------------------------------------- */

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
	int src;

	if (rc != ECL_EINTERRUPTED && rc != ECL_EPAUSED && rc != ECL_ECANCELLED &&
	    !(error = mem_strdup(e->err)))
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	src = d->ops->release(d, run, status, error);
	log_event(e, error ? LOG_ERROR : LOG_INFO, status, "run", run->id, "step", ev.step, "error",
		  error, NULL);
	mem_free(error);
	emit(e, &ev);
	return src != ECL_OK ? src : rc;
}

/* Stop for a signal, a request from another process, or a lost lease. */
static int stop_for(driver *d, ecl_run *run, const ticker *tk)
{
	ecl_engine *e = run->eng;

	if (tk->lost)
		return ECL_ESTATE; /* another process has the run: leave it alone */
	if (e->request && strcmp(e->request, "cancel") == 0)
		return stop(d, run, "cancelled", ECL_ECANCELLED);
	if (e->request && strcmp(e->request, "pause") == 0)
		return stop(d, run, "paused", ECL_EPAUSED);
	return stop(d, run, "interrupted", ECL_EINTERRUPTED);
}

/* A failure decided by the runtime (an invalid answer, the step bound): commit it as the
 * run's last transition, so the run is failed for good with its reason stored. */
static int fail_run(driver *d, ecl_run *run, const char *raw, long long started_ms, long long t0)
{
	ecl_engine *e = run->eng;
	const ecl_step_def *step = &run->wf->steps[run->state];
	char *msg = mem_strdup(e->err);
	const char *request = NULL;
	store_commit c = {0};
	ecl_event ev = {
		.kind = ECL_EV_FINISH, .run_id = run->id, .step = step->name, .status = "failed"};
	int rc;

	if (!msg)
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	c.run_id = run->id;
	c.step.seq = run->seq + 1;
	c.step.step = step->name;
	c.step.attempt = run->attempt;
	c.step.raw = raw;
	c.step.started_ms = started_ms;
	c.step.duration_us = clock_mono_us() - t0;
	c.status = "failed";
	c.current = step->name;
	c.attempt = run->attempt;
	c.error = msg;
	c.now_ms = clock_now_ms();
	c.owner = e->owner;
	c.lease_until_ms = c.now_ms + e->lease_ms;
	rc = d->ops->commit(d, run, &c, &request);
	if (rc == ECL_OK) {
		engine_fail(e, ECL_EFAILED, "%s", msg);
		log_event(e, LOG_ERROR, "failed", "run", run->id, "step", step->name, "error", msg,
			  NULL);
		emit(e, &ev);
		rc = ECL_EFAILED;
	}
	mem_free(msg);
	return rc;
}

static int commit_transition(driver *d, ecl_run *run, asking *a, long long started_ms, long long t0)
{
	ecl_engine *e = run->eng;
	const ecl_workflow *wf = run->wf;
	const ecl_step_def *step = &wf->steps[run->state];
	char *output = run->answer ? cJSON_PrintUnformatted(run->answer) : NULL;
	char *vars = run_dirty_vars(run);
	store_commit c = {0};
	ecl_event ev = {0};
	const char *request = NULL;
	char dur[32], seq[16], attempt[16];
	int rc;

	if ((run->answer && !output) || !vars) {
		rc = engine_fail(e, ECL_ENOMEM, "out of memory");
		goto out;
	}
	c.run_id = run->id;
	c.step.seq = run->seq + 1;
	c.step.step = step->name;
	c.step.attempt = run->attempt;
	c.step.output = output;
	c.step.raw = a->raw && output && strcmp(a->raw, output) == 0 ? NULL : a->raw;
	c.step.vars = vars;
	c.step.tokens_in = a->tokens_in;
	c.step.tokens_out = a->tokens_out;
	c.step.started_ms = started_ms;
	c.step.duration_us = clock_mono_us() - t0;
	c.attempt = 1;
	c.now_ms = clock_now_ms();
	c.owner = e->owner;
	c.lease_until_ms = c.now_ms + e->lease_ms;
	switch (run->t) {
	case T_GOTO:
		c.step.next = wf->steps[run->t_next].name;
		c.status = "running";
		c.current = c.step.next;
		break;
	case T_DONE:
		c.status = "completed";
		c.output = run->t_output;
		break;
	case T_FAIL:
		c.status = "failed";
		c.current = step->name;
		c.attempt = run->attempt;
		c.error = run->t_error;
		break;
	case T_NONE:
		rc = engine_fail(e, ECL_EUSAGE, "step `%s` of %s ended without a transition",
				 step->name, wf->id);
		goto out;
	}
	rc = d->ops->commit(d, run, &c, &request);
	if (rc != ECL_OK)
		goto out;
	e->beat_ms = c.now_ms;
	if (request)
		e->request = request;
	run->seq++;
	snprintf(dur, sizeof(dur), "%.3f", (double)c.step.duration_us / 1000.0);
	snprintf(seq, sizeof(seq), "%d", run->seq);
	snprintf(attempt, sizeof(attempt), "%d", c.step.attempt);
	log_event(e, LOG_INFO, "transition", "run", run->id, "seq", seq, "step", step->name,
		  "attempt", attempt, "duration_ms", dur, "next",
		  c.step.next ? c.step.next : c.status, NULL);
	ev.kind = ECL_EV_COMMIT;
	ev.run_id = run->id;
	ev.step = step->name;
	ev.next = c.step.next;
	ev.attempt = c.step.attempt;
	ev.seq = run->seq;
	ev.visits = run->visits[run->state];
	ev.duration_us = c.step.duration_us;
	if (emit(e, &ev))
		e->stop_requested = 1;
	if (run->t == T_GOTO) {
		run->state = run->t_next;
		run->attempt = 1;
	}
out:
	cJSON_free(output);
	mem_free(vars);
	return rc;
}

static int finish(ecl_run *run)
{
	ecl_engine *e = run->eng;
	ecl_event ev = {
		.kind = ECL_EV_FINISH, .run_id = run->id, .step = run->wf->steps[run->state].name};

	if (run->t == T_DONE) {
		ev.status = "completed";
		log_event(e, LOG_INFO, "completed", "run", run->id, NULL);
		emit(e, &ev);
		return ECL_OK;
	}
	ev.status = "failed";
	engine_fail(e, ECL_EFAILED, "%s", run->t_error);
	log_event(e, LOG_ERROR, "failed", "run", run->id, "step", ev.step, "error", run->t_error,
		  NULL);
	emit(e, &ev);
	return ECL_EFAILED;
}

int drive_run(driver *d, ecl_run *run)
{
	ecl_engine *e = run->eng;
	const ecl_workflow *wf = run->wf;
	ticker tk = {d, run, 0};

	e->beat_ms = clock_now_ms();
	e->request = NULL;
	for (;;) {
		const ecl_step_def *step = &wf->steps[run->state];
		long long started_ms = clock_now_ms(), t0 = clock_mono_us();
		ecl_event ev = {.kind = ECL_EV_STEP_START,
				.run_id = run->id,
				.step = step->name,
				.attempt = run->attempt,
				.seq = run->seq + 1,
				.visits = run->visits[run->state]};
		asking a = {0};
		int rc;

		if (interrupted(e) || e->request)
			return stop_for(d, run, &tk);
		if (run->seq >= wf->max_steps) {
			engine_fail(e, ECL_EBOUND,
				    "run %s exceeded the bound of %d steps proven for %s", run->id,
				    wf->max_steps, wf->id);
			return fail_run(d, run, NULL, started_ms, t0);
		}
		emit(e, &ev);
		memset(run->dirty, 0, (size_t)wf->nslots);
		cJSON_Delete(run->answer);
		run->answer = NULL;
		run->t = T_NONE;
		rc = wf->step(run);
		if (rc == ECL_PENDING) {
			rc = ask(d, run, &a, &tk);
			if (rc == ECL_EANSWER)
				return fail_run(d, run, NULL, started_ms, t0);
			if (rc == ECL_EINTERRUPTED)
				return stop_for(d, run, &tk);
			if (rc == ECL_ESUSPENDED)
				return rc; /* the driver's journal will bring the answer */
			if (rc == ECL_OK)
				rc = wf->step(run);
		}
		if (rc == ECL_OK)
			rc = commit_transition(d, run, &a, started_ms, t0);
		free(a.raw);
		if (rc != ECL_OK) {
			if (rc == ECL_ESTORE || rc == ECL_ESTATE)
				return rc; /* the store keeps the last good checkpoint; leave it */
			return stop(d, run, "interrupted", rc);
		}
		if (run->t != T_GOTO)
			return finish(run);
	}
}
