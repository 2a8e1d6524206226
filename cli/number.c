/*
 * number.c - the one strict reader of numbers on ecl's command line: counts, durations in
 * seconds and ages. Decimal digits only (no sign, hex, exponent, space, `nan` or `inf`, which
 * strtod and strtol would take), and never past the largest value a caller allows, so that
 * `--max-answer-bytes 99999999999999999999` or `--older-than 0x10d` is an error, not a
 * silently different number.
 */
#include <string.h>

#include "cli.h"

/* digits[.digits] as a value scaled by `scale` (e.g. 1000 for seconds to ms), rounded down;
 * -1 when malformed or larger than max. */
static long long scaled(const char *text, size_t len, long long scale, long long max)
{
	long long whole = 0, frac = 0, div = 1;
	size_t i = 0;
	int digits = 0;

	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
		if (whole > max / 10)
			return -1;
		whole = whole * 10 + (text[i] - '0');
	}
	if (i < len && text[i] == '.') {
		i++;
		for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++)
			if (div < 1000000000000LL) { /* digits past a picosecond change nothing */
				frac = frac * 10 + (text[i] - '0');
				div *= 10;
			}
		if (text[i - 1] == '.')
			return -1; /* "1." */
	}
	if (i != len || digits == 0 || whole > max / scale)
		return -1;
	whole = whole * scale + frac * scale / div;
	return whole > max ? -1 : whole;
}

int cli_parse_count(const char *text, long long min, long long max, long long *out)
{
	long long v;
	size_t i, len = strlen(text);

	for (i = 0; i < len; i++)
		if (text[i] < '0' || text[i] > '9')
			return -1;
	v = scaled(text, len, 1, max);
	if (v < 0 || v < min)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_seconds(const char *text, long *ms)
{
	long long v = scaled(text, strlen(text), 1000, CLI_SECONDS_MAX * 1000LL);

	if (v < 1)
		return -1;
	*ms = (long)v;
	return 0;
}

long long cli_parse_age(const char *text)
{
	static const struct {
		char unit;
		long long ms;
	} units[] = {{'d', 86400000LL}, {'h', 3600000LL}, {'m', 60000LL}, {'s', 1000LL}};
	size_t len = strlen(text), k;
	long long scale = 1000;

	if (len == 0)
		return -1;
	for (k = 0; k < sizeof(units) / sizeof(units[0]); k++)
		if (text[len - 1] == units[k].unit) {
			scale = units[k].ms;
			len--;
			break;
		}
	/* a hundred years at most: an age is compared with a time in ms since 1970 */
	return scaled(text, len, scale, 100LL * 366 * 86400000LL);
}
