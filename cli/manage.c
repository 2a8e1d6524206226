/*
 * manage.c - the commands that look after runs from any process: pause, cancel, runs,
 * history, fork, recover and prune.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* pause and cancel share everything but the verb. */
static int request(cli *c, const char *verb)
{
	ecl_engine *e;
	int rc, applied = 0;

	if (c->nargs != 1)
		return cli_error(2, "usage: ecl %s <run-id>", verb);
	if ((rc = cli_open(c, &e)) != 0)
		return rc;
	rc = strcmp(verb, "pause") == 0 ? ecl_run_pause(e, c->args[0], &applied)
					: ecl_run_cancel(e, c->args[0], &applied);
	if (rc != ECL_OK) {
		rc = cli_error(1, "%s", ecl_engine_errmsg(e));
	} else if (applied) {
		printf("Workflow %s %s\n", c->args[0],
		       ecl_run_status_name(strcmp(verb, "pause") == 0 ? ECL_RUN_PAUSED
								      : ECL_RUN_CANCELLED));
	} else {
		printf("Workflow %s: %s requested; its driver stops at the next %s\n", c->args[0],
		       verb, strcmp(verb, "pause") == 0 ? "transition" : "chance");
	}
	ecl_engine_close(e);
	return rc;
}

int cmd_pause(cli *c)
{
	int restate = cli_restate_take(c);

	if (restate)
		return restate < 0 ? 2 : cli_pause_restate(c, 0);
	return request(c, "pause");
}

int cmd_cancel(cli *c)
{
	int restate = cli_restate_take(c);

	if (restate)
		return restate < 0 ? 2 : cli_cancel_restate(c);
	return request(c, "cancel");
}

/* Split a comma-separated list in place into out (at most max items). */
static int split(char *list, const char **out, int max)
{
	int n = 0;
	char *save = NULL, *item;

	for (item = strtok_r(list, ",", &save); item && n < max; item = strtok_r(NULL, ",", &save))
		out[n++] = item;
	return n;
}

void cli_format_time(long long ms, char *out, size_t outlen)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
}

