/*
 * emit_c.c - writes a checked workflow as C against runtime/ecl.h: an enum of states, an enum
 * of slots, the descriptor tables, and one step function with a case per state; and the
 * registry of all compiled workflows.
 *
 * The output is for people too: designated initializers, a comment giving the .ecl line of
 * every state, template and transition, and nothing unused (it must compile with -Wall -Wextra
 * -Werror -pedantic). Everything is deterministic: same .ecl bytes and path, same C bytes.
 *
 * Every name written here at file scope holds `__` after a fixed prefix that holds none and
 * does not end in `_` (S__, V__, prompt__, fail_2_parts__, ecl__, ecl_wf__...), followed by a
 * name of the workflow or nothing: two different (prefix, name) pairs never give the same
 * identifier, and no code step's C function can have one (the checker refuses `__` in them,
 * and `run` and `rc`, the step function's variables).
 */
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "emit.h"
#include "unit.h"

/* C operator precedence, higher binds tighter. */
enum {
	P_NONE = 0,
	P_OR = 4,
	P_AND = 5,
	P_EQ = 9,
	P_REL = 10,
	P_ADD = 12,
	P_MUL = 13,
	P_UNARY = 15,
	P_CALL = 16
};

/* The integer helpers a workflow uses: C leaves signed overflow and division by zero
 * undefined, the ecl language does not. */
enum { H_ADD = 1, H_SUB = 2, H_MUL = 4, H_DIV = 8, H_MOD = 16, H_NEG = 32 };

struct emitter {
	struct unit *u;
	const struct ast_workflow *wf;
	struct mem *m;
	const char *path;
	unsigned helpers;
	char *limit_used; /* a step's limit fallback `fail` is reached from some transition */
	int *chain; /* emit_goto's scratch: the limited steps on the way, one a step at most */
	const char **states, **slots; /* their C names, by emit_state and emit_slot */
	int rc_used;                  /* the step function stores a result code: it declares rc */
};

/* Text inside a C comment: a stray comment opener or closer would end or nest it. */
static void emit_comment_str(struct mem_buf *b, const char *s)
{
	for (; *s; s++) {
		eclc_mem_buf_putc(b, *s);
		if ((s[0] == '*' && s[1] == '/') || (s[0] == '/' && s[1] == '*'))
			eclc_mem_buf_putc(b, ' ');
	}
}

static void emit_comment_text(struct emitter *x, struct mem_buf *b, size_t off, size_t len)
{
	emit_comment_str(b, emit_source_text(x->m, x->u->src.text, off, len));
}

/* "dsl/x.ecl:12" */
static void emit_where(struct emitter *x, struct mem_buf *b, size_t off)
{
	emit_comment_str(b, x->path);
	eclc_mem_buf_printf(b, ":%d", diag_line(&x->u->src, off));
}

/* Whether c stands for itself in a C string literal. */
static int emit_plain(unsigned char c)
{
	return c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && c != '?';
}

/* A C string literal. Lines after the first go on lines of their own, indented by cont, so
 * that a prompt reads as it was written; with cont NULL everything stays on one line. */
static void emit_cstr(struct mem_buf *b, const char *s, size_t n, const char *cont)
{
	size_t i, run;

	eclc_mem_buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* What needs no escape goes out in one piece. */
		for (run = i; run < n && emit_plain((unsigned char)s[run]); run++)
			;
		if (run > i) {
			eclc_mem_buf_put(b, s + i, run - i);
			i = run - 1;
			continue;
		}
		switch (c) {
		case '"': eclc_mem_buf_puts(b, "\\\""); break;
		case '\\': eclc_mem_buf_puts(b, "\\\\"); break;
		case '\t': eclc_mem_buf_puts(b, "\\t"); break;
		case '\r': eclc_mem_buf_puts(b, "\\r"); break;
		case '\n':
			eclc_mem_buf_puts(b, "\\n");
			if (cont && i + 1 < n) {
				eclc_mem_buf_puts(b, "\"\n");
				eclc_mem_buf_puts(b, cont);
				eclc_mem_buf_putc(b, '"');
			}
			break;
		case '?':
			/* Never a trigraph (C11 has them). */
			eclc_mem_buf_puts(b, i > 0 && s[i - 1] == '?' ? "\\?" : "?");
			break;
		default: eclc_mem_buf_printf(b, "\\%03o", c);
		}
	}
	eclc_mem_buf_putc(b, '"');
}

static void emit_str(struct mem_buf *b, const char *s)
{
	if (s)
		emit_cstr(b, s, strlen(s), NULL);
	else
		eclc_mem_buf_puts(b, "NULL");
}

