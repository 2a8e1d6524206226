/*
 * text.c - the one check of text entering a run. A run holds its strings as C strings and
 * prints them as JSON: a NUL would cut one silently, and bytes that are not UTF-8 would make
 * every JSON that shows them invalid. So every text from outside (an input, a model's answer,
 * a human's answer) is checked once where it comes in, raw bytes and JSON escapes alike, and
 * refused with the field and the byte at fault.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

size_t text_utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4) /* a continuation byte, an overlong lead, or past U+10FFFF */
		return 0;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if ((size_t)(end - p) < n)
		return 0;
	cp = c & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff)) /* overlong, too large, or a UTF-16 surrogate */
		return 0;
	return n;
}

/* The bytes a scan must stop at: 1 for a control character or a byte beyond ASCII, 2 for a
 * quote or a backslash (which end or escape a JSON string). Texts are mostly printable ASCII,
 * skipped through this table one byte at a time without a branch per kind. */
/* clang-format off */
static const unsigned char stop[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};
/* clang-format on */

/* The first byte of s[0..n) a run cannot hold (a NUL, or not UTF-8): its offset, or n. */
static size_t bad_byte(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t k;

	while (p < end) {
		while (p < end && stop[*p] != 1) /* the usual case first: printable ASCII */
			p++;
		if (p == end)
			break;
		if (*p == 0 || (k = text_utf8_len(p, end)) == 0)
			break;
		p += k;
	}
	return (size_t)(p - (const unsigned char *)s);
}

/* What is wrong with the byte at p, for "... holds <what>"; where it is, when a text is a
 * file's (an offset into a JSON string would only be one into its escaped form). */
static void bad_byte_says(const unsigned char *p, const unsigned char *base, char *why,
			  size_t whylen)
{
	char at[48] = "";

	if (base)
		snprintf(at, sizeof(at), " at byte %zu", (size_t)(p - base));
	if (*p == 0)
		snprintf(why, whylen, "a NUL byte%s", at);
	else
		snprintf(why, whylen, "bytes that are not UTF-8 (0x%02x%s)", *p, at);
}

int text_check(const char *s, size_t n, char *why, size_t whylen)
{
	size_t at = bad_byte(s, n);

	if (at == n)
		return ECL_OK;
	bad_byte_says((const unsigned char *)s + at, (const unsigned char *)s, why, whylen);
	return ECL_EINPUT;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (end - p < 4)
		return 0;
	for (i = 0; i < 4; i++) {
		unsigned c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return 0;
	}
	*out = v;
	return 1;
}

/* Check the string literal whose body starts at *pp (after its quote); leaves *pp after the
 * closing quote. 0, 1 with why set, or -1 when the string is not closed. */