void cli_format_duration(long long ms, char *out, size_t outlen)
{
	if (ms < 1000)
		snprintf(out, outlen, "%lldms", ms);
	else if (ms < 60000)
		snprintf(out, outlen, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, outlen, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else
		snprintf(out, outlen, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
}

typedef struct runs_out {
	const cli *c;
	int json;
	cJSON *list;
	int count;
} runs_out;

static int print_run(void *ctx, const ecl_run_info *info)
{
	runs_out *o = ctx;
	char started[32], dur[32], limits[512];
	size_t used;
	int i;

	o->count++;
	if (o->json) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddStringToObject(r, "id", info->id);
		cJSON_AddStringToObject(r, "workflow", info->workflow);
		cJSON_AddStringToObject(r, "status", info->status);
		cli_json_text(r, "step", info->step);
		cJSON_AddNumberToObject(r, "revisions", info->revisions);
		cli_json_limits(r, info);
		cJSON_AddNumberToObject(r, "step_count", info->step_count);
		cli_json_text(r, "provider", info->provider);
		cli_json_text(r, "model", info->model);
		cJSON_AddNumberToObject(r, "tokens_in", (double)info->tokens_in);
		cJSON_AddNumberToObject(r, "tokens_out", (double)info->tokens_out);
		cli_json_cost(o->c, r, info->provider, info->model, info->tokens_in,
			      info->tokens_out);
		cJSON_AddNumberToObject(r, "created_ms", (double)info->created_ms);
		cJSON_AddNumberToObject(r, "duration_ms",
					(double)(info->updated_ms - info->created_ms));
		if (info->question)
			cJSON_AddStringToObject(r, "question", info->question);
		cli_json_text(r, "owner", info->owner);
		cJSON_AddItemToArray(o->list, r);
		return 0;
	}
	if (o->count == 1)
		printf("%-16s %-20s %-12s %-12s %-19s  %-9s  %s\n", "ID", "WORKFLOW", "STATUS",
		       "STEP", "STARTED", "DURATION", "LIMITS");
	cli_format_time(info->created_ms, started, sizeof(started));
	cli_format_duration(info->updated_ms - info->created_ms, dur, sizeof(dur));
	/* every loop limit by its counter's name: "revisions 2/3, visits of pick 1/5" */
	limits[0] = '\0';
	for (i = 0, used = 0; i < info->nlimits && used < sizeof(limits); i++) {
		const ecl_run_limit *l = &info->limits[i];

		used += (size_t)snprintf(limits + used, sizeof(limits) - used, "%s%s%s %d/%d",
					 i ? ", " : "", l->label ? "" : "visits of ",
					 l->label ? l->label : l->step, l->count, l->limit);
	}
	printf("%-16s %-20s %-12s %-12s %-19s  %-9s  %s\n", info->id, info->workflow, info->status,
	       info->step ? info->step : "-", started, dur, limits[0] ? limits : "-");
	if (info->question) { /* its first line */
		printf("%-16s question: ", "");
		cli_print_text(stdout, info->question, strcspn(info->question, "\n"));
		putchar('\n');
	}
	if (info->owner && cli_status_is(info->status, ECL_RUN_RUNNING)) {
		printf("%-16s held by: ", "");
		cli_print_text(stdout, info->owner, strlen(info->owner));
		putchar('\n');
	}
	return 0;
}

int cmd_runs(cli *c)
{
	ecl_run_filter f = {0};
	const char *statuses[8];
	runs_out o = {0};
	ecl_engine *e = NULL;
	char err[1024];
	int rc, i, restate = cli_restate_take(c);

	if (restate < 0)
		return 2;
	o.c = c;
	f.limit = 50;
	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i], *v = i + 1 < c->nargs ? c->args[i + 1] : NULL;

		if (!strcmp(a, "--all")) {
			f.limit = 0;
			continue;
		}
		if (!v)
			return cli_error(2, "runs: `%s` needs a value or is unknown", a);
		if (!strcmp(a, "--status"))
			f.nstatuses = split(c->args[++i], statuses, 8), f.statuses = statuses;
		else if (!strcmp(a, "--workflow"))
			f.workflow = c->args[++i];
		else if (!strcmp(a, "--limit")) {
			long long n;

			if (cli_parse_count(c->args[++i], 0, INT_MAX, &n) != 0)
				return cli_error(2, "--limit: `%s` is not a number", c->args[i]);
			f.limit = (int)n;
		} else if (!strcmp(a, "-o") && (!strcmp(v, "json") || !strcmp(v, "text")))
			o.json = !strcmp(c->args[++i], "json");
		else
			return cli_error(2, "runs: unknown argument `%s`", a);
	}
	if (!restate && (rc = cli_open_to_look(c, &e)) != 0)
		return rc;
	if (o.json)
		o.list = cJSON_CreateArray();
	if (restate)
		rc = ecl_restate_runs(cli_restate_admin(), c->opts.workflows, c->opts.nworkflows,
				      &f, print_run, &o, err, sizeof(err));
	else
		rc = ecl_run_list(e, &f, print_run, &o);
	if (rc != ECL_OK)
		rc = cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", e ? ecl_engine_errmsg(e) : err);
	else if (o.json)
		rc = cli_print_json(o.list);
	else if (!o.count)
		printf("No runs.\n");
	cJSON_Delete(o.list);
	ecl_engine_close(e);
	return rc;
}

typedef struct hist_out {
	const cli *c;
	const char *provider, *model; /* the run's, for the cost */
	int full;
	int json;
	cJSON *list;
	long long tokens_in, tokens_out, duration_us, tokens_cached;
	int steps;
	const char *id; /* "History of <id>:" is printed before the first entry, so that an
			 * unknown run prints its error alone */
	int headed;
} hist_out;

static void indent(int pad, const char *label, const char *text)
{
	const char *p = text;

	printf("%*s%s:\n", pad, "", label);
	while (*p) {
		size_t n = strcspn(p, "\n");

		printf("%*s| ", pad + 2, "");
		cli_print_text(stdout, p, n);
		putchar('\n');
		p += n;
		if (*p)
			p++;
	}
}

