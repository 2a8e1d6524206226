/*
 * check.c - the checker. In order: declarations and their types, the slots (the numbered
 * variables the runtime sees), then each step (templates, sets, guards, targets), then the
 * step graph: every cycle must pass through a step with a `limit`, and from the limits comes
 * max_steps, the most steps any run executes.
 *
 * Everything that can be checked is, so that one run reports every error; an expression with
 * an error has type AST_T_ERROR, which silences the diagnostics it would cause further up.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "unit.h"

#define CHECK_MAX_LIMIT   1000000
#define CHECK_MAX_RETRY   100
#define CHECK_MAX_TIMEOUT 86400000LL /* 24 hours, in ms */

struct checker {
	struct unit *u;
	struct ast_workflow *wf;
	struct mem *m;
	struct mem_map values; /* plain names (inputs, vars, counters) to slots */
	struct mem_map slots;  /* every slot name, "step.field" included, to slots */
	struct mem_map steps;  /* step names to steps */
	size_t capslots;
};

/* ---- declarations ------------------------------------------------------------------------- */

static void check_dup(struct checker *c, const char *what, const struct ast_name *n, size_t first,
		      size_t firstlen)
{
	eclc_diag *d = diag_report(c->u, D_DUP_NAME, n->off, n->len, what, n->s);

	diag_note_at(c->u, d, first, firstlen, "first declared here");
}

static void check_type(struct checker *c, const struct ast_type *t)
{
	struct mem_map seen = {0};
	int i;

	if (t->kind == AST_T_INT && t->has_range && t->min > t->max)
		diag_report(c->u, D_EMPTY_RANGE, t->off, t->len, t->min, t->max);
	for (i = 0; i < t->nchoices; i++) {
		int first = eclc_mem_map_get(&seen, t->choices[i].s);

		if (first >= 0)
			check_dup(c, "choice", &t->choices[i], t->choices[first].off,
				  t->choices[first].len);
		else
			eclc_mem_map_put(c->m, &seen, t->choices[i].s, i);
	}
}

static int check_same_choices(const struct ast_type *a, const struct ast_type *b)
{
	int i;

	if (a->nchoices != b->nchoices)
		return 0;
	for (i = 0; i < a->nchoices; i++)
		if (strcmp(a->choices[i].s, b->choices[i].s) != 0)
			return 0;
	return 1;
}

static int check_is_choice(const struct ast_type *t, const char *s)
{
	int i;

	for (i = 0; i < t->nchoices; i++)
		if (strcmp(t->choices[i].s, s) == 0)
			return 1;
	return 0;
}

/* "\"pass\" is not a choice of `decision` (pass | revise)", with the closest choice. */
static void check_not_choice(struct checker *c, const struct ast_expr *lit, const char *of,
			     const struct ast_type *t)
{
	struct mem_buf b;
	struct diag_suggest sg;
	eclc_diag *d;
	int i;

	eclc_mem_buf_init(&b, c->m);
	for (i = 0; i < t->nchoices; i++)
		eclc_mem_buf_printf(&b, "%s%s", i ? " | " : "", t->choices[i].s);
	d = diag_report(c->u, D_NOT_A_CHOICE, lit->off, lit->len, lit->s, of, eclc_mem_buf_str(&b));
	diag_suggest_init(&sg, lit->s);
	for (i = 0; i < t->nchoices; i++)
		diag_suggest_add(&sg, t->choices[i].s);
	if (sg.best)
		diag_help(c->u, d, "did you mean \"%s\"?", sg.best);
}

/* ---- slots -------------------------------------------------------------------------------- */

static const char *check_upper(struct mem *m, const char *s)
{
	char *p = eclc_mem_strndup(m, s, strlen(s)), *q;

	for (q = p; *q; q++) {
		if (*q >= 'a' && *q <= 'z')
			*q = (char)(*q - 'a' + 'A');
		else if (*q == '.')
			*q = '_';
	}
	return p;
}

static struct ast_slot *check_add_slot(struct checker *c, enum ast_skind kind, const char *name,
				       const struct ast_type *type, size_t off, size_t len)
{
	struct ast_workflow *wf = c->wf;
	struct ast_slot *s;

	wf->slots = eclc_mem_grow(c->m, wf->slots, (size_t)wf->nslots, &c->capslots, sizeof(*s));
	s = &wf->slots[wf->nslots];
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->cname = check_upper(c->m, name);
	s->kind = kind;
	s->type = type;
	s->step = -1;
	s->off = off;
	s->len = len;
	eclc_mem_map_put(c->m, &c->slots, name, wf->nslots);
	if (kind != AST_S_OUTPUT)
		eclc_mem_map_put(c->m, &c->values, name, wf->nslots);
	return &wf->slots[wf->nslots++];
}

static const char *check_literal_type(const struct ast_expr *e)
{
	switch (e->kind) {
	case AST_E_INT: return "int";
	case AST_E_FLOAT: return "float";
	case AST_E_BOOL: return "bool";
	default: return "string";
	}
}

/* The default of an input or the initial value of a var, as JSON; NULL after an error. */
static const char *check_default(struct checker *c, const struct ast_decl *d)
{
	const struct ast_expr *e = d->init;
	const struct ast_type *t = &d->type;
	int ok;

	switch (t->kind) {
	case AST_T_STRING:
	case AST_T_ENUM: ok = e->kind == AST_E_STR; break;
	case AST_T_INT: ok = e->kind == AST_E_INT; break;
	case AST_T_FLOAT: ok = e->kind == AST_E_INT || e->kind == AST_E_FLOAT; break;
	case AST_T_BOOL: ok = e->kind == AST_E_BOOL; break;
	case AST_T_LIST: ok = 0; break;
	default: return NULL;
	}
	if (!ok) {
		diag_report(c->u, D_DEFAULT_TYPE, e->off, e->len, d->name.s, ast_type_name(c->m, t),
			    check_literal_type(e));
		return NULL;
	}
	if (t->kind == AST_T_ENUM && !check_is_choice(t, e->s)) {
		check_not_choice(c, e, d->name.s, t);
		return NULL;
	}
	if (t->kind == AST_T_INT && t->has_range && (e->i < t->min || e->i > t->max)) {
		diag_report(c->u, D_DEFAULT_RANGE, e->off, e->len, e->i, d->name.s, t->min, t->max);
		return NULL;
	}
	switch (e->kind) {
	case AST_E_STR: {
		struct mem_buf b;

		eclc_mem_buf_init(&b, c->m);
		ast_json_str(&b, e->s);
		/* The JSON text is what goes into the C string. */
		if (b.len > DIAG_MAX_STRING)
			diag_report(c->u, D_LONG_STRING, e->off, e->len, DIAG_MAX_STRING);
		return eclc_mem_buf_str(&b);
	}
	case AST_E_INT: return eclc_mem_printf(c->m, "%lld", e->i);
	case AST_E_FLOAT: return ast_double(c->m, e->f);
	default: return e->i ? "true" : "false";
	}
}

static void check_long(struct checker *c, const char *s, size_t off, size_t len)
{
	if (s && strlen(s) > DIAG_MAX_STRING)
		diag_report(c->u, D_LONG_STRING, off, len, DIAG_MAX_STRING);
}

