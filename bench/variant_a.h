/*
 * variant_a.h - variant A of the anchor workload on ecl (variant_a.c), for the benchmarks of
 * SQLite (bench.c) and PostgreSQL (pg_bench.c).
 */
#ifndef ECL_BENCH_VARIANT_A_H
#define ECL_BENCH_VARIANT_A_H

#include "ecl.h"

/* Run warmup and then n workflows of bench-critique-revise one at a time on database db (a
 * SQLite path or a postgres:// URL) with the fake provider, checking each (6 steps, 2
 * revisions, completed); the wall time of the n, in seconds. Exits on a mismatch. */
double bench_variant_a(const char *db, ecl_durability durability, long n, long warmup);

#endif /* ECL_BENCH_VARIANT_A_H */
