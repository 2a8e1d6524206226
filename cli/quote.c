/*
 * quote.c - a word of a command line the ecl command prints for the user to run (the
 * database path in "resume it with: ecl --db PATH resume ID"), quoted for a POSIX shell, so
 * that a path with spaces, quotes or a newline is pasted back as the same path.
 */
#include <string.h>

#include "cli.h"

const char *cli_shell_word(const char *s, char *buf, size_t len)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_./:@%+=,-";
	size_t used = 0;

	if (*s && strspn(s, safe) == strlen(s))
		return s;
	/* 'text', each ' written as '\'' (end the quote, an escaped quote, quote again) */
	if (len < 3)
		return "''";
	buf[used++] = '\'';
	for (; *s && used + 6 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + used, "'\\''", 4);
			used += 4;
		} else {
			buf[used++] = *s;
		}
	}
	buf[used++] = '\'';
	buf[used] = '\0';
	return buf;
}
