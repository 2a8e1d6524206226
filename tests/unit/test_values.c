/*
 * test_values.c - values of every type through the runtime: workflow inputs (checks,
 * defaults, the messages that name what is wrong), LLM answers (extraction from prose and
 * fences, validation of every type, the field named on a mismatch), slot accessors as
 * generated step functions use them, results, prompt rendering, and the offline provider's
 * answers for every type. The workflow here is written by hand as eclc would write it, with
 * one slot of every type, so that every branch of value.c and run.c is reached.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"
#include "testhooks.h"

enum {
	I_S,
	I_N,
	I_F,
	I_B,
	I_MODE,
	I_TAGS,
	V_OUT_F,
	V_OUT_B,
	O_FLT,
	O_FLAG,
	O_ITEMS,
	O_KIND,
	O_NOTE,
	V_LEN_S,
	V_N_ITEMS,
	V_LABEL,
	NSLOTS
};

static const char *const modes[] = {"fast", "slow", "none", "empty"};
static const char *const kinds[] = {"x", "y"};
static const int outputs[] = {O_FLT, O_FLAG, O_ITEMS, O_KIND, O_NOTE};

static const ecl_slot_def slots[NSLOTS] = {
	[I_S] = {.name = "s",
		 .kind = ECL_SLOT_INPUT,
		 .type = ECL_T_STRING,
		 .step = -1,
		 .required = 1},
	[I_N] = {.name = "n",
		 .kind = ECL_SLOT_INPUT,
		 .type = ECL_T_INT,
		 .step = -1,
		 .has_range = 1,
		 .min = 1,
		 .max = 10,
		 .initial = "5"},
	[I_F] = {.name = "f",
		 .kind = ECL_SLOT_INPUT,
		 .type = ECL_T_FLOAT,
		 .step = -1,
		 .initial = "1.5"},
	[I_B] = {.name = "b",
		 .kind = ECL_SLOT_INPUT,
		 .type = ECL_T_BOOL,
		 .step = -1,
		 .initial = "true"},
	[I_MODE] = {.name = "mode",
		    .kind = ECL_SLOT_INPUT,
		    .type = ECL_T_ENUM,
		    .step = -1,
		    .choices = modes,
		    .nchoices = 4,
		    .initial = "\"fast\""},
	[I_TAGS] = {.name = "tags",
		    .kind = ECL_SLOT_INPUT,
		    .type = ECL_T_LIST,
		    .step = -1,
		    .initial = "[\"a\"]"},
	[V_OUT_F] = {.name = "out_f",
		     .kind = ECL_SLOT_VAR,
		     .type = ECL_T_FLOAT,
		     .step = -1,
		     .initial = "0.25"},
	[V_OUT_B] = {.name = "out_b", .kind = ECL_SLOT_VAR, .type = ECL_T_BOOL, .step = -1},
	[O_FLT] = {.name = "ask.flt",
		   .kind = ECL_SLOT_OUTPUT,
		   .type = ECL_T_FLOAT,
		   .step = 0,
		   .field = "flt",
		   .required = 1},
	[O_FLAG] = {.name = "ask.flag",
		    .kind = ECL_SLOT_OUTPUT,
		    .type = ECL_T_BOOL,
		    .step = 0,
		    .field = "flag",
		    .required = 1},
	[O_ITEMS] = {.name = "ask.items",
		     .kind = ECL_SLOT_OUTPUT,
		     .type = ECL_T_LIST,
		     .step = 0,
		     .field = "items",
		     .required = 1},
	[O_KIND] = {.name = "ask.kind",
		    .kind = ECL_SLOT_OUTPUT,
		    .type = ECL_T_ENUM,
		    .step = 0,
		    .field = "kind",
		    .choices = kinds,
		    .nchoices = 2,
		    .required = 1},
	[O_NOTE] = {.name = "ask.note",
		    .kind = ECL_SLOT_OUTPUT,
		    .type = ECL_T_STRING,
		    .step = 0,
		    .field = "note"},
	[V_LEN_S] = {.name = "len_s", .kind = ECL_SLOT_VAR, .type = ECL_T_INT, .step = -1},
	[V_N_ITEMS] = {.name = "n_items", .kind = ECL_SLOT_VAR, .type = ECL_T_INT, .step = -1},
	[V_LABEL] = {.name = "label", .kind = ECL_SLOT_VAR, .type = ECL_T_STRING, .step = -1},
};

#define LIT(s)                                                                                     \
	{                                                                                          \
		s, sizeof(s) - 1, -1                                                               \
	}
static const ecl_tpl_part prompt_parts[] = {
	LIT("s="),      {NULL, 0, I_S},     LIT(" n="),     {NULL, 0, I_N},
	LIT(" f="),     {NULL, 0, I_F},     LIT(" b="),     {NULL, 0, I_B},
	LIT(" mode="),  {NULL, 0, I_MODE},  LIT(" tags="),  {NULL, 0, I_TAGS},
	LIT(" out_f="), {NULL, 0, V_OUT_F}, LIT(" out_b="), {NULL, 0, V_OUT_B},
};
static const ecl_tpl_part system_parts[] = {LIT("Answer in JSON.")};

static const ecl_step_def steps[] = {{
	.name = "ask",
	.kind = ECL_STEP_LLM,
	.line = 1,
	.system = {system_parts, 1},
	.prompt = {prompt_parts, sizeof(prompt_parts) / sizeof(prompt_parts[0])},
	.outputs = outputs,
	.noutputs = 5,
	.counter = -1,
	.opts = {.temperature = -1, .retries = -1, .repairs = -1},
}};

static const ecl_field_ref result_all[] = {
	{"out_f", V_OUT_F}, {"out_b", V_OUT_B}, {"items", O_ITEMS},
	{"kind", O_KIND},   {"len_s", V_LEN_S}, {"n_items", V_N_ITEMS},
	{"label", V_LABEL}, {"note", O_NOTE},   {"tags", I_TAGS},
};
static const ecl_field_ref result_bare[] = {{NULL, O_ITEMS}};

/* The step function, as eclc writes one: the accessors of every type. */
static int typed_step(ecl_run *run)
{
	int rc;

	if (ecl_run_state(run) != 0)
		return ECL_EUSAGE;
	if ((rc = ecl_run_llm(run)) != ECL_OK)
		return rc;
	/* an int read as a float, a float added */
	if ((rc = ecl_run_set_float(run, V_OUT_F,
				    ecl_run_float(run, O_FLT) + ecl_run_float(run, I_N))) != ECL_OK)
		return rc;
	if ((rc = ecl_run_set_bool(run, V_OUT_B,
				   ecl_run_bool(run, O_FLAG) && ecl_run_bool(run, I_B))) != ECL_OK)
		return rc;
	if ((rc = ecl_run_set_int(run, V_LEN_S, ecl_run_len(run, I_S))) != ECL_OK)
		return rc;
	if ((rc = ecl_run_set_int(run, V_N_ITEMS, ecl_run_len(run, O_ITEMS))) != ECL_OK)
		return rc;
	if ((rc = ecl_run_set_str(run, V_LABEL, ecl_run_str(run, O_KIND))) != ECL_OK)
		return rc;
	if (ecl_str_eq(ecl_run_str(run, I_MODE), "slow"))
		return ecl_run_fail(run, NULL);
	if (ecl_str_eq(ecl_run_str(run, I_MODE), "none"))
		return ecl_run_done(run, NULL, 0);
	if (ecl_str_eq(ecl_run_str(run, I_MODE), "empty"))
		return ecl_run_done(run, result_bare, 1);
	return ecl_run_done(run, result_all, sizeof(result_all) / sizeof(result_all[0]));
}

