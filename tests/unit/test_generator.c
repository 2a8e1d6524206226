/*
 * test_generator.c - the eclc compiler: in memory through eclc.h (the tree it checks, the
 * templates it splits, the diagnostics it gives, its output, its behaviour when memory runs
 * out) and as a program (the golden diagnostics of tests/dsl/err, the C it writes for
 * tests/dsl/ok compiled by cc, generated/ kept up to date, the command line).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "eclc.h"
#include "lex.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static char *read_all(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert(f, "cannot open %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	cr_assert(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp)
		*lenp = (size_t)n;
	return buf;
}

static char *src_path(const char *rel)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", ECL_SOURCE_DIR, rel);
	return path;
}

/* Compile a string in memory. */
static int compile(const char *src, const char *path, eclc_format format, eclc_result *res)
{
	eclc_options opt = {0};

	opt.path = path;
	opt.format = format;
	return eclc_compile(src, strlen(src), &opt, res);
}

/* Compile a file of the repository, named by its path relative to the root. */
static int compile_file(const char *rel, eclc_format format, eclc_result *res)
{
	size_t len;
	char *src = read_all(src_path(rel), &len);
	eclc_options opt = {0};
	int rc;

	opt.path = rel;
	opt.format = format;
	rc = eclc_compile(src, len, &opt, res);
	free(src);
	return rc;
}

/* The files of a directory of the repository ending with ext, sorted. */
static int list_dir(const char *rel, const char *ext, char names[][256], int max)
{
	DIR *d = opendir(src_path(rel));
	struct dirent *e;
	int n = 0, i, j;

	cr_assert(d, "cannot list %s", rel);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name), el = strlen(ext);

		if (e->d_name[0] != '.' && len > el && strcmp(e->d_name + len - el, ext) == 0 &&
		    n < max)
			snprintf(names[n++], 256, "%s", e->d_name);
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char tmp[256];

			memcpy(tmp, names[j], 256);
			memcpy(names[j], names[j - 1], 256);
			memcpy(names[j - 1], tmp, 256);
		}
	return n;
}

/* Run a shell command from the repository root; its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	cr_assert(st != -1 && WIFEXITED(st), "command did not run: %s", cmd);
	return WEXITSTATUS(st);
}

static char *tmp_dir(void)
{
	char *dir = strdup("/tmp/ecl-test-gen-XXXXXX");

	cr_assert(dir && mkdtemp(dir));
	return dir;
}

static const eclc_diag *find_code(const eclc_result *res, const char *code)
{
	int i;

	for (i = 0; i < res->ndiags; i++)
		if (strcmp(res->diags[i].code, code) == 0)
			return &res->diags[i];
	return NULL;
}

static const struct ast_step *find_step(const struct ast_workflow *wf, const char *name)
{
	int i;

	for (i = 0; i < wf->nsteps; i++)
		if (strcmp(wf->steps[i].name.s, name) == 0)
			return &wf->steps[i];
	return NULL;
}

/* ---- the first workflow --------------------------------------------------------------------- */

Test(generator, step_kinds_have_their_keyword)
{
	/* the dump, the comments of the generated C and the graph's JSON all write these */
	cr_assert_str_eq(ast_stkind_name(AST_ST_LLM), "llm");
	cr_assert_str_eq(ast_stkind_name(AST_ST_CODE), "code");
	cr_assert_str_eq(ast_stkind_name(AST_ST_HUMAN), "human");
	cr_assert_str_eq(ast_stkind_name(AST_ST_SET), "set");
	cr_assert_str_eq(ast_stkind_name((enum ast_stkind)(AST_ST_SET + 1)),
			 "an invalid step kind");
}

Test(generator, critique_revise_compiles_clean)
{
	static const char *const slots[] = {
		"topic",
		"min_words",
		"content",
		"word_count",
		"generate.content",
		"generate.word_count",
		"critique.decision",
		"critique.feedback",
		"critique.quality_score",
		"revisions",
		"revise.content",
		"revise.word_count",
	};
	eclc_result res;
	const struct ast_workflow *wf;
	int i;

	cr_assert_eq(compile_file("dsl/critique_revise.ecl", ECLC_C, &res), ECLC_OK);
	cr_assert_eq(res.ndiags, 0, "%s", res.diag_text);
	cr_assert_str_eq(res.diag_text, "");
	wf = res.wf;
	cr_assert_str_eq(wf->id.s, "critique-revise");
	cr_assert_eq(wf->nsteps, 3);
	cr_assert_str_eq(wf->steps[0].name.s, "generate");
	cr_assert_str_eq(wf->steps[1].name.s, "critique");
	cr_assert_str_eq(wf->steps[2].name.s, "revise");
	cr_assert_eq(wf->max_steps, 8);
	cr_assert_eq(wf->steps[0].visits, 1);
	cr_assert_eq(wf->steps[1].visits, 4);
	cr_assert_eq(wf->steps[2].visits, 3);
	cr_assert_eq(wf->nslots, (int)(sizeof(slots) / sizeof(slots[0])));
	for (i = 0; i < wf->nslots; i++)
		cr_assert_str_eq(wf->slots[i].name, slots[i], "slot %d", i);
	cr_assert_eq(wf->slots[9].kind, AST_S_COUNTER);
	cr_assert_eq(wf->slots[9].step, 2);
	cr_assert(wf->slots[0].required);
	cr_assert(!wf->slots[1].required);
	cr_assert_str_eq(wf->slots[1].initial, "50");
	cr_assert_eq(wf->slots[8].type->has_range, 1);
	cr_assert_eq(wf->slots[8].type->max, 100);
	cr_assert(strstr(res.out, "\t.max_steps = 8,\n"));
	cr_assert(strstr(res.out, "\t.usage = \"ecl run critique-revise --topic <string> "
				  "[--min_words <int>]\",\n"));
	cr_assert(strstr(res.out, "\t\t\tif (ecl_run_visits(run, S__REVISE) >= 3)\n"
				  "\t\t\t\treturn ecl_run_fail(run, &limit__revise);\n"
				  "\t\t\treturn ecl_run_goto(run, S__REVISE);\n"));
	cr_assert(strstr(res.out, "\t\t\t .retries = 2,\n") == NULL);
	cr_assert(strstr(res.out,
			 "\t\t .retries = 2,\n\t\t .timeout_ms = 0,\n\t\t .repairs = 1},\n"));
	eclc_result_free(&res);
}

/* The critique prompt, a triple-quoted string, split at its slots. */
Test(generator, critique_prompt_parts)
{
	eclc_result res;
	const struct ast_template *t;

	cr_assert_eq(compile_file("dsl/critique_revise.ecl", ECLC_CHECK, &res), ECLC_OK);
	t = &find_step(res.wf, "critique")->prompt;
	cr_assert_eq(t->nparts, 7);
	cr_assert_str_eq(t->parts[0].text, "Judge this piece on the topic \"");
	cr_assert(t->parts[1].is_slot);
	cr_assert_str_eq(res.wf->slots[t->parts[1].ref.slot].name, "topic");
	cr_assert_str_eq(t->parts[4].text, " words.\nDecide \"pass\" when it is ready, else "
					   "\"revise\" and say what to change.\n\n");
	cr_assert_str_eq(t->parts[6].text,
			 "\n\nAnswer as JSON: {\"decision\": \"pass\" or \"revise\", \"feedback\": "
			 "\"<what to change>\", \"quality_score\": <0 to 100>}\n");
	cr_assert_eq(t->parts[6].len, strlen(t->parts[6].text));
	eclc_result_free(&res);
}

/* ---- strings and templates ------------------------------------------------------------------ */

static const char tpl_src[] = "workflow t {\n"
			      "  input topic: string\n"
			      "  llm a {\n"
			      "    system \"tab\\there \\\"q\\\" back\\\\slash \\{{not}} {x}\"\n"
			      "    prompt \"\"\"\n"
			      "        first {{ topic }}\n"
			      "\n"
			      "          indented {{a.text}}!\n"
			      "        last\n"
			      "        \"\"\"\n"
			      "    output {\n"
			      "      text: string\n"
			      "    }\n"
			      "    -> done\n"
			      "  }\n"
			      "}\n";

Test(generator, templates_split_with_escapes_and_indentation)
{
	eclc_result res;
	const struct ast_step *st;

	/* Parsed only: the prompt reads the step's own output, which the checker refuses (E054). */
	cr_assert_eq(compile(tpl_src, "t.ecl", ECLC_AST, &res), ECLC_OK, "%s", res.diag_text);
	st = &res.wf->steps[0];
	cr_assert_eq(st->system.nparts, 1);
	cr_assert_str_eq(st->system.parts[0].text, "tab\there \"q\" back\\slash {{not}} {x}");
	cr_assert_eq(st->prompt.nparts, 5);
	cr_assert_str_eq(st->prompt.parts[0].text, "first ");
	cr_assert(st->prompt.parts[1].is_slot);
	cr_assert_str_eq(st->prompt.parts[1].ref.base.s, "topic");
	cr_assert_eq(st->prompt.parts[1].ref.field.s, NULL);
	cr_assert_str_eq(st->prompt.parts[2].text, "\n\n  indented ");
	cr_assert_str_eq(st->prompt.parts[3].ref.base.s, "a");
	cr_assert_str_eq(st->prompt.parts[3].ref.field.s, "text");
	cr_assert_str_eq(st->prompt.parts[4].text, "!\nlast\n");
	/* The slot's diagnostics would point into the string: its position is kept. */
	cr_assert_eq(st->prompt.parts[1].ref.base.off,
		     (size_t)(strstr(tpl_src, "topic }}") - tpl_src));
	eclc_result_free(&res);
}

Test(generator, c_strings_escape_what_c_needs)
{
	static const char src[] = "workflow t {\n"
				  "  llm a {\n"
				  "    prompt \"why?\?! tab\\t \\\"q\\\" caf\xc3\xa9 */ /*\"\n"
				  "    output {\n"
				  "      text: string\n"
				  "    }\n"
				  "    when a.text == \"*/\" -> done\n"
				  "    else -> fail \"bad */ text\"\n"
				  "  }\n"
				  "}\n";
	eclc_result res;

	cr_assert_eq(compile(src, "t.ecl", ECLC_C, &res), ECLC_OK, "%s", res.diag_text);
	/* No trigraph, the UTF-8 kept as it is, and no comment closed early. */
	cr_assert(strstr(res.out, "{\"why?\\?! tab\\t \\\"q\\\" caf\xc3\xa9 */ /*\", 27, -1},"),
		  "%s", res.out);
	cr_assert(strstr(res.out, "/* t.ecl:7: when a.text == \"* /\" -> done */"), "%s", res.out);
	eclc_result_free(&res);
}