static const char *emit_lower(struct mem *m, const char *s)
{
	char *p = eclc_mem_strndup(m, s, strlen(s)), *q;

	for (q = p; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return p;
}

/* The enumerator of a step's state, S__GENERATE, made once. */
static const char *emit_state(struct emitter *x, int step)
{
	char *p, *q;

	if (x->states[step])
		return x->states[step];
	p = eclc_mem_printf(x->m, "S__%s", x->wf->steps[step].name.s);
	for (q = p; *q; q++)
		if (*q >= 'a' && *q <= 'z')
			*q = (char)(*q - 'a' + 'A');
	return x->states[step] = p;
}

/* The enumerator of a slot, V__CRITIQUE_DECISION, made once. */
static const char *emit_slot(struct emitter *x, int slot)
{
	if (!x->slots[slot])
		x->slots[slot] = eclc_mem_printf(x->m, "V__%s", x->wf->slots[slot].cname);
	return x->slots[slot];
}

/* ---- templates ---------------------------------------------------------------------------- */

/* How long a piece of literal text can be in one part: C only promises string literals of
 * 4095 characters. Cut at a character boundary. */
static size_t emit_chunk(const char *s, size_t n)
{
	size_t k;

	if (n <= DIAG_MAX_STRING)
		return n;
	k = DIAG_MAX_STRING;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

/* static const ecl_tpl_part NAME[] = {...}; returns the number of parts (0: nothing
 * written, the template is empty). */
static int emit_template(struct emitter *x, struct mem_buf *b, const char *name,
			 const struct ast_template *t)
{
	int i, n = 0;

	if (!t->nparts)
		return 0;
	eclc_mem_buf_puts(b, "/* ");
	emit_where(x, b, t->off);
	eclc_mem_buf_printf(b, " */\nstatic const ecl_tpl_part %s[] = {\n", name);
	for (i = 0; i < t->nparts; i++) {
		const struct ast_tpart *p = &t->parts[i];
		size_t at = 0;

		if (p->is_slot) {
			eclc_mem_buf_printf(b, "\t{NULL, 0, %s},\n", emit_slot(x, p->ref.slot));
			n++;
			continue;
		}
		while (at < p->len) {
			size_t k = emit_chunk(p->text + at, p->len - at);

			eclc_mem_buf_puts(b, "\t{");
			emit_cstr(b, p->text + at, k, "\t ");
			eclc_mem_buf_printf(b, ", %zu, -1},\n", k);
			at += k;
			n++;
		}
	}
	eclc_mem_buf_puts(b, "};\n\n");
	return n;
}

/* static const ecl_template NAME = {PARTS, n}; for a fail message. */
static void emit_message(struct emitter *x, struct mem_buf *b, const char *name, const char *parts,
			 const struct ast_template *t)
{
	int n = emit_template(x, b, parts, t);

	if (n)
		eclc_mem_buf_printf(b, "static const ecl_template %s = {%s, %d};\n\n", name, parts,
				    n);
	else
		eclc_mem_buf_printf(b, "static const ecl_template %s = {NULL, 0};\n\n", name);
}

/* ---- expressions -------------------------------------------------------------------------- */

static void emit_expr(struct emitter *x, struct mem_buf *b, const struct ast_expr *e, int ctx);

static const char *emit_reader(enum ast_tkind t)
{
	switch (t) {
	case AST_T_INT: return "ecl_run_int";
	case AST_T_FLOAT: return "ecl_run_float";
	case AST_T_BOOL: return "ecl_run_bool";
	default: return "ecl_run_str";
	}
}

static int emit_stringy(const struct ast_expr *e)
{
	return e->type == AST_T_STRING || e->type == AST_T_ENUM;
}

static void emit_call2(struct emitter *x, struct mem_buf *b, const char *fn,
		       const struct ast_expr *a, const struct ast_expr *c)
{
	eclc_mem_buf_printf(b, "%s(", fn);
	emit_expr(x, b, a, P_NONE);
	eclc_mem_buf_puts(b, ", ");
	emit_expr(x, b, c, P_NONE);
	eclc_mem_buf_putc(b, ')');
}

/* An operand of a string `+`: numbers and bools as their text. */
static void emit_text(struct emitter *x, struct mem_buf *b, const struct ast_expr *e)
{
	switch (e->type) {
	case AST_T_INT:
		eclc_mem_buf_puts(b, "ecl_run_int_str(run, ");
		emit_expr(x, b, e, P_NONE);
		eclc_mem_buf_putc(b, ')');
		break;
	case AST_T_FLOAT:
		eclc_mem_buf_puts(b, "ecl_run_float_str(run, ");
		emit_expr(x, b, e, P_NONE);
		eclc_mem_buf_putc(b, ')');
		break;
	case AST_T_BOOL:
		eclc_mem_buf_putc(b, '(');
		emit_expr(x, b, e, P_OR);
		eclc_mem_buf_puts(b, " ? \"true\" : \"false\")");
		break;
	default: emit_expr(x, b, e, P_NONE); break;
	}
}

static int emit_prec(const struct ast_expr *e)
{
	switch (e->kind) {
	case AST_E_INT: return e->i < 0 ? P_UNARY : P_CALL;
	case AST_E_FLOAT: return e->f < 0 ? P_UNARY : P_CALL;
	case AST_E_NOT: return P_UNARY;
	case AST_E_NEG: return e->type == AST_T_INT ? P_CALL : P_UNARY;
	case AST_E_BIN: break;
	default: return P_CALL;
	}
	switch (e->op) {
	case AST_OP_OR: return P_OR;
	case AST_OP_AND: return P_AND;
	case AST_OP_EQ:
	case AST_OP_NE:
		if (emit_stringy(e->a))
			return e->op == AST_OP_EQ ? P_CALL : P_UNARY;
		return P_EQ;
	case AST_OP_LT:
	case AST_OP_LE:
	case AST_OP_GT:
	case AST_OP_GE: return P_REL;
	case AST_OP_ADD:
	case AST_OP_SUB: return e->type == AST_T_INT || emit_stringy(e) ? P_CALL : P_ADD;
	default: return e->type == AST_T_INT ? P_CALL : P_MUL;
	}
}

static void emit_binary(struct emitter *x, struct mem_buf *b, const struct ast_expr *e)
{
	static const char *const cops[] = {"||", "&&", "==", "!=", "<", "<=", ">",
					   ">=", "+",  "-",  "*",  "/", "%"};
	static const char *const helpers[] = {"ecl__int_add", "ecl__int_sub", "ecl__int_mul",
					      "ecl__int_div", "ecl__int_mod"};
	int prec = emit_prec(e), left = prec, right = prec + 1;

	if ((e->op == AST_OP_EQ || e->op == AST_OP_NE) && emit_stringy(e->a)) {
		if (e->op == AST_OP_NE)
			eclc_mem_buf_putc(b, '!');
		emit_call2(x, b, "ecl_str_eq", e->a, e->b);
		return;
	}
	if (e->op == AST_OP_ADD && emit_stringy(e)) {
		eclc_mem_buf_puts(b, "ecl_run_concat(run, ");
		emit_text(x, b, e->a);
		eclc_mem_buf_puts(b, ", ");
		emit_text(x, b, e->b);
		eclc_mem_buf_putc(b, ')');
		return;
	}
	if (e->op >= AST_OP_ADD && e->type == AST_T_INT) {
		x->helpers |= H_ADD << (e->op - AST_OP_ADD);
		emit_call2(x, b, helpers[e->op - AST_OP_ADD], e->a, e->b);
		return;
	}
	/* Comparisons inside comparisons, and && inside ||, get parentheses: gcc asks for them
	 * (-Wparentheses). */
	if (prec == P_EQ || prec == P_REL)
		left = right = P_REL + 1;
	else if (prec == P_OR)
		left = right = P_AND + 1;
	emit_expr(x, b, e->a, left);
	eclc_mem_buf_printf(b, " %s ", cops[e->op]);
	emit_expr(x, b, e->b, right);
}

static void emit_expr(struct emitter *x, struct mem_buf *b, const struct ast_expr *e, int ctx)
{
	int paren = emit_prec(e) < ctx;

	if (paren)
		eclc_mem_buf_putc(b, '(');
	switch (e->kind) {
	case AST_E_INT: eclc_mem_buf_printf(b, "%lld", e->i); break;
	case AST_E_FLOAT: eclc_mem_buf_puts(b, ast_double(x->m, e->f)); break;
	case AST_E_STR: emit_str(b, e->s); break;
	case AST_E_BOOL: eclc_mem_buf_puts(b, e->i ? "1" : "0"); break;
	case AST_E_REF:
		eclc_mem_buf_printf(b, "%s(run, %s)", emit_reader(e->type),
				    emit_slot(x, e->ref.slot));
		break;
	case AST_E_LEN:
		if (e->a) {
			eclc_mem_buf_puts(b, "ecl_str_len(");
			emit_expr(x, b, e->a, P_NONE);
			eclc_mem_buf_putc(b, ')');
		} else {
			eclc_mem_buf_printf(b, "ecl_run_len(run, %s)", emit_slot(x, e->ref.slot));
		}
		break;
	case AST_E_NOT:
		eclc_mem_buf_putc(b, '!');
		emit_expr(x, b, e->a, P_UNARY);
		break;
	case AST_E_NEG:
		if (e->type == AST_T_INT) {
			x->helpers |= H_NEG;
			eclc_mem_buf_puts(b, "ecl__int_neg(");
			emit_expr(x, b, e->a, P_NONE);
			eclc_mem_buf_putc(b, ')');
		} else {
			/* Never `--`: a minus before a negative operand gets parentheses. */
			eclc_mem_buf_putc(b, '-');
			emit_expr(x, b, e->a, emit_prec(e->a) == P_UNARY ? P_CALL : P_UNARY);
		}
		break;
	case AST_E_BIN: emit_binary(x, b, e); break;
	}
	if (paren)
		eclc_mem_buf_putc(b, ')');
}

/* ---- the step function -------------------------------------------------------------------- */

static void emit_tabs(struct mem_buf *b, int n)
{
	while (n-- > 0)
		eclc_mem_buf_putc(b, '\t');
}

/* Enter step `to`, through the limits on the way: when a limited step has been entered its
 * limit times, its fallback (another step, itself perhaps limited, or a failure) is taken. */
static void emit_goto(struct emitter *x, struct mem_buf *b, int to, int depth)
{
	const struct ast_workflow *wf = x->wf;
	int *chain = x->chain, k = 0, i, s = to;

	/* The checker refused cycles of fallbacks: the chain has at most one entry a step. */
	while (wf->steps[s].limit.present && k < wf->nsteps) {
		chain[k++] = s;
		if (wf->steps[s].limit.els.kind != AST_TG_STEP)
			break;
		s = wf->steps[s].limit.els.istep;
	}
	for (i = 0; i < k; i++) {
		emit_tabs(b, depth + i);
		eclc_mem_buf_printf(b, "if (ecl_run_visits(run, %s) >= %lld)%s\n",
				    emit_state(x, chain[i]), wf->steps[chain[i]].limit.n,
				    i + 1 < k ? " {" : "");
	}
	emit_tabs(b, depth + k);
	if (k && wf->steps[chain[k - 1]].limit.els.kind == AST_TG_FAIL) {
		x->limit_used[chain[k - 1]] = 1;
		eclc_mem_buf_printf(b, "return ecl_run_fail(run, &limit__%s);\n",
				    wf->steps[chain[k - 1]].name.s);
	} else {
		eclc_mem_buf_printf(b, "return ecl_run_goto(run, %s);\n", emit_state(x, s));
	}
	for (i = k - 1; i >= 0; i--) {
		if (i + 1 < k) {
			emit_tabs(b, depth + i);
			eclc_mem_buf_puts(b, "}\n");
		}
		emit_tabs(b, depth + i);
		eclc_mem_buf_printf(b, "return ecl_run_goto(run, %s);\n", emit_state(x, chain[i]));
	}
}

/* Whether a `done` computes its result (else its fields are slots, in a static table). */
static int emit_done_computed(const struct ast_target *to)
{
	int i;

	if (to->kind != AST_TG_DONE)
		return 0;
	if (to->value)
		return to->value->kind != AST_E_REF;
	for (i = 0; i < to->nfields; i++)
		if (to->fields[i].value->kind != AST_E_REF)
			return 1;
	return 0;
}

/* Whether a target takes more than one statement (a limit check, a computed result), and so
 * needs a block after a guard. */
static int emit_goto_checks(const struct ast_workflow *wf, const struct ast_target *to)
{
	return (to->kind == AST_TG_STEP && wf->steps[to->istep].limit.present) ||
	       emit_done_computed(to);
}

/* One field of a computed result: ecl_run_result_<type>(run, name, value). */
static void emit_result_field(struct emitter *x, struct mem_buf *b, const char *name,
			      const struct ast_expr *v, int depth)
{
	static const char *const adders[] = {"ecl_run_result_str",   "ecl_run_result_int",
					     "ecl_run_result_float", "ecl_run_result_bool",
					     "ecl_run_result_str",   "ecl_run_result_slot"};

	emit_tabs(b, depth);
	eclc_mem_buf_puts(b, "if ((rc = ");
	x->rc_used = 1;
	if (v->kind == AST_E_REF) {
		eclc_mem_buf_puts(b, "ecl_run_result_slot(run, ");
		emit_str(b, name);
		eclc_mem_buf_printf(b, ", %s)", emit_slot(x, v->ref.slot));
	} else {
		eclc_mem_buf_printf(b, "%s(run, ", adders[v->type]);
		emit_str(b, name);
		eclc_mem_buf_puts(b, ", ");
		emit_expr(x, b, v, P_NONE);
		eclc_mem_buf_putc(b, ')');
	}
	eclc_mem_buf_puts(b, ") != ECL_OK)\n");
	emit_tabs(b, depth + 1);
	eclc_mem_buf_puts(b, "return rc;\n");
}

static void emit_target(struct emitter *x, struct mem_buf *b, const struct ast_step *st, int k,
			const struct ast_target *to, int depth)
{
	switch (to->kind) {
	case AST_TG_STEP: emit_goto(x, b, to->istep, depth); return;
	case AST_TG_FAIL:
		emit_tabs(b, depth);
		eclc_mem_buf_printf(b, "return ecl_run_fail(run, &fail_%d__%s);\n", k, st->name.s);
		return;
	case AST_TG_DONE:
		if (emit_done_computed(to)) {
			int f;

			if (to->value)
				emit_result_field(x, b, NULL, to->value, depth);
			for (f = 0; f < to->nfields; f++)
				emit_result_field(x, b, to->fields[f].name.s, to->fields[f].value,
						  depth);
			emit_tabs(b, depth);
			eclc_mem_buf_puts(b, "return ecl_run_done_result(run);\n");
			return;
		}
		emit_tabs(b, depth);
		if (to->value || to->nfields)
			eclc_mem_buf_printf(b, "return ecl_run_done(run, result_%d__%s, %d);\n", k,
					    st->name.s, to->value ? 1 : to->nfields);
		else
			eclc_mem_buf_puts(b, "return ecl_run_done(run, NULL, 0);\n");
		return;
	}
}

static void emit_set(struct emitter *x, struct mem_buf *b, const struct ast_set *s)
{
	const struct ast_slot *dst = &x->wf->slots[s->slot];
	const struct ast_expr *v = s->value;

	eclc_mem_buf_puts(b, "\t\t/* ");
	emit_where(x, b, s->off);
	eclc_mem_buf_puts(b, ": ");
	emit_comment_text(x, b, s->off, s->len);
	eclc_mem_buf_puts(b, " */\n\t\tif ((rc = ");
	x->rc_used = 1;
	if (v->kind == AST_E_REF && v->type == dst->type->kind) {
		eclc_mem_buf_printf(b, "ecl_run_copy(run, %s, %s)", emit_slot(x, s->slot),
				    emit_slot(x, v->ref.slot));
	} else {
		/* By ast_tkind; a list is only ever copied. */
		static const char *const setters[] = {"ecl_run_set_str",   "ecl_run_set_int",
						      "ecl_run_set_float", "ecl_run_set_bool",
						      "ecl_run_set_str",   "ecl_run_copy"};

		eclc_mem_buf_printf(b, "%s(run, %s, ", setters[dst->type->kind],
				    emit_slot(x, s->slot));
		emit_expr(x, b, v, P_NONE);
		eclc_mem_buf_putc(b, ')');
	}
	eclc_mem_buf_puts(b, ") != ECL_OK)\n\t\t\treturn rc;\n");
}

/* By ast_stkind. */

/* A code step: its arguments, then the call of its C function. */
static void emit_call(struct emitter *x, struct mem_buf *b, const struct ast_step *st)
{
	/* By ast_tkind; a list is passed from its slot. */
	static const char *const args[] = {"ecl_run_arg_str",   "ecl_run_arg_int",
					   "ecl_run_arg_float", "ecl_run_arg_bool",
					   "ecl_run_arg_str",   "ecl_run_arg_slot"};
	int k;

	eclc_mem_buf_puts(b, "\t\t/* ");
	emit_where(x, b, st->call_off);
	eclc_mem_buf_printf(b, ": call %s(...) */\n", st->fn.s);
	x->rc_used = 1;
	for (k = 0; k < st->nargs; k++) {
		const struct ast_arg *a = &st->args[k];
		enum ast_tkind t = a->type.kind;

		eclc_mem_buf_printf(b, "\t\tif ((rc = %s(run, ", args[t]);
		emit_str(b, a->name.s);
		eclc_mem_buf_puts(b, ", ");
		if (t == AST_T_LIST)
			eclc_mem_buf_puts(b, emit_slot(x, a->value->ref.slot));
		else
			emit_expr(x, b, a->value, P_NONE);
		eclc_mem_buf_puts(b, ")) != ECL_OK)\n\t\t\treturn rc;\n");
	}
	eclc_mem_buf_printf(b, "\t\tif ((rc = ecl_run_code(run, %s, ", st->fn.s);
	emit_str(b, st->fn.s);
	eclc_mem_buf_puts(b, ")) != ECL_OK)\n\t\t\treturn rc;\n");
}

static void emit_case(struct emitter *x, struct mem_buf *b, int i)
{
	const struct ast_step *st = &x->wf->steps[i];
	int k, exhaustive = 0;

	eclc_mem_buf_printf(b, "\tcase %s: /* ", emit_state(x, i));
	emit_where(x, b, st->off);
	eclc_mem_buf_printf(b, ": %s %s */\n", ast_stkind_name(st->kind), st->name.s);
	switch (st->kind) {
	case AST_ST_LLM:
		x->rc_used = 1;
		eclc_mem_buf_puts(b,
				  "\t\tif ((rc = ecl_run_llm(run)) != ECL_OK)\n\t\t\treturn rc;\n");
		break;
	case AST_ST_HUMAN:
		x->rc_used = 1;
		eclc_mem_buf_puts(
			b, "\t\tif ((rc = ecl_run_human(run)) != ECL_OK)\n\t\t\treturn rc;\n");
		break;
	case AST_ST_CODE: emit_call(x, b, st); break;
	case AST_ST_SET: break;
	}
	for (k = 0; k < st->nsets; k++)
		emit_set(x, b, &st->sets[k]);
	for (k = 0; k < st->ntrans; k++) {
		const struct ast_trans *tr = &st->trans[k];

		eclc_mem_buf_puts(b, "\t\t/* ");
		emit_where(x, b, tr->off);
		eclc_mem_buf_puts(b, ": ");
		emit_comment_text(x, b, tr->off, tr->len);
		eclc_mem_buf_puts(b, " */\n");
		if (tr->kind != AST_TR_WHEN) {
			emit_target(x, b, st, k + 1, &tr->to, 2);
			exhaustive = 1;
			break;
		}
		eclc_mem_buf_puts(b, "\t\tif (");
		emit_expr(x, b, tr->guard, P_NONE);
		if (emit_goto_checks(x->wf, &tr->to)) {
			eclc_mem_buf_puts(b, ") {\n");
			emit_target(x, b, st, k + 1, &tr->to, 3);
			eclc_mem_buf_puts(b, "\t\t}\n");
		} else {
			eclc_mem_buf_puts(b, ")\n");
			emit_target(x, b, st, k + 1, &tr->to, 3);
		}
	}
	if (!exhaustive)
		eclc_mem_buf_puts(b, "\t\treturn ecl_run_fail(run, NULL);\n");
}

static void emit_step_fn(struct emitter *x, struct mem_buf *b)
{
	struct mem_buf cases;
	int i;

	/* The cases first: whether they store a result code decides whether rc is declared
	 * (-Wunused-variable). */
	eclc_mem_buf_init(&cases, x->m);
	for (i = 0; i < x->wf->nsteps; i++) {
		if (i)
			eclc_mem_buf_putc(&cases, '\n');
		emit_case(x, &cases, i);
	}
	eclc_mem_buf_puts(b, "/* The state machine: one case per step. */\n"
			     "static int ecl__step(ecl_run *run)\n{\n");
	if (x->rc_used)
		eclc_mem_buf_puts(b, "\tint rc;\n\n");
	eclc_mem_buf_puts(b, "\tswitch ((enum state)ecl_run_state(run)) {\n");
	eclc_mem_buf_put(b, cases.p, cases.len);
	eclc_mem_buf_puts(b, "\t}\n\treturn ECL_EUSAGE;\n}\n\n");
}

static void emit_helpers(struct emitter *x, struct mem_buf *b)
{
	static const char *const defs[] = {
		"static long long ecl__int_add(long long a, long long b)\n{\n"
		"\treturn (long long)((unsigned long long)a + (unsigned long long)b);\n}\n",
		"static long long ecl__int_sub(long long a, long long b)\n{\n"
		"\treturn (long long)((unsigned long long)a - (unsigned long long)b);\n}\n",
		"static long long ecl__int_mul(long long a, long long b)\n{\n"
		"\treturn (long long)((unsigned long long)a * (unsigned long long)b);\n}\n",
		"static long long ecl__int_div(long long a, long long b)\n{\n"
		"\tif (b == 0)\n\t\treturn 0;\n"
		"\tif (b == -1)\n\t\treturn (long long)(0 - (unsigned long long)a);\n"
		"\treturn a / b;\n}\n",
		"static long long ecl__int_mod(long long a, long long b)\n{\n"
		"\tif (b == 0 || b == -1)\n\t\treturn 0;\n"
		"\treturn a % b;\n}\n",
		"static long long ecl__int_neg(long long a)\n{\n"
		"\treturn (long long)(0 - (unsigned long long)a);\n}\n",
	};
	int i;

	if (!x->helpers)
		return;
	eclc_mem_buf_puts(
		b, "/* Integer arithmetic as the ecl language defines it: it wraps around, and "
		   "division by\n * zero gives 0 (C leaves both undefined). */\n");
	for (i = 0; i < 6; i++)
		if (x->helpers & (1u << i))
			eclc_mem_buf_printf(b, "%s\n", defs[i]);
}

/* static const char *const NAME[] = {pieces..., NULL}; for a long text. */
static void emit_pieces(struct mem_buf *b, const char *name, const char *text, size_t n)
{
	size_t at = 0;

	eclc_mem_buf_printf(b, "static const char *const %s[] = {\n", name);
	while (at < n) {
		size_t k = emit_chunk(text + at, n - at);

		eclc_mem_buf_puts(b, "\t");
		emit_cstr(b, text + at, k, "\t");
		eclc_mem_buf_puts(b, ",\n");
		at += k;
	}
	eclc_mem_buf_puts(b, "\tNULL,\n};\n\n");
}

/* The drawings of the state machine that `ecl graph` prints: what `eclc --emit` writes. */
static void emit_graphs(struct emitter *x, struct mem_buf *b)
{
	struct mem_buf g;

	eclc_mem_buf_puts(
		b, "/* The state machine drawn for `ecl graph` (eclc --emit mermaid, dot, json). "
		   "*/\n");
	eclc_mem_buf_init(&g, x->m);
	emit_mermaid(x->u, &g);
	emit_pieces(b, "ecl__graph_mermaid", g.p, g.len);
	eclc_mem_buf_reset(&g);
	emit_dot(x->u, &g);
	emit_pieces(b, "ecl__graph_dot", g.p, g.len);
	eclc_mem_buf_reset(&g);
	emit_json(x->u, &g);
	emit_pieces(b, "ecl__graph_json", g.p, g.len);
}

/* The C functions of the code steps, each declared once: the user writes them in a .c file
 * beside the .ecl file, and the build links them in. */
static void emit_functions(struct emitter *x, struct mem_buf *b)
{
	const struct ast_workflow *wf = x->wf;
	struct mem_map seen = {0};
	int i, any = 0;

	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];

		if (st->kind != AST_ST_CODE || eclc_mem_map_get(&seen, st->fn.s) >= 0)
			continue;
		eclc_mem_map_put(x->m, &seen, st->fn.s, i);
		if (!any)
			eclc_mem_buf_puts(
				b, "/* The C functions of the code steps (see ecl_code_fn in "
				   "ecl.h), written beside the .ecl file. */\n");
		any = 1;
		eclc_mem_buf_printf(b, "int %s(ecl_call *); /* ", st->fn.s);
		emit_where(x, b, st->call_off);
		eclc_mem_buf_puts(b, " */\n");
	}
	if (any)
		eclc_mem_buf_putc(b, '\n');
}

