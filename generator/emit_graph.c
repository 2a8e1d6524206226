/*
 * emit_graph.c - the step graph of a checked workflow for people and tools: a mermaid
 * stateDiagram-v2, a graphviz digraph, and a JSON description (id, inputs, steps, their
 * transitions with the guard as written, limits and max_steps, and an LLM step's answer as
 * the JSON Schema the providers are sent).
 *
 * A limit's fallback is drawn from the limited step, dashed in dot: strictly, the transition
 * into the step takes it, but that is how a reader thinks of it ("after 3 revisions, fail").
 */
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "emit.h"
#include "unit.h"

/* The text of a template, with its slots written back as {{ref}}. */
static const char *graph_template(struct mem *m, const struct ast_template *t)
{
	struct mem_buf b;
	int i;

	eclc_mem_buf_init(&b, m);
	for (i = 0; i < t->nparts; i++) {
		const struct ast_tpart *p = &t->parts[i];

		if (!p->is_slot)
			eclc_mem_buf_put(&b, p->text, p->len);
		else if (p->ref.field.s)
			eclc_mem_buf_printf(&b, "{{%s.%s}}", p->ref.base.s, p->ref.field.s);
		else
			eclc_mem_buf_printf(&b, "{{%s}}", p->ref.base.s);
	}
	return eclc_mem_buf_str(&b);
}

/* What a transition's arrow says: its guard (or "else"), and "fail" for a failure. */
static const char *graph_label(struct unit *u, const struct ast_trans *tr)
{
	const char *guard = NULL;

	if (tr->kind == AST_TR_WHEN)
		guard = emit_source_text(&u->mem, u->src.text, tr->guard->off, tr->guard->len);
	else if (tr->kind == AST_TR_ELSE)
		guard = "else";
	if (tr->to.kind != AST_TG_FAIL)
		return guard;
	return guard ? eclc_mem_printf(&u->mem, "%s / fail", guard) : "fail";
}

/* The label of a limit's fallback: "after 3 visits". */
static const char *graph_after(struct unit *u, const struct ast_step *st)
{
	return eclc_mem_printf(&u->mem, "after %lld visit%s", st->limit.n,
			       st->limit.n == 1 ? "" : "s");
}

/* ---- mermaid ------------------------------------------------------------------------------ */

/* Mermaid reads `;` and `#` in a label as syntax: write them as entities. */
static void graph_mermaid_label(struct mem_buf *b, const char *s)
{
	eclc_mem_buf_puts(b, ": ");
	for (; *s; s++) {
		if (*s == '#' || *s == ';' || *s == '"')
			eclc_mem_buf_printf(b, "#%d;", *s);
		else
			eclc_mem_buf_putc(b, *s);
	}
}

void emit_mermaid(struct unit *u, struct mem_buf *b)
{
	const struct ast_workflow *wf = u->wf;
	int i, k;

	eclc_mem_buf_printf(b, "stateDiagram-v2\n    [*] --> %s\n", wf->steps[0].name.s);
	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];

		for (k = 0; k < st->ntrans; k++) {
			const struct ast_trans *tr = &st->trans[k];
			const char *label = graph_label(u, tr);

			eclc_mem_buf_printf(b, "    %s --> %s", st->name.s,
					    tr->to.kind == AST_TG_STEP ? tr->to.step.s : "[*]");
			if (label)
				graph_mermaid_label(b, label);
			eclc_mem_buf_putc(b, '\n');
		}
		if (st->limit.present) {
			const struct ast_target *els = &st->limit.els;

			eclc_mem_buf_printf(b, "    %s --> %s", st->name.s,
					    els->kind == AST_TG_STEP ? els->step.s : "[*]");
			graph_mermaid_label(
				b, eclc_mem_printf(&u->mem, "%s%s", graph_after(u, st),
						   els->kind == AST_TG_FAIL ? " / fail" : ""));
			eclc_mem_buf_printf(b, "\n    note right of %s: limit %lld as %s\n",
					    st->name.s, st->limit.n, st->limit.counter.s);
		}
	}
}

