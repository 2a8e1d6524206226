/*
 * providers.c - where the provider settings come from, and `ecl providers`.
 *
 * Each setting (provider, model, base URL, API key, timeouts) is taken from the first of:
 * a command-line flag, the environment, the config file, the built-in default. The config
 * file is $XDG_CONFIG_HOME/ecl/config (else ~/.config/ecl/config, or $ECL_CONFIG), lines of
 * `key = value`, `#` comments, and `[openai]`, `[anthropic]`, `[ollama]` sections whose keys
 * apply to that provider only:
 *
 *     provider = openai
 *     [openai]
 *     model = gpt-4o-mini
 *     api_key_file = ~/.config/ecl/openai.key
 *
 * Keys are only ever shown masked, and a key given with --api-key is wiped from the
 * process's arguments (what `ps` shows) as soon as it has been read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define VALUE_MAX 4096

typedef struct setting {
	char value[VALUE_MAX];
	char source[VALUE_MAX + 64]; /* "flag --model", "env OPENAI_API_KEY", "FILE:LINE" */
	int set;
} setting;

enum { S_PROVIDER, S_MODEL, S_BASE_URL, S_API_KEY, S_TIMEOUT, S_CONNECT_TIMEOUT, S_COUNT };

static const char *const setting_names[S_COUNT] = {"provider", "model",   "base_url",
						   "api_key",  "timeout", "connect_timeout"};

/* What the config file says: top level, then one block per HTTP provider. */
enum { C_TOP, C_OPENAI, C_ANTHROPIC, C_OLLAMA, C_COUNT };
static const char *const sections[C_COUNT] = {"", "openai", "anthropic", "ollama"};

typedef struct config {
	char path[VALUE_MAX];
	int found;
	setting s[C_COUNT][S_COUNT];
} config;

/* The settings in effect, for cli_open and `ecl providers`. */
static setting resolved[S_COUNT];
/* The config file's [prices] section: `provider/model = INPUT OUTPUT`, per million tokens. */
#define PRICES_MAX 256
static char price_names[PRICES_MAX][2][256];
static char price_source[PRICES_MAX][VALUE_MAX + 32];
static ecl_price prices[PRICES_MAX];
static size_t nprices;

/* Read one line of [prices]: 0, or the exit status after saying what is wrong. */
static int price_line(const char *path, int no, const char *key, size_t klen, const char *v)
{
	const char *slash = memchr(key, '/', klen);
	char *end;
	double in, out;

	if (!slash || slash == key || slash == key + klen - 1 || klen >= 256)
		return cli_error(2,
				 "%s:%d: a price is written provider/model = INPUT OUTPUT, not "
				 "`%.*s`",
				 path, no, (int)klen, key);
	in = strtod(v, &end);
	if (end == v || (*end != ' ' && *end != '\t') || in < 0 || in != in)
		goto bad;
	v = end;
	out = strtod(v, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == v || *end || out < 0 || out != out || in > 1e12 || out > 1e12)
		goto bad;
	if (nprices == PRICES_MAX)
		return cli_error(2, "%s:%d: more than %d prices", path, no, PRICES_MAX);
	snprintf(price_names[nprices][0], 256, "%.*s", (int)(slash - key), key);
	snprintf(price_names[nprices][1], 256, "%.*s", (int)(key + klen - slash - 1), slash + 1);
	snprintf(price_source[nprices], sizeof(price_source[0]), "%s:%d", path, no);
	prices[nprices].provider = price_names[nprices][0];
	prices[nprices].model = price_names[nprices][1];
	prices[nprices].input = in;
	prices[nprices].output = out;
	nprices++;
	return 0;
bad:
	return cli_error(2,
			 "%s:%d: the price of %.*s is two numbers, per million input and "
			 "output tokens (`0.15 0.60`), not `%s`",
			 path, no, (int)klen, key, v);
}

/* The config file's otlp_endpoint (top level): where traces go when neither --otlp nor the
 * OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables say. */
static setting config_otlp;

