/*
 * eclc.c - the compiler's driver: runs the passes (lex, parse, check, emit) over one buffer,
 * and joins compiled workflows into the registry. The recovery point of an allocation failure
 * is here: a failed allocation anywhere unwinds to eclc_compile, which frees the arena.
 */
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "check.h"
#include "eclc.h"
#include "emit.h"
#include "lex.h"
#include "parse.h"
#include "unit.h"

static void *eclc_malloc(void *ud, void *ptr, size_t size)
{
	(void)ud;
	if (size == 0) {
		free(ptr);
		return NULL;
	}
	return malloc(size);
}

static struct unit *eclc_unit_new(const eclc_options *opt)
{
	eclc_alloc_fn alloc = opt->alloc ? opt->alloc : eclc_malloc;
	struct unit *u = alloc(opt->alloc_ud, NULL, sizeof(*u));

	if (!u)
		return NULL;
	memset(u, 0, sizeof(*u));
	u->mem.alloc = alloc;
	u->mem.ud = opt->alloc_ud;
	u->mem.oom = &u->oom;
	u->werror = opt->werror;
	return u;
}

static void eclc_unit_free(struct unit *u)
{
	eclc_alloc_fn alloc;

	if (!u)
		return;
	alloc = u->mem.alloc;
	eclc_mem_release(&u->mem);
	alloc(u->mem.ud, u, 0);
}

static int eclc_nomem(eclc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = ECLC_ENOMEM;
	res->diag_text = "";
	return ECLC_ENOMEM;
}

/* Diagnostics sorted by position, keeping the order of report among equals (merge sort). */
static void eclc_sort(struct unit *u)
{
	size_t n = u->ndiags, w, i;
	eclc_diag **tmp;

	if (n < 2)
		return;
	tmp = eclc_mem_alloc(&u->mem, n * sizeof(*tmp));
	for (w = 1; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			size_t a = i, mid = i + w < n ? i + w : n, b = mid;
			size_t end = i + 2 * w < n ? i + 2 * w : n, k = i;

			while (a < mid && b < end)
				tmp[k++] = u->diags[b]->off < u->diags[a]->off ? u->diags[b++]
									       : u->diags[a++];
			while (a < mid)
				tmp[k++] = u->diags[a++];
			while (b < end)
				tmp[k++] = u->diags[b++];
		}
		memcpy(u->diags, tmp, n * sizeof(*tmp));
	}
}

/* Fill res from the unit. The diagnostics are rendered against u->src unless they were
 * already, into *rendered. */
static void eclc_finish(struct unit *u, eclc_result *res, const struct mem_buf *out,
			struct mem_buf *rendered)
{
	eclc_diag *list = eclc_mem_alloc(&u->mem, (u->ndiags + 1) * sizeof(*list));
	struct mem_buf text;
	size_t i;

	eclc_mem_buf_init(&text, &u->mem);
	for (i = 0; i < u->ndiags; i++) {
		list[i] = *u->diags[i];
		if (!rendered)
			diag_render(&text, &u->src, u->diags[i]);
	}
	if (rendered)
		text = *rendered;
	res->status = u->nerrors ? ECLC_EDIAG : ECLC_OK;
	res->diags = list;
	res->ndiags = (int)u->ndiags;
	res->nerrors = u->nerrors;
	res->nwarnings = u->nwarnings;
	res->diag_text = eclc_mem_buf_str(&text);
	res->diag_len = text.len;
	if (out && out->p) {
		res->out = out->p;
		res->out_len = out->len;
	}
	res->wf = u->wf;
	res->unit = u;
}

static void eclc_dump_tokens(struct unit *u, struct mem_buf *b)
{
	size_t i;

	for (i = 0; i < u->ntoks; i++) {
		const struct lex_token *t = &u->toks[i];

		const char *kind;

		switch (t->kind) {
		case LEX_EOF: kind = "eof"; break;
		case LEX_IDENT: kind = t->kw ? "keyword" : "ident"; break;
		case LEX_INT: kind = "int"; break;
		case LEX_NUMBER: kind = "number"; break;
		case LEX_DURATION: kind = "duration"; break;
		case LEX_STRING: kind = "string"; break;
		default: kind = "punct"; break;
		}
		eclc_mem_buf_printf(b, "%d:%d %s", diag_line(&u->src, t->off),
				    diag_col(&u->src, t->off), kind);
		if (t->kind != LEX_EOF) {
			eclc_mem_buf_putc(b, ' ');
			eclc_mem_buf_put(b, u->src.text + t->off, t->len);
		}
		if (t->kind == LEX_DURATION)
			eclc_mem_buf_printf(b, " (%lldms)", t->ival);
		eclc_mem_buf_putc(b, '\n');
	}
}

static const char *const eclc_ext[] = {
	[ECLC_C] = "c",       [ECLC_MERMAID] = "mmd", [ECLC_DOT] = "dot",
	[ECLC_JSON] = "json", [ECLC_TOKENS] = "txt",  [ECLC_AST] = "txt",
};

/* Run fn(u, arg) with u's recovery point set: 0, or -1 when an allocation failed. Nothing
 * here changes after setjmp, so nothing is clobbered by the jump back. */
static int eclc_protect(struct unit *u, void (*fn)(struct unit *, void *), void *arg)
{
	if (setjmp(u->oom))
		return -1;
	fn(u, arg);
	return 0;
}