/* ---- diagnostics ------------------------------------------------------------------------------
 */

Test(generator, errors_have_exact_positions)
{
	static const char src[] = "workflow x {\n"                        /* 1 */
				  "  input topic: strng\n"                /* 2 */
				  "  llm a {\n"                           /* 3 */
				  "    prompt \"On {{topik}}\"\n"         /* 4 */
				  "    output {\n"                        /* 5 */
				  "      ok: bool\n"                      /* 6 */
				  "    }\n"                               /* 7 */
				  "    when a.ok -> b\n"                  /* 8 */
				  "    -> done\n"                         /* 9 */
				  "  }\n"                                 /* 10 */
				  "  llm b {\n"                           /* 11 */
				  "    promt \"x\"\n"                     /* 12 */
				  "    prompt \"y\"\n"                    /* 13 */
				  "    output {\n"                        /* 14 */
				  "      n: int\n"                        /* 15 */
				  "    }\n"                               /* 16 */
				  "    when b.n + \"s\" > 2 -> critque\n" /* 17 */
				  "    -> a\n"                            /* 18 */
				  "  }\n"                                 /* 19 */
				  "}\n";
	static const struct {
		const char *code;
		int line, col;
	} want[] = {
		{"E012", 2, 16},  {"E021", 4, 18},  {"E010", 12, 5},
		{"E043", 17, 10}, {"E022", 17, 27}, {"E032", 18, 8}, /* a -> b -> a, unbounded */
	};
	eclc_result res;
	size_t i;

	cr_assert_eq(compile(src, "x.ecl", ECLC_CHECK, &res), ECLC_EDIAG);
	cr_assert_eq(res.ndiags, (int)(sizeof(want) / sizeof(want[0])), "%s", res.diag_text);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cr_assert_str_eq(res.diags[i].code, want[i].code, "%s", res.diag_text);
		cr_assert_eq(res.diags[i].line, want[i].line, "%s", res.diag_text);
		cr_assert_eq(res.diags[i].col, want[i].col, "%s", res.diag_text);
	}
	cr_assert_str_eq(res.diags[0].help, "did you mean `string`?");
	cr_assert_str_eq(res.diags[2].help, "did you mean `prompt`?");
	cr_assert_eq(res.nerrors, 6);
	cr_assert_eq(res.out, NULL);
	cr_assert(strstr(res.diag_text, "x.ecl:17:27: error[E022]: unknown step `critque`\n"
					"   17 |     when b.n + \"s\" > 2 -> critque\n"
					"      |                           ^~~~~~~\n"));
	eclc_result_free(&res);
}

Test(generator, unbounded_cycle_is_named)
{
	static const char src[] = "workflow loop {\n"
				  "  llm generate {\n"
				  "    prompt \"p\"\n"
				  "    output {\n"
				  "      ok: bool\n"
				  "    }\n"
				  "    -> a\n"
				  "  }\n"
				  "  llm a {\n"
				  "    prompt \"p\"\n"
				  "    output {\n"
				  "      ok: bool\n"
				  "    }\n"
				  "    when a.ok -> done\n"
				  "    -> b\n"
				  "  }\n"
				  "  llm b {\n"
				  "    prompt \"p\"\n"
				  "    output {\n"
				  "      ok: bool\n"
				  "    }\n"
				  "    -> a\n"
				  "  }\n"
				  "}\n";
	eclc_result res;
	const eclc_diag *d;

	cr_assert_eq(compile(src, "loop.ecl", ECLC_CHECK, &res), ECLC_EDIAG);
	d = find_code(&res, "E032");
	cr_assert(d, "%s", res.diag_text);
	cr_assert_str_eq(d->message, "unbounded cycle generate -> a -> b -> a");
	cr_assert_eq(d->line, 22);
	cr_assert_eq(d->col, 8);
	eclc_result_free(&res);

	/* A limit on b bounds the same loop. */
	{
		char *fixed = strdup(src), *at = strstr(fixed, "  llm b {\n");
		char buf[2048];

		cr_assert(at);
		snprintf(buf, sizeof(buf),
			 "%.*s  llm b {\n    limit 2 as tries else fail \"x\"\n%s",
			 (int)(at - fixed), fixed, at + strlen("  llm b {\n"));
		cr_assert_eq(compile(buf, "loop.ecl", ECLC_CHECK, &res), ECLC_OK, "%s",
			     res.diag_text);
		/* generate 1, a 1 + 2 (from b), b 2 */
		cr_assert_eq(res.wf->max_steps, 6);
		eclc_result_free(&res);
		free(fixed);
	}
}

Test(generator, step_bounds_of_the_samples)
{
	static const struct {
		const char *file;
		int max_steps;
	} want[] = {
		{"tests/dsl/ok/hello.ecl", 1},
		{"tests/dsl/ok/review_code.ecl", 8},
		/* classify, answer_bug; clarify 2 * (1 + classify, answer_bug); guess, answer_bug
		 */
		{"tests/dsl/ok/triage.ecl", 10},
		{"tests/dsl/ok/steps.ecl", 6}, /* prepare, measure, review 2, rewrite 2 */
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		eclc_result res;

		cr_assert_eq(compile_file(want[i].file, ECLC_CHECK, &res), ECLC_OK, "%s",
			     res.diag_text);
		cr_assert_eq(res.ndiags, 0, "%s", res.diag_text);
		cr_assert_eq(res.wf->max_steps, want[i].max_steps, "%s", want[i].file);
		eclc_result_free(&res);
	}
}

/* The bound is the longest path through the steps without a limit, not the number of paths:
 * 47 set steps, each going to the next or the one after, have 2971215073 paths (more than an
 * int) and run at most 47 steps. */
Test(generator, step_bound_is_the_longest_path)
{
	char src[8192];
	size_t len = 0;
	eclc_result res;
	int i;

	len += (size_t)snprintf(src + len, sizeof(src) - len, "workflow ladder {\n  var v: int\n");
	for (i = 0; i < 47; i++) {
		len += (size_t)snprintf(src + len, sizeof(src) - len, "  set s%d {\n", i);
		if (i + 2 < 47)
			len += (size_t)snprintf(src + len, sizeof(src) - len,
						"    when v > %d -> s%d\n", i, i + 2);
		if (i + 1 < 47)
			len += (size_t)snprintf(src + len, sizeof(src) - len, "    -> s%d\n  }\n",
						i + 1);
		else
			len += (size_t)snprintf(src + len, sizeof(src) - len, "    -> done\n  }\n");
	}
	snprintf(src + len, sizeof(src) - len, "}\n");
	cr_assert_eq(compile(src, "ladder.ecl", ECLC_CHECK, &res), ECLC_OK, "%s", res.diag_text);
	cr_assert_eq(res.wf->max_steps, 47);
	for (i = 0; i < 47; i++)
		cr_assert_eq(res.wf->steps[i].visits, 1, "s%d", i);
	eclc_result_free(&res);
}

/* A limit's loop counts every step of the way back, once per round; a limit does not
 * multiply another (counters are per run). */
Test(generator, step_bound_with_limits)
{
	static const char src[] = "workflow loops {\n"
				  "  var v: int\n"
				  "  set a {\n    -> b\n  }\n"
				  "  set b {\n    limit 3 as bs else -> e\n    -> c\n  }\n"
				  "  set c {\n    when v > 1 -> d\n    -> e\n  }\n"
				  "  set d {\n    limit 5 as ds else fail \"d\"\n    -> a\n  }\n"
				  "  set e {\n    when v > 2 -> d\n    -> done\n  }\n"
				  "}\n";
	eclc_result res;

	cr_assert_eq(compile(src, "loops.ecl", ECLC_CHECK, &res), ECLC_OK, "%s", res.diag_text);
	/* a, then e (b used up); b: 3 * (1 + c, e); d: 5 * (1 + a, e) */
	cr_assert_eq(res.wf->max_steps, 2 + 3 * 3 + 5 * 3, "%d", res.wf->max_steps);
	cr_assert_eq(res.wf->steps[0].visits, 1 + 5); /* a: the start, and after each d */
	cr_assert_eq(res.wf->steps[1].visits, 3);
	cr_assert_eq(res.wf->steps[2].visits, 3);         /* c: after each b */
	cr_assert_eq(res.wf->steps[4].visits, 1 + 3 + 5); /* e: every piece */
	eclc_result_free(&res);
}

Test(generator, parser_recovers_at_the_next_item)
{
	static const char src[] = "workflow r {\n"
				  "  input a: string = \n"
				  "  input b string\n"
				  "  llm s {\n"
				  "    prompt \"{{a}}{{b}}\"\n"
				  "    output { x: int }\n"
				  "    set = 3\n"
				  "    when s.x > -> done\n"
				  "    -> done\n"
				  "  }\n"
				  "}\n";
	eclc_result res;

	cr_assert_eq(compile(src, "r.ecl", ECLC_CHECK, &res), ECLC_EDIAG);
	cr_assert_eq(res.nerrors, 4, "%s", res.diag_text);
	cr_assert_eq(res.diags[0].line, 3);
	cr_assert_eq(res.diags[1].line, 3);
	cr_assert_eq(res.diags[2].line, 7);
	cr_assert_eq(res.diags[3].line, 8);
	eclc_result_free(&res);
}

Test(generator, too_large_a_file)
{
	size_t n = ((size_t)16 << 20) + 1;
	char *big = malloc(n);
	eclc_options opt = {0};
	eclc_result res;

	cr_assert(big);
	memset(big, ' ', n);
	opt.path = "big.ecl";
	cr_assert_eq(eclc_compile(big, n, &opt, &res), ECLC_EDIAG);
	cr_assert_str_eq(res.diags[0].code, "E007");
	eclc_result_free(&res);
	free(big);
}