/* " (30 cached, 12 to the cache)": the input tokens a provider's prompt cache gave and took,
 * when it said any; else "". */
static void cache_note(long long cached, long long written, char *out, size_t len)
{
	*out = '\0';
	if (cached && written)
		snprintf(out, len, " (%lld cached, %lld to the cache)", cached, written);
	else if (cached)
		snprintf(out, len, " (%lld cached)", cached);
	else if (written)
		snprintf(out, len, " (%lld to the cache)", written);
}

/* The calls of a step as JSON: number, kind, tokens and latency; with full, what was sent
 * and what came back. */
static cJSON *calls_json(const ecl_history_entry *h, int full)
{
	cJSON *list = cJSON_CreateArray();
	int i;

	for (i = 0; i < h->ncalls; i++) {
		const ecl_llm_call *k = &h->calls[i];
		cJSON *c = cJSON_CreateObject();

		cJSON_AddNumberToObject(c, "n", k->n);
		cJSON_AddStringToObject(c, "kind", ecl_llm_call_kind_name(k->kind));
		cJSON_AddNumberToObject(c, "repair", k->repair);
		cJSON_AddNumberToObject(c, "tokens_in", (double)k->tokens_in);
		cJSON_AddNumberToObject(c, "tokens_out", (double)k->tokens_out);
		cJSON_AddNumberToObject(c, "tokens_cached", (double)k->tokens_cached);
		cJSON_AddNumberToObject(c, "tokens_cache_write", (double)k->tokens_cache_write);
		if (k->ttft_us > 0)
			cJSON_AddNumberToObject(c, "ttft_us", (double)k->ttft_us);
		else
			cJSON_AddNullToObject(c, "ttft_us");
		if (k->latency_us >= 0)
			cJSON_AddNumberToObject(c, "latency_us", (double)k->latency_us);
		else
			cJSON_AddNullToObject(c, "latency_us");
		if (full) {
			if (k->system)
				cJSON_AddStringToObject(c, "system", k->system);
			if (k->prompt)
				cJSON_AddStringToObject(c, "prompt", k->prompt);
			if (k->fix)
				cJSON_AddStringToObject(c, "fix", k->fix);
			if (k->answer)
				cJSON_AddStringToObject(c, "answer", k->answer);
			if (k->error)
				cJSON_AddStringToObject(c, "error", k->error);
		}
		cJSON_AddItemToArray(list, c);
	}
	return list;
}

/* "3 calls: 1 retry, 1 repair" for a step that made more than one call, else "". */
static void calls_summary(const ecl_history_entry *h, char *out, size_t len)
{
	int retries = 0, repairs = 0, i;

	*out = '\0';
	if (h->ncalls < 2)
		return;
	for (i = 0; i < h->ncalls; i++) {
		retries += h->calls[i].kind == ECL_LLM_CALL_RETRY;
		repairs += h->calls[i].kind == ECL_LLM_CALL_REPAIR;
	}
	snprintf(out, len, "  %d calls: %d %s, %d %s", h->ncalls, retries,
		 retries == 1 ? "retry" : "retries", repairs, repairs == 1 ? "repair" : "repairs");
	if (!retries) /* "2 calls: 1 repair" */
		snprintf(out, len, "  %d calls: %d %s", h->ncalls, repairs,
			 repairs == 1 ? "repair" : "repairs");
	else if (!repairs)
		snprintf(out, len, "  %d calls: %d %s", h->ncalls, retries,
			 retries == 1 ? "retry" : "retries");
}