static void put(setting *s, const char *value, size_t len, const char *fmt, const char *what,
		int line)
{
	char source[sizeof(s->source)]; /* `what` may live in the same config as s */

	if (len >= sizeof(s->value))
		len = sizeof(s->value) - 1;
	memcpy(s->value, value, len);
	s->value[len] = '\0';
	if (line)
		snprintf(source, sizeof(source), fmt, what, line);
	else
		snprintf(source, sizeof(source), fmt, what);
	memcpy(s->source, source, sizeof(source));
	s->set = 1;
}

void cli_hold_secret(void)
{
	/* No core file (whose default size can be large and which the key would be in, as
	 * given and as "Bearer ..."), no ptrace by other processes of the user, /proc/PID/mem
	 * and environ readable by root only. For the rest of the process: a key once held may
	 * stay in freed memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void cli_guard_secrets(void)
{
	static const char *const vars[] = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			cli_hold_secret();
	}
}

/* Read a key from a file: its first line, without the line break. 0, or an exit status. */
static int read_key_file(const char *path, setting *s, const char *source)
{
	FILE *f;
	char line[VALUE_MAX];
	size_t len;

	if (path[0] == '~' && path[1] == '/' && getenv("HOME")) {
		char full[VALUE_MAX];

		snprintf(full, sizeof(full), "%s%s", getenv("HOME"), path + 1);
		return read_key_file(full, s, source);
	}
	f = fopen(path, "r");
	if (!f)
		return cli_error(2, "%s: cannot read the key file %s: %s", source, path,
				 strerror(errno));
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	len = strcspn(line, "\r\n");
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return cli_error(2, "%s: the key file %s is empty", source, path);
	cli_hold_secret();
	put(s, line, len, "%s", source, 0);
	memset(line, 0, sizeof(line));
	return 0;
}

static int section_index(const char *name, size_t len)
{
	int i;

	for (i = 1; i < C_COUNT; i++)
		if (strlen(sections[i]) == len && strncmp(sections[i], name, len) == 0)
			return i;
	return -1;
}

static void config_path(config *cf)
{
	cli_user_path(cf->path, sizeof(cf->path), "ECL_CONFIG", "XDG_CONFIG_HOME", ".config",
		      "config");
}

/* Parse the config file; a missing file is no error. 0, or an exit status. */
static int config_read(config *cf)
{
	char line[VALUE_MAX + 256];
	int no = 0, sec = C_TOP, rc = 0;
	FILE *f;

	config_path(cf);
	nprices = 0; /* read again for each resolve */
	memset(&config_otlp, 0, sizeof(config_otlp));
	if (!cf->path[0])
		return 0;
	f = fopen(cf->path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return cli_error(2, "cannot read the config file %s: %s", cf->path,
				 strerror(errno));
	}
	cf->found = 1;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *p = line, *eq, *k_end, *v;
		size_t len = strcspn(line, "\r\n");
		int k;

		no++;
		if (line[len] == '\0' && !feof(f)) {
			rc = cli_error(2, "%s:%d: the line is too long", cf->path, no);
			break;
		}
		line[len] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *close = strchr(p, ']');

			if (!close || close[1]) {
				rc = cli_error(2, "%s:%d: a section is written [name]", cf->path,
					       no);
				break;
			}
			sec = section_index(p + 1, (size_t)(close - p - 1));
			if (close - p - 1 == 6 && strncmp(p + 1, "prices", 6) == 0)
				sec = C_COUNT; /* not a provider's: read apart */
			if (sec < 0) {
				rc = cli_error(2,
					       "%s:%d: unknown section [%.*s] (known: openai, "
					       "anthropic, ollama, prices)",
					       cf->path, no, (int)(close - p - 1), p + 1);
				break;
			}
			continue;
		}
		eq = strchr(p, '=');
		if (!eq) {
			rc = cli_error(2, "%s:%d: expected `key = value`", cf->path, no);
			break;
		}
		k_end = eq;
		while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'))
			k_end--;
		v = eq + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '"' && len > 1 && line[len - 1] == '"' && &line[len - 1] > v) {
			v++;
			line[--len] = '\0';
		}
		if (sec == C_COUNT) {
			rc = price_line(cf->path, no, p, (size_t)(k_end - p), v);
			continue;
		}
		if ((size_t)(k_end - p) == strlen("otlp_endpoint") &&
		    strncmp(p, "otlp_endpoint", 13) == 0 && sec == C_TOP) {
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
				rc = cli_error(2,
					       "%s:%d: otlp_endpoint `%s` is not an http:// or "
					       "https:// URL",
					       cf->path, no, v);
				break;
			}
			put(&config_otlp, v, strlen(v), "%s:%d", cf->path, no);
			continue;
		}
		if ((size_t)(k_end - p) == strlen("api_key_file") &&
		    strncmp(p, "api_key_file", 12) == 0) {
			char source[VALUE_MAX + 32];

			snprintf(source, sizeof(source), "%s:%d", cf->path, no);
			rc = read_key_file(v, &cf->s[sec][S_API_KEY], source);
			continue;
		}
		for (k = 0; k < S_COUNT; k++)
			if ((size_t)(k_end - p) == strlen(setting_names[k]) &&
			    strncmp(p, setting_names[k], (size_t)(k_end - p)) == 0)
				break;
		if (k == S_COUNT || (k == S_PROVIDER && sec != C_TOP)) {
			rc = cli_error(2,
				       "%s:%d: unknown key `%.*s` (known: provider, model, "
				       "base_url, api_key, api_key_file, timeout, "
				       "connect_timeout, otlp_endpoint; provider and "
				       "otlp_endpoint only outside sections)",
				       cf->path, no, (int)(k_end - p), p);
			break;
		}
		if (!*v) {
			rc = cli_error(2, "%s:%d: `%s` has no value", cf->path, no,
				       setting_names[k]);
			break;
		}
		if (k == S_API_KEY)
			cli_hold_secret();
		put(&cf->s[sec][k], v, strlen(v), "%s:%d", cf->path, no);
	}
	fclose(f);
	memset(line, 0, sizeof(line));
	return rc;
}