Test(generator, duplicate_workflows)
{
	static const char a[] =
		"workflow same {\n  llm s {\n    prompt \"p\"\n    output { x: int }\n"
		"    -> done\n  }\n}\n";
	static const char b[] =
		"\nworkflow same {\n  llm t {\n    prompt \"p\"\n    output { x: int }\n"
		"    -> done\n  }\n}\n";
	static const char c[] =
		"workflow sa-me {\n  llm t {\n    prompt \"p\"\n    output { x: int }\n"
		"    -> done\n  }\n}\n";
	static const char d[] =
		"workflow sa_me {\n  llm t {\n    prompt \"p\"\n    output { x: int }\n"
		"    -> done\n  }\n}\n";
	eclc_result r[4], reg;
	const eclc_result *list[2];
	eclc_options opt = {0};

	cr_assert_eq(compile(a, "a.ecl", ECLC_C, &r[0]), ECLC_OK);
	cr_assert_eq(compile(b, "b.ecl", ECLC_C, &r[1]), ECLC_OK);
	cr_assert_eq(compile(c, "c.ecl", ECLC_C, &r[2]), ECLC_OK);
	cr_assert_eq(compile(d, "d.ecl", ECLC_C, &r[3]), ECLC_OK);
	list[0] = &r[0];
	list[1] = &r[1];
	cr_assert_eq(eclc_registry(list, 2, &opt, &reg), ECLC_EDIAG);
	cr_assert_str_eq(reg.diag_text,
			 "b.ecl:2:10: error[E060]: workflow `same` is defined twice\n"
			 "    2 | workflow same {\n"
			 "      |          ^~~~\n"
			 "      = note: `same` is defined at a.ecl:1:10\n");
	eclc_result_free(&reg);
	list[0] = &r[2];
	list[1] = &r[3];
	cr_assert_eq(eclc_registry(list, 2, &opt, &reg), ECLC_EDIAG);
	cr_assert_str_eq(reg.diags[0].code, "E024");
	cr_assert_str_eq(reg.diags[0].message,
			 "`sa-me` and `sa_me` have the same C name ecl_wf__sa_me");
	eclc_result_free(&reg);
	/* Different ids: sorted by id in the registry. */
	list[0] = &r[2];
	list[1] = &r[0];
	cr_assert_eq(eclc_registry(list, 2, &opt, &reg), ECLC_OK);
	cr_assert(strstr(reg.out, "\t&ecl_wf__sa_me,\n\t&ecl_wf__same,\n\tNULL,\n"), "%s", reg.out);
	cr_assert(strstr(reg.out, "const size_t ecl_nworkflows = 2;\n"));
	eclc_result_free(&reg);
	for (int i = 0; i < 4; i++)
		eclc_result_free(&r[i]);
}

Test(generator, werror_makes_warnings_errors)
{
	eclc_options opt = {0};
	eclc_result res;
	size_t len;
	char *src = read_all(src_path("tests/dsl/err/unused.ecl"), &len);

	opt.path = "unused.ecl";
	opt.format = ECLC_C;
	cr_assert_eq(eclc_compile(src, len, &opt, &res), ECLC_OK);
	cr_assert_eq(res.nwarnings, 1);
	cr_assert_neq(res.out, NULL);
	eclc_result_free(&res);
	opt.werror = 1;
	cr_assert_eq(eclc_compile(src, len, &opt, &res), ECLC_EDIAG);
	cr_assert_eq(res.nerrors, 1);
	cr_assert(strstr(res.diag_text, "error[W002]"));
	eclc_result_free(&res);
	free(src);
}

/* ---- output -----------------------------------------------------------------------------------
 */

Test(generator, output_is_deterministic)
{
	eclc_result a, b;
	eclc_format f;

	for (f = ECLC_C; f <= ECLC_AST; f++) {
		cr_assert_eq(compile_file("tests/dsl/ok/review_code.ecl", f, &a), ECLC_OK);
		cr_assert_eq(compile_file("tests/dsl/ok/review_code.ecl", f, &b), ECLC_OK);
		cr_assert_eq(a.out_len, b.out_len);
		cr_assert_eq(memcmp(a.out, b.out, a.out_len), 0);
		eclc_result_free(&a);
		eclc_result_free(&b);
	}
}

Test(generator, expressions_in_c)
{
	static const char src[] = "workflow e {\n"
				  "  input n: int = 1\n"
				  "  input f: float = 1\n"
				  "  var m: int\n"
				  "  var g: float\n"
				  "  var ok: bool\n"
				  "  llm a {\n"
				  "    prompt \"{{n}} {{f}} {{m}} {{g}} {{ok}}\"\n"
				  "    output { x: int }\n"
				  "    set m = -n * (a.x + 2) % 3\n"
				  "    set g = -(-f) / 2 - n\n"
				  "    set ok = not (n < 2) == (m >= 1) or ok and n != 3\n"
				  "    when ok -> done\n"
				  "    else -> done\n"
				  "  }\n"
				  "}\n";
	eclc_result res;

	cr_assert_eq(compile(src, "e.ecl", ECLC_C, &res), ECLC_OK, "%s", res.diag_text);
	cr_assert(strstr(res.out, "ecl_run_set_int(run, V__M, "
				  "ecl__int_mod(ecl__int_mul(ecl__int_neg(ecl_run_int("
				  "run, V__N)), ecl__int_add(ecl_run_int(run, V__A_X), 2)), 3))"),
		  "%s", res.out);
	cr_assert(strstr(res.out, "ecl_run_set_float(run, V__G, -(-ecl_run_float(run, V__F)) / 2 - "
				  "ecl_run_int(run, V__N))"),
		  "%s", res.out);
	cr_assert(strstr(res.out, "ecl_run_set_bool(run, V__OK, !((ecl_run_int(run, V__N) < 2) == "
				  "(ecl_run_int(run, V__M) >= 1)) || (ecl_run_bool(run, V__OK) && "
				  "ecl_run_int(run, V__N) != 3))"),
		  "%s", res.out);
	/* Only the helpers used are written: no unused static function. */
	cr_assert(strstr(res.out, "static long long ecl__int_mul("));
	cr_assert_eq(strstr(res.out, "static long long ecl__int_div("), NULL);
	cr_assert_eq(strstr(res.out, "static long long ecl__int_sub("), NULL);
	eclc_result_free(&res);
}

Test(generator, graphs)
{
	eclc_result res;

	cr_assert_eq(compile_file("dsl/critique_revise.ecl", ECLC_MERMAID, &res), ECLC_OK);
	cr_assert_str_eq(res.out, "stateDiagram-v2\n"
				  "    [*] --> generate\n"
				  "    generate --> critique\n"
				  "    critique --> [*]: critique.decision == #34;pass#34;\n"
				  "    critique --> revise: critique.decision == #34;revise#34;\n"
				  "    revise --> critique\n"
				  "    revise --> [*]: after 3 visits / fail\n"
				  "    note right of revise: limit 3 as revisions\n");
	cr_assert_str_eq(res.out_ext, "mmd");
	eclc_result_free(&res);
	cr_assert_eq(compile_file("dsl/critique_revise.ecl", ECLC_DOT, &res), ECLC_OK);
	cr_assert(strstr(res.out, "\t\"critique\" -> \"(done)\" [label=\"critique.decision == "
				  "\\\"pass\\\"\"];\n"),
		  "%s", res.out);
	cr_assert(strstr(res.out, "\t\"revise\" -> \"(fail)\" [label=\"after 3 visits\", "
				  "style=dashed];\n"));
	eclc_result_free(&res);
	cr_assert_eq(compile_file("dsl/critique_revise.ecl", ECLC_JSON, &res), ECLC_OK);
	cr_assert(strstr(res.out, "  \"max_steps\": 8,\n"));
	cr_assert(strstr(res.out,
			 "{\"line\": 49, \"kind\": \"when\", \"guard\": \"critique.decision "
			 "== \\\"revise\\\"\", \"to\": \"revise\"}"),
		  "%s", res.out);
	cr_assert(strstr(res.out,
			 "\"limit\": {\"max\": 3, \"counter\": \"revisions\", \"else\": "
			 "{\"to\": \"fail\", \"message\": \"max revisions (3) reached\"}}"));
	eclc_result_free(&res);
}

Test(generator, dumps)
{
	eclc_result res;

	cr_assert_eq(compile("workflow d { llm s { prompt \"p\" output { x: int } -> done } }",
			     "d.ecl", ECLC_TOKENS, &res),
		     ECLC_OK);
	cr_assert(strncmp(res.out, "1:1 keyword workflow\n1:10 ident d\n1:12 punct {\n", 45) == 0,
		  "%s", res.out);
	cr_assert(strstr(res.out, "1:62 eof\n"), "%s", res.out);
	eclc_result_free(&res);
	cr_assert_eq(compile("workflow d { llm s { prompt \"p\" output { x: int } -> done } }",
			     "d.ecl", ECLC_AST, &res),
		     ECLC_OK);
	cr_assert_str_eq(res.out, "1:10 workflow d\n  1:14 llm s\n    1:29 prompt \"p\"\n"
				  "    1:33 output\n      1:42 x: int\n    1:51 -> done\n");
	eclc_result_free(&res);
}

