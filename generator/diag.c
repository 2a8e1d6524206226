/*
 * diag.c - the table of diagnostics and how they are reported and rendered.
 *
 * Rendering follows gcc and clang, so that editors and people read it without surprise:
 *   dsl/x.ecl:12:8: error[E022]: unknown step `critque`
 *      12 |     -> critque
 *         |        ^~~~~~~
 *         = help: did you mean `critique`?
 */
#include <stdarg.h>
#include <string.h>

#include "diag.h"
#include "unit.h"

static const struct diag_def {
	const char *code;
	const char *format;
} diag_table[D_COUNT] = {
	[D_BAD_BYTE] = {"E001", "invalid byte 0x%02x"},
	[D_BAD_CHAR] = {"E002", "unexpected character `%s`"},
	[D_UNTERMINATED] = {"E003", "unterminated string"},
	[D_BAD_ESCAPE] = {"E004", "unknown escape `\\%s` in a string"},
	[D_NUM_RANGE] = {"E005", "number `%s` is out of range"},
	[D_BAD_NUMBER] = {"E006", "invalid number `%s`"},
	[D_TOO_BIG] = {"E007", "the file is larger than %d MiB"},

	[D_EXPECTED] = {"E010", "expected %s, found %s"},
	[D_ID_SPACES] = {"E011", "a workflow id is written without spaces"},
	[D_UNKNOWN_TYPE] = {"E012", "unknown type `%s`"},
	[D_SECOND_WORKFLOW] = {"E013", "a file holds one workflow"},
	[D_RESERVED] = {"E014", "`%s` is a reserved word and cannot name %s"},
	[D_DUP_SETTING] = {"E015", "`%s` is given twice in %s"},
	[D_TOO_DEEP] = {"E016", "expression nested too deeply (more than %d levels)"},
	[D_TOO_LONG] = {"E017", "expression too long (more than %d operators deep)"},

	[D_DUP_NAME] = {"E020", "duplicate %s `%s`"},
	[D_UNKNOWN_REF] = {"E021", "unknown name `%s`"},
	[D_UNKNOWN_STEP] = {"E022", "unknown step `%s`"},
	[D_UNKNOWN_FIELD] = {"E023", "step `%s` has no output field `%s`"},
	[D_CNAME_CLASH] = {"E024", "`%s` and `%s` have the same C name %s"},

	[D_NO_PROMPT] = {"E025", "step `%s` has no `prompt`"},
	[D_NO_OUTPUT] = {"E026", "step `%s` has no `output`"},
	[D_DEAD_END] = {"E027", "step `%s` has no transition"},
	[D_UNREACHABLE_TRANS] = {"E028", "this transition can never be taken"},
	[D_SET_AFTER] = {"E029", "`set` must come before the transitions of its step"},
	[D_NO_STEPS] = {"E030", "workflow `%s` has no step"},
	[D_NO_DONE] = {"E031", "workflow `%s` never reaches `done`"},
	[D_UNBOUNDED] = {"E032", "unbounded cycle %s"},
	[D_LIMIT_CYCLE] = {"E033", "the `limit` fallbacks %s form a cycle"},
	[D_BOUND_OVERFLOW] = {"E034", "the step bound of workflow `%s` exceeds %d"},
	[D_NO_CALL] = {"E035", "code step `%s` has no `call`"},
	[D_NO_QUESTION] = {"E036", "human step `%s` has no `question`"},
	[D_NOT_IN_STEP] = {"E037", "`%s` is not allowed in %s step `%s`"},
	[D_HUMAN_LIST] = {"E038", "field `%s` of human step `%s` cannot be a list"},
	[D_FN_NAME] = {"E039", "`%s` cannot name the C function of a code step: %s"},

	[D_SET_TARGET] = {"E040", "`%s` is %s, not a var: only vars can be set"},
	[D_SET_TYPE] = {"E041", "cannot set %s `%s` to a value of type %s"},
	[D_GUARD_TYPE] = {"E042", "a condition must be bool, found %s"},
	[D_BINARY_TYPE] = {"E043", "operator `%s` cannot be applied to %s and %s"},
	[D_UNARY_TYPE] = {"E044", "operator `%s` cannot be applied to %s"},
	[D_NOT_A_CHOICE] = {"E045", "\"%s\" is not a choice of `%s` (%s)"},
	[D_LEN_TYPE] = {"E046", "`len` needs a string or a list, found %s"},
	[D_DEFAULT_TYPE] = {"E047", "the default of `%s` must be %s, found %s"},
	[D_DEFAULT_RANGE] = {"E048", "the default %lld of `%s` is outside %lld..%lld"},
	[D_EMPTY_RANGE] = {"E049", "empty range %lld..%lld"},
	[D_OPT_RANGE] = {"E050", "`%s` must be %s"},
	/* E051 (a feature not supported yet) is retired: every feature it named is. */
	[D_DIV_ZERO] = {"E052", "division by zero"},
	[D_ARG_TYPE] = {"E053", "argument `%s` of `%s` is %s, found %s"},
	[D_MAYBE_UNSET] = {"E054", "`%s` may not exist yet here"},

	[D_BAD_SLOT] = {"E055", "`{{%s}}` is not a reference"},
	[D_OPEN_SLOT] = {"E056", "unterminated `{{` in a template"},
	[D_LONG_STRING] = {"E057", "string longer than %d bytes"},

	[D_DUP_WORKFLOW] = {"E060", "workflow `%s` is defined twice"},

	[D_UNREACHABLE_STEP] = {"W001", "step `%s` is never reached"},
	[D_UNUSED] = {"W002", "%s `%s` is never used"},
	[D_NEVER_SET] = {"W003", "var `%s` is read but never set and has no initial value"},
	[D_UNUSED_OUTPUT] = {"W004", "output field `%s` of %s step `%s` is never used"},
};

