/*
 * main.c - the eclc command: reads .ecl files, compiles each through eclc.h, prints the
 * diagnostics, and writes the C files, the registry, or a graph. Exit status: 0 on success,
 * 1 when an input has errors or a file cannot be read or written, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ecl.h" /* ECL_ABI_VERSION: the runtime ABI of the C it writes */
#include "eclc.h"

#ifndef ECL_GIT_DESCRIBE
#define ECL_GIT_DESCRIBE "" /* set by the build from `git describe`, when it can */
#endif

static const char usage[] =
	"usage: eclc [options] FILE.ecl...\n"
	"\n"
	"Compiles .ecl workflows into C state machines for the ecl runtime.\n"
	"\n"
	"options:\n"
	"  --out-dir DIR     write DIR/NAME.ecl.c for each dsl/NAME.ecl (or .ecl.mmd,\n"
	"                    .ecl.dot, .ecl.json), creating DIR when it does not exist;\n"
	"                    a file there that eclc did not write is never overwritten\n"
	"  --registry FILE   write FILE, the C registry of every workflow given\n"
	"  --emit FORMAT     c (the default), mermaid, dot or json; without --out-dir it\n"
	"                    goes to standard output, for one file\n"
	"  --check           only report diagnostics\n"
	"  --dump-tokens     print the tokens of each file\n"
	"  --dump-ast        print the parse tree of each file\n"
	"  --Werror          treat warnings as errors\n"
	"  --help            print this help\n"
	"  --version         print the version, language, ABI and source revision\n";

static int usage_error(const char *fmt, const char *arg)
{
	fputs("eclc: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry `eclc --help`.\n", stderr);
	return 2;
}

/* The whole file in a malloc'd buffer, or NULL with errno set (EFBIG: larger than
 * ECLC_MAX_MIB). Reading stops there: /dev/zero or a pipe that never ends is refused, not
 * read until memory runs out. */
static char *read_file(const char *path, size_t *len)
{
	const size_t max = (size_t)ECLC_MAX_MIB << 20;
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *p;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				free(buf);
				fclose(f);
				errno = EFBIG;
				return NULL;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > max + 1)
				cap = max +
				      1; /* one byte more tells a file of max bytes from more */
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = p;
		}
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;

		free(buf);
		fclose(f);
		errno = e;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Write through a temporary file renamed into place, so that a reader (or a build that was
 * interrupted) never sees half a file. */
static int write_file(const char *path, const char *text, size_t len)
{
	size_t n = strlen(path) + 5;
	char *tmp = malloc(n);
	FILE *f;
	int ok, e;

	if (!tmp) {
		fprintf(stderr, "eclc: cannot write %s: %s\n", path, strerror(ENOMEM));
		return -1;
	}
	snprintf(tmp, n, "%s.tmp", path);
	errno = 0;
	f = fopen(tmp, "wb");
	ok = f && fwrite(text, 1, len, f) == len;
	if (f && fclose(f) != 0)
		ok = 0;
	if (ok && rename(tmp, path) == 0) {
		free(tmp);
		return 0;
	}
	e = errno ? errno : EIO;
	if (f)
		remove(tmp);
	free(tmp);
	fprintf(stderr, "eclc: cannot write %s: %s\n", path, strerror(e));
	return -1;
}

/* Whether path may be written: it does not exist, or it begins as what eclc writes there
 * (marker: the first bytes of every such file), so that eclc never overwrites a file a
 * person wrote, such as the C of a code step beside its .ecl file. 0, or -1 with the reason
 * printed. */
static int may_overwrite(const char *path, const char *marker, size_t n)
{
	FILE *f = fopen(path, "rb");
	char head[256];
	size_t got;

	if (!f)
		return 0; /* absent; or unreadable, and then writing it says why */
	if (n > sizeof(head))
		n = sizeof(head);
	got = fread(head, 1, n, f);
	fclose(f);
	if (got == n && memcmp(head, marker, n) == 0)
		return 0;
	fprintf(stderr,
		"eclc: will not overwrite %s: it does not begin with `%.*s`, so eclc did not "
		"write it; move it away or write elsewhere\n",
		path, (int)n, marker);
	return -1;
}

/* The first line of text (its first bytes at most), as the marker of what eclc writes in a
 * format that has no comment to put a marker in. */
static size_t first_line(const char *text, size_t len)
{
	size_t n = 0;

	while (n < len && n < 64 && text[n] != '\n')
		n++;
	return n;
}

