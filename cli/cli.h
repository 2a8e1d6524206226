/*
 * cli.h - what the ecl command's files share.
 */
#ifndef ECL_CLI_H
#define ECL_CLI_H

#include <stdarg.h>
#include <stdio.h>

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

#endif /* ECL_CLI_H */
