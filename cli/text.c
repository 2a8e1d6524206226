/*
 * text.c - printing text that came from outside (a model's answer, a prompt made from the
 * inputs, a question) on a terminal: a control character in it would be obeyed by the
 * terminal (colours, a new window title, a cursor moved over what was printed), so there it is
 * shown escaped instead. Piped or redirected, the text is written as it is.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_print_text(FILE *f, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;

	if (!isatty(fileno(f))) {
		fwrite(text, 1, len, f);
		return;
	}
	for (; p < end; p++) {
		if (*p == 0x1b)
			fputs("\\e", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if (*p == 0xc2 && p + 1 < end && p[1] >= 0x80 && p[1] < 0xa0)
			fprintf(f, "\\u%04x", p[1]), p++; /* a C1 control, as UTF-8 */
		else
			fputc(*p, f);
	}
}