/* ---- tables ------------------------------------------------------------------------------- */

static void emit_states(struct emitter *x, struct mem_buf *b)
{
	const struct ast_workflow *wf = x->wf;
	size_t width = 0;
	int i;

	for (i = 0; i < wf->nsteps; i++) {
		size_t w = strlen(eclc_mem_printf(x->m, "%s = %d,", emit_state(x, i), i));

		if (w > width)
			width = w;
	}
	eclc_mem_buf_puts(b, "/* The states: one per step of the workflow. */\nenum state {\n");
	for (i = 0; i < wf->nsteps; i++) {
		const char *item = eclc_mem_printf(x->m, "%s = %d%s", emit_state(x, i), i,
						   i + 1 < wf->nsteps ? "," : "");

		eclc_mem_buf_printf(b, "\t%-*s /* ", (int)width, item);
		emit_where(x, b, wf->steps[i].off);
		eclc_mem_buf_puts(b, " */\n");
	}
	eclc_mem_buf_puts(b, "};\n\n");
}

static void emit_slot_enum(struct emitter *x, struct mem_buf *b)
{
	const struct ast_workflow *wf = x->wf;
	int i;

	if (!wf->nslots) /* C has no empty enum */
		return;
	eclc_mem_buf_puts(b,
			  "/* The variable slots: inputs, vars, then each step's loop counter and "
			  "output fields. */\nenum slot {\n");
	for (i = 0; i < wf->nslots; i++)
		eclc_mem_buf_printf(b, "\t%s = %d%s\n", emit_slot(x, i), i,
				    i + 1 < wf->nslots ? "," : "");
	eclc_mem_buf_puts(b, "};\n\n");
}

