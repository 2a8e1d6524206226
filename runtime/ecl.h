/*
 * ecl.h - the public interface of libecl, the runtime of compiled ecl workflows.
 *
 * Two audiences read this header:
 *  - C files written by eclc (generated/): they define an ecl_workflow descriptor and a step
 *    function, and call the ecl_run_* accessors below from inside that step function;
 *  - programs that drive workflows (the ecl CLI): they open an ecl_engine and start, resume
 *    and inspect runs through it.
 *
 * Conventions: every function that can fail returns an ecl_status; the detail of the last
 * failure lives on the engine (ecl_engine_errmsg). Strings returned by accessors are borrowed
 * unless the comment says who frees them.
 */
#ifndef ECL_H
#define ECL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libecl is compiled with hidden visibility: what this header declares is its API, exported. */
#pragma GCC visibility push(default)

/* ABI of the descriptors below; generated files assert they were written for this one. It is
 * also the major number of the shared library (libecl.so.2). 2: ecl_step_def.schema. */
#define ECL_ABI_VERSION 2

/* The version of this header; the build takes the project's version from this line. */
#define ECL_VERSION "0.1.0"

/* The version of the library the program runs with (ECL_VERSION when it was built), which
 * may differ from the header's when a shared libecl was upgraded. Static, never NULL. */
const char *ecl_version(void);

/* The database db (a SQLite path, or a postgres:// URL) as it may be shown: a URL without its
 * password (postgres://user:secret@host/db gives postgres://user@host/db, a password=
 * parameter is left out), anything else as it is; written into out (len bytes, cut if
 * longer). For messages and the commands printed for a user to run: the password stays in
 * PGPASSWORD or ~/.pgpass, never on a terminal or in a log. */
void ecl_db_display(const char *db, char *out, size_t len);

/*
 * Result codes. The list only grows: a code is never renumbered or reused.
 */
typedef enum ecl_status {
	ECL_OK = 0,        /* success */
	ECL_PENDING = 1,   /* not an error: the step waits for an answer the driver has to get */
	ECL_ENOMEM = 2,    /* an allocation failed */
	ECL_EUSAGE = 3,    /* a caller passed an invalid argument */
	ECL_EINPUT = 4,    /* a workflow input is missing, unknown or of the wrong type */
	ECL_ENOTFOUND = 5, /* no such workflow or run */
	ECL_ESTORE = 6,    /* the store (database) failed */
	ECL_EPROVIDER = 7, /* the LLM provider failed (transport, HTTP status, timeout) */
	ECL_EANSWER = 8,   /* an LLM answer does not match the step's typed output */
	ECL_EBOUND = 9,    /* a run exceeded its compile-time step bound */
	ECL_ESTATE = 10,   /* the run's status does not allow the operation */
	ECL_EFAILED = 11,  /* the workflow reached a `fail` transition */
	ECL_EIO = 12,      /* a file could not be read or written */
	ECL_EINTERRUPTED = 13, /* the run was interrupted (signal or callback) and can be resumed */
	ECL_EPAUSED = 14,      /* the run was paused on request and can be resumed */
	ECL_ECANCELLED = 15,   /* the run was cancelled on request and is over */
	ECL_EWAITING = 16,     /* the run waits for a human answer (ecl_run_answer) */
	ECL_ESUSPENDED = 17    /* a Restate invocation suspended until its journal has an answer */
} ecl_status;

/* A static English description of a status code; never NULL. */
const char *ecl_strerror(int status);

/*
 * The status of a run, as the store keeps it and the CLI prints it. The stored and printed
 * text is ecl_run_status_name's; ecl_run_info.status, ecl_event.status and the store's rows
 * carry that text. The list only grows: a value is never renumbered or reused.
 */
typedef enum ecl_run_status {
	ECL_RUN_RUNNING = 0,     /* "running": a process drives it (or died doing so) */
	ECL_RUN_WAITING = 1,     /* "waiting": stopped at a human step for an answer */
	ECL_RUN_PAUSED = 2,      /* "paused": stopped on request, resumable */
	ECL_RUN_INTERRUPTED = 3, /* "interrupted": stopped by a signal, a callback or an error
				  * of the store; resumable */
	ECL_RUN_COMPLETED = 4,   /* "completed": reached `done`; over */
	ECL_RUN_FAILED = 5,      /* "failed": reached `fail` or a step failed for good; over */
	ECL_RUN_CANCELLED = 6,   /* "cancelled": stopped on request; over */
	ECL_RUN_QUEUED = 7       /* "queued": stored for a worker to take (ecl_worker) */
} ecl_run_status;

/* Number of values of ecl_run_status. */
#define ECL_RUN_STATUS_COUNT 8

/* The text of a run status ("running", "completed", ...): static, never NULL ("unknown" for
 * a value outside the enum). */
const char *ecl_run_status_name(ecl_run_status status);

/* The run status whose text is name, exactly (case matters): ECL_OK with *out set, or
 * ECL_EUSAGE when name is NULL or no status's text. */
int ecl_run_status_parse(const char *name, ecl_run_status *out);

/* ------------------------------------------------------------------------------------------
 * Descriptors. eclc writes these as static constant data; the runtime only reads them.
 * ---------------------------------------------------------------------------------------- */

/* The type of a variable, input or output field. */
typedef enum ecl_type {
	ECL_T_STRING = 0,
	ECL_T_INT = 1,
	ECL_T_FLOAT = 2,
	ECL_T_BOOL = 3,
	ECL_T_ENUM = 4, /* a string restricted to the field's choices */
	ECL_T_LIST = 5  /* a list of strings */
} ecl_type;

/* The name of a type as the .ecl language writes it ("string", "int", "float", "bool",
 * "enum", "list"): static, never NULL ("value" for a value outside the enum). */
const char *ecl_type_name(ecl_type type);

/* What a variable slot holds. Every value a workflow reads lives in a numbered slot. */
typedef enum ecl_slot_kind {
	ECL_SLOT_INPUT = 0,  /* a workflow input, given when the run starts */
	ECL_SLOT_VAR = 1,    /* a variable declared with `var`, changed by `set` */
	ECL_SLOT_OUTPUT = 2, /* a field of a step's typed output, as `step.field` */
	ECL_SLOT_COUNTER = 3 /* the visit counter of a step with a `limit` */
} ecl_slot_kind;

/* One variable slot of a workflow. */
typedef struct ecl_slot_def {
	const char *name; /* as written in references: "topic", "critique.decision" */
	ecl_slot_kind kind;
	ecl_type type;
	int step;                   /* owning step for OUTPUT and COUNTER slots, else -1 */
	const char *field;          /* the output field's name for OUTPUT slots, else NULL */
	const char *const *choices; /* ECL_T_ENUM: the allowed values */
	int nchoices;
	int has_range; /* ECL_T_INT: min and max below are enforced */
	long long min, max;
	int required;        /* INPUT: must be given; OUTPUT: must be present in the answer */
	const char *initial; /* default or initial value as JSON text, or NULL */
	const char *doc;     /* a one-line description, or NULL */
} ecl_slot_def;

