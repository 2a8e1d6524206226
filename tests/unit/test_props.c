/*
 * test_props.c - property tests of critique-revise: for random topics of 1 to 100 arbitrary
 * Unicode characters (valid UTF-8 with one- to four-byte characters, control characters,
 * quotes, backslashes, braces and template markers) and loop bounds 1 to 10 (the workflow
 * compiled once per bound from tests/props/critique_revise.ecl.in), driven through the
 * runtime with a scripted critic that passes at a random revision k or never:
 *  - the run terminates, completed when the critic passes at k <= bound, else failed with
 *    "max revisions (B) reached";
 *  - its revision count never exceeds the bound (k, or B when the critic never passes);
 *  - its step count is 2 + 2 x revisions, within the bound eclc proved;
 *  - the topic reaches every prompt byte for byte, and the output is the last draft.
 * Every case draws from a fixed seed (ECL_PROPS_SEED overrides it), printed in every failure
 * message together with the case, so a failure can be reproduced exactly.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "support.h"

#define BOUNDS       10
#define CASES        8 /* per bound */
#define DEFAULT_SEED 0xEC1u
#define MAX_TEXT     (100 * 4 + 1)

extern const ecl_workflow ecl_wf__critique_revise_b1, ecl_wf__critique_revise_b2,
	ecl_wf__critique_revise_b3, ecl_wf__critique_revise_b4, ecl_wf__critique_revise_b5,
	ecl_wf__critique_revise_b6, ecl_wf__critique_revise_b7, ecl_wf__critique_revise_b8,
	ecl_wf__critique_revise_b9, ecl_wf__critique_revise_b10;

static const ecl_workflow *const bounded[BOUNDS + 1] = {
	NULL,
	&ecl_wf__critique_revise_b1,
	&ecl_wf__critique_revise_b2,
	&ecl_wf__critique_revise_b3,
	&ecl_wf__critique_revise_b4,
	&ecl_wf__critique_revise_b5,
	&ecl_wf__critique_revise_b6,
	&ecl_wf__critique_revise_b7,
	&ecl_wf__critique_revise_b8,
	&ecl_wf__critique_revise_b9,
	&ecl_wf__critique_revise_b10,
};

typedef struct prop_case {
	int bound;     /* the loop bound the workflow was compiled with */
	int index;     /* the case's number, for the failure message */
	uint64_t seed; /* the seed this case draws from */
} prop_case;

/* splitmix64: small, fast and good enough to pick test data. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(uint64_t *s, unsigned n)
{
	return (unsigned)(next(s) % n);
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One random Unicode scalar value (no NUL, no surrogate), from a mix of classes. */
static uint32_t random_char(uint64_t *s)
{
	static const char specials[] = "\"'\\{}[]`$%<>|&#\n\r\t";
	uint32_t cp;

	switch (below(s, 7)) {
	case 0: return 0x20 + below(s, 0x5f); /* printable ASCII */
	case 1: return 1 + below(s, 0x1f);    /* a control character */
	case 2: return (uint32_t)specials[below(s, sizeof(specials) - 1)];
	case 3: return 0x80 + below(s, 0x800 - 0x80); /* two bytes */
	case 4:                                       /* three bytes */
		do
			cp = 0x800 + below(s, 0x10000 - 0x800);
		while (cp >= 0xd800 && cp <= 0xdfff);
		return cp;
	case 5: return 0x10000 + below(s, 0x110000 - 0x10000); /* four bytes */
	default: return below(s, 2) ? 0x7f : 0xfeff;           /* DEL, BOM */
	}
}

/* A random text of 1 to 100 characters; now and then with template markers in it. */
static void random_text(uint64_t *s, char out[MAX_TEXT])
{
	unsigned n = 1 + below(s, 100), i;
	size_t len = 0;

	for (i = 0; i < n; i++) {
		if (below(s, 20) == 0 && i + 11 <= n) {
			memcpy(out + len, "{{content}}", 11);
			len += 11;
			i += 10;
			continue;
		}
		len += put_utf8(out + len, random_char(s));
	}
	out[len] = '\0';
}