/* Inputs, then vars, then for each step its counter and its output fields. */
static void check_slots(struct checker *c)
{
	struct ast_workflow *wf = c->wf;
	int pass, i, j;

	for (pass = AST_D_INPUT; pass <= AST_D_VAR; pass++)
		for (i = 0; i < wf->ndecls; i++) {
			struct ast_decl *d = &wf->decls[i];
			struct ast_slot *s;
			int first;

			if ((int)d->kind != pass)
				continue;
			check_type(c, &d->type);
			first = eclc_mem_map_get(&c->values, d->name.s);
			if (first >= 0) {
				check_dup(c, d->kind == AST_D_INPUT ? "input" : "var", &d->name,
					  wf->slots[first].off, wf->slots[first].len);
				continue;
			}
			s = check_add_slot(c, pass == AST_D_INPUT ? AST_S_INPUT : AST_S_VAR,
					   d->name.s, &d->type, d->name.off, d->name.len);
			d->slot = wf->nslots - 1;
			s->doc = d->doc;
			s->required = d->kind == AST_D_INPUT && !d->init;
			if (d->init)
				s->initial = check_default(c, d);
			check_long(c, d->doc, d->doc_off, 1);
		}
	for (i = 0; i < wf->nsteps; i++) {
		struct ast_step *st = &wf->steps[i];
		struct mem_map fields = {0};
		int first = eclc_mem_map_get(&c->steps, st->name.s);

		if (first >= 0)
			check_dup(c, "step", &st->name, wf->steps[first].name.off,
				  wf->steps[first].name.len);
		else
			eclc_mem_map_put(c->m, &c->steps, st->name.s, i);
		if (st->limit.present) {
			static const struct ast_type counter = {AST_T_INT, 0, 0, 0, NULL, 0, 0, 0};
			struct ast_name *n = &st->limit.counter;

			first = eclc_mem_map_get(&c->values, n->s);
			if (first >= 0) {
				check_dup(c, "name", n, wf->slots[first].off, wf->slots[first].len);
			} else {
				struct ast_slot *s = check_add_slot(c, AST_S_COUNTER, n->s,
								    &counter, n->off, n->len);

				s->step = i;
				s->initial = "0";
				st->limit.slot = wf->nslots - 1;
			}
		}
		for (j = 0; j < st->nfields; j++) {
			struct ast_field *f = &st->fields[j];
			struct ast_slot *s;
			int dup = eclc_mem_map_get(&fields, f->name.s);

			check_type(c, &f->type);
			if (dup >= 0) {
				check_dup(c, "output field", &f->name, st->fields[dup].name.off,
					  st->fields[dup].name.len);
				continue;
			}
			eclc_mem_map_put(c->m, &fields, f->name.s, j);
			/* The fields of a duplicate step would clash with the first one's. */
			if (eclc_mem_map_get(&c->steps, st->name.s) != i)
				continue;
			s = check_add_slot(c, AST_S_OUTPUT,
					   eclc_mem_printf(c->m, "%s.%s", st->name.s, f->name.s),
					   &f->type, f->name.off, f->name.len);
			s->step = i;
			s->field = f->name.s;
			s->required = !f->optional;
			f->slot = wf->nslots - 1;
		}
	}
}

/* Two slots, or two steps, whose C names would be the same identifier. */
static void check_cnames(struct checker *c)
{
	struct ast_workflow *wf = c->wf;
	struct mem_map seen = {0}, steps = {0};
	int i;

	for (i = 0; i < wf->nslots; i++) {
		const struct ast_slot *s = &wf->slots[i];
		int first = eclc_mem_map_get(&seen, s->cname);

		if (first >= 0)
			diag_report(c->u, D_CNAME_CLASH, s->off, s->len, wf->slots[first].name,
				    s->name, eclc_mem_printf(c->m, "V__%s", s->cname));
		else
			eclc_mem_map_put(c->m, &seen, s->cname, i);
	}
	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];
		const char *cname = check_upper(c->m, st->name.s);
		int first = eclc_mem_map_get(&steps, cname);

		if (first >= 0 && strcmp(wf->steps[first].name.s, st->name.s) != 0)
			diag_report(c->u, D_CNAME_CLASH, st->name.off, st->name.len,
				    wf->steps[first].name.s, st->name.s,
				    eclc_mem_printf(c->m, "S__%s", cname));
		else if (first < 0)
			eclc_mem_map_put(c->m, &steps, cname, i);
	}
}

/* ---- references and expressions ---------------------------------------------------------- */

/* Resolve r to a slot; report it when unknown. Returns the slot or NULL. */
static struct ast_slot *check_ref(struct checker *c, struct ast_ref *r)
{
	struct ast_workflow *wf = c->wf;
	struct diag_suggest sg;
	eclc_diag *d;
	int i, slot, step;

	if (!r->field.s) {
		slot = eclc_mem_map_get(&c->values, r->base.s);
		if (slot < 0) {
			d = diag_report(c->u, D_UNKNOWN_REF, r->base.off, r->base.len, r->base.s);
			diag_suggest_init(&sg, r->base.s);
			for (i = 0; i < wf->nslots; i++)
				if (wf->slots[i].kind != AST_S_OUTPUT)
					diag_suggest_add(&sg, wf->slots[i].name);
			diag_suggest_help(c->u, d, &sg);
			if (!sg.best && eclc_mem_map_get(&c->steps, r->base.s) >= 0)
				diag_help(c->u, d,
					  "`%s` is a step: name one of its output fields, "
					  "as `%s.field`",
					  r->base.s, r->base.s);
			return NULL;
		}
	} else {
		step = eclc_mem_map_get(&c->steps, r->base.s);
		if (step < 0) {
			d = diag_report(c->u, D_UNKNOWN_STEP, r->base.off, r->base.len, r->base.s);
			diag_suggest_init(&sg, r->base.s);
			for (i = 0; i < wf->nsteps; i++)
				diag_suggest_add(&sg, wf->steps[i].name.s);
			diag_suggest_help(c->u, d, &sg);
			return NULL;
		}
		slot = eclc_mem_map_get(&c->slots,
					eclc_mem_printf(c->m, "%s.%s", r->base.s, r->field.s));
		if (slot < 0) {
			const struct ast_step *st = &wf->steps[step];

			d = diag_report(c->u, D_UNKNOWN_FIELD, r->field.off, r->field.len,
					r->base.s, r->field.s);
			diag_suggest_init(&sg, r->field.s);
			for (i = 0; i < st->nfields; i++)
				diag_suggest_add(&sg, st->fields[i].name.s);
			diag_suggest_help(c->u, d, &sg);
			return NULL;
		}
	}
	r->slot = slot;
	wf->slots[slot].reads++;
	return &wf->slots[slot];
}

static void check_template(struct checker *c, struct ast_template *t)
{
	int i;

	for (i = 0; i < t->nparts; i++)
		if (t->parts[i].is_slot)
			check_ref(c, &t->parts[i].ref);
}

static int check_numeric(enum ast_tkind k)
{
	return k == AST_T_INT || k == AST_T_FLOAT;
}

static int check_stringy(enum ast_tkind k)
{
	return k == AST_T_STRING || k == AST_T_ENUM;
}

/* The name of an expression's type in messages. */
static const char *check_tname(struct checker *c, const struct ast_expr *e)
{
	if (e->type == AST_T_ENUM && e->decl)
		return ast_type_name(c->m, e->decl);
	return ast_tkind_name(e->type);
}

/* `decision == "pass"`: the literal must be one of the enum's choices. */
static void check_choice_cmp(struct checker *c, const struct ast_expr *en,
			     const struct ast_expr *lit)
{
	if (en->type == AST_T_ENUM && lit->kind == AST_E_STR && !check_is_choice(en->decl, lit->s))
		check_not_choice(c, lit, en->ref.field.s ? en->ref.field.s : en->ref.base.s,
				 en->decl);
}

static enum ast_tkind check_binary(struct checker *c, struct ast_expr *e)
{
	struct ast_expr *a = e->a, *b = e->b;
	enum ast_tkind ta = a->type, tb = b->type;
	int bad = 0;