/* One piece of a prompt template, split at compile time: literal text or a slot's value. */
typedef struct ecl_tpl_part {
	const char *text; /* literal text (slot < 0) */
	size_t len;       /* length of text */
	int slot;         /* slot whose value is inserted, or -1 */
} ecl_tpl_part;

/* A pre-split template. */
typedef struct ecl_template {
	const ecl_tpl_part *parts;
	int nparts;
} ecl_template;

/* The kind of a step. */
typedef enum ecl_step_kind {
	ECL_STEP_LLM = 0,   /* asks the LLM for a typed answer */
	ECL_STEP_CODE = 1,  /* calls a C function (ecl_code_fn) for its typed output */
	ECL_STEP_HUMAN = 2, /* stops the run until a person answers its question */
	ECL_STEP_SET = 3    /* only assigns variables, then moves on */
} ecl_step_kind;

/* Model options and failure policy of an LLM step. A field left at its "unset" value falls
 * back to the workflow's setting, then to the provider's default. */
typedef struct ecl_llm_opts {
	const char *model;  /* model name, or NULL when unset */
	double temperature; /* sampling temperature, or < 0 when unset */
	int max_tokens;     /* most tokens in the answer, or 0 when unset */
	int retries;        /* further calls after a transport failure, or -1 when unset */
	long timeout_ms;    /* per call, or 0 when unset */
	int repairs;        /* repair prompts after an invalid answer, or -1 when unset */
} ecl_llm_opts;

/* One step (state) of a workflow. */
typedef struct ecl_step_def {
	const char *name;
	ecl_step_kind kind;
	int line;            /* line of the step in the .ecl file */
	ecl_template system; /* system prompt; nparts == 0 when there is none */
	ecl_template prompt; /* user prompt */
	const int *outputs;  /* slots of the step's typed output fields, in declaration order */
	int noutputs;
	/* ECL_STEP_LLM: the JSON Schema (draft 2020-12 keywords, on one line) of the answer, as
	 * eclc derives it from the outputs: {"type":"object","properties":{...},"required":
	 * [the fields not marked `?`],"additionalProperties":false}, each field "string",
	 * "integer" (an int's range as "minimum" and "maximum"), "number", "boolean", a
	 * "string" with an "enum" of its choices, or an "array" of "string" items. The
	 * providers send it to the model; ecl still checks every answer against the outputs.
	 * NULL for other steps, and for descriptors written without one. */
	const char *schema;
	int limit;                 /* the most times the step may run in one run, 0 for no limit */
	int counter;               /* slot counting the step's visits when limit > 0, else -1 */
	const char *counter_label; /* how listings name that counter ("revisions"), or NULL */
	ecl_llm_opts opts;         /* model options and policy of the step */
	ecl_template question;     /* ECL_STEP_HUMAN: the question put to the person */
	const char *function;      /* ECL_STEP_CODE: the name of its C function */
} ecl_step_def;

/* One field of a workflow's result: `done {content: content}` gives {"content", V_CONTENT};
 * `done content` gives a single field with a NULL name (the result is the bare value). */
typedef struct ecl_field_ref {
	const char *name;
	int slot;
} ecl_field_ref;

typedef struct ecl_run ecl_run;

/* A compiled workflow, as written by eclc. */
typedef struct ecl_workflow {
	int abi;          /* ECL_ABI_VERSION */
	const char *id;   /* "critique-revise" */
	const char *name; /* "Critique and Revise Loop" */
	const char *description;
	const char *source;  /* the .ecl file it was compiled from, relative to the project */
	const char *version; /* hash of the .ecl source */
	const ecl_slot_def *slots;
	int nslots;
	const ecl_step_def *steps;
	int nsteps;
	int start;                 /* first step */
	int max_steps;             /* most steps any run can execute, proven by eclc */
	ecl_llm_opts opts;         /* workflow-wide model options and policy */
	int (*step)(ecl_run *run); /* the state machine: one case per step */
	const char *usage;         /* a usage line for `ecl list --detailed` */
	/* The state machine as eclc draws it (ecl graph): mermaid, graphviz dot and JSON texts,
	 * each in pieces (a C string literal has a length limit) ended by NULL; or NULL. */
	const char *const *graph_mermaid;
	const char *const *graph_dot;
	const char *const *graph_json;
} ecl_workflow;

/* ------------------------------------------------------------------------------------------
 * For generated step functions. A step function is called with the run in one of the
 * workflow's states; it performs that state's work and ends with exactly one of
 * ecl_run_goto, ecl_run_done or ecl_run_fail, or returns the status of a call that did not
 * give ECL_OK (ECL_PENDING included) unchanged. It may be called again for the same state
 * until it returns ECL_OK, so it must not have effects before its ecl_run_llm call.
 * ---------------------------------------------------------------------------------------- */

/* The current state (index into the workflow's steps). */
int ecl_run_state(const ecl_run *run);

/* Ask the LLM for the current step's typed output. Returns ECL_OK once the answer has been
 * validated and stored in the step's output slots, ECL_PENDING while the driver still has to
 * get it, ECL_EANSWER when the answer does not match the output type. */
int ecl_run_llm(ecl_run *run);

/* Transition to `step`. Counts the visit when the step has a limit. Returns ECL_OK. */
int ecl_run_goto(ecl_run *run, int step);

/* Finish the run successfully. Its output is a JSON object of the n fields, or the bare value
 * of fields[0].slot when n == 1 and fields[0].name is NULL, or null when n == 0. */
int ecl_run_done(ecl_run *run, const ecl_field_ref *fields, int n);

/* Finish the run as failed with the rendered message (NULL: "no transition of step X
 * matched"). Returns ECL_OK: the failure is a transition like any other and is checkpointed. */
int ecl_run_fail(ecl_run *run, const ecl_template *message);

/* Times `step` has been entered in this run (its visit counter). */
int ecl_run_visits(const ecl_run *run, int step);

/* Read a slot. A string slot that was never set reads as "", an int as 0. Borrowed until the
 * slot changes. */
const char *ecl_run_str(const ecl_run *run, int slot);
long long ecl_run_int(const ecl_run *run, int slot);
double ecl_run_float(const ecl_run *run, int slot);
int ecl_run_bool(const ecl_run *run, int slot);

/* Copy slot `src` into slot `dst` (same type). Returns ECL_OK or ECL_ENOMEM. */
int ecl_run_copy(ecl_run *run, int dst, int src);

/* Set a slot from a C value. Returns ECL_OK or ECL_ENOMEM. */
int ecl_run_set_str(ecl_run *run, int slot, const char *value);
int ecl_run_set_int(ecl_run *run, int slot, long long value);
int ecl_run_set_float(ecl_run *run, int slot, double value);
int ecl_run_set_bool(ecl_run *run, int slot, int value);

