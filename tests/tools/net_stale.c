/*
 * net_stale.c - a network module of another build, for test_net_module: its table has the
 * symbol the loader looks for, with another ABI number (STALE_ABI) or another size
 * (STALE_SIZE) than the command's, and no function the command could call.
 */
#include "net.h"

extern const net_api ecl_net_api __attribute__((visibility("default")));

const net_api ecl_net_api = {
#ifdef STALE_ABI
	.abi = ECL_NET_ABI + 1,
	.size = sizeof(net_api),
#else
	.abi = ECL_NET_ABI,
	.size = sizeof(net_api) - sizeof(void (*)(void)),
#endif
};