	if (ta == AST_T_ERROR || tb == AST_T_ERROR)
		return e->op <= AST_OP_GE ? AST_T_BOOL : AST_T_ERROR;
	switch (e->op) {
	case AST_OP_OR:
	case AST_OP_AND: bad = ta != AST_T_BOOL || tb != AST_T_BOOL; break;
	case AST_OP_EQ:
	case AST_OP_NE:
		if (check_numeric(ta) && check_numeric(tb))
			break;
		if (ta == AST_T_BOOL && tb == AST_T_BOOL)
			break;
		if (ta == AST_T_ENUM && tb == AST_T_ENUM) {
			bad = !check_same_choices(a->decl, b->decl);
			break;
		}
		if (!check_stringy(ta) || !check_stringy(tb)) {
			bad = 1;
			break;
		}
		check_choice_cmp(c, a, b);
		check_choice_cmp(c, b, a);
		break;
	case AST_OP_LT:
	case AST_OP_LE:
	case AST_OP_GT:
	case AST_OP_GE: bad = !check_numeric(ta) || !check_numeric(tb); break;
	case AST_OP_ADD:
		/* Joining: a string with a string, a number or a bool (written as text). */
		if (check_stringy(ta) || check_stringy(tb)) {
			bad = ta == AST_T_LIST || tb == AST_T_LIST;
			if (!bad)
				return AST_T_STRING;
			break;
		}
		/* fall through */
	case AST_OP_SUB:
	case AST_OP_MUL:
	case AST_OP_DIV: bad = !check_numeric(ta) || !check_numeric(tb); break;
	case AST_OP_MOD: bad = ta != AST_T_INT || tb != AST_T_INT; break;
	}
	if (bad) {
		diag_report(c->u, D_BINARY_TYPE, e->off, e->len, ast_op_name(e->op),
			    check_tname(c, a), check_tname(c, b));
		return e->op <= AST_OP_GE ? AST_T_BOOL : AST_T_ERROR;
	}
	if (e->op <= AST_OP_GE)
		return AST_T_BOOL;
	if ((e->op == AST_OP_DIV || e->op == AST_OP_MOD) && tb == AST_T_INT &&
	    b->kind == AST_E_INT && b->i == 0)
		diag_report(c->u, D_DIV_ZERO, b->off, b->len);
	return ta == AST_T_INT && tb == AST_T_INT ? AST_T_INT : AST_T_FLOAT;
}

static enum ast_tkind check_expr(struct checker *c, struct ast_expr *e)
{
	const struct ast_slot *s;

	switch (e->kind) {
	case AST_E_INT: e->type = AST_T_INT; break;
	case AST_E_FLOAT: e->type = AST_T_FLOAT; break;
	case AST_E_STR: e->type = AST_T_STRING; break;
	case AST_E_BOOL: e->type = AST_T_BOOL; break;
	case AST_E_REF:
		s = check_ref(c, &e->ref);
		e->type = s ? s->type->kind : AST_T_ERROR;
		e->decl = s ? s->type : NULL;
		break;
	case AST_E_LEN:
		e->type = AST_T_INT;
		if (e->a) {
			enum ast_tkind t = check_expr(c, e->a);

			if (t != AST_T_ERROR && !check_stringy(t))
				diag_report(c->u, D_LEN_TYPE, e->a->off, e->a->len,
					    check_tname(c, e->a));
			break;
		}
		s = check_ref(c, &e->ref);
		if (s && s->type->kind != AST_T_STRING && s->type->kind != AST_T_LIST &&
		    s->type->kind != AST_T_ERROR)
			diag_report(c->u, D_LEN_TYPE, e->ref.off, e->ref.len,
				    ast_type_name(c->m, s->type));
		break;
	case AST_E_NOT:
	case AST_E_NEG:
		check_expr(c, e->a);
		e->type = e->kind == AST_E_NOT ? AST_T_BOOL : e->a->type;
		if (e->a->type == AST_T_ERROR)
			break;
		if (e->kind == AST_E_NOT ? e->a->type != AST_T_BOOL : !check_numeric(e->a->type)) {
			diag_report(c->u, D_UNARY_TYPE, e->off, e->len,
				    e->kind == AST_E_NOT ? "not" : "-", check_tname(c, e->a));
			if (e->kind == AST_E_NEG)
				e->type = AST_T_ERROR;
		}
		break;
	case AST_E_BIN:
		check_expr(c, e->a);
		check_expr(c, e->b);
		e->type = check_binary(c, e);
		break;
	}
	return e->type;
}

/* ---- steps -------------------------------------------------------------------------------- */

static int check_range(struct checker *c, int set, long long v, long long lo, long long hi,
		       const char *name, const char *what, size_t off, size_t len)
{
	if (!set || (v >= lo && v <= hi))
		return 1;
	diag_report(c->u, D_OPT_RANGE, off, len, name, what);
	return 0;
}

static void check_opts(struct checker *c, const struct ast_opts *o)
{
	if (o->set[AST_OPT_MODEL] && !o->model[0])
		diag_report(c->u, D_OPT_RANGE, o->off[AST_OPT_MODEL], o->len[AST_OPT_MODEL],
			    "model", "a model name, not empty");
	check_long(c, o->model, o->off[AST_OPT_MODEL], o->len[AST_OPT_MODEL]);
	if (o->set[AST_OPT_TEMPERATURE] && !(o->temperature >= 0 && o->temperature <= 2))
		diag_report(c->u, D_OPT_RANGE, o->off[AST_OPT_TEMPERATURE],
			    o->len[AST_OPT_TEMPERATURE], "temperature", "between 0 and 2");
	check_range(c, o->set[AST_OPT_MAX_TOKENS], o->max_tokens, 1, INT_MAX, "max_tokens",
		    "between 1 and 2147483647", o->off[AST_OPT_MAX_TOKENS],
		    o->len[AST_OPT_MAX_TOKENS]);
	check_range(c, o->set[AST_OPT_RETRY], o->retries, 0, CHECK_MAX_RETRY, "retry",
		    "between 0 and 100", o->off[AST_OPT_RETRY], o->len[AST_OPT_RETRY]);
	check_range(c, o->set[AST_OPT_REPAIR], o->repairs, 0, CHECK_MAX_RETRY, "repair",
		    "between 0 and 100", o->off[AST_OPT_REPAIR], o->len[AST_OPT_REPAIR]);
	check_range(c, o->set[AST_OPT_TIMEOUT], o->timeout_ms, 1, CHECK_MAX_TIMEOUT, "timeout",
		    "between 1ms and 24h (1440m)", o->off[AST_OPT_TIMEOUT],
		    o->len[AST_OPT_TIMEOUT]);
}

static void check_set(struct checker *c, struct ast_set *s)
{
	struct ast_workflow *wf = c->wf;
	struct ast_slot *dst = NULL;
	enum ast_tkind t = check_expr(c, s->value), want;
	int slot = eclc_mem_map_get(&c->values, s->var.s), ok;

	if (s->after_trans)
		diag_report(c->u, D_SET_AFTER, s->off, s->len);
	if (slot < 0) {
		struct diag_suggest sg;
		eclc_diag *d = diag_report(c->u, D_UNKNOWN_REF, s->var.off, s->var.len, s->var.s);
		int i;

		diag_suggest_init(&sg, s->var.s);
		for (i = 0; i < wf->nslots; i++)
			if (wf->slots[i].kind == AST_S_VAR)
				diag_suggest_add(&sg, wf->slots[i].name);
		diag_suggest_help(c->u, d, &sg);
	} else if (wf->slots[slot].kind != AST_S_VAR) {
		diag_report(c->u, D_SET_TARGET, s->var.off, s->var.len, s->var.s,
			    wf->slots[slot].kind == AST_S_INPUT ? "an input" : "a limit counter");
	} else {
		dst = &wf->slots[slot];
		dst->writes++;
		s->slot = slot;
	}
	if (!dst || t == AST_T_ERROR || dst->type->kind == AST_T_ERROR)
		return;
	want = dst->type->kind;
	if (want == AST_T_ENUM && t == AST_T_STRING && s->value->kind == AST_E_STR) {
		if (!check_is_choice(dst->type, s->value->s))
			check_not_choice(c, s->value, dst->name, dst->type);
		return;
	}
	if (want == AST_T_ENUM && t == AST_T_ENUM)
		ok = check_same_choices(dst->type, s->value->decl);
	else
		ok = want == t || (want == AST_T_FLOAT && t == AST_T_INT);
	if (!ok) {
		diag_report(c->u, D_SET_TYPE, s->value->off, s->value->len,
			    ast_type_name(c->m, dst->type), dst->name, check_tname(c, s->value));
		return;
	}
}

