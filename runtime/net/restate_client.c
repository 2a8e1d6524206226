/*
 * restate_client.c - what the CLI asks of a Restate server over HTTP (http.c): register the
 * endpoint (admin API), submit a run and wait for it (ingress), read its status
 * (get_status), answer its human step (answer), pause and resume it (pause, resume), cancel
 * it (admin API). Listings, histories and forks are restate_query.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "internal.h"
#include "restate.h"

void restate_say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The server's message in an error body: its JSON "message", else the text itself. */
static void server_says(const buf *b, char *out, size_t n)
{
	cJSON *j = b->data ? cJSON_Parse(b->data) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

	if (cJSON_IsString(m))
		snprintf(out, n, "%s", m->valuestring);
	else
		snprintf(out, n, "%s", b->data ? b->data : "(no body)");
	cJSON_Delete(j);
	n = strlen(out);
	while (n && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
}

int restate_plain(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

int ecl_restate_register(const char *admin_url, const char *endpoint_url, char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject();
	char *body = NULL, url[1024], why[512];
	buf resp = {0};
	long status;
	int rc;

	mem_init();
	if (!o || !cJSON_AddStringToObject(o, "uri", endpoint_url) ||
	    !cJSON_AddBoolToObject(o, "use_http_11", 1) || !cJSON_AddBoolToObject(o, "force", 1) ||
	    !(body = cJSON_PrintUnformatted(o))) {
		cJSON_Delete(o);
		restate_say(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	cJSON_Delete(o);
	snprintf(url, sizeof(url), "%s/deployments", admin_url);
	rc = http_exchange("POST", url, body, "application/json", 60000, &status, &resp, err,
			   errlen);
	cJSON_free(body);
	if (rc == ECL_OK && (status < 200 || status > 299)) {
		server_says(&resp, why, sizeof(why));
		restate_say(err, errlen, "registering %s at %s: HTTP %ld: %s", endpoint_url, url,
			    status, why);
		rc = ECL_EIO;
	}
	buf_free(&resp);
	return rc;
}

int ecl_restate_submit(const char *ingress_url, const char *workflow, const char *id,
		       const char *inputs_json, char *err, size_t errlen)
{
	char url[1024], why[512];
	buf resp = {0};
	long status;
	int rc;

	mem_init();
	if (!restate_plain(workflow) || !restate_plain(id)) {
		restate_say(err, errlen,
			    "a workflow name or run id with characters a URL cannot take");
		return ECL_EUSAGE;
	}
	snprintf(url, sizeof(url), "%s/%s/%s/run/send", ingress_url, workflow, id);
	rc = http_exchange("POST", url, inputs_json ? inputs_json : "{}", "application/json", 60000,
			   &status, &resp, err, errlen);
	if (rc == ECL_OK && (status < 200 || status > 299)) {
		server_says(&resp, why, sizeof(why));
		restate_say(err, errlen, "submitting run %s of %s at %s: HTTP %ld: %s", id,
			    workflow, url, status, why);
		rc = ECL_EIO;
	} else if (rc == ECL_OK && resp.data && strstr(resp.data, "\"PreviouslyAccepted\"")) {
		restate_say(err, errlen, "run %s of %s exists already", id, workflow);
		rc = ECL_ESTATE;
	}
	buf_free(&resp);
	return rc;
}

int ecl_restate_attach(const char *ingress_url, const char *workflow, const char *id, char **output,
		       char *err, size_t errlen)
{
	char url[1024], why[512];
	buf resp = {0};
	long status;
	int rc;

	mem_init();
	*output = NULL;
	if (!restate_plain(workflow) || !restate_plain(id)) {
		restate_say(err, errlen,
			    "a workflow name or run id with characters a URL cannot take");
		return ECL_EUSAGE;
	}
	snprintf(url, sizeof(url), "%s/restate/workflow/%s/%s/attach", ingress_url, workflow, id);
	rc = http_exchange("GET", url, NULL, "application/json", 0, &status, &resp, err, errlen);
	if (rc == ECL_OK && status == 200) {
		*output = resp.data ? resp.data : mem_strdup("null");
		resp.data = NULL;
		if (!*output) {
			restate_say(err, errlen, "out of memory");
			rc = ECL_ENOMEM;
		}
	} else if (rc == ECL_OK) {
		server_says(&resp, why, sizeof(why));
		restate_say(err, errlen, "run %s of %s: %s", id, workflow, why);
		rc = status == 404 ? ECL_ENOTFOUND : ECL_EFAILED;
	}
	buf_free(&resp);
	return rc;
}

int ecl_restate_status(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, char **json, char *err, size_t errlen)
{
	char url[1024], why[512];
	size_t i;

	mem_init();
	*json = NULL;
	if (!restate_plain(id)) {
		restate_say(err, errlen, "not a run id: %s", id);
		return ECL_EUSAGE;
	}
	for (i = 0; i < n; i++) {
		buf resp = {0};
		long status;
		int rc;

		snprintf(url, sizeof(url), "%s/%s/%s/get_status", ingress_url, list[i]->id, id);
		rc = http_exchange("POST", url, NULL, "application/json", 60000, &status, &resp,
				   err, errlen);
		if (rc != ECL_OK) {
			buf_free(&resp);
			return rc;
		}
		if (status == 200 && resp.data && strcmp(resp.data, "null") != 0) {
			*json = resp.data;
			return ECL_OK;
		}
		if (status != 200 && status != 404) {
			server_says(&resp, why, sizeof(why));
			restate_say(err, errlen, "%s: HTTP %ld: %s", url, status, why);
			buf_free(&resp);
			return ECL_EIO;
		}
		buf_free(&resp);
	}
	restate_say(err, errlen, "no run %s on the Restate server at %s", id, ingress_url);
	return ECL_ENOTFOUND;
}

/* Call the run's workflow's shared handler with body (JSON text, or NULL for none): the
 * run's workflow is the service to call. On 200 *reply gets the handler's reply; a refusal
 * keeps its code: 409 a run in another status (or answered already), 404 none, and 400 a
 * field at fault when the handler takes an input (has_input). */
static int call_handler(const char *ingress_url, const ecl_workflow *const *list, size_t n,
			const char *id, const char *handler, const char *body, int has_input,
			char **reply, char *err, size_t errlen)
{
	char url[1024], why[768], *status = NULL;
	cJSON *st = NULL;
	const cJSON *wf;
	buf resp = {0};
	long code;
	int rc, oom;

	mem_init();
	*reply = NULL;
	rc = ecl_restate_status(ingress_url, list, n, id, &status, err, errlen);
	if (rc != ECL_OK)
		return rc;
	st = json_parse_str(status, &oom);
	wf = cJSON_GetObjectItemCaseSensitive(st, "workflow");
	if (oom) {
		restate_say(err, errlen, "out of memory");
		rc = ECL_ENOMEM;
		goto out;
	}
	if (!cJSON_IsString(wf) || !restate_plain(wf->valuestring)) {
		restate_say(err, errlen, "run %s: its status names no workflow: %s", id, status);
		rc = ECL_EIO;
		goto out;
	}
	snprintf(url, sizeof(url), "%s/%s/%s/%s", ingress_url, wf->valuestring, id, handler);
	rc = http_exchange("POST", url, body, "application/json", 60000, &code, &resp, err, errlen);
	if (rc != ECL_OK)
		goto out;
	if (code == 200) {
		*reply = resp.data ? resp.data : mem_strdup("null");
		resp.data = NULL;
		if (!*reply) {
			restate_say(err, errlen, "out of memory");
			rc = ECL_ENOMEM;
		}
		goto out;
	}
	server_says(&resp, why, sizeof(why));
	restate_say(err, errlen, "run %s: %s", id, why);
	rc = code == 400 && has_input ? ECL_EINPUT
	     : code == 409            ? ECL_ESTATE
	     : code == 404            ? ECL_ENOTFOUND
				      : ECL_EIO;
out:
	buf_free(&resp);
	cJSON_Delete(st);
	free(status);
	return rc;
}

int ecl_restate_answer(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, const char *const *names, const char *const *values,
		       int nfields, char **reply, char *err, size_t errlen)
{
	char *body = NULL;
	cJSON *in, *fields;
	int rc, i;

	mem_init();
	*reply = NULL;
	if (nfields < 0 || (nfields > 0 && (!names || !values))) {
		restate_say(err, errlen, "ecl_restate_answer: invalid arguments");
		return ECL_EUSAGE;
	}
	in = cJSON_CreateObject();
	fields = in ? cJSON_AddObjectToObject(in, "fields") : NULL;
	for (i = 0; fields && i < nfields; i++) {
		cJSON *v = cJSON_CreateString(values[i]);

		/* (an item cJSON could not add is still the caller's) */
		if (!v || !cJSON_AddItemToObject(fields, names[i], v)) {
			cJSON_Delete(v);
			fields = NULL;
		}
	}
	if (!fields || !(body = cJSON_PrintUnformatted(in))) {
		restate_say(err, errlen, "out of memory");
		rc = ECL_ENOMEM;
	} else {
		rc = call_handler(ingress_url, list, n, id, "answer", body, 1, reply, err, errlen);
	}
	cJSON_free(body);
	cJSON_Delete(in);
	return rc;
}

int ecl_restate_pause(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		      const char *id, char **reply, char *err, size_t errlen)
{
	return call_handler(ingress_url, list, n, id, "pause", NULL, 0, reply, err, errlen);
}

int ecl_restate_resume(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, char **reply, char *err, size_t errlen)
{
	return call_handler(ingress_url, list, n, id, "resume", NULL, 0, reply, err, errlen);
}

int ecl_restate_cancel(const char *admin_url, const char *id, char *err, size_t errlen)
{
	char url[1024], body[512], why[512], inv[128] = "";
	buf resp = {0};
	cJSON *j, *rows, *row;
	long status;
	int rc, oom = 0;

	mem_init();
	if (!restate_plain(id)) {
		restate_say(err, errlen, "not a run id: %s", id);
		return ECL_EUSAGE;
	}
	snprintf(url, sizeof(url), "%s/query", admin_url);
	snprintf(body, sizeof(body),
		 "{\"query\": \"SELECT id FROM sys_invocation WHERE target_service_key = '%s' "
		 "AND target_handler_name = 'run' AND status != 'completed'\"}",
		 id);
	rc = http_exchange("POST", url, body, "application/json", 60000, &status, &resp, err,
			   errlen);
	if (rc != ECL_OK)
		goto out;
	j = resp.data ? json_parse_str(resp.data, &oom) : NULL;
	if (oom) {
		restate_say(err, errlen, "out of memory reading %s", url);
		rc = ECL_ENOMEM;
		goto out;
	}
	rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
	row = cJSON_GetArrayItem(rows, 0);
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(row, "id")))
		snprintf(inv, sizeof(inv), "%s",
			 cJSON_GetObjectItemCaseSensitive(row, "id")->valuestring);
	cJSON_Delete(j);
	if (status != 200 || !inv[0]) {
		if (status != 200) {
			server_says(&resp, why, sizeof(why));
			restate_say(err, errlen, "%s: HTTP %ld: %s", url, status, why);
			rc = ECL_EIO;
		} else {
			restate_say(err, errlen, "no unfinished run %s on the Restate server at %s",
				    id, admin_url);
			rc = ECL_ENOTFOUND;
		}
		goto out;
	}
	buf_free(&resp);
	memset(&resp, 0, sizeof(resp));
	snprintf(url, sizeof(url), "%s/invocations/%s/cancel", admin_url, inv);
	rc = http_exchange("PATCH", url, NULL, "application/json", 60000, &status, &resp, err,
			   errlen);
	if (rc == ECL_OK && (status == 404 || status == 405)) {
		/* Older servers: DELETE with a mode. */
		buf_free(&resp);
		memset(&resp, 0, sizeof(resp));
		snprintf(url, sizeof(url), "%s/invocations/%s?mode=Cancel", admin_url, inv);
		rc = http_exchange("DELETE", url, NULL, "application/json", 60000, &status, &resp,
				   err, errlen);
	}
	if (rc == ECL_OK && (status < 200 || status > 299)) {
		server_says(&resp, why, sizeof(why));
		restate_say(err, errlen, "cancelling %s: HTTP %ld: %s", inv, status, why);
		rc = ECL_EIO;
	}
out:
	buf_free(&resp);
	return rc;
}