/* ---- graphviz ----------------------------------------------------------------------------- */

static void graph_dot_str(struct mem_buf *b, const char *s)
{
	eclc_mem_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			eclc_mem_buf_putc(b, '\\');
		if (*s == '\n')
			eclc_mem_buf_puts(b, "\\n");
		else
			eclc_mem_buf_putc(b, *s);
	}
	eclc_mem_buf_putc(b, '"');
}

/* Steps are quoted names; the start and the ends have names no step can have. */
static void graph_dot_edge(struct mem_buf *b, const char *from, const char *to, const char *label,
			   int dashed)
{
	eclc_mem_buf_puts(b, "\t");
	graph_dot_str(b, from);
	eclc_mem_buf_puts(b, " -> ");
	graph_dot_str(b, to);
	if (label || dashed) {
		eclc_mem_buf_puts(b, " [");
		if (label) {
			eclc_mem_buf_puts(b, "label=");
			graph_dot_str(b, label);
		}
		if (dashed)
			eclc_mem_buf_puts(b, label ? ", style=dashed" : "style=dashed");
		eclc_mem_buf_putc(b, ']');
	}
	eclc_mem_buf_puts(b, ";\n");
}

static const char *graph_dot_target(const struct ast_target *to)
{
	switch (to->kind) {
	case AST_TG_STEP: return to->step.s;
	case AST_TG_DONE: return "(done)";
	default: return "(fail)";
	}
}

void emit_dot(struct unit *u, struct mem_buf *b)
{
	const struct ast_workflow *wf = u->wf;
	int i, k, fails = 0;

	eclc_mem_buf_puts(b, "digraph ");
	graph_dot_str(b, wf->id.s);
	eclc_mem_buf_puts(b, " {\n\trankdir=LR;\n\tnode [shape=box, style=rounded];\n"
			     "\t\"(start)\" [shape=point];\n"
			     "\t\"(done)\" [shape=doublecircle, label=\"done\"];\n");
	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];

		for (k = 0; k < st->ntrans; k++)
			fails |= st->trans[k].to.kind == AST_TG_FAIL;
		fails |= st->limit.present && st->limit.els.kind == AST_TG_FAIL;
		eclc_mem_buf_puts(b, "\t");
		graph_dot_str(b, st->name.s);
		if (st->limit.present || st->kind != AST_ST_LLM) {
			/* By ast_stkind: an LLM step is the default rounded box. */
			static const char *const shapes[] = {"", ", shape=component",
							     ", shape=house", ", shape=note"};
			static const char *const kinds[] = {"", "\ncode ", "\nhuman", "\nset"};
			const char *kind = kinds[st->kind];

			if (st->kind == AST_ST_CODE)
				kind = eclc_mem_printf(&u->mem, "\ncode %s()", st->fn.s);
			eclc_mem_buf_puts(b, " [label=");
			if (st->limit.present)
				graph_dot_str(b, eclc_mem_printf(&u->mem, "%s%s\nlimit %lld as %s",
								 st->name.s, kind, st->limit.n,
								 st->limit.counter.s));
			else
				graph_dot_str(b,
					      eclc_mem_printf(&u->mem, "%s%s", st->name.s, kind));
			eclc_mem_buf_printf(b, "%s]", shapes[st->kind]);
		}
		eclc_mem_buf_puts(b, ";\n");
	}
	if (fails)
		eclc_mem_buf_puts(b, "\t\"(fail)\" [shape=octagon, label=\"fail\"];\n");
	graph_dot_edge(b, "(start)", wf->steps[0].name.s, NULL, 0);
	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];

		for (k = 0; k < st->ntrans; k++)
			graph_dot_edge(b, st->name.s, graph_dot_target(&st->trans[k].to),
				       graph_label(u, &st->trans[k]), 0);
		if (st->limit.present)
			graph_dot_edge(b, st->name.s, graph_dot_target(&st->limit.els),
				       graph_after(u, st), 1);
	}
	eclc_mem_buf_puts(b, "}\n");
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* "type": "int", "min": 0, "max": 100 -- or "choices": [...] for an enum. */
static void graph_json_type(struct mem_buf *b, const struct ast_type *t)
{
	int i;

	eclc_mem_buf_printf(b, "\"type\": \"%s\"", ast_tkind_name(t->kind));
	if (t->kind == AST_T_INT && t->has_range)
		eclc_mem_buf_printf(b, ", \"min\": %lld, \"max\": %lld", t->min, t->max);
	if (t->kind != AST_T_ENUM)
		return;
	eclc_mem_buf_puts(b, ", \"choices\": [");
	for (i = 0; i < t->nchoices; i++) {
		if (i)
			eclc_mem_buf_puts(b, ", ");
		ast_json_str(b, t->choices[i].s);
	}
	eclc_mem_buf_putc(b, ']');
}

