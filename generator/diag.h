/*
 * diag.h - diagnostics: the table of every message eclc can give, reporting them with a
 * source position, "did you mean" suggestions, and rendering them like a C compiler does.
 */
#ifndef ECLC_DIAG_H
#define ECLC_DIAG_H

#include <stddef.h>

#include "eclc.h"
#include "mem.h"

struct unit;

/* A source file and where its lines start. */
struct diag_source {
	const char *path;
	const char *text; /* NUL-terminated copy */
	size_t len;
	size_t *lines; /* offsets of line starts */
	size_t nlines;
};

/* Every diagnostic. The code and the message format of each are in the table in diag.c; a
 * code is never reused for another meaning. */
enum diag_id {
	/* lexical */
	D_BAD_BYTE,
	D_BAD_CHAR,
	D_UNTERMINATED,
	D_BAD_ESCAPE,
	D_NUM_RANGE,
	D_BAD_NUMBER,
	D_TOO_BIG,
	/* syntax */
	D_EXPECTED,
	D_ID_SPACES,
	D_UNKNOWN_TYPE,
	D_SECOND_WORKFLOW,
	D_RESERVED,
	D_DUP_SETTING,
	D_TOO_DEEP,
	D_TOO_LONG,
	/* names */
	D_DUP_NAME,
	D_UNKNOWN_REF,
	D_UNKNOWN_STEP,
	D_UNKNOWN_FIELD,
	D_CNAME_CLASH,
	/* steps and the step graph */
	D_NO_PROMPT,
	D_NO_OUTPUT,
	D_DEAD_END,
	D_UNREACHABLE_TRANS,
	D_SET_AFTER,
	D_NO_STEPS,
	D_NO_DONE,
	D_UNBOUNDED,
	D_LIMIT_CYCLE,
	D_BOUND_OVERFLOW,
	D_NO_CALL,
	D_NO_QUESTION,
	D_NOT_IN_STEP,
	D_HUMAN_LIST,
	D_FN_NAME,
	/* types and values */
	D_SET_TARGET,
	D_SET_TYPE,
	D_GUARD_TYPE,
	D_BINARY_TYPE,
	D_UNARY_TYPE,
	D_NOT_A_CHOICE,
	D_LEN_TYPE,
	D_DEFAULT_TYPE,
	D_DEFAULT_RANGE,
	D_EMPTY_RANGE,
	D_OPT_RANGE,
	D_DIV_ZERO,
	D_ARG_TYPE,
	D_MAYBE_UNSET,
	/* strings and templates */
	D_BAD_SLOT,
	D_OPEN_SLOT,
	D_LONG_STRING,
	/* several files */
	D_DUP_WORKFLOW,
	/* warnings */
	D_UNREACHABLE_STEP,
	D_UNUSED,
	D_NEVER_SET,
	D_UNUSED_OUTPUT,
	D_COUNT
};

/* The longest string eclc writes as one C string literal: C11 only promises 4095 characters,
 * and -pedantic warns beyond that. */
#define DIAG_MAX_STRING 4000

void diag_source_init(struct mem *m, struct diag_source *s, const char *path, const char *text,
		      size_t len);
/* Line (from 1) and column (from 1, in characters) of a byte offset. */
int diag_line(const struct diag_source *s, size_t off);
int diag_col(const struct diag_source *s, size_t off);

/* The code of a diagnostic ("E022"); for the tests and the documentation. */
const char *diag_code(enum diag_id id);

/* Report a diagnostic about src[off..off+len) with the arguments of its message format. The
 * returned diagnostic stays valid for diag_help and diag_note. */
eclc_diag *diag_report(struct unit *u, enum diag_id id, size_t off, size_t len, ...);
void diag_help(struct unit *u, eclc_diag *d, const char *fmt, ...) MEM_PRINTF(3, 4);
void diag_note(struct unit *u, eclc_diag *d, const char *fmt, ...) MEM_PRINTF(3, 4);
void diag_note_at(struct unit *u, eclc_diag *d, size_t off, size_t len, const char *fmt, ...)
	MEM_PRINTF(5, 6);

/* Render one diagnostic with its source line and caret. */
void diag_render(struct mem_buf *b, const struct diag_source *s, const eclc_diag *d);

/* "Did you mean": offer names one by one; best holds the closest one close enough, or NULL. */
struct diag_suggest {
	const char *name;
	const char *best;
	size_t dist;
};

void diag_suggest_init(struct diag_suggest *sg, const char *name);
void diag_suggest_add(struct diag_suggest *sg, const char *candidate);
/* Attach "did you mean `best`?" to d when there is a suggestion. */
void diag_suggest_help(struct unit *u, eclc_diag *d, const struct diag_suggest *sg);

#endif /* ECLC_DIAG_H */
