/*
 * test_net_module.c - the `ecl` command without its network module, or with a library in its
 * place that is not one: every command that needs the network half (a batch, serving, a
 * cancel through Restate, an HTTP provider) fails with the reason and the file named, and
 * stores nothing; commands that do not need it work as before.
 */
#define _GNU_SOURCE /* dladdr */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"
#include "support.h"

static char *dir;
static char db[4096], bin[4096];

static void copy_file(const char *from, const char *to, mode_t mode)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char chunk[65536];
	size_t n;

	cr_assert(in && out, "cannot copy %s to %s", from, to);
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		cr_assert_eq(fwrite(chunk, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
	cr_assert_eq(chmod(to, mode), 0);
}

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(db, sizeof(db), "%s/runs.db", dir);
	/* In a bin/ of its own, so that the installed place it also looks at, bin/../lib/ecl,
	 * lies in the test's directory too. */
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	cr_assert_eq(mkdir(bin, 0755), 0);
	snprintf(bin, sizeof(bin), "%s/bin/ecl", dir);
	copy_file(ECL_BIN, bin, 0755); /* beside no libecl-net.so */
}

static void teardown(void)
{
	ts_rmtree(dir);
	free(dir);
}

TestSuite(net_module, .init = setup, .fini = teardown);

/* Run the copy of ecl with --db and the arguments; the exit status, stderr in *err. */
static int ecl(char **err, const char *const *args)
{
	const char *argv[24] = {bin, "--db", db};
	int n = 3, rc;

	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;
	rc = ts_run(argv, NULL, err);
	return rc;
}

static void expect_nothing_stored(void)
{
	cr_assert(access(db, F_OK) != 0 || ts_sql_int(db, "SELECT count(*) FROM runs") == 0,
		  "a run was stored");
}

Test(net_module, every_command_that_needs_it_names_why_it_cannot_load)
{
	static const char *const serve[] = {"serve", "--port", "0", NULL};
	static const char *const cancel[] = {"cancel", "somerun", "--engine", "restate", NULL};
	char in[4200];
	const char *const batch[] = {"batch", in, "--workflow", "critique-revise", NULL};
	const char *const *cmds[] = {batch, serve, cancel};
	size_t i;

	snprintf(in, sizeof(in), "%s/in.jsonl", dir);
	ts_write(in, "{\"topic\": \"a\"}\n{\"topic\": \"b\"}\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *err = NULL;

		cr_assert_neq(ecl(&err, cmds[i]), 0, "%s succeeded", cmds[i][0]);
		cr_assert(strstr(err, "cannot load the network module"), "%s: %s", cmds[i][0], err);
		cr_assert(strstr(err, "libecl-net.so"), "%s: %s", cmds[i][0], err);
		free(err);
	}
	expect_nothing_stored();
}

Test(net_module, a_library_that_is_not_the_module_is_refused)
{
	static const char *const run[] = {"--provider",      "openai",  "--model", "m", "run",
					  "critique-revise", "--topic", "x",       NULL};
	static const char *const list[] = {"list", NULL};
	char module[4200], *err = NULL;
	Dl_info where;

	/* Some other shared library: cJSON's, which this program is linked with. */
	cr_assert_neq(dladdr((void *)cJSON_Version, &where), 0);
	cr_assert(where.dli_fname && strstr(where.dli_fname, ".so"), "%s",
		  where.dli_fname ? where.dli_fname : "(none)");
	snprintf(module, sizeof(module), "%s/bin/libecl-net.so", dir);
	copy_file(where.dli_fname, module, 0644);
	cr_assert_eq(ecl(&err, list), 0, "a local command does not load it: %s", err);
	free(err);
	cr_assert_neq(ecl(&err, run), 0);
	cr_assert(strstr(err, module), "%s", err);
	cr_assert(strstr(err, "has no ecl_net_api: not ecl's network module"), "%s", err);
	free(err);
	expect_nothing_stored();
}

/* A module of another build (its ABI number, or the size of its table, not this ecl's) is
 * refused before anything of it is called, with its file and both numbers named. */
Test(net_module, a_module_of_another_build_is_refused)
{
	static const char *const run[] = {"--provider",      "openai",  "--model", "m", "run",
					  "critique-revise", "--topic", "x",       NULL};
	const char *const stale[] = {NET_STALE_ABI, NET_STALE_SIZE};
	char module[4200], want[256];
	size_t i;

	snprintf(module, sizeof(module), "%s/bin/libecl-net.so", dir);
	for (i = 0; i < 2; i++) {
		char *err = NULL;

		copy_file(stale[i], module, 0644);
		cr_assert_neq(ecl(&err, run), 0);
		cr_assert(strstr(err, module), "%s", err);
		cr_assert(strstr(err, "is the network module of another build of ecl"), "%s", err);
		snprintf(want, sizeof(want), "its ABI is %u (a table of %zu bytes)",
			 i == 0 ? ECL_NET_ABI + 1 : ECL_NET_ABI,
			 i == 0 ? sizeof(net_api) : sizeof(net_api) - sizeof(void (*)(void)));
		cr_assert(strstr(err, want), "no \"%s\" in: %s", want, err);
		snprintf(want, sizeof(want), "this ecl's is %u (%zu bytes)", ECL_NET_ABI,
			 sizeof(net_api));
		cr_assert(strstr(err, want), "no \"%s\" in: %s", want, err);
		free(err);
	}
	expect_nothing_stored();
}

/* Installed, ecl is in BINDIR and the module in LIBDIR/ecl: with no module beside it, ecl
 * names the second place it looked, and once the module is there, loads it from there. */
Test(net_module, the_installed_layout_is_found_relative_to_the_executable)
{
	static const char *const batch_args[] = {"batch", NULL, "--workflow", "critique-revise",
						 NULL};
	const char *args[8];
	char in[4200], module[4200], *err = NULL, *there, *end, *p;
	size_t i;

	snprintf(in, sizeof(in), "%s/in.jsonl", dir);
	ts_write(in, "{\"topic\": \"a\"}\n");
	for (i = 0; i < 5; i++)
		args[i] = batch_args[i];
	args[1] = in;
	cr_assert_neq(ecl(&err, args), 0);
	there = strstr(err, "; nor is there ");
	cr_assert_not_null(there, "the installed place is not named: %s", err);
	there += strlen("; nor is there ");
	end = strstr(there, "libecl-net.so");
	cr_assert_not_null(end, "%s", err);
	snprintf(module, sizeof(module), "%.*slibecl-net.so", (int)(end - there), there);
	cr_assert(strncmp(module, bin, strlen(bin) - 3) == 0, "not relative to the executable: %s",
		  module);
	free(err);
	/* mkdir -p of the module's directory, from the executable's (bin/../lib/ecl). */
	for (p = module + strlen(bin) - 3; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		cr_assert(mkdir(module, 0755) == 0 || errno == EEXIST, "mkdir %s", module);
		*p = '/';
	}
	copy_file(ECL_BINARY_DIR "/libecl-net.so", module, 0644);
	cr_assert_eq(ecl(&err, args), 0, "the module at %s was not loaded: %s", module, err);
	free(err);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 1);
}
