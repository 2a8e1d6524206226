/*
 * util.h - what the benchmark programs share: a monotonic clock and the median of samples.
 */
#ifndef ECL_BENCH_UTIL_H
#define ECL_BENCH_UTIL_H

/* Seconds on the monotonic clock. */
double bench_now_s(void);

/* The median of the n > 0 samples in v; sorts v. */
double bench_median(double *v, int n);

#endif /* ECL_BENCH_UTIL_H */
