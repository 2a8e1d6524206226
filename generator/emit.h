/*
 * emit.h - the emitters: the C state machine and the registry (emit_c.c), the graph exports,
 * mermaid, graphviz and JSON (emit_graph.c), and the helpers they share (emit.c). They run
 * only on a workflow the checker passed.
 */
#ifndef ECLC_EMIT_H
#define ECLC_EMIT_H

#include <stddef.h>

#include "mem.h"

struct unit;
struct ast_workflow;
struct ast_step;

void emit_c(struct unit *u, struct mem_buf *b);
void emit_mermaid(struct unit *u, struct mem_buf *b);
void emit_dot(struct unit *u, struct mem_buf *b);
void emit_json(struct unit *u, struct mem_buf *b);

/* The registry of n workflows, already sorted by id; paths[i] is the source of wfs[i]. */
void emit_registry(struct mem_buf *b, const struct ast_workflow *const *wfs,
		   const char *const *paths, int n);

/* Shared (emit.c). */
/* The C identifier of a workflow's descriptor: ecl_wf__ and the id with `-` as `_`. */
const char *emit_symbol(struct mem *m, const char *id);
/* The version of a workflow: the FNV-1a 64 hash of its .ecl bytes, as 16 hex digits. */
const char *emit_version(struct mem *m, const char *s, size_t n);
/* Source text on one line (runs of white space as one space), as comments and labels show
 * a transition or a guard. */
const char *emit_source_text(struct mem *m, const char *src, size_t off, size_t len);
/* The JSON Schema of a step's output, on one line: an object of its fields, the fields not
 * marked `?` required, no other property allowed. What an LLM step asks the provider to
 * answer (ecl_step_def.schema) and what `eclc --emit json` shows. */
const char *emit_schema(struct mem *m, const struct ast_step *st);

#endif /* ECLC_EMIT_H */