/* Code, human and set steps, computed strings and results, in every output. */
Test(generator, step_kinds_in_every_format)
{
	static const struct {
		eclc_format format;
		const char *want[6];
	} cases[] = {
		{ECLC_C,
		 {"int measure_text(ecl_call *); /* tests/dsl/ok/steps.ecl:19 */",
		  "if ((rc = ecl_run_arg_slot(run, \"tags\", V__TAGS)) != ECL_OK)",
		  "if ((rc = ecl_run_code(run, measure_text, \"measure_text\")) != ECL_OK)",
		  "if ((rc = ecl_run_human(run)) != ECL_OK)",
		  "ecl_run_float_str(run, ecl_run_float(run, V__RATIO))), \", \"), "
		  "(ecl_run_float(run, V__RATIO) > 0.1 ? \"true\" : \"false\"))",
		  "\t\t.question = {question__review, 7},\n\t},"}},
		{ECLC_MERMAID,
		 {"[*] --> prepare", "measure --> review: measure.ok and len(measure.note) == 0",
		  "review --> rewrite: else", NULL, NULL, NULL}},
		{ECLC_DOT,
		 {"\"prepare\" [label=\"prepare\\nset\", shape=note];",
		  "\"measure\" [label=\"measure\\ncode measure_text()\", shape=component];",
		  "\"review\" [label=\"review\\nhuman\\nlimit 2 as reviews\", shape=house];", NULL,
		  NULL, NULL}},
		{ECLC_JSON,
		 {"\"kind\": \"set\"", "\"kind\": \"code\",\n      \"function\": \"measure_text\"",
		  "\"kind\": \"human\"", "\"kind\": \"llm\"", NULL, NULL}},
		{ECLC_AST,
		 {"  12:3 set prepare\n",
		  "call measure_text(text: string = label, tags: list = tags, limit: int = size, "
		  "ratio: float = 1, strict: bool = (== level \"high\"), level: enum (low | high) "
		  "= "
		  "level)",
		  "set size = (- (* (len (+ label \"!\")) 2) 1)", "  31:3 human review\n",
		  "question \"Review \\\"\" {{label}}", NULL}},
	};
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		eclc_result res;

		cr_assert_eq(compile_file("tests/dsl/ok/steps.ecl", cases[i].format, &res), ECLC_OK,
			     "%s", res.diag_text);
		for (k = 0; k < 6 && cases[i].want[k]; k++)
			cr_assert(strstr(res.out, cases[i].want[k]), "format %d lacks %s:\n%s",
				  (int)cases[i].format, cases[i].want[k], res.out);
		eclc_result_free(&res);
	}
}

/* `+` joins strings with numbers and bools; len measures any string; done computes. */
Test(generator, string_expressions_and_computed_results)
{
	static const char src[] = "workflow s {\n"
				  "  input n: int = 1\n"
				  "  input who: a | b = \"a\"\n"
				  "  var t: string\n"
				  "  set go {\n"
				  "    set t = n + \" \" + who + (n > 0) + 1.5\n"
				  "    when len(t + \"x\") > 3 -> done len(t)\n"
				  "    else -> done { t: t, n: n * 2, half: n / 2.0 }\n"
				  "  }\n"
				  "}\n";
	eclc_result res;

	cr_assert_eq(compile(src, "s.ecl", ECLC_C, &res), ECLC_OK, "%s", res.diag_text);
	cr_assert(strstr(res.out,
			 "ecl_run_set_str(run, V__T, ecl_run_concat(run, "
			 "ecl_run_concat(run, ecl_run_concat(run, ecl_run_concat(run, "
			 "ecl_run_int_str(run, ecl_run_int(run, V__N)), \" \"), "
			 "ecl_run_str(run, V__WHO)), (ecl_run_int(run, V__N) > 0 ? \"true\" : "
			 "\"false\")), ecl_run_float_str(run, 1.5)))"),
		  "%s", res.out);
	cr_assert(strstr(res.out, "if (ecl_str_len(ecl_run_concat(run, ecl_run_str(run, V__T), "
				  "\"x\")) > 3) {\n\t\t\tif ((rc = ecl_run_result_int(run, NULL, "
				  "ecl_run_len(run, V__T))) != ECL_OK)"),
		  "%s", res.out);
	cr_assert(strstr(res.out,
			 "ecl_run_result_float(run, \"half\", ecl_run_int(run, V__N) / 2.0)"),
		  "%s", res.out);
	eclc_result_free(&res);
}

/* Errors in every part of the language, each with the codes it must give: the parser's
 * recovery and the checker's rarer paths. */
Test(generator, errors_everywhere)
{
#define OK_STEP "llm s { prompt \"p\" output { x: int } -> done }\n"
	static const struct {
		const char *src;
		const char *codes;
	} cases[] = {
		{"workflow w { input a: x | y | x = \"x\"\n" OK_STEP "}", "E020"},
		{"workflow w { input a: x | y = \"z\"\n" OK_STEP "}", "E045"},
		{"workflow w { input a: list = \"z\"\n" OK_STEP "}", "E047"},
		{"workflow w { input a: int = 1.5\n" OK_STEP "}", "E047"},
		{"workflow w {\n" OK_STEP OK_STEP "}", "E020"},
		{"workflow w { llm s { limit 2 as a else fail \"f\" prompt \"p\" output { x: int } "
		 "-> s }\n input a: int\n}",
		 "E020 E031"}, /* the loop on s never ends in done */
		{"workflow w { llm s { prompt \"p\" output { x: int x: int } -> done } }", "E020"},
		{"workflow w { llm s { prompt \"p\" output { x: int } -> done }\n llm S { prompt "
		 "\"p\" output { x: int } -> done } }",
		 "E024"},
		{"workflow w { llm s { prompt \"{{s}}\" output { x: int } -> done } }", "E021"},
		{"workflow w { llm s { prompt \"{{t.x}}\" output { x: int } -> done } }", "E022"},
		{"workflow w { input e: a | b = \"a\" input f: c | d = \"c\"\n llm s { prompt "
		 "\"{{e}}{{f}}\" output { x: int } when e == f -> done\n when e == 1 -> done\n "
		 "when -e > 1 -> done else -> done } }",
		 "E043 E044"},
		{"workflow w { var v: a | b\n llm s { prompt \"p\" output { x: int } set v = \"c\" "
		 "set u = 1 set v = 2 -> done v } }",
		 "E045 E021 E041"},
		{"workflow w { model \"\" temperature 3 max_tokens 0 retry 101 repair -1 timeout "
		 "0ms\n" OK_STEP "}",
		 "E050 E010"}, /* repair takes an integer, -1 is not one */
		{"workflow w { llm s { prompt \"p\" output { x: int } -> done { a: 1, a: 2 } } }",
		 "E020"},
		{"workflow w { code s { call f(a: int = 1, a: int = 2) output { x: int } -> done "
		 "s.x } }",
		 "E020"},
		{"workflow w { code s { call f(a: nope = 1) output { x: int } -> done s.x } }",
		 "E012"},
		{"workflow w { code s { call f(a: x | y = 1, b: x | y = \"x\", c: string = 1) "
		 "output { x: int } -> done s.x } }",
		 "E053"},
		/* syntax: the parser reports and goes on */
		{"workflow w { input 1: int\n" OK_STEP "}", "E010"},
		{"workflow w { name 1\n" OK_STEP "}", "E010"},
		{"workflow w { name \"a\" name \"b\" description \"c\" description \"d\"\n" OK_STEP
		 "}",
		 "E015"},
		{"workflow w { input a: int 1..x\n" OK_STEP "}", "E010"},
		{"workflow w { input a: x | 1\n" OK_STEP "}", "E010"},
		{"workflow w { input a:\n" OK_STEP "}", "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } when s.x <= 1 -> done when "
		 "s. -> done } }",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } when ( -> done } }", "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } when len(1 -> done } }",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } -> 1 } }", "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } -> done { a 1 } } }", "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } -> done { a: } } }", "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } -> done { a: 1 } } }", ""},
		{"workflow w { llm s { prompt \"p\" output { x: int } -> done { a: 1 x } } }",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" output { 1 } -> done } }", "E010"},
		{"workflow w { llm s { prompt \"p\" output { x int } -> done } }", "E010"},
		{"workflow w { llm s { limit x as n else fail \"f\" prompt \"p\" output { x: int } "
		 "-> done } }",
		 "E010"},
		{"workflow w { llm s { limit 2 n else fail \"f\" prompt \"p\" output { x: int } -> "
		 "done } }",
		 "E010"},
		{"workflow w { llm s { limit 2 as n else -> 1 prompt \"p\" output { x: int } -> "
		 "done "
		 "} }",
		 "E010"},
		{"workflow w { llm s { limit 2 as n else done prompt \"p\" output { x: int } -> "
		 "done "
		 "} }",
		 "E010"},
		{"workflow w { llm s { limit 2 as n else fail 3 prompt \"p\" output { x: int } -> "
		 "done "
		 "} }",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } output { y: int } limit 1 as "
		 "a "
		 "else fail \"f\" limit 1 as b else fail \"g\" -> done } }",
		 "E015"},
		{"workflow w { code s { call f(a: int = 1) call g() output { x: int } -> done s.x "
		 "} }",
		 "E015"},
		{"workflow w { code s { call 1() output { x: int } -> done s.x } }", "E010"},
		{"workflow w { code s { call f(a int = 1) output { x: int } -> done s.x } }",
		 "E010"},
		{"workflow w { code s { call f(a: int 1) output { x: int } -> done s.x } }",
		 "E010"},
		{"workflow w { code s { call f(a: int = ) output { x: int } -> done s.x } }",
		 "E010"},
		{"workflow w { code s { call f(a: int = 1 output { x: int } -> done s.x } }",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" model 1 output { x: int } -> done } }", "E010"},
		{"workflow w { llm s { prompt \"p\" timeout 5 output { x: int } -> done } }",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" temperature \"x\" output { x: int } -> done } "
		 "}",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" retry 1 retry 2 output { x: int } -> done } }",
		 "E015"},
		{"workflow w { llm s { prompt 1 output { x: int } -> done } }", "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } 1 -> done } }", "E010"},
		/* a step that lost its `}` ends where the next one starts */
		{"workflow w { llm s { prompt \"p\" output { x: int } -> done\n llm t { prompt "
		 "\"p\" output { x: int } -> done } }",
		 "E010"},
		{"workflow w { llm s { prompt \"p\" output { x: int } bogus -> done } }", "E010"},
		{"workflow w { bogus\n" OK_STEP "}", "E010"},
		/* a step whose kind is misspelt: no E030 (no step) after it */
		{"workflow w { input a: int\n lm s { prompt \"x\" } }", "E010"},
		{"workflow w { 1\n" OK_STEP "}", "E010"},
		{"workflow 1 {}", "E010"},
		{"workflow w {\n" OK_STEP "} x", "E010"},
		{"workflow w - x {\n" OK_STEP "}", "E011"},
		{"workflow w-x-", "E010"},
		{"workflow w { set s { set x = } }", "E010"},
		{"workflow w { human h { question \"q\" output { a: bool } when h.a -> done }\n "
		 "set s { -> h }\n llm t { prompt \"p\" output { x: int } -> done } }",
		 "W001"},
		{"workflow w { llm s { prompt \"p\" output { x: int } set x = 1 set = 2\n llm t "
		 "{ prompt \"q\" output { y: int } -> done } }",
		 "E010 E021"}, /* x is an output field, not a var */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		eclc_result res;
		char codes[64], *tok, *save = NULL;
		int k;

		compile(cases[i].src, "e.ecl", ECLC_CHECK, &res);
		snprintf(codes, sizeof(codes), "%s", cases[i].codes);
		if (!codes[0])
			cr_assert_eq(res.ndiags, 0, "case %zu: %s", i, res.diag_text);
		for (tok = strtok_r(codes, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			char needle[16];

			snprintf(needle, sizeof(needle), "[%s]", tok);
			cr_assert(strstr(res.diag_text, needle), "case %zu: no %s in\n%s", i, tok,
				  res.diag_text);
		}
		/* and no other code */
		for (k = 0; k < res.ndiags; k++)
			cr_assert(strstr(cases[i].codes, res.diags[k].code),
				  "case %zu: %s, not among \"%s\", in\n%s", i, res.diags[k].code,
				  cases[i].codes, res.diag_text);
		eclc_result_free(&res);
	}
