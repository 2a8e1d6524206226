/*
 * parse.c - a recursive-descent parser for the .ecl grammar (dsl/README.md), from the token
 * array to the tree of ast.h.
 *
 * Keywords are contextual: a word is a keyword only where the grammar expects one, so that
 * `model` or `name` can still name a var. Only the words an expression or a transition target
 * could not tell apart from a name are reserved (lex_reserved).
 *
 * On a syntax error the current item is abandoned and parsing resumes at the next token that
 * starts a line with an item keyword, so that one mistake gives one diagnostic.
 */
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "lex.h"
#include "parse.h"
#include "unit.h"

struct parser {
	struct unit *u;
	struct lex_token *toks;
	size_t i;
	int depth;   /* recursion of the expression parser */
	size_t nlex; /* the lexer's diagnostics, u->diags[0 .. nlex), in the order of the text */
	/* parse_template's decoded characters, reused from one template to the next */
	struct parse_char *chars;
	size_t capchars;
};

enum parse_scope { PARSE_WORKFLOW, PARSE_STEP };

static const enum lex_kw parse_wf_items[] = {
	KW_NAME,  KW_DESCRIPTION, KW_INPUT,      KW_VAR,   KW_LLM,     KW_CODE,   KW_HUMAN, KW_SET,
	KW_MODEL, KW_TEMPERATURE, KW_MAX_TOKENS, KW_RETRY, KW_TIMEOUT, KW_REPAIR, KW_NONE,
};

static const enum lex_kw parse_step_items[] = {
	KW_SYSTEM, KW_PROMPT,  KW_QUESTION, KW_CALL,  KW_OUTPUT,      KW_LIMIT,
	KW_SET,    KW_WHEN,    KW_ELSE,     KW_MODEL, KW_TEMPERATURE, KW_MAX_TOKENS,
	KW_RETRY,  KW_TIMEOUT, KW_REPAIR,   KW_NONE,
};

/* The keywords that start a step inside a workflow (besides `set`, which is also an item
 * inside a step). */
static int parse_step_kw(enum lex_kw kw)
{
	return kw == KW_LLM || kw == KW_CODE || kw == KW_HUMAN;
}

/* Whether kw is in a KW_NONE-terminated list. */
static int parse_kw_in(enum lex_kw kw, const enum lex_kw *list)
{
	for (; *list != KW_NONE; list++)
		if (*list == kw)
			return 1;
	return 0;
}

static const char *const parse_type_names[] = {"string", "int", "float", "bool", "list", NULL};

static struct lex_token *parse_tok(struct parser *p)
{
	return &p->toks[p->i];
}

static struct lex_token *parse_peek(struct parser *p, size_t k)
{
	size_t i = p->i + k;

	return &p->toks[i < p->u->ntoks ? i : p->u->ntoks - 1];
}

static void parse_next(struct parser *p)
{
	if (p->toks[p->i].kind != LEX_EOF)
		p->i++;
}

static int parse_is(struct parser *p, enum lex_kind kind)
{
	return parse_tok(p)->kind == kind;
}

static int parse_is_kw(struct parser *p, enum lex_kw kw)
{
	return parse_tok(p)->kind == LEX_IDENT && parse_tok(p)->kw == kw;
}

/* End offset of the last token consumed. */
static size_t parse_end(struct parser *p)
{
	const struct lex_token *t = p->i ? &p->toks[p->i - 1] : &p->toks[0];

	return t->off + t->len;
}

/* Whether token i is the first of its line. */
static int parse_line_first(struct parser *p, size_t i)
{
	const char *src = p->u->src.text;
	size_t from, k;

	if (i == 0)
		return 1;
	from = p->toks[i - 1].off + p->toks[i - 1].len;
	for (k = from; k < p->toks[i].off; k++)
		if (src[k] == '\n')
			return 1;
	return 0;
}

static const char *parse_text(struct parser *p, const struct lex_token *t)
{
	return eclc_mem_strndup(&p->u->mem, p->u->src.text + t->off, t->len);
}

/* How a message names the current token. */
static const char *parse_found(struct parser *p)
{
	const struct lex_token *t = parse_tok(p);

	switch (t->kind) {
	case LEX_IDENT:
	case LEX_INT:
	case LEX_NUMBER:
	case LEX_DURATION: return eclc_mem_printf(&p->u->mem, "`%s`", parse_text(p, t));
	default: return lex_kind_name(t->kind);
	}
}