static void emit_slots(struct emitter *x, struct mem_buf *b)
{
	static const char *const kinds[] = {"ECL_SLOT_INPUT", "ECL_SLOT_VAR", "ECL_SLOT_OUTPUT",
					    "ECL_SLOT_COUNTER"};
	static const char *const types[] = {"ECL_T_STRING", "ECL_T_INT",  "ECL_T_FLOAT",
					    "ECL_T_BOOL",   "ECL_T_ENUM", "ECL_T_LIST"};
	const struct ast_workflow *wf = x->wf;
	int i, k, any = 0;

	for (i = 0; i < wf->nslots; i++) {
		const struct ast_type *t = wf->slots[i].type;

		if (t->kind != AST_T_ENUM)
			continue;
		eclc_mem_buf_printf(b, "static const char *const choices__%s[] = {",
				    emit_lower(x->m, wf->slots[i].cname));
		for (k = 0; k < t->nchoices; k++) {
			if (k)
				eclc_mem_buf_puts(b, ", ");
			emit_str(b, t->choices[k].s);
		}
		eclc_mem_buf_puts(b, "};\n");
		any = 1;
	}
	if (any)
		eclc_mem_buf_putc(b, '\n');
	if (!wf->nslots) /* nor an empty array: the descriptor says NULL */
		return;
	eclc_mem_buf_puts(b, "static const ecl_slot_def ecl__slots[] = {\n");
	for (i = 0; i < wf->nslots; i++) {
		const struct ast_slot *s = &wf->slots[i];
		const struct ast_type *t = s->type;

		eclc_mem_buf_printf(b, "\t[%s] = {\n\t\t.name = ", emit_slot(x, i));
		emit_str(b, s->name);
		eclc_mem_buf_printf(b, ",\n\t\t.kind = %s,\n\t\t.type = %s,\n\t\t.step = %s,\n",
				    kinds[s->kind], types[t->kind],
				    s->step >= 0 ? emit_state(x, s->step) : "-1");
		if (s->field) {
			eclc_mem_buf_puts(b, "\t\t.field = ");
			emit_str(b, s->field);
			eclc_mem_buf_puts(b, ",\n");
		}
		if (t->kind == AST_T_ENUM)
			eclc_mem_buf_printf(b, "\t\t.choices = choices__%s,\n\t\t.nchoices = %d,\n",
					    emit_lower(x->m, s->cname), t->nchoices);
		if (t->kind == AST_T_INT && t->has_range)
			eclc_mem_buf_printf(
				b, "\t\t.has_range = 1,\n\t\t.min = %lld,\n\t\t.max = %lld,\n",
				t->min, t->max);
		if (s->required)
			eclc_mem_buf_puts(b, "\t\t.required = 1,\n");
		if (s->initial) {
			eclc_mem_buf_puts(b, "\t\t.initial = ");
			emit_str(b, s->initial);
			eclc_mem_buf_puts(b, ",\n");
		}
		if (s->doc) {
			eclc_mem_buf_puts(b, "\t\t.doc = ");
			emit_str(b, s->doc);
			eclc_mem_buf_puts(b, ",\n");
		}
		eclc_mem_buf_puts(b, "\t},\n");
	}
	eclc_mem_buf_puts(b, "};\n\n");
}

