/*
 * driver.h - the driver seam: what advances a machine and makes each transition durable.
 *
 * drive_run() is the one loop every driver shares: it calls the generated step function,
 * gets answers for LLM steps (asking, retrying, repairing), and hands every transition to
 * the driver to make durable before the next step starts. A driver supplies two operations:
 * how an answer is obtained and how a transition is made durable. The local driver asks the
 * provider and commits to the store; a Restate driver would take answers from its journal.
 */
#ifndef ECL_DRIVER_H
#define ECL_DRIVER_H

#include "provider.h"
#include "store.h"

typedef struct driver driver;

typedef struct driver_ops {
	/* Obtain one answer for the request (one try: drive_run retries and repairs). */
	int (*answer)(driver *d, ecl_run *run, const llm_request *req, llm_response *res);
	/* Make a transition durable; ECL_OK only once it is. *request receives a pause or cancel
	 * asked by another process since (a static string), or NULL. */
	int (*commit)(driver *d, ecl_run *run, const store_commit *c, const char **request);
	/* Renew the run's lease while a step is under way; *request as for commit. ECL_ESTATE
	 * when this process lost the run. */
	int (*beat)(driver *d, ecl_run *run, long long now_ms, const char **request);
	/* Stop driving the run, leaving it with a status (interrupted, paused, cancelled) and an
	 * error or NULL. */
	int (*release)(driver *d, ecl_run *run, const char *status, const char *error);
} driver_ops;

struct driver {
	const driver_ops *ops;
};

/* The local driver: answers from the engine's provider, transitions into its store. */
extern const driver_ops drive_local_ops;

/* Drive a loaded run until it completes, fails, is interrupted or hits an error. Returns
 * ECL_OK (completed), ECL_EFAILED (the workflow failed), ECL_EINTERRUPTED, or an error code
 * with the detail on the engine. */
int drive_run(driver *d, ecl_run *run);

#endif /* ECL_DRIVER_H */
