/*
 * driver_local.c - the local driver (driver.h): answers from the engine's provider, human
 * answers from the notes of the engine's store, and every transition committed to that store.
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

struct find_answer {
	int seq;
	char *json; /* the last answer given after checkpoint seq */
	int oom;
};

static int find_answer_note(void *ctx, int seq, long long ts_ms, const char *text)
{
	struct find_answer *f = ctx;

	(void)ts_ms;
	if (seq != f->seq || strncmp(text, ANSWER_NOTE, strlen(ANSWER_NOTE)) != 0)
		return 0;
	mem_free(f->json);
	f->json = mem_strdup(text + strlen(ANSWER_NOTE));
	f->oom = !f->json;
	return 0;
}

static int local_human(driver *d, ecl_run *run, char **json)
{
	ecl_engine *e = engine_of(d);
	struct find_answer f = {run->seq, NULL, 0};
	int rc = e->st->ops->list_notes(e->st, run->id, find_answer_note, &f);

	*json = NULL;
	if (rc != ECL_OK) {
		mem_free(f.json);
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	}
	if (f.oom)
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	*json = f.json;
	return ECL_OK;
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
