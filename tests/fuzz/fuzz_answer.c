/*
 * fuzz_answer.c - arbitrary bytes as an LLM's answer to each typed output of the bundled
 * workflows. The low six bits of the first byte choose the step (across every workflow), its
 * top two bits how the answer is wrapped (bare, in a ```json fence, inside prose, both); the
 * rest is the answer text. The extractor and validator must never crash, and must either
 * accept an object that satisfies the step's schema (checked here independently of the
 * validator: every required field present, each of its declared type, enums one of their
 * choices, integers whole and in range, lists of strings, nothing undeclared) or reject the
 * answer with an error that names the step and one of its declared fields, or says that it
 * holds no JSON object at all, or names text a run cannot hold (a NUL, bytes that are not
 * UTF-8, a lone surrogate escape). What an accepted answer stores is UTF-8 without a NUL.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The n-th LLM step across all the bundled workflows. */
static const ecl_step_def *pick(size_t n, const ecl_workflow **wf)
{
	size_t i, total = 0;

	for (i = 0; i < ecl_nworkflows; i++)
		total += (size_t)ecl_workflows[i]->nsteps;
	n %= total;
	for (i = 0; i < ecl_nworkflows; i++) {
		if (n < (size_t)ecl_workflows[i]->nsteps) {
			*wf = ecl_workflows[i];
			return &ecl_workflows[i]->steps[n];
		}
		n -= (size_t)ecl_workflows[i]->nsteps;
	}
	return NULL;
}

static void fail(const char *why, const char *field)
{
	fprintf(stderr, "fuzz_answer: %s (field `%s`)\n", why, field ? field : "?");
	abort();
}

/* Whether a JSON value fits a declared output field, judged from the declaration alone. */
static int fits(const ecl_slot_def *def, const cJSON *v)
{
	const cJSON *item;
	int i;

	switch (def->type) {
	case ECL_T_STRING: return cJSON_IsString(v);
	case ECL_T_ENUM:
		if (!cJSON_IsString(v))
			return 0;
		for (i = 0; i < def->nchoices; i++)
			if (strcmp(v->valuestring, def->choices[i]) == 0)
				return 1;
		return 0;
	case ECL_T_INT:
		if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
			return 0;
		return !def->has_range ||
		       (v->valuedouble >= (double)def->min && v->valuedouble <= (double)def->max);
	case ECL_T_FLOAT: return cJSON_IsNumber(v) && isfinite(v->valuedouble);
	case ECL_T_BOOL: return cJSON_IsBool(v);
	case ECL_T_LIST:
		if (!cJSON_IsArray(v))
			return 0;
		cJSON_ArrayForEach (item, v)
			if (!cJSON_IsString(item))
				return 0;
		return 1;
	}
	return 0;
}

static void check_accepted(const ecl_workflow *wf, const ecl_step_def *step, const cJSON *out)
{
	const cJSON *item;
	int i;

	if (!cJSON_IsObject(out))
		fail("accepted something that is not an object", NULL);
	for (i = 0; i < step->noutputs; i++) {
		const ecl_slot_def *def = &wf->slots[step->outputs[i]];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(out, def->field);

		if (!v && def->required)
			fail("accepted without a required field", def->field);
		if (v && !fits(def, v))
			fail("accepted a value that does not fit its type", def->field);
	}
	cJSON_ArrayForEach (item, out) {
		int declared = 0;

		for (i = 0; i < step->noutputs; i++)
			declared |= strcmp(item->string, wf->slots[step->outputs[i]].field) == 0;
		if (!declared)
			fail("kept an undeclared field", item->string);
	}
}

/* Whether the text may hold what a run cannot: a NUL, a byte beyond ASCII (maybe not UTF-8),
 * or an escape (maybe \u0000 or a lone surrogate). A text without any is never refused for
 * its text. */
static int may_hold_bad_text(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (text[i] == '\0' || (unsigned char)text[i] >= 0x80 || text[i] == '\\')
			return 1;
	return 0;
}

