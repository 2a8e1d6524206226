/*
 * restate_query.c - what `ecl runs` and `ecl history` read from a Restate server: the state
 * the run handler keeps (its status, a record of each transition and of each answer asked,
 * see driver_restate.c), read through the admin API's SQL introspection (POST /query), and
 * handed out as the same ecl_run_info and ecl_history_entry the local store gives, so that
 * the command prints the same columns and JSON fields on both engines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "internal.h"
#include "restate.h"

/* Run the SQL query at the admin API: ECL_OK with *rows its rows (a JSON array inside *doc,
 * which the caller frees with cJSON_Delete), or an error in err. */
static int query(const char *admin_url, const char *sql, cJSON **doc, const cJSON **rows, char *err,
		 size_t errlen)
{
	char url[1024];
	cJSON *body = cJSON_CreateObject();
	char *text = NULL;
	buf resp = {0};
	long status;
	int rc, oom = 0;

	*doc = NULL;
	*rows = NULL;
	if (!body || !cJSON_AddStringToObject(body, "query", sql) ||
	    !(text = cJSON_PrintUnformatted(body))) {
		cJSON_Delete(body);
		restate_say(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	cJSON_Delete(body);
	snprintf(url, sizeof(url), "%s/query", admin_url);
	rc = http_exchange("POST", url, text, "application/json", 60000, &status, &resp, err,
			   errlen);
	cJSON_free(text);
	if (rc == ECL_OK && status != 200) {
		restate_say(err, errlen, "%s: HTTP %ld: %.300s", url, status,
			    resp.data ? resp.data : "(no body)");
		rc = ECL_EIO;
	}
	if (rc == ECL_OK) {
		*doc = resp.data ? json_parse_str(resp.data, &oom) : NULL;
		*rows = cJSON_GetObjectItemCaseSensitive(*doc, "rows");
		if (oom) {
			restate_say(err, errlen, "out of memory reading %s", url);
			rc = ECL_ENOMEM;
		} else if (!cJSON_IsArray(*rows)) {
			restate_say(err, errlen, "%s: the answer has no rows: %.300s", url,
				    resp.data ? resp.data : "(no body)");
			rc = ECL_EIO;
		}
	}
	buf_free(&resp);
	if (rc != ECL_OK) {
		cJSON_Delete(*doc);
		*doc = NULL;
		*rows = NULL;
	}
	return rc;
}

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long long num_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

/* Restate's times ("2026-12-07T21:47:32.763Z", UTC) in Unix ms; 0 when absent or malformed.
 * The days since 1970 are counted from the civil date (timegm is not standard C). */
static long long time_ms(const char *text)
{
	static const char seps[] = "--T::";
	long f[6], y, mo, d, h, mi, s, ms = 0;
	long long era, yoe, doy, doe, days;
	const char *p = text;
	char *end;
	int i;

	for (i = 0; p && i < 6; i++) {
		f[i] = strtol(p, &end, 10);
		if (end == p || (i < 5 && *end != seps[i]))
			return 0;
		p = i < 5 ? end + 1 : end;
	}
	if (!p)
		return 0;
	y = f[0], mo = f[1], d = f[2], h = f[3], mi = f[4], s = f[5];
	if (mo < 1 || mo > 12)
		return 0;
	if (*p == '.') /* milliseconds: the first three digits of the fraction */
		for (i = 1, p++; i <= 3; i++) {
			ms = ms * 10 + (*p >= '0' && *p <= '9' ? *p - '0' : 0);
			if (*p >= '0' && *p <= '9')
				p++; /* never past the end */
		}
	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;
	return ((days * 24 + h) * 60 + mi) * 60000LL + s * 1000LL + ms;
}

/* The compiled workflow named name, or NULL. */
static const ecl_workflow *workflow_of(const ecl_workflow *const *list, size_t n, const char *name)
{
	return name ? ecl_workflow_find(list, n, name) : NULL;
}

/* ---- runs --------------------------------------------------------------------------------- */

/* One run of the listing: its status row, parsed. */
typedef struct listed {
	const cJSON *row;
	cJSON *status;
	const ecl_workflow *wf;
	long long created_ms, updated_ms;
} listed;

static int newest_first(const void *a, const void *b)
{
	const listed *x = a, *y = b;

	return x->created_ms < y->created_ms ? 1 : x->created_ms > y->created_ms ? -1 : 0;
}

static int status_wanted(const ecl_run_filter *f, const char *status)
{
	int i;

	if (!f || f->nstatuses <= 0)
		return 1;
	for (i = 0; i < f->nstatuses; i++)
		if (status && strcmp(f->statuses[i], status) == 0)
			return 1;
	return 0;
}

/* Visits of step, counted from the run's transition records: for the loop limits after the
 * first (the status counts that one). */
static int visits_of(const cJSON *steps, const char *step)
{
	const cJSON *row;
	int n = 0;

	cJSON_ArrayForEach (row, steps) {
		const char *v = str_of(row, "value_utf8"), *at;

		/* the record starts {"seq":N,"step":"<name>", */
		at = v ? strstr(v, "\"step\":\"") : NULL;
		if (at && strncmp(at + 8, step, strlen(step)) == 0 && at[8 + strlen(step)] == '"')
			n++;
	}
	return n;
}

/* Fill info from a run's status (all borrowed from st and wf) and hand it to fn. */
static int list_one(const char *admin_url, const listed *l, ecl_run_fn fn, void *ctx, char *err,
		    size_t errlen)
{
	ecl_run_info info;
	ecl_run_limit limits[32];
	const ecl_workflow *wf = l->wf;
	cJSON *out = cJSON_GetObjectItemCaseSensitive(l->status, "output");
	cJSON *doc = NULL;
	const cJSON *steps = NULL;
	char *output = NULL;
	int i, rc = ECL_OK, stop;

	memset(&info, 0, sizeof(info));
	info.id = (char *)str_of(l->status, "id");
	info.workflow = (char *)wf->id;
	info.version = (char *)str_of(l->status, "version");
	info.status = (char *)str_of(l->status, "status");
	info.step = (char *)str_of(l->status, "step");
	info.error = (char *)str_of(l->status, "error");
	info.question = (char *)str_of(l->status, "question");
	info.step_count = (int)num_of(l->status, "step_count");
	info.revisions = (int)num_of(l->status, "revisions");
	info.revision_limit = (int)num_of(l->status, "revision_limit");
	info.attempt = 1;
	info.created_ms = l->created_ms;
	info.updated_ms = l->updated_ms;
	if (out && !(output = info.output = cJSON_PrintUnformatted(out))) {
		restate_say(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	for (i = 0; i < wf->nsteps && info.nlimits < 32; i++) {
		const ecl_step_def *s = &wf->steps[i];

		if (s->limit <= 0)
			continue;
		limits[info.nlimits].step = s->name;
		limits[info.nlimits].label = s->counter_label;
		limits[info.nlimits].limit = s->limit;
		if (info.nlimits == 0) {
			info.revision_label = s->counter_label;
			limits[0].count = info.revisions;
		} else {
			if (!doc) {
				char sql[256];

				snprintf(sql, sizeof(sql),
					 "SELECT value_utf8 FROM state WHERE service_key = '%s' "
					 "AND key LIKE 'step#%%'",
					 info.id);
				rc = query(admin_url, sql, &doc, &steps, err, errlen);
				if (rc != ECL_OK)
					break;
			}
			limits[info.nlimits].count = visits_of(steps, s->name);
		}
		info.nlimits++;
	}
	info.limits = limits;
	stop = rc == ECL_OK && fn(ctx, &info);
	cJSON_Delete(doc);
	cJSON_free(output);
	return rc != ECL_OK ? rc : stop ? ECL_ECANCELLED : ECL_OK;
}

int ecl_restate_runs(const char *admin_url, const ecl_workflow *const *list, size_t n,
		     const ecl_run_filter *filter, ecl_run_fn fn, void *ctx, char *err,
		     size_t errlen)
{
	static const char sql[] =
		"SELECT s.service_name, s.service_key, s.value_utf8, i.created_at, i.modified_at "
		"FROM state s LEFT JOIN sys_invocation i ON i.target_service_name = s.service_name "
		"AND i.target_service_key = s.service_key AND i.target_handler_name = 'run' "
		"WHERE s.key = 'status'";
	cJSON *doc = NULL;
	const cJSON *rows, *row;
	listed *runs = NULL;
	int nruns = 0, i, rc, shown = 0;

	mem_init();
	rc = query(admin_url, sql, &doc, &rows, err, errlen);
	if (rc != ECL_OK)
		return rc;
	runs = mem_calloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof(*runs));
	if (!runs) {
		cJSON_Delete(doc);
		restate_say(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	cJSON_ArrayForEach (row, rows) {
		listed *l = &runs[nruns];
		const char *text = str_of(row, "value_utf8");

		/* the services of other programs may keep a "status" too: only our workflows' */
		l->wf = workflow_of(list, n, str_of(row, "service_name"));
		if (!l->wf || !text)
			continue;
		l->status = cJSON_Parse(text);
		if (!cJSON_IsObject(l->status) || !str_of(l->status, "id") ||
		    !restate_plain(str_of(l->status, "id")) ||
		    !status_wanted(filter, str_of(l->status, "status")) ||
		    (filter && filter->workflow && strcmp(filter->workflow, l->wf->id) != 0)) {
			cJSON_Delete(l->status);
			l->status = NULL;
			continue;
		}
		l->row = row;
		l->created_ms = time_ms(str_of(row, "created_at"));
		l->updated_ms = time_ms(str_of(row, "modified_at"));
		if (l->updated_ms < l->created_ms)
			l->updated_ms = l->created_ms;
		nruns++;
	}
	qsort(runs, (size_t)nruns, sizeof(*runs), newest_first);
	for (i = 0; i < nruns && rc == ECL_OK; i++) {
		if (filter && filter->limit > 0 && shown >= filter->limit)
			break;
		shown++;
		rc = list_one(admin_url, &runs[i], fn, ctx, err, errlen);
	}
	for (i = 0; i < nruns; i++)
		cJSON_Delete(runs[i].status);
	mem_free(runs);
	cJSON_Delete(doc);
	return rc == ECL_ECANCELLED ? ECL_OK : rc;
}

/* ---- history ------------------------------------------------------------------------------ */

/* The answers one transition may have asked: the first and its repairs. */
#define MAX_ANSWERS 16

/* The record of state key in rows (parsed into *out, freed by the caller), or NULL. */
static cJSON *record_of(const cJSON *rows, const char *key)
{
	const cJSON *row;

	cJSON_ArrayForEach (row, rows) {
		const char *k = str_of(row, "key");

		if (k && strcmp(k, key) == 0)
			return cJSON_Parse(str_of(row, "value_utf8") ? str_of(row, "value_utf8")
								     : "null");
	}
	return NULL;
}

static int by_seq(const void *a, const void *b)
{
	const cJSON *const *x = a, *const *y = b;
	long long p = num_of(*x, "seq"), q = num_of(*y, "seq");

	return p < q ? -1 : p > q;
}

/* Hand one transition (its record st, the records of its answers from rows) to fn. */
static int history_one(const cJSON *rows, const cJSON *st, int full, ecl_history_fn fn, void *ctx,
		       char *err, size_t errlen)
{
	ecl_history_entry h;
	ecl_llm_call *calls = NULL;
	cJSON *recs[MAX_ANSWERS];
	const cJSON *cid, *out = cJSON_GetObjectItemCaseSensitive(st, "output");
	char *output = NULL;
	long long first_ms = 0, end_us = 0;
	int nrecs = 0, ncalls = 0, total, i, stop, rc = ECL_OK;

	memset(&h, 0, sizeof(h));
	h.seq = (int)num_of(st, "seq");
	h.step = str_of(st, "step");
	h.next = str_of(st, "next");
	h.attempt = (int)num_of(st, "attempt");
	h.answer = str_of(st, "answer");
	if (out && !(output = cJSON_PrintUnformatted(out))) {
		restate_say(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	h.output = output;
	cJSON_ArrayForEach (cid, cJSON_GetObjectItemCaseSensitive(st, "calls")) {
		char key[32];
		cJSON *r;

		snprintf(key, sizeof(key), "call#%lld", (long long)cid->valuedouble);
		if (nrecs < MAX_ANSWERS && (r = record_of(rows, key)) != NULL) {
			recs[nrecs++] = r;
			ncalls += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "calls"));
		}
	}
	if (ncalls && !(calls = mem_calloc((size_t)ncalls, sizeof(*calls)))) {
		restate_say(err, errlen, "out of memory");
		rc = ECL_ENOMEM;
		goto out;
	}
	total = ncalls;
	ncalls = 0;
	for (i = 0; i < nrecs; i++) {
		const cJSON *c;

		if (full && i == 0) {
			h.system = str_of(recs[0], "system");
			h.prompt = str_of(recs[0], "prompt");
		}
		cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(recs[i], "calls")) {
			ecl_llm_call *k;
			const char *kind = str_of(c, "kind");
			long long start = num_of(c, "started_ms");

			if (ncalls >= total)
				break;
			k = &calls[ncalls++];
			k->n = ncalls;
			k->kind = kind && strcmp(kind, "retry") == 0    ? ECL_LLM_CALL_RETRY
				  : kind && strcmp(kind, "repair") == 0 ? ECL_LLM_CALL_REPAIR
									: ECL_LLM_CALL_FIRST;
			k->repair = (int)num_of(c, "repair");
			if (full) {
				/* every call sent the first ask's prompts, a repair its fix too */
				k->system = str_of(recs[0], "system");
				k->prompt = str_of(recs[0], "prompt");
				k->fix = str_of(recs[i], "fix");
			}
			k->answer = str_of(c, "answer");
			k->error = str_of(c, "error");
			k->tokens_in = num_of(c, "tokens_in");
			k->tokens_out = num_of(c, "tokens_out");
			k->latency_us = num_of(c, "latency_us");
			h.tokens_in += k->tokens_in;
			h.tokens_out += k->tokens_out;
			if (!first_ms || (start && start < first_ms))
				first_ms = start;
			if (start * 1000 + k->latency_us > end_us)
				end_us = start * 1000 + k->latency_us;
		}
	}
	if (!h.answer && ncalls) /* the accepted answer, as it came */
		h.answer = calls[ncalls - 1].answer;
	h.started_ms = first_ms;
	h.duration_us = first_ms ? end_us - first_ms * 1000 : 0;
	h.calls = calls;
	h.ncalls = ncalls;
	stop = fn(ctx, &h);
	rc = stop ? ECL_ECANCELLED : ECL_OK;
out:
	for (i = 0; i < nrecs; i++)
		cJSON_Delete(recs[i]);
	mem_free(calls);
	cJSON_free(output);
	return rc;
}

int ecl_restate_history(const char *admin_url, const char *id, int full, ecl_history_fn fn,
			void *ctx, char *err, size_t errlen)
{
	char sql[256];
	cJSON *doc = NULL, **steps = NULL;
	const cJSON *rows, *row;
	int nsteps = 0, i, rc, known = 0;

	mem_init();
	if (!restate_plain(id)) {
		restate_say(err, errlen, "not a run id: %s", id);
		return ECL_EUSAGE;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT service_name, key, value_utf8 FROM state WHERE service_key = '%s'", id);
	rc = query(admin_url, sql, &doc, &rows, err, errlen);
	if (rc != ECL_OK)
		return rc;
	steps = mem_calloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof(*steps));
	if (!steps) {
		cJSON_Delete(doc);
		restate_say(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	cJSON_ArrayForEach (row, rows) {
		const char *k = str_of(row, "key");

		known |= k && strcmp(k, "status") == 0;
		if (k && strncmp(k, "step#", 5) == 0 &&
		    (steps[nsteps] =
			     cJSON_Parse(str_of(row, "value_utf8") ? str_of(row, "value_utf8")
								   : "null")) != NULL)
			nsteps++;
	}
	if (!known) {
		restate_say(err, errlen, "no run %s on the Restate server at %s", id, admin_url);
		rc = ECL_ENOTFOUND;
	}
	qsort(steps, (size_t)nsteps, sizeof(*steps), by_seq);
	for (i = 0; i < nsteps && rc == ECL_OK; i++)
		rc = history_one(rows, steps[i], full, fn, ctx, err, errlen);
	for (i = 0; i < nsteps; i++)
		cJSON_Delete(steps[i]);
	mem_free(steps);
	cJSON_Delete(doc);
	return rc == ECL_ECANCELLED ? ECL_OK : rc;
}

/* ---- fork --------------------------------------------------------------------------------- */

/* The inputs a run was started with: the payload of its `run` invocation's first journal
 * entry (an array of bytes in the introspection's JSON), as a JSON object; NULL with why. */
static cJSON *run_inputs(const char *admin_url, const char *id, int *rc, char *err, size_t errlen)
{
	char sql[384];
	cJSON *doc = NULL, *entry = NULL, *inputs = NULL;
	const cJSON *rows, *payload, *b;
	buf text = {0};

	snprintf(sql, sizeof(sql),
		 "SELECT j.entry_json FROM sys_journal j JOIN sys_invocation i ON j.id = i.id "
		 "WHERE i.target_service_key = '%s' AND i.target_handler_name = 'run' AND "
		 "j.index = 0",
		 id);
	if ((*rc = query(admin_url, sql, &doc, &rows, err, errlen)) != ECL_OK)
		return NULL;
	entry = cJSON_Parse(str_of(cJSON_GetArrayItem(rows, 0), "entry_json")
				    ? str_of(cJSON_GetArrayItem(rows, 0), "entry_json")
				    : "null");
	payload = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(entry, "Command"),
						 "Input"),
		"payload");
	cJSON_ArrayForEach (b, payload) {
		char c = (char)(unsigned char)b->valueint;

		buf_append(&text, &c, 1);
	}
	if (text.oom) {
		restate_say(err, errlen, "out of memory");
		*rc = ECL_ENOMEM;
	} else if (!cJSON_IsArray(payload)) {
		restate_say(
			err, errlen,
			"run %s: the Restate server no longer keeps the journal with its inputs",
			id);
		*rc = ECL_ENOTFOUND;
	} else {
		inputs = text.len ? cJSON_ParseWithLength(text.data, text.len)
				  : cJSON_CreateObject();
		if (!cJSON_IsObject(inputs)) {
			restate_say(err, errlen, "run %s: its inputs are not a JSON object", id);
			cJSON_Delete(inputs);
			inputs = NULL;
			*rc = ECL_EIO;
		}
	}
	buf_free(&text);
	cJSON_Delete(entry);
	cJSON_Delete(doc);
	return inputs;
}

/* Append to answers what transition st consumed: the accepted answer of each of its calls,
 * or, for a human step, the person's answer (its output). ECL_OK, or why not. */
static int transition_answers(const cJSON *rows, const cJSON *st, const ecl_workflow *wf,
			      const char *id, cJSON *answers, char *err, size_t errlen)
{
	const cJSON *cid, *calls = cJSON_GetObjectItemCaseSensitive(st, "calls");
	const char *step = str_of(st, "step");
	int i;

	cJSON_ArrayForEach (cid, calls) {
		char key[32];
		cJSON *rec, *last;
		const char *answer;
		int ok;

		snprintf(key, sizeof(key), "call#%lld", (long long)cid->valuedouble);
		rec = record_of(rows, key);
		last = cJSON_GetArrayItem(
			cJSON_GetObjectItemCaseSensitive(rec, "calls"),
			cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rec, "calls")) - 1);
		answer = str_of(last, "answer");
		ok = answer && cJSON_AddItemToArray(answers, cJSON_CreateString(answer));
		cJSON_Delete(rec);
		if (!ok) {
			restate_say(err, errlen, "run %s: no answer of step `%s` is kept (%s)", id,
				    step ? step : "?", key);
			return ECL_ENOTFOUND;
		}
	}
	for (i = 0; step && !cJSON_GetArraySize(calls) && i < wf->nsteps; i++) {
		char *text;
		int ok;

		if (strcmp(wf->steps[i].name, step) != 0 || wf->steps[i].kind != ECL_STEP_HUMAN)
			continue;
		text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(st, "output"));
		ok = text && cJSON_AddItemToArray(answers, cJSON_CreateString(text));
		cJSON_free(text);
		if (!ok) {
			restate_say(err, errlen, "run %s: the answer to step `%s` is not kept", id,
				    step);
			return ECL_ENOTFOUND;
		}
	}
	return ECL_OK;
}

int ecl_restate_fork(const char *admin_url, const char *ingress_url,
		     const ecl_workflow *const *list, size_t n, const char *id, int from,
		     char id_out[ECL_ID_MAX], char *err, size_t errlen)
{
	char sql[256], key[32], *input = NULL;
	cJSON *doc = NULL, *status = NULL, *inputs = NULL, *fork, *answers;
	const cJSON *rows;
	const ecl_workflow *wf;
	int rc, k;

	mem_init();
	id_out[0] = '\0';
	if (!restate_plain(id) || from < 0) {
		restate_say(err, errlen, "not a run id and checkpoint: %s, %d", id, from);
		return ECL_EUSAGE;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT service_name, key, value_utf8 FROM state WHERE service_key = '%s'", id);
	if ((rc = query(admin_url, sql, &doc, &rows, err, errlen)) != ECL_OK)
		return rc;
	status = record_of(rows, "status");
	wf = workflow_of(list, n, str_of(status, "workflow"));
	if (!status || !wf) {
		restate_say(err, errlen, "no run %s on the Restate server at %s", id, admin_url);
		rc = ECL_ENOTFOUND;
		goto out;
	}
	if (from > num_of(status, "step_count")) {
		restate_say(err, errlen, "run %s has %lld checkpoints: there is no checkpoint %d",
			    id, num_of(status, "step_count"), from);
		rc = ECL_EUSAGE;
		goto out;
	}
	if (!(inputs = run_inputs(admin_url, id, &rc, err, errlen)))
		goto out;
	if (!(fork = cJSON_AddObjectToObject(inputs, "$fork")) ||
	    !cJSON_AddStringToObject(fork, "run", id) ||
	    !cJSON_AddStringToObject(fork, "version",
				     str_of(status, "version") ? str_of(status, "version") : "") ||
	    !cJSON_AddNumberToObject(fork, "from", from) ||
	    !(answers = cJSON_AddArrayToObject(fork, "answers"))) {
		restate_say(err, errlen, "out of memory");
		rc = ECL_ENOMEM;
		goto out;
	}
	for (k = 1; k <= from; k++) {
		cJSON *st;

		snprintf(key, sizeof(key), "step#%d", k);
		if (!(st = record_of(rows, key))) {
			restate_say(err, errlen,
				    "run %s keeps no record of checkpoint %d (it was made before "
				    "ecl kept "
				    "them): it cannot be forked there",
				    id, k);
			rc = ECL_ENOTFOUND;
			goto out;
		}
		rc = transition_answers(rows, st, wf, id, answers, err, errlen);
		cJSON_Delete(st);
		if (rc != ECL_OK)
			goto out;
	}
	if (!(input = cJSON_PrintUnformatted(inputs))) {
		restate_say(err, errlen, "out of memory");
		rc = ECL_ENOMEM;
		goto out;
	}
	ecl_run_id_new(id_out);
	rc = ecl_restate_submit(ingress_url, wf->id, id_out, input, err, errlen);
out:
	cJSON_free(input);
	cJSON_Delete(inputs);
	cJSON_Delete(status);
	cJSON_Delete(doc);
	return rc;
}
