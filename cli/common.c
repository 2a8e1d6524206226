/*
 * common.c - what several commands do alike: open the engine the global options describe,
 * report the engine's error, and write JSON output (indented, with a run's loop limits and
 * texts that may be missing).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"

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

int cli_user_path(char *out, size_t len, const char *env, const char *xdg, const char *home_dir,
		  const char *name)
{
	const char *e = getenv(env), *x = getenv(xdg), *home = getenv("HOME");

	if (e && *e)
		snprintf(out, len, "%s", e);
	else if (x && *x)
		snprintf(out, len, "%s/ecl/%s", x, name);
	else if (home && *home)
		snprintf(out, len, "%s/%s/ecl/%s", home, home_dir, name);
	else {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int cli_default_db(cli *c)
{
	if (cli_user_path(c->db_buf, sizeof(c->db_buf), "ECL_DB", "XDG_DATA_HOME", ".local/share",
			  "ecl.db") != 0)
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
	if (c->opts.db_path && !strstr(c->opts.db_path, "://") &&
	    make_parent_dirs(c->opts.db_path) != 0)
		return cli_error(1, "cannot create the directory of %s: %s", c->opts.db_path,
				 strerror(errno));
	if ((rc = cli_configure(c)) != 0)
		return rc;
	rc = ecl_engine_open(&c->opts, out, err, sizeof(err));
	if (rc != ECL_OK)
		return cli_error(rc == ECL_EUSAGE ? 2 : 1, "%s", err);
	return 0;
}

int cli_open_to_look(cli *c, ecl_engine **out)
{
	c->opts.read_only = 1; /* it works in a read-only directory */
	return cli_open(c, out);
}

int cli_engine_fail(ecl_engine *e, int status)
{
	cli_error(status, "%s", ecl_engine_errmsg(e));
	ecl_engine_close(e);
	return status;
}

/* Print JSON indented by two spaces: cJSON indents with tabs and puts a tab after each colon;
 * raw tabs only occur there, since tabs inside strings are escaped. */
int cli_print_json(const cJSON *json)
{
	char *text = cJSON_Print(json);
	const char *p;
	int bol = 1;

	/* (a partial object would print too: when an addition to it failed, so does this) */
	if (!text)
		return cli_error(1, "out of memory printing the JSON output");
	for (p = text; *p; p++) {
		if (*p == '\t')
			fputs(bol ? "  " : " ", stdout);
		else
			putchar(*p);
		bol = *p == '\n' || (bol && *p == '\t');
	}
	putchar('\n');
	free(text);
	return 0;
}

int cli_print_stored_json(const char *text)
{
	cJSON *json = text ? cJSON_Parse(text) : NULL;
	int rc = 0;

	if (json)
		rc = cli_print_json(json);
	else
		printf("%s\n", text ? text : "null");
	cJSON_Delete(json);
	return rc;
}

cJSON *cli_json_text(cJSON *obj, const char *name, const char *text)
{
	return text ? cJSON_AddStringToObject(obj, name, text) : cJSON_AddNullToObject(obj, name);
}

void cli_json_limits(cJSON *obj, const ecl_run_info *info)
{
	cJSON *list = cJSON_AddArrayToObject(obj, "limits");
	int i;

	for (i = 0; list && i < info->nlimits; i++) {
		const ecl_run_limit *l = &info->limits[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			return;
		}
		cJSON_AddStringToObject(o, "step", l->step);
		cli_json_text(o, "counter", l->label);
		cJSON_AddNumberToObject(o, "count", l->count);
		cJSON_AddNumberToObject(o, "limit", l->limit);
	}
}

const char *cli_db(cli *c)
{
	ecl_db_display(c->opts.db_path, c->db_shown, sizeof(c->db_shown));
	return c->db_shown;
}