#undef OK_STEP
}

/* ---- out of memory ------------------------------------------------------------------------------
 */

struct failing {
	long left;        /* allocations that succeed before one fails */
	long outstanding; /* blocks not freed */
};

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
	struct failing *f = ud;

	if (size == 0) {
		if (ptr)
			f->outstanding--;
		free(ptr);
		return NULL;
	}
	if (f->left-- <= 0)
		return NULL;
	f->outstanding++;
	return malloc(size);
}

/* Fail each allocation in turn: every failure is clean, and nothing leaks. */
Test(generator, every_allocation_failure_is_clean)
{
	size_t len;
	char *src = read_all(src_path("tests/dsl/ok/review_code.ecl"), &len);
	char *kinds = read_all(src_path("tests/dsl/ok/steps.ecl"), NULL);
	eclc_format formats[] = {ECLC_C, ECLC_JSON, ECLC_C};
	int k;

	for (k = 0; k < 3; k++) {
		if (k == 2) { /* every kind of step, computed strings and results */
			free(src);
			src = kinds;
			len = strlen(src);
		}
		long n;

		for (n = 0;; n++) {
			struct failing f = {n, 0};
			eclc_options opt = {0};
			eclc_result res;
			int rc;

			opt.path = "review_code.ecl";
			opt.format = formats[k];
			opt.alloc = failing_alloc;
			opt.alloc_ud = &f;
			rc = eclc_compile(src, len, &opt, &res);
			if (rc == ECLC_ENOMEM) {
				cr_assert_eq(res.out, NULL);
				cr_assert_eq(res.ndiags, 0);
				cr_assert_str_eq(res.diag_text, "");
			} else {
				cr_assert_eq(rc, ECLC_OK);
				cr_assert(n > 0);
			}
			eclc_result_free(&res);
			cr_assert_eq(f.outstanding, 0, "leak after failing allocation %ld", n);
			if (rc == ECLC_OK)
				break;
		}
	}
	free(src);
}

/* ---- the eclc program -------------------------------------------------------------------------
 */

/* Every tests/dsl/err/NAME.ecl gives exactly tests/dsl/err/NAME.expected on stderr, and exits
 * with 1 when it holds an error (0 for warnings only). */
Test(eclc, golden_diagnostics)
{
	static char names[256][256];
	char *dir = tmp_dir();
	int n = list_dir("tests/dsl/err", ".ecl", names, 256), i;

	cr_assert(n >= 25, "only %d error cases", n);
	for (i = 0; i < n; i++) {
		char rel[512], exp[512], out[600];
		char *want, *got;
		int st;

		snprintf(rel, sizeof(rel), "tests/dsl/err/%.255s", names[i]);
		snprintf(exp, sizeof(exp), "tests/dsl/err/%.*s.expected",
			 (int)(strlen(names[i]) - 4) & 255, names[i]);
		snprintf(out, sizeof(out), "%s/stderr", dir);
		st = sh("cd '%s' && '%s' --check '%s' 2>'%s' >/dev/null", ECL_SOURCE_DIR, ECLC_BIN,
			rel, out);
		want = read_all(src_path(exp), NULL);
		got = read_all(out, NULL);
		cr_assert_str_eq(got, want, "%s", rel);
		cr_assert_eq(st, strstr(want, ": error[") ? 1 : 0, "exit status of %s", rel);
		free(want);
		free(got);
	}
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* Every tests/dsl/ok/NAME.ecl is clean (--check prints nothing), its --emit json output is
 * exactly NAME.expected, and its C has the digest in NAME.c.sha256: a change to what eclc
 * makes of a valid workflow shows in a diff. */
Test(eclc, golden_outputs)
{
	static char names[64][256];
	char *dir = tmp_dir();
	int n = list_dir("tests/dsl/ok", ".ecl", names, 64), i;

	cr_assert(n >= 5, "only %d valid cases", n);
	for (i = 0; i < n; i++) {
		char rel[300], exp[300], sum[300], out[600];
		int base = (int)strlen(names[i]) - 4;
		char *want, *got;

		snprintf(rel, sizeof(rel), "tests/dsl/ok/%.255s", names[i]);
		snprintf(exp, sizeof(exp), "tests/dsl/ok/%.*s.expected", base & 255, names[i]);
		snprintf(sum, sizeof(sum), "tests/dsl/ok/%.*s.c.sha256", base & 255, names[i]);
		snprintf(out, sizeof(out), "%s/out", dir);
		cr_assert_eq(sh("cd '%s' && '%s' --check '%s' >'%s' 2>&1", ECL_SOURCE_DIR, ECLC_BIN,
				rel, out),
			     0, "%s", rel);
		got = read_all(out, NULL);
		cr_assert_str_eq(got, "", "%s", rel);
		free(got);
		cr_assert_eq(sh("cd '%s' && '%s' --emit json '%s' >'%s'", ECL_SOURCE_DIR, ECLC_BIN,
				rel, out),
			     0);
		want = read_all(src_path(exp), NULL);
		got = read_all(out, NULL);
		cr_assert_str_eq(got, want, "%s", exp);
		free(want);
		free(got);
		cr_assert_eq(sh("cd '%s' && '%s' '%s' | sha256sum >'%s'", ECL_SOURCE_DIR, ECLC_BIN,
				rel, out),
			     0);
		want = read_all(src_path(sum), NULL);
		got = read_all(out, NULL);
		cr_assert_str_eq(got, want, "the C of %s no longer has the digest in %s", rel, sum);
		free(want);
		free(got);
	}
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* Each diagnostic code has a golden case, but the two that need a 16 MiB file or two files
 * (too_large_a_file and duplicate_workflows above). */
Test(eclc, every_code_has_a_golden_case)
{
	static char names[256][256];
	int n = list_dir("tests/dsl/err", ".expected", names, 256), id, i;

	for (id = 0; id < D_COUNT; id++) {
		const char *code = diag_code((enum diag_id)id);
		char needle[16];
		int found = 0;

		if (strcmp(code, "E007") == 0 || strcmp(code, "E060") == 0)
			continue;
		snprintf(needle, sizeof(needle), "[%s]", code);
		for (i = 0; i < n && !found; i++) {
			char rel[512], *text;

			snprintf(rel, sizeof(rel), "tests/dsl/err/%s", names[i]);
			text = read_all(src_path(rel), NULL);
			found = strstr(text, needle) != NULL;
			free(text);
		}
		cr_assert(found, "no golden case for %s", code);
	}
}

/* The language reference lists every diagnostic code. */
Test(eclc, every_code_is_documented)
{
	char *readme = read_all(src_path("dsl/README.md"), NULL);
	int id;

	for (id = 0; id < D_COUNT; id++) {
		char needle[16];

		snprintf(needle, sizeof(needle), "| %s |", diag_code((enum diag_id)id));
		cr_assert(strstr(readme, needle), "dsl/README.md does not list %s", needle);
	}
	free(readme);
}

/* The C written for every valid workflow compiles without a warning. */
Test(eclc, generated_c_compiles)
{
	static char names[64][256];
	const char *dirs[] = {"tests/dsl/ok", "dsl"};
	char *out = tmp_dir();
	int d, i, n;

	for (d = 0; d < 2; d++) {
		n = list_dir(dirs[d], ".ecl", names, 64);
		cr_assert(n > 0);
		for (i = 0; i < n; i++) {
			cr_assert_eq(sh("cd '%s' && '%s' --Werror --out-dir '%s' '%s/%s'",
					ECL_SOURCE_DIR, ECLC_BIN, out, dirs[d], names[i]),
				     0, "%s/%s", dirs[d], names[i]);
			cr_assert_eq(
				sh("cc -std=c11 -Wall -Wextra -Werror -pedantic -c -I '%s/runtime' "
				   "'%s/%.*s.ecl.c' -o '%s/x.o'",
				   ECL_SOURCE_DIR, out, (int)(strlen(names[i]) - 4), names[i], out),
				0, "cc of the C for %s/%s", dirs[d], names[i]);
		}
	}
	cr_assert_eq(sh("cd '%s' && '%s' --registry '%s/workflows.c' tests/dsl/ok/*.ecl",
			ECL_SOURCE_DIR, ECLC_BIN, out),
		     0);
	cr_assert_eq(sh("cc -std=c11 -Wall -Wextra -Werror -pedantic -c -I '%s/runtime' "
			"'%s/workflows.c' -o '%s/x.o'",
			ECL_SOURCE_DIR, out, out),
		     0);
	/* ecl.h declares the registry: the registry's definitions match it (clang checks that a
	 * global is declared before), and a program needs nothing but ecl.h to use it. */
	cr_assert_eq(sh("clang -std=c11 -Wall -Wextra -Werror -pedantic "
			"-Wmissing-variable-declarations -c -I '%s/runtime' '%s/workflows.c' -o "
			"'%s/x.o'",
			ECL_SOURCE_DIR, out, out),
		     0);
	cr_assert_eq(
		sh("printf '#include \"ecl.h\"\\nsize_t count(void);\\nsize_t count(void) "
		   "{ return ecl_workflows[0] ? ecl_nworkflows : 0; }\\n' >'%s/user.c' && "
		   "cc -std=c11 -Wall -Wextra -Werror -pedantic -c -I '%s/runtime' '%s/user.c' "
		   "-o '%s/x.o'",
		   out, ECL_SOURCE_DIR, out, out),
		0);
	sh("rm -rf '%s'", out);
	free(out);
}

/* The names C, its library and ecl.h's headers have, across the table (a binary search finds
 * them only if it is sorted); and names they do not have. */
Test(generator, c_names_taken)
{
	static const char *const taken[] = {
		"BUS_ADRALN", "FPE_INTDIV", "INT8_MAX", "NULL", "SIGINT",       "abort",
		"acosf",      "alignas",    "bool",     "int",  "main",         "max_align_t",
		"offsetof",   "printf",     "raise",    "read", "sig_atomic_t", "signal",
		"size_t",     "sqrtf128",   "strlen",   "true", "uint64_t",     "ynl",
	};
	static const char *const free_names[] = {
		"step", "slots", "prompt_a", "measure_text", "Main", "check_summary", "zzz", "AAA"};
	size_t i;

	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		cr_expect(cnames_taken(taken[i]), "%s", taken[i]);
	for (i = 0; i < sizeof(free_names) / sizeof(free_names[0]); i++)
		cr_expect(!cnames_taken(free_names[i]), "%s", free_names[i]);
}

/* ---- whatever eclc accepts compiles --------------------------------------------------------- */

#define CC_FLAGS "cc -std=c11 -Wall -Wextra -Werror -pedantic -c"

/* Write the C of an accepted compilation into dir/name.c. */
static void write_c(const char *dir, const char *name, const eclc_result *res)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.c", dir, name);
	f = fopen(path, "wb");
	cr_assert(f, "cannot write %s", path);
	cr_assert_eq(fwrite(res->out, 1, res->out_len, f), res->out_len);
	cr_assert_eq(fclose(f), 0);
}

/* cc over every dir/ *.c at once (a code step's function is only declared: -c, no link);
 * its diagnostics, or NULL when it compiled. */
static char *cc_all(const char *dir)
{
	char log[600];

	if (sh("cd '%s' && " CC_FLAGS " -I '%s/runtime' *.c 2>cc.log", dir, ECL_SOURCE_DIR) == 0)
		return NULL;
	snprintf(log, sizeof(log), "%s/cc.log", dir);
	return read_all(log, NULL);
}

/* The invariant of the compiler: the C of every file eclc accepts, of the golden tests, the
 * fuzz corpus and its regressions and dsl/, compiles without a warning. */
Test(eclc, accepted_files_compile)
{
	static const char *const dirs[] = {"tests/dsl/ok", "tests/dsl/err", "dsl",
					   "tests/fuzz/corpus/dsl", "tests/fuzz/regressions/dsl"};
	static char names[512][256];
	char *out = tmp_dir(), *log, tag[600];
	int d, i, n, accepted = 0;

	for (d = 0; d < 5; d++) {
		n = list_dir(dirs[d], d < 3 ? ".ecl" : "", names, 512);
		for (i = 0; i < n; i++) {
			char rel[600], *p;
			eclc_result res;

			snprintf(rel, sizeof(rel), "%s/%s", dirs[d], names[i]);
			if (compile_file(rel, ECLC_C, &res) == ECLC_OK) {
				snprintf(tag, sizeof(tag), "%s", rel);
				for (p = tag; *p; p++)
					if (*p == '/' || *p == '.' || *p == '-')
						*p = '_';
				write_c(out, tag, &res);
				accepted++;
			}
			eclc_result_free(&res);
		}
	}
	cr_assert(accepted >= 15, "only %d accepted files", accepted);
	log = cc_all(out);
	cr_assert_null(log, "the C of an accepted file does not compile (%s):\n%s", out,
		       log ? log : "");
	sh("rm -rf '%s'", out);
	free(out);
}

/* ---- the property: random valid workflows compile ------------------------------------------ */

#define PROP_DEFAULT_SEED 0x5eed0ec1u
#define PROP_WORKFLOWS    80

struct gen {
	uint64_t s;
	char *b; /* the text */
	size_t len, cap;
	/* the values in scope: inputs and vars, then the current step's outputs */
	char vname[24][40];
	int vtype[24];
	int nvals, nglobal;
	const char *steps[8];
	int nsteps, limited[8];
};

enum { G_STR, G_INT, G_FLOAT, G_BOOL, G_ENUM, G_LIST, G_NTYPES };

static uint64_t prop_seed(void)
{
	const char *env = getenv("ECL_PROPS_SEED");

	return env && *env ? strtoull(env, NULL, 0) : PROP_DEFAULT_SEED;
}

static int rnd(struct gen *g, int n)
{
	/* xorshift64* */
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return (int)((g->s * 0x2545f4914f6cdd1dull >> 33) % (uint64_t)n);
}

static void put(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(g->b + g->len, g->cap - g->len, fmt, ap);
		va_end(ap);
		cr_assert(n >= 0);
		if ((size_t)n < g->cap - g->len)
			break;
		g->cap = g->cap * 2 + (size_t)n;
		g->b = realloc(g->b, g->cap);
		cr_assert(g->b);
	}
	g->len += (size_t)n;
}

