/*
 * net.h - the seam between the core and the network half of the runtime (runtime/net/: the
 * HTTP providers, batches over libcurl's multi interface, the Restate endpoint and client, and
 * the libcurl easy-handle helpers the providers and the client share, http.c).
 *
 * Libraries and tests link it in like the rest of libecl. The `ecl` command does not: it loads
 * it on first use from libecl-net.so beside the executable (net_load.c), so that commands
 * which never touch the network (`ecl list`, `ecl status`, ...) do not pay for loading
 * libcurl, libmicrohttpd, protobuf-c and their thirty-odd libraries at every start.
 * The module resolves the core's functions (the driver, the store, the allocator) from the
 * executable that loads it, so the module and the command must come from the same build:
 * the table carries ECL_NET_ABI and its own size, and the loader refuses a module whose
 * numbers are not its own (a libecl-net.so left from another build).
 */
#ifndef ECL_NET_H
#define ECL_NET_H

#include "internal.h"

/* The version of net_api, and of what the module takes from the command (internal.h's
 * structures, the driver, the store). Bump it whenever any of them changes. */
#define ECL_NET_ABI 2u

/* What the module gives the core: one entry per function of the network half that the core
 * or the command calls. Each has the contract of the function it names. */
typedef struct net_api {
	/* First, and never moved: ECL_NET_ABI and sizeof(net_api) of the module's build. */
	unsigned abi;
	unsigned size;
	int (*openai_new)(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
	int (*anthropic_new)(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
	int (*ollama_new)(const llm_config *cfg, llm_provider **out, char *err, size_t errlen);
	int (*batch_drive)(ecl_engine *engine, const ecl_workflow *wf, const char *const *inputs,
			   size_t n, int concurrency, ecl_batch_fn fn, void *ctx);
	int (*serve)(const ecl_serve_options *options, char *err, size_t errlen);
	int (*restate_register)(const char *admin_url, const char *endpoint_url, char *err,
				size_t errlen);
	int (*restate_submit)(const char *ingress_url, const char *workflow, const char *id,
			      const char *inputs_json, char *err, size_t errlen);
	int (*restate_attach)(const char *ingress_url, const char *workflow, const char *id,
			      char **output, char *err, size_t errlen);
	int (*restate_status)(const char *ingress_url, const ecl_workflow *const *list, size_t n,
			      const char *id, char **json, char *err, size_t errlen);
	int (*restate_answer)(const char *ingress_url, const ecl_workflow *const *list, size_t n,
			      const char *id, const char *const *names, const char *const *values,
			      int nfields, char **reply, char *err, size_t errlen);
	int (*restate_cancel)(const char *admin_url, const char *id, char *err, size_t errlen);
	int (*worker)(ecl_engine *engine, const ecl_worker_options *options);
	int (*store_pg_open)(const char *conninfo, int read_only, long busy_timeout_ms, store **out,
			     char *err, size_t errlen);
	int (*restate_pause)(const char *ingress_url, const ecl_workflow *const *list, size_t n,
			     const char *id, char **reply, char *err, size_t errlen);
	int (*restate_resume)(const char *ingress_url, const ecl_workflow *const *list, size_t n,
			      const char *id, char **reply, char *err, size_t errlen);
	int (*restate_runs)(const char *admin_url, const ecl_workflow *const *list, size_t n,
			    const ecl_run_filter *filter, ecl_run_fn fn, void *ctx, char *err,
			    size_t errlen);
	int (*restate_history)(const char *admin_url, const char *id, int full, ecl_history_fn fn,
			       void *ctx, char *err, size_t errlen);
	int (*otlp_open)(const trace_config *cfg, trace_exporter **out, char *err, size_t errlen);
	int (*restate_fork)(const char *admin_url, const char *ingress_url,
			    const ecl_workflow *const *list, size_t n, const char *id, int from_seq,
			    char id_out[ECL_ID_MAX], char *err, size_t errlen);
} net_api;

/* The file name of the module, looked for in the directory of the running executable. */
#define NET_MODULE_FILE "libecl-net.so"
/* The module's one exported symbol: its net_api. */
#define NET_MODULE_SYMBOL "ecl_net_api"

#endif /* ECL_NET_H */
