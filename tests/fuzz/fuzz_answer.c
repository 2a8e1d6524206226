/*
 * fuzz_answer.c - arbitrary bytes as an LLM's answer to each typed step of the bundled
 * workflows. The first byte chooses the step; the rest is the answer text. The extractor and
 * validator must never crash, and must either accept a value that satisfies the step's
 * schema or reject it with an error that names the step.
 */
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

/* Every declared field of an accepted output is there when required and fits its type. */
static void check_accepted(const ecl_workflow *wf, const ecl_step_def *step, const cJSON *out)
{
	char err[512];
	int i;

	if (!cJSON_IsObject(out))
		abort();
	for (i = 0; i < step->noutputs; i++) {
		const ecl_slot_def *def = &wf->slots[step->outputs[i]];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(out, def->field);
		value val = {0};

		if (!v) {
			if (def->required)
				abort();
			continue;
		}
		if (value_from_json(&val, def, v, def->name, err, sizeof(err)) != ECL_OK)
			abort();
		if (def->has_range && (val.i < def->min || val.i > def->max))
			abort();
		value_clear(&val);
	}
	if (cJSON_GetArraySize(out) > step->noutputs)
		abort(); /* only the declared fields are kept */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ecl_workflow *wf = NULL;
	const ecl_step_def *step;
	cJSON *out = NULL;
	char err[512], expect[160];
	int rc;

	if (size < 1)
		return 0;
	mem_init();
	step = pick(data[0], &wf);
	rc = answer_parse(wf, step, (const char *)data + 1, size - 1, &out, err, sizeof(err));
	if (rc == ECL_OK) {
		check_accepted(wf, step, out);
		cJSON_Delete(out);
		return 0;
	}
	if (rc != ECL_EANSWER || out)
		abort();
	snprintf(expect, sizeof(expect), "step `%s`: ", step->name);
	if (strncmp(err, expect, strlen(expect)) != 0)
		abort(); /* every rejection names the step... */
	if (!strstr(err, "field `") && !strstr(err, "no JSON object"))
		abort(); /* ...and the field at fault, or says there was no object at all */
	return 0;
}
