/*
 * offline.c - the default provider (provider.h): deterministic answers made from the step's output
 * type, with no network and no model. Every string it writes says it was not written by a
 * model. Enum fields walk their choices from the last to the first as a step is visited
 * again, so a critique loop answers "revise" once and then "pass", and a demo shows the
 * whole machine.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static long long count_words(const char *s)
{
	long long n = 0;
	int in = 0;

	for (; *s; s++) {
		if (isspace((unsigned char)*s))
			in = 0;
		else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

/* The first line of the prompt, cut to fit out (81 bytes: 80 of text), for the text of string
 * answers. */
static void prompt_head(const llm_request *req, char *out, size_t outlen)
{
	const char *p = req->nmessages > 0 ? req->messages[0].text : "";
	size_t n = strcspn(p, "\n");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static cJSON *field_value(const ecl_slot_def *def, const llm_request *req, const char *first_text)
{
	char text[512], head[81]; /* at most 80 bytes of the prompt */
	int k;

	switch (def->type) {
	case ECL_T_STRING:
		prompt_head(req, head, sizeof(head));
		snprintf(text, sizeof(text),
			 "[offline provider: not written by a model] Step %s, field %s, visit %d. "
			 "Asked: %s",
			 req->step->name, def->field, req->visit, head);
		return cJSON_CreateString(text);
	case ECL_T_ENUM:
		k = def->nchoices - req->visit;
		return cJSON_CreateString(def->choices[k > 0 ? k : 0]);
	case ECL_T_INT:
		if (def->has_range) {
			/* three quarters up the range, rounded down */
			long long v = def->max - (def->max - def->min) / 4;

			return cJSON_CreateNumber((double)v);
		}
		return cJSON_CreateNumber(first_text ? (double)count_words(first_text) : 0.0);
	case ECL_T_FLOAT: return cJSON_CreateNumber(0.5);
	case ECL_T_BOOL: return cJSON_CreateBool(req->visit > 1);
	case ECL_T_LIST: return cJSON_CreateArray();
	}
	return cJSON_CreateNull();
}

static int offline_complete(llm_provider *p, const llm_request *req, llm_response *res)
{
	const ecl_step_def *step = req->step;
	cJSON *obj = cJSON_CreateObject();
	const char *first_text = NULL;
	char *text;
	int i;

	(void)p;
	if (!obj)
		return ECL_ENOMEM;
	for (i = 0; i < step->noutputs; i++) {
		const ecl_slot_def *def = &req->wf->slots[step->outputs[i]];
		cJSON *v = field_value(def, req, first_text);

		if (!v || !cJSON_AddItemToObject(obj, def->field, v)) {
			cJSON_Delete(v);
			cJSON_Delete(obj);
			return ECL_ENOMEM;
		}
		if (def->type == ECL_T_STRING && !first_text)
			first_text = v->valuestring;
	}
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!text)
		return ECL_ENOMEM;
	res->text = text;
	res->len = strlen(text);
	return ECL_OK;
}

static void offline_destroy(llm_provider *p)
{
	mem_free(p);
}

int llm_offline_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	llm_provider *p = mem_calloc(1, sizeof(*p));

	(void)cfg;
	*out = NULL;
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	p->name = "offline";
	p->complete = offline_complete;
	p->destroy = offline_destroy;
	*out = p;
	return ECL_OK;
}
