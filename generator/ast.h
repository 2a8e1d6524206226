/*
 * ast.h - the tree of one workflow: built by the parser (parse.c), resolved and annotated by
 * the checker (check.c: slots, types, the step graph and its bound), read by the emitters.
 * Every node keeps the source bytes it came from (off, len) for diagnostics and for the
 * comments of the generated C.
 */
#ifndef ECLC_AST_H
#define ECLC_AST_H

#include <stddef.h>

#include "mem.h"

struct diag_source;

/* A name as written, and where. */
struct ast_name {
	const char *s; /* NULL when absent */
	size_t off, len;
};

/* In the order of ecl_type, which the C emitter relies on. */
enum ast_tkind {
	AST_T_STRING,
	AST_T_INT,
	AST_T_FLOAT,
	AST_T_BOOL,
	AST_T_ENUM,
	AST_T_LIST,
	AST_T_ERROR /* the type of an expression that already has an error */
};

struct ast_type {
	enum ast_tkind kind;
	int has_range; /* int lo..hi */
	long long min, max;
	struct ast_name *choices; /* enum */
	int nchoices;
	size_t off, len;
};

enum ast_ekind {
	AST_E_INT,
	AST_E_FLOAT,
	AST_E_STR,
	AST_E_BOOL,
	AST_E_REF,
	AST_E_LEN,
	AST_E_NOT,
	AST_E_NEG,
	AST_E_BIN
};

enum ast_op {
	AST_OP_OR,
	AST_OP_AND,
	AST_OP_EQ,
	AST_OP_NE,
	AST_OP_LT,
	AST_OP_LE,
	AST_OP_GT,
	AST_OP_GE,
	AST_OP_ADD,
	AST_OP_SUB,
	AST_OP_MUL,
	AST_OP_DIV,
	AST_OP_MOD
};

/* `name` or `step.field`. */
struct ast_ref {
	struct ast_name base, field; /* field.s is NULL for a plain name */
	size_t off, len;
	int slot; /* resolved by the checker; -1 until then or when unknown */
};

struct ast_expr {
	enum ast_ekind kind;
	enum ast_op op;
	size_t off, len;
	long long i;            /* AST_E_INT, AST_E_BOOL */
	double f;               /* AST_E_FLOAT */
	const char *s;          /* AST_E_STR: the decoded text */
	struct ast_ref ref;     /* AST_E_REF, AST_E_LEN of a name */
	struct ast_expr *a, *b; /* operands; AST_E_LEN of an expression has a and no ref */
	int height;             /* of the tree below, bounded by the parser */
	/* set by the checker */
	enum ast_tkind type;
	const struct ast_type *decl; /* the declared type behind an enum value, for its choices */
};

/* A string split at {{ref}}: literal parts (ref.slot < 0, text) and slot parts. */
struct ast_tpart {
	const char *text;
	size_t len;
	int is_slot;
	struct ast_ref ref;
};

struct ast_template {
	int present;
	struct ast_tpart *parts;
	int nparts;
	size_t off, len; /* the string literal */
};

enum ast_opt {
	AST_OPT_MODEL,
	AST_OPT_TEMPERATURE,
	AST_OPT_MAX_TOKENS,
	AST_OPT_RETRY,
	AST_OPT_TIMEOUT,
	AST_OPT_REPAIR,
	AST_NOPTS
};

/* Model options and policy; an option is set when set[opt] is. */
struct ast_opts {
	int set[AST_NOPTS];
	size_t key[AST_NOPTS];                 /* the option's keyword */
	size_t off[AST_NOPTS], len[AST_NOPTS]; /* its value */
	const char *model;
	double temperature;
	long long max_tokens, retries, timeout_ms, repairs;
};

enum ast_tgkind { AST_TG_STEP, AST_TG_DONE, AST_TG_FAIL };

struct ast_result_field {
	struct ast_name name;
	struct ast_expr *value;
};

struct ast_target {
	enum ast_tgkind kind;
	size_t off, len;
	struct ast_name step;            /* AST_TG_STEP */
	int istep;                       /* resolved, or -1 */
	struct ast_expr *value;          /* `done x` */
	struct ast_result_field *fields; /* `done { name: x, ... }` */
	int nfields;
	struct ast_template msg; /* AST_TG_FAIL */
};

enum ast_trkind {
	AST_TR_WHEN,   /* when guard -> target */
	AST_TR_ALWAYS, /* -> target */
	AST_TR_ELSE    /* else -> target */
};

struct ast_trans {
	enum ast_trkind kind;
	struct ast_expr *guard;
	struct ast_target to;
	size_t off, len;
};

