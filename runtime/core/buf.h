/*
 * buf.h - a growable byte buffer (buf.c), shared by the runtime's modules.
 */
#ifndef ECL_BUF_H
#define ECL_BUF_H

#include <stddef.h>

#include "shared.h"

/* ---- a growable byte buffer (buf.c) ------------------------------------------------------- */

typedef struct buf {
	char *data; /* NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
	int oom; /* an append failed; the content is incomplete */
} buf;

ECL_SHARED void buf_append(buf *b, const char *s, size_t n);
ECL_SHARED void buf_puts(buf *b, const char *s);
ECL_SHARED void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included. */
ECL_SHARED void buf_json_str(buf *b, const char *s, size_t n);
/* Append the key of an object's member, `"name":`, after a comma unless it is the first. */
void buf_json_key(buf *b, int first, const char *name);
ECL_SHARED void buf_free(buf *b);

#endif /* ECL_BUF_H */
