/*
 * buf.c - a growable, NUL-terminated byte buffer. An allocation failure is remembered in
 * the buffer (oom) instead of being checked after every append; callers check once.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int grow(buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = mem_realloc(b->data, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void buf_append(buf *b, const char *s, size_t n)
{
	if (grow(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_puts(buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_printf(buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	int n;

	if (b->oom)
		return;
	/* Most texts fit the room left: format once, straight into it. */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (room)
			b->data[b->len] = '\0';
		return;
	}
	if ((size_t)n >= room) {
		if (grow(b, (size_t)n)) {
			if (room)
				b->data[b->len] = '\0';
			return;
		}
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* The bytes a JSON string escapes (as cJSON prints them): control characters, '"', '\\'. */
static const unsigned char json_escaped[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: '\\' */
};

void buf_json_str(buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run;

	if (grow(b, n + 2)) /* room for the usual string, with nothing to escape */
		return;
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
	for (;;) {
		char esc[6];

		/* a run of bytes that need no escape (a usual text but its line breaks) */
		for (run = p; p < end && !json_escaped[*p]; p++)
			;
		buf_append(b, (const char *)run, (size_t)(p - run));
		if (p == end)
			break;
		esc[0] = '\\';
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
		}
		buf_append(b, esc, esc[1] == 'u' ? 6 : 2);
		p++;
	}
	buf_append(b, "\"", 1);
}

void buf_json_key(buf *b, int first, const char *name)
{
	if (!first)
		buf_append(b, ",", 1);
	buf_json_str(b, name, strlen(name));
	buf_append(b, ":", 1);
}

void buf_free(buf *b)
{
	mem_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
