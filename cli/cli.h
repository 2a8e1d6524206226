/*
 * cli.h - what the ecl command's files share.
 */
#ifndef ECL_CLI_H
#define ECL_CLI_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ecl.h"

typedef struct cli {
	const char *prog;    /* the program's name, for the commands it suggests: ecl, or a
			      * program of its own built on ecl_main */
	ecl_options opts;    /* from the global options */
	char db_buf[4096];   /* the default database path, when --db is not given */
	char db_shown[4096]; /* the database as cli_db shows it */
	char **args;         /* the command's own arguments, global options removed */
	int nargs;
	char api_key_flag[4096];          /* from --api-key or --api-key-file, or "" */
	const char *api_key_file;         /* the file it came from, or NULL */
	const char *timeout_flag;         /* --timeout, or NULL */
	const char *connect_timeout_flag; /* --connect-timeout, or NULL */
	/* --provider, --model, --base-url as given (c->opts holds the settings resolved from
	 * them and the rest once cli_configure has run) */
	const char *flag_provider, *flag_model, *flag_base_url;
	int flags_taken;
	/* The provider settings stored with the run being resumed (cli_open_run), which come
	 * after the flags and before the environment; run_provider[0] == '\0' when none. */
	char run_provider[64], run_model[512], run_base_url[2048];
	int stream; /* --stream 1, --no-stream 0, else -1: a run's answers stream on a terminal */
} cli;

/* The strict number readers (number.c): decimal digits only, no sign, exponent, hex, space,
 * `nan` or `inf`. */
/* A whole number from min to max into *out; 0, or -1 when text is not one. */
int cli_parse_count(const char *text, long long min, long long max, long long *out);
/* Seconds (`30`, `0.5`) as milliseconds into *ms: at least 1 ms, at most CLI_SECONDS_MAX s;
 * 0, or -1 when text is not such a duration. */
#define CLI_SECONDS_MAX 604800L /* a week */
int cli_parse_seconds(const char *text, long *ms);
/* An age, `30d`, `12h`, `15m`, `40s` or seconds, in ms; -1 when malformed. */
long long cli_parse_age(const char *text);

/* s as one word for a POSIX shell: s itself when it needs no quoting, else s in single
 * quotes written into buf (quote.c). For the commands ecl prints for the user to run. */
const char *cli_shell_word(const char *s, char *buf, size_t len);

/* The database as the commands printed for the user show it: a URL without its password
 * (ecl_db_display). */
const char *cli_db(cli *c);
/* A Unix time in ms as local "YYYY-MM-DD HH:MM:SS", and a duration in ms as "850ms", "2.5s",
 * "3m07s" or "1h05m" (manage.c). */
void cli_format_time(long long ms, char *out, size_t outlen);
void cli_format_duration(long long ms, char *out, size_t outlen);
/* Print the usage text. */
void cli_usage(FILE *f);

/* `ecl run WORKFLOW --help`: the workflow's usage and inputs, with types and defaults
 * (list.c); prog is the program's name. */
void cli_print_workflow_help(const ecl_workflow *wf, const char *prog);

/* Print "ecl: <message>" on stderr; returns status (the exit status to use). */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the engine the global options describe, making the database's directory when it is
 * missing; 0, or the exit status after an error (common.c). */
int cli_open(cli *c, ecl_engine **out);

/* cli_open for a command that only looks at runs (status, runs, history): the engine opened
 * read-only, which works in a directory the user cannot write. */
int cli_open_to_look(cli *c, ecl_engine **out);

/* Print the engine's last error as cli_error does, close the engine and return status. */
int cli_engine_fail(ecl_engine *e, int status);

/* Open the engine to go on with run id: with the provider, model and base URL stored with
 * the run unless flags say otherwise (one line on stderr then says so); 0, or the exit
 * status after an error (providers.c). */
int cli_open_run(cli *c, const char *id, ecl_engine **out);

/* The path of one of ecl's files in the user's directories, into out: $env when it is set and
 * not empty, else $xdg/ecl/name, else $HOME/home_dir/ecl/name; 0, or -1 (out "") when none of
 * the three is set (common.c). */
int cli_user_path(char *out, size_t len, const char *env, const char *xdg, const char *home_dir,
		  const char *name);

/* Set c->opts.db_path to the default database when --db was not given; 0 or an exit
 * status (common.c). */
int cli_default_db(cli *c);

/* Settle the provider settings from the flags, the environment and the config file, in that
 * order, into c->opts (providers.c); 0, or the exit status after an error. */
