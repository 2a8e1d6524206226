/*
 * net_table.c - the one symbol libecl-net.so exports: the table through which the `ecl`
 * command reaches the network half of the runtime (net.h). Everything else in the module is
 * local (cmake/libecl-net.map), so its own calls bind to its own functions and not to the
 * command's forwarding ones of the same names (core/net_load.c).
 */
#include "net.h"

/* Declared here rather than in net.h: only the loader looks it up, by name. */
extern const net_api ecl_net_api __attribute__((visibility("default")));

const net_api ecl_net_api = {
	.abi = ECL_NET_ABI,
	.size = sizeof(net_api),
	.openai_new = llm_openai_new,
	.anthropic_new = llm_anthropic_new,
	.ollama_new = llm_ollama_new,
	.batch_drive = ecl_batch_drive,
	.serve = ecl_serve,
	.restate_register = ecl_restate_register,
	.restate_submit = ecl_restate_submit,
	.restate_attach = ecl_restate_attach,
	.restate_status = ecl_restate_status,
	.restate_answer = ecl_restate_answer,
	.restate_cancel = ecl_restate_cancel,
	.worker = ecl_worker,
	.store_pg_open = store_pg_open,
	.restate_pause = ecl_restate_pause,
	.restate_resume = ecl_restate_resume,
	.restate_runs = ecl_restate_runs,
	.restate_history = ecl_restate_history,
	.otlp_open = otlp_open,
	.restate_fork = ecl_restate_fork,
};
