/*
 * parse.h - the parser: tokens (u->toks) to the tree of one workflow (u->wf).
 */
#ifndef ECLC_PARSE_H
#define ECLC_PARSE_H

struct unit;

/* Deepest expression the parser builds: the checker and emitters recurse on expressions. */
#define PARSE_MAX_DEPTH 100

/* Build u->wf (left NULL when the file does not start a workflow). Syntax errors are
 * reported, and parsing goes on at the next item. */
void parse_run(struct unit *u);

#endif /* ECLC_PARSE_H */
