/*
 * check.h - the checker: resolves names to slots and steps, types expressions, and proves the
 * step graph bounded, filling in the checker's fields of the tree (ast.h).
 */
#ifndef ECLC_CHECK_H
#define ECLC_CHECK_H

struct unit;

/* Check u->wf (when there is one), reporting every problem found. */
void check_run(struct unit *u);

#endif /* ECLC_CHECK_H */