/* The environment variable of a setting for a provider, or NULL. */
static const char *env_name(int k, const char *provider)
{
	switch (k) {
	case S_PROVIDER: return "ECL_PROVIDER";
	case S_MODEL: return "ECL_MODEL";
	case S_API_KEY:
		if (!strcmp(provider, "openai"))
			return "OPENAI_API_KEY";
		if (!strcmp(provider, "anthropic"))
			return "ANTHROPIC_API_KEY";
		return NULL;
	case S_BASE_URL:
		if (!strcmp(provider, "openai"))
			return "OPENAI_BASE_URL";
		if (!strcmp(provider, "anthropic"))
			return "ANTHROPIC_BASE_URL";
		if (!strcmp(provider, "ollama"))
			return "OLLAMA_HOST";
		return NULL;
	default: return NULL;
	}
}

static const char *flag_value(const cli *c, int k)
{
	switch (k) {
	case S_PROVIDER: return c->flags_taken ? c->flag_provider : c->opts.provider;
	case S_MODEL: return c->flags_taken ? c->flag_model : c->opts.model;
	case S_BASE_URL: return c->flags_taken ? c->flag_base_url : c->opts.base_url;
	case S_API_KEY: return c->api_key_flag[0] ? c->api_key_flag : NULL;
	case S_TIMEOUT: return c->timeout_flag;
	case S_CONNECT_TIMEOUT: return c->connect_timeout_flag;
	default: return NULL;
	}
}

static const char *const flag_names[S_COUNT] = {"--provider", "--model",   "--base-url",
						"--api-key",  "--timeout", "--connect-timeout"};

/* The setting stored with the run being resumed, or NULL: its model and base URL only while
 * the provider in effect is the run's. */
static const char *run_value(const cli *c, int k, const char *provider)
{
	const char *v = k == S_PROVIDER   ? c->run_provider
			: k == S_MODEL    ? c->run_model
			: k == S_BASE_URL ? c->run_base_url
					  : "";

	if (!c->run_provider[0] || !v[0] ||
	    (k != S_PROVIDER && strcmp(provider, c->run_provider) != 0))
		return NULL;
	return v;
}