/* 1 when both strings are equal, else 0. */
int ecl_str_eq(const char *a, const char *b);

/* Length of a string slot in characters (UTF-8 code points), or of a list slot in items. */
long long ecl_run_len(const ecl_run *run, int slot);

/* ---- expressions: strings computed by `+`, and results computed by `done` -------------
 * The strings returned below belong to the run and live until the step function returns;
 * on allocation failure they are NULL, and the run's next transition fails with ECL_ENOMEM
 * (so a step never commits anything computed from a string that could not be made). */

/* a followed by b. */
const char *ecl_run_concat(ecl_run *run, const char *a, const char *b);
/* The decimal text of an integer, and the shortest text that reads back as a double. */
const char *ecl_run_int_str(ecl_run *run, long long v);
const char *ecl_run_float_str(ecl_run *run, double v);
/* Length of a string in characters (UTF-8 code points); 0 for NULL. */
long long ecl_str_len(const char *s);

/* Add a field to the result of the run's `done` (name NULL: the result is this bare value).
 * ecl_run_result_str with a NULL value gives ECL_ENOMEM. Then finish with
 * ecl_run_done_result. */
int ecl_run_result_str(ecl_run *run, const char *name, const char *value);
int ecl_run_result_int(ecl_run *run, const char *name, long long value);
int ecl_run_result_float(ecl_run *run, const char *name, double value);
int ecl_run_result_bool(ecl_run *run, const char *name, int value);
int ecl_run_result_slot(ecl_run *run, const char *name, int slot);
/* Finish the run successfully with the result built by ecl_run_result_*. Returns ECL_OK. */
int ecl_run_done_result(ecl_run *run);

/* ---- code steps ---------------------------------------------------------------------------
 * A code step calls a C function that the workflow's author writes in a .c file beside the
 * .ecl file (dsl/NAME.c); the build compiles every .c file of dsl/ into the program. The .ecl file
 * declares the function's typed arguments and its typed output:
 *
 *     code check {
 *       call check_summary(text: string = summary, max_words: int = max_words)
 *       output { ok: bool  words: int  problem?: string }
 *       ...
 *     }
 *
 * and the function reads its arguments and sets its output fields through an ecl_call:
 *
 *     int check_summary(ecl_call *call)
 *     {
 *         long long words = count_words(ecl_call_str(call, "text"));
 *
 *         ecl_call_set_int(call, "words", words);
 *         return ecl_call_set_bool(call, "ok", words <= ecl_call_int(call, "max_words"));
 *     }
 *
 * It returns ECL_OK (the runtime then checks the output against the declared types, like an
 * LLM's answer), the value of ecl_call_fail (the run fails with a message naming the step,
 * the function and the reason), or the first error of an ecl_call_set_* (ECL_ENOMEM). Once
 * its transition is committed a code step is never run again for that visit, not even on
 * resume; a process killed during the call runs it again. The function must not keep the
 * pointers it is given past its return. */
typedef struct ecl_call ecl_call;
typedef int (*ecl_code_fn)(ecl_call *call);

/* The arguments, by name as declared: a string (an enum's text, a list as its JSON array
 * text; "" when absent, borrowed until the function returns), an int, a float, a bool. */
const char *ecl_call_str(const ecl_call *call, const char *arg);
long long ecl_call_int(const ecl_call *call, const char *arg);
double ecl_call_float(const ecl_call *call, const char *arg);
int ecl_call_bool(const ecl_call *call, const char *arg);
/* The step that calls the function and the run's id, for messages and logs. */
const char *ecl_call_step(const ecl_call *call);
const char *ecl_call_run_id(const ecl_call *call);

/* Set an output field (copied; set again, it is replaced). Returns ECL_OK, ECL_ENOMEM, or
 * ECL_EUSAGE for a NULL string. */
int ecl_call_set_str(ecl_call *call, const char *field, const char *value);
int ecl_call_set_int(ecl_call *call, const char *field, long long value);
int ecl_call_set_float(ecl_call *call, const char *field, double value);
int ecl_call_set_bool(ecl_call *call, const char *field, int value);
/* Record why the function failed (printf format); returns ECL_EFAILED for the function to
 * return. */
int ecl_call_fail(ecl_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For generated step functions: give the current code step's function an argument (a NULL
 * string gives ECL_ENOMEM), then call it. ecl_run_code returns ECL_OK once the output is
 * validated and in the step's output slots, ECL_EFAILED when the function failed or its
 * output does not match the declared types (the run then fails), ECL_ENOMEM. */
int ecl_run_arg_str(ecl_run *run, const char *name, const char *value);
int ecl_run_arg_int(ecl_run *run, const char *name, long long value);
int ecl_run_arg_float(ecl_run *run, const char *name, double value);
int ecl_run_arg_bool(ecl_run *run, const char *name, int value);
int ecl_run_arg_slot(ecl_run *run, const char *name, int slot);
int ecl_run_code(ecl_run *run, ecl_code_fn fn, const char *fn_name);

/* For generated step functions: the current human step's answer. ECL_OK once an answer given
 * with ecl_run_answer is validated and in the step's output slots; ECL_EWAITING while there
 * is none (the driver then leaves the run `waiting`). */
int ecl_run_human(ecl_run *run);

/* The workflows compiled into the program: the registry `eclc --registry FILE` writes
 * (generated/workflows.c for ecl's own; ecl_add_workflows writes one for a program's). */
extern const ecl_workflow *const ecl_workflows[];
extern const size_t ecl_nworkflows;

/* ------------------------------------------------------------------------------------------
 * Engines: what the CLI uses to start, drive and inspect runs.
 * ---------------------------------------------------------------------------------------- */

typedef struct ecl_engine ecl_engine;

/* Log formats for ecl_options.log_format. */
typedef enum ecl_log_format {
	ECL_LOG_PRETTY = 0,
	ECL_LOG_COMPACT = 1,
	ECL_LOG_JSON = 2
} ecl_log_format;

/* How much a commit waits for the disk. */
typedef enum ecl_durability {
	ECL_DURABLE_FULL = 0, /* fsync on every commit: a committed step survives a power loss */
	ECL_DURABLE_NORMAL =
		1 /* fsync at WAL checkpoints: survives a crash of the process, not of the OS */
} ecl_durability;

/* What happened in a run, for progress displays and tests. */
typedef enum ecl_event_kind {
	ECL_EV_STEP_START = 0, /* a step is about to ask its provider */
	ECL_EV_COMMIT = 1,     /* a transition was committed */
	ECL_EV_FINISH = 2      /* the run ended (completed, failed) or stopped (interrupted) */
} ecl_event_kind;