static const char *const g_types[] = {"string", "int", "float", "bool", "p | q", "list"};

/* A value in scope of type t, or NULL. */
static const char *pick_value(struct gen *g, int t)
{
	int i, k = 0, which;

	for (i = 0; i < g->nvals; i++)
		k += g->vtype[i] == t;
	if (!k)
		return NULL;
	which = rnd(g, k);
	for (i = 0; i < g->nvals; i++)
		if (g->vtype[i] == t && which-- == 0)
			return g->vname[i];
	return NULL;
}

static void gen_expr(struct gen *g, int t, int depth)
{
	const char *v = pick_value(g, t);
	int leaf = depth <= 0 || rnd(g, 3) == 0;

	if (leaf && v && rnd(g, 3)) {
		put(g, "%s", v);
		return;
	}
	switch (t) {
	case G_INT:
		if (leaf) {
			put(g, "%d", rnd(g, 20) - 5);
			return;
		}
		switch (rnd(g, 6)) {
		case 0:
			put(g, "len(");
			gen_expr(g, G_STR, depth - 1);
			put(g, ")");
			return;
		case 1:
			put(g, "-(");
			gen_expr(g, G_INT, depth - 1);
			put(g, ")");
			return;
		case 2:
			put(g, "(");
			gen_expr(g, G_INT, depth - 1);
			put(g, " / %d)", 1 + rnd(g, 9));
			return;
		case 3:
			put(g, "(");
			gen_expr(g, G_INT, depth - 1);
			put(g, " %% %d)", 1 + rnd(g, 9));
			return;
		default:
			put(g, "(");
			gen_expr(g, G_INT, depth - 1);
			put(g, " %s ", rnd(g, 2) ? "+" : rnd(g, 2) ? "-" : "*");
			gen_expr(g, G_INT, depth - 1);
			put(g, ")");
			return;
		}
	case G_FLOAT:
		if (leaf) {
			put(g, "%d.%d", rnd(g, 9), rnd(g, 10));
			return;
		}
		put(g, "(");
		gen_expr(g, rnd(g, 2) ? G_FLOAT : G_INT, depth - 1);
		put(g, " %s ", rnd(g, 2) ? "*" : rnd(g, 2) ? "-" : "+");
		gen_expr(g, G_FLOAT, depth - 1);
		put(g, ")");
		return;
	case G_BOOL:
		if (leaf) {
			put(g, rnd(g, 2) ? "true" : "false");
			return;
		}
		switch (rnd(g, 6)) {
		case 0:
			put(g, "(not (");
			gen_expr(g, G_BOOL, depth - 1);
			put(g, "))");
			return;
		case 1:
			put(g, "(");
			gen_expr(g, G_BOOL, depth - 1);
			put(g, rnd(g, 2) ? " and " : " or ");
			gen_expr(g, G_BOOL, depth - 1);
			put(g, ")");
			return;
		case 2:
			if ((v = pick_value(g, G_ENUM))) {
				put(g, "(%s %s \"%s\")", v,
				    rnd(g, 2) ? "==" : "!=", rnd(g, 2) ? "p" : "q");
				return;
			}
			/* fall through */
		case 3:
			put(g, "(");
			gen_expr(g, G_STR, depth - 1);
			put(g, rnd(g, 2) ? " == " : " != ");
			gen_expr(g, G_STR, depth - 1);
			put(g, ")");
			return;
		default: {
			static const char *const rel[] = {"<", "<=", ">", ">=", "==", "!="};
			int n = rnd(g, 2) ? G_INT : G_FLOAT;

			put(g, "(");
			gen_expr(g, n, depth - 1);
			put(g, " %s ", rel[rnd(g, 6)]);
			gen_expr(g, n, depth - 1);
			put(g, ")");
			return;
		}
		}
	case G_ENUM: put(g, "\"%s\"", rnd(g, 2) ? "p" : "q"); return;
	case G_LIST: put(g, "%s", v); return; /* only from a name: callers check there is one */
	default:
		if (leaf) {
			/* strings that C must escape, and a comment closer */
			static const char *const lits[] = {"hi", "a \\\"b\\\" */ c",
							   "?\?=", "\\\\n", "%d"};

			put(g, "\"%s\"", lits[rnd(g, 5)]);
			return;
		}
		put(g, "(");
		gen_expr(g, G_STR, depth - 1);
		put(g, " + ");
		gen_expr(g, rnd(g, 2) ? G_STR : rnd(g, 4), depth - 1);
		put(g, ")");
		return;
	}
}

static void gen_template(struct gen *g)
{
	int i, n = rnd(g, 3);

	put(g, "\"text");
	for (i = 0; i < n && g->nvals; i++) {
		int k = rnd(g, g->nvals);

		put(g, " {{%s}}", g->vname[k]);
	}
	put(g, "\"");
}

static void gen_fields(struct gen *g, const char *step, int lists)
{
	static const char *const names[] = {"n", "text", "ok", "step", "slots", "run"};
	int i, n = 1 + rnd(g, 3);

	put(g, "    output {\n");
	for (i = 0; i < n; i++) {
		int t = rnd(g, lists ? G_NTYPES : G_LIST);
		const char *field = names[i * 2 + rnd(g, 2)];

		put(g, "      %s%s: %s\n", field, rnd(g, 4) ? "" : "?", g_types[t]);
		snprintf(g->vname[g->nvals], sizeof(g->vname[0]), "%s.%s", step, field);
		g->vtype[g->nvals++] = t;
	}
	put(g, "    }\n");
}