static void check_target(struct checker *c, struct ast_target *to)
{
	struct ast_workflow *wf = c->wf;
	int i;

	switch (to->kind) {
	case AST_TG_STEP:
		to->istep = eclc_mem_map_get(&c->steps, to->step.s);
		if (to->istep < 0) {
			struct diag_suggest sg;
			eclc_diag *d = diag_report(c->u, D_UNKNOWN_STEP, to->step.off, to->step.len,
						   to->step.s);

			diag_suggest_init(&sg, to->step.s);
			for (i = 0; i < wf->nsteps; i++)
				diag_suggest_add(&sg, wf->steps[i].name.s);
			diag_suggest_help(c->u, d, &sg);
		}
		break;
	case AST_TG_FAIL: check_template(c, &to->msg); break;
	case AST_TG_DONE: {
		struct mem_map seen = {0};

		if (to->value)
			check_expr(c, to->value);
		for (i = 0; i < to->nfields; i++) {
			struct ast_result_field *f = &to->fields[i];
			int first = eclc_mem_map_get(&seen, f->name.s);

			if (first >= 0)
				check_dup(c, "result field", &f->name, to->fields[first].name.off,
					  to->fields[first].name.len);
			else
				eclc_mem_map_put(c->m, &seen, f->name.s, i);
			check_expr(c, f->value);
		}
		break;
	}
	}
}

/* How messages name each kind of step, by ast_stkind. */
static const char *const check_stkinds[] = {"an llm", "a code", "a human", "a set"};

/* An item that the kind of step st does not have. */
static void check_not_in(struct checker *c, const struct ast_step *st, int present,
			 const char *what, size_t off)
{
	if (present)
		diag_report(c->u, D_NOT_IN_STEP, off, strlen(what), what, check_stkinds[st->kind],
			    st->name.s);
}

/* The arguments of a code step: each value must have its declared type. */
static void check_args(struct checker *c, struct ast_step *st)
{
	struct mem_map seen = {0};
	int i;

	for (i = 0; i < st->nargs; i++) {
		struct ast_arg *a = &st->args[i];
		enum ast_tkind want = a->type.kind, t = check_expr(c, a->value);
		int first = eclc_mem_map_get(&seen, a->name.s), ok;

		check_type(c, &a->type);
		if (first >= 0)
			check_dup(c, "argument", &a->name, st->args[first].name.off,
				  st->args[first].name.len);
		else
			eclc_mem_map_put(c->m, &seen, a->name.s, i);
		if (t == AST_T_ERROR || want == AST_T_ERROR)
			continue;
		if (want == AST_T_ENUM && a->value->kind == AST_E_STR) {
			if (!check_is_choice(&a->type, a->value->s))
				check_not_choice(c, a->value, a->name.s, &a->type);
			continue;
		}
		if (want == AST_T_ENUM && t == AST_T_ENUM)
			ok = check_same_choices(&a->type, a->value->decl);
		else if (want == AST_T_STRING)
			ok = check_stringy(t); /* an enum's value is its text */
		else
			ok = want == t || (want == AST_T_FLOAT && t == AST_T_INT);
		if (!ok)
			diag_report(c->u, D_ARG_TYPE, a->value->off, a->value->len, a->name.s,
				    st->fn.s, ast_type_name(c->m, &a->type),
				    check_tname(c, a->value));
	}
}

/* The name of a code step's C function: the generated C declares it beside ecl.h and its own
 * names, so it must be a name no one else in that file has. The generated C's own names all
 * hold `__` (emit_c.c), but for the step function's `run` and `rc`. */
static void check_fn_name(struct checker *c, const struct ast_step *st)
{
	const char *s = st->fn.s, *why = NULL;

	if (!s) /* the parser reported it */
		return;
	if (strstr(s, "__"))
		why = "names with `__` are kept for the C that eclc writes";
	else if (s[0] == '_')
		why = "names that begin with `_` are reserved in C";
	else if (strncmp(s, "ecl_", 4) == 0 || strncmp(s, "ECL_", 4) == 0)
		why = "names that begin with `ecl_` are kept for ecl.h";
	else if (strcmp(s, "run") == 0 || strcmp(s, "rc") == 0)
		why = "the generated step function has a variable of that name";
	else if (cnames_taken(s))
		why = "it is a C keyword, or C's library or ecl.h's headers have that name";
	if (why)
		diag_report(c->u, D_FN_NAME, st->fn.off, st->fn.len, s, why);
}

/* What each kind of step must have and must not have. */
static void check_kind(struct checker *c, struct ast_step *st)
{
	int llm = st->kind == AST_ST_LLM, k;

	if (llm && !st->prompt.present)
		diag_report(c->u, D_NO_PROMPT, st->name.off, st->name.len, st->name.s);
	if (st->kind == AST_ST_CODE && !st->has_call)
		diag_report(c->u, D_NO_CALL, st->name.off, st->name.len, st->name.s);
	if (st->kind == AST_ST_CODE && st->has_call)
		check_fn_name(c, st);
	if (st->kind == AST_ST_HUMAN && !st->question.present)
		diag_report(c->u, D_NO_QUESTION, st->name.off, st->name.len, st->name.s);
	if (st->kind != AST_ST_SET && !st->has_output)
		diag_report(c->u, D_NO_OUTPUT, st->name.off, st->name.len, st->name.s);
	check_not_in(c, st, st->kind == AST_ST_SET && st->has_output, "output", st->output_off);
	check_not_in(c, st, !llm && st->system.present, "system", st->system.off);
	check_not_in(c, st, !llm && st->prompt.present, "prompt", st->prompt.off);
	check_not_in(c, st, st->kind != AST_ST_HUMAN && st->question.present, "question",
		     st->question.off);
	check_not_in(c, st, st->kind != AST_ST_CODE && st->has_call, "call", st->call_off);
	for (k = 0; k < AST_NOPTS; k++) {
		static const char *const names[AST_NOPTS] = {"model", "temperature", "max_tokens",
							     "retry", "timeout",     "repair"};

		check_not_in(c, st, !llm && st->opts.set[k], names[k], st->opts.key[k]);
	}
	if (st->kind == AST_ST_HUMAN)
		for (k = 0; k < st->nfields; k++)
			if (st->fields[k].type.kind == AST_T_LIST)
				diag_report(c->u, D_HUMAN_LIST, st->fields[k].name.off,
					    st->fields[k].name.len, st->fields[k].name.s,
					    st->name.s);
	check_template(c, &st->question);
	check_args(c, st);
}

