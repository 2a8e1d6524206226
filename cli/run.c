/*
 * run.c - `ecl run` and `ecl resume`: building the inputs from the command
 * line, driving a run with progress on a terminal, and reporting how it ended.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* The input named by the len bytes at name, where `-` also stands for `_` (--max-words for
 * max_words: flags are spelled with dashes, .ecl names cannot hold one). */
static const ecl_slot_def *find_input(const ecl_workflow *wf, const char *name, size_t len)
{
	size_t k;
	int i;

	for (i = 0; i < wf->nslots; i++) {
		const char *s = wf->slots[i].name;

		if (wf->slots[i].kind != ECL_SLOT_INPUT || strlen(s) != len)
			continue;
		for (k = 0; k < len && (s[k] == name[k] || (s[k] == '_' && name[k] == '-')); k++)
			;
		if (k == len)
			return &wf->slots[i];
	}
	return NULL;
}

static void input_names(const ecl_workflow *wf, char *out, size_t outlen)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < wf->nslots && used < outlen; i++)
		if (wf->slots[i].kind == ECL_SLOT_INPUT)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s",
						 used ? ", " : "", wf->slots[i].name);
}

/* The JSON value of a command-line text for an input of the declared type, converted as
 * every typed text is (ecl_value_parse); NULL with why set (*bad) or out of memory (!*bad). */
static cJSON *convert(const ecl_slot_def *def, const char *text, int *bad, char *why, size_t whylen)
{
	char *json = NULL;
	cJSON *v;
	int rc;

	/* Bytes that are not text go as they are to the check of the inputs, which every text
	 * entering a run passes and which says which input holds what, and where. */
	if (ecl_text_check(text, strlen(text), NULL, 0) != ECL_OK) {
		*bad = 0;
		return cJSON_CreateString(text);
	}
	rc = ecl_value_parse(def->type, text, &json, why, whylen);
	*bad = rc == ECL_EINPUT;
	if (rc != ECL_OK)
		return NULL;
	v = cJSON_Parse(json);
	free(json);
	return v;
}

static const char *type_word(const ecl_slot_def *def)
{
	switch (def->type) {
	case ECL_T_INT: return "an integer";
	case ECL_T_FLOAT: return "a number";
	case ECL_T_BOOL: return "true or false";
	case ECL_T_LIST: return "a JSON list of strings";
	default: return "a string";
	}
}

/* The largest input file read, checked while reading: /dev/zero or a FIFO that never ends
 * would otherwise grow until memory runs out. */
#define INPUT_FILE_MAX ((size_t)16 << 20)

/* Why read_text failed, for a message: the cap, or errno's text. */
static const char *read_error(void)
{
	return errno == EFBIG ? "it is larger than the limit of 16 MiB for an input file"
			      : strerror(errno);
}

/* The file's bytes, NUL-terminated, with their count in *len (a NUL inside is the caller's to
 * refuse); NULL with errno set when it cannot be read, EFBIG when the file holds more than
 * INPUT_FILE_MAX bytes. */
