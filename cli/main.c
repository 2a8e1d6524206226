/*
 * main.c - ecl_main, the whole command line of ecl for any table of workflows: global
 * options (common.c opens the engine they configure) and dispatch to the subcommands. The
 * `ecl` program (ecl.c) calls it with the bundled workflows, a user's program with its own.
 * It uses only the runtime's public header.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The program's name in usage texts: ecl, or the basename of a user program's argv[0]. */
static const char *prog = "ecl";

static const char usage_text[] =
	" [global options] <command> [arguments]\n"
	"\n"
	"commands:\n"
	"  list [--detailed] [-o json]       the workflows compiled into this program\n"
	"  run <workflow> [inputs] [--queue [--wait]]\n"
	"                                    start a run and drive it to its end (--queue:\n"
	"                                    store it for a worker)\n"
	"  resume <run-id>                   continue an interrupted run from its checkpoint\n"
	"  status <run-id> [-o text|json]    the state of a run\n"
	"  pause <run-id>                    stop a run at its next transition (resumable)\n"
	"  cancel <run-id>                   end a run as cancelled\n"
	"  runs [--status S,..] [--workflow W] [--limit N|--all] [-o json]\n"
	"                                    list runs, newest first\n"
	"  history <run-id> [--full] [-o json]  every transition; --full adds prompts, answers\n"
	"  fork <run-id> --from <checkpoint> a new run from checkpoint N of another\n"
	"                                    (ecl history shows the numbers)\n"
	"  recover                           resume every interrupted or queued run nobody drives\n"
	"  prune --older-than AGE [--status S,..] [--dry-run]\n"
	"                                    delete finished runs at least AGE old (30d, 12h,\n"
	"                                    0s for all) and reclaim the space\n"
	"  stats [--workflow W] [--since 7d] [-o json]\n"
	"                                    per workflow: statuses, success, latency, tokens\n"
	"  batch FILE.jsonl --workflow ID [--concurrency N] [--queue]\n"
	"                                    one run per line of inputs, N at a time, and a\n"
	"                                    JSON summary (--queue: store them for workers)\n"
	"  worker [--concurrency N] [--workflows A,B] [--exit-when-idle]\n"
	"                                    drive queued runs and those whose driver died\n"
	"  workers [-o json]                 the workers, live or stale, and the runs they hold\n"
	"  providers [-o json]               the provider settings and where each comes from\n"
	"  answer <run-id> --set FIELD=VALUE ... [--no-wait]\n"
	"                                    answer a waiting run's question, then drive it on\n"
	"  graph <workflow> [--format mermaid|dot|json]\n"
	"                                    print a workflow's state machine\n"
	"  serve [--port 9080] [--register ADMIN-URL]\n"
	"                                    every workflow as a Restate service endpoint\n"
	"  run|status|cancel|answer|pause|resume|runs|history|fork --engine restate\n"
	"      [--restate-url URL] [--admin-url URL] [--wait]\n"
	"                                    the same through a Restate server\n";

/* (apart: one string would pass the length C99 compilers must support) */
static const char usage_options[] =
	"\n"
	"inputs of run:\n"
	"  --<input> VALUE                   one input, e.g. --topic \"Benefits of Rust\"\n"
	"  --set NAME=VALUE                  the same, for any input\n"
	"  --input-file FILE.json            a JSON object of inputs\n"
	"  --input-file NAME=PATH            one input, the text of a file\n"
	"\n"
	"global options (before or after the command):\n"
	"  --db PATH                         the run database (default: $ECL_DB, else\n"
	"                                    $XDG_DATA_HOME/ecl/ecl.db or "
	"~/.local/share/ecl/ecl.db)\n"
	"  --provider NAME                   offline (default), scripted, openai, anthropic, "
	"ollama\n"
	"  --script FILE                     scripted provider: the answers\n"
	"  --model NAME, --base-url URL      HTTP providers (keys come from OPENAI_API_KEY,\n"
	"                                    ANTHROPIC_API_KEY)\n"
	"  --api-key-file FILE               HTTP providers: the key, from a file\n"
	"  --api-key KEY                     the same, on the command line (hidden from ps)\n"
	"                                    (flags, then environment, then the config file\n"
	"                                    $XDG_CONFIG_HOME/ecl/config: see ecl providers)\n"
	"  --timeout SECONDS                 per LLM call (default 120)\n"
	"  --connect-timeout SECONDS         to connect to the provider (default 10)\n"
	"  --durability full|normal          fsync every commit (default) or at checkpoints\n"
	"  --max-answer-bytes N              longer LLM answers fail the step (default 1 MiB)\n"
	"  -v, --verbose                     log every transition on stderr\n"
	"  --stream, --no-stream             run, resume: show answers as they arrive\n"
	"  --log-format pretty|compact|json  how logs look\n"
	"  -h, --help                        this text; COMMAND --help, help COMMAND: the\n"
	"                                    command's own; run WORKFLOW --help: its inputs\n"
	"  --version                         the version, ABI and source revision\n";
