/*
 * internal.h - what the runtime's modules share and nobody else sees: the engine and run
 * structures, slot values, the allocator seam and the logger. In core/, with the seams it
 * brings along (driver.h here, store/store.h, llm/provider.h); programs outside the runtime
 * (cli/) see ecl.h only.
 */
#ifndef ECL_INTERNAL_H
#define ECL_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "driver.h"
#include "ecl.h"
#include "shared.h"
#include "provider.h"
#include "store.h"
#include "trace.h"

/* Whether text (a stored status, or NULL) is the text of status. */
static inline int run_status_is(const char *text, ecl_run_status status)
{
	return text && strcmp(text, ecl_run_status_name(status)) == 0;
}

/* ---- allocator seam (mem.c): every allocation of the runtime goes through these ---------- */

ECL_SHARED void *mem_alloc(size_t n);
ECL_SHARED void *mem_calloc(size_t count, size_t size);
ECL_SHARED void *mem_realloc(void *p, size_t n);
ECL_SHARED void mem_free(void *p);
ECL_SHARED char *mem_strdup(const char *s);
ECL_SHARED char *mem_strndup(const char *s, size_t n);
/* Route cJSON's allocations through the seam; called once by ecl_engine_open. */
ECL_SHARED void mem_init(void);
/* How many allocations have failed so far. A parse that returns NULL while this grew ran out
 * of memory: its text may be valid, and must not be reported as malformed. */
unsigned long mem_failures(void);
/* cJSON's parse of the len bytes at text: NULL when they hold no JSON value or, with *oom
 * set, when memory ran out reading them (the text may be fine, and must not be reported as
 * malformed). json_parse_str reads a C string as cJSON_Parse does. */
ECL_SHARED cJSON *json_parse(const char *text, size_t len, int *oom);
ECL_SHARED cJSON *json_parse_str(const char *text, int *oom);

/* ---- slot values (value.c) ---------------------------------------------------------------- */

typedef struct value {
	int set;     /* has been given a value */
	long long i; /* INT, BOOL */
	double f;    /* FLOAT */
	char *s;     /* STRING, ENUM: the text; LIST: the items as a JSON array text */
	size_t n;    /* length of s */
} value;

/* Set *v from a JSON value of the slot's type; ECL_EANSWER with a message naming `what` when
 * it does not fit (wrong type, not a choice, out of range). */
int value_from_json(value *v, const ecl_slot_def *def, const cJSON *json, const char *what,
		    char *err, size_t errlen);
/* The value as a new JSON node (NULL on allocation failure). */
cJSON *value_to_json(const value *v, const ecl_slot_def *def);
/* Append the value as JSON text: strings quoted, lists as stored, a float as json_number
 * writes it, an int exactly. */
void value_json(const value *v, const ecl_slot_def *def, buf *out);
/* Append d as JSON: an int as one, else in 15 significant digits when they read back as d
 * exactly, else 17 (cJSON, which accepts 15 digits that are only close, would write
 * 0.1 + 0.2 as 0.3); null for an infinity or a NaN, as cJSON writes them. */
ECL_SHARED void json_number(buf *out, double d);
/* Append the value as template text (strings raw, numbers in decimal). */
void value_render(const value *v, const ecl_slot_def *def, buf *out);
void value_clear(value *v);
/* Convert text as a person types it to a JSON value of type (ecl_value_parse, which says how)
 * in *out (caller frees with cJSON_Delete). ECL_EINPUT with err quoting the value and saying
 * what is accepted ("`yes` is neither true nor false"), ECL_ENOMEM, or ECL_EUSAGE for a type
 * that is none of ecl_type's. */
int value_parse(ecl_type type, const char *text, cJSON **out, char *err, size_t errlen);

/* ---- text entering a run (text.c) -------------------------------------------------------- */

