/*
 * value.c - the values held in a run's slots: conversion from and to JSON, with the type
 * checks of the slot's declaration, and rendering into prompt templates.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A short, printable rendering of a JSON value for error messages. */
static void describe(const cJSON *json, char *out, size_t outlen)
{
	char *text;

	if (cJSON_IsNumber(json) && !isfinite(json->valuedouble)) {
		/* 1e400: the parser made it infinite, which cJSON would print as null */
		snprintf(out, outlen, "a number out of range");
		return;
	}
	if (!(text = cJSON_PrintUnformatted(json))) {
		snprintf(out, outlen, "(a value)");
		return;
	}
	if (strlen(text) > 60)
		snprintf(out, outlen, "%.*s...", (int)text_cut(text, strlen(text), 57), text);
	else
		snprintf(out, outlen, "%s", text);
	cJSON_free(text);
}

static int mismatch(const cJSON *json, const char *what, const char *expected, char *err,
		    size_t errlen)
{
	char got[64];

	describe(json, got, sizeof(got));
	snprintf(err, errlen, "%s: expected %s, got %s", what, expected, got);
	return ECL_EANSWER;
}

static int set_text(value *v, const char *s, size_t n)
{
	char *copy = mem_strndup(s, n);

	if (!copy)
		return ECL_ENOMEM;
	mem_free(v->s);
	v->s = copy;
	v->n = n;
	v->set = 1;
	return ECL_OK;
}

static int from_enum(value *v, const ecl_slot_def *def, const cJSON *json, const char *what,
		     char *err, size_t errlen)
{
	char expected[256];
	size_t used = 0;
	int i;

	if (cJSON_IsString(json)) {
		for (i = 0; i < def->nchoices; i++)
			if (strcmp(json->valuestring, def->choices[i]) == 0)
				return set_text(v, json->valuestring, strlen(json->valuestring));
	}
	used = (size_t)snprintf(expected, sizeof(expected), "one of");
	for (i = 0; i < def->nchoices && used < sizeof(expected); i++)
		used += (size_t)snprintf(expected + used, sizeof(expected) - used, "%s \"%s\"",
					 i ? "," : "", def->choices[i]);
	return mismatch(json, what, expected, err, errlen);
}

static int from_list(value *v, const cJSON *json, const char *what, char *err, size_t errlen)
{
	const cJSON *item;
	char *text;
	int rc;

	if (!cJSON_IsArray(json))
		return mismatch(json, what, "a list of strings", err, errlen);
	cJSON_ArrayForEach (item, json)
		if (!cJSON_IsString(item))
			return mismatch(item, what, "a string in the list", err, errlen);
	text = cJSON_PrintUnformatted(json);
	if (!text)
		return ECL_ENOMEM;
	rc = set_text(v, text, strlen(text));
	cJSON_free(text);
	return rc;
}

static int from_json(value *v, const ecl_slot_def *def, const cJSON *json, const char *what,
		     char *err, size_t errlen)
{
	double d;

	switch (def->type) {
	case ECL_T_STRING:
		if (!cJSON_IsString(json))
			return mismatch(json, what, "a string", err, errlen);
		return set_text(v, json->valuestring, strlen(json->valuestring));
	case ECL_T_INT:
		d = json->valuedouble;
		if (!cJSON_IsNumber(json) || d != floor(d) || fabs(d) > 9007199254740992.0)
			return mismatch(json, what, "an integer", err, errlen);
		if (def->has_range && (d < (double)def->min || d > (double)def->max)) {
			char expected[96];

			snprintf(expected, sizeof(expected), "an integer in %lld..%lld", def->min,
				 def->max);
			return mismatch(json, what, expected, err, errlen);
		}
		v->i = (long long)d;
		v->set = 1;
		return ECL_OK;
	case ECL_T_FLOAT:
		if (!cJSON_IsNumber(json))
			return mismatch(json, what, "a number", err, errlen);
		if (!isfinite(json->valuedouble)) /* 1e999: JSON cannot store it back */
			return mismatch(json, what, "a finite number", err, errlen);
		v->f = json->valuedouble;
		v->set = 1;
		return ECL_OK;
	case ECL_T_BOOL:
		if (!cJSON_IsBool(json))
			return mismatch(json, what, "true or false", err, errlen);
		v->i = cJSON_IsTrue(json);
		v->set = 1;
		return ECL_OK;
	case ECL_T_ENUM: return from_enum(v, def, json, what, err, errlen);
	case ECL_T_LIST: return from_list(v, json, what, err, errlen);
	}
	return mismatch(json, what, "a value of a known type", err, errlen);
}

