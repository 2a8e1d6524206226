/*
 * restate_discovery.c - the endpoint's discovery manifest (GET /discover): every compiled
 * workflow is a Workflow service with the handlers run, get_status, answer, pause and resume.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restate_invocation.h"

/* ---- discovery ---------------------------------------------------------------------------- */

int restate_manifest(ecl_engine *e, buf *out)
{
	cJSON *m = cJSON_CreateObject(), *services, *s, *hs, *h;
	char *text;
	size_t i;
	int ok = m != NULL;

	ok = ok && cJSON_AddStringToObject(m, "protocolMode", "REQUEST_RESPONSE");
	ok = ok && cJSON_AddNumberToObject(m, "minProtocolVersion", RESTATE_MIN_VERSION);
	ok = ok && cJSON_AddNumberToObject(m, "maxProtocolVersion", RESTATE_MAX_VERSION);
	ok = ok && (services = cJSON_AddArrayToObject(m, "services")) != NULL;
	for (i = 0; ok && i < e->nworkflows; i++) {
		const ecl_workflow *wf = e->workflows[i];

		ok = (s = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(services, s);
		ok = ok && cJSON_AddStringToObject(s, "name", wf->id);
		ok = ok && cJSON_AddStringToObject(s, "ty", "WORKFLOW");
		ok = ok && (hs = cJSON_AddArrayToObject(s, "handlers")) != NULL;
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "run");
		ok = ok && cJSON_AddStringToObject(h, "ty", "WORKFLOW");
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "get_status");
		ok = ok && cJSON_AddStringToObject(h, "ty", "SHARED");
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "answer");
		ok = ok && cJSON_AddStringToObject(h, "ty", "SHARED");
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "pause");
		ok = ok && cJSON_AddStringToObject(h, "ty", "SHARED");
		ok = ok && (h = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(hs, h);
		ok = ok && cJSON_AddStringToObject(h, "name", "resume");
		ok = ok && cJSON_AddStringToObject(h, "ty", "SHARED");
	}
	text = ok ? cJSON_PrintUnformatted(m) : NULL;
	cJSON_Delete(m);
	if (!text)
		return ECL_ENOMEM;
	buf_puts(out, text);
	cJSON_free(text);
	return out->oom ? ECL_ENOMEM : ECL_OK;
}

/* The manifest version to answer with: the highest of 1..3 the Accept header names. */
const char *restate_manifest_type(const char *accept)
{
	static const char *const types[] = {
		"application/vnd.restate.endpointmanifest.v3+json",
		"application/vnd.restate.endpointmanifest.v2+json",
		"application/vnd.restate.endpointmanifest.v1+json",
	};
	size_t i;

	for (i = 0; accept && i < sizeof(types) / sizeof(types[0]); i++)
		if (strstr(accept, types[i]))
			return types[i];
	return types[2];
}