/* A result of `done`: the slot a name refers to, or a computed value as it is written. */
static void graph_json_value(struct unit *u, struct mem_buf *b, const struct ast_expr *e)
{
	if (e->kind == AST_E_REF)
		ast_json_str(b, u->wf->slots[e->ref.slot].name);
	else
		ast_json_str(b, emit_source_text(&u->mem, u->src.text, e->off, e->len));
}

static void graph_json_target(struct unit *u, struct mem_buf *b, const struct ast_target *to)
{
	int i;

	switch (to->kind) {
	case AST_TG_STEP:
		eclc_mem_buf_puts(b, "\"to\": ");
		ast_json_str(b, to->step.s);
		break;
	case AST_TG_FAIL:
		eclc_mem_buf_puts(b, "\"to\": \"fail\", \"message\": ");
		ast_json_str(b, graph_template(&u->mem, &to->msg));
		break;
	case AST_TG_DONE:
		eclc_mem_buf_puts(b, "\"to\": \"done\"");
		if (to->value) {
			eclc_mem_buf_puts(b, ", \"result\": ");
			graph_json_value(u, b, to->value);
		}
		if (to->nfields)
			eclc_mem_buf_puts(b, ", \"result\": {");
		for (i = 0; i < to->nfields; i++) {
			if (i)
				eclc_mem_buf_puts(b, ", ");
			ast_json_str(b, to->fields[i].name.s);
			eclc_mem_buf_puts(b, ": ");
			graph_json_value(u, b, to->fields[i].value);
		}
		if (to->nfields)
			eclc_mem_buf_putc(b, '}');
		break;
	}
}

