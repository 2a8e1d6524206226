/*
 * ast.c - names of types and operators for messages, and the --dump-ast listing of a tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"

const char *ast_tkind_name(enum ast_tkind k)
{
	switch (k) {
	case AST_T_STRING: return "string";
	case AST_T_INT: return "int";
	case AST_T_FLOAT: return "float";
	case AST_T_BOOL: return "bool";
	case AST_T_ENUM: return "enum";
	case AST_T_LIST: return "list";
	case AST_T_ERROR: break;
	}
	return "an invalid type";
}

const char *ast_stkind_name(enum ast_stkind k)
{
	switch (k) {
	case AST_ST_LLM: return "llm";
	case AST_ST_CODE: return "code";
	case AST_ST_HUMAN: return "human";
	case AST_ST_SET: return "set";
	}
	return "an invalid step kind";
}

const char *ast_type_name(struct mem *m, const struct ast_type *t)
{
	struct mem_buf b;
	int i;

	if (t->kind == AST_T_INT && t->has_range)
		return eclc_mem_printf(m, "int %lld..%lld", t->min, t->max);
	if (t->kind != AST_T_ENUM)
		return ast_tkind_name(t->kind);
	eclc_mem_buf_init(&b, m);
	eclc_mem_buf_puts(&b, "enum (");
	for (i = 0; i < t->nchoices; i++)
		eclc_mem_buf_printf(&b, "%s%s", i ? " | " : "", t->choices[i].s);
	eclc_mem_buf_putc(&b, ')');
	return eclc_mem_buf_str(&b);
}

void ast_json_str(struct mem_buf *b, const char *s)
{
	if (!s) {
		eclc_mem_buf_puts(b, "null");
		return;
	}
	eclc_mem_buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			eclc_mem_buf_printf(b, "\\%c", c);
		else if (c == '\n')
			eclc_mem_buf_puts(b, "\\n");
		else if (c == '\t')
			eclc_mem_buf_puts(b, "\\t");
		else if (c == '\r')
			eclc_mem_buf_puts(b, "\\r");
		else if (c < 0x20)
			eclc_mem_buf_printf(b, "\\u%04x", c);
		else
			eclc_mem_buf_putc(b, c);
	}
	eclc_mem_buf_putc(b, '"');
}

const char *ast_double(struct mem *m, double d)
{
	char buf[40];
	int prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*g", prec, d);
	/* Keep it a floating constant in C. */
	if (!strpbrk(buf, ".e"))
		return eclc_mem_printf(m, "%s.0", buf);
	return eclc_mem_printf(m, "%s", buf);
}

const char *ast_op_name(enum ast_op op)
{
	switch (op) {
	case AST_OP_OR: return "or";
	case AST_OP_AND: return "and";
	case AST_OP_EQ: return "==";
	case AST_OP_NE: return "!=";
	case AST_OP_LT: return "<";
	case AST_OP_LE: return "<=";
	case AST_OP_GT: return ">";
	case AST_OP_GE: return ">=";
	case AST_OP_ADD: return "+";
	case AST_OP_SUB: return "-";
	case AST_OP_MUL: return "*";
	case AST_OP_DIV: return "/";
	case AST_OP_MOD: return "%";
	}
	return "?";
}

/* ---- --dump-ast ------------------------------------------------------------------------- */

struct ast_dumper {
	struct mem_buf *b;
	const struct diag_source *src;
};

/* Start a line: indentation, then the line:col of the node. */
static void ast_dump_line(struct ast_dumper *d, int indent, size_t off)
{
	eclc_mem_buf_putc(d->b, '\n');
	while (indent-- > 0)
		eclc_mem_buf_puts(d->b, "  ");
	eclc_mem_buf_printf(d->b, "%d:%d ", diag_line(d->src, off), diag_col(d->src, off));
}

static void ast_dump_type(struct ast_dumper *d, const struct ast_type *t)
{
	eclc_mem_buf_puts(d->b, ast_type_name(d->b->m, t));
}

static void ast_dump_ref(struct ast_dumper *d, const struct ast_ref *r)
{
	eclc_mem_buf_puts(d->b, r->base.s);
	if (r->field.s)
		eclc_mem_buf_printf(d->b, ".%s", r->field.s);
}