static void gen_target(struct gen *g, int i, int last)
{
	int r = rnd(g, 10), j;

	if (last || (r < 2 && i + 1 >= g->nsteps)) {
		int k, n;

		switch (rnd(g, 3)) {
		case 0: put(g, "done\n"); return;
		case 1:
			put(g, "done ");
			gen_expr(g, rnd(g, G_LIST), 2);
			put(g, "\n");
			return;
		default:
			n = 1 + rnd(g, 3);
			put(g, "done {");
			for (k = 0; k < n; k++) {
				put(g, "%s r%d: ", k ? "," : "", k);
				gen_expr(g, rnd(g, G_LIST), 2);
			}
			put(g, " }\n");
			return;
		}
	}
	if (r < 2) {
		put(g, "fail ");
		gen_template(g);
		put(g, "\n");
		return;
	}
	if (r < 4 && i + 1 < g->nsteps) { /* back to a limited step: a bounded cycle */
		for (j = 0; j <= i; j++)
			if (g->limited[j]) {
				put(g, "%s\n", g->steps[j]);
				return;
			}
	}
	if (i + 1 < g->nsteps) {
		put(g, "%s\n", g->steps[i + 1 + rnd(g, g->nsteps - i - 1)]);
		return;
	}
	put(g, "done\n");
}

/* One random workflow, valid by construction as far as the generator knows the language. */
static void gen_workflow(struct gen *g, int index)
{
	static const char *const values[] = {"slots", "steps",      "step",  "run",
					     "rc",    "state",      "ecl",   "S_A",
					     "graph", "main_parts", "topic", "limit_main_parts"};
	static const char *const stepnames[] = {"main", "main_parts", "a",     "a_parts",
						"step", "slots",      "state", "ecl",
						"x__y", "_u",         "run",   "rc"};
	static const char *const fns[] = {
		"step",     "slots",         "prompt_a", "main_parts", "limit_main_parts",
		"fail_1_a", "system_a",      "S_MAIN",   "V_SLOTS",    "state",
		"slot",     "graph_json",    "int_add",  "f",          "printf",
		"run",      "ecl_run_start", "g__h"};
	int used[12] = {0}, i, k, n;

	g->len = 0;
	g->nvals = 0;
	put(g, "workflow prop-w%d {\n", index);
	if (rnd(g, 3) == 0)
		put(g, "  model \"m\"\n  temperature 0.5\n  retry 1\n");
	n = rnd(g, 5);
	for (i = 0; i < n; i++) {
		int t = rnd(g, G_NTYPES), v;

		do
			v = rnd(g, 12);
		while (used[v]);
		used[v] = 1;
		snprintf(g->vname[g->nvals], sizeof(g->vname[0]), "%s", values[v]);
		g->vtype[g->nvals++] = t;
		if (rnd(g, 2)) {
			put(g, "  input %s: %s", values[v], g_types[t]);
			if (t == G_INT && rnd(g, 2))
				put(g, " 0..9 = 3");
			else if (t == G_ENUM || (t == G_STR && rnd(g, 2)))
				put(g, " = \"%s\"", t == G_ENUM ? "p" : "x */ y");
			put(g, "\n");
		} else {
			put(g, "  var %s: %s", values[v], g_types[t]);
			if (t == G_ENUM)
				put(g, " = \"q\"");
			else if (t != G_LIST && rnd(g, 2))
				put(g, " = %s", t == G_STR ? "\"s\"" : t == G_BOOL ? "true" : "1");
			put(g, "\n");
		}
	}
	g->nglobal = g->nvals;
	g->nsteps = 1 + rnd(g, 6);
	memset(used, 0, sizeof(used));
	for (i = 0; i < g->nsteps; i++) {
		int v;

		do
			v = rnd(g, 12);
		while (used[v]);
		used[v] = 1;
		g->steps[i] = stepnames[v];
		g->limited[i] = rnd(g, 3) == 0;
	}
	for (i = 0; i < g->nsteps; i++) {
		static const char *const kinds[] = {"llm", "code", "human", "set"};
		int kind = rnd(g, 4), ntr;
		const char *name = g->steps[i];

		g->nvals = g->nglobal;
		put(g, "\n  %s %s {\n", kinds[kind], name);
		if (g->limited[i]) {
			put(g, "    limit %d as cnt_%d else ", 1 + rnd(g, 3), i);
			/* Only to the last step, which never goes back: every cycle goes
			 * through a limited step and stays bounded when its limit is used up. */
			if (i + 1 < g->nsteps && rnd(g, 2))
				put(g, "-> %s\n", g->steps[g->nsteps - 1]);
			else
				put(g, "fail \"limit of %s\"\n", name);
		}
		if (kind == 0) {
			if (rnd(g, 2)) {
				put(g, "    system ");
				gen_template(g);
				put(g, "\n");
			}
			put(g, "    prompt ");
			gen_template(g);
			put(g, "\n");
			if (rnd(g, 3) == 0)
				put(g, "    max_tokens 100\n    timeout 5s\n");
		} else if (kind == 1) {
			int a, na = rnd(g, 4);

			put(g, "    call %s(", fns[rnd(g, 18)]);
			for (a = 0; a < na; a++) {
				int t = rnd(g, G_NTYPES);

				if (t == G_LIST && !pick_value(g, G_LIST))
					t = G_STR;
				put(g, "%sa%d: %s = ", a ? ", " : "", a, g_types[t]);
				gen_expr(g, t, 2);
			}
			put(g, ")\n");
		} else if (kind == 2) {
			put(g, "    question ");
			gen_template(g);
			put(g, "\n");
		}
		if (kind != 3)
			gen_fields(g, name, kind != 2);
		for (k = rnd(g, 3); k > 0; k--) {
			int vi = rnd(g, g->nglobal ? g->nglobal : 1);

			if (!g->nglobal || g->vtype[vi] == G_LIST)
				break;
			/* only vars can be set (E040): look at how the value was declared */
			{
				char decl[64];

				snprintf(decl, sizeof(decl), "  var %s:", g->vname[vi]);
				if (!strstr(g->b, decl))
					break;
			}
			put(g, "    set %s = ", g->vname[vi]);
			gen_expr(g, g->vtype[vi], 3);
			put(g, "\n");
		}
		ntr = rnd(g, 3);
		for (k = 0; k < ntr; k++) {
			put(g, "    when ");
			gen_expr(g, G_BOOL, 3);
			put(g, " -> ");
			gen_target(g, i, 0);
		}
		put(g, "    %s-> ", ntr && rnd(g, 2) ? "else " : "");
		gen_target(g, i, i + 1 == g->nsteps);
		put(g, "  }\n");
	}
	put(g, "}\n");
}

/* The property: every random workflow that eclc accepts compiles. */
Test(eclc, random_workflows_compile)
{
	uint64_t seed = prop_seed();
	struct gen g;
	char *out = tmp_dir(), *log, name[32];
	int i, accepted = 0;

	memset(&g, 0, sizeof(g));
	g.s = seed ? seed : 1;
	for (i = 0; i < PROP_WORKFLOWS; i++) {
		eclc_result res;

		gen_workflow(&g, i);
		snprintf(name, sizeof(name), "prop_%02d", i);
		{
			char path[600];
			FILE *f;

			snprintf(path, sizeof(path), "%s/%s.ecl", out, name);
			f = fopen(path, "wb");
			cr_assert(f);
			fwrite(g.b, 1, g.len, f);
			fclose(f);
		}
		if (getenv("ECL_PROPS_VERBOSE"))
			fprintf(stderr, "%s:\n%s", name, g.b);
		if (compile(g.b, name, ECLC_C, &res) == ECLC_OK) {
			write_c(out, name, &res);
			accepted++;
		} else if (getenv("ECL_PROPS_VERBOSE")) {
			fprintf(stderr, "%s\n%s\n", g.b, res.diag_text);
		}
		eclc_result_free(&res);
	}
	cr_assert(accepted >= PROP_WORKFLOWS / 2,
		  "seed %#llx (ECL_PROPS_SEED overrides it): only %d of %d random workflows "
		  "accepted; they are in %s",
		  (unsigned long long)seed, accepted, PROP_WORKFLOWS, out);
	log = cc_all(out);
	cr_assert_null(log,
		       "seed %#llx (ECL_PROPS_SEED overrides it): the C of an accepted random "
		       "workflow does not compile (the .ecl and .c files are in %s):\n%s",
		       (unsigned long long)seed, out, log ? log : "");
	sh("rm -rf '%s'", out);
	free(out);
	free(g.b);
}

/* generated/ is what eclc writes for the workflows of dsl/ today, byte for byte. */
Test(eclc, generated_is_up_to_date)
{
	static char names[64][256];
	eclc_result res[64], reg;
	const eclc_result *list[64];
	eclc_options opt = {0};
	int n = list_dir("dsl", ".ecl", names, 64), i;
	char *want;
	size_t len;

	cr_assert(n > 0);
	for (i = 0; i < n; i++) {
		char rel[512], gen[512];

		snprintf(rel, sizeof(rel), "dsl/%s", names[i]);
		snprintf(gen, sizeof(gen), "generated/%.*s.ecl.c", (int)(strlen(names[i]) - 4),
			 names[i]);
		cr_assert_eq(compile_file(rel, ECLC_C, &res[i]), ECLC_OK, "%s", res[i].diag_text);
		want = read_all(src_path(gen), &len);
		cr_assert_eq(res[i].out_len, len, "%s differs from eclc's output", gen);
		cr_assert_eq(memcmp(res[i].out, want, len), 0, "%s differs from eclc's output",
			     gen);
		free(want);
		list[i] = &res[i];
	}
	cr_assert_eq(eclc_registry(list, n, &opt, &reg), ECLC_OK);
	want = read_all(src_path("generated/workflows.c"), &len);
	cr_assert_eq(reg.out_len, len);
	cr_assert_eq(memcmp(reg.out, want, len), 0, "generated/workflows.c differs");
	free(want);
	eclc_result_free(&reg);
	for (i = 0; i < n; i++)
		eclc_result_free(&res[i]);
}

