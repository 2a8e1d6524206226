/*
 * store.c - what every store shares beyond its operations: releasing a run's strings, and
 * saying why an operation was refused, from the run as it is, in the same words whatever the
 * backend (the messages are the contract's too: the tests read them).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void store_run_clear(store_run *run)
{
	mem_free(run->workflow);
	mem_free(run->version);
	mem_free(run->status);
	mem_free(run->step);
	mem_free(run->inputs);
	mem_free(run->output);
	mem_free(run->error);
	mem_free(run->owner);
	mem_free(run->request);
	mem_free(run->parent);
	mem_free(run->provider);
	mem_free(run->model);
	mem_free(run->base_url);
	mem_free(run->trace);
	memset(run, 0, sizeof(*run));
}

/* Whether a run with this status can be driven (its lease taken). */
static int drivable(const char *status)
{
	return run_status_is(status, ECL_RUN_RUNNING) ||
	       run_status_is(status, ECL_RUN_INTERRUPTED) ||
	       run_status_is(status, ECL_RUN_PAUSED) || run_status_is(status, ECL_RUN_WAITING) ||
	       run_status_is(status, ECL_RUN_QUEUED);
}

int store_refused_lease(store_run *run, long long now_ms, char **holder, char *err, size_t errlen)
{
	if (!drivable(run->status)) {
		snprintf(err, errlen, "run %s has %s; it cannot be driven any more", run->id,
			 run->status ? run->status : "no status");
	} else {
		snprintf(err, errlen,
			 "run %s is being driven by %s (its lease runs for %lld s more)", run->id,
			 run->owner ? run->owner : "another process",
			 (run->lease_until_ms - now_ms + 999) / 1000);
		*holder = run->owner;
		run->owner = NULL;
	}
	store_run_clear(run);
	return ECL_ESTATE;
}

int store_refused_answer(store_run *run, int seq, char *err, size_t errlen)
{
	if (!run_status_is(run->status, ECL_RUN_WAITING) || run->seq != seq)
		snprintf(err, errlen, "run %s is %s%s: it does not wait for an answer any more",
			 run->id, run->status, run->seq != seq ? " and has moved on" : "");
	else
		snprintf(err, errlen,
			 "run %s has an answer to step `%s` already: the first answer is kept "
			 "(resume the run to go on with it)",
			 run->id, run->step ? run->step : "?");
	store_run_clear(run);
	return ECL_ESTATE;
}