static void ast_dump_expr(struct ast_dumper *d, const struct ast_expr *e)
{
	switch (e->kind) {
	case AST_E_INT: eclc_mem_buf_printf(d->b, "%lld", e->i); break;
	case AST_E_FLOAT: eclc_mem_buf_puts(d->b, ast_double(d->b->m, e->f)); break;
	case AST_E_STR: ast_json_str(d->b, e->s); break;
	case AST_E_BOOL: eclc_mem_buf_puts(d->b, e->i ? "true" : "false"); break;
	case AST_E_REF: ast_dump_ref(d, &e->ref); break;
	case AST_E_LEN:
		eclc_mem_buf_puts(d->b, "(len ");
		if (e->a)
			ast_dump_expr(d, e->a);
		else
			ast_dump_ref(d, &e->ref);
		eclc_mem_buf_putc(d->b, ')');
		break;
	case AST_E_NOT:
	case AST_E_NEG:
		eclc_mem_buf_puts(d->b, e->kind == AST_E_NOT ? "(not " : "(- ");
		ast_dump_expr(d, e->a);
		eclc_mem_buf_putc(d->b, ')');
		break;
	case AST_E_BIN:
		eclc_mem_buf_printf(d->b, "(%s ", ast_op_name(e->op));
		ast_dump_expr(d, e->a);
		eclc_mem_buf_putc(d->b, ' ');
		ast_dump_expr(d, e->b);
		eclc_mem_buf_putc(d->b, ')');
		break;
	}
}

static void ast_dump_template(struct ast_dumper *d, const char *what, const struct ast_template *t)
{
	int i;

	eclc_mem_buf_puts(d->b, what);
	for (i = 0; i < t->nparts; i++) {
		eclc_mem_buf_putc(d->b, ' ');
		if (t->parts[i].is_slot) {
			eclc_mem_buf_puts(d->b, "{{");
			ast_dump_ref(d, &t->parts[i].ref);
			eclc_mem_buf_puts(d->b, "}}");
		} else {
			ast_json_str(d->b, t->parts[i].text);
		}
	}
}

static void ast_dump_target(struct ast_dumper *d, const struct ast_target *to)
{
	int i;

	switch (to->kind) {
	case AST_TG_STEP: eclc_mem_buf_puts(d->b, to->step.s); break;
	case AST_TG_FAIL: ast_dump_template(d, "fail", &to->msg); break;
	case AST_TG_DONE:
		eclc_mem_buf_puts(d->b, "done");
		if (to->value) {
			eclc_mem_buf_putc(d->b, ' ');
			ast_dump_expr(d, to->value);
		}
		for (i = 0; i < to->nfields; i++) {
			eclc_mem_buf_printf(d->b, "%s%s: ", i ? ", " : " {", to->fields[i].name.s);
			ast_dump_expr(d, to->fields[i].value);
		}
		if (to->nfields)
			eclc_mem_buf_putc(d->b, '}');
		break;
	}
}

static void ast_dump_opts(struct ast_dumper *d, int indent, const struct ast_opts *o)
{
	static const char *const names[AST_NOPTS] = {"model", "temperature", "max_tokens",
						     "retry", "timeout",     "repair"};
	int k;

	for (k = 0; k < AST_NOPTS; k++) {
		if (!o->set[k])
			continue;
		ast_dump_line(d, indent, o->key[k]);
		eclc_mem_buf_printf(d->b, "%s ", names[k]);
		switch (k) {
		case AST_OPT_MODEL: ast_json_str(d->b, o->model); break;
		case AST_OPT_TEMPERATURE:
			eclc_mem_buf_puts(d->b, ast_double(d->b->m, o->temperature));
			break;
		case AST_OPT_MAX_TOKENS: eclc_mem_buf_printf(d->b, "%lld", o->max_tokens); break;
		case AST_OPT_RETRY: eclc_mem_buf_printf(d->b, "%lld", o->retries); break;
		case AST_OPT_TIMEOUT: eclc_mem_buf_printf(d->b, "%lldms", o->timeout_ms); break;
		default: eclc_mem_buf_printf(d->b, "%lld", o->repairs); break;
		}
	}
}