/* One event. All pointers are borrowed for the duration of the callback. */
typedef struct ecl_event {
	ecl_event_kind kind;
	const char *run_id;
	const char *step;      /* the step concerned (for COMMIT: the step that ran) */
	const char *next;      /* COMMIT: the next step, or NULL when the run ended */
	int attempt;           /* attempt number of the step, from 1 */
	int seq;               /* COMMIT: number of the checkpoint, from 1 */
	int visits;            /* visits of `step` so far, this one included */
	long long duration_us; /* COMMIT: time the step took */
	const char *status;    /* FINISH: an ecl_run_status_name: completed, failed, waiting,
				* interrupted, paused or cancelled */
} ecl_event;

/* Called for every event; returning non-zero interrupts the run after the current
 * transition (the run stays resumable). */
typedef int (*ecl_event_fn)(void *ctx, const ecl_event *event);

/* What a model costs, per million tokens (in whatever currency the table is written in). */
typedef struct ecl_price {
	const char *provider; /* "openai", as --provider names it */
	const char *model;    /* "gpt-4o-mini" */
	double input;         /* per million input (prompt) tokens */
	double output;        /* per million output (answer) tokens */
} ecl_price;

/* The cost of tokens_in and tokens_out tokens of provider's model by the price table prices
 * (n entries; the first entry for the pair counts): 1 with *cost set, or 0 when the table has
 * no price for them (*cost 0). The one computation of a cost the runtime and the ecl command
 * share. */
int ecl_price_cost(const ecl_price *prices, size_t n, const char *provider, const char *model,
		   long long tokens_in, long long tokens_out, double *cost);

/* Options for ecl_engine_open. Zero-initialise, then set what you need. Strings are
 * borrowed only for the duration of ecl_engine_open. */
typedef struct ecl_options {
	const char *db_path; /* SQLite file, created on first use, or a PostgreSQL database:
			      * postgres://user@host:port/dbname (required) */
	ecl_durability durability;
	const char *provider;    /* "offline" (default), "scripted", "openai", "anthropic",
				  * "ollama" */
	const char *script_path; /* scripted: the JSON file of answers */
	const char *call_log;    /* scripted: append one line per provider call to this file */
	const char *base_url;    /* HTTP providers: e.g. "https://api.openai.com/v1" */
	const char *model;       /* HTTP providers: the default model name */
	const char *api_key;     /* HTTP providers: the key, or NULL */
	long timeout_ms;         /* per LLM call; 0 for the default (120 s) */
	void *log_stream;        /* FILE * for logs, or NULL for none */
	ecl_log_format log_format;
	int verbose; /* log every transition (else only warnings and errors) */
	/* The caller reports how each run ended itself (the ecl command does): a run's failure
	 * is then logged at info level (with verbose) instead of as an error line, so that it
	 * is not printed twice. */
	int caller_reports_ends;
	/* timeout_ms (model) replaces the timeouts (models) that workflows and steps set, as a
	 * setting the user gave explicitly (the ecl command's --timeout, --model) does; else a
	 * workflow's or step's own setting comes first and these are the default. */
	int timeout_overrides;
	int model_overrides;
	ecl_event_fn on_event;
	void *event_ctx;
	/* Pieces of an LLM step's answer as the provider streams them (the HTTP providers,
	 * under ecl_run_drive; a batch does not stream), called with event_ctx, the run and
	 * the step; each piece borrowed for the call. A call cut mid-stream is asked again, so
	 * pieces may repeat: the step's output is only ever the whole, validated answer. NULL:
	 * no stream is asked for. */
	void (*on_text)(void *ctx, const char *run_id, const char *step, const char *text,
			size_t len);
	volatile sig_atomic_t
		*interrupt;   /* a flag (set by a signal handler, say) that stops the driver at
			       * its next chance, leaving the run resumable; or NULL */
	long lease_ms;        /* how long a run's lease lasts unrenewed; 0 for 15 s. A driver renews
			       * it every third of that. */
	long busy_timeout_ms; /* how long to wait for a database another process holds; 0: 5 s */
	long retry_base_ms;   /* first backoff before retrying a failed LLM call; 0: 100 ms. Each
			       * retry waits a random time up to twice the last bound (at most 10 s)
			       */
	size_t max_answer_bytes; /* longer LLM answers fail the step; 0 for the default, 1 MiB */
	const ecl_workflow *const *workflows; /* the workflows runs may use */
	size_t nworkflows;
	long connect_timeout_ms; /* HTTP providers: time allowed to connect; 0 for 10 s */
	/* Called with each log line (formatted, ending in a newline; borrowed for the call)
	 * instead of writing it to log_stream, which must still be set for logs to be made: the
	 * CLI clears its progress line on a terminal before a log line and draws it again
	 * after. NULL to write to log_stream. */
	void (*on_log)(void *ctx, const char *line);
	void *log_ctx;
	int read_only; /* only look at runs: an existing database is opened read-only, so that
			* it can be read in a directory this process may not write; nothing is
			* created or upgraded, and every call that writes fails */
	int reclaim;   /* the engine is opened to free room (ecl prune): on a full disk, a SQLite
			* database spends the room ecl keeps in reserve beside it (FILE-reserve,
			* 4 MiB) to open and to delete runs, and keeps it again after */
	/* Where to send traces of the runs this engine drives (OpenTelemetry, OTLP/HTTP): a
	 * base URL as OTEL_EXPORTER_OTLP_ENDPOINT takes ("http://localhost:4318"), which wins
	 * over the OTEL_* variables; NULL to leave it to them (none set: no traces).
	 * OTEL_SDK_DISABLED=true turns tracing off either way. */
	const char *otlp_endpoint;
	/* Traces carry the prompts and the answers (gen_ai.input.messages,
	 * gen_ai.output.messages, gen_ai.system_instructions); else only their sizes. */
	int trace_content;
	/* Prices of models (copied): each run's span carries its cost (ecl.run.cost) when
	 * every model it called has one. NULL and 0 for none. */
	const ecl_price *prices;
	size_t nprices;
} ecl_options;

/* Open an engine: the store, the provider and the logger. On failure *out is NULL and, when
 * errbuf is not NULL, the reason is written there. Free with ecl_engine_close. An engine is
 * used by one thread at a time (several threads each open their own, or hand one over). */
int ecl_engine_open(const ecl_options *options, ecl_engine **out, char *errbuf, size_t errlen);

/* Close an engine; NULL is allowed. */
void ecl_engine_close(ecl_engine *engine);

/* The detail of the engine's last failure ("" when none). Borrowed until the next call. */
const char *ecl_engine_errmsg(const ecl_engine *engine);

/* Find a compiled workflow by id in a list of them; NULL when absent. */
const ecl_workflow *ecl_workflow_find(const ecl_workflow *const *list, size_t n, const char *id);

/* Check inputs (a JSON object text) against a workflow's declared inputs, without an engine
 * or a store: ECL_OK, or ECL_EINPUT with the input named in err. */
int ecl_workflow_check_inputs(const ecl_workflow *wf, const char *inputs_json, char *err,
			      size_t errlen);

