/*
 * status.c - the text of each result code and of each run status. Switches without default,
 * so the compiler names any value that was added to ecl_status or ecl_run_status without a
 * text here. The name of each slot type, likewise. The detail of the engine's last failure
 * beside them: every part of the runtime records it (engine_fail), so it lives here, not with
 * the engine's entry points. And the library's version.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *ecl_version(void)
{
	return ECL_VERSION;
}

const char *ecl_strerror(int status)
{
	switch ((ecl_status)status) {
	case ECL_OK: return "success";
	case ECL_PENDING: return "waiting for an answer";
	case ECL_ENOMEM: return "out of memory";
	case ECL_EUSAGE: return "invalid argument";
	case ECL_EINPUT: return "invalid workflow input";
	case ECL_ENOTFOUND: return "not found";
	case ECL_ESTORE: return "store error";
	case ECL_EPROVIDER: return "LLM provider error";
	case ECL_EANSWER: return "LLM answer does not match the step's output type";
	case ECL_EBOUND: return "run exceeded its step bound";
	case ECL_ESTATE: return "the run's status does not allow this";
	case ECL_EFAILED: return "workflow failed";
	case ECL_EIO: return "I/O error";
	case ECL_EINTERRUPTED: return "run interrupted";
	case ECL_EPAUSED: return "run paused";
	case ECL_ECANCELLED: return "run cancelled";
	case ECL_EWAITING: return "run waiting for a human answer";
	case ECL_ESUSPENDED: return "invocation suspended until its journal has an answer";
	}
	return "unknown status";
}

const char *ecl_run_status_name(ecl_run_status status)
{
	switch (status) {
	case ECL_RUN_RUNNING: return "running";
	case ECL_RUN_WAITING: return "waiting";
	case ECL_RUN_PAUSED: return "paused";
	case ECL_RUN_INTERRUPTED: return "interrupted";
	case ECL_RUN_COMPLETED: return "completed";
	case ECL_RUN_FAILED: return "failed";
	case ECL_RUN_CANCELLED: return "cancelled";
	case ECL_RUN_QUEUED: return "queued";
	}
	return "unknown";
}

const char *ecl_type_name(ecl_type type)
{
	switch (type) {
	case ECL_T_STRING: return "string";
	case ECL_T_INT: return "int";
	case ECL_T_FLOAT: return "float";
	case ECL_T_BOOL: return "bool";
	case ECL_T_ENUM: return "enum";
	case ECL_T_LIST: return "list";
	}
	return "value";
}

int ecl_run_status_parse(const char *name, ecl_run_status *out)
{
	int i;

	for (i = 0; name && i < ECL_RUN_STATUS_COUNT; i++)
		if (strcmp(name, ecl_run_status_name((ecl_run_status)i)) == 0) {
			*out = (ecl_run_status)i;
			return ECL_OK;
		}
	return ECL_EUSAGE;
}

/* ---- the detail of a failure, on the engine ---------------------------------------------- */

int engine_fail(ecl_engine *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return code;
}

int engine_damaged(ecl_engine *e, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	n = strlen(e->err);
	snprintf(e->err + n, sizeof(e->err) - n,
		 "; the database seems damaged: check it with: sqlite3 %s 'pragma "
		 "integrity_check'; or restore a backup",
		 e->db_path ? e->db_path : "FILE");
	return ECL_ESTORE;
}

const char *ecl_engine_errmsg(const ecl_engine *e)
{
	return e ? e->err : "no engine";
}

void ecl_db_display(const char *db, char *out, size_t len)
{
	const char *p = db ? strstr(db, "://") : NULL, *at, *colon, *end;
	size_t n = 0;

	if (!len)
		return;
	out[0] = '\0';
	if (!db)
		return;
	if (!p) {
		snprintf(out, len, "%s", db);
		return;
	}
	p += 3;
	end = p + strcspn(p, "/?");
	at = memchr(p, '@', (size_t)(end - p));
	colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
	/* the scheme and the user, then from the host on */
	n = (size_t)snprintf(out, len, "%.*s", (int)((colon ? colon : p) - db), db);
	if (colon && n < len)
		n += (size_t)snprintf(out + n, len - n, "%s", at);
	else if (n < len)
		n += (size_t)snprintf(out + n, len - n, "%s", p);
	/* a password= parameter of the query, and the & or ? before it */
	if (n < len) {
		char *q = strchr(out, '?'), *pw;

		while (q && (pw = strstr(q, "password=")) != NULL) {
			char *stop = strchr(pw, '&');

			if (pw[-1] != '?' && pw[-1] != '&') {
				q = pw + 1;
				continue;
			}
			if (stop)
				memmove(pw, stop + 1, strlen(stop + 1) + 1);
			else
				pw[-1] = '\0';
		}
	}
}
