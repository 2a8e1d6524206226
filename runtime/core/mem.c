/*
 * mem.c - the allocator seam. Every allocation of the runtime (and of cJSON) passes through
 * here, so a test can make the N-th allocation fail and check that nothing leaks or breaks.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testhooks.h"

/* Allocations left before one fails; negative: never fail. Only tests set it. */
static long fail_countdown = -1;
/* Allocations that returned NULL, injected or not. */
static unsigned long failures;

void ecl_test_fail_alloc_after(long n)
{
	fail_countdown = n;
}

static int should_fail(void)
{
	if (fail_countdown < 0)
		return 0;
	if (fail_countdown == 0)
		return 1;
	fail_countdown--;
	return 0;
}

static void *counted(void *p)
{
	if (!p)
		failures++;
	return p;
}

void *mem_alloc(size_t n)
{
	return counted(should_fail() ? NULL : malloc(n ? n : 1));
}

void *mem_calloc(size_t count, size_t size)
{
	return counted(should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1));
}

void *mem_realloc(void *p, size_t n)
{
	return counted(should_fail() ? NULL : realloc(p, n ? n : 1));
}

unsigned long mem_failures(void)
{
	return failures;
}

cJSON *json_parse(const char *text, size_t len, int *oom)
{
	unsigned long failed = failures;
	cJSON *json = cJSON_ParseWithLength(text, len);

	*oom = !json && failures != failed;
	return json;
}

cJSON *json_parse_str(const char *text, int *oom)
{
	return json_parse(text, strlen(text) + 1, oom); /* the NUL too, as cJSON_Parse reads */
}

void mem_free(void *p)
{
	free(p);
}

char *mem_strndup(const char *s, size_t n)
{
	char *d = mem_alloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

char *mem_strdup(const char *s)
{
	return s ? mem_strndup(s, strlen(s)) : NULL;
}

void mem_init(void)
{
	cJSON_Hooks hooks = {mem_alloc, mem_free};

	cJSON_InitHooks(&hooks);
}