/* Resolve every setting for the provider in effect into `resolved`. */
static int resolve(cli *c, config *cf)
{
	const char *provider;
	int k, sec, rc;

	memset(resolved, 0, sizeof(resolved)); /* resolved again for each run resumed */
	if ((rc = config_read(cf)) != 0)
		return rc;
	for (k = 0; k < S_COUNT; k++) {
		const char *flag, *env, *envv, *runv;

		provider = resolved[S_PROVIDER].set ? resolved[S_PROVIDER].value : "offline";
		flag = flag_value(c, k);
		if (flag) {
			if (k == S_API_KEY && c->api_key_file)
				put(&resolved[k], flag, strlen(flag), "flag --api-key-file %s",
				    c->api_key_file, 0);
			else
				put(&resolved[k], flag, strlen(flag), "flag %s", flag_names[k], 0);
			continue;
		}
		if ((runv = run_value(c, k, provider)) != NULL) {
			put(&resolved[k], runv, strlen(runv), "%s", "the run", 0);
			continue;
		}
		env = env_name(k, provider);
		envv = env ? getenv(env) : NULL;
		if (envv && *envv) {
			put(&resolved[k], envv, strlen(envv), "env %s", env, 0);
			if (k == S_BASE_URL && !strcmp(env, "OLLAMA_HOST") &&
			    !strstr(envv, "://")) {
				/* OLLAMA_HOST is host[:port], as ollama itself reads it */
				char url[VALUE_MAX];

				snprintf(url, sizeof(url), "http://%s", envv);
				put(&resolved[k], url, strlen(url), "env %s", env, 0);
			}
			continue;
		}
		sec = section_index(provider, strlen(provider));
		if (sec > 0 && cf->s[sec][k].set)
			resolved[k] = cf->s[sec][k];
		else if (cf->s[C_TOP][k].set)
			resolved[k] = cf->s[C_TOP][k];
	}
	return 0;
}

static int seconds(const setting *s, const char *name, long *ms)
{
	if (cli_parse_seconds(s->value, ms) != 0)
		return cli_error(2, "%s: %s `%s` is not a duration in seconds from 0.001 to %ld",
				 s->source, name, s->value, CLI_SECONDS_MAX);
	return 0;
}

/* Clear the settings read from the config file (a key may be among them), and only those:
 * the config is 200 KB, and writing all of it cost a page fault per 4 KiB at every start. */
static void wipe(config *cf)
{
	int sec, k;

	for (sec = 0; sec < C_COUNT; sec++)
		for (k = 0; k < S_COUNT; k++)
			if (cf->s[sec][k].set)
				memset(&cf->s[sec][k], 0, sizeof(cf->s[sec][k]));
}

