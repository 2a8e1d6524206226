/*
 * eclc.h - the ecl compiler as a library: compile one .ecl buffer in memory into diagnostics
 * and emitted text, and join compiled workflows into a registry. main.c, the tests and fuzz
 * targets use only this header (and ast.h to inspect a checked workflow); nothing here touches
 * the file system.
 */
#ifndef ECLC_H
#define ECLC_H

#include <stddef.h>

#define ECLC_VERSION  "0.1.0"
#define ECLC_LANGUAGE 1  /* version of the .ecl language this compiler reads */
#define ECLC_MAX_MIB  16 /* the largest .ecl file, in MiB: a larger one is refused (E007) */

/* Result codes of eclc_compile and eclc_registry. */
enum {
	ECLC_OK = 0,    /* no error (there may be warnings) */
	ECLC_EDIAG = 1, /* the input has errors: see the diagnostics */
	ECLC_ENOMEM = 2 /* an allocation failed; the result holds nothing */
};

/* What eclc_compile produces after checking. */
typedef enum eclc_format {
	ECLC_CHECK = 0, /* diagnostics only */
	ECLC_C,         /* the C state machine */
	ECLC_MERMAID,   /* a mermaid stateDiagram-v2 */
	ECLC_DOT,       /* a graphviz digraph */
	ECLC_JSON,      /* a JSON description of the workflow */
	ECLC_TOKENS,    /* the lexer's tokens, one a line (stops after lexing) */
	ECLC_AST        /* the parse tree (stops after parsing) */
} eclc_format;

/* The allocator seam, as in Lua: size 0 frees ptr; otherwise allocates (ptr is then NULL).
 * Returns NULL when out of memory. */
typedef void *(*eclc_alloc_fn)(void *ud, void *ptr, size_t size);

typedef struct eclc_options {
	const char *path; /* the file name shown in diagnostics and recorded in the output */
	eclc_format format;
	int werror;          /* warnings are errors */
	eclc_alloc_fn alloc; /* NULL for malloc and free */
	void *alloc_ud;
} eclc_options;

/* One diagnostic. Strings are owned by the result. */
typedef struct eclc_diag {
	const char *code; /* "E023" or "W001": stable, one per kind of problem */
	int error;        /* 1 for an error (a warning under werror too) */
	size_t off, len;  /* the source bytes it is about */
	int line, col;    /* position of off, from 1; col counts characters */
	const char *message;
	const char *help; /* a suggestion ("did you mean `x`?"), or NULL */
	const char *note; /* more context, or NULL */
	int note_line;    /* > 0 when the note points at note_off/note_len of the same file */
	int note_col;
	size_t note_off, note_len;
} eclc_diag;

struct ast_workflow;
struct unit;

typedef struct eclc_result {
	int status;             /* ECLC_OK, ECLC_EDIAG or ECLC_ENOMEM */
	const eclc_diag *diags; /* sorted by position */
	int ndiags, nerrors, nwarnings;
	const char *diag_text; /* the diagnostics rendered for a terminal, "" when none */
	size_t diag_len;
	const char *out; /* the emitted text, or NULL (errors, ECLC_CHECK) */
	size_t out_len;
	const char *out_ext;           /* file extension of out: "c", "mmd", "dot", "json" */
	const struct ast_workflow *wf; /* the parsed (and when no error, checked) workflow */
	struct unit *unit;             /* owns everything above */
} eclc_result;

/* Compile src[0..len) (need not be NUL-terminated). Always fills *res, which the caller frees
 * with eclc_result_free. Returns res->status. */
int eclc_compile(const char *src, size_t len, const eclc_options *opt, eclc_result *res);

/* Write the registry of n compiled workflows (each without errors) into res->out: the C file
 * listing them sorted by id. Two workflows with the same id, or ids with the same C name, are
 * errors reported in res. Only opt->werror, alloc and alloc_ud are used. */
int eclc_registry(const eclc_result *const *units, int n, const eclc_options *opt,
		  eclc_result *res);

void eclc_result_free(eclc_result *res);

#endif /* ECLC_H */