static const ecl_workflow typed = {
	.abi = ECL_ABI_VERSION,
	.id = "typed",
	.name = "Every type",
	.source = "tests/unit/test_values.c",
	.version = "0000000000000001",
	.slots = slots,
	.nslots = NSLOTS,
	.steps = steps,
	.nsteps = 1,
	.start = 0,
	.max_steps = 1,
	.opts = {.temperature = -1, .retries = 1, .repairs = 0},
	.step = typed_step,
	.usage = "typed --s TEXT",
};
static const ecl_workflow *const typed_list[] = {&typed};

static char *dir;

static void setup(void)
{
	dir = ts_tmpdir();
	mem_init();
}

static void teardown(void)
{
	ts_rmtree(dir);
	free(dir);
}

TestSuite(values, .init = setup, .fini = teardown);

static void expect_input_error(const char *inputs, const char *needle)
{
	char err[512] = "";

	cr_assert_eq(ecl_workflow_check_inputs(&typed, inputs, err, sizeof(err)), ECL_EINPUT,
		     "%s was accepted", inputs);
	cr_assert(strstr(err, needle), "%s: `%s` does not say `%s`", inputs, err, needle);
}

Test(values, inputs_are_checked_with_the_input_named)
{
	char err[512];

	cr_assert_eq(ecl_workflow_check_inputs(&typed, "{\"s\": \"x\"}", err, sizeof(err)), ECL_OK,
		     "%s", err);
	cr_assert_eq(ecl_workflow_check_inputs(
			     &typed,
			     "{\"s\": \"x\", \"n\": 10, \"f\": -2, \"b\": false, \"mode\": "
			     "\"slow\", \"tags\": [\"p\", \"q\"]}",
			     err, sizeof(err)),
		     ECL_OK, "%s", err);
	expect_input_error("{\"s\": ", "not valid JSON");
	expect_input_error("[1]", "must be a JSON object");
	expect_input_error("{\"s\": \"x\", \"zz\": 1}", "no input `zz`");
	expect_input_error("{}", "missing required input `s` (string) of workflow typed");
	expect_input_error("{\"s\": 5}", "input `s`: expected a string, got 5");
	expect_input_error("{\"s\": \"x\", \"n\": 1.5}", "input `n`: expected an integer, got 1.5");
	expect_input_error("{\"s\": \"x\", \"n\": 11}", "expected an integer in 1..10, got 11");
	expect_input_error("{\"s\": \"x\", \"n\": 1e300}", "input `n`: expected an integer");
	expect_input_error("{\"s\": \"x\", \"f\": \"1\"}",
			   "input `f`: expected a number, got \"1\"");
	expect_input_error("{\"s\": \"x\", \"b\": 1}", "input `b`: expected true or false, got 1");
	expect_input_error(
		"{\"s\": \"x\", \"mode\": \"medium\"}",
		"expected one of \"fast\", \"slow\", \"none\", \"empty\", got \"medium\"");
	expect_input_error("{\"s\": \"x\", \"mode\": 3}", "input `mode`: expected one of");
	expect_input_error("{\"s\": \"x\", \"tags\": \"a\"}", "expected a list of strings");
	expect_input_error("{\"s\": \"x\", \"tags\": [\"a\", 2]}",
			   "expected a string in the list, got 2");
	expect_input_error("{\"s\": \"" /* a long value is cut in the message */
			   "0123456789012345678901234567890123456789012345678901234567890123456789"
			   "\", \"n\": \"0123456789012345678901234567890123456789012345678901234567"
			   "890123456789\"}",
			   "...");
}

static char *canon; /* the text of the last answer parsed */

static int parse(const char *text, cJSON **out, char *err, size_t errlen)
{
	mem_free(canon);
	canon = NULL;
	return answer_parse(&typed, &steps[0], text, strlen(text), out, &canon, err, errlen);
}

static void expect_answer_error(const char *text, const char *needle)
{
	cJSON *out = NULL;
	char err[512] = "";

	cr_assert_eq(parse(text, &out, err, sizeof(err)), ECL_EANSWER, "%s was accepted", text);
	cr_assert_null(out);
	cr_assert_null(canon);
	cr_assert(strstr(err, needle), "%s: `%s` does not say `%s`", text, err, needle);
	cr_assert(strncmp(err, "step `ask`: ", 12) == 0, "%s", err);
}

#define GOOD "{\"flt\": 2.5, \"flag\": true, \"items\": [\"u\", \"v\"], \"kind\": \"y\"}"

static void expect_answer(const char *text, const char *json)
{
	cJSON *out = NULL;
	char err[512] = "", *printed;

	cr_assert_eq(parse(text, &out, err, sizeof(err)), ECL_OK, "%s: %s", text, err);
	printed = cJSON_PrintUnformatted(out);
	cr_assert_str_eq(printed, json);
	cr_assert_str_eq(canon, json, "the text stored for the answer");
	cJSON_free(printed);
	cJSON_Delete(out);
	mem_free(canon);
	canon = NULL;
}