int cli_configure(cli *c);

/* Make the process non-dumpable (no core file, no ptrace, /proc/PID/mem closed) once it
 * holds an API key: cli_hold_secret does it at once, cli_guard_secrets when a key is in the
 * environment; the key readers call cli_hold_secret themselves (providers.c). */
void cli_hold_secret(void);
void cli_guard_secrets(void);

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
int cmd_stats(cli *c);
int cmd_batch(cli *c);
int cmd_worker(cli *c);
int cmd_workers(cli *c);
int cmd_providers(cli *c);
int cmd_answer(cli *c);
int cmd_graph(cli *c);

/* Restate: `ecl serve` (serve.c), and the --engine restate forms of run, status, cancel,
 * answer, pause and resume (restate.c). cli_restate_take removes --engine, --restate-url,
 * --admin-url and --wait from the arguments: 1 for --engine restate, 0 for local, -1 after a usage
 * error (printed). */
int cmd_serve(cli *c);
int cli_restate_take(cli *c);
int cli_run_restate(cli *c, const ecl_workflow *wf, const char *inputs);
int cli_status_restate(cli *c);
int cli_cancel_restate(cli *c);
/* The Restate admin API's URL: --admin-url, $ECL_RESTATE_ADMIN_URL or the default (once
 * cli_restate_take has run). */
const char *cli_restate_admin(void);
/* `ecl fork --engine restate ID --from N [--wait]`. */
int cli_fork_restate(cli *c, const char *id, int from);
/* `ecl pause --engine restate` (resume 0) and `ecl resume --engine restate [--wait]` (1). */
int cli_pause_restate(cli *c, int resume);
/* `ecl answer --engine restate`: the n fields of the answer to run id's human step. */
int cli_answer_restate(cli *c, const char *id, const char *const *names, const char *const *values,
		       int n);

/* Print "Fields: ..." with what the answer to a human step takes (answer.c); nothing when
 * the step is not a human step of one of c's workflows. */
void cli_print_answer_fields(const cli *c, const char *workflow, const char *step);

/* Print len bytes of text from outside the program on f: as they are, but on a terminal
 * with control characters escaped (`\e`, `\r`, `\x07`), lest the terminal obey them. */
void cli_print_text(FILE *f, const char *text, size_t len);

/* JSON output (common.c). */
/* Add "limits": [{step, counter, count, limit}] of a run's loop limits to obj. */
void cli_json_limits(cJSON *obj, const ecl_run_info *info);
/* Add name to obj: text as a string, or null when text is NULL. The item added (owned by
 * obj), or NULL when memory ran out. */
cJSON *cli_json_text(cJSON *obj, const char *name, const char *text);

/* The cost of tokens of a run's provider and model by the config file's [prices]
 * (c->opts.prices, set by cli_open): 1 with *cost set; 0 when there is no price, with why
 * saying so ("no price for openai/gpt-x in the config file's [prices]") (providers.c). */
int cli_cost(const cli *c, const char *provider, const char *model, long long tokens_in,
	     long long tokens_out, double *cost, char *why, size_t whylen);
/* Add "cost" (a number, or null with "cost_note" saying why) to obj. */
void cli_json_cost(const cli *c, cJSON *obj, const char *provider, const char *model,
		   long long tokens_in, long long tokens_out);
/* The cost as text: "0.0123" or "unknown: <why>" into out. */
const char *cli_cost_text(const cli *c, const char *provider, const char *model,
			  long long tokens_in, long long tokens_out, char *out, size_t len);
/* Print JSON indented by two spaces, with a newline: 0, or 1 when memory ran out (said on
 * stderr; nothing is printed then). */
int cli_print_json(const cJSON *json);
/* Print a stored JSON text (a run's output) as cli_print_json does, or as it is when it is not
 * JSON, `null` for NULL; 0 or 1 as cli_print_json. */
int cli_print_stored_json(const char *text);

/* Drive a run with progress and report how it ended, as `ecl run` and `ecl resume` do;
 * `how` is "started" or "resumed". Returns the exit status: 0, 1, 130, or 3 when another
 * live process drives the run. */
int cli_drive_run(cli *c, const char *id, const char *how);

/* Whether text (a run's status as the library gives it, or NULL) is the text of status. */
static inline int cli_status_is(const char *text, ecl_run_status status)
{
	return text && strcmp(text, ecl_run_status_name(status)) == 0;
}

#endif /* ECL_CLI_H */
