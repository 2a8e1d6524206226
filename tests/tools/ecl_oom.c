/*
 * ecl_oom.c - the ecl command with one more thing, for test_cli's out-of-memory sweeps: when
 * ECL_TEST_FAIL_ALLOC_AFTER=N is set, N allocations of the runtime and of cJSON succeed and
 * every one after them fails (runtime/core/testhooks.h). Linked with the sources of cli/ into
 * its own program (tests/CMakeLists.txt), so that the ecl users run has no such hook.
 */
#include <stdlib.h>

#include "testhooks.h"

void mem_init(void); /* runtime/core/internal.h: cJSON allocates through the runtime's seam */

__attribute__((constructor)) static void fail_alloc_from_env(void)
{
	const char *n = getenv("ECL_TEST_FAIL_ALLOC_AFTER");

	if (n && *n) {
		mem_init();
		ecl_test_fail_alloc_after(atol(n));
	}
}