/* Every call of a step with what it sent and got, for history --full. */
static void print_calls(const ecl_history_entry *h)
{
	int i;

	for (i = 0; i < h->ncalls; i++) {
		const ecl_llm_call *k = &h->calls[i];
		char cache[80];

		printf("    call %d: %s", k->n, ecl_llm_call_kind_name(k->kind));
		if (k->latency_us >= 0)
			printf(", %.1f ms", (double)k->latency_us / 1000.0);
		if (k->ttft_us > 0)
			printf(" (first token after %.1f ms)", (double)k->ttft_us / 1000.0);
		cache_note(k->tokens_cached, k->tokens_cache_write, cache, sizeof(cache));
		printf(", tokens %lld/%lld%s\n", k->tokens_in, k->tokens_out, cache);
		if (!k->prompt)
			printf("      (what it sent is not stored: the run was made before ecl "
			       "stored it)\n");
		else if (i == 0) {
			if (k->system)
				indent(6, "system", k->system);
			indent(6, "prompt", k->prompt);
		} else {
			printf("      sent: the system prompt and prompt of call 1%s\n",
			       k->repair ? ", then each refused answer and its repair prompt" : "");
		}
		if (k->fix && k->kind == ECL_LLM_CALL_REPAIR)
			indent(6, "repair prompt", k->fix);
		if (k->answer)
			indent(6, "answer", k->answer);
		if (k->error)
			indent(6, "error", k->error);
	}
}

static int print_entry(void *ctx, const ecl_history_entry *h)
{
	hist_out *o = ctx;
	char when[32];

	if (!o->json && !o->headed) {
		printf("History of %s:\n", o->id);
		o->headed = 1;
	}

	if (o->json) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddNumberToObject(r, "seq", h->seq);
		if (h->note) {
			cJSON_AddStringToObject(r, "note", h->note);
			cJSON_AddNumberToObject(r, "ts_ms", (double)h->note_ms);
		} else {
			cJSON_AddStringToObject(r, "step", h->step);
			if (h->next)
				cJSON_AddStringToObject(r, "next", h->next);
			else
				cJSON_AddNullToObject(r, "next");
			cJSON_AddNumberToObject(r, "attempt", h->attempt);
			cJSON_AddNumberToObject(r, "duration_us", (double)h->duration_us);
			cJSON_AddNumberToObject(r, "tokens_in", (double)h->tokens_in);
			cJSON_AddNumberToObject(r, "tokens_out", (double)h->tokens_out);
			cli_json_cost(o->c, r, o->provider, o->model, h->tokens_in, h->tokens_out);
			cJSON_AddNumberToObject(r, "tokens_cached", (double)h->tokens_cached);
			cJSON_AddNumberToObject(r, "tokens_cache_write",
						(double)h->tokens_cache_write);
			cJSON_AddItemToObject(r, "output",
					      h->output ? cJSON_Parse(h->output)
							: cJSON_CreateNull());
			if (o->full) {
				if (h->system)
					cJSON_AddStringToObject(r, "system", h->system);
				if (h->prompt)
					cJSON_AddStringToObject(r, "prompt", h->prompt);
				if (h->answer)
					cJSON_AddStringToObject(r, "answer", h->answer);
			}
			if (h->ncalls)
				cJSON_AddItemToObject(r, "calls", calls_json(h, o->full));
		}
		cJSON_AddItemToArray(o->list, r);
	} else if (h->note) {
		cli_format_time(h->note_ms, when, sizeof(when));
		printf("      %s  %s\n", when, h->note);
	} else {
		cJSON *out = h->output ? cJSON_Parse(h->output) : NULL;
		const cJSON *decision = cJSON_GetObjectItem(out, "decision");
		char calls[96], cache[80];

		calls_summary(h, calls, sizeof(calls));
		cache_note(h->tokens_cached, h->tokens_cache_write, cache, sizeof(cache));
		printf("%4d  %-12s attempt %d  %8.1f ms  tokens %lld/%lld%s  -> %s%s%s%s\n", h->seq,
		       h->step, h->attempt, (double)h->duration_us / 1000.0, h->tokens_in,
		       h->tokens_out, cache, h->next ? h->next : "end",
		       cJSON_IsString(decision) ? "  decision: " : "",
		       cJSON_IsString(decision) ? decision->valuestring : "", calls);
		cJSON_Delete(out);
		if (o->full && h->ncalls) {
			print_calls(h);
		} else if (o->full) {
			if (h->system)
				indent(4, "system", h->system);
			if (h->prompt)
				indent(4, "prompt", h->prompt);
			if (h->answer)
				indent(4, "answer", h->answer);
		}
	}
	if (!h->note) {
		o->steps++;
		o->tokens_in += h->tokens_in;
		o->tokens_out += h->tokens_out;
		o->tokens_cached += h->tokens_cached;
		o->duration_us += h->duration_us;
	}
	return 0;
}