static void check_step(struct checker *c, struct ast_step *st)
{
	const struct ast_trans *always = NULL;
	int i;

	check_kind(c, st);
	if (!st->ntrans)
		diag_report(c->u, D_DEAD_END, st->name.off, st->name.len, st->name.s);
	check_template(c, &st->system);
	check_template(c, &st->prompt);
	check_opts(c, &st->opts);
	if (st->limit.present) {
		check_range(c, 1, st->limit.n, 1, CHECK_MAX_LIMIT, "limit", "between 1 and 1000000",
			    st->limit.noff, st->limit.nlen);
		check_target(c, &st->limit.els);
	}
	for (i = 0; i < st->nsets; i++)
		check_set(c, &st->sets[i]);
	for (i = 0; i < st->ntrans; i++) {
		struct ast_trans *tr = &st->trans[i];

		if (always) {
			eclc_diag *d = diag_report(c->u, D_UNREACHABLE_TRANS, tr->off, tr->len);

			diag_note_at(c->u, d, always->off, always->len,
				     "the transition before it is always taken");
		}
		if (tr->guard && check_expr(c, tr->guard) != AST_T_BOOL &&
		    tr->guard->type != AST_T_ERROR)
			diag_report(c->u, D_GUARD_TYPE, tr->guard->off, tr->guard->len,
				    check_tname(c, tr->guard));
		check_target(c, &tr->to);
		if (tr->kind != AST_TR_WHEN && !always)
			always = tr;
	}
}

/* ---- the step graph ----------------------------------------------------------------------- */

/* An edge from one step to another: taken by a transition, either straight or, when the
 * target's limit is used up, through its fallback. */
struct check_edge {
	int to;
	const struct ast_trans *tr;
	int via; /* the limited step whose fallback this is, or -1 */
};

struct check_graph {
	int n;
	int *first; /* edges of step i: edges[first[i] .. first[i + 1]) */
	struct check_edge *edges;
};

static int check_limited(const struct ast_step *st)
{
	return st->limit.present;
}

/* A limited step whose fallback leads (through other fallbacks) back to it. Each cycle is
 * reported once; *broken marks its steps, whose fallbacks the graph then ignores. */
static void check_fallbacks(struct checker *c, char *broken)
{
	struct ast_workflow *wf = c->wf;
	char *color = eclc_mem_alloc(c->m, (size_t)wf->nsteps);
	int *path = eclc_mem_alloc(c->m, sizeof(*path) * (size_t)wf->nsteps);
	int i;

	for (i = 0; i < wf->nsteps; i++) {
		int n = 0, s = i, k;

		if (color[i])
			continue;
		while (s >= 0 && !color[s] && check_limited(&wf->steps[s])) {
			color[s] = 1;
			path[n++] = s;
			s = wf->steps[s].limit.els.kind == AST_TG_STEP
				    ? wf->steps[s].limit.els.istep
				    : -1;
		}
		if (s >= 0 && color[s] == 1) {
			struct mem_buf b;
			const struct ast_step *last = &wf->steps[path[n - 1]];

			eclc_mem_buf_init(&b, c->m);
			for (k = 0; k < n && path[k] != s; k++)
				;
			for (; k < n; k++) {
				eclc_mem_buf_printf(&b, "%s -> ", wf->steps[path[k]].name.s);
				broken[path[k]] = 1;
			}
			eclc_mem_buf_puts(&b, wf->steps[s].name.s);
			diag_report(c->u, D_LIMIT_CYCLE, last->limit.els.off, last->limit.els.len,
				    eclc_mem_buf_str(&b));
		}
		for (k = 0; k < n; k++)
			color[path[k]] = 2;
	}
}

static void check_graph_build(struct checker *c, struct check_graph *g, const char *broken)
{
	struct ast_workflow *wf = c->wf;
	int pass, i, j, n = 0;

	g->n = wf->nsteps;
	g->edges = NULL;
	g->first = eclc_mem_alloc(c->m, sizeof(*g->first) * ((size_t)wf->nsteps + 1));
	/* Count, then fill. */
	for (pass = 0; pass < 2; pass++) {
		n = 0;
		for (i = 0; i < wf->nsteps; i++) {
			const struct ast_step *st = &wf->steps[i];

			g->first[i] = n;
			/* Transitions after an unconditional one are never taken (E028). */
			for (j = 0;
			     j < st->ntrans && (j == 0 || st->trans[j - 1].kind == AST_TR_WHEN);
			     j++) {
				int to = st->trans[j].to.kind == AST_TG_STEP ? st->trans[j].to.istep
									     : -1;
				int via = -1;

				while (to >= 0) {
					if (pass)
						g->edges[n] =
							(struct check_edge){to, &st->trans[j], via};
					n++;
					if (!check_limited(&wf->steps[to]) || broken[to] ||
					    wf->steps[to].limit.els.kind != AST_TG_STEP)
						break;
					via = to;
					to = wf->steps[to].limit.els.istep;
				}
			}
		}
		g->first[wf->nsteps] = n;
		if (!pass)
			g->edges = eclc_mem_alloc(c->m, sizeof(*g->edges) * ((size_t)n + 1));
	}
}

/* Steps reachable from the start, by a breadth-first search: dist[] is the number of
 * transitions from the start (-1 when unreachable) and prev[] the step before on a shortest
 * way. */
static void check_reach(struct checker *c, const struct check_graph *g, int *dist, int *prev)
{
	int *queue = eclc_mem_alloc(c->m, sizeof(*queue) * ((size_t)g->n + 1));
	int head = 0, tail = 0, k;

	for (k = 0; k < g->n; k++)
		dist[k] = prev[k] = -1;
	if (!g->n)
		return;
	dist[0] = 0;
	queue[tail++] = 0;
	while (head < tail) {
		int s = queue[head++];

		for (k = g->first[s]; k < g->first[s + 1]; k++) {
			int t = g->edges[k].to;

			if (dist[t] < 0) {
				dist[t] = dist[s] + 1;
				prev[t] = s;
				queue[tail++] = t;
			}
		}
	}
}

/* Scratch arrays of the cycle search, allocated once. */
struct check_scc {
	const int *dist, *prev;
	int *comp, *par, *queue, *path;
};

/* Report one cycle of the strongly connected component members[0..size) (of steps without a
 * limit, numbered id in comp[]), entered from the start where it can be. */
static void check_report_cycle(struct checker *c, const struct check_graph *g,
			       const struct check_scc *x, const int *members, int size, int id)
{
	struct ast_workflow *wf = c->wf;
	const struct ast_trans *closing = NULL;
	int entry = members[0], head = 0, tail = 0, last = -1, np = 0, i, k;
	struct mem_buf b;
	eclc_diag *d;

	/* The entry: the member nearest to the start, else the first one declared. */
	for (i = 0; i < size; i++) {
		int s = members[i];

		int nearer =
			x->dist[s] >= 0 && (x->dist[entry] < 0 || x->dist[s] < x->dist[entry] ||
					    (x->dist[s] == x->dist[entry] && s < entry));
		int earlier = x->dist[entry] < 0 && s < entry;

		if (nearer || earlier)
			entry = s;
	}
	/* A shortest way from the entry back to itself inside the component. */
	for (i = 0; i < size; i++)
		x->par[members[i]] = -2;
	x->par[entry] = -1;
	x->queue[tail++] = entry;
	while (head < tail && last < 0) {
		int s = x->queue[head++];

		for (k = g->first[s]; k < g->first[s + 1]; k++) {
			int t = g->edges[k].to;

			if (x->comp[t] != id)
				continue;
			if (t == entry) {
				last = s;
				closing = g->edges[k].tr;
				break;
			}
			if (x->par[t] == -2) {
				x->par[t] = s;
				x->queue[tail++] = t;
			}
		}
	}
	if (!closing)
		return;
	eclc_mem_buf_init(&b, c->m);
	for (i = x->prev[entry]; i >= 0; i = x->prev[i])
		x->path[np++] = i;
	while (np > 0)
		eclc_mem_buf_printf(&b, "%s -> ", wf->steps[x->path[--np]].name.s);
	for (i = last; i >= 0; i = x->par[i])
		x->path[np++] = i;
	for (k = np; k > 0; k--)
		eclc_mem_buf_printf(&b, "%s -> ", wf->steps[x->path[k - 1]].name.s);
	eclc_mem_buf_puts(&b, wf->steps[entry].name.s);
	d = diag_report(c->u, D_UNBOUNDED, closing->to.off, closing->to.len, eclc_mem_buf_str(&b));
	diag_help(c->u, d, "give one of its steps a `limit N as counter else ...`");
	/* A step of the cycle reached only through a used-up limit's fallback is surprising:
	 * say which. path[] holds the cycle backwards, from last to the entry. */
	for (k = np; k > 0; k--) {
		int from = x->path[k - 1], to = k > 1 ? x->path[k - 2] : entry, via = -1, e;

		for (e = g->first[from]; e < g->first[from + 1]; e++)
			if (g->edges[e].to == to) {
				via = g->edges[e].via;
				if (via < 0)
					break;
			}
		if (via >= 0) {
			diag_note(c->u, d, "`%s` leads to `%s` when `%s` has used up its limit",
				  wf->steps[from].name.s, wf->steps[to].name.s,
				  wf->steps[via].name.s);
			break;
		}
	}
}

