/*
 * parse.h - the parser: tokens (u->toks) to the tree of one workflow (u->wf).
 */
#ifndef ECLC_PARSE_H
#define ECLC_PARSE_H

struct unit;

/* Deepest nesting of an expression (parentheses, `not`, `-`): the parser recurses on it. */
#define PARSE_MAX_DEPTH 100
/* Tallest expression tree, chains of operators included: the checker and emitters recurse on
 * it, and the C written for it nests a call per level. */
#define PARSE_MAX_HEIGHT 120

/* Build u->wf (left NULL when the file does not start a workflow). Syntax errors are
 * reported, and parsing goes on at the next item. */
void parse_run(struct unit *u);

#endif /* ECLC_PARSE_H */