static void ast_dump_step(struct ast_dumper *d, const struct ast_step *st)
{
	static const char *const kinds[] = {"when ", "", "else "};
	int i;

	ast_dump_line(d, 1, st->off);
	eclc_mem_buf_printf(d->b, "%s %s", ast_stkind_name(st->kind), st->name.s);
	if (st->limit.present) {
		ast_dump_line(d, 2, st->limit.off);
		eclc_mem_buf_printf(d->b, "limit %lld as %s else ", st->limit.n,
				    st->limit.counter.s);
		ast_dump_target(d, &st->limit.els);
	}
	if (st->system.present) {
		ast_dump_line(d, 2, st->system.off);
		ast_dump_template(d, "system", &st->system);
	}
	if (st->prompt.present) {
		ast_dump_line(d, 2, st->prompt.off);
		ast_dump_template(d, "prompt", &st->prompt);
	}
	if (st->question.present) {
		ast_dump_line(d, 2, st->question.off);
		ast_dump_template(d, "question", &st->question);
	}
	if (st->has_call) {
		ast_dump_line(d, 2, st->call_off);
		eclc_mem_buf_printf(d->b, "call %s(", st->fn.s);
		for (i = 0; i < st->nargs; i++) {
			eclc_mem_buf_printf(d->b, "%s%s: ", i ? ", " : "", st->args[i].name.s);
			ast_dump_type(d, &st->args[i].type);
			eclc_mem_buf_puts(d->b, " = ");
			ast_dump_expr(d, st->args[i].value);
		}
		eclc_mem_buf_putc(d->b, ')');
	}
	if (st->has_output) {
		ast_dump_line(d, 2, st->output_off);
		eclc_mem_buf_puts(d->b, "output");
	}
	for (i = 0; i < st->nfields; i++) {
		ast_dump_line(d, 3, st->fields[i].name.off);
		eclc_mem_buf_printf(d->b, "%s%s: ", st->fields[i].name.s,
				    st->fields[i].optional ? "?" : "");
		ast_dump_type(d, &st->fields[i].type);
	}
	ast_dump_opts(d, 2, &st->opts);
	for (i = 0; i < st->nsets; i++) {
		ast_dump_line(d, 2, st->sets[i].off);
		eclc_mem_buf_printf(d->b, "set %s = ", st->sets[i].var.s);
		ast_dump_expr(d, st->sets[i].value);
	}
	for (i = 0; i < st->ntrans; i++) {
		const struct ast_trans *tr = &st->trans[i];

		ast_dump_line(d, 2, tr->off);
		eclc_mem_buf_puts(d->b, kinds[tr->kind]);
		if (tr->guard) {
			ast_dump_expr(d, tr->guard);
			eclc_mem_buf_putc(d->b, ' ');
		}
		eclc_mem_buf_puts(d->b, "-> ");
		ast_dump_target(d, &tr->to);
	}
}

void ast_dump(struct mem_buf *b, const struct ast_workflow *wf, const struct diag_source *src)
{
	struct ast_dumper d = {b, src};
	int i;

	eclc_mem_buf_printf(b, "%d:%d workflow %s", diag_line(src, wf->id.off),
			    diag_col(src, wf->id.off), wf->id.s);
	if (wf->name) {
		eclc_mem_buf_puts(b, "\n  name ");
		ast_json_str(b, wf->name);
	}
	if (wf->description) {
		eclc_mem_buf_puts(b, "\n  description ");
		ast_json_str(b, wf->description);
	}
	for (i = 0; i < wf->ndecls; i++) {
		const struct ast_decl *dc = &wf->decls[i];

		ast_dump_line(&d, 1, dc->off);
		eclc_mem_buf_printf(b, "%s %s: ", dc->kind == AST_D_INPUT ? "input" : "var",
				    dc->name.s);
		ast_dump_type(&d, &dc->type);
		if (dc->init) {
			eclc_mem_buf_puts(b, " = ");
			ast_dump_expr(&d, dc->init);
		}
		if (dc->doc) {
			eclc_mem_buf_puts(b, " doc ");
			ast_json_str(b, dc->doc);
		}
	}
	ast_dump_opts(&d, 1, &wf->opts);
	for (i = 0; i < wf->nsteps; i++)
		ast_dump_step(&d, &wf->steps[i]);
	eclc_mem_buf_putc(b, '\n');
}