/* Tarjan's algorithm, without recursion, on the steps that have no limit: a component with
 * more than one step, or a step with an edge to itself, is a cycle nothing bounds. */
static void check_cycles(struct checker *c, const struct check_graph *g, const int *dist,
			 const int *prev)
{
	struct ast_workflow *wf = c->wf;
	size_t n = (size_t)g->n + 1;
	int *index = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *low = eclc_mem_alloc(c->m, sizeof(int) * n);
	int *stack = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *call = eclc_mem_alloc(c->m, sizeof(int) * n);
	int *edge = eclc_mem_alloc(c->m, sizeof(int) * n);
	char *on = eclc_mem_alloc(c->m, n);
	int next = 1, sp = 0, ncomp = 0, root, i;
	struct check_scc x;

	x.dist = dist;
	x.prev = prev;
	x.comp = eclc_mem_alloc(c->m, sizeof(int) * n);
	x.par = eclc_mem_alloc(c->m, sizeof(int) * n);
	x.queue = eclc_mem_alloc(c->m, sizeof(int) * n);
	x.path = eclc_mem_alloc(c->m, sizeof(int) * 2 * n);
	for (i = 0; i < g->n; i++)
		x.comp[i] = -1;
	for (root = 0; root < g->n; root++) {
		int depth = 0;

		if (index[root] || check_limited(&wf->steps[root]))
			continue;
		call[depth++] = root;
		index[root] = low[root] = next++;
		edge[root] = g->first[root];
		stack[sp++] = root;
		on[root] = 1;
		while (depth > 0) {
			int v = call[depth - 1];

			if (edge[v] < g->first[v + 1]) {
				int w = g->edges[edge[v]++].to;

				if (check_limited(&wf->steps[w]))
					continue;
				if (!index[w]) {
					index[w] = low[w] = next++;
					edge[w] = g->first[w];
					stack[sp++] = w;
					on[w] = 1;
					call[depth++] = w;
				} else if (on[w] && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			depth--;
			if (depth > 0 && low[v] < low[call[depth - 1]])
				low[call[depth - 1]] = low[v];
			if (low[v] == index[v]) {
				int top = sp, self = 0, w, k;

				do {
					w = stack[--sp];
					on[w] = 0;
					x.comp[w] = ncomp;
				} while (w != v);
				for (k = g->first[v]; k < g->first[v + 1]; k++)
					self |= g->edges[k].to == v;
				if (top - sp > 1 || self)
					check_report_cycle(c, g, &x, stack + sp, top - sp, ncomp);
				ncomp++;
			}
		}
	}
}

/* The most steps a run executes, and how often each step can run. Once check_cycles found
 * nothing, every cycle goes through a limited step, so the steps without a limit form a DAG,
 * and a run is a walk through that DAG, then a limited step, then the DAG again, and so on:
 * a piece that starts at the start, and one after each run of a limited step s, which runs at
 * most limit(s) times. A piece visits each step of the DAG at most once, and is at most as
 * long as the DAG's longest path from where it starts. So the bound is the longest path from
 * the start plus, for each limited step, limit(s) times (1 + the longest path from its
 * successors): longest paths, not a count of paths, which grows like Fibonacci on a ladder.
 * A step of the DAG runs at most once per piece that can reach it. Unreachable steps never
 * run. */
#define CHECK_BOUND_WORK 50000000 /* edges walked for the steps' own counts, at most */

/* Add w to the count of every step of the DAG that a piece entering at v can reach. */
static void check_visits_from(const struct ast_workflow *wf, const struct check_graph *g, int v,
			      long long w, int *stamp, int mark, int *stack, long long *visits)
{
	int sp = 0, k;

	if (stamp[v] == mark)
		return;
	stamp[v] = mark;
	stack[sp++] = v;
	while (sp) {
		int s = stack[--sp];

		visits[s] += w;
		if (visits[s] > (long long)INT_MAX + 1)
			visits[s] = (long long)INT_MAX + 1;
		for (k = g->first[s]; k < g->first[s + 1]; k++) {
			int t = g->edges[k].to;

			if (!check_limited(&wf->steps[t]) && stamp[t] != mark) {
				stamp[t] = mark;
				stack[sp++] = t;
			}
		}
	}
}

static void check_bound(struct checker *c, const struct check_graph *g, const int *dist)
{
	struct ast_workflow *wf = c->wf;
	size_t n = (size_t)g->n + 1;
	long long *longest = eclc_mem_alloc(c->m, sizeof(long long) * n), total = 0;
	int *indeg = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *order = eclc_mem_alloc(c->m, sizeof(int) * n);
	int *stamp = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *stack = eclc_mem_alloc(c->m, sizeof(int) * n);
	int head = 0, tail = 0, i, k, nlimited = 0;
	long long *visits = eclc_mem_alloc(c->m, sizeof(long long) * n);

	/* The DAG of the reachable steps without a limit, in topological order. */
	for (i = 0; i < g->n; i++)
		if (dist[i] >= 0 && !check_limited(&wf->steps[i]))
			for (k = g->first[i]; k < g->first[i + 1]; k++)
				if (!check_limited(&wf->steps[g->edges[k].to]))
					indeg[g->edges[k].to]++;
	for (i = 0; i < g->n; i++) {
		stamp[i] = -1;
		if (dist[i] >= 0 && !check_limited(&wf->steps[i]) && indeg[i] == 0)
			order[tail++] = i;
		nlimited += dist[i] >= 0 && check_limited(&wf->steps[i]);
	}
	while (head < tail) {
		int s = order[head++];

		for (k = g->first[s]; k < g->first[s + 1]; k++) {
			int t = g->edges[k].to;

			if (!check_limited(&wf->steps[t]) && --indeg[t] == 0)
				order[tail++] = t;
		}
	}
	/* Longest paths (in steps) from each step of the DAG, from its end back. */
	for (i = tail - 1; i >= 0; i--) {
		int s = order[i];

		longest[s] = 1;
		for (k = g->first[s]; k < g->first[s + 1]; k++) {
			int t = g->edges[k].to;

			if (!check_limited(&wf->steps[t]) && longest[t] + 1 > longest[s])
				longest[s] = longest[t] + 1;
		}
	}
	if (g->n && !check_limited(&wf->steps[0]))
		total = longest[0];
	for (i = 0; i < g->n && total <= INT_MAX; i++) {
		const struct ast_step *st = &wf->steps[i];
		long long piece = 0;

		if (dist[i] < 0 || !check_limited(st))
			continue;
		for (k = g->first[i]; k < g->first[i + 1]; k++) {
			int t = g->edges[k].to;

			if (!check_limited(&wf->steps[t]) && longest[t] > piece)
				piece = longest[t];
		}
		total += st->limit.n * (1 + piece); /* at most 10^6 * (10^9 + 1): no overflow */
	}
	if (total > INT_MAX) {
		diag_report(c->u, D_BOUND_OVERFLOW, wf->id.off, wf->id.len, wf->id.s, INT_MAX);
		return;
	}
	wf->max_steps = (int)total;

	/* Each step's own count: a walk of the DAG from each piece's start. Too many walks on a
	 * huge graph: the bound of the whole run is a bound of each step too. */
	if ((long long)(nlimited + 1) * (g->first[g->n] + g->n) > CHECK_BOUND_WORK) {
		for (i = 0; i < g->n; i++)
			visits[i] = total;
	} else {
		if (g->n && !check_limited(&wf->steps[0]))
			check_visits_from(wf, g, 0, 1, stamp, g->n, stack, visits);
		for (i = 0; i < g->n; i++)
			if (dist[i] >= 0 && check_limited(&wf->steps[i]))
				for (k = g->first[i]; k < g->first[i + 1]; k++)
					if (!check_limited(&wf->steps[g->edges[k].to]))
						check_visits_from(wf, g, g->edges[k].to,
								  wf->steps[i].limit.n, stamp, i,
								  stack, visits);
	}
	for (i = 0; i < g->n; i++) {
		struct ast_step *st = &wf->steps[i];

		st->reachable = dist[i] >= 0;
		st->visits = !st->reachable      ? 0
			     : check_limited(st) ? st->limit.n
						 : (visits[i] < total ? visits[i] : total);
	}
}

/* ---- outputs that may not exist yet ------------------------------------------------------- */

/* Which outputs a step can read: those of the steps that run before it on every path from the
 * start (its dominators), and its own once it has them. The dominator tree is numbered in
 * preorder, so that s dominates t when t's number lies in s's subtree:
 * pre[s] <= pre[t] < pre[s] + size[s]. Unreachable steps have pre -1. */
struct check_avail {
	struct checker *c;
	const int *pre, *size;
	int step; /* the step whose items are read */
	int own;  /* its own output is there (after the step ran) */
};

static int check_dominates(const struct check_avail *a, int s, int t)
{
	return a->pre[s] >= 0 && a->pre[t] >= a->pre[s] && a->pre[t] < a->pre[s] + a->size[s];
}

static void check_avail_ref(const struct check_avail *a, const struct ast_ref *r)
{
	struct ast_workflow *wf = a->c->wf;
	const struct ast_slot *sl;
	eclc_diag *d;

	if (r->slot < 0)
		return;
	sl = &wf->slots[r->slot];
	if (sl->kind != AST_S_OUTPUT)
		return;
	if (sl->step == a->step ? a->own : check_dominates(a, sl->step, a->step))
		return;
	d = diag_report(a->c->u, D_MAYBE_UNSET, r->off, r->len, sl->name);
	if (sl->step == a->step)
		diag_note(a->c->u, d, "step `%s` has no output yet where this is read",
			  wf->steps[a->step].name.s);
	else
		diag_note(a->c->u, d, "some paths reach step `%s` without running step `%s`",
			  wf->steps[a->step].name.s, wf->steps[sl->step].name.s);
}

static void check_avail_expr(const struct check_avail *a, const struct ast_expr *e)
{
	if (!e)
		return;
	if (e->kind == AST_E_REF || (e->kind == AST_E_LEN && !e->a))
		check_avail_ref(a, &e->ref);
	check_avail_expr(a, e->a);
	check_avail_expr(a, e->b);
}

static void check_avail_template(const struct check_avail *a, const struct ast_template *t)
{
	int i;

	for (i = 0; i < t->nparts; i++)
		if (t->parts[i].is_slot)
			check_avail_ref(a, &t->parts[i].ref);
}

static void check_avail_target(const struct check_avail *a, const struct ast_target *to)
{
	int i;

	check_avail_expr(a, to->value);
	for (i = 0; i < to->nfields; i++)
		check_avail_expr(a, to->fields[i].value);
	check_avail_template(a, &to->msg);
}

/* The nearest common dominator of a and b, by climbing the tree as far as the postorder
 * numbers say (Cooper, Harvey and Kennedy, "A Simple, Fast Dominance Algorithm"). */
static int check_dom_meet(const int *idom, const int *post, int a, int b)
{
	while (a != b) {
		while (post[a] < post[b])
			a = idom[a];
		while (post[b] < post[a])
			b = idom[b];
	}
	return a;
}

/* The dominator tree of the steps reachable from the start, as preorder numbers and subtree
 * sizes (see check_avail): time and memory linear in the graph on the graphs people write. */
static void check_dominators(struct checker *c, const struct check_graph *g, int *pre, int *size)
{
	size_t n = (size_t)g->n + 1;
	int *post = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *order = eclc_mem_alloc(c->m, sizeof(int) * n);
	int *idom = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *edge = eclc_mem_alloc(c->m, sizeof(int) * n);
	int *stack = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *first = eclc_mem_alloc(c->m, sizeof(int) * n);
	int *preds = eclc_mem_alloc(c->m, sizeof(int) * ((size_t)g->first[g->n] + 1));
	int npost = 0, sp = 0, changed = 1, i, k;

	for (i = 0; i < g->n; i++)
		post[i] = idom[i] = pre[i] = -1;
	if (!g->n)
		return;
	/* Postorder by a depth-first search from the start: order[] lists the steps in it. */
	stack[sp++] = 0;
	edge[0] = g->first[0];
	post[0] = -2; /* on the way */
	while (sp > 0) {
		int v = stack[sp - 1];

		if (edge[v] < g->first[v + 1]) {
			int w = g->edges[edge[v]++].to;

			if (post[w] == -1) {
				post[w] = -2;
				edge[w] = g->first[w];
				stack[sp++] = w;
			}
			continue;
		}
		sp--;
		order[npost] = v;
		post[v] = npost++;
	}
	/* The predecessors of each reachable step: preds[first[t] .. first[t + 1]). */
	for (i = 0; i <= g->n; i++)
		first[i] = 0;
	for (i = 0; i < g->n; i++)
		for (k = g->first[i]; post[i] >= 0 && k < g->first[i + 1]; k++)
			first[g->edges[k].to + 1]++;
	for (i = 0; i < g->n; i++)
		first[i + 1] += first[i];
	for (i = 0; i < g->n; i++)
		edge[i] = first[i];
	for (i = 0; i < g->n; i++)
		for (k = g->first[i]; post[i] >= 0 && k < g->first[i + 1]; k++)
			preds[edge[g->edges[k].to]++] = i;
	/* Immediate dominators, in reverse postorder until nothing changes. */
	idom[0] = 0;
	while (changed) {
		changed = 0;
		for (k = npost - 2; k >= 0; k--) {
			int t = order[k], d = -1, e;

			for (e = first[t]; e < first[t + 1]; e++)
				if (idom[preds[e]] >= 0)
					d = d < 0 ? preds[e]
						  : check_dom_meet(idom, post, preds[e], d);
			if (d != idom[t]) {
				idom[t] = d;
				changed = 1;
			}
		}
	}
	/* A dominator comes before the steps it dominates in reverse postorder: subtree sizes
	 * bottom-up in postorder, then preorder numbers top-down, each step taking the next
	 * free number under its dominator. */
	for (k = 0; k < npost; k++)
		size[order[k]] = 1;
	for (k = 0; k < npost - 1; k++)
		size[idom[order[k]]] += size[order[k]];
	pre[0] = 0;
	edge[0] = 1;
	for (k = npost - 2; k >= 0; k--) {
		int t = order[k];

		pre[t] = edge[idom[t]];
		edge[idom[t]] += size[t];
		edge[t] = pre[t] + 1;
	}
}

/* Every read of an output checked against the dominators of the step that reads it. */
static void check_outputs_ready(struct checker *c, const struct check_graph *g, const int *dist)
{
	struct ast_workflow *wf = c->wf;
	size_t n = (size_t)g->n + 1;
	int *pre = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *size = eclc_mem_alloc(c->m, sizeof(int) * n);
	int i, j;
	struct check_avail a;

	check_dominators(c, g, pre, size);
	a.c = c;
	a.pre = pre;
	a.size = size;
	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];

		if (dist[i] < 0)
			continue;
		a.step = i;
		/* Before the step has its output: its prompts, question and arguments. */
		a.own = 0;
		check_avail_template(&a, &st->system);
		check_avail_template(&a, &st->prompt);
		check_avail_template(&a, &st->question);
		for (j = 0; j < st->nargs; j++)
			check_avail_expr(&a, st->args[j].value);
		/* After it: its sets and transitions, and the fallbacks of the limited steps they
		 * lead to (rendered by this step). */
		a.own = 1;
		for (j = 0; j < st->nsets; j++)
			check_avail_expr(&a, st->sets[j].value);
		for (j = 0; j < st->ntrans; j++) {
			check_avail_expr(&a, st->trans[j].guard);
			check_avail_target(&a, &st->trans[j].to);
		}
	}
	/* A limit's `else fail` message is rendered by whichever step leads into the limited
	 * step: what every such step can read is what dominates the limited step. */
	for (i = 0; i < wf->nsteps; i++) {
		const struct ast_step *st = &wf->steps[i];

		if (dist[i] < 0 || !st->limit.present || st->limit.els.kind != AST_TG_FAIL)
			continue;
		a.step = i;
		a.own = 0;
		check_avail_template(&a, &st->limit.els.msg);
	}
}