/* Check that the len bytes at text are text a run can hold, as every text entering a run is
 * checked: UTF-8 without a NUL byte (a C string would be cut there). ECL_OK, or ECL_EINPUT
 * with err saying what is wrong and at which byte ("it holds a NUL byte at byte 64"). */
int ecl_text_check(const char *text, size_t len, char *err, size_t errlen);

/* Check the strings of the JSON value in the len bytes at json as ecl_text_check does, and
 * their escapes: a \u0000 (a NUL, which would cut the string), a lone UTF-16 surrogate (no
 * character at all). ECL_OK, or ECL_EINPUT with err naming the member of the top-level object
 * at fault ("`topic` holds a NUL character ..."). Run it on the raw text: a JSON parser keeps
 * neither fault visible. */
int ecl_json_check(const char *json, size_t len, char *err, size_t errlen);

/* Convert a value typed as text (`ecl run --NAME VALUE`, `ecl answer --set FIELD=VALUE`, a
 * string field of an answer sent to a Restate endpoint) to the JSON value of a field of that
 * type, the one conversion every such text goes through. Accepted: for ECL_T_BOOL exactly
 * `true` or `false`; for ECL_T_INT a whole decimal number (an optional sign, digits only) that
 * fits in 64 bits; for ECL_T_FLOAT a finite decimal number (no inf, nan or hex); for
 * ECL_T_LIST a JSON array of strings; for ECL_T_STRING and ECL_T_ENUM the text itself. Every
 * text is checked first as ecl_text_check checks it. An enum's choices and an int's declared
 * range are the field's, checked where the value is used (ecl_run_start, ecl_run_answer). On
 * ECL_OK *json_out is the value as JSON text (caller frees with free()); else it is NULL and
 * err says why, quoting the text: ECL_EINPUT ("`yes` is neither true nor false"), ECL_ENOMEM,
 * or ECL_EUSAGE for a type that is no ecl_type or a NULL text. */
int ecl_value_parse(ecl_type type, const char *text, char **json_out, char *err, size_t errlen);

/* Check an answer to the human step `step` of wf without an engine or a store, as
 * ecl_run_answer checks one: fields_json is a JSON object of field: value, each value either
 * of the field's type already (true, 42, "text") or a string as `ecl answer --set` takes it
 * ("true", "42"), which is converted the same way; every required field must be there. On
 * ECL_OK *answer_json is the answer, a JSON object text of the step's fields (caller frees
 * with free()). ECL_EINPUT names the field and value at fault in err, ECL_EUSAGE when wf has
 * no human step of that name, ECL_ENOMEM. */
int ecl_workflow_answer_fields(const ecl_workflow *wf, const char *step, const char *fields_json,
			       char **answer_json, char *err, size_t errlen);

/* Longest run id written by ecl_run_start, terminator included. Ids are 16 hex digits that
 * sort by creation time. */
#define ECL_ID_MAX 40

/* Write a new run id to id: 16 lowercase hex digits, 11 of the time in milliseconds then 5 of
 * a counter that starts at random in each process, so that ids sort by creation time and no
 * two of one process are the same, whichever threads draw them (ecl_run_start's store retries
 * the rare clash between processes). For a caller that names a run kept elsewhere, as `ecl run
 * --engine restate` does. */
void ecl_run_id_new(char id[ECL_ID_MAX]);

/* Check the inputs (a JSON object text) against the workflow's declared inputs, fill the
 * defaults, and create a run in the store. Writes its id to id_out. Nothing is stored when
 * the inputs are rejected (ECL_EINPUT, with the input named in the errmsg). */
int ecl_run_start(ecl_engine *engine, const ecl_workflow *wf, const char *inputs_json,
		  char id_out[ECL_ID_MAX]);

/* Drive a run from its last checkpoint until it completes, fails or is interrupted.
 * Returns ECL_OK when it completed, ECL_EFAILED when the workflow failed (the message is in
 * the errmsg and the store), ECL_EINTERRUPTED when interrupted, another code on errors. */
int ecl_run_drive(ecl_engine *engine, const char *run_id);

/* One loop limit of a run's workflow: a step with `limit N`, and how far the run got. */
typedef struct ecl_run_limit {
	const char *step;  /* the limited step, borrowed from the workflow */
	const char *label; /* how its counter is named (`limit 3 as revisions`), or NULL */
	int count;         /* the step's visits so far */
	int limit;         /* the most it may have */
} ecl_run_limit;

/* A snapshot of a run, for status displays. Free with ecl_run_info_free. */
typedef struct ecl_run_info {
	char *id;
	char *workflow;
	char *version;
	char *status;       /* ecl_run_status_name of the run's status */
	char *step;         /* current step, or the step that failed; NULL when done */
	char *output;       /* JSON text of the output when completed */
	char *error;        /* the failure message */
	char *inputs;       /* JSON text of the inputs */
	int step_count;     /* checkpoints committed */
	int attempt;        /* attempt number of the current step */
	int revisions;      /* visits of the workflow's first limited step (its loop counter) */
	int revision_limit; /* that step's limit, 0 when the workflow has none */
	const char *revision_label;       /* how to name that counter, borrowed from the workflow */
	long long created_ms, updated_ms; /* Unix time in milliseconds */
	char *question; /* status waiting: the question of the human step it waits on */
	/* The provider the run was started with (ecl_options.provider, e.g. "openai"), and the
	 * model and base URL it was given; NULL when not given or not recorded (runs of older
	 * databases). The key is never stored. */
	char *provider;
	char *model;
	char *base_url;
	/* Every loop limit of the workflow in step order (revisions above is the first of
	 * them); nlimits entries, owned by the info. */
	ecl_run_limit *limits;
	int nlimits;
	/* The process that holds the run's lease ("host/pid/nonce": an `ecl run`, a worker...)
	 * and until when (Unix ms); NULL and 0 when nobody does. A lease past its time is one
	 * whose holder died, which a worker or `ecl resume` takes over. */
	char *owner;
	long long lease_until_ms;
	/* Tokens of all its checkpoints, as the providers counted them (input, output). */
	long long tokens_in, tokens_out;
} ecl_run_info;

/* Load a run's snapshot. *out is freed with ecl_run_info_free. ECL_ENOTFOUND when no run
 * has that id. */
int ecl_run_info_get(ecl_engine *engine, const char *run_id, ecl_run_info **out);
void ecl_run_info_free(ecl_run_info *info);

/* ------------------------------------------------------------------------------------------
 * Lifecycle from any process, listing, history, forks and retention.
 * ---------------------------------------------------------------------------------------- */

/* Ask a run to pause: a run nobody drives becomes paused at once; a driven one stops at its
 * next transition. ECL_ESTATE when the run is finished. *applied (may be NULL) says which. */
int ecl_run_pause(ecl_engine *engine, const char *run_id, int *applied);

