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

/* The answer's object, or NULL, with *at where its text starts; NULL with *oom set as soon
 * as a parse runs out of memory, lest an object nested in the one that could not be parsed be
 * taken for it. */
static cJSON *find_object(const char *text, size_t len, int *oom, const char **at)
{
	const char *body, *p, *end = text + len;
	size_t body_len = 0;
	int tries = 0;
	cJSON *json;

	while (len && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	*at = text;
	if ((json = parse_object(text, len, oom)) || *oom)
		return json;
	body = fence_body(text, len, &body_len);
	*at = body;
	if (body && ((json = parse_object(body, body_len, oom)) || *oom))
		return json;
	for (p = text; p < end && tries < MAX_CANDIDATES; p++) {
		if (*p != '{')
			continue;
		tries++;
		*at = p;
		if ((json = parse_object(p, (size_t)(end - p), oom)) || *oom)
			return json;
	}
	return NULL;
}

/* A string of the answer a run cannot hold (a NUL, bytes or an escape that are not UTF-8),
 * said in err naming the field: in the object at `at` when one was found, else in the first
 * object the answer seems to hold (a lone surrogate makes the parser refuse it, and the reason
 * is worth more than "no object"), else anywhere in the text. 0 when there is none. */
static int bad_text(const ecl_step_def *step, const char *text, size_t len, const char *at,
		    char *err, size_t errlen)
{
	const char *p, *end = text + len;
	char key[128], why[256];
	int tries = 0, bad = 0;

	if (at)
		bad = json_check(at, (size_t)(end - at), key, sizeof(key), why, sizeof(why));
	for (p = text; !at && !bad && p < end && tries < MAX_CANDIDATES; p++)
		if (*p == '{') {
			tries++;
			bad = json_check(p, (size_t)(end - p), key, sizeof(key), why, sizeof(why));
		}
	if (bad == 2)
		snprintf(err, errlen, "step `%s`: a field name of the answer holds %s", step->name,
			 why);
	else if (bad && key[0])
		snprintf(err, errlen, "step `%s`: field `%s` of the answer holds %s", step->name,
			 key, why);
	else if (bad || text_check(text, len, why, sizeof(why)) != ECL_OK)
		snprintf(err, errlen, "step `%s`: the answer holds %s", step->name, why);
	else
		return 0;
	return 1;
}

static void excerpt(const char *text, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0, max = text_cut(text, len, 60); /* whole characters */

	for (i = 0; i < max && o + 4 < outlen; i++)
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
	const char *at = NULL;
	char why[512];
	buf b = {0};
	int i, rc = ECL_OK, first = 1, oom = 0;

	*out = NULL;
	if (canon)
		*canon = NULL;
	json = find_object(text, len, &oom, &at);
	if (oom)
		return ECL_ENOMEM; /* not the answer's fault */
	if (bad_text(step, text, len, json ? at : NULL, err, errlen)) {
		cJSON_Delete(json);
		return ECL_EANSWER;
	}
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
					 field ? "step `%s`: field `%s` of the answer is null, "
						 "but it is required"
					       : "step `%s`: field `%s` is missing from the answer",
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