int value_from_json(value *v, const ecl_slot_def *def, const cJSON *json, const char *what,
		    char *err, size_t errlen)
{
	int rc = from_json(v, def, json, what, err, errlen);

	/* the callers put err in their message whatever the code */
	if (rc == ECL_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", what);
	return rc;
}

cJSON *value_to_json(const value *v, const ecl_slot_def *def)
{
	switch (def->type) {
	case ECL_T_STRING:
	case ECL_T_ENUM: return cJSON_CreateString(v->s ? v->s : "");
	case ECL_T_INT: return cJSON_CreateNumber((double)v->i);
	case ECL_T_FLOAT: return cJSON_CreateNumber(v->f);
	case ECL_T_BOOL: return cJSON_CreateBool(v->i != 0);
	case ECL_T_LIST: return v->s ? cJSON_Parse(v->s) : cJSON_CreateArray();
	}
	return NULL;
}

void value_render(const value *v, const ecl_slot_def *def, buf *out)
{
	switch (def->type) {
	case ECL_T_STRING:
	case ECL_T_ENUM:
	case ECL_T_LIST:
		if (v->s)
			buf_append(out, v->s, v->n);
		return;
	case ECL_T_INT: buf_printf(out, "%lld", v->i); return;
	case ECL_T_FLOAT: buf_printf(out, "%.15g", v->f); return;
	case ECL_T_BOOL: buf_puts(out, v->i ? "true" : "false"); return;
	}
}

void json_number(buf *out, double d)
{
	char text[32];

	if (!isfinite(d)) { /* JSON has no such number: null, as cJSON writes it */
		buf_puts(out, "null");
		return;
	}
	if (d >= INT_MIN && d <= INT_MAX && d == (double)(int)d) {
		snprintf(text, sizeof(text), "%d", (int)d);
	} else {
		snprintf(text, sizeof(text), "%1.15g", d);
		if (strtod(text, NULL) != d)
			snprintf(text, sizeof(text), "%1.17g", d);
	}
	buf_puts(out, text);
}

void value_json(const value *v, const ecl_slot_def *def, buf *out)
{
	switch (def->type) {
	case ECL_T_STRING:
	case ECL_T_ENUM: buf_json_str(out, v->s ? v->s : "", v->s ? v->n : 0); return;
	case ECL_T_LIST: buf_puts(out, v->s ? v->s : "[]"); return;
	case ECL_T_INT: buf_printf(out, "%lld", v->i); return;
	case ECL_T_FLOAT: json_number(out, v->f); return;
	case ECL_T_BOOL: buf_puts(out, v->i ? "true" : "false"); return;
	}
}

void value_clear(value *v)
{
	mem_free(v->s);
	memset(v, 0, sizeof(*v));
}

/* ---- text as a person types it ---------------------------------------------------------- */

/* `text` for a message: cut to a short, whole-character prefix with "..." when long. */
static void quote_text(const char *text, char *out, size_t outlen)
{
	size_t n = strlen(text);

	if (n > 60)
		snprintf(out, outlen, "`%.*s...`", (int)text_cut(text, n, 57), text);
	else
		snprintf(out, outlen, "`%s`", text);
}

/* A whole number or a decimal one as JSON writes it, optionally signed: no spaces, no hex,
 * no "inf" or "nan", which strtoll and strtod would take too. */
static int numeric(const char *text, const char *allowed)
{
	const char *p = text + (*text == '-' || *text == '+');

	return *p >= '0' && *p <= '9' ? p[strspn(p, allowed)] == '\0'
	       : *p == '.'            ? p[1] >= '0' && p[1] <= '9' && p[strspn(p, allowed)] == '\0'
				      : 0;
}

int value_parse(ecl_type type, const char *text, cJSON **out, char *err, size_t errlen)
{
	char why[160], shown[80];
	cJSON *v = NULL;
	char *end = NULL;

	*out = NULL;
	if (text_check(text, strlen(text), why, sizeof(why)) != ECL_OK) {
		snprintf(err, errlen, "the text holds %s", why);
		return ECL_EINPUT;
	}
	quote_text(text, shown, sizeof(shown));
	switch (type) {
	case ECL_T_INT: {
		long long n;

		if (!numeric(text, "0123456789")) {
			snprintf(err, errlen, "%s is not an integer", shown);
			return ECL_EINPUT;
		}
		errno = 0;
		n = strtoll(text, &end, 10);
		if (errno) {
			snprintf(err, errlen, "%s is not an integer from %lld to %lld", shown,
				 LLONG_MIN, LLONG_MAX);
			return ECL_EINPUT;
		}
		v = cJSON_CreateNumber((double)n); /* value_from_json checks it is exact */
		break;
	}
	case ECL_T_FLOAT: {
		double d;

		errno = 0;
		end = (char *)text;
		d = numeric(text, "0123456789.eE+-") ? strtod(text, &end) : NAN;
		if (!isfinite(d) || *end || errno) {
			snprintf(err, errlen, "%s is not a finite decimal number", shown);
			return ECL_EINPUT;
		}
		v = cJSON_CreateNumber(d);
		break;
	}
	case ECL_T_BOOL:
		if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0) {
			snprintf(err, errlen, "%s is neither true nor false", shown);
			return ECL_EINPUT;
		}
		v = cJSON_CreateBool(text[0] == 't');
		break;
	case ECL_T_LIST: {
		char key[8];
		int oom = 0;
		const cJSON *item;

		if (json_check(text, strlen(text), key, sizeof(key), why, sizeof(why))) {
			snprintf(err, errlen, "the list holds %s", why);
			return ECL_EINPUT;
		}
		v = json_parse_str(text, &oom);
		if (oom)
			return ECL_ENOMEM;
		for (item = cJSON_IsArray(v) ? v->child : NULL; item; item = item->next)
			if (!cJSON_IsString(item))
				break;
		if (!cJSON_IsArray(v) || item) {
			cJSON_Delete(v);
			snprintf(err, errlen, "%s is not a JSON list of strings ([\"a\", \"b\"])",
				 shown);
			return ECL_EINPUT;
		}
		break;
	}
	case ECL_T_STRING:
	case ECL_T_ENUM: v = cJSON_CreateString(text); break;
	default: snprintf(err, errlen, "no type %d", (int)type); return ECL_EUSAGE;
	}
	if (!v)
		return ECL_ENOMEM;
	*out = v;
	return ECL_OK;
}

int ecl_value_parse(ecl_type type, const char *text, char **json_out, char *err, size_t errlen)
{
	char why[256] = "";
	cJSON *v;
	int rc;

	mem_init();
	if (!json_out || !text) {
		if (json_out)
			*json_out = NULL;
		if (err && errlen)
			snprintf(err, errlen, "ecl_value_parse: no text or no place for the value");
		return ECL_EUSAGE;
	}
	*json_out = NULL;
	rc = value_parse(type, text, &v, why, sizeof(why));
	if (rc == ECL_OK && !(*json_out = cJSON_PrintUnformatted(v)))
		rc = ECL_ENOMEM;
	cJSON_Delete(v);
	if (rc == ECL_ENOMEM && !why[0])
		snprintf(why, sizeof(why), "out of memory");
	if (rc != ECL_OK && err && errlen)
		snprintf(err, errlen, "%s", why);
	return rc;
}