/* Cancel a run: it ends as cancelled and can no longer be resumed; a driven run abandons its
 * current step. ECL_ESTATE when the run is finished already. */
int ecl_run_cancel(ecl_engine *engine, const char *run_id, int *applied);

/* Which runs to list or prune. Zero-initialise; NULL or 0 fields match everything. */
typedef struct ecl_run_filter {
	const char *const *statuses; /* any of these statuses (ecl_run_status_name texts) */
	int nstatuses;
	const char *workflow;    /* runs of this workflow */
	long long older_than_ms; /* last changed at least this long ago */
	int limit;               /* at most this many, newest first */
} ecl_run_filter;

/* Called once per run; `info` is borrowed for the call. Non-zero stops the walk. */
typedef int (*ecl_run_fn)(void *ctx, const ecl_run_info *info);

/* Walk the runs the filter matches, newest first. */
int ecl_run_list(ecl_engine *engine, const ecl_run_filter *filter, ecl_run_fn fn, void *ctx);

/* The kind of a call to the model: a step's first call, a retry of the same messages after a
 * transport or server error, or a repair after an answer that failed its type check (the
 * messages before, that answer, and a prompt naming what was wrong). */
typedef enum ecl_llm_call_kind {
	ECL_LLM_CALL_FIRST = 0,
	ECL_LLM_CALL_RETRY = 1,
	ECL_LLM_CALL_REPAIR = 2
} ecl_llm_call_kind;

/* "first", "retry" or "repair". */
const char *ecl_llm_call_kind_name(ecl_llm_call_kind kind);

/* One call a step made to the model, as stored with its checkpoint. Borrowed with its entry. */
typedef struct ecl_llm_call {
	int n; /* from 1, in the order made */
	ecl_llm_call_kind kind;
	/* Repair rounds in the messages it sent: it sent the system prompt, the prompt, then for
	 * each round the answer refused (that of the last call before the round's repair call)
	 * and the round's repair prompt. 0 for the prompt alone. */
	int repair;
	/* with full: the system prompt and the prompt as sent, from the definition of the
	 * workflow version the run used and its stored state; NULL for none, or for a run whose
	 * version's definition is not stored (made before ecl stored them) */
	const char *system;
	const char *prompt;
	const char *fix;    /* repair > 0: the repair prompt of its last round, else NULL */
	const char *answer; /* the answer text received, or NULL (none: see error) */
	const char *error;  /* why the call failed or its answer was refused, or NULL */
	long long tokens_in, tokens_out;
	long long latency_us; /* -1 when not known */
	/* Of tokens_in, those the provider read from its prompt cache (OpenAI's
	 * cached_tokens, Anthropic's cache_read_input_tokens) and those it wrote to it
	 * (Anthropic's cache_creation_input_tokens); 0 when it said none. */
	long long tokens_cached, tokens_cache_write;
	long long ttft_us; /* a streamed call's time to its first token, else 0 */
} ecl_llm_call;

/* One line of a run's history: a checkpoint (step != NULL) or a lifecycle note (note != NULL:
 * paused, resumed, cancelled, forked, a workflow version switch). Borrowed for the call. */
typedef struct ecl_history_entry {
	int seq;          /* the checkpoint, or the checkpoint a note follows */
	const char *step; /* the step that ran */
	const char *next; /* the step it went to, or NULL when the run ended there */
	int attempt;
	long long started_ms;
	long long duration_us;
	long long tokens_in, tokens_out;
	const char *output; /* the step's validated output (JSON) */
	const char *answer; /* the model's answer text as received */
	/* with full: the system prompt (NULL for none) and the prompt (an LLM step's; a human
	 * step's question) the step was given, from stored data as for ecl_call; else NULL */
	const char *system;
	const char *prompt;
	const char *note; /* a lifecycle note, for entries that are not checkpoints */
	long long note_ms;
	/* The calls an LLM step made to the model, in order (every one: retries and repairs
	 * included); none for other steps, and for a step of a run whose workflow version's
	 * definition is not stored that made a single call. */
	const ecl_llm_call *calls;
	int ncalls;
	/* of tokens_in, read from and written to the provider's prompt cache (ecl_llm_call) */
	long long tokens_cached, tokens_cache_write;
} ecl_history_entry;

typedef int (*ecl_history_fn)(void *ctx, const ecl_history_entry *entry);

/* Walk a run's history in order, each checkpoint with the calls its step made. With full,
 * each carries the prompts as sent: rendered again from the definition of the workflow
 * version the step ran under, stored with the run's commits, and the run's stored state
 * before that step (never from the workflow compiled into this program). */
int ecl_run_history(ecl_engine *engine, const char *run_id, int full, ecl_history_fn fn, void *ctx);

/* Create a new run that starts from checkpoint `from_seq` of run_id (0: from its start),
 * with the same inputs and the checkpoints up to it; the old run is untouched. The new run
 * is interrupted, ready for ecl_run_drive. ECL_EUSAGE when from_seq is out of range. */
int ecl_run_fork(ecl_engine *engine, const char *run_id, int from_seq, char id_out[ECL_ID_MAX]);

/* Answer the question of a run that waits on a human step (status waiting): n fields given
 * as text (names[i] = values[i]) are converted to the types the step declares ("true" or
 * "false" for a bool, a choice for an enum, a number in range for an int) and every required
 * field must be given. The answer is stored durably; the run stays waiting until it is driven
 * (ecl_run_drive), which then goes on from that step. ECL_EINPUT names the field and value at
 * fault; ECL_ESTATE when the run does not wait for an answer. */
int ecl_run_answer(ecl_engine *engine, const char *run_id, const char *const *names,
		   const char *const *values, int n);

/* Delete finished runs (completed, failed, cancelled; never a live or resumable one) that
 * the filter matches, with their checkpoints, and reclaim the space. With dry_run, only
 * count. *count gets the number of runs. */
int ecl_prune(ecl_engine *engine, const ecl_run_filter *filter, int dry_run, int *count);

/* Durations of a set of checkpoints: how many, and the nearest-rank percentiles (the value at
 * rank ceil(p * n) in increasing order; 0 when n is 0), in microseconds. */
typedef struct ecl_latency {
	long long n;
	long long p50_us, p95_us, p99_us;
} ecl_latency;

/* The most limits of one workflow that ecl_stats measures. */
#define ECL_STATS_MAX_LIMITS 8

