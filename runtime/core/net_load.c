/*
 * net_load.c - the `ecl` command's side of net.h: each function of the network half, as a
 * forwarder that loads libecl-net.so on first use and calls the module's own. The command
 * links this file instead of the network half itself, so that only the commands that reach
 * the network load libcurl and the rest. The module is looked for beside the executable (the
 * build tree), then at ECL_NET_RELDIR from the executable's directory (an installed tree:
 * ../lib/ecl from bin/), so that an installed tree finds it wherever it was put.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

#ifndef ECL_NET_RELDIR
#define ECL_NET_RELDIR "../lib/ecl"
#endif

static const net_api *loaded;
static char load_error[8400];

/* The module's table, loading it the first time; NULL with the reason in load_error. */
static const net_api *net(void)
{
	char exe[4096], beside[4200], installed[4200];
	const char *path;
	ssize_t n;
	char *slash;
	void *h;
	int none;

	if (loaded)
		return loaded;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(exe) - 1) {
		snprintf(load_error, sizeof(load_error),
			 "cannot find the network module: /proc/self/exe: %s",
			 n < 0 ? strerror(errno) : "path too long");
		return NULL;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(beside, sizeof(beside), "%s/%s", slash ? exe : ".", NET_MODULE_FILE);
	snprintf(installed, sizeof(installed), "%s/%s/%s", slash ? exe : ".", ECL_NET_RELDIR,
		 NET_MODULE_FILE);
	none = access(beside, F_OK) != 0 && access(installed, F_OK) != 0;
	path = access(beside, F_OK) == 0 || none ? beside : installed;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load the network module: %s%s%s",
			 dlerror(), none ? "; nor is there " : "", none ? installed : "");
		return NULL;
	}
	loaded = dlsym(h, NET_MODULE_SYMBOL);
	if (!loaded) {
		snprintf(load_error, sizeof(load_error), "%s has no %s: not ecl's network module",
			 path, NET_MODULE_SYMBOL);
		return NULL;
	}
	/* A module of another build would bind to structures of another shape. */
	if (loaded->abi != ECL_NET_ABI || loaded->size != sizeof(net_api)) {
		snprintf(load_error, sizeof(load_error),
			 "%s is the network module of another build of ecl: its ABI is %u (a table "
			 "of %u bytes), this ecl's is %u (%zu bytes); install ecl and its module "
			 "together",
			 path, loaded->abi, loaded->size, (unsigned)ECL_NET_ABI, sizeof(net_api));
		loaded = NULL;
		dlclose(h);
	}
	return loaded;
}

static int unloadable(char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", load_error);
	return ECL_EIO;
}

int llm_openai_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	*out = NULL;
	return net() ? net()->openai_new(cfg, out, err, errlen) : unloadable(err, errlen);
}

int llm_anthropic_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	*out = NULL;
	return net() ? net()->anthropic_new(cfg, out, err, errlen) : unloadable(err, errlen);
}

int llm_ollama_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	*out = NULL;
	return net() ? net()->ollama_new(cfg, out, err, errlen) : unloadable(err, errlen);
}

int ecl_batch_drive(ecl_engine *engine, const ecl_workflow *wf, const char *const *inputs, size_t n,
		    int concurrency, ecl_batch_fn fn, void *ctx)
{
	if (!net())
		return engine_fail(engine, ECL_EIO, "%s", load_error);
	return net()->batch_drive(engine, wf, inputs, n, concurrency, fn, ctx);
}

int ecl_serve(const ecl_serve_options *options, char *err, size_t errlen)
{
	return net() ? net()->serve(options, err, errlen) : unloadable(err, errlen);
}

int ecl_restate_register(const char *admin_url, const char *endpoint_url, char *err, size_t errlen)
{
	return net() ? net()->restate_register(admin_url, endpoint_url, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_submit(const char *ingress_url, const char *workflow, const char *id,
		       const char *inputs_json, char *err, size_t errlen)
{
	return net() ? net()->restate_submit(ingress_url, workflow, id, inputs_json, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_attach(const char *ingress_url, const char *workflow, const char *id, char **output,
		       char *err, size_t errlen)
{
	*output = NULL;
	return net() ? net()->restate_attach(ingress_url, workflow, id, output, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_status(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, char **json, char *err, size_t errlen)
{
	*json = NULL;
	return net() ? net()->restate_status(ingress_url, list, n, id, json, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_answer(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, const char *const *names, const char *const *values,
		       int nfields, char **reply, char *err, size_t errlen)
{
	*reply = NULL;
	return net() ? net()->restate_answer(ingress_url, list, n, id, names, values, nfields,
					     reply, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_cancel(const char *admin_url, const char *id, char *err, size_t errlen)
{
	return net() ? net()->restate_cancel(admin_url, id, err, errlen) : unloadable(err, errlen);
}

int ecl_restate_pause(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		      const char *id, char **reply, char *err, size_t errlen)
{
	*reply = NULL;
	return net() ? net()->restate_pause(ingress_url, list, n, id, reply, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_resume(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, char **reply, char *err, size_t errlen)
{
	*reply = NULL;
	return net() ? net()->restate_resume(ingress_url, list, n, id, reply, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_runs(const char *admin_url, const ecl_workflow *const *list, size_t n,
		     const ecl_run_filter *filter, ecl_run_fn fn, void *ctx, char *err,
		     size_t errlen)
{
	return net() ? net()->restate_runs(admin_url, list, n, filter, fn, ctx, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_history(const char *admin_url, const char *id, int full, ecl_history_fn fn,
			void *ctx, char *err, size_t errlen)
{
	return net() ? net()->restate_history(admin_url, id, full, fn, ctx, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_restate_fork(const char *admin_url, const char *ingress_url,
		     const ecl_workflow *const *list, size_t n, const char *id, int from_seq,
		     char id_out[ECL_ID_MAX], char *err, size_t errlen)
{
	id_out[0] = '\0';
	return net() ? net()->restate_fork(admin_url, ingress_url, list, n, id, from_seq, id_out,
					   err, errlen)
		     : unloadable(err, errlen);
}

int store_pg_open(const char *conninfo, int read_only, long busy_timeout_ms, store **out, char *err,
		  size_t errlen)
{
	*out = NULL;
	return net() ? net()->store_pg_open(conninfo, read_only, busy_timeout_ms, out, err, errlen)
		     : unloadable(err, errlen);
}

int ecl_worker(ecl_engine *engine, const ecl_worker_options *options)
{
	if (!net())
		return engine_fail(engine, ECL_EIO, "%s", load_error);
	return net()->worker(engine, options);
}

int otlp_open(const trace_config *cfg, trace_exporter **out, char *err, size_t errlen)
{
	*out = NULL;
	return net() ? net()->otlp_open(cfg, out, err, errlen) : unloadable(err, errlen);
}