int cli_configure(cli *c)
{
	config *cf;
	int rc;

	/* c->opts points into `resolved` from the first call on: the flags are kept apart */
	if (!c->flags_taken) {
		c->flag_provider = c->opts.provider;
		c->flag_model = c->opts.model;
		c->flag_base_url = c->opts.base_url;
		c->flags_taken = 1;
	}
	c->opts.provider = c->flag_provider;
	c->opts.model = c->flag_model;
	c->opts.base_url = c->flag_base_url;
	c->opts.api_key = NULL;
	c->opts.timeout_ms = 0;
	c->opts.connect_timeout_ms = 0;
	/* a file named on the command line that cannot be read is a usage error (exit 2), as an
	 * unreadable input file is */
	if (c->opts.script_path && access(c->opts.script_path, R_OK) != 0)
		return cli_error(2, "cannot read the script %s: %s", c->opts.script_path,
				 strerror(errno));
	cf = calloc(1, sizeof(*cf));
	if (!cf)
		return cli_error(1, "out of memory");
	rc = resolve(c, cf);
	wipe(cf);
	free(cf);
	if (rc != 0)
		return rc;
	if (resolved[S_PROVIDER].set)
		c->opts.provider = resolved[S_PROVIDER].value;
	if (resolved[S_MODEL].set)
		c->opts.model = resolved[S_MODEL].value;
	if (resolved[S_BASE_URL].set)
		c->opts.base_url = resolved[S_BASE_URL].value;
	if (resolved[S_API_KEY].set)
		c->opts.api_key = resolved[S_API_KEY].value;
	c->opts.prices = prices;
	c->opts.nprices = nprices;
	/* traces: --otlp, then the OTEL_* variables (read by the runtime), then the file */
	{
		const char *all = getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
			   *traces = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");

		if (!c->opts.otlp_endpoint && config_otlp.set && !(all && *all) &&
		    !(traces && *traces))
			c->opts.otlp_endpoint = config_otlp.value;
	}
	if (resolved[S_TIMEOUT].set &&
	    (rc = seconds(&resolved[S_TIMEOUT], "timeout", &c->opts.timeout_ms)))
		return rc;
	/* a flag given explicitly wins over what the workflow says; the environment and the
	 * config file are defaults, below it */
	c->opts.timeout_overrides = c->timeout_flag != NULL;
	c->opts.model_overrides = c->flag_model != NULL;
	if (resolved[S_CONNECT_TIMEOUT].set &&
	    (rc = seconds(&resolved[S_CONNECT_TIMEOUT], "connect_timeout",
			  &c->opts.connect_timeout_ms)))
		return rc;
	return 0;
}

/* "openai, model M, base URL U", leaving out what is not set. */
static void describe(const char *provider, const char *model, const char *base_url, char *out,
		     size_t len)
{
	snprintf(out, len, "%s%s%s%s%s", provider, model && *model ? ", model " : "",
		 model && *model ? model : "", base_url && *base_url ? ", base URL " : "",
		 base_url && *base_url ? base_url : "");
}

int cli_open_run(cli *c, const char *id, ecl_engine **out)
{
	ecl_options o;
	ecl_engine *peek = NULL;
	ecl_run_info *info = NULL;
	char err[1024];
	int rc;

	c->run_provider[0] = c->run_model[0] = c->run_base_url[0] = '\0';
	if (!c->opts.db_path && (rc = cli_default_db(c)) != 0)
		return rc;
	/* The run's settings, read through an engine that needs none: an error here (no such
	 * run, no database yet) is reported by the open below or by the command. */
	o = c->opts;
	o.provider = "offline";
	o.model = o.base_url = o.api_key = o.script_path = o.call_log = NULL;
	o.on_event = NULL;
	o.interrupt = NULL;
	o.verbose = 0;
	if (access(o.db_path, F_OK) == 0 &&
	    ecl_engine_open(&o, &peek, err, sizeof(err)) == ECL_OK &&
	    ecl_run_info_get(peek, id, &info) == ECL_OK && info->provider &&
	    /* the scripted and fake providers' input (a script) is not stored with the run */
	    strcmp(info->provider, "scripted") != 0 && strcmp(info->provider, "fake") != 0) {
		snprintf(c->run_provider, sizeof(c->run_provider), "%s", info->provider);
		snprintf(c->run_model, sizeof(c->run_model), "%s", info->model ? info->model : "");
		snprintf(c->run_base_url, sizeof(c->run_base_url), "%s",
			 info->base_url ? info->base_url : "");
	}
	ecl_run_info_free(info);
	ecl_engine_close(peek);
	if ((rc = cli_open(c, out)) != 0)
		return rc;
	if (c->run_provider[0] && (c->flag_provider || c->flag_model || c->flag_base_url) &&
	    (strcmp(c->opts.provider ? c->opts.provider : "offline", c->run_provider) != 0 ||
	     strcmp(c->opts.model ? c->opts.model : "", c->run_model) != 0 ||
	     strcmp(c->opts.base_url ? c->opts.base_url : "", c->run_base_url) != 0)) {
		char was[3000], now[3000];

		describe(c->run_provider, c->run_model, c->run_base_url, was, sizeof(was));
		describe(c->opts.provider ? c->opts.provider : "offline", c->opts.model,
			 c->opts.base_url, now, sizeof(now));
		fprintf(stderr,
			"ecl: run %s was started with %s; it goes on with %s, as the flags say\n",
			id, was, now);
	}
	return 0;
}

