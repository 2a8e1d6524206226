/*
 * check.h - the checker: resolves names to slots and steps, types expressions, and proves the
 * step graph bounded, filling in the checker's fields of the tree (ast.h).
 */
#ifndef ECLC_CHECK_H
#define ECLC_CHECK_H

struct unit;

/* Check u->wf (when there is one), reporting every problem found. */
void check_run(struct unit *u);

/* Whether the C of a workflow cannot declare a function of this name (a C keyword, or a name
 * of the C library or of ecl.h's headers): 1 when taken. In cnames.c. */
int cnames_taken(const char *name);

#endif /* ECLC_CHECK_H */