/* What the runs of one workflow did (ecl_stats). Borrowed for the duration of the callback. */
typedef struct ecl_workflow_stats {
	const char *workflow;
	int known;                                 /* the engine has the workflow (else no step
						    * kinds or limits are known: llm and limits
						    * are empty) */
	long long runs;                            /* of every status */
	long long by_status[ECL_RUN_STATUS_COUNT]; /* by ecl_run_status */
	long long finished;                        /* completed, failed or cancelled */
	double success_rate; /* completed over finished; -1 when none finished */
	double mean_steps;   /* checkpoints per finished run; -1 when none finished */
	ecl_latency steps;   /* every checkpoint of the runs */
	ecl_latency llm;     /* the checkpoints of LLM steps: a call with its retries and
			      * repairs */
	long long tokens_in, tokens_out;
	double cost;    /* of the tokens, by the engine's price table (ecl_options.prices) and the
			 * provider and model each run was started with */
	int cost_known; /* every token counted in cost had a price (or there were none) */
	struct {
		const char *label; /* the limit's counter ("revisions") */
		double mean;       /* visits of the limited step per run */
	} limits[ECL_STATS_MAX_LIMITS];
	int nlimits;
} ecl_workflow_stats;

/* Called once per workflow, in order of id; non-zero stops the walk and is returned. */
typedef int (*ecl_stats_fn)(void *ctx, const ecl_workflow_stats *stats);

/* Measure the runs created at or after since_ms (0: all), of workflow (NULL: of each
 * workflow that has runs), computed in the store. */
int ecl_stats(ecl_engine *engine, const char *workflow, long long since_ms, ecl_stats_fn fn,
	      void *ctx);

/* ------------------------------------------------------------------------------------------
 * Many runs at once, from one thread.
 * ---------------------------------------------------------------------------------------- */

/* How one run of a batch ended. Borrowed for the duration of the callback. */
typedef struct ecl_batch_end {
	size_t index;       /* the input the run was started with */
	const char *run_id; /* "" when the run could not be created */
	int rc;             /* as ecl_run_drive returns it */
	const char *status; /* the run's ecl_run_status_name: completed, failed, waiting (for
			     * a human answer: rc ECL_EWAITING, no error), interrupted, paused,
			     * cancelled; or one of the ECL_BATCH_* below, which no stored run
			     * has */
	const char *error;  /* the reason, or NULL when completed */
} ecl_batch_end;

/* The statuses of an ecl_batch_end that are not a run's: the report of a batch, not what the
 * store keeps (the run itself is stored as interrupted, or not at all). */
#define ECL_BATCH_LOST   "lost"   /* another process took the run over (rc ECL_ESTATE) */
#define ECL_BATCH_ERROR  "error"  /* the run could not be created, or the store failed */
#define ECL_BATCH_QUEUED "queued" /* stored but not started: the batch stopped before it */

/* Called once per run as it ends; returning non-zero starts no further runs (those in
 * flight go on to their ends). */
typedef int (*ecl_batch_fn)(void *ctx, const ecl_batch_end *end);

/* Start one run of wf per input (a JSON object text each; check them first with
 * ecl_workflow_check_inputs) and drive up to `concurrency` of them at once from the calling
 * thread: HTTP providers' calls go out together over one libcurl multi handle, other
 * providers answer at once. Every transition is checkpointed as ecl_run_drive does. The
 * engine's interrupt flag stops every run in flight, leaving it interrupted and resumable,
 * and starts no more. Returns ECL_OK once every input has a run that ended, ECL_EINTERRUPTED
 * when stopped before, or an error code with the detail in the errmsg. */
int ecl_batch_drive(ecl_engine *engine, const ecl_workflow *wf, const char *const *inputs, size_t n,
		    int concurrency, ecl_batch_fn fn, void *ctx);

/* Store a run of wf with these inputs (a JSON object text, checked as ecl_run_start checks it)
 * for a worker to take: queued at its first step, nobody's; its id in id_out. ecl_run_drive
 * (ecl resume) or ecl_worker drives it. */
int ecl_run_enqueue(ecl_engine *engine, const ecl_workflow *wf, const char *inputs_json,
		    char id_out[ECL_ID_MAX]);

/* What a worker takes and how (ecl_worker). */
typedef struct ecl_worker_options {
	int concurrency; /* runs driven at once; 0 for 10 */
	/* only runs of these workflows (NULL: every workflow the engine has); each must be one
	 * of the engine's */
	const char *const *workflows;
	size_t nworkflows;
	long poll_ms;       /* how long an idle worker waits before it looks again; 0 for 200 */
	int exit_when_idle; /* return once nothing is queued and nothing is in flight */
	/* When set (by a signal handler, say): take no more runs, drive those in flight to
	 * their ends, and return. The engine's interrupt flag stops those too. */
	volatile sig_atomic_t *drain;
	ecl_batch_fn on_end; /* each run that ends in this worker (index counts them from 0) */
	void *ctx;
} ecl_worker_options;

/* Drive the runs of the engine's store that nobody drives: queued runs (ecl_run_enqueue) and
 * running ones whose lease expired (their process died), oldest first, up to concurrency at
 * once from the calling thread, as ecl_batch_drive drives its runs. Several workers, in this
 * process or others, on this machine or others sharing one PostgreSQL database, never take
 * the same run. Returns ECL_OK when drained or idle (as the options ask), ECL_EINTERRUPTED
 * when the engine's interrupt flag stopped it, or an error code with the detail in the
 * errmsg. A store that fails for a while (a database restarting) is tried again with
 * backoff, not given up on. */
int ecl_worker(ecl_engine *engine, const ecl_worker_options *options);

/* A worker stops counting as alive once its last heartbeat is this many lease periods old. */
#define ECL_WORKER_STALE_LEASES 3

/* A worker (ecl_worker) as the database knows it: each registers when it starts, beats with
 * its lease renewals (every third of its lease period) and removes itself when it stops;
 * a worker killed outright stays listed, stale, until a worker that starts removes it (after
 * ten lease periods without a heartbeat). Borrowed for the call. */
typedef struct ecl_worker_info {
	const char *id;         /* its lease owner, "host/pid/nonce", as ecl_run_info.owner names
				 * the runs it holds */
	const char *host;       /* the machine it runs on */
	long long pid;          /* its process id there */
	const char *workflows;  /* the workflows it takes, comma-separated */
	int concurrency;        /* the runs it drives at once, at most */
	long lease_ms;          /* its lease period */
	long long started_ms;   /* when it started, Unix ms */
	long long heartbeat_ms; /* its last heartbeat, Unix ms */
	int held;               /* the runs leased to it now */
	/* its last heartbeat is older than ECL_WORKER_STALE_LEASES lease periods: it died
	 * without a word, or hangs; the runs it held are taken over once their leases expire */
	int stale;
} ecl_worker_info;

/* Called once per worker; `info` is borrowed for the call. Non-zero stops the walk. */
typedef int (*ecl_worker_fn)(void *ctx, const ecl_worker_info *info);

/* Walk the workers of the engine's database, oldest first: ECL_OK, the callback's non-zero
 * return, or an error code with the detail in the errmsg. */
int ecl_worker_list(ecl_engine *engine, ecl_worker_fn fn, void *ctx);