/* "expected X, found Y"; NULL (and nothing said) when Y was already reported. */
/* The first of the lexer's diagnostics at or after off. */
static size_t parse_lex_error_at(const struct parser *p, size_t off)
{
	size_t lo = 0, hi = p->nlex;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->u->diags[mid]->off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether the lexer refused something in the text [from, to). */
static int parse_lex_error_in(const struct parser *p, size_t from, size_t to)
{
	size_t k = parse_lex_error_at(p, from);

	return k < p->nlex && p->u->diags[k]->off < to;
}

/* Whether the lexer refused something earlier on the line of off: a character it skipped
 * (`sources[0]`) leaves the parser a line that makes no sense, and saying so again after the
 * lexer would only bury the real error. */
static int parse_after_lex_error(const struct parser *p, size_t off)
{
	const struct diag_source *src = &p->u->src;
	size_t k = parse_lex_error_at(p, off), at;

	if (k == 0)
		return 0;
	for (at = p->u->diags[k - 1]->off; at < off && at < src->len; at++)
		if (src->text[at] == '\n')
			return 0;
	return 1;
}

static eclc_diag *parse_error(struct parser *p, const char *expected)
{
	const struct lex_token *t = parse_tok(p);

	if (t->bad || parse_after_lex_error(p, t->off))
		return NULL;
	return diag_report(p->u, D_EXPECTED, t->off, t->len, expected, parse_found(p));
}

static int parse_expect(struct parser *p, enum lex_kind kind)
{
	if (parse_is(p, kind)) {
		parse_next(p);
		return 1;
	}
	parse_error(p, lex_kind_name(kind));
	return 0;
}

static int parse_expect_kw(struct parser *p, enum lex_kw kw)
{
	if (parse_is_kw(p, kw)) {
		parse_next(p);
		return 1;
	}
	parse_error(p, eclc_mem_printf(&p->u->mem, "`%s`", lex_kw_name(kw)));
	return 0;
}

static int parse_in(const enum lex_kw *set, enum lex_kw kw)
{
	for (; *set != KW_NONE; set++)
		if (*set == kw)
			return 1;
	return 0;
}

/* "expected a step item, found `promt`", with the keyword it probably meant. */
static void parse_bad_item(struct parser *p, const char *what, const enum lex_kw *items)
{
	eclc_diag *d = parse_error(p, what);
	struct diag_suggest sg;

	if (!d || parse_tok(p)->kind != LEX_IDENT)
		return;
	diag_suggest_init(&sg, parse_text(p, parse_tok(p)));
	for (; *items != KW_NONE; items++)
		diag_suggest_add(&sg, lex_kw_name(*items));
	diag_suggest_help(p->u, d, &sg);
}

/* Skip to the next item of the scope: a line starting with one of its keywords (or with `->`
 * in a step), or the `}` closing the scope, or a new step. */
static void parse_sync(struct parser *p, enum parse_scope scope)
{
	int depth = 0;

	for (;; parse_next(p)) {
		const struct lex_token *t = parse_tok(p);

		if (t->kind == LEX_EOF)
			return;
		if (t->kind == LEX_LBRACE) {
			depth++;
			continue;
		}
		if (t->kind == LEX_RBRACE) {
			if (depth == 0)
				return;
			depth--;
			continue;
		}
		if (!parse_line_first(p, p->i))
			continue;
		if (t->kind == LEX_IDENT && parse_step_kw(t->kw))
			return;
		if (depth > 0)
			continue;
		if (scope == PARSE_WORKFLOW && t->kind == LEX_IDENT &&
		    parse_in(parse_wf_items, t->kw))
			return;
		if (scope == PARSE_STEP &&
		    (t->kind == LEX_ARROW ||
		     (t->kind == LEX_IDENT && parse_in(parse_step_items, t->kw))))
			return;
	}
}

/* A name being declared: an identifier that is not reserved. */
static int parse_name(struct parser *p, struct ast_name *n, const char *what)
{
	const struct lex_token *t = parse_tok(p);

	if (t->kind != LEX_IDENT) {
		parse_error(p, eclc_mem_printf(&p->u->mem, "the name of %s", what));
		return 0;
	}
	n->s = parse_text(p, t);
	n->off = t->off;
	n->len = t->len;
	if (lex_reserved(t->kw))
		diag_report(p->u, D_RESERVED, t->off, t->len, n->s, what);
	parse_next(p);
	return 1;
}

/* ---- strings ------------------------------------------------------------------------------ */

/* A string literal's text: escapes applied, braces literal. */
static const char *parse_plain(struct parser *p, const struct lex_token *t)
{
	struct mem_buf b;
	struct lex_str s;
	int c, esc;
	size_t off;

	eclc_mem_buf_init(&b, &p->u->mem);
	lex_str_init(&s, p->u->src.text, t);
	while (lex_str_next(&s, &c, &esc, &off))
		eclc_mem_buf_putc(&b, c);
	return eclc_mem_strndup(&p->u->mem, eclc_mem_buf_str(&b), b.len);
}

static int parse_is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int parse_is_ident_char(int c)
{
	return parse_is_ident_start(c) || (c >= '0' && c <= '9');
}

struct parse_char {
	char c;
	char escaped;
	size_t off;
};

/* Read `name` or `name.field` from chars[*k..n), skipping spaces first and after. */
static int parse_slot_ref(struct parser *p, const struct parse_char *ch, size_t from, size_t to,
			  struct ast_ref *r)
{
	struct ast_name *part = &r->base;
	size_t k = from, start;

	while (k < to && ch[k].c == ' ')
		k++;
	while (to > k && ch[to - 1].c == ' ')
		to--;
	if (k == to)
		return 0;
	r->off = ch[k].off;
	for (;;) {
		if (k == to || !parse_is_ident_start((unsigned char)ch[k].c) || ch[k].escaped)
			return 0;
		start = k;
		while (k < to && parse_is_ident_char((unsigned char)ch[k].c) && !ch[k].escaped)
			k++;
		part->off = ch[start].off;
		part->len = ch[k - 1].off + 1 - part->off;
		part->s = eclc_mem_strndup(&p->u->mem, p->u->src.text + part->off, part->len);
		if (k == to)
			break;
		if (part == &r->field || ch[k].c != '.' || ch[k].escaped)
			return 0;
		part = &r->field;
		k++;
	}
	r->len = ch[to - 1].off + 1 - r->off;
	r->slot = -1;
	return 1;
}

static void parse_tpl_literal(struct parser *p, struct ast_template *tpl, size_t *cap,
			      struct mem_buf *lit)
{
	struct ast_tpart *part;

	if (!lit->len)
		return;
	tpl->parts = eclc_mem_grow(&p->u->mem, tpl->parts, (size_t)tpl->nparts, cap, sizeof(*part));
	part = &tpl->parts[tpl->nparts++];
	memset(part, 0, sizeof(*part));
	part->len = lit->len;
	part->text = eclc_mem_strndup(&p->u->mem, lit->p, lit->len);
	part->ref.slot = -1;
	eclc_mem_buf_reset(lit);
}

/* A template: the string split at each {{ref}} whose braces were not escaped. */
static void parse_template(struct parser *p, const struct lex_token *t, struct ast_template *tpl)
{
	struct parse_char *ch = p->chars;
	size_t n = 0, pcap = 0, k, off;
	struct mem_buf lit;
	struct lex_str s;
	int c, esc;

	memset(tpl, 0, sizeof(*tpl));
	tpl->present = 1;
	tpl->off = t->off;
	tpl->len = t->len;
	lex_str_init(&s, p->u->src.text, t);
	while (lex_str_next(&s, &c, &esc, &off)) {
		ch = p->chars = eclc_mem_grow(&p->u->mem, p->chars, n, &p->capchars, sizeof(*ch));
		ch[n].c = (char)c;
		ch[n].escaped = (char)esc;
		ch[n++].off = off;
	}
	eclc_mem_buf_init(&lit, &p->u->mem);
	for (k = 0; k < n; k++) {
		size_t end;

		if (ch[k].c != '{' || ch[k].escaped || k + 1 == n || ch[k + 1].c != '{' ||
		    ch[k + 1].escaped) {
			eclc_mem_buf_putc(&lit, ch[k].c);
			continue;
		}
		for (end = k + 2; end + 1 < n; end++)
			if (ch[end].c == '}' && !ch[end].escaped && ch[end + 1].c == '}' &&
			    !ch[end + 1].escaped)
				break;
		if (end + 1 >= n) {
			diag_report(p->u, D_OPEN_SLOT, ch[k].off, 2);
			break;
		}
		parse_tpl_literal(p, tpl, &pcap, &lit);
		tpl->parts = eclc_mem_grow(&p->u->mem, tpl->parts, (size_t)tpl->nparts, &pcap,
					   sizeof(*tpl->parts));
		memset(&tpl->parts[tpl->nparts], 0, sizeof(*tpl->parts));
		tpl->parts[tpl->nparts].is_slot = 1;
		if (parse_slot_ref(p, ch, k + 2, end, &tpl->parts[tpl->nparts].ref)) {
			tpl->nparts++;
		} else {
			struct mem_buf inner;
			size_t j;

			eclc_mem_buf_init(&inner, &p->u->mem);
			for (j = k + 2; j < end; j++)
				eclc_mem_buf_putc(&inner, ch[j].c);
			diag_report(p->u, D_BAD_SLOT, ch[k].off, ch[end + 1].off + 1 - ch[k].off,
				    eclc_mem_buf_str(&inner));
		}
		k = end + 1;
	}
	parse_tpl_literal(p, tpl, &pcap, &lit);
}

/* A plain string, and where it is (for diagnostics about its length). */
static int parse_string(struct parser *p, const char **out, size_t *off)
{
	if (!parse_is(p, LEX_STRING)) {
		parse_error(p, "a string");
		return 0;
	}
	*out = parse_plain(p, parse_tok(p));
	*off = parse_tok(p)->off;
	parse_next(p);
	return 1;
}

static int parse_template_item(struct parser *p, struct ast_template *tpl)
{
	if (!parse_is(p, LEX_STRING)) {
		parse_error(p, "a string");
		return 0;
	}
	parse_template(p, parse_tok(p), tpl);
	parse_next(p);
	return 1;
}

/* ---- types and literals ------------------------------------------------------------------- */

static int parse_signed_int(struct parser *p, long long *v)
{
	int neg = 0;

	if (parse_is(p, LEX_MINUS)) {
		neg = 1;
		parse_next(p);
	}
	if (!parse_is(p, LEX_INT) || parse_tok(p)->bad) {
		parse_error(p, "an integer");
		return 0;
	}
	*v = neg ? -parse_tok(p)->ival : parse_tok(p)->ival;
	parse_next(p);
	return 1;
}

static int parse_type(struct parser *p, struct ast_type *ty)
{
	const struct lex_token *t = parse_tok(p);
	size_t cap = 0;

	memset(ty, 0, sizeof(*ty));
	ty->kind = AST_T_ERROR; /* until it is read whole */
	ty->off = t->off;
	/* `input a:` and then `llm s {` on the next line: the type is missing, the step is
	 * not a type */
	if (t->kind != LEX_IDENT ||
	    (parse_kw_in(t->kw, parse_wf_items) && parse_peek(p, 1)->kind != LEX_PIPE)) {
		parse_error(p, "a type");
		return 0;
	}
	if (parse_peek(p, 1)->kind == LEX_PIPE) {
		for (;;) {
			t = parse_tok(p);
			if (t->kind != LEX_IDENT) {
				parse_error(p, "an enum choice");
				return 0;
			}
			ty->choices = eclc_mem_grow(&p->u->mem, ty->choices, (size_t)ty->nchoices,
						    &cap, sizeof(*ty->choices));
			ty->choices[ty->nchoices].s = parse_text(p, t);
			ty->choices[ty->nchoices].off = t->off;
			ty->choices[ty->nchoices++].len = t->len;
			parse_next(p);
			if (!parse_is(p, LEX_PIPE))
				break;
			parse_next(p);
		}
		ty->kind = AST_T_ENUM;
		ty->len = parse_end(p) - ty->off;
		return 1;
	}
	parse_next(p);
	switch (t->kw) {
	case KW_STRING: ty->kind = AST_T_STRING; break;
	case KW_FLOAT: ty->kind = AST_T_FLOAT; break;
	case KW_BOOL: ty->kind = AST_T_BOOL; break;
	case KW_LIST: ty->kind = AST_T_LIST; break;
	case KW_INT:
		if (parse_is(p, LEX_INT) || parse_is(p, LEX_MINUS)) {
			if (!parse_signed_int(p, &ty->min) || !parse_expect(p, LEX_DOTDOT) ||
			    !parse_signed_int(p, &ty->max))
				return 0;
			ty->has_range = 1;
		}
		ty->kind = AST_T_INT;
		break;
	default: {
		struct diag_suggest sg;
		eclc_diag *d;
		int i;

		ty->kind = AST_T_ERROR;
		d = diag_report(p->u, D_UNKNOWN_TYPE, t->off, t->len, parse_text(p, t));
		diag_suggest_init(&sg, parse_text(p, t));
		for (i = 0; parse_type_names[i]; i++)
			diag_suggest_add(&sg, parse_type_names[i]);
		diag_suggest_help(p->u, d, &sg);
		if (!sg.best)
			diag_help(p->u, d,
				  "the types are string, int, float, bool, list and "
				  "enums such as `yes | no`");
	}
	}
	ty->len = parse_end(p) - ty->off;
	return 1;
}

static struct ast_expr *parse_new(struct parser *p, enum ast_ekind kind, size_t off)
{
	struct ast_expr *e = eclc_mem_alloc(&p->u->mem, sizeof(*e));

	e->kind = kind;
	e->off = off;
	e->height = 1;
	e->ref.slot = -1;
	return e;
}

/* A number, possibly negative; the literal's text stays in the source for the emitters. */
static struct ast_expr *parse_number(struct parser *p, size_t off, int neg)
{
	const struct lex_token *t = parse_tok(p);
	struct ast_expr *e;

	if (t->bad)
		return NULL; /* already reported */
	e = parse_new(p, t->kind == LEX_INT ? AST_E_INT : AST_E_FLOAT, off);

	e->i = neg ? -t->ival : t->ival;
	e->f = t->kind == LEX_INT ? (double)e->i : neg ? -t->fval : t->fval;
	parse_next(p);
	e->len = parse_end(p) - off;
	return e;
}

/* `= literal` of an input or a var. */
static struct ast_expr *parse_literal(struct parser *p)
{
	const struct lex_token *t = parse_tok(p);
	struct ast_expr *e;

	if (t->kind == LEX_MINUS &&
	    (parse_peek(p, 1)->kind == LEX_INT || parse_peek(p, 1)->kind == LEX_NUMBER)) {
		parse_next(p);
		return parse_number(p, t->off, 1);
	}
	if (t->kind == LEX_INT || t->kind == LEX_NUMBER)
		return parse_number(p, t->off, 0);
	if (t->kind == LEX_STRING) {
		e = parse_new(p, AST_E_STR, t->off);
		e->s = parse_plain(p, t);
	} else if (t->kind == LEX_IDENT && (t->kw == KW_TRUE || t->kw == KW_FALSE)) {
		e = parse_new(p, AST_E_BOOL, t->off);
		e->i = t->kw == KW_TRUE;
	} else {
		eclc_diag *d = parse_error(p, "a literal value");

		/* `= general` for an enum: its choices are written as strings */
		if (d && t->kind == LEX_IDENT && !lex_reserved(t->kw))
			diag_help(p->u, d, "a choice or a string is written in quotes: \"%.*s\"",
				  (int)t->len, p->u->src.text + t->off);
		return NULL;
	}
	e->len = t->len;
	parse_next(p);
	return e;
}

/* ---- expressions -------------------------------------------------------------------------- */

static struct ast_expr *parse_or(struct parser *p);

/* Nesting (parentheses, `not`, `-`) is limited by the parser's recursion; the height of the
 * tree, which a chain like 1 + 1 + ... + 1 makes as tall as it is long, by the passes after
 * it and by the C written for it (each level is one more call: clang refuses more than 256
 * nested parentheses, and a level can cost two). */
static int parse_too_deep(struct parser *p, int height, size_t off, size_t len)
{
	if (p->depth > PARSE_MAX_DEPTH) {
		diag_report(p->u, D_TOO_DEEP, off, len, PARSE_MAX_DEPTH);
		return 1;
	}
	if (height > PARSE_MAX_HEIGHT) {
		diag_report(p->u, D_TOO_LONG, off, len, PARSE_MAX_HEIGHT);
		return 1;
	}
	return 0;
}

static struct ast_expr *parse_unop(struct parser *p, enum ast_ekind kind, size_t off,
				   struct ast_expr *a)
{
	struct ast_expr *e;

	if (!a)
		return NULL;
	e = parse_new(p, kind, off);
	e->a = a;
	e->len = a->off + a->len - off;
	e->height = a->height + 1;
	return parse_too_deep(p, e->height, off, e->len) ? NULL : e;
}

static struct ast_expr *parse_binop(struct parser *p, enum ast_op op, struct ast_expr *a,
				    struct ast_expr *b)
{
	struct ast_expr *e;

	if (!a || !b)
		return NULL;
	e = parse_new(p, AST_E_BIN, a->off);
	e->op = op;
	e->a = a;
	e->b = b;
	e->len = b->off + b->len - a->off;
	e->height = (a->height > b->height ? a->height : b->height) + 1;
	return parse_too_deep(p, e->height, e->off, e->len) ? NULL : e;
}

static int parse_ref(struct parser *p, struct ast_ref *r)
{
	const struct lex_token *t = parse_tok(p);

	memset(r, 0, sizeof(*r));
	r->slot = -1;
	if (t->kind != LEX_IDENT || lex_reserved(t->kw)) {
		parse_error(p, "a name");
		return 0;
	}
	r->off = t->off;
	r->base.s = parse_text(p, t);
	r->base.off = t->off;
	r->base.len = t->len;
	parse_next(p);
	if (parse_is(p, LEX_DOT)) {
		parse_next(p);
		t = parse_tok(p);
		if (t->kind != LEX_IDENT) {
			parse_error(p, "the name of an output field");
			return 0;
		}
		r->field.s = parse_text(p, t);
		r->field.off = t->off;
		r->field.len = t->len;
		parse_next(p);
	}
	r->len = parse_end(p) - r->off;
	return 1;
}

static struct ast_expr *parse_primary(struct parser *p)
{
	const struct lex_token *t = parse_tok(p);
	struct ast_expr *e;

	switch (t->kind) {
	case LEX_INT:
	case LEX_NUMBER: return parse_number(p, t->off, 0);
	case LEX_STRING: return parse_literal(p);
	case LEX_LPAREN:
		parse_next(p);
		e = parse_or(p);
		if (!e || !parse_expect(p, LEX_RPAREN))
			return NULL;
		/* The parentheses belong to the expression's text (labels, carets). */
		e->len = parse_end(p) - t->off;
		e->off = t->off;
		return e;
	case LEX_IDENT:
		if (t->kw == KW_TRUE || t->kw == KW_FALSE)
			return parse_literal(p);
		e = parse_new(p, t->kw == KW_LEN ? AST_E_LEN : AST_E_REF, t->off);
		if (t->kw == KW_LEN) {
			struct ast_expr *arg;

			parse_next(p);
			if (!parse_expect(p, LEX_LPAREN) || !(arg = parse_or(p)) ||
			    !parse_expect(p, LEX_RPAREN))
				return NULL;
			/* len(name) reads the slot (a list has no other form); len(expr) measures
			 * a computed string. */
			if (arg->kind == AST_E_REF)
				e->ref = arg->ref;
			else
				e->a = arg;
			e->height = arg->height + 1;
		} else if (!parse_ref(p, &e->ref)) {
			return NULL;
		}
		e->len = parse_end(p) - e->off;
		return e;
	default: parse_error(p, "an expression"); return NULL;
	}
}

static struct ast_expr *parse_unary(struct parser *p)
{
	size_t off = parse_tok(p)->off;
	struct ast_expr *e;

	if (!parse_is(p, LEX_MINUS))
		return parse_primary(p);
	parse_next(p);
	/* A negative literal is a literal, so that `-5` is written -5 in C. */
	if (parse_is(p, LEX_INT) || parse_is(p, LEX_NUMBER))
		return parse_number(p, off, 1);
	p->depth++;
	e = parse_too_deep(p, 0, off, 1) ? NULL : parse_unop(p, AST_E_NEG, off, parse_unary(p));
	p->depth--;
	return e;
}

static struct ast_expr *parse_mul(struct parser *p)
{
	struct ast_expr *e = parse_unary(p);

	while (e) {
		enum ast_op op;

		if (parse_is(p, LEX_STAR))
			op = AST_OP_MUL;
		else if (parse_is(p, LEX_SLASH))
			op = AST_OP_DIV;
		else if (parse_is(p, LEX_PERCENT))
			op = AST_OP_MOD;
		else
			break;
		parse_next(p);
		e = parse_binop(p, op, e, parse_unary(p));
	}
	return e;
}

static struct ast_expr *parse_add(struct parser *p)
{
	struct ast_expr *e = parse_mul(p);

	while (e && (parse_is(p, LEX_PLUS) || parse_is(p, LEX_MINUS))) {
		enum ast_op op = parse_is(p, LEX_PLUS) ? AST_OP_ADD : AST_OP_SUB;

		parse_next(p);
		e = parse_binop(p, op, e, parse_mul(p));
	}
	return e;
}

static struct ast_expr *parse_cmp(struct parser *p)
{
	struct ast_expr *e = parse_add(p);
	enum ast_op op;

	if (!e)
		return NULL;
	switch (parse_tok(p)->kind) {
	case LEX_EQ: op = AST_OP_EQ; break;
	case LEX_NE: op = AST_OP_NE; break;
	case LEX_LT: op = AST_OP_LT; break;
	case LEX_LE: op = AST_OP_LE; break;
	case LEX_GT: op = AST_OP_GT; break;
	case LEX_GE: op = AST_OP_GE; break;
	default: return e;
	}
	parse_next(p);
	return parse_binop(p, op, e, parse_add(p));
}

static struct ast_expr *parse_not(struct parser *p)
{
	size_t off = parse_tok(p)->off;
	struct ast_expr *e;

	if (!parse_is_kw(p, KW_NOT))
		return parse_cmp(p);
	parse_next(p);
	p->depth++;
	e = parse_too_deep(p, 0, off, 3) ? NULL : parse_unop(p, AST_E_NOT, off, parse_not(p));
	p->depth--;
	return e;
}

static struct ast_expr *parse_and(struct parser *p)
{
	struct ast_expr *e = parse_not(p);

	while (e && parse_is_kw(p, KW_AND)) {
		parse_next(p);
		e = parse_binop(p, AST_OP_AND, e, parse_not(p));
	}
	return e;
}

static struct ast_expr *parse_or(struct parser *p)
{
	size_t off = parse_tok(p)->off;
	struct ast_expr *e = NULL;

	p->depth++;
	if (!parse_too_deep(p, 0, off, 1)) {
		e = parse_and(p);
		while (e && parse_is_kw(p, KW_OR)) {
			parse_next(p);
			e = parse_binop(p, AST_OP_OR, e, parse_and(p));
		}
	}
	p->depth--;
	return e;
}

/* Whether the current token can start an expression. */
static int parse_expr_start(struct parser *p)
{
	const struct lex_token *t = parse_tok(p);

	switch (t->kind) {
	case LEX_INT:
	case LEX_NUMBER:
	case LEX_STRING:
	case LEX_LPAREN:
	case LEX_MINUS: return 1;
	case LEX_IDENT:
		return !lex_reserved(t->kw) || t->kw == KW_TRUE || t->kw == KW_FALSE ||
		       t->kw == KW_NOT || t->kw == KW_LEN;
	default: return 0;
	}
}

/* ---- items -------------------------------------------------------------------------------- */

/* Report a setting given twice in a scope. */
static void parse_dup(struct parser *p, const char *what, const char *where, size_t first)
{
	const struct lex_token *t = parse_tok(p);
	eclc_diag *d = diag_report(p->u, D_DUP_SETTING, t->off, t->len, what, where);

	diag_note_at(p->u, d, first, strlen(what), "first given here");
}

/* model, temperature, max_tokens, retry, timeout or repair: the current token is the key. */
static int parse_opt(struct parser *p, struct ast_opts *o, const char *where)
{
	const struct lex_token *key = parse_tok(p), *v;
	enum ast_opt opt;
	enum lex_kind want = LEX_INT;

	switch (key->kw) {
	case KW_MODEL:
		opt = AST_OPT_MODEL;
		want = LEX_STRING;
		break;
	case KW_TEMPERATURE:
		opt = AST_OPT_TEMPERATURE;
		want = LEX_NUMBER;
		break;
	case KW_MAX_TOKENS: opt = AST_OPT_MAX_TOKENS; break;
	case KW_RETRY: opt = AST_OPT_RETRY; break;
	case KW_TIMEOUT:
		opt = AST_OPT_TIMEOUT;
		want = LEX_DURATION;
		break;
	default: opt = AST_OPT_REPAIR; break;
	}
	if (o->set[opt])
		parse_dup(p, lex_kw_name(key->kw), where, o->key[opt]);
	else
		o->key[opt] = key->off;
	parse_next(p);
	v = parse_tok(p);
	if (v->bad || !(v->kind == want || (want == LEX_NUMBER && v->kind == LEX_INT))) {
		parse_error(p, want == LEX_DURATION ? "a duration such as 30s"
			       : want == LEX_NUMBER ? "a number"
						    : lex_kind_name(want));
		return 0;
	}
	o->set[opt] = 1;
	o->off[opt] = v->off;
	o->len[opt] = v->len;
	switch (opt) {
	case AST_OPT_MODEL: o->model = parse_plain(p, v); break;
	case AST_OPT_TEMPERATURE:
		o->temperature = v->kind == LEX_INT ? (double)v->ival : v->fval;
		break;
	case AST_OPT_MAX_TOKENS: o->max_tokens = v->ival; break;
	case AST_OPT_RETRY: o->retries = v->ival; break;
	case AST_OPT_TIMEOUT: o->timeout_ms = v->ival; break;
	default: o->repairs = v->ival; break;
	}
	parse_next(p);
	return 1;
}

static int parse_decl(struct parser *p, struct ast_workflow *wf, size_t *cap)
{
	enum ast_dkind kind = parse_is_kw(p, KW_INPUT) ? AST_D_INPUT : AST_D_VAR;
	struct ast_decl *d;

	wf->decls =
		eclc_mem_grow(&p->u->mem, wf->decls, (size_t)wf->ndecls, cap, sizeof(*wf->decls));
	d = &wf->decls[wf->ndecls];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->off = parse_tok(p)->off;
	d->slot = -1;
	parse_next(p);
	if (!parse_name(p, &d->name, kind == AST_D_INPUT ? "an input" : "a var"))
		return 0;
	/* Declared from here on, with an error type until its type is read: a later syntax
	 * error then does not make every use of the name an error too. */
	d->type.kind = AST_T_ERROR;
	d->len = parse_end(p) - d->off;
	wf->ndecls++;
	if (!parse_expect(p, LEX_COLON) || !parse_type(p, &d->type))
		return 0;
	if (parse_is(p, LEX_ASSIGN)) {
		parse_next(p);
		if (!(d->init = parse_literal(p)))
			return 0;
	}
	if (kind == AST_D_INPUT && parse_is(p, LEX_STRING))
		parse_string(p, &d->doc, &d->doc_off);
	d->len = parse_end(p) - d->off;
	return 1;
}

/* target = step | "done" [ expr | "{" name ":" expr { "," name ":" expr } "}" ] | "fail" STRING */
static int parse_target(struct parser *p, struct ast_target *to)
{
	const struct lex_token *t = parse_tok(p);
	size_t cap = 0;

	memset(to, 0, sizeof(*to));
	to->off = t->off;
	to->istep = -1;
	if (t->kind == LEX_IDENT && t->kw == KW_FAIL) {
		to->kind = AST_TG_FAIL;
		parse_next(p);
		if (!parse_template_item(p, &to->msg))
			return 0;
	} else if (t->kind == LEX_IDENT && t->kw == KW_DONE) {
		size_t done = p->i;

		to->kind = AST_TG_DONE;
		parse_next(p);
		/* The result of `done` starts on its line: a name on the next line is the next
		 * item. */
		if (parse_line_first(p, done + 1)) {
			;
		} else if (parse_is(p, LEX_LBRACE)) {
			parse_next(p);
			do {
				struct ast_result_field *f;

				if (parse_is(p, LEX_RBRACE))
					break;
				to->fields =
					eclc_mem_grow(&p->u->mem, to->fields, (size_t)to->nfields,
						      &cap, sizeof(*to->fields));
				f = &to->fields[to->nfields];
				if (!parse_name(p, &f->name, "a result field") ||
				    !parse_expect(p, LEX_COLON) || !(f->value = parse_or(p)))
					return 0;
				to->nfields++;
			} while (parse_is(p, LEX_COMMA) && (parse_next(p), 1));
			if (!parse_expect(p, LEX_RBRACE))
				return 0;
		} else if (parse_expr_start(p) &&
			   !(parse_tok(p)->kind == LEX_IDENT &&
			     parse_kw_in(parse_tok(p)->kw, parse_step_items))) {
			/* `-> done else -> x` on one line: `else` starts the next item, it is
			 * not a value named else */
			if (!(to->value = parse_or(p)))
				return 0;
		}
	} else if (t->kind == LEX_IDENT && !lex_reserved(t->kw)) {
		to->kind = AST_TG_STEP;
		to->step.s = parse_text(p, t);
		to->step.off = t->off;
		to->step.len = t->len;
		parse_next(p);
	} else {
		parse_error(p, "a step, `done` or `fail`");
		return 0;
	}
	to->len = parse_end(p) - to->off;
	return 1;
}

static int parse_output(struct parser *p, struct ast_step *st)
{
	size_t cap = 0;

	if (!parse_expect(p, LEX_LBRACE))
		return 0;
	while (!parse_is(p, LEX_RBRACE) && !parse_is(p, LEX_EOF)) {
		struct ast_field *f;

		st->fields = eclc_mem_grow(&p->u->mem, st->fields, (size_t)st->nfields, &cap,
					   sizeof(*st->fields));
		f = &st->fields[st->nfields];
		memset(f, 0, sizeof(*f));
		f->slot = -1;
		if (!parse_name(p, &f->name, "an output field"))
			return 0;
		if (parse_is(p, LEX_QUESTION)) {
			f->optional = 1;
			parse_next(p);
		}
		if (!parse_expect(p, LEX_COLON) || !parse_type(p, &f->type))
			return 0;
		st->nfields++;
	}
	return parse_expect(p, LEX_RBRACE);
}

/* call = "call" NAME "(" [ arg { "," arg } ] ")" ; arg = NAME ":" type "=" expr */
static int parse_call(struct parser *p, struct ast_step *st)
{
	size_t cap = 0;

	st->nargs = 0;
	if (!parse_name(p, &st->fn, "a C function") || !parse_expect(p, LEX_LPAREN))
		return 0;
	while (!parse_is(p, LEX_RPAREN)) {
		struct ast_arg *a;

		st->args = eclc_mem_grow(&p->u->mem, st->args, (size_t)st->nargs, &cap,
					 sizeof(*st->args));
		a = &st->args[st->nargs];
		memset(a, 0, sizeof(*a));
		if (!parse_name(p, &a->name, "an argument") || !parse_expect(p, LEX_COLON) ||
		    !parse_type(p, &a->type) || !parse_expect(p, LEX_ASSIGN) ||
		    !(a->value = parse_or(p)))
			return 0;
		st->nargs++;
		if (!parse_is(p, LEX_COMMA))
			break;
		parse_next(p);
	}
	return parse_expect(p, LEX_RPAREN);
}

static int parse_limit(struct parser *p, struct ast_step *st)
{
	struct ast_limit *l = &st->limit;

	l->off = parse_tok(p)->off;
	l->slot = -1;
	parse_next(p);
	if (!parse_is(p, LEX_INT) || parse_tok(p)->bad) {
		parse_error(p, "an integer");
		return 0;
	}
	l->n = parse_tok(p)->ival;
	l->noff = parse_tok(p)->off;
	l->nlen = parse_tok(p)->len;
	parse_next(p);
	if (!parse_expect_kw(p, KW_AS) || !parse_name(p, &l->counter, "a limit counter") ||
	    !parse_expect_kw(p, KW_ELSE))
		return 0;
	if (parse_is(p, LEX_ARROW)) {
		parse_next(p);
		if (!parse_is(p, LEX_IDENT) || lex_reserved(parse_tok(p)->kw)) {
			parse_error(p, "a step");
			return 0;
		}
	} else if (!parse_is_kw(p, KW_FAIL)) {
		parse_error(p, "`fail` or `->`");
		return 0;
	}
	if (!parse_target(p, &l->els))
		return 0;
	l->len = parse_end(p) - l->off;
	l->present = 1; /* only whole: the checker relies on its parts */
	return 1;
}

static int parse_step_item(struct parser *p, struct ast_step *st, size_t *setcap, size_t *trcap,
			   const char *where)
{
	const struct lex_token *t = parse_tok(p);
	struct ast_trans *tr;
	struct ast_set *s;

	if (t->kind == LEX_ARROW ||
	    (t->kind == LEX_IDENT && (t->kw == KW_WHEN || t->kw == KW_ELSE))) {
		st->trans = eclc_mem_grow(&p->u->mem, st->trans, (size_t)st->ntrans, trcap,
					  sizeof(*st->trans));
		tr = &st->trans[st->ntrans];
		memset(tr, 0, sizeof(*tr));
		tr->off = t->off;
		tr->kind = t->kind == LEX_ARROW ? AST_TR_ALWAYS
			   : t->kw == KW_WHEN   ? AST_TR_WHEN
						: AST_TR_ELSE;
		if (tr->kind != AST_TR_ALWAYS)
			parse_next(p);
		if (tr->kind == AST_TR_WHEN && !(tr->guard = parse_or(p)))
			return 0;
		if (!parse_expect(p, LEX_ARROW) || !parse_target(p, &tr->to))
			return 0;
		tr->len = parse_end(p) - tr->off;
		st->ntrans++;
		return 1;
	}
	if (t->kind != LEX_IDENT) {
		parse_bad_item(p, "a step item", parse_step_items);
		return 0;
	}
	switch (t->kw) {
	case KW_SYSTEM:
	case KW_PROMPT:
	case KW_QUESTION: {
		struct ast_template *tpl = t->kw == KW_SYSTEM   ? &st->system
					   : t->kw == KW_PROMPT ? &st->prompt
								: &st->question;

		if (tpl->present)
			parse_dup(p, lex_kw_name(t->kw), where, tpl->off);
		parse_next(p);
		return parse_template_item(p, tpl);
	}
	case KW_OUTPUT:
		if (st->has_output)
			parse_dup(p, "output", where, st->output_off);
		st->has_output = 1;
		st->output_off = t->off;
		parse_next(p);
		return parse_output(p, st);
	case KW_CALL:
		if (st->has_call)
			parse_dup(p, "call", where, st->call_off);
		st->has_call = 1;
		st->call_off = t->off;
		parse_next(p);
		return parse_call(p, st);
	case KW_LIMIT:
		if (st->limit.present)
			parse_dup(p, "limit", where, st->limit.off);
		return parse_limit(p, st);
	case KW_SET:
		st->sets = eclc_mem_grow(&p->u->mem, st->sets, (size_t)st->nsets, setcap,
					 sizeof(*st->sets));
		s = &st->sets[st->nsets];
		memset(s, 0, sizeof(*s));
		s->off = t->off;
		s->slot = -1;
		s->after_trans = st->ntrans > 0;
		parse_next(p);
		if (!parse_name(p, &s->var, "a var") || !parse_expect(p, LEX_ASSIGN) ||
		    !(s->value = parse_or(p)))
			return 0;
		s->len = parse_end(p) - s->off;
		st->nsets++;
		return 1;
	case KW_MODEL:
	case KW_TEMPERATURE:
	case KW_MAX_TOKENS:
	case KW_RETRY:
	case KW_TIMEOUT:
	case KW_REPAIR: return parse_opt(p, &st->opts, where);
	default: parse_bad_item(p, "a step item", parse_step_items); return 0;
	}
}

static int parse_step_body(struct parser *p, struct ast_workflow *wf, size_t *cap);

/* A step, marked damaged when a syntax error struck inside it: the checker then does not say
 * what it lacks, which may be only what the parser skipped. */
static int parse_step(struct parser *p, struct ast_workflow *wf, size_t *cap)
{
	int nsteps = wf->nsteps, errors = p->u->nerrors, ok;
	size_t from = parse_tok(p)->off;

	ok = parse_step_body(p, wf, cap);
	if (wf->nsteps > nsteps) {
		struct ast_step *st = &wf->steps[nsteps];

		st->end = parse_end(p);
		st->damaged = !ok || p->u->nerrors > errors ||
			      parse_lex_error_in(p, from, parse_tok(p)->off);
		wf->damaged |= st->damaged;
	}
	return ok;
}

static int parse_step_body(struct parser *p, struct ast_workflow *wf, size_t *cap)
{
	size_t setcap = 0, trcap = 0;
	struct ast_step *st;
	const char *where;
	enum lex_kw kw = parse_tok(p)->kw;

	wf->steps =
		eclc_mem_grow(&p->u->mem, wf->steps, (size_t)wf->nsteps, cap, sizeof(*wf->steps));
	st = &wf->steps[wf->nsteps];
	memset(st, 0, sizeof(*st));
	st->kind = kw == KW_CODE    ? AST_ST_CODE
		   : kw == KW_HUMAN ? AST_ST_HUMAN
		   : kw == KW_SET   ? AST_ST_SET
				    : AST_ST_LLM;
	st->off = parse_tok(p)->off;
	st->limit.slot = -1;
	parse_next(p);
	if (!parse_name(p, &st->name, "a step"))
		return 0;
	st->len = parse_end(p) - st->off;
	wf->nsteps++;
	if (!parse_expect(p, LEX_LBRACE))
		return 0;
	where = eclc_mem_printf(&p->u->mem, "step `%s`", st->name.s);
	while (!parse_is(p, LEX_RBRACE) && !parse_is(p, LEX_EOF)) {
		size_t at = p->i;

		/* A step that lost its `}` ends where the next one starts. */
		if (parse_is(p, LEX_IDENT) && parse_step_kw(parse_tok(p)->kw) &&
		    parse_line_first(p, p->i))
			break;
		int nsets = st->nsets, ntrans = st->ntrans;
		size_t from = parse_tok(p)->off;
		int ok = parse_step_item(p, st, &setcap, &trcap, where);

		/* A `set` or a transition with a character the lexer skipped is not what was
		 * written (`set v = sources[0]` is not `set v = sources`): it is left out, and
		 * nothing is said of it but the lexer's error. */
		if (parse_lex_error_in(p, from, parse_tok(p)->off)) {
			st->nsets = nsets;
			st->ntrans = ntrans;
		}
		if (ok)
			continue;
		if (p->i == at)
			parse_next(p);
		parse_sync(p, PARSE_STEP);
		/* After an error, the missing `}` would only repeat it. */
		if (parse_is(p, LEX_IDENT) && parse_step_kw(parse_tok(p)->kw))
			return 1;
	}
	return parse_expect(p, LEX_RBRACE);
}

static int parse_wf_item(struct parser *p, struct ast_workflow *wf, size_t *dcap, size_t *scap,
			 const char *where, size_t *name_off, size_t *desc_off)
{
	const struct lex_token *t = parse_tok(p);

	if (t->kind != LEX_IDENT) {
		parse_bad_item(p, "a workflow item", parse_wf_items);
		return 0;
	}
	switch (t->kw) {
	case KW_NAME:
	case KW_DESCRIPTION: {
		const char **dst = t->kw == KW_NAME ? &wf->name : &wf->description;
		size_t *first = t->kw == KW_NAME ? name_off : desc_off;

		if (*dst)
			parse_dup(p, lex_kw_name(t->kw), where, *first);
		else
			*first = t->off;
		parse_next(p);
		return parse_string(p, dst, t->kw == KW_NAME ? &wf->name_off : &wf->desc_off);
	}
	case KW_INPUT:
	case KW_VAR: return parse_decl(p, wf, dcap);
	case KW_LLM:
	case KW_CODE:
	case KW_HUMAN:
	case KW_SET: return parse_step(p, wf, scap);
	case KW_MODEL:
	case KW_TEMPERATURE:
	case KW_MAX_TOKENS:
	case KW_RETRY:
	case KW_TIMEOUT:
	case KW_REPAIR: return parse_opt(p, &wf->opts, where);
	default: parse_bad_item(p, "a workflow item", parse_wf_items); return 0;
	}
}

/* wf_id = IDENT { "-" IDENT }, written without spaces. */
static int parse_id(struct parser *p, struct ast_workflow *wf)
{
	const struct lex_token *t = parse_tok(p);
	int spaced = 0;

	if (t->kind != LEX_IDENT) {
		parse_error(p, "a workflow id");
		return 0;
	}
	wf->id.off = t->off;
	parse_next(p);
	while (parse_is(p, LEX_MINUS)) {
		const struct lex_token *dash = parse_tok(p), *next = parse_peek(p, 1);

		if (next->kind != LEX_IDENT)
			break;
		if (dash->off != parse_end(p) || next->off != dash->off + 1)
			spaced = 1;
		parse_next(p);
		parse_next(p);
	}
	wf->id.len = parse_end(p) - wf->id.off;
	if (spaced) {
		/* Keep the id usable: its words joined by dashes. */
		struct mem_buf b;
		size_t k;

		diag_report(p->u, D_ID_SPACES, wf->id.off, wf->id.len);
		eclc_mem_buf_init(&b, &p->u->mem);
		for (k = wf->id.off; k < wf->id.off + wf->id.len; k++)
			if (!strchr(" \t\r\n", p->u->src.text[k]))
				eclc_mem_buf_putc(&b, p->u->src.text[k]);
		wf->id.s = eclc_mem_strndup(&p->u->mem, b.p, b.len);
	} else {
		wf->id.s = eclc_mem_strndup(&p->u->mem, p->u->src.text + wf->id.off, wf->id.len);
	}
	return 1;
}

void parse_run(struct unit *u)
{
	struct parser p = {u, u->toks, 0, 0, u->ndiags, NULL, 0};
	size_t dcap = 0, scap = 0, name_off = 0, desc_off = 0;
	struct ast_workflow *wf;
	const char *where;

	if (!parse_is_kw(&p, KW_WORKFLOW)) {
		parse_error(&p, "`workflow`");
		return;
	}
	parse_next(&p);
	wf = eclc_mem_alloc(&u->mem, sizeof(*wf));
	/* Without its header there is no workflow to check. */
	if (!parse_id(&p, wf) || !parse_expect(&p, LEX_LBRACE))
		return;
	u->wf = wf;
	where = eclc_mem_printf(&u->mem, "workflow `%s`", wf->id.s);
	while (!parse_is(&p, LEX_RBRACE) && !parse_is(&p, LEX_EOF)) {
		size_t at = p.i;

		if (parse_wf_item(&p, wf, &dcap, &scap, where, &name_off, &desc_off))
			continue;
		if (p.i == at)
			parse_next(&p);
		parse_sync(&p, PARSE_WORKFLOW);
	}
	if (!parse_expect(&p, LEX_RBRACE))
		return;
	if (parse_is_kw(&p, KW_WORKFLOW))
		diag_report(u, D_SECOND_WORKFLOW, parse_tok(&p)->off, parse_tok(&p)->len);
	else if (!parse_is(&p, LEX_EOF))
		parse_error(&p, "end of file");
}