struct eclc_job {
	const char *src;
	size_t len;
	const eclc_options *opt;
	eclc_result *res;
	const eclc_result *const *units;
	int n;
};

static void eclc_compile_unit(struct unit *u, void *arg)
{
	struct eclc_job *job = arg;
	const eclc_options *opt = job->opt;
	const char *path = opt->path ? opt->path : "<input>";
	struct mem_buf out;

	eclc_mem_buf_init(&out, &u->mem);
	diag_source_init(&u->mem, &u->src, eclc_mem_strndup(&u->mem, path, strlen(path)),
			 eclc_mem_strndup(&u->mem, job->src, job->len), job->len);
	lex_run(u);
	if (opt->format == ECLC_TOKENS) {
		eclc_dump_tokens(u, &out);
	} else {
		parse_run(u);
		if (opt->format == ECLC_AST && u->wf)
			ast_dump(&out, u->wf, &u->src);
		if (opt->format != ECLC_AST)
			check_run(u);
		if (opt->format != ECLC_AST && u->wf && u->nerrors == 0) {
			switch (opt->format) {
			case ECLC_C: emit_c(u, &out); break;
			case ECLC_MERMAID: emit_mermaid(u, &out); break;
			case ECLC_DOT: emit_dot(u, &out); break;
			case ECLC_JSON: emit_json(u, &out); break;
			default: break;
			}
		}
	}
	eclc_sort(u);
	eclc_finish(u, job->res, &out, NULL);
	if (opt->format != ECLC_CHECK)
		job->res->out_ext = eclc_ext[opt->format];
}

int eclc_compile(const char *src, size_t len, const eclc_options *opt, eclc_result *res)
{
	struct eclc_job job = {src, len, opt, res, NULL, 0};
	struct unit *u = eclc_unit_new(opt);

	memset(res, 0, sizeof(*res));
	if (!u || eclc_protect(u, eclc_compile_unit, &job) < 0) {
		eclc_unit_free(u);
		return eclc_nomem(res);
	}
	return res->status;
}

static void eclc_registry_unit(struct unit *u, void *arg)
{
	struct eclc_job *job = arg;
	const eclc_result *const *units = job->units;
	const struct ast_workflow **wfs;
	const char **paths;
	struct mem_map syms = {0};
	struct mem_buf out, text;
	int n = job->n, *order, i, j;

	eclc_mem_buf_init(&out, &u->mem);
	eclc_mem_buf_init(&text, &u->mem);
	/* Two workflows with one C symbol would not link; the same id is the likely cause. */
	for (i = 0; i < n; i++) {
		const struct ast_workflow *wf = units[i]->wf, *fw;
		const char *sym = emit_symbol(&u->mem, wf->id.s);
		int first = eclc_mem_map_get(&syms, sym);
		const struct unit *fu;
		eclc_diag *d;

		if (first < 0) {
			eclc_mem_map_put(&u->mem, &syms, sym, i);
			continue;
		}
		fu = units[first]->unit;
		fw = units[first]->wf;
		u->src = units[i]->unit->src; /* report in the file of the second one */
		if (strcmp(fw->id.s, wf->id.s) == 0)
			d = diag_report(u, D_DUP_WORKFLOW, wf->id.off, wf->id.len, wf->id.s);
		else
			d = diag_report(u, D_CNAME_CLASH, wf->id.off, wf->id.len, fw->id.s,
					wf->id.s, sym);
		diag_note(u, d, "`%s` is defined at %s:%d:%d", fw->id.s, fu->src.path,
			  diag_line(&fu->src, fw->id.off), diag_col(&fu->src, fw->id.off));
		diag_render(&text, &u->src, d);
	}
	if (!u->nerrors) {
		/* Sorted by id: an insertion sort, over the files given. */
		order = eclc_mem_alloc(&u->mem, sizeof(int) * ((size_t)n + 1));
		wfs = eclc_mem_alloc(&u->mem, sizeof(*wfs) * ((size_t)n + 1));
		paths = eclc_mem_alloc(&u->mem, sizeof(*paths) * ((size_t)n + 1));
		for (i = 0; i < n; i++) {
			for (j = i;
			     j > 0 && strcmp(units[order[j - 1]]->wf->id.s, units[i]->wf->id.s) > 0;
			     j--)
				order[j] = order[j - 1];
			order[j] = i;
		}
		for (i = 0; i < n; i++) {
			wfs[i] = units[order[i]]->wf;
			paths[i] = units[order[i]]->unit->src.path;
		}
		emit_registry(&out, wfs, paths, n);
	}
	eclc_finish(u, job->res, &out, &text);
	job->res->out_ext = "c";
}

int eclc_registry(const eclc_result *const *units, int n, const eclc_options *opt, eclc_result *res)
{
	struct eclc_job job = {NULL, 0, opt, res, units, n};
	struct unit *u = eclc_unit_new(opt);

	memset(res, 0, sizeof(*res));
	if (!u || eclc_protect(u, eclc_registry_unit, &job) < 0) {
		eclc_unit_free(u);
		return eclc_nomem(res);
	}
	return res->status;
}

void eclc_result_free(eclc_result *res)
{
	if (!res)
		return;
	eclc_unit_free(res->unit);
	memset(res, 0, sizeof(*res));
	res->diag_text = "";
}
