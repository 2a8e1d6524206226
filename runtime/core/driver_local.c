/*
 * driver_local.c - the local driver (driver.h): answers from the engine's provider, human
 * answers from the engine's store (its answer op), and every transition committed to that store.
 * The engine holds one (ecl_engine.local); drive.c's loop calls it.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

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

static int local_human(driver *d, ecl_run *run, char **json)
{
	ecl_engine *e = engine_of(d);
	int rc = e->st->ops->get_answer(e->st, run->id, run->seq, json);

	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

/* A finished run's output is committed in the core's compact form (output.c): strings a
 * recent checkpoint holds already are stored by reference. */
static int local_commit(driver *d, ecl_run *run, const store_commit *c, const char **request)
{
	store *st = engine_of(d)->st;
	char *compact = c->output ? output_compact(st, c) : NULL;
	store_commit by_ref;
	int rc;

	if (compact) {
		by_ref = *c;
		by_ref.output = compact;
		c = &by_ref;
	}
	rc = st->ops->commit(st, c, request);
	mem_free(compact);
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

static int local_begin_group(driver *d)
{
	ecl_engine *e = engine_of(d);
	int rc;

	if (!e->st->ops->group_begin)
		return engine_fail(e, ECL_EUSAGE, "the store cannot group commits");
	if ((rc = e->st->ops->group_begin(e->st)) != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

static int local_end_group(driver *d, int keep)
{
	ecl_engine *e = engine_of(d);
	int rc = e->st->ops->group_end(e->st, keep);

	if (rc != ECL_OK)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	return ECL_OK;
}

const driver_ops drive_local_ops = {
	.answer = local_answer,
	.human = local_human,
	.commit = local_commit,
	.beat = local_beat,
	.release = local_release,
	.begin_group = local_begin_group,
	.end_group = local_end_group,
};
