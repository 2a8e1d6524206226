/*
 * util.c - what the benchmark programs share (util.h).
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

const char *bench_name = "ecl_bench";

void bench_die(const char *fmt, const char *detail)
{
	fprintf(stderr, "%s: ", bench_name);
	fprintf(stderr, fmt, detail);
	fputc('\n', stderr);
	exit(1);
}

double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}
