/*
 * lex.re - the lexer of .ecl files, compiled by re2c into lex.c; and the decoding of string
 * literals (escapes, and the indentation of """...""" strings).
 *
 * The whole file is tokenised before parsing: the parser then looks ahead freely, and
 * --dump-tokens shows exactly what it sees. Errors are reported and skipped, so that one bad
 * character does not hide the diagnostics after it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lex.h"
#include "unit.h"

/* Larger sources are refused: no workflow is that big, and offsets and line numbers then
 * fit an int everywhere. */

struct lexer {
	struct unit *u;
	const unsigned char *base, *cur, *lim, *mar;
	size_t cap;
};

/* Sorted by name, in the order of enum lex_kw, so that a binary search finds a keyword. */
static const char *const lex_kw_names[] = {
	"",         "and",         "as",      "bool",       "call",   "code",   "description",
	"done",     "else",        "fail",    "false",      "float",  "human",  "input",
	"int",      "len",         "limit",   "list",       "llm",    "max_tokens",
	"model",    "name",        "not",     "or",         "output", "prompt", "question",
	"repair",   "retry",       "set",     "string",     "system", "temperature",
	"timeout",  "true",        "var",     "when",       "workflow",
};

_Static_assert(sizeof(lex_kw_names) / sizeof(lex_kw_names[0]) == KW_WORKFLOW + 1,
	       "one name per keyword");

const char *lex_kw_name(enum lex_kw kw)
{
	return lex_kw_names[kw];
}

int lex_reserved(enum lex_kw kw)
{
	switch (kw) {
	case KW_AND:
	case KW_DONE:
	case KW_FAIL:
	case KW_FALSE:
	case KW_LEN:
	case KW_NOT:
	case KW_OR:
	case KW_TRUE: return 1;
	default: return 0;
	}
}

const char *lex_kind_name(enum lex_kind kind)
{
	switch (kind) {
	case LEX_EOF: return "end of file";
	case LEX_IDENT: return "a name";
	case LEX_INT: return "an integer";
	case LEX_NUMBER: return "a number";
	case LEX_DURATION: return "a duration";
	case LEX_STRING: return "a string";
	case LEX_LBRACE: return "`{`";
	case LEX_RBRACE: return "`}`";
	case LEX_LPAREN: return "`(`";
	case LEX_RPAREN: return "`)`";
	case LEX_COLON: return "`:`";
	case LEX_COMMA: return "`,`";
	case LEX_DOT: return "`.`";
	case LEX_DOTDOT: return "`..`";
	case LEX_PIPE: return "`|`";
	case LEX_QUESTION: return "`?`";
	case LEX_ARROW: return "`->`";
	case LEX_ASSIGN: return "`=`";
	case LEX_EQ: return "`==`";
	case LEX_NE: return "`!=`";
	case LEX_LT: return "`<`";
	case LEX_LE: return "`<=`";
	case LEX_GT: return "`>`";
	case LEX_GE: return "`>=`";
	case LEX_PLUS: return "`+`";
	case LEX_MINUS: return "`-`";
	case LEX_STAR: return "`*`";
	case LEX_SLASH: return "`/`";
	case LEX_PERCENT: return "`%`";
	}
	return "a token";
}

