/*
 * log.c - structured logs on the engine's stream: one line per event, as pretty text,
 * compact key=value pairs, or JSON. Info lines are written only when verbose.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *level_name(log_level level)
{
	static const char *const names[] = {[LOG_DEBUG] = "debug",
					    [LOG_INFO] = "info",
					    [LOG_WARN] = "warn",
					    [LOG_ERROR] = "error"};

	return names[level];
}

static void timestamp(char *out, size_t outlen)
{
	long long ms = clock_now_ms();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* A value needs quotes in key=value output when it is empty or has spaces, quotes or '='. */
static int needs_quotes(const char *v)
{
	return !*v || strpbrk(v, " \t\n\"=") != NULL;
}

void log_event(ecl_engine *e, log_level level, const char *msg, ...)
{
	char ts[64];
	buf b = {0};
	const char *key;
	va_list ap;

	if (!e->log || (level < LOG_WARN && !e->verbose))
		return;
	timestamp(ts, sizeof(ts));
	switch (e->log_format) {
	case ECL_LOG_JSON:
		buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_name(level));
		buf_json_str(&b, msg, strlen(msg));
		break;
	case ECL_LOG_COMPACT:
		buf_printf(&b, "ts=%s level=%s msg=", ts, level_name(level));
		buf_json_str(&b, msg, strlen(msg));
		break;
	case ECL_LOG_PRETTY:
		buf_printf(&b, "%s %-5s %-12s", ts + 11, level_name(level), msg);
		break;
	}
	va_start(ap, msg);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		if (!v)
			continue;
		if (e->log_format == ECL_LOG_JSON) {
			buf_printf(&b, ",\"%s\":", key);
			buf_json_str(&b, v, strlen(v));
		} else {
			buf_printf(&b, " %s=", key);
			if (needs_quotes(v))
				buf_json_str(&b, v, strlen(v));
			else
				buf_puts(&b, v);
		}
	}
	va_end(ap);
	buf_puts(&b, e->log_format == ECL_LOG_JSON ? "}\n" : "\n");
	if (!b.oom && e->on_log)
		e->on_log(e->log_ctx, b.data);
	else if (!b.oom)
		fputs(b.data, e->log);
	buf_free(&b);
}