int cmd_history(cli *c)
{
	hist_out o = {0};
	const char *id = NULL;
	ecl_run_info *info = NULL;
	ecl_engine *e = NULL;
	char err[1024];
	int rc, i, restate = cli_restate_take(c);

	if (restate < 0)
		return 2;
	for (i = 0; i < c->nargs; i++) {
		if (!strcmp(c->args[i], "--full"))
			o.full = 1;
		else if (!strcmp(c->args[i], "-o") && i + 1 < c->nargs)
			o.json = !strcmp(c->args[++i], "json");
		else if (!id)
			id = c->args[i];
		else
			return cli_error(2, "history: unexpected argument `%s`", c->args[i]);
	}
	if (!id)
		return cli_error(2, "usage: ecl history <run-id> [--full] [-o json]");
	if (!restate && (rc = cli_open_to_look(c, &e)) != 0)
		return rc;
	if (o.json)
		o.list = cJSON_CreateArray();
	o.id = id;
	o.c = c;
	if (restate) {
		rc = ecl_restate_history(cli_restate_admin(), id, o.full, print_entry, &o, err,
					 sizeof(err));
	} else if ((rc = ecl_run_info_get(e, id, &info)) == ECL_OK) {
		o.provider = info->provider;
		o.model = info->model;
		rc = ecl_run_history(e, id, o.full, print_entry, &o);
	}
	if (rc != ECL_OK)
		rc = cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", e ? ecl_engine_errmsg(e) : err);
	else if (o.json)
		rc = cli_print_json(o.list);
	else {
		if (!o.headed)
			printf("History of %s:\n", id);
		char cost[700];

		printf("Total: %d steps, %.1f ms, tokens %lld in / %lld out", o.steps,
		       (double)o.duration_us / 1000.0, o.tokens_in, o.tokens_out);
		if (o.tokens_cached)
			printf(" (%lld in from the prompt cache)", o.tokens_cached);
		printf(", cost %s\n", cli_cost_text(c, o.provider, o.model, o.tokens_in,
						    o.tokens_out, cost, sizeof(cost)));
	}
	ecl_run_info_free(info);
	cJSON_Delete(o.list);
	ecl_engine_close(e);
	return rc;
}

int cmd_fork(cli *c)
{
	const char *id = NULL;
	char new_id[ECL_ID_MAX];
	int from = -1, rc, i, restate = cli_restate_take(c);
	ecl_engine *e;

	if (restate < 0)
		return 2;
	for (i = 0; i < c->nargs; i++) {
		if (!strcmp(c->args[i], "--from") && i + 1 < c->nargs) {
			long long n;

			if (cli_parse_count(c->args[++i], 0, INT_MAX, &n) != 0)
				return cli_error(2, "--from: `%s` is not a checkpoint number",
						 c->args[i]);
			from = (int)n;
		} else if (!id) {
			id = c->args[i];
		} else {
			return cli_error(2, "fork: unexpected argument `%s`", c->args[i]);
		}
	}
	if (!id || from < 0)
		return cli_error(2, "usage: ecl fork <run-id> --from <checkpoint>");
	if (restate)
		return cli_fork_restate(c, id, from);
	if ((rc = cli_open(c, &e)) != 0)
		return rc;
	rc = ecl_run_fork(e, id, from, new_id);
	if (rc != ECL_OK)
		return cli_engine_fail(e, rc == ECL_EUSAGE ? 2 : 1);
	printf("Forked %s at step %d\n", id, from);
	ecl_engine_close(e);
	return cli_drive_run(c, new_id, "started");
}

typedef struct recover_list {
	char (*ids)[ECL_ID_MAX];
	int n;
} recover_list;