static void emit_opts(struct mem_buf *b, struct mem *m, const struct ast_opts *o, const char *ind)
{
	/* Unset options have the values ecl.h gives for "unset". */
	eclc_mem_buf_puts(b, ".opts = {.model = ");
	emit_str(b, o->set[AST_OPT_MODEL] ? o->model : NULL);
	eclc_mem_buf_printf(b, ",\n%s\t .temperature = %s,\n", ind,
			    o->set[AST_OPT_TEMPERATURE] ? ast_double(m, o->temperature) : "-1");
	eclc_mem_buf_printf(b, "%s\t .max_tokens = %lld,\n", ind,
			    o->set[AST_OPT_MAX_TOKENS] ? o->max_tokens : 0);
	eclc_mem_buf_printf(b, "%s\t .retries = %lld,\n", ind,
			    o->set[AST_OPT_RETRY] ? o->retries : -1);
	eclc_mem_buf_printf(b, "%s\t .timeout_ms = %lld,\n", ind,
			    o->set[AST_OPT_TIMEOUT] ? o->timeout_ms : 0);
	eclc_mem_buf_printf(b, "%s\t .repairs = %lld},\n", ind,
			    o->set[AST_OPT_REPAIR] ? o->repairs : -1);
}

/* static const char schema__NAME[] = ...; the JSON Schema of an LLM step's answer, which the
 * providers send. A C string literal when it fits in the 4095 characters C promises, else the
 * same bytes as a list of numbers (the schema of a step with many fields or long choices). */