static enum lex_kw lex_keyword(const unsigned char *s, size_t n)
{
	size_t lo = 1, hi = sizeof(lex_kw_names) / sizeof(lex_kw_names[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(lex_kw_names[mid], (const char *)s, n);

		if (c == 0 && lex_kw_names[mid][n] != '\0')
			c = 1;
		if (c == 0)
			return (enum lex_kw)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return KW_NONE;
}

size_t lex_utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n, i;
	unsigned lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range excludes overlong forms, surrogates and code points beyond
	 * U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static struct lex_token *lex_push(struct lexer *lx, enum lex_kind kind, const unsigned char *tok)
{
	struct unit *u = lx->u;
	struct lex_token *t;

	u->toks = eclc_mem_grow(&u->mem, u->toks, u->ntoks, &lx->cap, sizeof(*u->toks));
	t = &u->toks[u->ntoks++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->off = (size_t)(tok - lx->base);
	t->len = (size_t)(lx->cur - tok);
	return t;
}

static void lex_error(struct lexer *lx, enum diag_id id, const unsigned char *at, size_t len,
		      const char *arg)
{
	diag_report(lx->u, id, (size_t)(at - lx->base), len, arg);
}

/* The token's text as a string, for messages. */
static const char *lex_text(struct lexer *lx, const unsigned char *tok)
{
	return eclc_mem_strndup(&lx->u->mem, (const char *)tok, (size_t)(lx->cur - tok));
}

static void lex_int(struct lexer *lx, const unsigned char *tok, long long scale)
{
	const unsigned char *p;
	struct lex_token *t;
	long long v = 0;
	int over = 0;

	for (p = tok; p < lx->cur && *p >= '0' && *p <= '9'; p++) {
		if (v > (LLONG_MAX - (*p - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (*p - '0');
	}
	if (!over && v > LLONG_MAX / scale)
		over = 1;
	if (over) {
		lex_error(lx, D_NUM_RANGE, tok, (size_t)(lx->cur - tok), lex_text(lx, tok));
		v = 0;
	}
	t = lex_push(lx, scale > 1 || p < lx->cur ? LEX_DURATION : LEX_INT, tok);
	t->ival = v * scale;
}

static void lex_number(struct lexer *lx, const unsigned char *tok)
{
	const char *text = lex_text(lx, tok);
	struct lex_token *t;
	double v;

	errno = 0;
	v = strtod(text, NULL);
	if (errno == ERANGE) {
		lex_error(lx, D_NUM_RANGE, tok, (size_t)(lx->cur - tok), text);
		v = 0;
	}
	t = lex_push(lx, LEX_NUMBER, tok);
	t->fval = v;
}

/* A string literal; lx->cur is just past its opening quotes. Escapes and UTF-8 are checked
 * here so that decoding (lex_str_next) cannot fail. */
static void lex_string(struct lexer *lx, const unsigned char *tok, int triple)
{
	const unsigned char *p = lx->cur, *lim = lx->lim;
	struct lex_token *t;
	int open = 1;

	while (p < lim) {
		if (*p == '"') {
			if (!triple) {
				p++;
				open = 0;
				break;
			}
			if (lim - p >= 3 && p[1] == '"' && p[2] == '"') {
				p += 3;
				open = 0;
				break;
			}
			p++;
		} else if (*p == '\n' && !triple) {
			break;
		} else if (*p == '\\') {
			size_t n = p + 1 < lim ? lex_utf8_len(p + 1, lim) : 0;

			if (p + 1 < lim && strchr("nt\"\\{", p[1]) && p[1] != '\0') {
				p += 2;
				continue;
			}
			if (n == 0 || p[1] == '\n' || p[1] == '\r')
				n = 0;
			lex_error(lx, D_BAD_ESCAPE, p, 1 + n,
				  eclc_mem_strndup(&lx->u->mem, (const char *)p + 1, n));
			diag_help(lx->u, lx->u->diags[lx->u->ndiags - 1],
				  "the escapes are \\n \\t \\\" \\\\ and \\{");
			p += 1 + n;
		} else if (*p == '\0') {
			diag_report(lx->u, D_BAD_BYTE, (size_t)(p - lx->base), 1, 0u);
			p++;
		} else {
			size_t n = lex_utf8_len(p, lim);

			if (n == 0) {
				diag_report(lx->u, D_BAD_BYTE, (size_t)(p - lx->base), 1,
					    (unsigned)*p);
				n = 1;
			}
			p += n;
		}
	}
	lx->cur = p;
	if (open)
		lex_error(lx, D_UNTERMINATED, tok, (size_t)(p - tok), NULL);
	t = lex_push(lx, LEX_STRING, tok);
	t->triple = (char)triple;
	t->open = (char)open;
}

static void lex_bad_number(struct lexer *lx, const unsigned char *tok)
{
	lex_error(lx, D_BAD_NUMBER, tok, (size_t)(lx->cur - tok), lex_text(lx, tok));
	diag_help(lx->u, lx->u->diags[lx->u->ndiags - 1],
		  "a duration is written like 500ms, 30s or 2m");
	lex_push(lx, LEX_INT, tok)->bad = 1;
}

static void lex_word(struct lexer *lx, const unsigned char *tok)
{
	struct lex_token *t = lex_push(lx, LEX_IDENT, tok);

	t->kw = lex_keyword(tok, t->len);
}

static void lex_bad(struct lexer *lx, const unsigned char *tok)
{
	if (*tok > 0x20 && *tok < 0x7f)
		lex_error(lx, D_BAD_CHAR, tok, 1, lex_text(lx, tok));
	else
		diag_report(lx->u, D_BAD_BYTE, (size_t)(tok - lx->base), 1, (unsigned)*tok);
}

/*!re2c
	re2c:define:YYCTYPE = "unsigned char";
	re2c:define:YYCURSOR = "lx->cur";
	re2c:define:YYMARKER = "lx->mar";
	re2c:define:YYLIMIT = "lx->lim";
	re2c:yyfill:enable = 0;
	re2c:eof = 0;

	digit = [0-9];
	ident = [a-zA-Z_][a-zA-Z0-9_]*;
	int = digit+;
	number = digit+ "." digit+ ([eE] [+-]? digit+)? | digit+ [eE] [+-]? digit+;
	utf8 = [\xc2-\xdf][\x80-\xbf]
	     | "\xe0"[\xa0-\xbf][\x80-\xbf]
	     | [\xe1-\xec\xee\xef][\x80-\xbf]{2}
	     | "\xed"[\x80-\x9f][\x80-\xbf]
	     | "\xf0"[\x90-\xbf][\x80-\xbf]{2}
	     | [\xf1-\xf3][\x80-\xbf]{3}
	     | "\xf4"[\x80-\x8f][\x80-\xbf]{2};
*/

static void lex_scan(struct lexer *lx)
{
	for (;;) {
		const unsigned char *tok = lx->cur;

		/*!re2c
		$                   { lex_push(lx, LEX_EOF, tok); return; }
		[ \t\r\n]+          { continue; }
		"#" [^\n]*          { continue; }
		ident               { lex_word(lx, tok); continue; }
		int                 { lex_int(lx, tok, 1); continue; }
		int "ms"            { lex_int(lx, tok, 1); continue; }
		int "s"             { lex_int(lx, tok, 1000); continue; }
		int "m"             { lex_int(lx, tok, 60000); continue; }
		number              { lex_number(lx, tok); continue; }
		(int | number) [a-zA-Z_] [a-zA-Z0-9_]* { lex_bad_number(lx, tok); continue; }
		'"""'               { lex_string(lx, tok, 1); continue; }
		'"'                 { lex_string(lx, tok, 0); continue; }
		"{"                 { lex_push(lx, LEX_LBRACE, tok); continue; }
		"}"                 { lex_push(lx, LEX_RBRACE, tok); continue; }
		"("                 { lex_push(lx, LEX_LPAREN, tok); continue; }
		")"                 { lex_push(lx, LEX_RPAREN, tok); continue; }
		":"                 { lex_push(lx, LEX_COLON, tok); continue; }
		","                 { lex_push(lx, LEX_COMMA, tok); continue; }
		"."                 { lex_push(lx, LEX_DOT, tok); continue; }
		".."                { lex_push(lx, LEX_DOTDOT, tok); continue; }
		"|"                 { lex_push(lx, LEX_PIPE, tok); continue; }
		"?"                 { lex_push(lx, LEX_QUESTION, tok); continue; }
		"->"                { lex_push(lx, LEX_ARROW, tok); continue; }
		"="                 { lex_push(lx, LEX_ASSIGN, tok); continue; }
		"=="                { lex_push(lx, LEX_EQ, tok); continue; }
		"!="                { lex_push(lx, LEX_NE, tok); continue; }
		"<"                 { lex_push(lx, LEX_LT, tok); continue; }
		"<="                { lex_push(lx, LEX_LE, tok); continue; }
		">"                 { lex_push(lx, LEX_GT, tok); continue; }
		">="                { lex_push(lx, LEX_GE, tok); continue; }
		"+"                 { lex_push(lx, LEX_PLUS, tok); continue; }
		"-"                 { lex_push(lx, LEX_MINUS, tok); continue; }
		"*"                 { lex_push(lx, LEX_STAR, tok); continue; }
		"/"                 { lex_push(lx, LEX_SLASH, tok); continue; }
		"%"                 { lex_push(lx, LEX_PERCENT, tok); continue; }
		utf8                { lex_error(lx, D_BAD_CHAR, tok, (size_t)(lx->cur - tok),
						lex_text(lx, tok)); continue; }
		*                   { lex_bad(lx, tok); continue; }
		*/
	}
}

void lex_run(struct unit *u)
{
	struct lexer lx;

	memset(&lx, 0, sizeof(lx));
	lx.u = u;
	lx.base = (const unsigned char *)u->src.text;
	lx.cur = lx.base;
	lx.lim = lx.base + u->src.len;
	if (u->src.len > (size_t)ECLC_MAX_MIB << 20) {
		diag_report(u, D_TOO_BIG, 0, 0, ECLC_MAX_MIB);
		lx.cur = lx.lim;
	}
	/* re2c reads the NUL after the source (src.text is terminated) as the end. */
	lex_scan(&lx);
}

static int lex_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

void lex_str_init(struct lex_str *s, const char *src, const struct lex_token *t)
{
	size_t q = t->triple ? 3 : 1, first = 0, len = 0, p, line;
	int have = 0;

	memset(s, 0, sizeof(*s));
	s->src = src;
	s->triple = t->triple;
	s->pos = t->off + q;
	s->end = t->off + t->len - (t->open ? 0 : q);
	if (s->end < s->pos)
		s->end = s->pos;
	if (!t->triple)
		return;
	/* Drop the line break after the opening quotes. */
	for (p = s->pos; p < s->end && lex_blank(src[p]); p++)
		;
	if (p < s->end && src[p] == '\n')
		s->pos = p + 1;
	/* Drop the indentation of the closing quotes, keeping the line break before them. */
	for (p = s->end; p > s->pos && lex_blank(src[p - 1]); p--)
		;
	if (p > s->pos && src[p - 1] == '\n')
		s->end = p;
	/* The common indentation of the lines that are not blank. */
	for (line = s->pos; line < s->end;) {
		size_t ws = line, eol;

		while (ws < s->end && (src[ws] == ' ' || src[ws] == '\t'))
			ws++;
		for (eol = ws; eol < s->end && src[eol] != '\n'; eol++)
			;
		for (p = ws; p < eol && lex_blank(src[p]); p++)
			;
		if (p < eol) {
			if (!have) {
				first = line;
				len = ws - line;
				have = 1;
			} else {
				size_t i = 0;

				while (i < len && i < ws - line && src[line + i] == src[first + i])
					i++;
				len = i;
			}
		}
		line = eol + 1;
	}
	s->indent = len;
	s->line_start = 1;
}

int lex_str_next(struct lex_str *s, int *c, int *escaped, size_t *off)
{
	const char *src = s->src;

	while (s->pos < s->end) {
		size_t p = s->pos;

		if (s->line_start) {
			s->line_start = 0;
			while (p < s->end && lex_blank(src[p]))
				p++;
			/* A blank line keeps only its line break. */
			s->pos = p == s->end || src[p] == '\n' ? p : s->pos + s->indent;
			continue;
		}
		*escaped = 0;
		*off = p;
		if (src[p] == '\r' && p + 1 < s->end && src[p + 1] == '\n') {
			s->pos++;
			continue;
		}
		if (src[p] == '\n') {
			s->line_start = s->triple;
		} else if (src[p] == '\\' && p + 1 < s->end) {
			*escaped = 1;
			s->pos += 2;
			*c = src[p + 1] == 'n'   ? '\n'
			     : src[p + 1] == 't' ? '\t'
						 : (unsigned char)src[p + 1];
			return 1;
		}
		*c = (unsigned char)src[p];
		s->pos++;
		return 1;
	}
	return 0;
}