/* The length of the valid UTF-8 character at p (before end), or 0 when it is not one. */
size_t text_utf8_len(const unsigned char *p, const unsigned char *end);
/* ECL_OK when the n bytes at s are UTF-8 without a NUL; else ECL_EINPUT with why saying what
 * the first bad byte is and where ("a NUL byte (at byte 3)"). */
int text_check(const char *s, size_t n, char *why, size_t whylen);
/* Check every string of the JSON value that starts the n bytes at json as text_check does,
 * and its escapes (a \u0000, a lone surrogate, an unknown escape); the walk ends with the
 * value. 0 when they are fine; else why is set and: 1 for a fault in a value, with key the
 * member of the top-level object that holds it ("" outside an object's members), or 2 for a
 * fault in a member's name. */
int json_check(const char *json, size_t n, char *key, size_t keylen, char *why, size_t whylen);
/* Make a message from elsewhere (a provider's error) fit on one line of valid UTF-8 in place:
 * control characters become spaces, bytes that are not UTF-8 '?'. */
ECL_SHARED void text_one_line(char *s);
/* The length of s[0..n) cut to at most max bytes, not inside a UTF-8 character. */
size_t text_cut(const char *s, size_t n, size_t max);

/* ---- the logger (log.c) ------------------------------------------------------------------- */

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;

/* Log one event: msg, then key/value pairs (const char *key, const char *value) ended by a
 * NULL key. Values are strings; NULL values are left out. */
ECL_SHARED void log_event(ecl_engine *e, log_level level, const char *msg, ...);

/* ---- the engine and runs ------------------------------------------------------------------ */

struct ecl_engine {
	store *st;
	llm_provider *llm;
	driver local; /* the local driver (store + provider) */
	FILE *log;
	void (*on_log)(void *ctx, const char *line); /* ecl_options.on_log: instead of log */
	void *log_ctx;
	ecl_log_format log_format;
	int verbose;
	ecl_event_fn on_event;
	void *event_ctx;
	void (*on_text)(void *ctx, const char *run_id, const char *step, const char *text,
			size_t len); /* ecl_options.on_text */
	const ecl_workflow *const *workflows;
	size_t nworkflows;
	long timeout_ms;
	int timeout_overrides, model_overrides; /* ecl_options: the engine's settings win */
	int end_level;          /* the log level of a run's failure: LOG_ERROR, or LOG_INFO when the
				 * caller reports it (ecl_options.caller_reports_ends) */
	char *model, *base_url; /* as given in ecl_options (or NULL), stored with each run */
	volatile sig_atomic_t
		*interrupt; /* set non-zero (by a signal handler) to stop at the next chance */
	int stop_requested; /* an event callback asked to stop after the current transition */
	char fresh_id[ECL_ID_MAX]; /* the run this engine created and has not driven yet */
	struct ecl_run *fresh;     /* that run, in memory */
	char owner[128];           /* this engine's lease owner id: "host/pid/nonce" */
	char *db_path;             /* the store's file, for messages */
	size_t max_answer_bytes;   /* longer answers fail the step */
	long retry_base_ms;        /* the first backoff bound */
	long lease_ms;             /* how long a lease lasts unrenewed; renewed every third */
	struct engine_def *defs;   /* the definitions of the workflows this engine committed */
	/* tracing: the exporter, opened on first use (engine_tracer) */
	trace_exporter *tracer;
	int trace_state;     /* 0: not looked at yet, 1: on, -1: off */
	int trace_content;   /* ecl_options.trace_content */
	char *otlp_endpoint; /* ecl_options.otlp_endpoint, or NULL */
	ecl_price *prices;   /* ecl_options.prices, copied (strings too) */
	size_t nprices;
	char err[1024];
};

/* A workflow version's definition to store with the commits of its runs, until one of them is
 * durable (see engine_def). */
typedef struct engine_def {
	struct engine_def *next;
	const ecl_workflow *wf;
	char *text; /* wfdef_write's */
	int stored; /* a commit that carried it is durable */
	store_def def;
} engine_def;