struct ast_set {
	struct ast_name var;
	struct ast_expr *value;
	size_t off, len;
	int slot;
	int after_trans; /* written after a transition of its step */
};

struct ast_field {
	struct ast_name name;
	int optional;
	struct ast_type type;
	int slot;
};

struct ast_limit {
	int present;
	long long n;
	size_t off, len;   /* the whole `limit` item */
	size_t noff, nlen; /* its count */
	struct ast_name counter;
	struct ast_target els; /* AST_TG_STEP or AST_TG_FAIL */
	int slot;
};

/* In the order of ecl_step_kind, which the C emitter relies on. */
enum ast_stkind {
	AST_ST_LLM,   /* asks an LLM for its typed output */
	AST_ST_CODE,  /* calls a C function for it */
	AST_ST_HUMAN, /* waits for a person to give it (`ecl answer`) */
	AST_ST_SET    /* has no output: assigns, then moves on */
};

/* An argument of a code step's function: `name: type = expr`. */
struct ast_arg {
	struct ast_name name;
	struct ast_type type;
	struct ast_expr *value;
};

struct ast_step {
	enum ast_stkind kind;
	struct ast_name name;
	size_t off, len; /* from the kind keyword to the name */
	struct ast_template system, prompt;
	struct ast_template question; /* human steps */
	int has_call;                 /* code steps: `call fn(args)` */
	size_t call_off;              /* the `call` keyword */
	struct ast_name fn;
	struct ast_arg *args;
	int nargs;
	int has_output;
	size_t output_off; /* the `output` keyword */
	struct ast_field *fields;
	int nfields;
	struct ast_opts opts;
	struct ast_limit limit;
	struct ast_set *sets;
	int nsets;
	struct ast_trans *trans;
	int ntrans;
	size_t end;  /* past its last token */
	int damaged; /* a syntax error inside: what it lacks may be what the parser skipped */
	/* set by the checker */
	int reachable;
	long long visits; /* most times a run can execute the step */
};

enum ast_dkind { AST_D_INPUT, AST_D_VAR };

struct ast_decl {
	enum ast_dkind kind;
	struct ast_name name;
	struct ast_type type;
	struct ast_expr *init; /* `= literal`, or NULL */
	const char *doc;       /* input documentation, or NULL */
	size_t doc_off;
	size_t off, len;
	int slot;
};

/* In the order of ecl_slot_kind. */
enum ast_skind { AST_S_INPUT, AST_S_VAR, AST_S_OUTPUT, AST_S_COUNTER };

/* A variable slot, numbered in the order the runtime sees them. */
struct ast_slot {
	const char *name;  /* "topic", "critique.decision" */
	const char *cname; /* "TOPIC", "CRITIQUE_DECISION": the C enumerator is V__<cname> */
	enum ast_skind kind;
	const struct ast_type *type;
	int step;          /* owning step of outputs and counters, else -1 */
	const char *field; /* outputs */
	int required;
	const char *initial; /* JSON text, or NULL */
	const char *doc;
	size_t off, len;   /* its declaration */
	int reads, writes; /* uses, for the unused-name warnings */
};

struct ast_workflow {
	struct ast_name id; /* "critique-revise" */
	const char *name, *description;
	size_t name_off, desc_off; /* their strings */
	struct ast_decl *decls;    /* inputs and vars as written */
	int ndecls;
	struct ast_opts opts;
	struct ast_step *steps;
	int nsteps;
	int damaged; /* a syntax error somewhere: transitions and sets may be missing */
	/* set by the checker */
	struct ast_slot *slots;
	int nslots;
	int max_steps;
};

/* The name of a type as messages and listings write it: "int", "enum (pass | revise)". */
const char *ast_type_name(struct mem *m, const struct ast_type *t);
const char *ast_tkind_name(enum ast_tkind k);
/* s as a JSON string (null for NULL): the initial values of slots and --emit json. */
void ast_json_str(struct mem_buf *b, const char *s);
/* The shortest text that reads back as d, valid in both C and JSON ("0.7", "1e+20"). */
const char *ast_double(struct mem *m, double d);
/* A step kind's keyword in the .ecl language ("llm", "code", "human", "set"), as the dump, the
 * generated comments and the graph's JSON write it. */
const char *ast_stkind_name(enum ast_stkind k);
/* An operator's spelling in the .ecl language. */
const char *ast_op_name(enum ast_op op);

/* Write the tree as indented text, each node with its line:col (--dump-ast). */
void ast_dump(struct mem_buf *b, const struct ast_workflow *wf, const struct diag_source *src);

#endif /* ECLC_AST_H */