static void emit_schema_def(struct emitter *x, struct mem_buf *b, const struct ast_step *st)
{
	const char *schema = emit_schema(x->m, st);
	size_t i, n = strlen(schema);

	eclc_mem_buf_printf(b,
			    "/* The JSON Schema of the answer of %s, sent to the provider. */\n"
			    "static const char schema__%s[] = ",
			    st->name.s, st->name.s);
	if (n <= DIAG_MAX_STRING) {
		emit_cstr(b, schema, n, NULL);
		eclc_mem_buf_puts(b, ";\n\n");
		return;
	}
	eclc_mem_buf_puts(b, "{");
	for (i = 0; i < n; i++)
		eclc_mem_buf_printf(b, "%s%d,", i % 16 ? " " : "\n\t", (unsigned char)schema[i]);
	eclc_mem_buf_puts(b, "\n\t0};\n\n");
}

/* The static data of each step (templates, outputs, fallback and results) and the steps
 * table. */
static void emit_steps(struct emitter *x, struct mem_buf *b)
{
	const struct ast_workflow *wf = x->wf;
	int *nsys = eclc_mem_alloc(x->m, sizeof(int) * ((size_t)wf->nsteps + 1));
	int *nprompt = eclc_mem_alloc(x->m, sizeof(int) * ((size_t)wf->nsteps + 1));
	int *nquestion = eclc_mem_alloc(x->m, sizeof(int) * ((size_t)wf->nsteps + 1));
	int i, k;

	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];
		const char *name = st->name.s;

		if (st->kind == AST_ST_HUMAN)
			nquestion[i] = emit_template(
				x, b, eclc_mem_printf(x->m, "question__%s", name), &st->question);
		nsys[i] =
			emit_template(x, b, eclc_mem_printf(x->m, "system__%s", name), &st->system);
		nprompt[i] =
			emit_template(x, b, eclc_mem_printf(x->m, "prompt__%s", name), &st->prompt);
		if (st->kind == AST_ST_LLM)
			emit_schema_def(x, b, st);
		if (st->nfields) {
			eclc_mem_buf_printf(b, "static const int outputs__%s[] = {", name);
			for (k = 0; k < st->nfields; k++)
				eclc_mem_buf_printf(b, "%s%s", k ? ", " : "",
						    emit_slot(x, st->fields[k].slot));
			eclc_mem_buf_puts(b, "};\n\n");
		}
		if (x->limit_used[i])
			emit_message(x, b, eclc_mem_printf(x->m, "limit__%s", name),
				     eclc_mem_printf(x->m, "limit_parts__%s", name),
				     &st->limit.els.msg);
		for (k = 0; k < st->ntrans; k++) {
			const struct ast_target *to = &st->trans[k].to;
			int f;

			if (to->kind == AST_TG_FAIL)
				emit_message(
					x, b, eclc_mem_printf(x->m, "fail_%d__%s", k + 1, name),
					eclc_mem_printf(x->m, "fail_%d_parts__%s", k + 1, name),
					&to->msg);
			if (to->kind != AST_TG_DONE || (!to->value && !to->nfields) ||
			    emit_done_computed(to))
				continue;
			eclc_mem_buf_puts(b, "/* ");
			emit_where(x, b, st->trans[k].off);
			eclc_mem_buf_printf(b,
					    " */\nstatic const ecl_field_ref result_%d__%s[] = {\n",
					    k + 1, name);
			if (to->value)
				eclc_mem_buf_printf(b, "\t{NULL, %s},\n",
						    emit_slot(x, to->value->ref.slot));
			for (f = 0; f < to->nfields; f++) {
				eclc_mem_buf_puts(b, "\t{");
				emit_str(b, to->fields[f].name.s);
				eclc_mem_buf_printf(b, ", %s},\n",
						    emit_slot(x, to->fields[f].value->ref.slot));
			}
			eclc_mem_buf_puts(b, "};\n\n");
		}
	}
	eclc_mem_buf_puts(b, "static const ecl_step_def ecl__steps[] = {\n");
	for (i = 0; i < wf->nsteps; i++) {
		static const char *const kinds[] = {"ECL_STEP_LLM", "ECL_STEP_CODE",
						    "ECL_STEP_HUMAN", "ECL_STEP_SET"};
		const struct ast_step *st = &wf->steps[i];
		const char *name = st->name.s;

		eclc_mem_buf_printf(b, "\t[%s] = {\n\t\t.name = ", emit_state(x, i));
		emit_str(b, name);
		eclc_mem_buf_printf(b, ",\n\t\t.kind = %s,\n\t\t.line = %d,\n", kinds[st->kind],
				    diag_line(&x->u->src, st->off));
		if (nsys[i])
			eclc_mem_buf_printf(b, "\t\t.system = {system__%s, %d},\n", name, nsys[i]);
		if (nprompt[i])
			eclc_mem_buf_printf(b, "\t\t.prompt = {prompt__%s, %d},\n", name,
					    nprompt[i]);
		if (st->nfields)
			eclc_mem_buf_printf(b, "\t\t.outputs = outputs__%s,\n\t\t.noutputs = %d,\n",
					    name, st->nfields);
		if (st->kind == AST_ST_LLM)
			eclc_mem_buf_printf(b, "\t\t.schema = schema__%s,\n", name);
		if (st->limit.present) {
			eclc_mem_buf_printf(b, "\t\t.limit = %lld,\n\t\t.counter = %s,\n",
					    st->limit.n, emit_slot(x, st->limit.slot));
			eclc_mem_buf_puts(b, "\t\t.counter_label = ");
			emit_str(b, st->limit.counter.s);
			eclc_mem_buf_puts(b, ",\n");
		} else {
			eclc_mem_buf_puts(b, "\t\t.counter = -1,\n");
		}
		eclc_mem_buf_puts(b, "\t\t");
		emit_opts(b, x->m, &st->opts, "\t\t");
		if (nquestion[i])
			eclc_mem_buf_printf(b, "\t\t.question = {question__%s, %d},\n", name,
					    nquestion[i]);
		if (st->kind == AST_ST_CODE) {
			eclc_mem_buf_puts(b, "\t\t.function = ");
			emit_str(b, st->fn.s);
			eclc_mem_buf_puts(b, ",\n");
		}
		eclc_mem_buf_puts(b, "\t},\n");
	}
	eclc_mem_buf_puts(b, "};\n\n");
}