/* ------------------------------------------------------------------------------------------
 * Restate: `ecl serve` runs every compiled workflow as a Restate Workflow service, and the
 * client calls that submit, watch and cancel runs through a Restate server
 * (runtime/restate*.c). Strings a function returns are malloc'd: the caller frees them with
 * free(). err (may be NULL) receives a one-line reason on failure.
 * ---------------------------------------------------------------------------------------- */

/* Options for ecl_serve. Zero-initialise, then set what you need. */
typedef struct ecl_serve_options {
	const ecl_options *engine;   /* how each invocation's engine is opened; borrowed while
				      * serving (its workflows are the services) */
	const char *bind;            /* address to listen on; NULL for 0.0.0.0 */
	int port;                    /* TCP port; 0 for 9080 */
	volatile sig_atomic_t *stop; /* serving ends soon after this becomes non-zero */
	void (*on_ready)(void *ctx, int port); /* called once listening, or NULL */
	void *ready_ctx;
	/* Each connection is served by a thread of its own: at most max_connections at once (0
	 * for 512; one more is closed as soon as it is accepted), and a connection that sends
	 * nothing for idle_timeout_s seconds (0 for 10) is closed, so that idle or slow clients
	 * cannot hold every thread. A request being handled is not idle. */
	int max_connections;
	int idle_timeout_s;
} ecl_serve_options;

/* Serve Restate's discovery (GET /discover) and invocations (POST /invoke/{service}/{handler})
 * over HTTP/1.1 until *stop. ECL_EIO when the port cannot be bound. */
int ecl_serve(const ecl_serve_options *options, char *err, size_t errlen);

/* Register the endpoint at endpoint_url (e.g. "http://127.0.0.1:9080") with the Restate admin
 * API at admin_url (e.g. "http://127.0.0.1:9070"), over HTTP/1.1, replacing an earlier
 * registration of the same endpoint. */
int ecl_restate_register(const char *admin_url, const char *endpoint_url, char *err, size_t errlen);

/* Submit a run of `workflow` with the given id (the workflow key) and inputs (a JSON object
 * text) through the ingress at ingress_url, without waiting. ECL_ESTATE when a run with that
 * id exists already. */
int ecl_restate_submit(const char *ingress_url, const char *workflow, const char *id,
		       const char *inputs_json, char *err, size_t errlen);

/* Wait for the run's end: ECL_OK with *output its output (JSON text), or ECL_EFAILED with
 * the failure in err. */
int ecl_restate_attach(const char *ingress_url, const char *workflow, const char *id, char **output,
		       char *err, size_t errlen);

/* The run's status as get_status gives it (a JSON object text in *json), trying each
 * workflow of the list; ECL_ENOTFOUND when none has a run with that id. */
int ecl_restate_status(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, char **json, char *err, size_t errlen);

/* Answer the human step a run waits at through its workflow's `answer` handler (the
 * workflow found as ecl_restate_status finds it): n fields given as text (names[i] =
 * values[i]), checked by the endpoint as ecl_run_answer checks them. ECL_OK with *reply the
 * handler's answer (a JSON object text: the run id, workflow, step and the typed answer);
 * ECL_EINPUT when a field or value is refused (err names it), ECL_ESTATE when the run does
 * not wait for an answer or was answered already, ECL_ENOTFOUND when there is no such run. */
int ecl_restate_answer(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, const char *const *names, const char *const *values,
		       int nfields, char **reply, char *err, size_t errlen);

/* Cancel the run's invocation through the admin API. ECL_ENOTFOUND when there is none. */
int ecl_restate_cancel(const char *admin_url, const char *id, char *err, size_t errlen);

/* Ask a running run to pause through its workflow's `pause` handler (the workflow found as
 * ecl_restate_status finds it): the run stops as `paused` at the transition after the step
 * in flight. ECL_OK with *reply the handler's answer (a JSON object text); ECL_ESTATE when
 * the run is not running (err says its status), ECL_ENOTFOUND when there is no such run. */
int ecl_restate_pause(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		      const char *id, char **reply, char *err, size_t errlen);

/* Let a paused run go on through its workflow's `resume` handler, as ecl_restate_pause;
 * ECL_ESTATE when the run is not paused (or was resumed already). */
int ecl_restate_resume(const char *ingress_url, const ecl_workflow *const *list, size_t n,
		       const char *id, char **reply, char *err, size_t errlen);

/* Walk the runs of the list's workflows that the Restate server whose admin API is at
 * admin_url knows (the status their run handler keeps, read by SQL introspection), newest
 * first, as ecl_run_list walks the local ones: the filter's statuses, workflow and limit
 * apply (not older_than_ms). Each info is borrowed for the call; its owner is NULL and its
 * times are those of the run's invocation. */
int ecl_restate_runs(const char *admin_url, const ecl_workflow *const *list, size_t n,
		     const ecl_run_filter *filter, ecl_run_fn fn, void *ctx, char *err,
		     size_t errlen);

/* Walk a run's history as ecl_run_history does, from the records its run handler keeps on the
 * Restate server (a transition's step, output and answers; each call made, with what was sent
 * and what came back, its tokens and times). ECL_ENOTFOUND when the server has no such run. */
int ecl_restate_history(const char *admin_url, const char *id, int full, ecl_history_fn fn,
			void *ctx, char *err, size_t errlen);

/* Fork a run on the Restate server as ecl_run_fork forks a local one: submit a new run of its
 * workflow through the ingress, id in id_out, with the old run's inputs and the answers of
 * its first from_seq transitions (read from the records its run handler keeps and its
 * journal's input), which the new run takes in order instead of asking; then it asks as any
 * run. The endpoint refuses the fork when it serves another version of the workflow than
 * the old run ran. ECL_ENOTFOUND when the run, or a record or answer the fork needs, is not
 * kept; ECL_EUSAGE when from_seq is past the run's checkpoints. */
int ecl_restate_fork(const char *admin_url, const char *ingress_url,
		     const ecl_workflow *const *list, size_t n, const char *id, int from_seq,
		     char id_out[ECL_ID_MAX], char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------
 * The command line: ecl's own, for any program.
 * ---------------------------------------------------------------------------------------- */

/* Run the `ecl` command line (every command, global option and help text of ecl(1)) over
 * the n workflows of the table (borrowed until it returns): a program that compiles its own
 * .ecl files gets `PROG run WORKFLOW --INPUT VALUE`, `PROG status RUN-ID`, `PROG batch`,
 * `PROG serve` and the rest for them with
 *
 *     int main(int argc, char **argv)
 *     {
 *             return ecl_main(argc, argv, ecl_workflows, ecl_nworkflows);
 *     }
 *
 * (ecl_workflows being the registry eclc --registry writes). Usage texts name the program
 * after argv[0]. Returns the exit status: 0 success, 1 failure, 2 usage error, 130
 * interrupted. It installs handlers for SIGINT and SIGTERM while a run is driven and writes
 * to stdout and stderr, so call it from main, once. */
int ecl_main(int argc, char **argv, const ecl_workflow *const *workflows, size_t n);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* ECL_H */