static char *read_text(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	for (;;) {
		if (len > INPUT_FILE_MAX) {
			free(data);
			fclose(f);
			errno = EFBIG;
			return NULL;
		}
		if (cap - len < 4096) {
			char *p = realloc(data, cap ? cap * 2 : 8192);

			if (!p) {
				free(data);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			data = p;
			cap = cap ? cap * 2 : 8192;
		}
		n = fread(data + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(data);
		fclose(f);
		return NULL;
	}
	fclose(f);
	data[len] = '\0';
	*lenp = len;
	return data;
}

/* The input that `--input-file NAME=PATH` names, or NULL when the argument is the path of a
 * JSON file of inputs. */
static const ecl_slot_def *file_input(const ecl_workflow *wf, const char *arg)
{
	const char *eq = strchr(arg, '=');

	return eq && eq > arg ? find_input(wf, arg, (size_t)(eq - arg)) : NULL;
}

/* Whether an argument of args[first..upto) sets input def already (--NAME, --set NAME=,
 * --input-file NAME=): the same input given twice is refused, not taken from the last. */
static int given_before(const cli *c, const ecl_workflow *wf, int first, int upto,
			const ecl_slot_def *def)
{
	int j;

	for (j = first; j < upto; j++) {
		const char *a = c->args[j], *name, *eq;

		if (!strcmp(a, "--input-file") || !strcmp(a, "--set")) {
			name = j + 1 < upto ? c->args[++j] : "";
			eq = strchr(name, '=');
			if (eq && eq > name && find_input(wf, name, (size_t)(eq - name)) == def)
				return 1;
		} else if (!strncmp(a, "--", 2) && a[2]) {
			name = a + 2;
			eq = strchr(name, '=');
			if (find_input(wf, name, eq ? (size_t)(eq - name) : strlen(name)) == def)
				return 1;
			if (!eq)
				j++;
		}
	}
	return 0;
}

/* Build the inputs of `ecl run` into *out (JSON text, caller frees); 0 or an exit status. */
static int build_inputs(cli *c, const ecl_workflow *wf, int first, char **out)
{
	cJSON *obj = NULL;
	char names[512];
	int i;

	*out = NULL;
	for (i = first; i < c->nargs; i++) {
		if (strcmp(c->args[i], "--input-file") != 0)
			continue;
		if (i + 1 >= c->nargs)
			return cli_error(2, "--input-file needs a file name");
		if (file_input(wf, c->args[i + 1]))
			continue; /* NAME=PATH: read below */
		{
			char err[512];
			size_t len;
			char *text = read_text(c->args[i + 1], &len);

			if (!text)
				return cli_error(2, "cannot read the input file %s: %s",
						 c->args[i + 1], read_error());
			/* the raw text: parsed, a string would be cut at a \u0000 */
			if (ecl_json_check(text, len, err, sizeof(err)) != ECL_OK) {
				free(text);
				cJSON_Delete(obj);
				return cli_error(2, "%s: %s%s", c->args[i + 1],
						 err[0] == '`' ? "input " : "", err);
			}
			cJSON_Delete(obj);
			obj = cJSON_Parse(text);
			free(text);
			if (!obj || !cJSON_IsObject(obj)) {
				cJSON_Delete(obj);
				return cli_error(2, "%s: not a JSON object of inputs",
						 c->args[i + 1]);
			}
		}
	}
	if (!obj && !(obj = cJSON_CreateObject()))
		return cli_error(1, "out of memory");
	input_names(wf, names, sizeof(names));
	for (i = first; i < c->nargs; i++) {
		const char *a = c->args[i], *name, *eq, *val;
		const ecl_slot_def *def;
		size_t len;
		int start = i;
		cJSON *v;
		char why[256];
		int bad, rc;

		if (strcmp(a, "--input-file") == 0) {
			char *text, err[256];
			size_t tlen;

			if (!(def = file_input(wf, c->args[++i])))
				continue;
			if (given_before(c, wf, first, start, def)) {
				cJSON_Delete(obj);
				return cli_error(2, "input `%s` is given twice", def->name);
			}
			/* NAME=PATH: the input's value is the file's text. */
			val = strchr(c->args[i], '=') + 1;
			if (!(text = read_text(val, &tlen))) {
				cJSON_Delete(obj);
				return cli_error(2, "input `%s`: cannot read %s: %s", def->name,
						 val, read_error());
			}
			if (ecl_text_check(text, tlen, err, sizeof(err)) != ECL_OK) {
				free(text);
				cJSON_Delete(obj);
				return cli_error(2, "input `%s`: %s is not text: %s", def->name,
						 val, err);
			}
			v = convert(def, text, &bad, why, sizeof(why));
			if (!v) {
				cJSON_Delete(obj);
				rc = bad ? cli_error(2, "input `%s`: the text of %s is not %s",
						     def->name, val, type_word(def))
					 : cli_error(1, "out of memory");
				free(text);
				return rc;
			}
			free(text);
			cJSON_DeleteItemFromObjectCaseSensitive(obj, def->name);
			cJSON_AddItemToObject(obj, def->name, v);
			continue;
		}
		if (strcmp(a, "--set") == 0) {
			if (i + 1 >= c->nargs || !strchr(c->args[i + 1], '=')) {
				cJSON_Delete(obj);
				return cli_error(2, "--set needs NAME=VALUE");
			}
			name = c->args[++i];
			eq = strchr(name, '=');
			len = (size_t)(eq - name);
			val = eq + 1;
		} else if (strncmp(a, "--", 2) == 0 && a[2]) {
			name = a + 2;
			eq = strchr(name, '=');
			len = eq ? (size_t)(eq - name) : strlen(name);
			if (eq)
				val = eq + 1;
			else if (i + 1 < c->nargs)
				val = c->args[++i];
			else {
				cJSON_Delete(obj);
				return cli_error(2, "%s needs a value", a);
			}
		} else {
			cJSON_Delete(obj);
			return cli_error(2,
					 "run: unexpected argument `%s` (inputs are given as "
					 "--NAME VALUE)",
					 a);
		}
		def = find_input(wf, name, len);
		if (!def) {
			cJSON_Delete(obj);
			return cli_error(2, "workflow %s has no input `%.*s` (its inputs: %s)",
					 wf->id, (int)len, name, names);
		}
		if (given_before(c, wf, first, start, def)) {
			cJSON_Delete(obj);
			return cli_error(2, "input `%s` is given twice", def->name);
		}
		v = convert(def, val, &bad, why, sizeof(why));
		if (!v) {
			cJSON_Delete(obj);
			if (bad)
				return cli_error(2, "input `%s`: %s", def->name, why);
			return cli_error(1, "out of memory");
		}
		cJSON_DeleteItemFromObjectCaseSensitive(obj, def->name);
		cJSON_AddItemToObject(obj, def->name, v);
	}
	*out = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return *out ? 0 : cli_error(1, "out of memory");
}

/* Progress on a terminal: one line per step. A step's line stays open until the step
 * commits; a log line printed meanwhile clears it and draws it again below (on_log). */
typedef struct progress {
	int tty;
	int max_steps;
	const ecl_workflow *wf;
	int open;       /* line holds the open line of a step */
	char line[512]; /* "  [2/8] critique (revisions 1 of at most 3) ..." */
	/* "Workflow resumed: <id>" waits for the first event, when the run is taken: a refusal
	 * (another driver, a cancelled run) is printed alone */
	const char *how, *id;
	int announced;
	int streaming; /* pieces of the step's answer were shown since its line */
} progress;

/* The end of a step's streamed answer: its line ended, so that what follows starts its own. */
static void stream_end(progress *p)
{
	if (p->streaming)
		fputs(p->tty ? "\n   " : "\n", stderr);
	p->streaming = 0;
}

/* A piece of the answer the model is giving: under the step's line, indented, on a terminal
 * (its control characters escaped); as it is otherwise. */
static void on_text(void *ctx, const char *run_id, const char *step, const char *text, size_t len)
{
	progress *p = ctx;
	const char *nl;

	(void)run_id;
	(void)step;
	if (!p->streaming && p->tty)
		fputs("\n    ", stderr);
	p->streaming = 1;
	while (p->tty && (nl = memchr(text, '\n', len)) != NULL) {
		cli_print_text(stderr, text, (size_t)(nl - text));
		fputs("\n    ", stderr);
		len -= (size_t)(nl - text) + 1;
		text = nl + 1;
	}
	cli_print_text(stderr, text, len);
	fflush(stderr);
}

static void announce(progress *p)
{
	if (p->how && !p->announced) {
		printf("Workflow %s: %s\n", p->how, p->id);
		fflush(stdout);
		p->announced = 1;
	}
}

static int on_event(void *ctx, const ecl_event *ev)
{
	progress *p = ctx;
	size_t n;
	int i;

	announce(p);
	if (ev->kind != ECL_EV_STEP_START)
		stream_end(p);
	if (!p->tty)
		return 0;
	switch (ev->kind) {
	case ECL_EV_STEP_START:
		n = (size_t)snprintf(p->line, sizeof(p->line), "  [%d/%d] %s", ev->seq,
				     p->max_steps, ev->step);
		for (i = 0; i < p->wf->nsteps && n < sizeof(p->line); i++)
			if (strcmp(p->wf->steps[i].name, ev->step) == 0 &&
			    p->wf->steps[i].limit > 0)
				n += (size_t)snprintf(p->line + n, sizeof(p->line) - n,
						      " (%s %d of at most %d)",
						      p->wf->steps[i].counter_label
							      ? p->wf->steps[i].counter_label
							      : "visit",
						      ev->visits, p->wf->steps[i].limit);
		if (ev->attempt > 1 && n < sizeof(p->line))
			n += (size_t)snprintf(p->line + n, sizeof(p->line) - n, " (attempt %d)",
					      ev->attempt);
		if (n < sizeof(p->line))
			snprintf(p->line + n, sizeof(p->line) - n, " ...");
		fputs(p->line, stderr);
		p->open = 1;
		break;
	case ECL_EV_COMMIT:
		fprintf(stderr, " done in %.0f ms%s%s\n", (double)ev->duration_us / 1000.0,
			ev->next ? ", next: " : "", ev->next ? ev->next : "");
		p->open = 0;
		break;
	case ECL_EV_FINISH:
		if (!cli_status_is(ev->status, ECL_RUN_COMPLETED))
			fprintf(stderr, " %s\n", ev->status);
		p->open = 0;
		break;
	}
	return 0;
}

/* A log line while a step's progress line is open: clear the line (carriage return, erase
 * to its end), print the log line, then the progress line again. */
static void on_log(void *ctx, const char *text)
{
	progress *p = ctx;

	if (p->streaming) { /* below the streamed text, which goes on after it */
		fputs("\n", stderr);
		fputs(text, stderr);
		if (p->tty)
			fputs("    ", stderr);
		return;
	}
	if (p->tty && p->open)
		fputs("\r\033[K", stderr);
	fputs(text, stderr);
	if (p->tty && p->open)
		fputs(p->line, stderr);
}

/* A run that stopped at a human step: its question, and how to answer it. */
static int report_waiting(cli *c, ecl_engine *e, const char *id)
{
	const char *db = cli_db(c);
	ecl_run_info *info = NULL;

	if (ecl_run_info_get(e, id, &info) != ECL_OK || !info->step) {
		ecl_run_info_free(info);
		printf("Workflow %s is waiting for an answer\n", id);
		return 0;
	}
	printf("Workflow %s is waiting for an answer at step %s:\n", id, info->step);
	cli_print_text(stdout, info->question ? info->question : "",
		       info->question ? strlen(info->question) : 0);
	putchar('\n');
	cli_print_answer_fields(c, info->workflow, info->step);
	printf("Answer it with: %s --db %s answer %s --set FIELD=VALUE ...\n", c->prog, db, id);
	ecl_run_info_free(info);
	return 0;
}

static int report_end(cli *c, ecl_engine *e, const char *id, int rc);

/* Drive a run and report how it ended; returns the exit status. */
static int drive(cli *c, ecl_engine *e, const char *id, progress *p)
{
	struct sigaction sa, old_int, old_term;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = ecl_run_drive(e, id);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	/* the run was taken (it went on or stopped where it was); not a refusal */
	if (rc == ECL_OK || rc == ECL_EFAILED || rc == ECL_EINTERRUPTED || rc == ECL_EPAUSED ||
	    rc == ECL_ECANCELLED || rc == ECL_EWAITING)
		announce(p);
	return report_end(c, e, id, rc);
}

/* Report how run id ended (rc as ecl_run_drive returns it); returns the exit status. */
static int report_end(cli *c, ecl_engine *e, const char *id, int rc)
{
	ecl_run_info *info = NULL;
	char quoted[4 * sizeof(c->db_buf) + 3];
	const char *db = cli_shell_word(cli_db(c), quoted, sizeof(quoted));

	switch (rc) {
	case ECL_OK:
		printf("Workflow %s completed successfully\n", id);
		rc = 0;
		if (ecl_run_info_get(e, id, &info) == ECL_OK) {
			printf("Output:\n");
			rc = cli_print_stored_json(info->output);
		}
		ecl_run_info_free(info);
		return rc;
	case ECL_EFAILED:
		if (ecl_run_info_get(e, id, &info) == ECL_OK && info->step && info->error) {
			char prefix[300];
			const char *why = info->error;

			/* the step is named once: an error about it begins with it already */
			snprintf(prefix, sizeof(prefix), "step `%s`: ", info->step);
			if (!strncmp(why, prefix, strlen(prefix)))
				why += strlen(prefix);
			printf("Workflow %s failed at step %s: %s\n", id, info->step, why);
		} else
			printf("Workflow %s failed\n", id);
		ecl_run_info_free(info);
		return 1;
	case ECL_EINTERRUPTED:
		printf("Workflow %s interrupted; resume it with: %s --db %s resume %s\n", id,
		       c->prog, db, id);
		return 130;
	case ECL_EPAUSED:
		printf("Workflow %s paused; resume it with: %s --db %s resume %s\n", id, c->prog,
		       db, id);
		return 0;
	case ECL_ECANCELLED: printf("Workflow %s cancelled\n", id); return 1;
	case ECL_EWAITING: return report_waiting(c, e, id);
	case ECL_ESTATE: cli_error(1, "%s", ecl_engine_errmsg(e)); return 3;
	default:
		cli_error(1, "%s", ecl_engine_errmsg(e));
		if (rc != ECL_ENOTFOUND)
			fprintf(stderr,
				"%s: run %s keeps its last checkpoint; resume it with: %s --db "
				"%s "
				"resume %s\n",
				c->prog, id, c->prog, db, id);
		return 1;
	}
}

/* Remove flag from the command's arguments: 1 when it was there. */
static int take_flag(cli *c, const char *flag)
{
	int i, j = 0, found = 0;

	for (i = 0; i < c->nargs; i++)
		if (strcmp(c->args[i], flag) == 0)
			found = 1;
		else
			c->args[j++] = c->args[i];
	c->nargs = j;
	c->args[j] = NULL;
	return found;
}

/* `ecl run --queue [--wait]`: store the run for a worker; with --wait, wait for it to stop
 * (over, waiting for an answer, paused or interrupted) and report that as `ecl run` does. */
static int enqueue(cli *c, ecl_engine *e, const ecl_workflow *wf, const char *inputs, int wait)
{
	static const struct {
		ecl_run_status status;
		int rc;
	} ends[] = {{ECL_RUN_COMPLETED, ECL_OK},         {ECL_RUN_FAILED, ECL_EFAILED},
		    {ECL_RUN_CANCELLED, ECL_ECANCELLED}, {ECL_RUN_WAITING, ECL_EWAITING},
		    {ECL_RUN_PAUSED, ECL_EPAUSED},       {ECL_RUN_INTERRUPTED, ECL_EINTERRUPTED}};
	char id[ECL_ID_MAX];
	size_t k;

	if (ecl_run_enqueue(e, wf, inputs, id) != ECL_OK)
		return cli_error(1, "%s", ecl_engine_errmsg(e));
	printf("Workflow queued: %s\n", id);
	fflush(stdout);
	while (wait && !interrupted) {
		struct timespec ts = {0, 100000000L};
		ecl_run_info *info = NULL;

		if (ecl_run_info_get(e, id, &info) != ECL_OK)
			return cli_error(1, "%s", ecl_engine_errmsg(e));
		for (k = 0; k < sizeof(ends) / sizeof(ends[0]); k++)
			if (cli_status_is(info->status, ends[k].status))
				break;
		ecl_run_info_free(info);
		if (k < sizeof(ends) / sizeof(ends[0]))
			return report_end(c, e, id, ends[k].rc);
		nanosleep(&ts, NULL);
	}
	return interrupted ? 130 : 0;
}

int cmd_run(cli *c)
{
	const ecl_workflow *wf;
	ecl_engine *e = NULL;
	progress p = {0};
	char *inputs = NULL, err[1024], id[ECL_ID_MAX];
	int rc, queue = take_flag(c, "--queue"), wait = queue && take_flag(c, "--wait");

	int restate = cli_restate_take(c);

	if (restate < 0)
		return 2;
	if (c->nargs < 1)
		return cli_error(2, "run: which workflow? (ecl list shows them)");
	wf = ecl_workflow_find(c->opts.workflows, c->opts.nworkflows, c->args[0]);
	if (!wf)
		return cli_error(2, "unknown workflow `%s` (ecl list shows the workflows)",
				 c->args[0]);
	if ((rc = build_inputs(c, wf, 1, &inputs)) != 0)
		return rc;
	if (ecl_workflow_check_inputs(wf, inputs, err, sizeof(err)) != ECL_OK) {
		free(inputs);
		return cli_error(2, "%s; usage: %s", err, wf->usage);
	}
	if (restate) {
		rc = cli_run_restate(c, wf, inputs);
		free(inputs);
		return rc;
	}
	p.tty = isatty(STDERR_FILENO);
	p.max_steps = wf->max_steps;
	p.wf = wf;
	if (c->stream > 0 || (c->stream < 0 && p.tty))
		c->opts.on_text = on_text;
	c->opts.on_event = on_event;
	c->opts.event_ctx = &p;
	c->opts.on_log = on_log;
	c->opts.log_ctx = &p;
	c->opts.interrupt = &interrupted;
	c->opts.caller_reports_ends = 1; /* printed once, by the command */
	if ((rc = cli_open(c, &e)) != 0) {
		free(inputs);
		return rc;
	}
	if (queue) {
		struct sigaction sa, old_int, old_term;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		rc = enqueue(c, e, wf, inputs, wait);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		free(inputs);
		ecl_engine_close(e);
		return rc;
	}
	rc = ecl_run_start(e, wf, inputs, id);
	free(inputs);
	if (rc != ECL_OK)
		return cli_engine_fail(e, rc == ECL_EINPUT ? 2 : 1);
	printf("Workflow started: %s\n", id);
	fflush(stdout);
	rc = drive(c, e, id, &p);
	ecl_engine_close(e);
	return rc == 3 ? 1 : rc;
}

int cli_drive_run(cli *c, const char *id, const char *how)
{
	ecl_engine *e = NULL;
	ecl_run_info *info = NULL;
	progress p = {0};
	int rc;

	p.tty = isatty(STDERR_FILENO);
	if (c->stream > 0 || (c->stream < 0 && p.tty))
		c->opts.on_text = on_text;
	c->opts.on_event = on_event;
	c->opts.event_ctx = &p;
	c->opts.on_log = on_log;
	c->opts.log_ctx = &p;
	c->opts.interrupt = &interrupted;
	c->opts.caller_reports_ends = 1; /* printed once, by the command */
	if ((rc = cli_open_run(c, id, &e)) != 0)
		return rc;
	if (ecl_run_info_get(e, id, &info) != ECL_OK)
		return cli_engine_fail(e, 1);
	p.wf = ecl_workflow_find(c->opts.workflows, c->opts.nworkflows, info->workflow);
	p.max_steps = p.wf ? p.wf->max_steps : 0;
	ecl_run_info_free(info);
	if (!p.wf)
		return cli_engine_fail(e, 1);
	p.how = how;
	p.id = id;
	rc = drive(c, e, id, &p);
	ecl_engine_close(e);
	return rc;
}

int cmd_resume(cli *c)
{
	int rc, restate = cli_restate_take(c);

	if (restate)
		return restate < 0 ? 2 : cli_pause_restate(c, 1);
	if (c->nargs != 1)
		return cli_error(2, "usage: ecl resume <run-id>");
	rc = cli_drive_run(c, c->args[0], "resumed");
	return rc == 3 ? 1 : rc;
}