Test(eclc, command_line)
{
	char *dir = tmp_dir();
	char path[512], *text;

	/* Usage errors: 2. */
	cr_assert_eq(sh("'%s' --frobnicate x.ecl 2>/dev/null", ECLC_BIN), 2);
	cr_assert_eq(sh("'%s' 2>/dev/null", ECLC_BIN), 2);
	cr_assert_eq(sh("'%s' --emit pdf '%s/dsl/critique_revise.ecl' 2>/dev/null", ECLC_BIN,
			ECL_SOURCE_DIR),
		     2);
	cr_assert_eq(sh("cd '%s' && '%s' dsl/critique_revise.ecl tests/dsl/ok/hello.ecl "
			">/dev/null 2>&1",
			ECL_SOURCE_DIR, ECLC_BIN),
		     2);
	cr_assert_eq(sh("'%s' --help >/dev/null", ECLC_BIN), 0);
	cr_assert_eq(sh("'%s' --version | grep -q '^eclc '", ECLC_BIN), 0);
	/* A file that cannot be read is named, with the reason. */
	snprintf(path, sizeof(path), "%s/err", dir);
	cr_assert_eq(sh("'%s' --check '%s/missing.ecl' 2>'%s'", ECLC_BIN, dir, path), 1);
	text = read_all(path, NULL);
	cr_assert(strstr(text, "eclc: cannot read ") &&
			  strstr(text, "/missing.ecl: No such file or "
				       "directory\n"),
		  "%s", text);
	free(text);
	/* --out-dir creates its directory, and what leads to it. */
	cr_assert_eq(sh("cd '%s' && '%s' --out-dir '%s/new/dir' dsl/critique_revise.ecl",
			ECL_SOURCE_DIR, ECLC_BIN, dir),
		     0);
	cr_assert_eq(sh("test -s '%s/new/dir/critique_revise.ecl.c'", dir), 0);
	/* A directory that cannot be made. */
	cr_assert_eq(sh("touch '%s/file' && cd '%s' && '%s' --out-dir '%s/file/sub' "
			"dsl/critique_revise.ecl 2>'%s'",
			dir, ECL_SOURCE_DIR, ECLC_BIN, dir, path),
		     1);
	text = read_all(path, NULL);
	cr_assert(strstr(text, "eclc: cannot create directory ") &&
			  strstr(text, "/file/sub: Not a directory\n"),
		  "%s", text);
	free(text);
	/* A file that cannot be written (its temporary file's name is taken by a directory). */
	cr_assert_eq(sh("mkdir -p '%s/w/critique_revise.ecl.c.tmp' && cd '%s' && '%s' --out-dir "
			"'%s/w' dsl/critique_revise.ecl 2>'%s'",
			dir, ECL_SOURCE_DIR, ECLC_BIN, dir, path),
		     1);
	text = read_all(path, NULL);
	cr_assert(strstr(text, "eclc: cannot write ") &&
			  strstr(text, "/w/critique_revise.ecl.c: Is a directory\n"),
		  "%s", text);
	free(text);
	/* --Werror turns a warning into exit status 1; without it the output is written. */
	cr_assert_eq(sh("cd '%s' && '%s' --out-dir '%s' tests/dsl/err/unused.ecl 2>/dev/null",
			ECL_SOURCE_DIR, ECLC_BIN, dir),
		     0);
	cr_assert_eq(sh("test -s '%s/unused.ecl.c'", dir), 0);
	cr_assert_eq(sh("cd '%s' && '%s' --Werror --check tests/dsl/err/unused.ecl 2>/dev/null",
			ECL_SOURCE_DIR, ECLC_BIN),
		     1);
	/* The same workflow twice. */
	cr_assert_eq(sh("cd '%s' && '%s' --check dsl/critique_revise.ecl dsl/critique_revise.ecl "
			"2>'%s'",
			ECL_SOURCE_DIR, ECLC_BIN, path),
		     1);
	text = read_all(path, NULL);
	cr_assert(strstr(text, "error[E060]: workflow `critique-revise` is defined twice\n"), "%s",
		  text);
	free(text);
	/* Graphs to standard output, files with their own extension. */
	cr_assert_eq(
		sh("cd '%s' && '%s' --emit mermaid dsl/critique_revise.ecl | head -1 | grep -qx "
		   "stateDiagram-v2",
		   ECL_SOURCE_DIR, ECLC_BIN),
		0);
	cr_assert_eq(
		sh("cd '%s' && '%s' --emit json --out-dir '%s' dsl/critique_revise.ecl && test "
		   "-s '%s/critique_revise.ecl.json'",
		   ECL_SOURCE_DIR, ECLC_BIN, dir, dir),
		0);
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* eclc writes NAME.ecl.c, never NAME.c (the name of a code step's own C beside its .ecl
 * file), and overwrites only files that begin as eclc's do; a refusal writes nothing. */
Test(eclc, never_overwrites_a_file_it_did_not_write)
{
	char *dir = tmp_dir(), path[512], *text;

	snprintf(path, sizeof(path), "%s/err", dir);
	/* beside the .ecl file and its hand-written C: the C is left alone */
	cr_assert_eq(sh("cp '%s/dsl/summarize.ecl' '%s/dsl/summarize.c' '%s/' && cd '%s' && '%s' "
			"--out-dir . summarize.ecl",
			ECL_SOURCE_DIR, ECL_SOURCE_DIR, dir, dir, ECLC_BIN),
		     0);
	cr_assert_eq(sh("cmp -s '%s/dsl/summarize.c' '%s/summarize.c'", ECL_SOURCE_DIR, dir), 0);
	cr_assert_eq(sh("head -1 '%s/summarize.ecl.c' | grep -q '^/\\* Generated by eclc from "
			"summarize.ecl\\.'",
			dir),
		     0);
	/* eclc's own output is rewritten */
	cr_assert_eq(sh("cd '%s' && '%s' --out-dir . --registry workflows.c summarize.ecl", dir,
			ECLC_BIN),
		     0);
	cr_assert_eq(sh("cd '%s' && '%s' --out-dir . --registry workflows.c summarize.ecl", dir,
			ECLC_BIN),
		     0);
	/* a file of that name that eclc did not write is not, and nothing else is written */
	cr_assert_eq(sh("cd '%s' && rm workflows.c && echo 'int mine;' >summarize.ecl.c && '%s' "
			"--out-dir . --registry workflows.c summarize.ecl 2>'%s'",
			dir, ECLC_BIN, path),
		     1);
	text = read_all(path, NULL);
	cr_assert_str_eq(text, "eclc: will not overwrite ./summarize.ecl.c: it does not begin with "
			       "`/* Generated by eclc`, so eclc did not write it; move it away or "
			       "write elsewhere\n");
	free(text);
	cr_assert_eq(
		sh("cd '%s' && grep -qx 'int mine;' summarize.ecl.c && test ! -e workflows.c", dir),
		0);
	/* the registry too */
	cr_assert_eq(sh("cd '%s' && rm summarize.ecl.c && echo 'int mine;' >workflows.c && '%s' "
			"--registry workflows.c summarize.ecl 2>'%s'",
			dir, ECLC_BIN, path),
		     1);
	text = read_all(path, NULL);
	cr_assert(strstr(text, "eclc: will not overwrite workflows.c: "), "%s", text);
	free(text);
	cr_assert_eq(sh("cd '%s' && grep -qx 'int mine;' workflows.c", dir), 0);
	/* a graph, by its first line */
	cr_assert_eq(
		sh("cd '%s' && '%s' --emit dot --out-dir . summarize.ecl && '%s' --emit dot "
		   "--out-dir . summarize.ecl && echo '[1, 2]' >summarize.ecl.json && '%s' --emit "
		   "json --out-dir . summarize.ecl 2>/dev/null",
		   dir, ECLC_BIN, ECLC_BIN, ECLC_BIN),
		1);
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* A file that never ends (/dev/zero, a pipe) is refused once it passes 16 MiB, while it is
 * read: within a memory limit far below what reading it whole would take. */
Test(eclc, endless_input_is_capped_while_reading)
{
	char *dir = tmp_dir(), path[512], *text;

	snprintf(path, sizeof(path), "%s/err", dir);
	/* (AddressSanitizer reserves terabytes of address space: it gets a limit of its own) */
	setenv("ECLC", ECLC_BIN, 1);
	setenv("LIMIT",
	       "if ldd \"$ECLC\" | grep -q libasan; then export "
	       "ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:hard_rss_limit_mb=400\"; else ulimit -v 400000; "
	       "fi",
	       1);
	cr_assert_eq(
		sh("eval \"$LIMIT\"; timeout 60 '%s' --check /dev/zero 2>'%s'", ECLC_BIN, path), 1);
	text = read_all(path, NULL);
	cr_assert_str_eq(text, "/dev/zero: error[E007]: the file is larger than 16 MiB\n");
	free(text);
	cr_assert_eq(sh("yes workflow | (eval \"$LIMIT\"; timeout 60 '%s' --check /dev/stdin "
			"2>'%s')",
			ECLC_BIN, path),
		     1);
	text = read_all(path, NULL);
	cr_assert_str_eq(text, "/dev/stdin: error[E007]: the file is larger than 16 MiB\n");
	free(text);
	/* 16 MiB exactly is read, and compiled */
	cr_assert_eq(sh("head -c 16777216 /dev/zero | tr '\\000' ' ' >'%s/big.ecl' && '%s' "
			"--check '%s/big.ecl' 2>'%s'",
			dir, ECLC_BIN, dir, path),
		     1);
	text = read_all(path, NULL);
	cr_assert(strstr(text,
			 "/big.ecl:1:16777217: error[E010]: expected `workflow`, found end of "
			 "file\n"),
		  "%.200s", text);
	free(text);
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* fuzz_dsl's dictionary knows every keyword of the language, so that a new keyword cannot be
 * left out of what the fuzzer tries. */
Test(lexer, fuzz_dictionary_has_every_keyword)
{
	FILE *f = fopen(src_path("tests/fuzz/dsl.dict"), "r");
	char dict[16384], want[64];
	size_t n;
	int kw;

	cr_assert(f, "tests/fuzz/dsl.dict");
	n = fread(dict, 1, sizeof(dict) - 1, f);
	fclose(f);
	dict[n] = '\0';
	for (kw = KW_AND; kw <= KW_WORKFLOW; kw++) {
		snprintf(want, sizeof(want), "\n\"%s\"\n", lex_kw_name((enum lex_kw)kw));
		cr_expect(strstr(dict, want), "tests/fuzz/dsl.dict lacks %s", want + 1);
	}
}
