/*
 * testhooks.h - fault injection for tests. Not part of the public API: programs other than
 * the tests never call these.
 */
#ifndef ECL_TESTHOOKS_H
#define ECL_TESTHOOKS_H

/* Let n more allocations succeed, then fail every one; n < 0 turns failing off. */
void ecl_test_fail_alloc_after(long n);

#endif /* ECL_TESTHOOKS_H */
