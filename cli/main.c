/*
 * main.c - the ecl command: global options, the engine they configure, and dispatch to the
 * subcommands. It uses only the runtime's public header.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char usage_text[] =
	"usage: ecl [global options] <command> [arguments]\n"
	"\n"
	"commands:\n"
	"  list [--detailed]                 the workflows compiled into ecl\n"
	"  run <workflow> [inputs]           start a run and drive it to its end\n"
	"  resume <run-id>                   continue an interrupted run from its checkpoint\n"
	"  status <run-id> [-o text|json]    the state of a run\n"
	"  pause <run-id>                    stop a run at its next transition (resumable)\n"
	"  cancel <run-id>                   end a run as cancelled\n"
	"  runs [--status S,..] [--workflow W] [--limit N|--all] [-o json]\n"
	"                                    list runs, newest first\n"
	"  history <run-id> [--full] [-o json]  every transition; --full adds prompts, answers\n"
	"  fork <run-id> --from <checkpoint> a new run from checkpoint N of another\n"
	"                                    (ecl history shows the numbers)\n"
	"  recover                           resume every interrupted run nobody drives\n"
	"  prune --older-than AGE [--status S,..] [--dry-run]\n"
	"                                    delete finished runs at least AGE old (30d, 12h,\n"
	"                                    0s for all) and reclaim the space\n"
	"  batch FILE.jsonl --workflow ID [--concurrency N]\n"
	"                                    one run per line of inputs, N at a time, and a\n"
	"                                    JSON summary\n"
	"  providers [-o json]               the provider settings and where each comes from\n"
	"  answer <run-id> --set FIELD=VALUE ... [--no-wait]\n"
	"                                    answer a waiting run's question, then drive it on\n"
	"  graph <workflow> [--format mermaid|dot|json]\n"
	"                                    print a workflow's state machine\n"
	"  serve [--port 9080] [--register ADMIN-URL]\n"
	"                                    every workflow as a Restate service endpoint\n"
	"  run|status|cancel|answer --engine restate [--restate-url URL] [--admin-url URL]\n"
	"                   [--wait]         the same through a Restate server\n"
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
	"  --log-format pretty|compact|json  how logs look\n"
	"  -h, --help                        this text\n";

void cli_usage(FILE *f)
{
	fputs(usage_text, f);
}

int cli_error(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("ecl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* mkdir -p for the directory part of path. */
static int make_parent_dirs(const char *path)
{
	char dir[4096];
	char *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int cli_default_db(cli *c)
{
	const char *env = getenv("ECL_DB"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (env && *env)
		snprintf(c->db_buf, sizeof(c->db_buf), "%s", env);
	else if (xdg && *xdg)
		snprintf(c->db_buf, sizeof(c->db_buf), "%s/ecl/ecl.db", xdg);
	else if (home && *home)
		snprintf(c->db_buf, sizeof(c->db_buf), "%s/.local/share/ecl/ecl.db", home);
	else
		return cli_error(2, "no database: give --db PATH (neither HOME nor XDG_DATA_HOME "
				    "is set)");
	c->opts.db_path = c->db_buf;
	return 0;
}

int cli_open(cli *c, ecl_engine **out)
{
	char err[1024] = "";
	int rc;

	if (!c->opts.db_path && (rc = cli_default_db(c)) != 0)
		return rc;
	if (make_parent_dirs(c->opts.db_path) != 0)
		return cli_error(1, "cannot create the directory of %s: %s", c->opts.db_path,
				 strerror(errno));
	if ((rc = cli_configure(c)) != 0)
		return rc;
	rc = ecl_engine_open(&c->opts, out, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	return 0;
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
						 "--connect-timeout"};
	size_t k;

	if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		c->opts.verbose = 1;
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
	else if (strcmp(a, "--provider") == 0)
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

static const struct {
	const char *name;
	int (*fn)(cli *c);
} commands[] = {
	{"list", cmd_list},           {"run", cmd_run},         {"resume", cmd_resume},
	{"status", cmd_status},       {"pause", cmd_pause},     {"cancel", cmd_cancel},
	{"runs", cmd_runs},           {"history", cmd_history}, {"fork", cmd_fork},
	{"recover", cmd_recover},     {"prune", cmd_prune},     {"batch", cmd_batch},
	{"providers", cmd_providers}, {"answer", cmd_answer},   {"graph", cmd_graph},
	{"serve", cmd_serve},
};

int main(int argc, char **argv)
{
	cli c;
	const char *command = NULL;
	size_t k;
	int i;

	memset(&c, 0, sizeof(c));
	cli_guard_secrets(); /* a key in the environment is held from the start */
	c.opts.log_stream = stderr;
	c.opts.workflows = ecl_workflows;
	c.opts.nworkflows = ecl_nworkflows;
	c.args = calloc((size_t)argc + 1, sizeof(*c.args));
	if (!c.args)
		return cli_error(1, "out of memory");
	/* Global options may stand anywhere; the rest is the command and its arguments. */
	for (i = 1; i < argc; i++) {
		int taken;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_usage(stdout);
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
	if (!command) {
		cli_usage(stderr);
		free(c.args);
		return 2;
	}
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(command, commands[k].name) == 0) {
			int rc = commands[k].fn(&c);

			free(c.args);
			return rc;
		}
	}
	free(c.args);
	return cli_error(2, "unknown command `%s` (try ecl --help)", command);
}
