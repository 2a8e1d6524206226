/*
 * output.c - a run's output stored by reference. A store keeps what it is given; which form
 * the core gives it for a completed run's output is decided here, and put back here when the
 * output is read. The output holds the run's result as JSON, except that a string (the whole
 * result, or a member of a result object) that one of the run's last checkpoints stored
 * already is written as {"@": seq, "=": "field"}: member `field` of the output of checkpoint
 * `seq`. A result holds no objects of its own (its values are typed scalars and lists), so
 * the marker cannot be taken for a value. Databases written before the store stopped doing
 * this itself hold the same form, and read the same way.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* A string is stored by reference when it is at least REF_MIN bytes long and stored by one of
 * the run's last REF_WINDOW checkpoints that have an output. */
#define REF_MIN    24
#define REF_WINDOW 16

/* What find_marker looks for among the checkpoints, and what it wrote. */
typedef struct marker_search {
	const char *enc;  /* the string as JSON text, quotes included */
	const char *text; /* the string itself */
	buf *out;         /* where the marker goes */
	int found;
} marker_search;

/* Look for the string in the output of checkpoint seq; write its marker when it is there.
 * The text is searched before it is parsed: most outputs do not hold the string. */
static int marker_in(void *ctx, int seq, const char *output)
{
	marker_search *m = ctx;
	cJSON *o = output && strstr(output, m->enc) ? cJSON_Parse(output) : NULL;
	const cJSON *members = cJSON_IsObject(o) ? o : NULL, *f;

	cJSON_ArrayForEach (f, members) {
		if (!cJSON_IsString(f) || strcmp(f->valuestring, m->text) != 0)
			continue;
		buf_printf(m->out, "{\"@\":%d,\"=\":", seq);
		buf_json_str(m->out, f->string, strlen(f->string));
		buf_append(m->out, "}", 1);
		m->found = 1;
		break;
	}
	cJSON_Delete(o);
	return m->found ? -1 : 0; /* (-1: no status, only the end of the walk) */
}

/* Append the marker of a string a recent checkpoint of c's run stored (the one c commits
 * first, then the stored ones, newest first); 0 when none holds it. */
static int find_marker(store *st, const store_commit *c, const char *enc, const char *text,
		       buf *out)
{
	marker_search m = {enc, text, out, 0};
	int window = REF_WINDOW;

	if (c->step.output) {
		marker_in(&m, c->step.seq, c->step.output);
		window--;
	}
	/* a failure to read leaves the output as it is: this only saves space */
	if (!m.found)
		st->ops->list_outputs(st, c->run_id, c->step.seq - 1, window, marker_in, &m);
	return m.found;
}

/* The output is compact JSON as the runtime writes it: a value is replaced where it stands in
 * the text, and the rest is copied as it is. */
char *output_compact(store *st, const store_commit *c)
{
	const char *output = c->output;
	cJSON *res = output ? cJSON_Parse(output) : NULL;
	int bare = cJSON_IsString(res), changed = 0;
	const cJSON *m = bare ? res : res && cJSON_IsObject(res) ? res->child : NULL;
	buf out = {0}, enc = {0};
	const char *from = output;

	for (; m; m = bare ? NULL : m->next) {
		size_t mark;
		const char *at;

		if (!cJSON_IsString(m) || strlen(m->valuestring) < REF_MIN)
			continue;
		enc.len = 0;
		buf_append(&enc, ":", 1);
		buf_json_str(&enc, m->valuestring, strlen(m->valuestring));
		if (enc.oom)
			break;
		/* a member's value follows a colon; a bare string result is the whole text */
		at = bare ? output : strstr(from, enc.data);
		if (!at || (bare && strcmp(output, enc.data + 1) != 0))
			continue;
		mark = out.len;
		buf_append(&out, from, (size_t)(at - from) + !bare);
		if (!find_marker(st, c, enc.data + 1, m->valuestring, &out)) {
			out.len = mark; /* the next append writes over it */
			continue;
		}
		from = at + enc.len - bare;
		changed = 1;
	}
	cJSON_Delete(res);
	buf_free(&enc);
	if (!changed || out.oom) {
		buf_free(&out);
		return NULL;
	}
	buf_puts(&out, from);
	if (out.oom) {
		buf_free(&out);
		return NULL;
	}
	return out.data;
}

