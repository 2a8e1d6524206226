/*
 * unit.h - one compilation: the source, its memory, its diagnostics and what each pass
 * leaves for the next (tokens, then the tree). Every pass takes the unit.
 */
#ifndef ECLC_UNIT_H
#define ECLC_UNIT_H

#include "diag.h"
#include "mem.h"

struct lex_token;
struct ast_workflow;

struct unit {
	struct mem mem;
	jmp_buf oom;
	struct diag_source src;
	eclc_diag **diags; /* in the order reported; each allocated on its own so it stays put */
	size_t ndiags, capdiags;
	int nerrors, nwarnings;
	int werror;
	struct lex_token *toks;
	size_t ntoks;
	struct ast_workflow *wf;
};

#endif /* ECLC_UNIT_H */