/* (a string literal of its own: C99 compilers need take no more than 4095 bytes in one) */
static const char usage_trace[] =
	"  --otlp URL                        send traces to this OTLP/HTTP collector\n"
	"                                    (else $OTEL_EXPORTER_OTLP_ENDPOINT)\n"
	"  --trace-content                   traces carry the prompts and answers\n";

void cli_usage(FILE *f)
{
	fprintf(f, "usage: %s", prog);
	fputs(usage_text, f);
	fputs(usage_options, f);
	fputs(usage_trace, f);
}

int cli_error(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* Take a global option at argv[*i] if it is one; 1 when taken, 0 when not, -1 on error. */
static int global_option(cli *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	static const char *const with_value[] = {"--db",
						 "--provider",
						 "--script",
						 "--call-log",
						 "--model",
						 "--base-url",
						 "--timeout",
						 "--durability",
						 "--log-format",
						 "--max-answer-bytes",
						 "--api-key",
						 "--api-key-file",
						 "--connect-timeout",
						 "--otlp"};
	size_t k;

	if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		c->opts.verbose = 1;
		return 1;
	}
	if (strcmp(a, "--trace-content") == 0) {
		c->opts.trace_content = 1;
		return 1;
	}
	if (strcmp(a, "--stream") == 0 || strcmp(a, "--no-stream") == 0) {
		c->stream = a[2] == 's';
		return 1;
	}
	for (k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
		if (strcmp(a, with_value[k]) == 0)
			break;
	if (k == sizeof(with_value) / sizeof(with_value[0]))
		return 0;
	if (!v) {
		cli_error(2, "%s needs a value", a);
		return -1;
	}
	(*i)++;
	if (strcmp(a, "--db") == 0)
		c->opts.db_path = v;
	else if (strcmp(a, "--otlp") == 0) {
		if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
			cli_error(2, "--otlp: `%s` is not an http:// or https:// URL", v);
			return -1;
		}
		c->opts.otlp_endpoint = v;
	} else if (strcmp(a, "--provider") == 0)
		c->opts.provider = v;
	else if (strcmp(a, "--script") == 0)
		c->opts.script_path = v;
	else if (strcmp(a, "--call-log") == 0)
		c->opts.call_log = v;
	else if (strcmp(a, "--model") == 0)
		c->opts.model = v;
	else if (strcmp(a, "--base-url") == 0)
		c->opts.base_url = v;
	else if (strcmp(a, "--api-key") == 0)
		return cli_take_api_key(c, argv[*i], NULL) ? -1 : 1;
	else if (strcmp(a, "--api-key-file") == 0)
		return cli_take_api_key(c, NULL, v) ? -1 : 1;
	else if (strcmp(a, "--timeout") == 0 || strcmp(a, "--connect-timeout") == 0) {
		long ms;

		if (cli_parse_seconds(v, &ms) != 0) {
			cli_error(2, "%s: `%s` is not a duration in seconds from 0.001 to %ld", a,
				  v, CLI_SECONDS_MAX);
			return -1;
		}
		if (a[2] == 't')
			c->timeout_flag = v;
		else
			c->connect_timeout_flag = v;
	} else if (strcmp(a, "--max-answer-bytes") == 0) {
		long long n;

		if (cli_parse_count(
			    v, 1, (long long)(SIZE_MAX / 2 < LLONG_MAX ? SIZE_MAX / 2 : LLONG_MAX),
			    &n) != 0) {
			cli_error(2, "--max-answer-bytes: `%s` is not a positive number of bytes",
				  v);
			return -1;
		}
		c->opts.max_answer_bytes = (size_t)n;
	} else if (strcmp(a, "--durability") == 0) {
		if (strcmp(v, "full") == 0)
			c->opts.durability = ECL_DURABLE_FULL;
		else if (strcmp(v, "normal") == 0)
			c->opts.durability = ECL_DURABLE_NORMAL;
		else {
			cli_error(2, "--durability: `%s` is not full or normal", v);
			return -1;
		}
	} else if (strcmp(a, "--log-format") == 0) {
		if (strcmp(v, "pretty") == 0)
			c->opts.log_format = ECL_LOG_PRETTY;
		else if (strcmp(v, "compact") == 0)
			c->opts.log_format = ECL_LOG_COMPACT;
		else if (strcmp(v, "json") == 0)
			c->opts.log_format = ECL_LOG_JSON;
		else {
			cli_error(2, "--log-format: `%s` is not pretty, compact or json", v);
			return -1;
		}
	}
	return 1;
}