Test(values, answers_are_found_and_validated)
{
	static const char want[] =
		"{\"flt\":2.5,\"flag\":true,\"items\":[\"u\",\"v\"],\"kind\":\"y\"}";
	char many[1024];
	int i;

	expect_answer(GOOD, want);
	expect_answer("  \n" GOOD "  trailing words", want);
	expect_answer("Here you go:\n```json\n" GOOD "\n```\nBye", want);
	expect_answer("Sure {not json} and {\"also\": not} then " GOOD " done.", want);
	/* extra fields are dropped, a null optional field is left out, a note is kept */
	expect_answer("{\"flt\": 1, \"flag\": false, \"items\": [], \"kind\": \"x\", \"extra\": 1, "
		      "\"note\": null}",
		      "{\"flt\":1,\"flag\":false,\"items\":[],\"kind\":\"x\"}");
	expect_answer(
		"{\"flt\": 1, \"flag\": false, \"items\": [], \"kind\": \"x\", \"note\": \"n\"}",
		"{\"flt\":1,\"flag\":false,\"items\":[],\"kind\":\"x\",\"note\":\"n\"}");

	expect_answer_error("no object here at all", "holds no JSON object: \"no object here");
	expect_answer_error("```\nnot closed", "holds no JSON object");
	expect_answer_error("```json\n[1, 2]\n```", "holds no JSON object");
	expect_answer_error(
		"0123456789012345678901234567890123456789012345678901234567890123456789", "...\"");
	expect_answer_error("{\"flag\": true, \"items\": [], \"kind\": \"x\"}",
			    "field `flt` is missing from the answer");
	/* a null is said to be one: the field is there */
	expect_answer_error("{\"flt\": null, \"flag\": true, \"items\": [], \"kind\": \"x\"}",
			    "field `flt` of the answer is null, but it is required");
	expect_answer_error("{\"flt\": \"2\", \"flag\": true, \"items\": [], \"kind\": \"x\"}",
			    "field `flt`: expected a number, got \"2\"");
	/* 1e999 parses as infinity, which JSON cannot hold: the checkpoint could not be read */
	expect_answer_error("{\"flt\": -1e999, \"flag\": true, \"items\": [], \"kind\": \"x\"}",
			    "field `flt`: expected a finite number");
	expect_answer_error("{\"flt\": 2, \"flag\": \"yes\", \"items\": [], \"kind\": \"x\"}",
			    "field `flag`: expected true or false, got \"yes\"");
	expect_answer_error("{\"flt\": 2, \"flag\": true, \"items\": {}, \"kind\": \"x\"}",
			    "field `items`: expected a list of strings, got {}");
	expect_answer_error("{\"flt\": 2, \"flag\": true, \"items\": [null], \"kind\": \"x\"}",
			    "field `items`: expected a string in the list, got null");
	expect_answer_error("{\"flt\": 2, \"flag\": true, \"items\": [], \"kind\": \"z\"}",
			    "field `kind`: expected one of \"x\", \"y\", got \"z\"");
	expect_answer_error("{\"flt\": 2, \"flag\": true, \"items\": [], \"kind\": \"x\", "
			    "\"note\": 7}",
			    "field `note`: expected a string, got 7");

	/* beyond the most candidates tried, an object buried in prose is not looked for */
	for (i = 0; i < 70; i++)
		many[i] = '{';
	snprintf(many + 70, sizeof(many) - 70, " %s", GOOD);
	expect_answer_error(many, "holds no JSON object");
}

