/*
 * value.c - the values held in a run's slots: conversion from and to JSON, with the type
 * checks of the slot's declaration, and rendering into prompt templates.
 */
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