/* Each command with its own help (`ecl COMMAND --help`, `ecl help COMMAND`). */
static const struct {
	const char *name;
	int (*fn)(cli *c);
	const char *help;
} commands[] = {
	{"list", cmd_list,
	 "list [--detailed|-d] [-o text|json]\n"
	 "  The workflows compiled into this program: id and name; --detailed adds each\n"
	 "  one's description, inputs, steps, loop bounds and usage line (as JSON: eclc's\n"
	 "  description, with the JSON Schema each LLM step asks its answer in).\n"},
	{"run", cmd_run,
	 "run WORKFLOW [inputs] [--queue [--wait]] [--engine restate [--restate-url URL] "
	 "[--wait]]\n"
	 "  Start a run of WORKFLOW and drive it to its end, with progress on a terminal.\n"
	 "  --queue stores it for a worker (ecl worker) and prints its id; --wait then waits\n"
	 "  for it to end and reports as run does.\n"
	 "  Inputs:\n"
	 "    --NAME VALUE, --NAME=VALUE    one input (`-` may stand for `_` in NAME)\n"
	 "    --set NAME=VALUE              the same, for any input\n"
	 "    --input-file FILE.json        a JSON object of inputs\n"
	 "    --input-file NAME=PATH        one input, the text of a file\n"
	 "  `run WORKFLOW --help` lists the workflow's inputs, their types and defaults.\n"},
	{"resume", cmd_resume,
	 "resume RUN-ID [--engine restate [--restate-url URL] [--wait]]\n"
	 "  Continue an interrupted or paused run from its last checkpoint.\n"},
	{"status", cmd_status,
	 "status RUN-ID [-o text|json] [--engine restate [--restate-url URL]]\n"
	 "  The state of a run: status, step, tokens, output or error, a waiting question.\n"},
	{"pause", cmd_pause,
	 "pause RUN-ID [--engine restate [--restate-url URL]]\n"
	 "  Stop a run at its next transition; `resume` continues it.\n"},
	{"cancel", cmd_cancel,
	 "cancel RUN-ID [--engine restate [--admin-url URL]]\n"
	 "  End a run as cancelled; it cannot be resumed.\n"},
	{"runs", cmd_runs,
	 "runs [--status S,..] [--workflow W] [--limit N|--all] [-o json]\n"
	 "  List runs, newest first (50 unless --limit or --all).\n"},
	{"history", cmd_history,
	 "history RUN-ID [--full] [-o json]\n"
	 "  Every transition of a run; --full adds the prompts and answers.\n"},
	{"fork", cmd_fork,
	 "fork RUN-ID --from CHECKPOINT [--engine restate [--admin-url URL] [--wait]]\n"
	 "  Start a new run from checkpoint number CHECKPOINT of another run (ecl history\n"
	 "  shows the numbers); the other run is left as it is.\n"},
	{"recover", cmd_recover,
	 "recover\n"
	 "  Resume every interrupted or queued run that no live process drives.\n"},
	{"prune", cmd_prune,
	 "prune --older-than AGE [--status S,..] [--workflow W] [--dry-run]\n"
	 "  Delete finished runs last changed at least AGE ago (30d, 12h, 0s for all) and\n"
	 "  reclaim the space; --dry-run only counts them.\n"},
	{"stats", cmd_stats,
	 "stats [--workflow W] [--since AGE] [-o json]\n"
	 "  Per workflow: runs by status, success rate, steps and limits per run, p50, p95\n"
	 "  and p99 of step and LLM latency, tokens; of the runs started AGE ago (7d) or later.\n"},
	{"batch", cmd_batch,
	 "batch FILE.jsonl --workflow ID [--concurrency N|-j N] [--queue]\n"
	 "  One run per line of inputs (a JSON object each), N at a time; prints a JSON\n"
	 "  summary. --queue stores one queued run per line for workers (ecl worker) and\n"
	 "  prints their ids.\n"},
	{"worker", cmd_worker,
	 "worker [--concurrency N|-j N] [--workflows A,B] [--poll SECONDS] [--lease SECONDS]\n"
	 "       [--exit-when-idle]\n"
	 "  Drive the queued runs (run --queue, batch --queue) and those whose driver died,\n"
	 "  N at a time, until a signal (the first lets the runs in flight finish, a second\n"
	 "  interrupts them). Workers on one PostgreSQL database share its queue.\n"},
	{"workers", cmd_workers,
	 "workers [-o json]\n"
	 "  The workers of the database: id (host/pid/nonce, as `runs` names the holder of\n"
	 "  a run), live or stale (no heartbeat for 3 lease periods: killed, or hung), the\n"
	 "  runs each holds of its concurrency, when it started, its last heartbeat and the\n"
	 "  workflows it takes.\n"},
	{"providers", cmd_providers,
	 "providers [-o json]\n"
	 "  The provider settings and where each comes from (flag, environment, config).\n"},
	{"answer", cmd_answer,
	 "answer RUN-ID --set FIELD=VALUE ... [--no-wait] [--engine restate]\n"
	 "  Answer a waiting run's question (its human step), then drive it on unless\n"
	 "  --no-wait.\n"},
	{"graph", cmd_graph,
	 "graph WORKFLOW [--format mermaid|dot|json]\n"
	 "  Print a workflow's state machine.\n"},
	{"serve", cmd_serve,
	 "serve [--port 9080] [--bind ADDR] [--register ADMIN-URL] [--advertise URL]\n"
	 "  Serve every workflow as a Restate service endpoint; --register registers it\n"
	 "  with the Restate server at ADMIN-URL.\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

#ifndef ECL_GIT_DESCRIBE
#define ECL_GIT_DESCRIBE "" /* set by the build from `git describe`, when it can */
#endif

/* A user's program says whose version it prints: "myapp: ecl 0.1.0 (...)". */
static void version(void)
{
	int other = strcmp(prog, "ecl") != 0;

	printf("%s%secl %s (libecl %s, ABI %d%s%s)\n", other ? prog : "", other ? ": " : "",
	       ECL_VERSION, ecl_version(), ECL_ABI_VERSION, *ECL_GIT_DESCRIBE ? ", git " : "",
	       ECL_GIT_DESCRIBE);
}

/* `COMMAND --help` and `help COMMAND`; `run WORKFLOW --help` lists the workflow's inputs. */
static int command_help(cli *c, const char *command)
{
	size_t k;

	for (k = 0; k < NCOMMANDS; k++)
		if (strcmp(command, commands[k].name) == 0)
			break;
	if (k == NCOMMANDS)
		return cli_error(2, "unknown command `%s` (try %s --help)", command, prog);
	if (strcmp(command, "run") == 0 && c->nargs > 0 && c->args[0][0] != '-') {
		const ecl_workflow *wf =
			ecl_workflow_find(c->opts.workflows, c->opts.nworkflows, c->args[0]);

		if (!wf)
			return cli_error(2, "unknown workflow `%s` (%s list shows the workflows)",
					 c->args[0], prog);
		cli_print_workflow_help(wf, prog);
		return 0;
	}
	printf("usage: %s [global options] %s", prog, commands[k].help);
	printf("(global options: %s --help)\n", prog);
	return 0;
}

int ecl_main(int argc, char **argv, const ecl_workflow *const *workflows, size_t nworkflows)
{
	cli c;
	const char *command = NULL, *slash;
	size_t k;
	int i, help = 0;

	if (argc > 0 && argv[0] && *argv[0]) {
		slash = strrchr(argv[0], '/');
		prog = slash ? slash + 1 : argv[0];
	}
	memset(&c, 0, sizeof(c));
	c.prog = prog;
	cli_guard_secrets(); /* a key in the environment is held from the start */
	c.opts.log_stream = stderr;
	c.stream = -1;
	c.opts.workflows = workflows;
	c.opts.nworkflows = nworkflows;
	c.args = calloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof(*c.args));
	if (!c.args)
		return cli_error(1, "out of memory");
	/* Global options may stand anywhere; the rest is the command and its arguments. */
	for (i = 1; i < argc; i++) {
		int taken;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			help = 1;
			continue;
		}
		if (strcmp(argv[i], "--version") == 0 && !command) {
			version();
			free(c.args);
			return 0;
		}
		taken = global_option(&c, argc, argv, &i);
		if (taken < 0) {
			free(c.args);
			return 2;
		}
		if (taken)
			continue;
		if (!command)
			command = argv[i];
		else
			c.args[c.nargs++] = argv[i];
	}
	if (command && strcmp(command, "help") == 0) {
		if (c.nargs == 0) {
			cli_usage(stdout);
			free(c.args);
			return 0;
		}
		command = c.args[0];
		c.args++;
		c.nargs--;
		i = command_help(&c, command);
		free(c.args - 1);
		return i;
	}
	if (help) {
		i = command ? command_help(&c, command) : (cli_usage(stdout), 0);
		free(c.args);
		return i;
	}
	if (!command) {
		cli_usage(stderr);
		free(c.args);
		return 2;
	}
	for (k = 0; k < NCOMMANDS; k++) {
		if (strcmp(command, commands[k].name) == 0) {
			int rc = commands[k].fn(&c);

			free(c.args);
			return rc;
		}
	}
	free(c.args);
	return cli_error(2, "unknown command `%s` (try %s --help)", command, prog);
}