static void check_graph(struct checker *c)
{
	struct ast_workflow *wf = c->wf;
	size_t n = (size_t)wf->nsteps + 1;
	char *broken = eclc_mem_alloc(c->m, n);
	int *dist = eclc_mem_alloc(c->m, sizeof(int) * n),
	    *prev = eclc_mem_alloc(c->m, sizeof(int) * n);
	struct check_graph g;
	int i;

	check_fallbacks(c, broken);
	check_graph_build(c, &g, broken);
	check_reach(c, &g, dist, prev);
	check_cycles(c, &g, dist, prev);
	/* After other errors the graph may miss edges: say nothing more about it. */
	if (c->u->nerrors > 0)
		return;
	for (i = 1; i < wf->nsteps; i++)
		if (dist[i] < 0)
			diag_report(c->u, D_UNREACHABLE_STEP, wf->steps[i].name.off,
				    wf->steps[i].name.len, wf->steps[i].name.s);
	check_bound(c, &g, dist);
	check_outputs_ready(c, &g, dist);
}

/* ---- the workflow ------------------------------------------------------------------------- */

static void check_usage(struct checker *c)
{
	struct ast_workflow *wf = c->wf;
	int i;

	for (i = 0; i < wf->nslots; i++) {
		const struct ast_slot *s = &wf->slots[i];

		if ((s->kind == AST_S_INPUT || s->kind == AST_S_VAR) && !s->reads)
			diag_report(c->u, D_UNUSED, s->off, s->len,
				    s->kind == AST_S_INPUT ? "input" : "var", s->name);
		else if (s->kind == AST_S_VAR && !s->writes && !s->initial)
			diag_report(c->u, D_NEVER_SET, s->off, s->len, s->name);
		/* An LLM step may ask for a field only to make the model reason (a score); a
		 * code or human step's fields are the author's own, and one never read is a
		 * slip. */
		else if (s->kind == AST_S_OUTPUT && !s->reads &&
			 (wf->steps[s->step].kind == AST_ST_CODE ||
			  wf->steps[s->step].kind == AST_ST_HUMAN))
			diag_report(c->u, D_UNUSED_OUTPUT, s->off, s->len, s->field,
				    wf->steps[s->step].kind == AST_ST_CODE ? "code" : "human",
				    wf->steps[s->step].name.s);
	}
}

