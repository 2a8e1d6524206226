/*
 * mem.c - the arena, buffers and maps of mem.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

#define MEM_CHUNK 65536

struct mem_chunk {
	struct mem_chunk *next;
	max_align_t data[]; /* aligns what follows for any object */
};

struct mem_map_ent {
	const char *key;
	int value;
};

/* Never returns: the compilation unwinds to its recovery point. */
_Noreturn static void mem_fail(struct mem *m)
{
	longjmp(*m->oom, 1);
}

/* Memory for size bytes, aligned for any object, as the arena had it: for what is written
 * before it is read (the text buffers), which need not pay for zeroing. */
static void *mem_take(struct mem *m, size_t size)
{
	const size_t align = _Alignof(max_align_t);
	struct mem_chunk *c;
	size_t want;
	void *p;

	if (size > SIZE_MAX / 2)
		mem_fail(m);
	size = (size + align - 1) / align * align;
	if (size > m->left) {
		want = size > MEM_CHUNK ? size : MEM_CHUNK;
		c = m->alloc(m->ud, NULL, sizeof(*c) + want);
		if (!c)
			mem_fail(m);
		c->next = m->chunks;
		m->chunks = c;
		m->cur = (char *)c->data;
		m->left = want;
	}
	p = m->cur;
	m->cur += size;
	m->left -= size;
	return p;
}

void *eclc_mem_alloc(struct mem *m, size_t size)
{
	void *p = mem_take(m, size);

	memset(p, 0, size);
	return p;
}

/* How much a full array or buffer of cap bytes grows: twice, or four times once it is big.
 * The arena never writes memory it hands out, so the pages of a big array's unused tail are
 * never touched, and growing faster saves copies of what is already there. */
static size_t mem_factor(size_t cap)
{
	return cap < MEM_CHUNK ? 2 : 4;
}

void *eclc_mem_grow(struct mem *m, void *arr, size_t n, size_t *cap, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	/* *cap may be behind n when an array grows from several places (a step's second output
	 * block): grow past n whatever it says */
	for (ncap = *cap ? *cap : 4; ncap <= n; ncap *= mem_factor(ncap * size))
		if (ncap > SIZE_MAX / 8 / size)
			mem_fail(m);
	p = mem_take(m, ncap * size);
	if (n)
		memcpy(p, arr, n * size);
	*cap = ncap;
	return p;
}

char *eclc_mem_strndup(struct mem *m, const char *s, size_t n)
{
	char *p = mem_take(m, n + 1);

	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *eclc_mem_vprintf(struct mem *m, const char *fmt, va_list ap)
{
	va_list aq;
	char *p;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		mem_fail(m);
	p = mem_take(m, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *eclc_mem_printf(struct mem *m, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = eclc_mem_vprintf(m, fmt, ap);
	va_end(ap);
	return p;
}

void eclc_mem_release(struct mem *m)
{
	struct mem_chunk *c, *next;

	for (c = m->chunks; c; c = next) {
		next = c->next;
		m->alloc(m->ud, c, 0);
	}
	m->chunks = NULL;
	m->cur = NULL;
	m->left = 0;
}

void eclc_mem_buf_init(struct mem_buf *b, struct mem *m)
{
	b->m = m;
	b->p = NULL;
	b->len = b->cap = 0;
}

void eclc_mem_buf_reset(struct mem_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void eclc_mem_buf_put(struct mem_buf *b, const char *s, size_t n)
{
	size_t ncap;
	char *p;

	if (b->len + n + 1 > b->cap) {
		if (n > SIZE_MAX / 8 - b->len)
			mem_fail(b->m);
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= mem_factor(ncap);
		p = mem_take(b->m, ncap);
		if (b->len)
			memcpy(p, b->p, b->len);
		b->p = p;
		b->cap = ncap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void eclc_mem_buf_puts(struct mem_buf *b, const char *s)
{
	eclc_mem_buf_put(b, s, strlen(s));
}

void eclc_mem_buf_putc(struct mem_buf *b, int c)
{
	char ch = (char)c;

	if (b->len + 2 > b->cap) {
		eclc_mem_buf_put(b, &ch, 1);
		return;
	}
	b->p[b->len++] = ch;
	b->p[b->len] = '\0';
}

void eclc_mem_buf_printf(struct mem_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		mem_fail(b->m);
	if ((size_t)n < sizeof(small)) {
		eclc_mem_buf_put(b, small, (size_t)n);
		return;
	}
	va_start(ap, fmt);
	eclc_mem_buf_puts(b, eclc_mem_vprintf(b->m, fmt, ap));
	va_end(ap);
}

const char *eclc_mem_buf_str(struct mem_buf *b)
{
	return b->p ? b->p : "";
}

static size_t mem_hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int eclc_mem_map_get(const struct mem_map *map, const char *key)
{
	size_t i;

	if (!map->cap)
		return -1;
	for (i = mem_hash(key) & (map->cap - 1); map->ents[i].key; i = (i + 1) & (map->cap - 1))
		if (strcmp(map->ents[i].key, key) == 0)
			return map->ents[i].value;
	return -1;
}

void eclc_mem_map_put(struct mem *m, struct mem_map *map, const char *key, int value)
{
	struct mem_map_ent *old = map->ents;
	size_t oldcap = map->cap, i;

	/* Keep the table at most half full so that probes stay short. */
	if (2 * (map->n + 1) > map->cap) {
		map->cap = oldcap ? oldcap * 2 : 16;
		if (map->cap > SIZE_MAX / 2 / sizeof(*map->ents))
			mem_fail(m);
		map->ents = eclc_mem_alloc(m, map->cap * sizeof(*map->ents));
		map->n = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i].key)
				eclc_mem_map_put(m, map, old[i].key, old[i].value);
	}
	for (i = mem_hash(key) & (map->cap - 1); map->ents[i].key; i = (i + 1) & (map->cap - 1))
		if (strcmp(map->ents[i].key, key) == 0) {
			map->ents[i].value = value;
			return;
		}
	map->ents[i].key = key;
	map->ents[i].value = value;
	map->n++;
}