static uint64_t base_seed(void)
{
	const char *env = getenv("ECL_PROPS_SEED");

	return env && *env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
}

ParameterizedTestParameters(props, critique_revise)
{
	static prop_case cases[BOUNDS * CASES];
	uint64_t seed = base_seed();
	int b, k;

	for (b = 1; b <= BOUNDS; b++)
		for (k = 0; k < CASES; k++) {
			prop_case *c = &cases[(b - 1) * CASES + k];

			c->bound = b;
			c->index = k;
			c->seed = seed ^ ((uint64_t)b << 32 | (uint64_t)k);
		}
	return cr_make_param_array(prop_case, cases, sizeof(cases) / sizeof(cases[0]));
}

static cJSON *object(const char *k1, cJSON *v1, const char *k2, cJSON *v2, const char *k3,
		     cJSON *v3)
{
	cJSON *o = cJSON_CreateObject();

	cr_assert_not_null(o);
	cJSON_AddItemToObject(o, k1, v1);
	cJSON_AddItemToObject(o, k2, v2);
	if (k3)
		cJSON_AddItemToObject(o, k3, v3);
	return o;
}

typedef struct seen {
	const char *topic;
	int prompts; /* checkpoints whose prompt holds the topic */
	int checkpoints;
} seen;

static int on_history(void *ctx, const ecl_history_entry *h)
{
	seen *s = ctx;

	if (!h->step)
		return 0;
	s->checkpoints++;
	if (h->prompt && strstr(h->prompt, s->topic))
		s->prompts++;
	return 0;
}

