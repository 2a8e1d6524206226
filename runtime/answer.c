/*
 * answer.c - from an LLM's answer text to a validated output. Models wrap JSON in code
 * fences or prose; we find the object, then check every declared field against its type,
 * so that a step's output slots only ever hold values of the declared types.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The most '{' positions tried when the object is buried in prose. */
#define MAX_CANDIDATES 64

/* The JSON object in the n bytes at s, or NULL; *oom set when memory ran out reading it. */
static cJSON *parse_object(const char *s, size_t n, int *oom)
{
	cJSON *json = json_parse(s, n, oom);

	if (json && cJSON_IsObject(json))
		return json;
	cJSON_Delete(json);
	return NULL;
}

/* The body of the first ``` fence, language tag skipped; NULL when there is none. */
static const char *fence_body(const char *s, size_t n, size_t *body_len)
{
	const char *open = NULL, *close, *p, *end = s + n;

	for (p = s; p + 3 <= end; p++)
		if (memcmp(p, "```", 3) == 0) {
			open = p + 3;
			break;
		}
	if (!open)
		return NULL;
	while (open < end && *open != '\n')
		open++; /* the language tag, if any */
	for (close = open; close + 3 <= end; close++)
		if (memcmp(close, "```", 3) == 0) {
			*body_len = (size_t)(close - open);
			return open;
		}
	return NULL;
}

/* The answer's object, or NULL; NULL with *oom set as soon as a parse runs out of memory,
 * lest an object nested in the one that could not be parsed be taken for it. */
static cJSON *find_object(const char *text, size_t len, int *oom)
{
	const char *body, *p, *end = text + len;
	size_t body_len = 0;
	int tries = 0;
	cJSON *json;

	while (len && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	if ((json = parse_object(text, len, oom)) || *oom)
		return json;
	body = fence_body(text, len, &body_len);
	if (body && ((json = parse_object(body, body_len, oom)) || *oom))
		return json;
	for (p = text; p < end && tries < MAX_CANDIDATES; p++) {
		if (*p != '{')
			continue;
		tries++;
		if ((json = parse_object(p, (size_t)(end - p), oom)) || *oom)
			return json;
	}
	return NULL;
}

static void excerpt(const char *text, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 4 < outlen && i < 60; i++)
		out[o++] = (text[i] == '\n' || text[i] == '\t') ? ' ' : text[i];
	if (i < len && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

int answer_parse(const ecl_workflow *wf, const ecl_step_def *step, const char *text, size_t len,
		 cJSON **out, char **canon, char *err, size_t errlen)
{
	cJSON *json, *result;
	char why[512];
	buf b = {0};
	int i, rc = ECL_OK, first = 1, oom = 0;

	*out = NULL;
	if (canon)
		*canon = NULL;
	json = find_object(text, len, &oom);
	if (oom)
		return ECL_ENOMEM; /* not the answer's fault */
	if (!json) {
		char ex[72];

		excerpt(text, len, ex, sizeof(ex));
		snprintf(err, errlen, "step `%s`: the answer holds no JSON object: \"%s\"",
			 step->name, ex);
		return ECL_EANSWER;
	}
	result = cJSON_CreateObject();
	if (!result) {
		cJSON_Delete(json);
		return ECL_ENOMEM;
	}
	buf_append(&b, "{", 1);
	for (i = 0; i < step->noutputs && rc == ECL_OK; i++) {
		const ecl_slot_def *def = &wf->slots[step->outputs[i]];
		const cJSON *field = cJSON_GetObjectItemCaseSensitive(json, def->field);
		value v = {0};
		cJSON *copy;

		if (!field || cJSON_IsNull(field)) {
			if (def->required) {
				snprintf(err, errlen,
					 "step `%s`: field `%s` is missing from the answer",
					 step->name, def->field);
				rc = ECL_EANSWER;
			}
			continue;
		}
		/* the field's name goes before the reason only when there is one to give */
		why[0] = '\0';
		rc = value_from_json(&v, def, field, "", why, sizeof(why));
		if (rc != ECL_OK)
			snprintf(err, errlen, "step `%s`: field `%s`%s", step->name, def->field,
				 why);
		if (rc == ECL_OK) {
			copy = value_to_json(&v, def);
			if (!copy || !cJSON_AddItemToObject(result, def->field, copy)) {
				cJSON_Delete(copy);
				rc = ECL_ENOMEM;
			}
		}
		if (rc == ECL_OK && canon) {
			buf_json_key(&b, first, def->field);
			first = 0;
			value_json(&v, def, &b);
		}
		value_clear(&v);
	}
	buf_append(&b, "}", 1);
	cJSON_Delete(json);
	if (rc == ECL_OK && canon && b.oom)
		rc = ECL_ENOMEM;
	if (rc != ECL_OK) {
		buf_free(&b);
		cJSON_Delete(result);
		return rc;
	}
	*out = result;
	if (canon)
		*canon = b.data;
	else
		buf_free(&b);
	return ECL_OK;
}

void answer_clear(ecl_run *run)
{
	cJSON_Delete(run->answer);
	run->answer = NULL;
	mem_free(run->answer_text);
	run->answer_text = NULL;
}