static int check_string(const unsigned char **pp, const unsigned char *end, char *why,
			size_t whylen)
{
	const unsigned char *p = *pp;
	size_t k;

	while (p < end && *p != '"') {
		unsigned cp, lo;

		while (p < end && !stop[*p]) /* printable ASCII */
			p++;
		if (p == end || *p == '"')
			break;
		if (*p != '\\') {
			if (*p == 0 || (k = text_utf8_len(p, end)) == 0) {
				bad_byte_says(p, NULL, why, whylen);
				return 1;
			}
			p += k;
			continue;
		}
		if (p + 1 >= end)
			return -1; /* cut short: the parser says so */
		if (p[1] != 'u') {
			if (!strchr("\"\\/bfnrt", p[1]) || p[1] == 0) {
				snprintf(why, whylen, "an invalid escape `\\%c`",
					 p[1] >= 0x20 && p[1] < 0x7f ? p[1] : '?');
				return 1;
			}
			p += 2;
			continue;
		}
		if (!hex4(p + 2, end, &cp)) {
			snprintf(why, whylen, "an invalid escape `\\u` without four hex digits");
			return 1;
		}
		if (cp == 0) {
			snprintf(why, whylen,
				 "a NUL character `\\u0000`, which would cut the text");
			return 1;
		}
		if (cp >= 0xd800 && cp <= 0xdbff && p + 7 < end && p[6] == '\\' && p[7] == 'u' &&
		    hex4(p + 8, end, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
			p += 12; /* a surrogate pair: one character beyond U+FFFF */
			continue;
		}
		if (cp >= 0xd800 && cp <= 0xdfff) {
			snprintf(
				why, whylen,
				"an invalid escape `\\u%04x`: a lone UTF-16 surrogate, which is no "
				"character and cannot be written in UTF-8",
				cp);
			return 1;
		}
		p += 6;
	}
	if (p == end)
		return -1; /* not closed: the parser says so */
	*pp = p + 1;
	return 0;
}

int json_check(const char *json, size_t n, char *key, size_t keylen, char *why, size_t whylen)
{
	const unsigned char *p = (const unsigned char *)json, *end = p + n;
	const unsigned char *name = NULL; /* the last member's name, copied out on a fault only */
	size_t name_len = 0;
	int depth = 0, in_object = 0, key_pos = 0;

	key[0] = '\0';
	while (p < end) {
		const unsigned char *start;
		int was_key;

		switch (*p) {
		case '"':
			start = ++p;
			was_key = depth == 1 && in_object && key_pos;
			switch (check_string(&p, end, why, whylen)) {
			case 1:
				if (was_key)
					return 2;
				if (name)
					snprintf(key, keylen, "%.*s",
						 (int)text_cut((const char *)name, name_len,
							       keylen - 1),
						 name);
				return 1;
			case -1: return 0; /* cut short: nothing more to check */
			default: break;
			}
			if (was_key) {
				name = start;
				name_len = (size_t)(p - 1 - start);
			}
			if (depth == 0)
				return 0; /* a string alone: checked */
			break;
		case '{':
		case '[':
			if (depth++ == 0) {
				in_object = *p == '{';
				key_pos = 1;
			}
			p++;
			break;
		case '}':
		case ']':
			p++;
			if (--depth <= 0)
				return 0; /* the end of the value */
			break;
		case ',': /* a member's name comes next */
			if (depth == 1)
				key_pos = 1;
			p++;
			break;
		case ':': /* its value comes next */
			if (depth == 1)
				key_pos = 0;
			p++;
			break;
		case 0: /* outside strings: no member holds it */
			bad_byte_says(p, NULL, why, whylen);
			key[0] = '\0';
			return 1;
		default:
			if (depth == 0 && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
				return 0; /* not an object or a list: nothing holds strings */
			p++;
		}
	}
	return 0;
}

void text_one_line(char *s)
{
	unsigned char *p = (unsigned char *)s, *end = p + strlen(s);
	size_t k;

	while (p < end) {
		if (*p < 0x20 || *p == 0x7f) {
			*p++ = ' ';
		} else if (*p < 0x80) {
			p++;
		} else if ((k = text_utf8_len(p, end)) == 0) {
			*p++ = '?';
		} else {
			p += k;
		}
	}
}

size_t text_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--; /* not inside a character */
	return max;
}

int ecl_text_check(const char *text, size_t len, char *err, size_t errlen)
{
	char why[160];

	if (!text)
		return ECL_OK;
	if (text_check(text, len, why, sizeof(why)) == ECL_OK)
		return ECL_OK;
	if (err && errlen)
		snprintf(err, errlen, "it holds %s", why);
	return ECL_EINPUT;
}

int ecl_json_check(const char *json, size_t len, char *err, size_t errlen)
{
	char key[128], why[256];
	int bad = json ? json_check(json, len, key, sizeof(key), why, sizeof(why)) : 0;

	if (!bad)
		return ECL_OK;
	if (err && errlen) {
		if (bad == 2)
			snprintf(err, errlen, "a member's name holds %s", why);
		else if (key[0])
			snprintf(err, errlen, "`%s` holds %s", key, why);
		else
			snprintf(err, errlen, "the text holds %s", why);
	}
	return ECL_EINPUT;
}