static int is_marker(const cJSON *v)
{
	return cJSON_IsObject(v) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "@")) &&
	       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "="));
}

/* The output of one checkpoint, as resolve_marker reads it. */
typedef struct step_output {
	int seq;
	cJSON *json; /* NULL when the checkpoint has none */
	int oom;
} step_output;

static int keep_output(void *ctx, int seq, const char *output)
{
	step_output *s = ctx;

	if (seq == s->seq)
		s->json = json_parse_str(output, &s->oom);
	return -1; /* only the newest up to seq is asked for */
}

/* Set *v to the string a marker of run id refers to, as a new cJSON string. ECL_ESTORE when
 * the checkpoint or its member is missing; the engine's message says which. */
static int resolve_marker(ecl_engine *e, const char *id, const cJSON *marker, cJSON **v)
{
	step_output s = {cJSON_GetObjectItemCaseSensitive(marker, "@")->valueint, NULL, 0};
	const char *field = cJSON_GetObjectItemCaseSensitive(marker, "=")->valuestring;
	const cJSON *item;
	int rc = e->st->ops->list_outputs(e->st, id, s.seq, 1, keep_output, &s);

	*v = NULL;
	/* a checkpoint that cannot be read (ECL_ESTORE) holds no string either: the message
	 * below says that the file is damaged, and how to check it */
	if (rc != ECL_OK && rc != -1 && rc != ECL_ESTORE)
		return engine_fail(e, rc, "%s", e->st->ops->errmsg(e->st));
	if (s.oom)
		return engine_fail(e, ECL_ENOMEM, "out of memory reading run %s", id);
	item = cJSON_GetObjectItemCaseSensitive(s.json, field);
	if (cJSON_IsString(item)) {
		*v = cJSON_CreateString(item->valuestring);
		rc = *v ? ECL_OK : engine_fail(e, ECL_ENOMEM, "out of memory reading run %s", id);
	} else {
		rc = engine_fail(
			e, ECL_ESTORE,
			"%s: run %s: its output refers to `%s` of checkpoint %d, which has "
			"none: the file is damaged: check it with: sqlite3 %s 'pragma "
			"integrity_check'; or restore a backup",
			e->db_path ? e->db_path : "the store", id, field, s.seq,
			e->db_path ? e->db_path : "FILE");
	}
	cJSON_Delete(s.json);
	return rc;
}

int output_expand(ecl_engine *e, const char *id, char **output)
{
	cJSON *res, *m, *v;
	char *text;
	int rc, oom;

	if (!*output || !strstr(*output, "{\"@\":"))
		return ECL_OK;
	if ((res = json_parse_str(*output, &oom)) == NULL)
		return oom ? engine_fail(e, ECL_ENOMEM, "out of memory reading run %s", id)
			   : engine_damaged(e, "run %s: the stored output is not JSON", id);
	if (is_marker(res)) {
		rc = resolve_marker(e, id, res, &v);
		cJSON_Delete(res);
		if ((res = v) == NULL)
			return rc;
	} else {
		cJSON_ArrayForEach (m, res) {
			if (!is_marker(m))
				continue;
			if ((rc = resolve_marker(e, id, m, &v)) != ECL_OK || !v ||
			    !cJSON_ReplaceItemInObjectCaseSensitive(res, m->string, v)) {
				cJSON_Delete(v);
				cJSON_Delete(res);
				return rc != ECL_OK
					       ? rc
					       : engine_fail(e, ECL_ENOMEM,
							     "out of memory reading run %s", id);
			}
			m = v;
		}
	}
	text = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	if (!text)
		return engine_fail(e, ECL_ENOMEM, "out of memory reading run %s", id);
	mem_free(*output);
	*output = text;
	return ECL_OK;
}