int cli_take_api_key(cli *c, char *arg, const char *file)
{
	if (file) {
		setting s;
		int rc;

		memset(&s, 0, sizeof(s));
		rc = read_key_file(file, &s, "--api-key-file");
		if (rc != 0)
			return rc;
		snprintf(c->api_key_flag, sizeof(c->api_key_flag), "%s", s.value);
		memset(&s, 0, sizeof(s));
		c->api_key_file = file;
		return 0;
	}
	if (strlen(arg) >= sizeof(c->api_key_flag))
		return cli_error(2, "--api-key: the key is too long");
	cli_hold_secret();
	snprintf(c->api_key_flag, sizeof(c->api_key_flag), "%s", arg);
	memset(arg, '*', strlen(arg)); /* not in what ps shows from here on */
	c->api_key_file = NULL;
	return 0;
}

/* A key as it may be shown: its length and last four characters at most. */
static void mask(const char *key, char *out, size_t outlen)
{
	size_t len = strlen(key);

	if (len >= 16)
		snprintf(out, outlen, "****%s (%zu characters)", key + len - 4, len);
	else
		snprintf(out, outlen, "**** (%zu characters)", len);
}

int cmd_providers(cli *c)
{
	static const char *const http[] = {"openai", "anthropic", "ollama"};
	static const char *const defaults[] = {"https://api.openai.com/v1",
					       "https://api.anthropic.com/v1",
					       "http://127.0.0.1:11434"};
	const char *chosen;
	config *cf;
	cJSON *o, *list;
	int json = 0, i, k, rc;

	for (i = 0; i < c->nargs; i++) {
		if ((!strcmp(c->args[i], "-o") || !strcmp(c->args[i], "--output")) &&
		    i + 1 < c->nargs &&
		    (!strcmp(c->args[i + 1], "json") || !strcmp(c->args[i + 1], "text"))) {
			json = !strcmp(c->args[++i], "json");
		} else {
			return cli_error(2, "usage: ecl providers [-o text|json]");
		}
	}
	cf = calloc(1, sizeof(*cf));
	o = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(o, "providers");
	if (!cf || !o || !list) {
		free(cf);
		cJSON_Delete(o);
		return cli_error(1, "out of memory");
	}
	rc = resolve(c, cf);
	if (rc != 0)
		goto out;
	chosen = resolved[S_PROVIDER].set ? resolved[S_PROVIDER].value : "offline";
	cJSON_AddStringToObject(o, "config_file", cf->path);
	cJSON_AddBoolToObject(o, "config_file_found", cf->found);
	cJSON_AddStringToObject(o, "provider", chosen);
	cJSON_AddStringToObject(o, "provider_source",
				resolved[S_PROVIDER].set ? resolved[S_PROVIDER].source : "default");
	if (!json) {
		printf("Config file: %s%s\n", cf->path[0] ? cf->path : "(none: HOME is not set)",
		       cf->found ? "" : " (not present)");
		printf("Provider:    %s  (%s)\n", chosen,
		       resolved[S_PROVIDER].set ? resolved[S_PROVIDER].source : "default");
		printf("Always available: offline, scripted (--script FILE), fake\n");
	}
	/* Each HTTP provider as it would be configured if chosen. */
	for (i = 0; i < 3; i++) {
		const char *saved = c->opts.provider;
		char shown[VALUE_MAX + 64];
		cJSON *p = cJSON_CreateObject();

		if (!p || !cJSON_AddItemToArray(list, p)) {
			cJSON_Delete(p);
			rc = cli_error(1, "out of memory");
			goto out;
		}
		c->opts.provider = http[i];
		memset(cf, 0, sizeof(*cf));
		rc = resolve(c, cf);
		c->opts.provider = saved;
		if (rc != 0)
			goto out;
		cJSON_AddStringToObject(p, "name", http[i]);
		cJSON_AddBoolToObject(p, "selected", !strcmp(http[i], chosen));
		if (!json)
			printf("\n%s%s\n", http[i], !strcmp(http[i], chosen) ? " (selected)" : "");
		for (k = S_MODEL; k < S_COUNT; k++) {
			const setting *s = &resolved[k];
			const char *value = s->set ? s->value : NULL, *source = s->source;
			cJSON *v;

			if (!s->set && k == S_BASE_URL) {
				value = defaults[i];
				source = "default";
			}
			if (!s->set && k != S_BASE_URL)
				source = k == S_API_KEY && i == 2 ? "not needed" : "not set";
			if (value && k == S_API_KEY) {
				mask(value, shown, sizeof(shown));
				value = shown;
			}
			v = cJSON_AddObjectToObject(p, setting_names[k]);
			if (v) {
				cli_json_text(v, "value", value);
				cJSON_AddStringToObject(v, "source", source);
			}
			if (!json)
				printf("  %-16s %-40s (%s)\n", setting_names[k],
				       value ? value : "-", source);
		}
	}
	/* the price table (one read of the file gave it; the provider's resolve read it again) */
	list = cJSON_AddArrayToObject(o, "prices");
	if (!json)
		printf(nprices ? "\nPrices per million tokens (input / output):\n"
			       : "\nPrices: none (a [prices] section of the config file sets them: "
				 "openai/gpt-4o-mini = 0.15 0.60)\n");
	for (i = 0; i < (int)nprices; i++) {
		cJSON *p = cJSON_CreateObject();

		if (!p || !list || !cJSON_AddItemToArray(list, p)) {
			cJSON_Delete(p);
			rc = cli_error(1, "out of memory");
			goto out;
		}
		cJSON_AddStringToObject(p, "provider", prices[i].provider);
		cJSON_AddStringToObject(p, "model", prices[i].model);
		cJSON_AddNumberToObject(p, "input", prices[i].input);
		cJSON_AddNumberToObject(p, "output", prices[i].output);
		cJSON_AddStringToObject(p, "source", price_source[i]);
		if (!json) {
			char name[520];

			snprintf(name, sizeof(name), "%s/%s", prices[i].provider, prices[i].model);
			printf("  %-36s %g / %g  (%s)\n", name, prices[i].input, prices[i].output,
			       price_source[i]);
		}
	}
	if (json)
		rc = cli_print_json(o);
out:
	memset(resolved, 0, sizeof(resolved));
	if (cf)
		memset(cf, 0, sizeof(*cf));
	free(cf);
	cJSON_Delete(o);
	return rc;
}

