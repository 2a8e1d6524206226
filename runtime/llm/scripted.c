/*
 * scripted.c - a provider (provider.h) whose answers are read from a JSON file, for tests
 * and demos.
 *
 * The file is an object with one array per step name. Entry k of a step's array answers the
 * step's k-th visit in a run, so a resumed run is given the same answers as an uninterrupted
 * one. An entry is an answer (an object, sent as its JSON text), a string (sent as it is, so
 * a test can send prose, fences or broken JSON), {"$error": "transient"|"permanent",
 * "message": "..."} (a failed call), {"$answer": <an answer>, "$delay_ms": N} (the answer
 * after a pause, so a test can kill a process in the middle of a step), or an array of those:
 * the answers to successive calls within the visit (retries and repairs). With a call log, every
 * call appends the line
 * "<run> <step> <visit> <call>" to it, so tests can count calls across processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct scripted {
	llm_provider base;
	cJSON *script;
	char *path;
	char *call_log;
} scripted;

static int log_call(scripted *s, const llm_request *req, llm_response *res)
{
	char line[256];
	int fd, n;

	if (!s->call_log)
		return ECL_OK;
	n = snprintf(line, sizeof(line), "%s %s %d %d\n", req->run_id, req->step->name, req->visit,
		     req->call);
	fd = open(s->call_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		snprintf(res->error, sizeof(res->error),
			 "scripted: cannot write the call log %s: %s", s->call_log,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		res->fault = LLM_FAULT_PERMANENT;
		return ECL_EPROVIDER;
	}
	close(fd);
	return ECL_OK;
}

/* Wait ms milliseconds in slices, ticking; 1 when the tick asks to abandon the call. */
static int wait_ticking(const llm_request *req, long ms)
{
	while (ms > 0) {
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = {0, slice * 1000000L};

		if (req->tick && req->tick(req->tick_ctx))
			return 1;
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return 0;
}

static int scripted_complete(llm_provider *p, const llm_request *req, llm_response *res)
{
	scripted *s = (scripted *)p;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(s->script, req->step->name);
	const cJSON *entry = cJSON_GetArrayItem(list, req->visit - 1);
	const cJSON *err, *delay;
	int rc;

	if ((rc = log_call(s, req, res)) != ECL_OK)
		return rc;
	if (cJSON_IsArray(entry))
		entry = cJSON_GetArrayItem(entry, req->call);
	if (!entry) {
		snprintf(res->error, sizeof(res->error),
			 "scripted: %s has no answer for step `%s`, visit %d, call %d", s->path,
			 req->step->name, req->visit, req->call + 1);
		res->fault = LLM_FAULT_PERMANENT;
		return ECL_EPROVIDER;
	}
	delay = cJSON_GetObjectItemCaseSensitive(entry, "$delay_ms");
	if (cJSON_IsNumber(delay) && wait_ticking(req, (long)delay->valuedouble)) {
		snprintf(res->error, sizeof(res->error), "scripted: abandoned");
		res->fault = LLM_FAULT_TRANSIENT;
		return ECL_EPROVIDER;
	}
	if (cJSON_HasObjectItem(entry, "$answer"))
		entry = cJSON_GetObjectItemCaseSensitive(entry, "$answer");
	err = cJSON_GetObjectItemCaseSensitive(entry, "$error");
	if (cJSON_IsString(err)) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(entry, "message");

		snprintf(res->error, sizeof(res->error), "scripted: %s",
			 cJSON_IsString(msg) ? msg->valuestring : "scripted failure");
		res->fault = strcmp(err->valuestring, "transient") == 0 ? LLM_FAULT_TRANSIENT
									: LLM_FAULT_PERMANENT;
		return ECL_EPROVIDER;
	}
	res->text = cJSON_IsString(entry) ? mem_strdup(entry->valuestring)
					  : cJSON_PrintUnformatted(entry);
	if (!res->text)
		return ECL_ENOMEM;
	res->len = strlen(res->text);
	return ECL_OK;
}

static void scripted_destroy(llm_provider *p)
{
	scripted *s = (scripted *)p;

	if (!s)
		return;
	cJSON_Delete(s->script);
	mem_free(s->path);
	mem_free(s->call_log);
	mem_free(s);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	buf b = {0};
	char chunk[8192];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	if (ferror(f) || b.oom) {
		int e = b.oom ? ENOMEM : errno;

		fclose(f);
		buf_free(&b);
		errno = e;
		return NULL;
	}
	fclose(f);
	*len = b.len;
	if (!b.data && !(b.data = mem_strdup("")))
		errno = ENOMEM;
	return b.data;
}

int llm_scripted_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	scripted *s;
	const cJSON *item;
	char *text;
	size_t len = 0;
	int oom;

	*out = NULL;
	if (!cfg->script_path) {
		snprintf(err, errlen, "the scripted provider needs a script file (--script FILE)");
		return ECL_EUSAGE;
	}
	errno = 0;
	text = read_file(cfg->script_path, &len);
	if (!text) {
		snprintf(err, errlen, "cannot read the script %s: %s", cfg->script_path,
			 strerror(errno));
		return errno == ENOMEM ? ECL_ENOMEM : ECL_EIO;
	}
	s = mem_calloc(1, sizeof(*s));
	if (!s) {
		mem_free(text);
		snprintf(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	s->script = json_parse(text, len, &oom);
	mem_free(text);
	if (oom) {
		snprintf(err, errlen, "out of memory reading the script %s", cfg->script_path);
		scripted_destroy(&s->base);
		return ECL_ENOMEM;
	}
	if (!s->script || !cJSON_IsObject(s->script)) {
		snprintf(err, errlen, "%s: not a JSON object of answers per step",
			 cfg->script_path);
		scripted_destroy(&s->base);
		return ECL_EUSAGE;
	}
	cJSON_ArrayForEach (item, s->script) {
		if (!cJSON_IsArray(item)) {
			snprintf(err, errlen, "%s: the answers of step `%s` must be an array",
				 cfg->script_path, item->string);
			scripted_destroy(&s->base);
			return ECL_EUSAGE;
		}
	}
	s->path = mem_strdup(cfg->script_path);
	s->call_log = cfg->call_log ? mem_strdup(cfg->call_log) : NULL;
	if (!s->path || (cfg->call_log && !s->call_log)) {
		scripted_destroy(&s->base);
		snprintf(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	s->base.name = "scripted";
	s->base.complete = scripted_complete;
	s->base.destroy = scripted_destroy;
	*out = &s->base;
	return ECL_OK;
}