/* "ecl run critique-revise --topic <string> [--min_words <int>]" */
static const char *emit_usage(struct emitter *x)
{
	const struct ast_workflow *wf = x->wf;
	struct mem_buf b;
	int i, k;

	eclc_mem_buf_init(&b, x->m);
	eclc_mem_buf_printf(&b, "ecl run %s", wf->id.s);
	for (i = 0; i < wf->nslots; i++) {
		const struct ast_slot *s = &wf->slots[i];

		if (s->kind != AST_S_INPUT)
			continue;
		eclc_mem_buf_printf(&b, " %s--%s <", s->required ? "" : "[", s->name);
		if (s->type->kind == AST_T_ENUM)
			for (k = 0; k < s->type->nchoices; k++)
				eclc_mem_buf_printf(&b, "%s%s", k ? "|" : "",
						    s->type->choices[k].s);
		else
			eclc_mem_buf_puts(&b, ast_tkind_name(s->type->kind));
		eclc_mem_buf_puts(&b, s->required ? ">" : ">]");
	}
	return eclc_mem_buf_str(&b);
}

void emit_c(struct unit *u, struct mem_buf *b)
{
	const struct ast_workflow *wf = u->wf;
	struct emitter x = {u, wf, &u->mem, u->src.path, 0, NULL, NULL, NULL, NULL, 0};
	struct mem_buf fn;

	x.limit_used = eclc_mem_alloc(x.m, (size_t)wf->nsteps + 1);
	x.chain = eclc_mem_alloc(x.m, sizeof(int) * ((size_t)wf->nsteps + 1));
	x.states = eclc_mem_alloc(x.m, sizeof(*x.states) * ((size_t)wf->nsteps + 1));
	x.slots = eclc_mem_alloc(x.m, sizeof(*x.slots) * ((size_t)wf->nslots + 1));
	/* The step function first: it finds which helpers and fallbacks are used. */
	eclc_mem_buf_init(&fn, x.m);
	emit_step_fn(&x, &fn);

	eclc_mem_buf_puts(b, ECLC_MARKER " from ");
	emit_comment_str(b, x.path);
	eclc_mem_buf_puts(b, ". Do not edit: change the .ecl file and rebuild. */\n\n");
	eclc_mem_buf_puts(b, "#include \"ecl.h\"\n\n#if ECL_ABI_VERSION != 2\n"
			     "#error \"generated for ecl ABI 2\"\n#endif\n\n");
	emit_states(&x, b);
	emit_slot_enum(&x, b);
	emit_slots(&x, b);
	emit_steps(&x, b);
	emit_graphs(&x, b);
	emit_helpers(&x, b);
	emit_functions(&x, b);
	eclc_mem_buf_put(b, fn.p, fn.len);
	/* Declared first, for -Wmissing-variable-declarations: the registry refers to it. */
	eclc_mem_buf_printf(b, "extern const ecl_workflow %s;\n\n", emit_symbol(x.m, wf->id.s));
	eclc_mem_buf_printf(b, "const ecl_workflow %s = {\n\t.abi = ECL_ABI_VERSION,\n\t.id = ",
			    emit_symbol(x.m, wf->id.s));
	emit_str(b, wf->id.s);
	eclc_mem_buf_puts(b, ",\n\t.name = ");
	emit_str(b, wf->name ? wf->name : wf->id.s);
	eclc_mem_buf_puts(b, ",\n\t.description = ");
	emit_str(b, wf->description ? wf->description : "");
	eclc_mem_buf_puts(b, ",\n\t.source = ");
	emit_str(b, x.path);
	eclc_mem_buf_printf(b, ",\n\t.version = \"%s\",\n",
			    emit_version(x.m, u->src.text, u->src.len));
	eclc_mem_buf_printf(
		b, "\t.slots = %s,\n\t.nslots = %d,\n\t.steps = ecl__steps,\n\t.nsteps = %d,\n",
		wf->nslots ? "ecl__slots" : "NULL", wf->nslots, wf->nsteps);
	eclc_mem_buf_printf(b, "\t.start = %s,\n\t.max_steps = %d,\n\t", emit_state(&x, 0),
			    wf->max_steps);
	emit_opts(b, x.m, &wf->opts, "\t");
	eclc_mem_buf_puts(b, "\t.step = ecl__step,\n\t.usage = ");
	emit_str(b, emit_usage(&x));
	eclc_mem_buf_puts(
		b, ",\n\t.graph_mermaid = ecl__graph_mermaid,\n\t.graph_dot = ecl__graph_dot,\n"
		   "\t.graph_json = ecl__graph_json,\n};\n");
}