int cli_cost(const cli *c, const char *provider, const char *model, long long tokens_in,
	     long long tokens_out, double *cost, char *why, size_t whylen)
{
	if (ecl_price_cost(c->opts.prices, c->opts.nprices, provider, model, tokens_in, tokens_out,
			   cost))
		return 1;
	if (!provider || !model)
		snprintf(why, whylen, "the run does not say which %s it used",
			 provider ? "model" : "provider");
	else
		snprintf(why, whylen, "no price for %s/%s in the config file's [prices]", provider,
			 model);
	return 0;
}

void cli_json_cost(const cli *c, cJSON *obj, const char *provider, const char *model,
		   long long tokens_in, long long tokens_out)
{
	char why[600];
	double cost;

	if (cli_cost(c, provider, model, tokens_in, tokens_out, &cost, why, sizeof(why))) {
		cJSON_AddNumberToObject(obj, "cost", cost);
	} else {
		cJSON_AddNullToObject(obj, "cost");
		cJSON_AddStringToObject(obj, "cost_note", why);
	}
}

const char *cli_cost_text(const cli *c, const char *provider, const char *model,
			  long long tokens_in, long long tokens_out, char *out, size_t len)
{
	char why[600];
	double cost;

	if (cli_cost(c, provider, model, tokens_in, tokens_out, &cost, why, sizeof(why)))
		snprintf(out, len, "%.6f", cost);
	else
		snprintf(out, len, "unknown: %s", why);
	return out;
}
