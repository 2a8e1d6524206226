/*
 * tracer.c - an engine's tracing: its exporter, opened the first time a run is driven with
 * tracing on (so that commands which drive nothing never load the network half for it), and
 * what the drive of a loaded run needs to know to trace it (trace.h, drive.c).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

trace_exporter *tracer_get(ecl_engine *e)
{
	trace_config cfg;
	char url[2048], err[512];

	if (e->trace_state != 0)
		return e->tracer;
	e->trace_state = -1;
	if (trace_config_get(e->otlp_endpoint, &cfg, url, sizeof(url)) != 0)
		return NULL;
	if (otlp_open(&cfg, &e->tracer, err, sizeof(err)) != ECL_OK) {
		/* tracing never stops a run: it goes on untraced */
		fprintf(stderr, "ecl: traces: %s: no traces are sent\n", err);
		return NULL;
	}
	e->trace_state = 1;
	return e->tracer;
}

void tracer_prepare(ecl_engine *e, const store_run *row, ecl_run *run, int first)
{
	store_run origin = {0};
	char id[ECL_ID_MAX];
	const char *at;

	run->trace_root = first;
	if (run_status_is(row->status, ECL_RUN_WAITING))
		run->wait_since_ms = row->updated_ms;
	/* a fork links to the span of its origin; looked up only when it will be sent */
	at = row->parent ? strrchr(row->parent, '@') : NULL;
	if (!first || !at || (size_t)(at - row->parent) >= sizeof(id) || !tracer_get(e))
		return;
	snprintf(id, sizeof(id), "%.*s", (int)(at - row->parent), row->parent);
	if (e->st->ops->get_run(e->st, id, &origin) == ECL_OK && origin.trace)
		snprintf(run->trace_link, sizeof(run->trace_link), "%s", origin.trace);
	store_run_clear(&origin);
}
