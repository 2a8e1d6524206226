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
} cli;

/* Print the usage text. */
void cli_usage(FILE *f);

/* Print "ecl: <message>" on stderr; returns status (the exit status to use). */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the engine the global options describe; 0, or the exit status after an error. */
int cli_open(cli *c, ecl_engine **out);

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
int cmd_answer(cli *c);
int cmd_graph(cli *c);

/* Print "Fields: ..." with what the answer to a human step takes (answer.c); nothing when
 * the step is not a human step of a compiled workflow. */
void cli_print_answer_fields(const char *workflow, const char *step);

/* Print JSON indented by two spaces, with a newline. */
void cli_print_json(const cJSON *json);

/* Drive a run with progress and report how it ended, as `ecl run` and `ecl resume` do;
 * `how` is "started" or "resumed". Returns the exit status: 0, 1, 130, or 3 when another
 * live process drives the run. */
int cli_drive_run(cli *c, const char *id, const char *how);

#endif /* ECL_CLI_H */