/* Text a run cannot hold is refused where it comes in, naming the field, never cut. */
Test(values, text_entering_a_run_is_checked_once)
{
	static const struct {
		const char *text;
		size_t len;
		const char *says;
	} raw[] = {
		{"plain", 5, NULL},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, NULL},
		{"a\0b", 3, "a NUL byte at byte 1"},
		{"\xff", 1, "not UTF-8 (0xff at byte 0)"},
		{"ab\x80", 3, "(0x80 at byte 2)"},           /* a continuation byte alone */
		{"\xc0\x80", 2, "(0xc0 at byte 0)"},         /* an overlong NUL */
		{"\xe0\x80\x80", 3, "(0xe0 at byte 0)"},     /* an overlong 3-byte form */
		{"\xf0\x80\x80\x80", 4, "(0xf0 at byte 0)"}, /* an overlong 4-byte form */
		{"\xed\xa0\x80", 3, "(0xed at byte 0)"},     /* a surrogate, encoded */
		{"\xf4\x90\x80\x80", 4, "(0xf4 at byte 0)"}, /* past U+10FFFF */
		{"\xf5\x80\x80\x80", 4, "(0xf5 at byte 0)"}, /* no such lead byte */
		{"x\xe2\x82", 3, "(0xe2 at byte 1)"},        /* cut short */
		{"x\xe2(\xa1", 4, "(0xe2 at byte 1)"},       /* not a continuation */
	};
	static const struct {
		const char *json;
		const char *says; /* NULL: fine */
	} js[] = {
		{"{\"a\": \"x\\u00e9\\ud83d\\ude00\\n\\\"\\/\", \"b\": [1, {\"c\": null}]}", NULL},
		{"{\"a\": \"x\", \"b\": \"a\\u0000b\"}", "`b` holds a NUL character `\\u0000`"},
		{"{\"a\": \"x\", \"b\": [\"ok\", \"a\\u0000\"]}", "`b` holds a NUL character"},
		{"{\"b\": {\"deep\": \"\\ud800\"}}",
		 "`b` holds an invalid escape `\\ud800`: a lone"},
		{"{\"b\": \"\\udc00x\"}", "`b` holds an invalid escape `\\udc00`"},
		{"{\"b\": \"\\ud800\\u0041\"}", "`b` holds an invalid escape `\\ud800`"},
		{"{\"b\": \"\\x41\"}", "`b` holds an invalid escape `\\x`"},
		{"{\"b\": \"\\u12\"}", "`b` holds an invalid escape `\\u` without four hex digits"},
		{"{\"b\": \"\\uzzzz\"}", "without four hex digits"},
		{"{\"b\": \"a\xff\"}", "`b` holds bytes that are not UTF-8 (0xff)"},
		{"{\"b\\u0000\": 1}", "a member's name holds a NUL character"},
		{"{\"b\": \"x\\", NULL}, /* cut short: the parser's to say */
		{"{\"", NULL},           /* a name cut short */
		{"{\"abc", NULL},        /* the same, longer */
		{"{\"a\": \"x", NULL},   /* a value cut short */
		{"\"\\u0000\"", "the text holds a NUL character"},           /* a string alone */
		{"[\"ok\", \"\\u0000\"]", "the text holds a NUL character"}, /* a list */
		{"\"ok\" {\"b\": \"\\u0000\"}", NULL},     /* only the first value is looked at */
		{"42 \"\\u0000\"", NULL},                  /* a number holds no string */
		{"{\"a\": 1} {\"b\": \"\\u0000\"}", NULL}, /* after the value's end */
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		err[0] = '\0';
		if (!raw[i].says) {
			cr_assert_eq(ecl_text_check(raw[i].text, raw[i].len, err, sizeof(err)),
				     ECL_OK, "raw %zu: %s", i, err);
			continue;
		}
		cr_assert_eq(ecl_text_check(raw[i].text, raw[i].len, err, sizeof(err)), ECL_EINPUT,
			     "raw %zu was accepted", i);
		cr_assert(strstr(err, raw[i].says), "raw %zu: `%s` does not say `%s`", i, err,
			  raw[i].says);
	}
	cr_assert_eq(ecl_text_check(NULL, 0, NULL, 0), ECL_OK);
	cr_assert_eq(ecl_text_check("\xff", 1, NULL, 0), ECL_EINPUT);
	for (i = 0; i < sizeof(js) / sizeof(js[0]); i++) {
		err[0] = '\0';
		if (!js[i].says) {
			cr_assert_eq(
				ecl_json_check(js[i].json, strlen(js[i].json), err, sizeof(err)),
				ECL_OK, "json %zu: %s", i, err);
			continue;
		}
		cr_assert_eq(ecl_json_check(js[i].json, strlen(js[i].json), err, sizeof(err)),
			     ECL_EINPUT, "json %zu was accepted: %s", i, js[i].json);
		cr_assert(strstr(err, js[i].says), "json %zu: `%s` does not say `%s`", i, err,
			  js[i].says);
	}
	cr_assert_eq(ecl_json_check(NULL, 0, NULL, 0), ECL_OK);
	cr_assert_eq(ecl_json_check("{\"a\":\"\\u0000\"}", 13, NULL, 0), ECL_EINPUT);
	/* a raw NUL between values (json_check reads a length, not a C string) */
	cr_assert_eq(ecl_json_check("{\"a\": 1,\0 \"b\": 2}", 17, err, sizeof(err)), ECL_EINPUT);
	cr_assert(strstr(err, "a NUL byte"), "%s", err);

	{
		/* a provider's message is made one line of UTF-8 before it is stored */
		char msg[] = "HTTP 500: bad\n\tthing \xff\x1b[31m caf\xc3\xa9\x7f";

		text_one_line(msg);
		cr_assert_str_eq(msg, "HTTP 500: bad  thing ? [31m caf\xc3\xa9 ");
	}

	/* inputs: refused with the input named, before the parser could cut them */
	expect_input_error("{\"s\": \"a\\u0000b\"}", "input `s` holds a NUL character");
	expect_input_error("{\"s\": \"a\xc3\"}", "input `s` holds bytes that are not UTF-8");
	expect_input_error("{\"tags\": [\"\\ud800\"], \"s\": \"x\"}",
			   "input `tags` holds an invalid escape `\\ud800`");
	expect_input_error("{\"s\\u0000\": \"x\"}", "the name of an input holds a NUL");
	expect_input_error("[\"\\u0000\"]", "the inputs hold a NUL character");
	/* a number beyond a double's range is said to be one, not "null" */
	expect_input_error("{\"s\": \"x\", \"n\": 1e400}",
			   "input `n`: expected an integer, got a number out of range");

	/* answers: a malformed answer (repaired like any), the field named */
	expect_answer_error("{\"flt\": 2, \"flag\": true, \"items\": [], \"kind\": \"x\", "
			    "\"note\": \"a\\u0000b\"}",
			    "field `note` of the answer holds a NUL character `\\u0000`");
	expect_answer_error("Sure: ```json\n{\"flt\": 2, \"flag\": true, \"items\": [\"\\ud800\"], "
			    "\"kind\": \"x\"}\n```",
			    "field `items` of the answer holds an invalid escape `\\ud800`");
	expect_answer_error("{\"flt\": 2, \"flag\": true, \"items\": [], \"kind\": \"x\", "
			    "\"note\": \"a\xff\"}",
			    "field `note` of the answer holds bytes that are not UTF-8 (0xff)");
	expect_answer_error("{\"flt\": 2, \"flag\": true, \"items\": [], \"kind\": \"x\", "
			    "\"bad\\udfff\": 1}",
			    "a field name of the answer holds an invalid escape `\\udfff`");
	expect_answer_error("Fine. " GOOD " \xc3(", "the answer holds bytes that are not UTF-8 "
						    "(0xc3 at byte 67)");
	expect_answer_error("{\"flt\": 1e400, \"flag\": true, \"items\": [], \"kind\": \"x\"}",
			    "field `flt`: expected a finite number, got a number out of range");
	{
		/* a raw NUL between members: the answer is named, there is no field to name */
		static const char nul[] = "{\"flt\": 2, \"flag\": true,\0 \"items\": [], \"kind\": "
					  "\"x\"}";
		cJSON *out = NULL;

		cr_assert_eq(answer_parse(&typed, &steps[0], nul, sizeof(nul) - 1, &out, NULL, err,
					  sizeof(err)),
			     ECL_EANSWER);
		cr_assert(strstr(err, "step `ask`: the answer holds a NUL byte"), "%s", err);
	}
	{
		/* a raw NUL inside a string: the parser reads the length, and would cut it */
		static const char nul[] = "{\"flt\": 2, \"flag\": true, \"items\": [], \"kind\": "
					  "\"x\", \"note\": \"a\0b\"}";
		cJSON *out = NULL;

		cr_assert_eq(answer_parse(&typed, &steps[0], nul, sizeof(nul) - 1, &out, NULL, err,
					  sizeof(err)),
			     ECL_EANSWER);
		cr_assert(strstr(err, "field `note` of the answer holds a NUL byte"), "%s", err);
	}
	{
		/* an excerpt is cut between characters, never inside one */
		char text[128], e2[512];
		cJSON *out = NULL;

		memset(text, 'x', 59);
		snprintf(text + 59, sizeof(text) - 59, "\xc3\xa9 and more prose");
		cr_assert_eq(answer_parse(&typed, &steps[0], text, strlen(text), &out, NULL, e2,
					  sizeof(e2)),
			     ECL_EANSWER);
		cr_assert_eq(ecl_text_check(e2, strlen(e2), err, sizeof(err)), ECL_OK, "%s: %s", e2,
			     err);
		cr_assert(strstr(e2, "xxx...\""), "%s", e2);
	}
	{
		/* so is a long value in a message */
		char in[256];

		snprintf(in, sizeof(in), "{\"s\": \"x\", \"mode\": \"%056d\xc3\xa9\xc3\xa9\"}", 0);
		cr_assert_eq(ecl_workflow_check_inputs(&typed, in, err, sizeof(err)), ECL_EINPUT);
		cr_assert_eq(ecl_text_check(err, strlen(err), NULL, 0), ECL_OK, "%s", err);
		cr_assert(strstr(err, "0...") || strstr(err, "\xc3\xa9..."), "%s", err);
	}
}