static void graph_json_step(struct unit *u, struct mem_buf *b, const struct ast_step *st)
{
	static const char *const kinds[] = {"when", "always", "else"};
	int k;

	eclc_mem_buf_puts(b, "    {\n      \"name\": ");
	ast_json_str(b, st->name.s);
	eclc_mem_buf_printf(b, ",\n      \"kind\": \"%s\"", ast_stkind_name(st->kind));
	if (st->kind == AST_ST_CODE) {
		eclc_mem_buf_puts(b, ",\n      \"function\": ");
		ast_json_str(b, st->fn.s);
	}
	eclc_mem_buf_printf(b, ",\n      \"line\": %d,\n      \"max_visits\": %lld,\n",
			    diag_line(&u->src, st->off), st->visits);
	if (st->limit.present) {
		eclc_mem_buf_printf(b,
				    "      \"limit\": {\"max\": %lld, \"counter\": ", st->limit.n);
		ast_json_str(b, st->limit.counter.s);
		eclc_mem_buf_puts(b, ", \"else\": {");
		graph_json_target(u, b, &st->limit.els);
		eclc_mem_buf_puts(b, "}},\n");
	} else {
		eclc_mem_buf_puts(b, "      \"limit\": null,\n");
	}
	eclc_mem_buf_puts(b, "      \"outputs\": [");
	for (k = 0; k < st->nfields; k++) {
		eclc_mem_buf_puts(b, k ? ",\n        {\"name\": " : "\n        {\"name\": ");
		ast_json_str(b, st->fields[k].name.s);
		eclc_mem_buf_puts(b, ", ");
		graph_json_type(b, &st->fields[k].type);
		eclc_mem_buf_printf(b, ", \"required\": %s}",
				    st->fields[k].optional ? "false" : "true");
	}
	eclc_mem_buf_puts(b, st->nfields ? "\n      ],\n" : "],\n");
	if (st->kind == AST_ST_LLM)
		eclc_mem_buf_printf(b, "      \"schema\": %s,\n", emit_schema(&u->mem, st));
	eclc_mem_buf_puts(b, "      \"transitions\": [");
	for (k = 0; k < st->ntrans; k++) {
		const struct ast_trans *tr = &st->trans[k];

		eclc_mem_buf_printf(b, "%s        {\"line\": %d, \"kind\": \"%s\", \"guard\": ",
				    k ? ",\n" : "\n", diag_line(&u->src, tr->off), kinds[tr->kind]);
		ast_json_str(b, tr->guard ? emit_source_text(&u->mem, u->src.text, tr->guard->off,
							     tr->guard->len)
					  : NULL);
		eclc_mem_buf_puts(b, ", ");
		graph_json_target(u, b, &tr->to);
		eclc_mem_buf_putc(b, '}');
	}
	eclc_mem_buf_puts(b, st->ntrans ? "\n      ]\n    }" : "]\n    }");
}

void emit_json(struct unit *u, struct mem_buf *b)
{
	const struct ast_workflow *wf = u->wf;
	int i, n = 0;

	eclc_mem_buf_puts(b, "{\n  \"id\": ");
	ast_json_str(b, wf->id.s);
	eclc_mem_buf_puts(b, ",\n  \"name\": ");
	ast_json_str(b, wf->name ? wf->name : wf->id.s);
	eclc_mem_buf_puts(b, ",\n  \"description\": ");
	ast_json_str(b, wf->description ? wf->description : "");
	eclc_mem_buf_puts(b, ",\n  \"source\": ");
	ast_json_str(b, u->src.path);
	eclc_mem_buf_printf(b, ",\n  \"version\": \"%s\"",
			    emit_version(&u->mem, u->src.text, u->src.len));
	eclc_mem_buf_puts(b, ",\n  \"start\": ");
	ast_json_str(b, wf->steps[0].name.s);
	eclc_mem_buf_printf(b, ",\n  \"max_steps\": %d,\n  \"inputs\": [", wf->max_steps);
	for (i = 0; i < wf->nslots; i++) {
		const struct ast_slot *s = &wf->slots[i];

		if (s->kind != AST_S_INPUT)
			continue;
		eclc_mem_buf_puts(b, n++ ? ",\n    {\"name\": " : "\n    {\"name\": ");
		ast_json_str(b, s->name);
		eclc_mem_buf_puts(b, ", ");
		graph_json_type(b, s->type);
		eclc_mem_buf_printf(b, ", \"required\": %s", s->required ? "true" : "false");
		if (s->initial)
			eclc_mem_buf_printf(b, ", \"default\": %s", s->initial);
		if (s->doc) {
			eclc_mem_buf_puts(b, ", \"doc\": ");
			ast_json_str(b, s->doc);
		}
		eclc_mem_buf_putc(b, '}');
	}
	eclc_mem_buf_puts(b, n ? "\n  ],\n  \"steps\": [\n" : "],\n  \"steps\": [\n");
	for (i = 0; i < wf->nsteps; i++) {
		graph_json_step(u, b, &wf->steps[i]);
		eclc_mem_buf_puts(b, i + 1 < wf->nsteps ? ",\n" : "\n");
	}
	eclc_mem_buf_puts(b, "  ]\n}\n");
}