void emit_registry(struct mem_buf *b, const struct ast_workflow *const *wfs,
		   const char *const *paths, int n)
{
	struct mem *m = b->m;
	int i;

	eclc_mem_buf_puts(b, ECLC_MARKER
			  ". Do not edit: change the .ecl files and rebuild.\n"
			  " * The workflows compiled into the program, sorted by id:\n");
	for (i = 0; i < n; i++) {
		eclc_mem_buf_printf(b, " *   %s (", wfs[i]->id.s);
		emit_comment_str(b, paths[i]);
		eclc_mem_buf_puts(b, ")\n");
	}
	eclc_mem_buf_puts(b, " */\n\n#include \"ecl.h\"\n\n");
	for (i = 0; i < n; i++)
		eclc_mem_buf_printf(b, "extern const ecl_workflow %s;\n",
				    emit_symbol(m, wfs[i]->id.s));
	eclc_mem_buf_puts(b, "\nconst ecl_workflow *const ecl_workflows[] = {\n");
	for (i = 0; i < n; i++)
		eclc_mem_buf_printf(b, "\t&%s,\n", emit_symbol(m, wfs[i]->id.s));
	eclc_mem_buf_printf(b, "\tNULL,\n};\n\nconst size_t ecl_nworkflows = %d;\n", n);
}