/* The definition of wf for a commit to carry in *out: NULL once a commit of this engine that
 * carried it is durable. ECL_ENOMEM when it cannot be made. */
int engine_def_get(ecl_engine *e, const ecl_workflow *wf, const store_def **out);
/* A commit that carried def (or NULL) is durable: the version's definition is stored. */
void engine_def_stored(const store_def *def);

/* Record that what the store holds cannot be what the runtime wrote (a checkpoint that does
 * not parse, a value of the wrong type): the message, then that the file is damaged and how to
 * check it. Returns ECL_ESTORE. */
int engine_damaged(ecl_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How long a lease lasts without renewal, and how often a driver renews it. */
#define LEASE_MS     15000
#define HEARTBEAT_MS 5000

/* A run loaded to be driven was stored by another version of its workflow, which keeps what
 * it uses (it loaded): record the version it goes on with, and a note saying so. ECL_OK, or
 * the store's failure (engine.c). */
ECL_SHARED int run_adopt_version(ecl_engine *e, const store_run *row, ecl_run *run);

/* Record the engine's failure detail; returns code (status.c). */
ECL_SHARED int engine_fail(ecl_engine *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* What the step function chose. */
typedef enum trans_kind { T_NONE = 0, T_GOTO, T_DONE, T_FAIL } trans_kind;

struct ecl_run {
	ecl_engine *eng;
	driver *driver; /* what drives it (set by drive_task_init): human steps ask it */
	const ecl_workflow *wf;
	char id[ECL_ID_MAX];
	int state;            /* the current step */
	int seq;              /* checkpoints committed */
	int attempt;          /* attempt of the current step */
	value *vals;          /* one per slot */
	unsigned char *dirty; /* slots changed by the current transition */
	int *visits;          /* times each step was entered */
	cJSON *answer;        /* the validated output for the current step, once obtained */
	char *answer_text;    /* the same as the JSON text a checkpoint stores, or NULL */
	trans_kind t;         /* the transition the step function chose */
	int t_next;           /* T_GOTO: the next step */
	char *t_output;       /* T_DONE: the result as JSON text */
	char *t_error;        /* T_FAIL: the rendered message */
	/* steps.c: what one call of the step function computes */
	char **scratch; /* strings made by expressions, freed at the transition */
	int nscratch, capscratch;
	int oom;                         /* making one of them failed: the transition fails */
	cJSON *result;                   /* the result a computed `done` builds */
	cJSON *args;                     /* the arguments of a code step's function */
	long long tokens_in, tokens_out; /* of the checkpoints loaded (run_load) */
	/* tracing (trace.h) */
	char trace[56];          /* the stored traceparent, or "" (a run of an older database) */
	char trace_link[56];     /* a fork: its origin's traceparent, or "" */
	int trace_root;          /* this drive is the run's first: its span is the stored one */
	long long wait_since_ms; /* it waited for a human answer since then, or 0 */
	char trace_hex[33], span_hex[17]; /* for log lines: the trace and the span under way */
};

/* The engine's trace exporter, opened the first time (NULL: tracing is off). A failure to
 * open it is said on stderr, and the engine goes on without (tracer.c). */
trace_exporter *tracer_get(ecl_engine *e);
/* What the drive of a loaded run needs to trace it (tracer.c): whether this is its first
 * drive (its stored span is this drive's), since when a waiting run waited, and for a fork
 * the origin's trace context, for a link. */
ECL_SHARED void tracer_prepare(ecl_engine *e, const store_run *row, ecl_run *run, int first);

/* ---- code, human and set steps, computed strings and results (steps.c) -------------------- */

/* The question of the human step a waiting run is on, rendered (caller frees), or NULL. */
ECL_SHARED char *steps_question(const ecl_run *run);

/* Free what expressions made during the step function's call (run.c); called at every
 * transition and when the run is freed. Returns ECL_ENOMEM when one of them could not be
 * made. */
int steps_release(ecl_run *run);
/* Create an in-memory run of wf with fresh slots (initial values applied). */
ECL_SHARED int run_new(ecl_engine *e, const ecl_workflow *wf, const char *id, ecl_run **out);
ECL_SHARED void run_free(ecl_run *run);
/* Set the input slots from a JSON object, checking required inputs and types; the message
 * of a failure goes to err. */
ECL_SHARED int run_set_inputs(ecl_run *run, const cJSON *inputs, char *err, size_t errlen);
/* Apply a JSON object of "slot name": value to the slots (restoring a checkpoint). */
int run_apply(ecl_run *run, const char *json, int mark_dirty);
/* Apply a step's output object to that step's output slots. */
int run_apply_output(ecl_run *run, int step, const cJSON *output);
/* The JSON object of dirty variable and counter slots (caller frees), or NULL on OOM. */
char *run_dirty_vars(ecl_run *run);
/* Render a template with the run's slots. */
void run_render(const ecl_run *run, const ecl_template *tpl, buf *out);
/* Load a run and its checkpoints from the store into memory. */
ECL_SHARED int run_load(ecl_engine *e, const char *id, store_run *row, ecl_run **out);
/* The same with only the checkpoints up to seq `upto` applied: whether they can be read. */
int run_load_upto(ecl_engine *e, const char *id, int upto, store_run *row, ecl_run **out);

/* Make a public snapshot of a run from its row (whose strings it takes over, leaving the
 * row empty) and, when loaded, the run for its loop counter. */
int run_info_build(ecl_engine *e, store_run *row, const ecl_run *run, ecl_run_info **out);

/* ---- run outputs by reference (output.c) ------------------------------------------------- */

/* The form in which to store the output c commits: a new text in which strings one of the
 * run's last checkpoints (c's own included) holds are references to them (caller frees with
 * mem_free), or NULL to store it as it is. Saving space is all it does: any failure gives
 * NULL. */
char *output_compact(store *st, const store_commit *c);
/* Put back in place the strings a stored output of run id refers to. ECL_ESTORE (a reference
 * to a checkpoint that does not hold the string) or ECL_ENOMEM with e->err set. */
int output_expand(ecl_engine *e, const char *id, char **output);

/* ---- a workflow version's definition as stored data (wfdef.c) ----------------------------- */

typedef struct wfdef wfdef;

/* The definition of wf (its slots and the templates of its steps) as JSON text (caller frees
 * with mem_free), or NULL when memory ran out. */
char *wfdef_write(const ecl_workflow *wf);
/* Read a definition wfdef_write wrote into *out (free with wfdef_free): a workflow without a
 * step function whose version is `version` (borrowed, kept). ECL_ESTORE for a text that is
 * not one, ECL_ENOMEM. */
int wfdef_read(const char *text, const char *version, wfdef **out);
const ecl_workflow *wfdef_workflow(const wfdef *d);
void wfdef_free(wfdef *d);

/* ---- answers (answer.c) ------------------------------------------------------------------- */

/* Find the JSON object in an LLM's answer text (bare, in a code fence, or inside prose) and
 * validate it against the step's output fields. On success *out holds exactly those fields
 * (caller frees with cJSON_Delete) and, when canon is not NULL, *canon the same as compact
 * JSON text (caller frees with mem_free). On failure returns ECL_EANSWER with a message
 * naming the step, the field and the value at fault. */
int answer_parse(const ecl_workflow *wf, const ecl_step_def *step, const char *text, size_t len,
		 cJSON **out, char **canon, char *err, size_t errlen);
/* Drop the run's answer and its text. */
void answer_clear(ecl_run *run);

/* Milliseconds since the Unix epoch, and a monotonic clock in microseconds. */
ECL_SHARED long long clock_now_ms(void);
ECL_SHARED long long clock_mono_us(void);

#endif /* ECL_INTERNAL_H */
