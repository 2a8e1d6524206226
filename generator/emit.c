/*
 * emit.c - what the emitters share: the C name of a workflow's descriptor (the C file defines
 * it, the registry refers to it), its version, and source text on one line for comments and
 * graph labels.
 */
#include <stdint.h>

#include "emit.h"

const char *emit_symbol(struct mem *m, const char *id)
{
	char *s = eclc_mem_printf(m, "ecl_wf__%s", id), *p;

	for (p = s; *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

const char *emit_version(struct mem *m, const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, 64 bits */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
	return eclc_mem_printf(m, "%016llx", (unsigned long long)h);
}

const char *emit_source_text(struct mem *m, const char *src, size_t off, size_t len)
{
	char *text = eclc_mem_alloc(m, len + 1), *q = text; /* never longer than the source */
	size_t i;
	int space = 0;

	for (i = off; i < off + len; i++) {
		char c = src[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = 1;
			continue;
		}
		if (space && q > text)
			*q++ = ' ';
		space = 0;
		*q++ = c;
	}
	return text;
}
