/*
 * leak_check.c - in the sanitizer build, a test that leaks memory fails.
 *
 * LeakSanitizer alone reports a leak when a process exits, but Criterion runs each test in a
 * worker process that has already sent "passed" by then, and the runner ignores how the worker
 * exits: the report is printed, the test counted as passed, the program exits 0. So this file
 * takes the place of Criterion's criterion_internal_test_main (the trampoline of every Test()
 * in the test program calls it, so the linker takes this definition out of the test support
 * library before it looks in libcriterion) and runs
 * the test body followed by a leak check, in the worker, while the test is still in its main
 * phase: a leak fails that very test with an assertion, and so the program and ctest.
 *
 * Memory a test frees in its .fini is still reachable from a global when the check runs, so
 * it is not counted; only memory nothing points to any more is.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ECL_TEST_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ECL_TEST_LSAN 1
#endif

#ifdef ECL_TEST_LSAN
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <sanitizer/lsan_interface.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

void criterion_internal_test_main(void (*fn)(void));

static void (*test_body)(void);

/* A parameterized test's body takes its parameter: Criterion calls the function it was given
 * with one argument then, with none for the other tests. The argument is passed on either
 * way, as Criterion itself does with the bodies (on the ABIs it supports, a function that takes
 * no argument ignores one it is given). */
static void body_then_leak_check(void *param)
{
	((void (*)(void *))test_body)(param);
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
		     "LeakSanitizer: the test leaked memory (the report above says where it "
		     "was allocated)");
}

void criterion_internal_test_main(void (*fn)(void))
{
	void (*real)(void (*)(void));
	void *sym = dlsym(RTLD_NEXT, "criterion_internal_test_main");

	if (!sym) {
		fprintf(stderr, "leak_check.c: no criterion_internal_test_main in libcriterion\n");
		abort();
	}
	/* (a data pointer to a function pointer: POSIX guarantees dlsym's result converts) */
	*(void **)&real = sym;
	test_body = fn;
	real((void (*)(void))body_then_leak_check);
}
#else
/* (ISO C wants something in every translation unit) */
typedef int ecl_test_no_leak_check;
#endif