void diag_source_init(struct mem *m, struct diag_source *s, const char *path, const char *text,
		      size_t len)
{
	size_t cap = 0, i;

	s->path = path;
	s->text = text;
	s->len = len;
	s->lines = NULL;
	s->nlines = 0;
	s->lines = eclc_mem_grow(m, s->lines, s->nlines, &cap, sizeof(*s->lines));
	s->lines[s->nlines++] = 0;
	for (i = 0; i < len; i++)
		if (text[i] == '\n') {
			s->lines = eclc_mem_grow(m, s->lines, s->nlines, &cap, sizeof(*s->lines));
			s->lines[s->nlines++] = i + 1;
		}
}

/* Index of the line holding off. */
static size_t diag_line_index(const struct diag_source *s, size_t off)
{
	size_t lo = 0, hi = s->nlines;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->lines[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int diag_line(const struct diag_source *s, size_t off)
{
	return (int)diag_line_index(s, off) + 1;
}

/* Characters (UTF-8 code points) in text[from..to). */
static int diag_chars(const char *text, size_t from, size_t to)
{
	int n = 0;

	for (; from < to; from++)
		if (((unsigned char)text[from] & 0xc0) != 0x80)
			n++;
	return n;
}

int diag_col(const struct diag_source *s, size_t off)
{
	return diag_chars(s->text, s->lines[diag_line_index(s, off)], off) + 1;
}

const char *diag_code(enum diag_id id)
{
	return diag_table[id].code;
}

eclc_diag *diag_report(struct unit *u, enum diag_id id, size_t off, size_t len, ...)
{
	eclc_diag *d = eclc_mem_alloc(&u->mem, sizeof(*d));
	va_list ap;

	if (off > u->src.len)
		off = u->src.len;
	if (len > u->src.len - off)
		len = u->src.len - off;
	d->code = diag_table[id].code;
	d->error = d->code[0] == 'E' || u->werror;
	d->off = off;
	d->len = len;
	d->line = diag_line(&u->src, off);
	d->col = diag_col(&u->src, off);
	va_start(ap, len);
	d->message = eclc_mem_vprintf(&u->mem, diag_table[id].format, ap);
	va_end(ap);
	u->diags = eclc_mem_grow(&u->mem, u->diags, u->ndiags, &u->capdiags, sizeof(*u->diags));
	u->diags[u->ndiags++] = d;
	if (d->error)
		u->nerrors++;
	else
		u->nwarnings++;
	return d;
}

void diag_help(struct unit *u, eclc_diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	d->help = eclc_mem_vprintf(&u->mem, fmt, ap);
	va_end(ap);
}

void diag_note(struct unit *u, eclc_diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	d->note = eclc_mem_vprintf(&u->mem, fmt, ap);
	va_end(ap);
}

void diag_note_at(struct unit *u, eclc_diag *d, size_t off, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	d->note = eclc_mem_vprintf(&u->mem, fmt, ap);
	va_end(ap);
	d->note_off = off;
	d->note_len = len;
	d->note_line = diag_line(&u->src, off);
	d->note_col = diag_col(&u->src, off);
}

/* The source line of off and a caret line under off..off+len (clipped to that line). Tabs of
 * the line are kept in the caret line so that the caret lands under the right character. */
static void diag_excerpt(struct mem_buf *b, const struct diag_source *s, size_t off, size_t len)
{
	size_t li = diag_line_index(s, off), start = s->lines[li], end = start, i;
	int n;

	while (end < s->len && s->text[end] != '\n')
		end++;
	if (end > start && s->text[end - 1] == '\r')
		end--;
	eclc_mem_buf_printf(b, "%5zu | ", li + 1);
	/* A control character (a NUL above all, which would end the text) is shown as its
	 * picture, U+2400 + c, one column wide like the byte it stands for. */
	for (i = start; i < end; i++) {
		unsigned char c = (unsigned char)s->text[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			unsigned pic = c == 0x7f ? 0x2421 : 0x2400 + c;

			eclc_mem_buf_putc(b, (char)(0xe0 | (pic >> 12)));
			eclc_mem_buf_putc(b, (char)(0x80 | ((pic >> 6) & 0x3f)));
			eclc_mem_buf_putc(b, (char)(0x80 | (pic & 0x3f)));
		} else {
			eclc_mem_buf_putc(b, (char)c);
		}
	}
	eclc_mem_buf_puts(b, "\n      | ");
	for (i = start; i < off && i < end; i++) {
		unsigned char c = (unsigned char)s->text[i];

		if (c == '\t')
			eclc_mem_buf_putc(b, '\t');
		else if ((c & 0xc0) != 0x80)
			eclc_mem_buf_putc(b, ' ');
	}
	eclc_mem_buf_putc(b, '^');
	n = off < end ? diag_chars(s->text, off, off + len < end ? off + len : end) : 0;
	while (--n > 0)
		eclc_mem_buf_putc(b, '~');
	eclc_mem_buf_putc(b, '\n');
}

void diag_render(struct mem_buf *b, const struct diag_source *s, const eclc_diag *d)
{
	eclc_mem_buf_printf(b, "%s:%d:%d: %s[%s]: %s\n", s->path, d->line, d->col,
			    d->error ? "error" : "warning", d->code, d->message);
	diag_excerpt(b, s, d->off, d->len);
	if (d->help)
		eclc_mem_buf_printf(b, "      = help: %s\n", d->help);
	if (d->note && d->note_line > 0) {
		eclc_mem_buf_printf(b, "%s:%d:%d: note: %s\n", s->path, d->note_line, d->note_col,
				    d->note);
		diag_excerpt(b, s, d->note_off, d->note_len);
	} else if (d->note) {
		eclc_mem_buf_printf(b, "      = note: %s\n", d->note);
	}
}

#define DIAG_MAX_NAME 64

/* Optimal string alignment distance: edits, with a swap of two neighbours as one edit, so
 * that `revisoins` is one typo away from `revisions`. */
static size_t diag_distance(const char *a, size_t n, const char *b, size_t m)
{
	size_t d[DIAG_MAX_NAME + 1][DIAG_MAX_NAME + 1];
	size_t i, j;

	for (i = 0; i <= n; i++)
		d[i][0] = i;
	for (j = 0; j <= m; j++)
		d[0][j] = j;
	for (i = 1; i <= n; i++)
		for (j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

void diag_suggest_init(struct diag_suggest *sg, const char *name)
{
	size_t n = strlen(name);

	sg->name = name;
	sg->best = NULL;
	/* A third of the name may be wrong, and at least one character. */
	sg->dist = (n / 3 > 1 ? n / 3 : 1) + 1;
}

void diag_suggest_add(struct diag_suggest *sg, const char *candidate)
{
	size_t n = strlen(sg->name), m = strlen(candidate), d;

	if (n > DIAG_MAX_NAME || m > DIAG_MAX_NAME || (n > m ? n - m : m - n) >= sg->dist)
		return;
	d = diag_distance(sg->name, n, candidate, m);
	if (d > 0 && d < sg->dist) {
		sg->best = candidate;
		sg->dist = d;
	}
}

void diag_suggest_help(struct unit *u, eclc_diag *d, const struct diag_suggest *sg)
{
	if (sg->best)
		diag_help(u, d, "did you mean `%s`?", sg->best);
}