Test(values, values_to_json_and_text)
{
	value v = {0};
	buf b = {0};
	char err[256];
	cJSON *j;
	char *t;
	int i;

	for (i = 0; i < NSLOTS; i++) {
		const ecl_slot_def *def = &slots[i];

		memset(&v, 0, sizeof(v));
		j = value_to_json(&v, def); /* an unset value of every type */
		cr_assert_not_null(j, "%s", def->name);
		cJSON_Delete(j);
		value_render(&v, def, &b);
	}
	cr_assert_str_eq(b.data, "00false0false0false00"); /* unset numbers are 0 */
	buf_free(&b);

	j = cJSON_Parse("[\"a\", \"b\"]");
	cr_assert_eq(value_from_json(&v, &slots[I_TAGS], j, "tags", err, sizeof(err)), ECL_OK);
	cJSON_Delete(j);
	j = value_to_json(&v, &slots[I_TAGS]);
	t = cJSON_PrintUnformatted(j);
	cr_assert_str_eq(t, "[\"a\",\"b\"]");
	cJSON_free(t);
	cJSON_Delete(j);
	value_render(&v, &slots[I_TAGS], &b);
	cr_assert_str_eq(b.data, "[\"a\",\"b\"]");
	buf_free(&b);
	value_clear(&v);
	cr_assert_null(v.s);

	j = cJSON_CreateNumber(0.1);
	cr_assert_eq(value_from_json(&v, &slots[I_F], j, "f", err, sizeof(err)), ECL_OK);
	value_render(&v, &slots[I_F], &b);
	cr_assert_str_eq(b.data, "0.1");
	buf_free(&b);
	cJSON_Delete(j);
}

/* Values as JSON text, as checkpoints and results store them: a float that needs 17 digits
 * keeps them (it reads back as the same number), an int beyond 32 bits is exact, strings
 * are escaped, an unset list is empty. */
Test(values, values_as_json_text_read_back_the_same)
{
	value v = {0};
	buf b = {0};
	double back = 0;

	v.f = 0.1 + 0.2;
	value_json(&v, &slots[I_F], &b);
	cr_assert_str_eq(b.data, "0.30000000000000004");
	cr_assert_eq(sscanf(b.data, "%lg", &back), 1);
	cr_assert_eq(back, 0.1 + 0.2);
	buf_free(&b);
	v.f = 0.5;
	value_json(&v, &slots[I_F], &b);
	cr_assert_str_eq(b.data, "0.5");
	buf_free(&b);
	json_number(&b, 1e300 * 1e300); /* no JSON number: null, as cJSON writes it */
	json_number(&b, -3);
	cr_assert_str_eq(b.data, "null-3");
	buf_free(&b);
	v.i = 9007199254740993LL;
	value_json(&v, &slots[I_N], &b);
	cr_assert_str_eq(b.data, "9007199254740993");
	buf_free(&b);
	v.i = 1;
	value_json(&v, &slots[I_B], &b);
	cr_assert_str_eq(b.data, "true");
	buf_free(&b);
	v.i = 0;
	value_json(&v, &slots[I_TAGS], &b);
	cr_assert_str_eq(b.data, "[]");
	buf_free(&b);
	v.s = "a \"quote\"\n";
	v.n = strlen(v.s);
	value_json(&v, &slots[I_S], &b);
	cr_assert_str_eq(b.data, "\"a \\\"quote\\\"\\n\"");
	buf_free(&b);
}

/* An engine on the typed workflow, with the scripted answers given (or offline). */
static ecl_engine *typed_engine(const char *script, FILE *log, ecl_log_format fmt)
{
	ecl_options o;

	if (script)
		ts_write(ts_path(dir, "script.json"), script);
	o = ts_options(ts_path(dir, "runs.db"), script ? ts_path(dir, "script.json") : NULL, NULL);
	o.workflows = typed_list;
	o.nworkflows = 1;
	o.log_stream = log;
	o.log_format = fmt;
	o.verbose = log != NULL;
	return ts_open(&o);
}

static ecl_run_info *run_typed(ecl_engine *e, const char *inputs, int want)
{
	char id[ECL_ID_MAX];
	ecl_run_info *info = NULL;

	cr_assert_eq(ecl_run_start(e, &typed, inputs, id), ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_drive(e, id), want, "%s", ecl_engine_errmsg(e));
	cr_assert_eq(ecl_run_info_get(e, id, &info), ECL_OK);
	return info;
}