ParameterizedTest(prop_case *c, props, critique_revise)
{
	const ecl_workflow *wf = bounded[c->bound];
	uint64_t s = c->seed;
	char topic[MAX_TEXT], draft[MAX_TEXT], last[MAX_TEXT], id[ECL_ID_MAX], expect[64], ctx[200];
	/* the critic passes at revision k, or never (k = -1) */
	int k = below(&s, 4) == 0 ? -1 : (int)below(&s, (unsigned)c->bound + 1), i, rc;
	int revisions = k < 0 ? c->bound : k;
	cJSON *script = cJSON_CreateObject(), *gen = cJSON_CreateArray(),
	      *crit = cJSON_CreateArray(), *rev = cJSON_CreateArray(), *inputs;
	char *text, *dir = ts_tmpdir(), *db;
	ecl_run_info *info = NULL;
	ecl_engine *e;
	seen sn = {0};

	snprintf(ctx, sizeof(ctx),
		 "seed %#llx (base seed %#llx, ECL_PROPS_SEED overrides it), bound %d, case %d, "
		 "critic passes at %d: ",
		 (unsigned long long)c->seed, (unsigned long long)base_seed(), c->bound, c->index,
		 k);
	cr_assert_not_null(wf);
	cr_assert_not_null(script);
	random_text(&s, topic);
	random_text(&s, draft);
	snprintf(last, sizeof(last), "%s", draft);
	cJSON_AddItemToArray(gen, object("content", cJSON_CreateString(draft), "word_count",
					 cJSON_CreateNumber(below(&s, 1000)), NULL, NULL));
	for (i = 0; i <= c->bound; i++) {
		char feedback[MAX_TEXT];

		random_text(&s, feedback);
		cJSON_AddItemToArray(
			crit, object("decision", cJSON_CreateString(i == k ? "pass" : "revise"),
				     "feedback", cJSON_CreateString(feedback), "quality_score",
				     cJSON_CreateNumber(below(&s, 101))));
		if (i < revisions) {
			random_text(&s, draft);
			snprintf(last, sizeof(last), "%s", draft);
			cJSON_AddItemToArray(
				rev, object("content", cJSON_CreateString(draft), "word_count",
					    cJSON_CreateNumber(below(&s, 1000)), NULL, NULL));
		}
	}
	cJSON_AddItemToObject(script, "generate", gen);
	cJSON_AddItemToObject(script, "critique", crit);
	cJSON_AddItemToObject(script, "revise", rev);
	text = cJSON_PrintUnformatted(script);
	cr_assert_not_null(text);
	ts_write(ts_path(dir, "script.json"), text);
	cJSON_free(text);
	cJSON_Delete(script);

	inputs = cJSON_CreateObject();
	cJSON_AddItemToObject(inputs, "topic", cJSON_CreateString(topic));
	text = cJSON_PrintUnformatted(inputs);
	cJSON_Delete(inputs);
	cr_assert_not_null(text);

	db = strdup(ts_path(dir, "runs.db"));
	{
		ecl_options o = ts_options(db, ts_path(dir, "script.json"), NULL);

		o.workflows = &bounded[c->bound]; /* the engine keeps the list */
		o.nworkflows = 1;
		e = ts_open(&o);
	}
	rc = ecl_run_start(e, wf, text, id);
	cJSON_free(text);
	cr_assert_eq(rc, ECL_OK, "%sstart: %s", ctx, ecl_engine_errmsg(e));
	rc = ecl_run_drive(e, id);
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK, "%sinfo", ctx);

	/* it terminates, with the outcome the critic chose */
	snprintf(expect, sizeof(expect), "max revisions (%d) reached", c->bound);
	if (k >= 0) {
		cJSON *out = cJSON_Parse(info->output ? info->output : "");

		cr_assert_eq(rc, ECL_OK, "%sdrive: %s", ctx, ecl_engine_errmsg(e));
		cr_assert_str_eq(info->status, "completed", "%sstatus", ctx);
		cr_assert_not_null(out, "%soutput %s", ctx, info->output);
		cr_assert_str_eq(
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "content")),
			last, "%sthe output is not the last draft", ctx);
		cJSON_Delete(out);
	} else {
		cr_assert_eq(rc, ECL_EFAILED, "%sdrive: %s", ctx, ecl_engine_errmsg(e));
		cr_assert_str_eq(info->status, "failed", "%sstatus", ctx);
		cr_assert_str_eq(info->error, expect, "%serror", ctx);
		cr_assert_str_eq(info->step, "critique", "%sfailed step", ctx);
	}
	/* revisions within the bound, two steps per revision */
	cr_assert_eq(info->revision_limit, c->bound, "%slimit", ctx);
	cr_assert_leq(info->revisions, c->bound, "%srevisions %d", ctx, info->revisions);
	cr_assert_eq(info->revisions, revisions, "%srevisions %d", ctx, info->revisions);
	cr_assert_eq(info->step_count, 2 + 2 * info->revisions, "%ssteps %d for %d revisions", ctx,
		     info->step_count, info->revisions);
	cr_assert_leq(info->step_count, wf->max_steps, "%spast the proven bound %d", ctx,
		      wf->max_steps);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps WHERE step = 'revise'"), revisions,
		     "%srevise checkpoints", ctx);

	/* the topic reaches every prompt unchanged */
	sn.topic = topic;
	cr_assert_eq(ecl_run_history(e, id, 1, on_history, &sn), ECL_OK, "%shistory", ctx);
	cr_assert_eq(sn.checkpoints, info->step_count, "%shistory", ctx);
	cr_assert_eq(sn.prompts, sn.checkpoints, "%sthe topic is missing from %d prompts", ctx,
		     sn.checkpoints - sn.prompts);
	ecl_run_info_free(info);
	ecl_engine_close(e);
	free(db);
	ts_rmtree(dir);
	free(dir);
}

/* The generated variants are the template with the bound filled in, and nothing else. */
Test(props, variants)
{
	int b;

	for (b = 1; b <= BOUNDS; b++) {
		const ecl_workflow *wf = bounded[b];
		char id[32];
		int i, limited = 0;

		snprintf(id, sizeof(id), "critique-revise-b%d", b);
		cr_assert_str_eq(wf->id, id);
		cr_assert_eq(wf->nsteps, 3);
		for (i = 0; i < wf->nsteps; i++)
			if (wf->steps[i].limit) {
				cr_assert_eq(wf->steps[i].limit, b);
				cr_assert_str_eq(wf->steps[i].name, "revise");
				limited++;
			}
		cr_assert_eq(limited, 1);
		cr_assert_eq(wf->max_steps, 2 + 2 * b, "%s: max_steps %d", id, wf->max_steps);
	}
}
