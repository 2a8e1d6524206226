/*
 * util.h - what the benchmark programs share: a monotonic clock and the median of samples.
 */
#ifndef ECL_BENCH_UTIL_H
#define ECL_BENCH_UTIL_H

/* Seconds on the monotonic clock. */
double bench_now_s(void);

/* The median of the n > 0 samples in v; sorts v. */
double bench_median(double *v, int n);

/* Print the program's name, then fmt with detail on stderr, and exit with status 1. */
void bench_die(const char *fmt, const char *detail) __attribute__((noreturn));

/* The name bench_die prints (the program's own, set by main). */
extern const char *bench_name;

#endif /* ECL_BENCH_UTIL_H */
