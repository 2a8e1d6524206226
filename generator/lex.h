/*
 * lex.h - tokens of the .ecl language, the lexer (lex.re, compiled by re2c) and the decoding
 * of string literals, which the parser needs both as plain text and as templates.
 */
#ifndef ECLC_LEX_H
#define ECLC_LEX_H

#include <stddef.h>

#include "mem.h"

struct unit;

enum lex_kind {
	LEX_EOF,
	LEX_IDENT,    /* keywords too: see kw */
	LEX_INT,      /* ival */
	LEX_NUMBER,   /* fval; the source text is the literal */
	LEX_DURATION, /* ival in milliseconds */
	LEX_STRING,   /* decoded with lex_str_*; triple for """...""" */
	LEX_LBRACE,
	LEX_RBRACE,
	LEX_LPAREN,
	LEX_RPAREN,
	LEX_COLON,
	LEX_COMMA,
	LEX_DOT,
	LEX_DOTDOT,
	LEX_PIPE,
	LEX_QUESTION,
	LEX_ARROW,
	LEX_ASSIGN,
	LEX_EQ,
	LEX_NE,
	LEX_LT,
	LEX_LE,
	LEX_GT,
	LEX_GE,
	LEX_PLUS,
	LEX_MINUS,
	LEX_STAR,
	LEX_SLASH,
	LEX_PERCENT
};

/* Words with a meaning somewhere in the grammar. They are identifiers everywhere else, except
 * the reserved ones (lex_reserved), which an expression or a target could not tell apart. */
enum lex_kw {
	KW_NONE,
	KW_AND,
	KW_AS,
	KW_BOOL,
	KW_CALL,
	KW_CODE,
	KW_DESCRIPTION,
	KW_DONE,
	KW_ELSE,
	KW_FAIL,
	KW_FALSE,
	KW_FLOAT,
	KW_HUMAN,
	KW_INPUT,
	KW_INT,
	KW_LEN,
	KW_LIMIT,
	KW_LIST,
	KW_LLM,
	KW_MAX_TOKENS,
	KW_MODEL,
	KW_NAME,
	KW_NOT,
	KW_OR,
	KW_OUTPUT,
	KW_PROMPT,
	KW_QUESTION,
	KW_REPAIR,
	KW_RETRY,
	KW_SET,
	KW_STRING,
	KW_SYSTEM,
	KW_TEMPERATURE,
	KW_TIMEOUT,
	KW_TRUE,
	KW_VAR,
	KW_WHEN,
	KW_WORKFLOW
};

struct lex_token {
	enum lex_kind kind;
	enum lex_kw kw;
	size_t off, len; /* the token's bytes in the source */
	long long ival;
	double fval;
	/* flags as chars: a long file has many tokens */
	char triple; /* LEX_STRING written """...""" */
	char open;   /* LEX_STRING missing its closing quotes (already reported) */
	char bad;    /* a malformed literal, already reported: the parser says no more */
};

/* Fill u->toks, ending with LEX_EOF; report lexical errors (and go on after them). */
void lex_run(struct unit *u);

/* The spelling of a keyword, and whether it can name nothing. */
const char *lex_kw_name(enum lex_kw kw);
int lex_reserved(enum lex_kw kw);
/* How a message names a token kind ("a string", "`{`"). */
const char *lex_kind_name(enum lex_kind kind);

/* Walks the characters of a string literal after escapes and, for """...""", the removal of
 * the opening newline and of the common indentation. */
struct lex_str {
	const char *src; /* the whole source */
	size_t pos, end; /* raw content still to read */
	int triple;
	size_t indent; /* bytes of indentation removed at each line start */
	int line_start;
};

void lex_str_init(struct lex_str *s, const char *src, const struct lex_token *t);
/* The next decoded byte in *c, whether it came from an escape, and the source offset of what
 * produced it. Returns 0 at the end. */
int lex_str_next(struct lex_str *s, int *c, int *escaped, size_t *off);

/* Length of the valid UTF-8 sequence at p (at most end - p bytes), or 0 when invalid. */
size_t lex_utf8_len(const unsigned char *p, const unsigned char *end);

#endif /* ECLC_LEX_H */