static int collect(void *ctx, const ecl_run_info *info)
{
	recover_list *l = ctx;
	char(*ids)[ECL_ID_MAX] = realloc(l->ids, (size_t)(l->n + 1) * sizeof(*ids));

	if (!ids)
		return ECL_ENOMEM;
	l->ids = ids;
	snprintf(l->ids[l->n++], ECL_ID_MAX, "%s", info->id);
	return 0;
}

int cmd_recover(cli *c)
{
	const char *const resumable[] = {ecl_run_status_name(ECL_RUN_RUNNING),
					 ecl_run_status_name(ECL_RUN_INTERRUPTED),
					 ecl_run_status_name(ECL_RUN_QUEUED)};
	ecl_run_filter f = {0};
	recover_list l = {0};
	ecl_engine *e;
	int rc, i, failed = 0, skipped = 0;

	if (c->nargs)
		return cli_error(2, "usage: ecl recover");
	if ((rc = cli_open(c, &e)) != 0)
		return rc;
	f.statuses = resumable;
	f.nstatuses = 3;
	rc = ecl_run_list(e, &f, collect, &l);
	ecl_engine_close(e);
	if (rc != ECL_OK) {
		free(l.ids);
		return cli_error(1, "cannot list the runs to recover");
	}
	printf("Recovering %d run%s\n", l.n, l.n == 1 ? "" : "s");
	for (i = 0; i < l.n; i++) {
		rc = cli_drive_run(c, l.ids[i], "resumed");
		if (rc == 3)
			skipped++;
		else if (rc != 0)
			failed++;
	}
	printf("Recovered %d, skipped %d alive, %d did not complete\n", l.n - failed - skipped,
	       skipped, failed);
	free(l.ids);
	return failed ? 1 : 0;
}

int cmd_prune(cli *c)
{
	ecl_run_filter f = {0};
	const char *statuses[8], *age = NULL;
	char which[512];
	int dry = 0, count = 0, rc, i;
	size_t used;
	ecl_engine *e;

	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i];

		if (!strcmp(a, "--dry-run")) {
			dry = 1;
		} else if (!strcmp(a, "--status") && i + 1 < c->nargs) {
			f.nstatuses = split(c->args[++i], statuses, 8);
			f.statuses = statuses;
		} else if (!strcmp(a, "--older-than") && i + 1 < c->nargs) {
			f.older_than_ms = cli_parse_age(age = c->args[++i]);
			if (f.older_than_ms < 0)
				return cli_error(2,
						 "--older-than: `%s` is not an age like 30d, 12h",
						 c->args[i]);
		} else if (!strcmp(a, "--workflow") && i + 1 < c->nargs) {
			f.workflow = c->args[++i];
		} else {
			return cli_error(2, "prune: unknown argument `%s`", a);
		}
	}
	/* No default age: a bare prune deleted every finished run, minutes old ones too. */
	if (!age)
		return cli_error(2, "prune: say how old a run must be to go, e.g. --older-than 30d "
				    "(--older-than 0s for every finished run); --dry-run counts "
				    "them first");
	/* what is deleted, said with the count */
	used = (size_t)snprintf(which, sizeof(which), "%s",
				f.nstatuses ? "" : "completed, failed or cancelled");
	for (i = 0; i < f.nstatuses && used < sizeof(which); i++)
		used += (size_t)snprintf(which + used, sizeof(which) - used, "%s%s",
					 i == 0                 ? ""
					 : i == f.nstatuses - 1 ? " or "
								: ", ",
					 statuses[i]);
	if (used < sizeof(which))
		snprintf(which + used, sizeof(which) - used, "%s%s, last changed %s ago or more",
			 f.workflow ? " of workflow " : "", f.workflow ? f.workflow : "", age);
	c->opts.reclaim = !dry; /* on a full disk it may spend the reserve kept for this */
	if ((rc = cli_open(c, &e)) != 0)
		return rc;
	rc = ecl_prune(e, &f, dry, &count);
	if (rc != ECL_OK)
		rc = cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", ecl_engine_errmsg(e));
	else
		printf("%s %d run%s (%s)\n", dry ? "Would delete" : "Deleted", count,
		       count == 1 ? "" : "s", which);
	ecl_engine_close(e);
	return rc;
}
