/*
 * mem.h - the compiler's memory: one arena per compilation (everything is freed at once when
 * the result is freed), growable text buffers and a string-keyed map, all in that arena.
 *
 * An allocation that fails jumps to the compilation's recovery point (mem.oom) instead of
 * returning NULL: as in Lua, the front end then needs no error path for out-of-memory at every
 * node it builds, and the jump never leaves eclc_compile.
 */
#ifndef ECLC_MEM_H
#define ECLC_MEM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include "eclc.h"

#if defined(__GNUC__)
#define MEM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MEM_PRINTF(f, a)
#endif

struct mem_chunk;

struct mem {
	eclc_alloc_fn alloc;
	void *ud;
	struct mem_chunk *chunks;
	char *cur; /* free space of the newest chunk */
	size_t left;
	jmp_buf *oom; /* where a failed allocation jumps */
};

/* Zeroed memory for size bytes, aligned for any object. */
void *eclc_mem_alloc(struct mem *m, size_t size);
/* Make room in arr (n used of *cap elements of size bytes) for one more; returns the array.
 * The new room is not zeroed. */
void *eclc_mem_grow(struct mem *m, void *arr, size_t n, size_t *cap, size_t size);
char *eclc_mem_strndup(struct mem *m, const char *s, size_t n);
char *eclc_mem_printf(struct mem *m, const char *fmt, ...) MEM_PRINTF(2, 3);
char *eclc_mem_vprintf(struct mem *m, const char *fmt, va_list ap);
/* Give every chunk back to the allocator. */
void eclc_mem_release(struct mem *m);

/* A text buffer; p is NUL-terminated once anything was written. */
struct mem_buf {
	struct mem *m;
	char *p;
	size_t len, cap;
};

void eclc_mem_buf_init(struct mem_buf *b, struct mem *m);
/* Empty it, keeping its memory for what is written next. */
void eclc_mem_buf_reset(struct mem_buf *b);
void eclc_mem_buf_put(struct mem_buf *b, const char *s, size_t n);
void eclc_mem_buf_puts(struct mem_buf *b, const char *s);
void eclc_mem_buf_putc(struct mem_buf *b, int c);
void eclc_mem_buf_printf(struct mem_buf *b, const char *fmt, ...) MEM_PRINTF(2, 3);
/* The text so far, "" when empty. */
const char *eclc_mem_buf_str(struct mem_buf *b);

/* Map from a string to a non-negative int. */
struct mem_map {
	struct mem_map_ent *ents;
	size_t cap, n;
};

/* The value of key, or -1. */
int eclc_mem_map_get(const struct mem_map *map, const char *key);
void eclc_mem_map_put(struct mem *m, struct mem_map *map, const char *key, int value);

#endif /* ECLC_MEM_H */