/* The rejection names the step and one of its declared fields (or finds no object), or says
 * which text it holds that a run cannot (naming the member when there is one). */
static void check_rejected(const ecl_workflow *wf, const ecl_step_def *step, const char *err,
			   const char *text, size_t len)
{
	char expect[160];
	const char *f;
	int i;

	snprintf(expect, sizeof(expect), "step `%s`: ", step->name);
	if (strncmp(err, expect, strlen(expect)) != 0)
		fail("a rejection that does not name the step", err);
	f = err + strlen(expect);
	if (strncmp(f, "the answer holds no JSON object", 31) == 0)
		return;
	if (strncmp(f, "the answer holds ", 17) == 0 ||
	    strncmp(f, "a field name of the answer holds ", 33) == 0) {
		if (!may_hold_bad_text(text, len))
			fail("a text refused that holds nothing a run cannot", err);
		return;
	}
	if (strncmp(f, "field `", 7) != 0)
		fail("a rejection that names no field", err);
	f += 7;
	/* a declared field missing, or whose value does not fit ("field `X`: expected ..., got
	 * <a value that may say anything>"), or whose text a run cannot hold */
	for (i = 0; i < step->noutputs; i++) {
		const char *name = wf->slots[step->outputs[i]].field;
		size_t n = strlen(name);

		if (strncmp(f, name, n) != 0 || f[n] != '`')
			continue;
		if (strncmp(f + n, "` of the answer holds ", 22) == 0 &&
		    !may_hold_bad_text(text, len))
			fail("a text refused that holds nothing a run cannot", err);
		return;
	}
	/* any member's text, declared or not */
	if (strstr(f, "` of the answer holds ")) {
		if (!may_hold_bad_text(text, len))
			fail("a text refused that holds nothing a run cannot", err);
		return;
	}
	fail("a rejection that names a field the step does not declare", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const before[] = {"", "```json\n", "Sure! Here it is: ", "Here:\n```\n"};
	static const char *const after[] = {"", "\n```", " Hope that helps.", "\n```\nDone."};
	const ecl_workflow *wf = NULL;
	const ecl_step_def *step;
	cJSON *out = NULL;
	char err[512], *text, *canon = NULL;
	size_t len;
	int rc, wrap;

	if (size < 1)
		return 0;
	mem_init();
	step = pick(data[0] & 0x3f, &wf);
	wrap = data[0] >> 6;
	len = strlen(before[wrap]) + (size - 1) + strlen(after[wrap]);
	text = malloc(len + 1);
	if (!text)
		return 0;
	memcpy(text, before[wrap], strlen(before[wrap]));
	memcpy(text + strlen(before[wrap]), data + 1, size - 1);
	memcpy(text + strlen(before[wrap]) + size - 1, after[wrap], strlen(after[wrap]) + 1);
	err[0] = '\0';
	rc = answer_parse(wf, step, text, len, &out, &canon, err, sizeof(err));
	if (rc == ECL_OK) {
		cJSON *back = canon ? cJSON_Parse(canon) : NULL;

		free(text);
		check_accepted(wf, step, out);
		/* what a run stores is text it can hold: UTF-8, no NUL */
		if (!canon || ecl_text_check(canon, strlen(canon), NULL, 0) != ECL_OK)
			fail("the answer's text is not UTF-8 without NUL", canon);
		/* the text stored for the answer reads back as the answer */
		if (!back || !cJSON_Compare(back, out, 1))
			fail("the answer's text does not read back as the answer", canon);
		cJSON_Delete(back);
		cJSON_Delete(out);
		mem_free(canon);
		return 0;
	}
	if (canon)
		fail("a text for an answer refused", canon);
	if (rc != ECL_EANSWER || out)
		fail("an unexpected result code", ecl_strerror(rc));
	check_rejected(wf, step, err, text, len);
	free(text);
	return 0;
}