Test(values, a_run_with_every_type)
{
	ecl_engine *e = typed_engine(
		"{\"ask\": [{\"flt\": 0.5, \"flag\": true, \"items\": [\"u\", \"v\", \"w\"], "
		"\"kind\": \"y\", \"note\": \"n\"}]}",
		NULL, ECL_LOG_PRETTY);
	ecl_run_info *info =
		run_typed(e, "{\"s\": \"h\xc3\xa9llo \xf0\x9f\x99\x82\", \"n\": 3}", ECL_OK);

	cr_assert_str_eq(info->status, "completed");
	cr_assert_str_eq(
		info->output,
		"{\"out_f\":3.5,\"out_b\":true,\"items\":[\"u\",\"v\",\"w\"],\"kind\":\"y\","
		"\"len_s\":7,\"n_items\":3,\"label\":\"y\",\"note\":\"n\",\"tags\":[\"a\"]}");
	cr_assert_str_eq(info->inputs, "{\"s\":\"h\xc3\xa9llo \xf0\x9f\x99\x82\",\"n\":3,\"f\":1.5,"
				       "\"b\":true,\"mode\":\"fast\",\"tags\":[\"a\"]}");
	cr_assert_eq(info->revision_limit, 0);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

/* The stored inputs keep a float that needs 17 digits: it reads back as the same number. */
Test(values, inputs_are_stored_with_every_digit_of_a_float)
{
	ecl_engine *e = typed_engine(
		"{\"ask\": [{\"flt\": 0.5, \"flag\": true, \"items\": [], \"kind\": \"x\", "
		"\"note\": \"n\"}]}",
		NULL, ECL_LOG_PRETTY);
	ecl_run_info *info = run_typed(e, "{\"s\": \"x\", \"f\": 0.30000000000000004}", ECL_OK);

	cr_assert_str_eq(info->inputs, "{\"s\":\"x\",\"n\":5,\"f\":0.30000000000000004,"
				       "\"b\":true,\"mode\":\"fast\",\"tags\":[\"a\"]}");
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

typedef struct prompts {
	char text[1024];
} prompts;

static int keep_prompt(void *ctx, const ecl_history_entry *h)
{
	prompts *p = ctx;

	if (h->prompt)
		snprintf(p->text, sizeof(p->text), "%s|%s", h->system, h->prompt);
	return 0;
}

Test(values, results_failures_and_prompts)
{
	ecl_engine *e = typed_engine("{\"ask\": [{\"flt\": 1, \"flag\": false, \"items\": [], "
				     "\"kind\": \"x\"}]}",
				     NULL, ECL_LOG_PRETTY);
	ecl_run_info *info;
	prompts p = {{0}};
	char id[ECL_ID_MAX];

	info = run_typed(e, "{\"s\": \"q\", \"mode\": \"none\"}", ECL_OK);
	cr_assert_str_eq(info->output, "null");
	ecl_run_info_free(info);
	info = run_typed(e, "{\"s\": \"q\", \"mode\": \"empty\", \"b\": false}", ECL_OK);
	cr_assert_str_eq(info->output, "[]");
	ecl_run_info_free(info);
	info = run_typed(e, "{\"s\": \"q\", \"mode\": \"slow\"}", ECL_EFAILED);
	cr_assert_str_eq(info->status, "failed");
	cr_assert_str_eq(info->error, "no transition of step `ask` matched");
	cr_assert_str_eq(info->step, "ask");
	snprintf(id, sizeof(id), "%s", info->id);
	ecl_run_info_free(info);
	cr_assert_eq(ecl_run_history(e, id, 1, keep_prompt, &p), ECL_OK);
	cr_assert_str_eq(p.text, "Answer in JSON.|s=q n=5 f=1.5 b=true mode=slow tags=[\"a\"] "
				 "out_f=0.25 out_b=false");
	ecl_engine_close(e);
}

Test(values, the_offline_provider_answers_every_type)
{
	ecl_engine *e = typed_engine(NULL, NULL, ECL_LOG_PRETTY);
	ecl_run_info *info = run_typed(e, "{\"s\": \"q\", \"n\": 2}", ECL_OK);
	cJSON *out = cJSON_Parse(info->output);

	cr_assert_not_null(out, "%s", info->output);
	cr_assert_float_eq(cJSON_GetObjectItem(out, "out_f")->valuedouble, 2.5, 1e-9);
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(out, "out_b")), "first visit: false");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out, "kind")), "y");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(out, "items")), 0);
	cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "note")),
			 "not written by a model"));
	cJSON_Delete(out);
	ecl_run_info_free(info);
	ecl_engine_close(e);
}

static void check_log(ecl_log_format fmt, const char *needle)
{
	char *path = strdup(ts_path(dir, "log.txt")), *text;
	FILE *log = fopen(path, "w");
	ecl_engine *e;
	ecl_run_info *info;

	cr_assert_not_null(log);
	e = typed_engine(
		"{\"ask\": [[{\"$error\": \"transient\", \"message\": \"busy = \\\"yes\\\"\"}, "
		"\"not json\"]]}",
		log, fmt);
	info = run_typed(e, "{\"s\": \"q\"}", ECL_EFAILED);
	ecl_run_info_free(info);
	ecl_engine_close(e);
	fclose(log);
	text = ts_read(path);
	cr_assert(text && strstr(text, needle), "log format %d: %s lacks %s", fmt, text, needle);
	free(text);
	free(path);
}

Test(values, logs_in_every_format)
{
	check_log(ECL_LOG_JSON, "\"level\":\"warn\",\"msg\":\"retry\"");
	check_log(ECL_LOG_JSON, "\"error\":\"scripted: busy = \\\"yes\\\"\"");
	check_log(ECL_LOG_COMPACT, "level=warn msg=\"retry\"");
	check_log(ECL_LOG_COMPACT, "error=\"scripted: busy = \\\"yes\\\"\"");
	check_log(ECL_LOG_PRETTY, "warn  retry");
	check_log(ECL_LOG_PRETTY, "step=ask");
}

Test(values, json_strings_escape_every_control_character)
{
	buf b = {0};
	char in[40];
	int i;

	for (i = 0; i < 32; i++)
		in[i] = (char)(i + 1 == 32 ? '"' : i + 1);
	memcpy(in + 32, "\\\x7f\xc3\xa9", 4);
	buf_json_str(&b, in, 36);
	cr_assert_str_eq(b.data, "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n"
				 "\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014"
				 "\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d"
				 "\\u001e\\u001f\\\"\\\\\x7f\xc3\xa9\"");
	cJSON *j = cJSON_Parse(b.data);
	cr_assert_not_null(j, "valid JSON");
	cr_assert_eq(memcmp(j->valuestring, in, 36), 0);
	cJSON_Delete(j);
	buf_free(&b);
}

Test(values, buffers_grow_and_remember_a_failed_allocation)
{
	buf b = {0};
	int i;

	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	cr_assert_eq(b.len, strlen(b.data));
	cr_assert(strncmp(b.data + b.len - 4, "999,", 4) == 0);
	buf_free(&b);
	cr_assert_null(b.data);

	buf_puts(&b, "start");
	ecl_test_fail_alloc_after(0);
	for (i = 0; i < 100; i++)
		buf_puts(&b, "0123456789");
	buf_printf(&b, "%s", "more");
	buf_append(&b, "x", 1);
	ecl_test_fail_alloc_after(-1);
	cr_assert(b.oom);
	cr_assert_eq(b.len, 255, "what fitted in the first 256 bytes stays");
	cr_assert(strncmp(b.data, "start0123456789", 15) == 0);
	buf_puts(&b, "again");
	cr_assert_eq(b.len, 255, "nothing is appended after a failure");
	cr_assert_eq(strlen(b.data), 255);
	buf_free(&b);
	cr_assert_eq(b.oom, 0);
}