/* After a syntax error, drop what follows from it, so that the syntax error is what one
 * reads first: a damaged step's lack of a prompt, an output, a call, a question or a
 * transition (the parser may have skipped them), and the workflow's lack of a way to `done`
 * or a value that may be unset (a transition may be missing). Diagnostics first..ndiags are
 * the checker's. */
static void check_quiet_cascade(struct checker *c, size_t first)
{
	static const enum diag_id of_step[] = {D_NO_PROMPT, D_NO_OUTPUT, D_NO_CALL, D_NO_QUESTION,
					       D_DEAD_END};
	static const enum diag_id of_workflow[] = {D_NO_STEPS, D_NO_DONE, D_MAYBE_UNSET,
						   D_UNREACHABLE_STEP};
	struct unit *u = c->u;
	size_t i, w = first, k;

	for (i = first; i < u->ndiags; i++) {
		eclc_diag *d = u->diags[i];
		int quiet = 0, s;

		for (k = 0; k < sizeof(of_workflow) / sizeof(of_workflow[0]); k++)
			quiet |= strcmp(d->code, diag_code(of_workflow[k])) == 0;
		for (k = 0; k < sizeof(of_step) / sizeof(of_step[0]) && !quiet; k++)
			if (strcmp(d->code, diag_code(of_step[k])) == 0)
				for (s = 0; s < c->wf->nsteps; s++) {
					const struct ast_step *st = &c->wf->steps[s];

					quiet |= st->damaged && d->off >= st->off &&
						 d->off < st->end;
				}
		if (!quiet) {
			u->diags[w++] = d;
		} else if (d->error) {
			u->nerrors--;
		} else {
			u->nwarnings--;
		}
	}
	u->ndiags = w;
}

void check_run(struct unit *u)
{
	struct ast_workflow *wf = u->wf;
	struct checker c;
	int i, done = 0;
	size_t first = u->ndiags;

	if (!wf)
		return;
	wf->damaged |= u->nerrors > 0; /* the lexer's or the parser's */
	memset(&c, 0, sizeof(c));
	c.u = u;
	c.wf = wf;
	c.m = &u->mem;
	check_long(&c, wf->name, wf->name_off, 1);
	check_long(&c, wf->description, wf->desc_off, 1);
	check_slots(&c);
	check_cnames(&c);
	check_opts(&c, &wf->opts);
	for (i = 0; i < wf->nsteps; i++)
		check_step(&c, &wf->steps[i]);
	for (i = 0; i < wf->nsteps; i++) {
		int j;

		for (j = 0; j < wf->steps[i].ntrans; j++)
			done |= wf->steps[i].trans[j].to.kind == AST_TG_DONE;
	}
	if (!wf->nsteps)
		diag_report(u, D_NO_STEPS, wf->id.off, wf->id.len, wf->id.s);
	else if (!done)
		diag_report(u, D_NO_DONE, wf->id.off, wf->id.len, wf->id.s);
	check_graph(&c);
	if (u->nerrors == 0)
		check_usage(&c);
	if (wf->damaged)
		check_quiet_cascade(&c, first);
}
