/*
 * cli.h - what the ecl command's files share.
 */
#ifndef ECL_CLI_H
#define ECL_CLI_H

#include <stdarg.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "ecl.h"

typedef struct cli {
	ecl_options opts;  /* from the global options */
	char db_buf[4096]; /* the default database path, when --db is not given */
	char **args;       /* the command's own arguments, global options removed */
	int nargs;
	char api_key_flag[4096];          /* from --api-key or --api-key-file, or "" */
	const char *api_key_file;         /* the file it came from, or NULL */
	const char *timeout_flag;         /* --timeout, or NULL */
	const char *connect_timeout_flag; /* --connect-timeout, or NULL */
} cli;

/* Print the usage text. */
void cli_usage(FILE *f);

/* Print "ecl: <message>" on stderr; returns status (the exit status to use). */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the engine the global options describe; 0, or the exit status after an error. */
int cli_open(cli *c, ecl_engine **out);

/* Settle the provider settings from the flags, the environment and the config file, in that
 * order, into c->opts (providers.c); 0, or the exit status after an error. */
int cli_configure(cli *c);

/* Take the API key from --api-key (arg, which is then overwritten so that ps cannot show
 * it) or from the file of --api-key-file (file, with arg NULL); 0 or an exit status. */
int cli_take_api_key(cli *c, char *arg, const char *file);

/* The subcommands; each returns the exit status: 0 success, 1 failure, 2 usage error,
 * 130 interrupted. */
int cmd_list(cli *c);
int cmd_run(cli *c);
int cmd_resume(cli *c);
int cmd_status(cli *c);
int cmd_pause(cli *c);
int cmd_cancel(cli *c);
int cmd_runs(cli *c);
int cmd_history(cli *c);
int cmd_fork(cli *c);
int cmd_recover(cli *c);
int cmd_prune(cli *c);
int cmd_batch(cli *c);
int cmd_providers(cli *c);
int cmd_answer(cli *c);
int cmd_graph(cli *c);

/* Restate (serve.c): `ecl serve`, and the --engine restate forms of run, status, cancel and
 * answer. cli_restate_take removes --engine, --restate-url, --admin-url and --wait from the
 * arguments: 1 for --engine restate, 0 for local, -1 after a usage error (printed). */
int cmd_serve(cli *c);
int cli_restate_take(cli *c);
int cli_run_restate(cli *c, const ecl_workflow *wf, const char *inputs);
int cli_status_restate(cli *c);
int cli_cancel_restate(cli *c);
/* `ecl answer --engine restate`: the n fields of the answer to run id's human step. */
int cli_answer_restate(cli *c, const char *id, const char *const *names, const char *const *values,
		       int n);

/* Print "Fields: ..." with what the answer to a human step takes (answer.c); nothing when
 * the step is not a human step of a compiled workflow. */
void cli_print_answer_fields(const char *workflow, const char *step);

/* Print JSON indented by two spaces, with a newline: 0, or 1 when memory ran out (said on
 * stderr; nothing is printed then). */
int cli_print_json(const cJSON *json);

/* Drive a run with progress and report how it ended, as `ecl run` and `ecl resume` do;
 * `how` is "started" or "resumed". Returns the exit status: 0, 1, 130, or 3 when another
 * live process drives the run. */
int cli_drive_run(cli *c, const char *id, const char *how);

#endif /* ECL_CLI_H */