Test(values, every_status_has_its_own_text)
{
	int i, j;

	for (i = ECL_OK; i <= ECL_ESUSPENDED; i++) {
		cr_assert_str_neq(ecl_strerror(i), "unknown status", "code %d", i);
		for (j = ECL_OK; j < i; j++)
			cr_assert_str_neq(ecl_strerror(i), ecl_strerror(j), "codes %d and %d", i,
					  j);
	}
	cr_assert_str_eq(ecl_strerror(ECL_ESUSPENDED + 1), "unknown status");
	cr_assert_str_eq(ecl_strerror(-1), "unknown status");
}

Test(values, type_names_are_the_language_s)
{
	/* list, run --help and the input errors print these words, as .ecl files write them */
	static const char *const text[] = {"string", "int", "float", "bool", "enum", "list"};
	int i;

	for (i = 0; i <= (int)ECL_T_LIST; i++)
		cr_assert_str_eq(ecl_type_name((ecl_type)i), text[i], "type %d", i);
	cr_assert_str_eq(ecl_type_name((ecl_type)(ECL_T_LIST + 1)), "value");
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

Test(values, run_ids_are_16_lowercase_hex_digits_unique_and_time_ordered)
{
	enum { N = 20000 };
	char(*ids)[ECL_ID_MAX] = calloc(N, sizeof(*ids));
	int i, k;

	cr_assert_not_null(ids);
	for (i = 0; i < N; i++) {
		ecl_run_id_new(ids[i]);
		cr_assert_eq(strlen(ids[i]), 16, "%s", ids[i]);
		for (k = 0; k < 16; k++)
			cr_assert(strchr("0123456789abcdef", ids[i][k]) && ids[i][k], "%s", ids[i]);
		/* the time part never goes back */
		cr_assert(i == 0 || strncmp(ids[i - 1], ids[i], 11) <= 0, "%s then %s", ids[i - 1],
			  ids[i]);
	}
	qsort(ids, N, sizeof(*ids), id_cmp);
	for (i = 1; i < N; i++)
		cr_assert_str_neq(ids[i - 1], ids[i], "made twice");
	free(ids);
}

enum { ID_THREADS = 4, IDS_PER_THREAD = 50000 };

static pthread_barrier_t ids_start; /* the threads draw together, where a race would show */

static void *draw_ids(void *arg)
{
	char(*ids)[ECL_ID_MAX] = arg;
	int i;

	pthread_barrier_wait(&ids_start);
	for (i = 0; i < IDS_PER_THREAD; i++)
		ecl_run_id_new(ids[i]);
	return NULL;
}

Test(values, run_ids_drawn_by_several_threads_are_unique)
{
	char(*ids)[ECL_ID_MAX] = calloc(ID_THREADS * IDS_PER_THREAD, sizeof(*ids));
	pthread_t t[ID_THREADS];
	int i;

	cr_assert_not_null(ids);
	cr_assert_eq(pthread_barrier_init(&ids_start, NULL, ID_THREADS), 0);
	for (i = 0; i < ID_THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, draw_ids, ids[i * IDS_PER_THREAD]), 0);
	for (i = 0; i < ID_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&ids_start);
	qsort(ids, ID_THREADS * IDS_PER_THREAD, sizeof(*ids), id_cmp);
	for (i = 1; i < ID_THREADS * IDS_PER_THREAD; i++)
		cr_assert_str_neq(ids[i - 1], ids[i], "made twice");
	free(ids);
}

Test(values, run_statuses_keep_their_stored_text)
{
	/* the store and the CLI's output keep these exact words */
	static const char *const text[ECL_RUN_STATUS_COUNT] = {"running",     "waiting",   "paused",
							       "interrupted", "completed", "failed",
							       "cancelled",   "queued"};
	ecl_run_status st;
	int i;

	for (i = 0; i < ECL_RUN_STATUS_COUNT; i++) {
		cr_assert_str_eq(ecl_run_status_name((ecl_run_status)i), text[i], "status %d", i);
		st = (ecl_run_status)-1;
		cr_assert_eq(ecl_run_status_parse(text[i], &st), ECL_OK, "%s", text[i]);
		cr_assert_eq((int)st, i, "%s", text[i]);
	}
	cr_assert_str_eq(ecl_run_status_name((ecl_run_status)ECL_RUN_STATUS_COUNT), "unknown");
	st = ECL_RUN_RUNNING;
	cr_assert_eq(ecl_run_status_parse("Running", &st), ECL_EUSAGE);
	cr_assert_eq(ecl_run_status_parse("lost", &st), ECL_EUSAGE);
	cr_assert_eq(ecl_run_status_parse("", &st), ECL_EUSAGE);
	cr_assert_eq(ecl_run_status_parse(NULL, &st), ECL_EUSAGE);
	cr_assert_eq(st, ECL_RUN_RUNNING, "a failed parse leaves *out alone");
}

Test(values, a_database_url_is_shown_without_its_password)
{
	static const char *const cases[][2] = {
		{"/var/lib/ecl/runs.db", "/var/lib/ecl/runs.db"},
		{"postgres://ecl@db:5432/runs", "postgres://ecl@db:5432/runs"},
		{"postgres://ecl:s3cret@db:5432/runs", "postgres://ecl@db:5432/runs"},
		{"postgresql://ecl:p%40ss:w@db/runs?sslmode=require",
		 "postgresql://ecl@db/runs?sslmode=require"},
		{"postgres://db/runs?password=x&sslmode=require",
		 "postgres://db/runs?sslmode=require"},
		{"postgres://db/runs?sslmode=require&password=x",
		 "postgres://db/runs?sslmode=require"},
		{"postgres://db/runs?mypassword=x", "postgres://db/runs?mypassword=x"},
		{"postgres://ecl:pw@/runs?host=/tmp", "postgres://ecl@/runs?host=/tmp"},
	};
	char out[128], small[12];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecl_db_display(cases[i][0], out, sizeof(out));
		cr_assert_str_eq(out, cases[i][1], "%s", cases[i][0]);
	}
	ecl_db_display("postgres://ecl:s3cret@db:5432/runs", small, sizeof(small));
	cr_assert_str_eq(small, "postgres://", "cut, never past the buffer");
	ecl_db_display(NULL, out, sizeof(out));
	cr_assert_str_eq(out, "");
}

