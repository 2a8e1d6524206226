/*
 * emit.c - what the emitters share: the C name of a workflow's descriptor (the C file defines
 * it, the registry refers to it), its version, and source text on one line for comments and
 * graph labels, and the JSON Schema of a step's output.
 */
#include <stdint.h>

#include "ast.h"
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

/* One field's type as a JSON Schema: an int's range as minimum and maximum, an enum's choices
 * as "enum", a list as an array of strings. */
static void emit_schema_type(struct mem_buf *b, const struct ast_type *t)
{
	int i;

	switch (t->kind) {
	case AST_T_INT:
		eclc_mem_buf_puts(b, "{\"type\":\"integer\"");
		if (t->has_range)
			eclc_mem_buf_printf(b, ",\"minimum\":%lld,\"maximum\":%lld", t->min,
					    t->max);
		eclc_mem_buf_putc(b, '}');
		break;
	case AST_T_FLOAT: eclc_mem_buf_puts(b, "{\"type\":\"number\"}"); break;
	case AST_T_BOOL: eclc_mem_buf_puts(b, "{\"type\":\"boolean\"}"); break;
	case AST_T_LIST:
		eclc_mem_buf_puts(b, "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}");
		break;
	case AST_T_ENUM:
		eclc_mem_buf_puts(b, "{\"type\":\"string\",\"enum\":[");
		for (i = 0; i < t->nchoices; i++) {
			if (i)
				eclc_mem_buf_putc(b, ',');
			ast_json_str(b, t->choices[i].s);
		}
		eclc_mem_buf_puts(b, "]}");
		break;
	default: /* AST_T_STRING; a checked workflow has no AST_T_ERROR */
		eclc_mem_buf_puts(b, "{\"type\":\"string\"}");
		break;
	}
}

const char *emit_schema(struct mem *m, const struct ast_step *st)
{
	struct mem_buf b;
	int i, n = 0;

	eclc_mem_buf_init(&b, m);
	eclc_mem_buf_puts(&b, "{\"type\":\"object\",\"properties\":{");
	for (i = 0; i < st->nfields; i++) {
		if (i)
			eclc_mem_buf_putc(&b, ',');
		ast_json_str(&b, st->fields[i].name.s);
		eclc_mem_buf_putc(&b, ':');
		emit_schema_type(&b, &st->fields[i].type);
	}
	eclc_mem_buf_puts(&b, "},\"required\":[");
	for (i = 0; i < st->nfields; i++) {
		if (st->fields[i].optional)
			continue;
		if (n++)
			eclc_mem_buf_putc(&b, ',');
		ast_json_str(&b, st->fields[i].name.s);
	}
	eclc_mem_buf_puts(&b, "],\"additionalProperties\":false}");
	return eclc_mem_buf_str(&b);
}