/* mkdir -p: dir and what leads to it. 0, or -1 with the reason printed. */
static int make_dir(const char *dir)
{
	char *path = malloc(strlen(dir) + 1), *p;
	struct stat st;
	int rc = 0;

	if (!path) {
		fprintf(stderr, "eclc: cannot create directory %s: %s\n", dir, strerror(ENOMEM));
		return -1;
	}
	strcpy(path, dir);
	for (p = path + 1; rc == 0; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		/* an existing one is fine, if it is a directory: stat says below */
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			rc = -1;
		*p = c;
		if (c == '\0')
			break;
	}
	if (rc == 0 && stat(dir, &st) != 0)
		rc = -1;
	else if (rc == 0 && !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		rc = -1;
	}
	if (rc)
		fprintf(stderr, "eclc: cannot create directory %s: %s\n", dir, strerror(errno));
	free(path);
	return rc;
}

/* "dsl/critique_revise.ecl" -> "critique_revise" */
static char *base_name(const char *path)
{
	const char *s = strrchr(path, '/'), *dot;
	size_t n;
	char *p;

	s = s ? s + 1 : path;
	dot = strrchr(s, '.');
	n = dot && dot != s ? (size_t)(dot - s) : strlen(s);
	p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

struct input {
	const char *path;
	char *out_path;
	eclc_result res;
};

/* The value of an option given as `--name value` or `--name=value`; NULL when absent. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (!argv[*i] || strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		return "";
	return argv[++*i];
}

static int run(int argc, char **argv, struct input *in, int *nin)
{
	const char *out_dir = NULL, *registry = NULL, *emit = NULL, *v;
	eclc_options opt;
	eclc_result reg;
	int i, k, errors = 0, to_stdout, only_args = 0;

	memset(&opt, 0, sizeof(opt));
	opt.format = ECLC_C;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (only_args || a[0] != '-' || a[1] == '\0') {
			in[(*nin)++].path = a;
		} else if (strcmp(a, "--") == 0) {
			only_args = 1;
		} else if (strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("eclc %s (ecl language %d, ABI %d%s%s)\n", ECLC_VERSION,
			       ECLC_LANGUAGE, ECL_ABI_VERSION, *ECL_GIT_DESCRIBE ? ", git " : "",
			       ECL_GIT_DESCRIBE);
			return 0;
		} else if (strcmp(a, "--check") == 0) {
			opt.format = ECLC_CHECK;
		} else if (strcmp(a, "--dump-tokens") == 0) {
			opt.format = ECLC_TOKENS;
		} else if (strcmp(a, "--dump-ast") == 0) {
			opt.format = ECLC_AST;
		} else if (strcmp(a, "--Werror") == 0) {
			opt.werror = 1;
		} else if ((v = option_value(argc, argv, &i, "--out-dir"))) {
			out_dir = v;
		} else if ((v = option_value(argc, argv, &i, "--registry"))) {
			registry = v;
		} else if ((v = option_value(argc, argv, &i, "--emit"))) {
			emit = v;
		} else {
			return usage_error("unknown option `%s`", a);
		}
		if ((out_dir && !*out_dir) || (registry && !*registry) || (emit && !*emit))
			return usage_error("option `%s` needs a value", a);
	}
	if (*nin == 0)
		return usage_error("%s", "no input file");
	if (emit && opt.format == ECLC_C) {
		static const char *const names[] = {"c", "mermaid", "dot", "json"};
		static const eclc_format formats[] = {ECLC_C, ECLC_MERMAID, ECLC_DOT, ECLC_JSON};

		for (k = 0; k < 4 && strcmp(emit, names[k]) != 0; k++)
			;
		if (k == 4)
			return usage_error("unknown --emit format `%s` (c, mermaid, dot or json)",
					   emit);
		opt.format = formats[k];
	}
	to_stdout = opt.format == ECLC_TOKENS || opt.format == ECLC_AST ||
		    (opt.format != ECLC_CHECK && !out_dir && (emit || !registry));
	if (to_stdout && opt.format != ECLC_TOKENS && opt.format != ECLC_AST && *nin > 1)
		return usage_error("%s", "without --out-dir, eclc writes one file to standard "
					 "output: give one input");

	for (i = 0; i < *nin; i++) {
		size_t len = 0;
		char *src = read_file(in[i].path, &len);

		if (!src && errno == EFBIG) {
			/* as the compiler says it of a buffer too large (E007), without a line
			 * of 16 MiB to show */
			fprintf(stderr, "%s: error[E007]: the file is larger than %d MiB\n",
				in[i].path, ECLC_MAX_MIB);
			errors++;
			continue;
		}
		if (!src) {
			fprintf(stderr, "eclc: cannot read %s: %s\n", in[i].path, strerror(errno));
			errors++;
			continue;
		}
		opt.path = in[i].path;
		if (eclc_compile(src, len, &opt, &in[i].res) == ECLC_ENOMEM) {
			fprintf(stderr, "eclc: %s: out of memory\n", in[i].path);
			errors++;
		}
		free(src);
		fputs(in[i].res.diag_text, stderr);
		errors += in[i].res.nerrors;
		if ((opt.format == ECLC_TOKENS || opt.format == ECLC_AST) && in[i].res.out)
			fwrite(in[i].res.out, 1, in[i].res.out_len, stdout);
	}
	if (errors || opt.format == ECLC_TOKENS || opt.format == ECLC_AST)
		return errors ? 1 : 0;

	/* Across files: one id, one workflow. */
	{
		const eclc_result **list = malloc(sizeof(*list) * (size_t)*nin);

		if (!list) {
			fputs("eclc: out of memory\n", stderr);
			return 1;
		}
		for (i = 0; i < *nin; i++)
			list[i] = &in[i].res;
		k = eclc_registry(list, *nin, &opt, &reg);
		free(list);
		if (k == ECLC_ENOMEM) {
			fputs("eclc: out of memory\n", stderr);
			return 1;
		}
		fputs(reg.diag_text, stderr);
		if (k != ECLC_OK) {
			eclc_result_free(&reg);
			return 1;
		}
	}
	if (out_dir && opt.format != ECLC_CHECK) {
		for (i = 0; i < *nin; i++) {
			char *base = base_name(in[i].path);
			size_t n;

			if (!base) {
				fputs("eclc: out of memory\n", stderr);
				errors++;
				break;
			}
			/* NAME.ecl.c, never NAME.c: that is the name of a code step's C */
			n = strlen(out_dir) + strlen(base) + strlen(in[i].res.out_ext) + 7;
			in[i].out_path = malloc(n);
			if (in[i].out_path)
				snprintf(in[i].out_path, n, "%s/%s.ecl.%s", out_dir, base,
					 in[i].res.out_ext);
			free(base);
			if (!in[i].out_path) {
				fputs("eclc: out of memory\n", stderr);
				errors++;
				break;
			}
			for (k = 0; k < i; k++)
				if (strcmp(in[k].out_path, in[i].out_path) == 0) {
					eclc_result_free(&reg);
					return usage_error("two inputs would write %s",
							   in[i].out_path);
				}
		}
		if (!errors && make_dir(out_dir) < 0)
			errors++;
		/* Every output is checked before any is written: all or nothing. */
		for (i = 0; i < *nin && !errors; i++) {
			const eclc_result *r = &in[i].res;
			int c = opt.format == ECLC_C;

			if (may_overwrite(in[i].out_path, c ? ECLC_MARKER : r->out,
					  c ? strlen(ECLC_MARKER)
					    : first_line(r->out, r->out_len)) < 0)
				errors++;
		}
		if (registry && opt.format != ECLC_CHECK && !errors &&
		    may_overwrite(registry, ECLC_MARKER, strlen(ECLC_MARKER)) < 0)
			errors++;
		for (i = 0; i < *nin && !errors; i++)
			if (write_file(in[i].out_path, in[i].res.out, in[i].res.out_len) < 0)
				errors++;
	} else if (to_stdout) {
		fwrite(in[0].res.out, 1, in[0].res.out_len, stdout);
		if (fflush(stdout) != 0) {
			fprintf(stderr, "eclc: cannot write standard output: %s\n",
				strerror(errno));
			errors++;
		}
	}
	if (registry && opt.format != ECLC_CHECK && !errors &&
	    (may_overwrite(registry, ECLC_MARKER, strlen(ECLC_MARKER)) < 0 ||
	     write_file(registry, reg.out, reg.out_len) < 0))
		errors++;
	eclc_result_free(&reg);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct input *in = calloc((size_t)(argc > 1 ? argc : 1), sizeof(*in));
	int nin = 0, rc, i;

	if (!in) {
		fputs("eclc: out of memory\n", stderr);
		return 1;
	}
	rc = run(argc, argv, in, &nin);
	for (i = 0; i < nin; i++) {
		eclc_result_free(&in[i].res);
		free(in[i].out_path);
	}
	free(in);
	return rc;
}