/* ---- typed text: the one conversion of `ecl run --NAME VALUE` and `ecl answer --set` -------- */

/* ecl_value_parse(type, text) gives want (JSON), or fails with code and a message holding it. */
static void expect_value(ecl_type type, const char *text, int code, const char *want)
{
	char err[256] = "", *json = (char *)"unset";
	int rc = ecl_value_parse(type, text, &json, err, sizeof(err));

	cr_assert_eq(rc, code, "%s: %d (%s)", text, rc, err);
	if (code == ECL_OK) {
		cr_assert_str_eq(json, want, "%s", text);
		free(json);
	} else {
		cr_assert_null(json, "%s", text);
		cr_assert(strstr(err, want), "%s: %s", text, err);
	}
}

Test(values, typed_text_is_converted_one_way)
{
	expect_value(ECL_T_BOOL, "true", ECL_OK, "true");
	expect_value(ECL_T_BOOL, "false", ECL_OK, "false");
	expect_value(ECL_T_BOOL, "yes", ECL_EINPUT, "`yes` is neither true nor false");
	expect_value(ECL_T_BOOL, "1", ECL_EINPUT, "`1` is neither true nor false");
	expect_value(ECL_T_BOOL, "True", ECL_EINPUT, "neither true nor false");
	expect_value(ECL_T_BOOL, "", ECL_EINPUT, "`` is neither true nor false");

	expect_value(ECL_T_INT, "42", ECL_OK, "42");
	expect_value(ECL_T_INT, "-7", ECL_OK, "-7");
	expect_value(ECL_T_INT, "+3", ECL_OK, "3");
	expect_value(ECL_T_INT, "many", ECL_EINPUT, "`many` is not an integer");
	expect_value(ECL_T_INT, "4x", ECL_EINPUT, "`4x` is not an integer");
	expect_value(ECL_T_INT, " 4", ECL_EINPUT, "` 4` is not an integer");
	expect_value(ECL_T_INT, "0x10", ECL_EINPUT, "not an integer");
	expect_value(ECL_T_INT, "1.5", ECL_EINPUT, "not an integer");
	expect_value(ECL_T_INT, "-", ECL_EINPUT, "not an integer");
	expect_value(ECL_T_INT, "", ECL_EINPUT, "`` is not an integer");
	expect_value(ECL_T_INT, "99999999999999999999", ECL_EINPUT,
		     "`99999999999999999999` is not an integer from -9223372036854775808 to "
		     "9223372036854775807");

	expect_value(ECL_T_FLOAT, "0.5", ECL_OK, "0.5");
	expect_value(ECL_T_FLOAT, "-.25", ECL_OK, "-0.25");
	expect_value(ECL_T_FLOAT, "1e3", ECL_OK, "1000");
	expect_value(ECL_T_FLOAT, "1e999", ECL_EINPUT, "`1e999` is not a finite decimal number");
	expect_value(ECL_T_FLOAT, "inf", ECL_EINPUT, "`inf` is not a finite decimal number");
	expect_value(ECL_T_FLOAT, "nan", ECL_EINPUT, "`nan` is not a finite decimal number");
	expect_value(ECL_T_FLOAT, "0x1p3", ECL_EINPUT, "not a finite decimal number");
	expect_value(ECL_T_FLOAT, "1e", ECL_EINPUT, "`1e` is not a finite decimal number");
	expect_value(ECL_T_FLOAT, ".", ECL_EINPUT, "not a finite decimal number");
	expect_value(ECL_T_FLOAT, "heavy", ECL_EINPUT, "`heavy` is not a finite decimal number");

	expect_value(ECL_T_STRING, "caf\xc3\xa9 \"x\"", ECL_OK, "\"caf\xc3\xa9 \\\"x\\\"\"");
	expect_value(ECL_T_ENUM, "calm", ECL_OK, "\"calm\"");
	expect_value(ECL_T_STRING, "caf\xe9", ECL_EINPUT,
		     "the text holds bytes that are not UTF-8 (0xe9");
	expect_value(ECL_T_INT, "4\xff", ECL_EINPUT, "the text holds bytes that are not UTF-8");

	expect_value(ECL_T_LIST, "[\"a\", \"b\"]", ECL_OK, "[\"a\",\"b\"]");
	expect_value(ECL_T_LIST, "[]", ECL_OK, "[]");
	expect_value(ECL_T_LIST, "a", ECL_EINPUT, "`a` is not a JSON list of strings");
	expect_value(ECL_T_LIST, "[1]", ECL_EINPUT, "`[1]` is not a JSON list of strings");
	expect_value(ECL_T_LIST, "[\"a\\u0000\"]", ECL_EINPUT, "the list holds");
	expect_value((ecl_type)99, "x", ECL_EUSAGE, "no type 99");
}

/* A long text is quoted cut, on a character's boundary; a missing text or out pointer is a
 * usage error; every allocation may fail. */
Test(values, typed_text_errors_are_short_and_allocations_may_fail)
{
	char text[200], err[256], *json = NULL;
	long n;
	int rc = -1;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	cr_assert_eq(ecl_value_parse(ECL_T_INT, text, &json, err, sizeof(err)), ECL_EINPUT);
	cr_assert(strstr(err, "xxx...` is not an integer"), "%s", err);
	cr_assert_lt(strlen(err), 100, "%s", err);
	cr_assert_eq(ecl_value_parse(ECL_T_INT, NULL, &json, err, sizeof(err)), ECL_EUSAGE);
	cr_assert_null(json);
	cr_assert_eq(ecl_value_parse(ECL_T_INT, "1", NULL, err, sizeof(err)), ECL_EUSAGE);
	cr_assert_eq(ecl_value_parse(ECL_T_BOOL, "no", &json, NULL, 0), ECL_EINPUT);
	for (n = 0; n < 50 && rc != ECL_OK; n++) {
		ecl_test_fail_alloc_after(n);
		rc = ecl_value_parse(ECL_T_LIST, "[\"a\", \"b\"]", &json, err, sizeof(err));
		ecl_test_fail_alloc_after(-1);
		cr_assert(rc == ECL_OK || (rc == ECL_ENOMEM && !json && strstr(err, "memory")),
			  "allocation %ld: %d %s", n, rc, err);
	}
	cr_assert_eq(rc, ECL_OK);
	cr_assert_str_eq(json, "[\"a\",\"b\"]");
	free(json);
}
