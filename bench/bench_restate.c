/*
 * bench_restate.c - the shared workload (variant A: the in-process fake LLM, workflows one at
 * a time) through a Restate server and `ecl serve`: each workflow is submitted through the
 * ingress and awaited, and the figure is microseconds per checkpointed step (six steps per
 * workflow), beside what `ecl_bench a` gives for the local store. bench/bench_restate starts
 * the servers; this program only drives them.
 *
 *   bench_restate INGRESS-URL [--n 200] [--warmup 10]
 * Prints one JSON line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ecl.h"

#define STEPS_PER_WORKFLOW 6

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int one(const char *url, int i, const char *tag)
{
	char id[64], inputs[128], err[1024];
	char *output = NULL;

	snprintf(id, sizeof(id), "b%s%d-%d", tag, (int)getpid(), i);
	snprintf(inputs, sizeof(inputs), "{\"wf\": \"%s\", \"topic\": \"Benefits of Rust\"}", id);
	if (ecl_restate_submit(url, "bench-critique-revise", id, inputs, err, sizeof(err)) !=
		    ECL_OK ||
	    ecl_restate_attach(url, "bench-critique-revise", id, &output, err, sizeof(err)) !=
		    ECL_OK) {
		fprintf(stderr, "bench_restate: %s\n", err);
		return -1;
	}
	if (!strstr(output, "\"revisions\":2")) {
		fprintf(stderr, "bench_restate: unexpected output %s\n", output);
		free(output);
		return -1;
	}
	free(output);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 200, warmup = 10, i;
	long long t0, us;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_restate INGRESS-URL [--n N] [--warmup N]\n");
		return 2;
	}
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--n") == 0)
			n = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--warmup") == 0)
			warmup = atoi(argv[i + 1]);
	}
	for (i = 0; i < warmup; i++)
		if (one(argv[1], i, "w") != 0)
			return 1;
	t0 = now_us();
	for (i = 0; i < n; i++)
		if (one(argv[1], i, "m") != 0)
			return 1;
	us = now_us() - t0;
	printf("{\"variant\": \"A\", \"engine\": \"restate\", \"workflows\": %d, "
	       "\"workflows_per_s\": %.1f, \"us_per_step\": %.0f}\n",
	       n, (double)n * 1e6 / (double)us, (double)us / ((double)n * STEPS_PER_WORKFLOW));
	return 0;
}
