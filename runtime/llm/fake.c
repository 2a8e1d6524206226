/*
 * fake.c - a provider (provider.h): the deterministic fake LLM of the benchmark workload
 * (bench/README.md). It
 * reads `KEY:value` lines from the prompt (WF, TASK, TOPIC, REVISION, FEEDBACK, CONTENT) and
 * answers byte for byte as the reference fake does, keeping a critique counter per WF id, so
 * every workflow runs generate, critique, revise, critique, revise, critique and passes.
 * It answers instantly and in process: it measures the engine, not a model.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The reference fake remembers at most this many WF ids. Their table starts small and
 * doubles while more than half full, up to a power of two more than twice MAX_IDS: memory
 * the benchmark charges to the engine grows with the workflows run, not with the limit. */
#define MAX_IDS   100000
#define TABLE_MIN 1024
#define TABLE_MAX 262144

static const char filler[] = "This draft explains the topic in plain words, states one clear "
			     "claim, gives two short supporting points, names one limitation, "
			     "and ends with a practical next step for the reader.";

typedef struct counter {
	unsigned long long hash; /* 0: empty */
	int critiques;
} counter;

typedef struct fake {
	llm_provider base;
	counter *table;
	size_t size; /* a power of two */
	int used;
} fake;

/* The value of the line "KEY:value" in text, or NULL; *len gets its length. */
static const char *field(const char *text, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			const char *v = p + klen + 1;

			*len = strcspn(v, "\n");
			return v;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static unsigned long long hash(const char *s, size_t n)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h ? h : 1;
}

/* The slot of hash h in a table of size slots: its own, or the empty one it would take. */
static size_t slot(const counter *table, size_t size, unsigned long long h)
{
	size_t i = (size_t)h & (size - 1);

	while (table[i].hash && table[i].hash != h)
		i = (i + 1) & (size - 1);
	return i;
}

/* Double the table. -1 when out of memory (the table is unchanged). */
static int grow(fake *f)
{
	size_t size = f->size * 2, i;
	counter *t = mem_calloc(size, sizeof(*t));

	if (!t)
		return -1;
	for (i = 0; i < f->size; i++)
		if (f->table[i].hash)
			t[slot(t, size, f->table[i].hash)] = f->table[i];
	mem_free(f->table);
	f->table = t;
	f->size = size;
	return 0;
}

/* The number of critiques asked for this WF id so far, this one included; -1 when out of
 * memory. */
static int next_critique(fake *f, const char *wf, size_t n)
{
	unsigned long long h = hash(wf, n);
	size_t i = slot(f->table, f->size, h);

	if (!f->table[i].hash) {
		if (f->used >= MAX_IDS) {
			memset(f->table, 0, f->size * sizeof(*f->table));
			f->used = 0;
		} else if ((size_t)(f->used + 1) * 2 > f->size && f->size < TABLE_MAX) {
			if (grow(f))
				return -1;
		}
		i = slot(f->table, f->size, h);
		f->table[i].hash = h;
		f->used++;
	}
	return ++f->table[i].critiques;
}

static long long words(const char *s, size_t n)
{
	long long w = 0;
	size_t i;
	int in = 0;

	for (i = 0; i < n; i++) {
		if (isspace((unsigned char)s[i]))
			in = 0;
		else if (!in) {
			in = 1;
			w++;
		}
	}
	return w;
}

/* {"content":"<content>","word_count":<words>} */
static void draft(buf *out, const buf *content)
{
	buf_puts(out, "{\"content\":");
	buf_json_str(out, content->data ? content->data : "", content->len);
	buf_printf(out, ",\"word_count\":%lld}",
		   words(content->data ? content->data : "", content->len));
}

static int fake_complete(llm_provider *p, const llm_request *req, llm_response *res)
{
	fake *f = (fake *)p;
	buf prompt = {0}, content = {0}, out = {0};
	const char *task, *wf, *v;
	size_t tlen = 0, wlen = 0, vlen = 0;
	int i;

	if (req->system)
		buf_puts(&prompt, req->system);
	for (i = 0; i < req->nmessages; i++) {
		buf_puts(&prompt, "\n");
		buf_puts(&prompt, req->messages[i].text);
	}
	if (prompt.oom) { /* a prompt cut short would be answered as another one */
		buf_free(&prompt);
		return ECL_ENOMEM;
	}
	task = prompt.data ? field(prompt.data, "TASK", &tlen) : NULL;
	wf = prompt.data ? field(prompt.data, "WF", &wlen) : NULL;
	if (task && tlen == 8 && !strncmp(task, "generate", 8)) {
		v = field(prompt.data, "TOPIC", &vlen);
		buf_puts(&content, "Draft v0 on ");
		buf_append(&content, v ? v : "", v ? vlen : 0);
		buf_puts(&content, ": ");
		buf_puts(&content, filler);
		draft(&out, &content);
	} else if (task && tlen == 8 && !strncmp(task, "critique", 8) && wf) {
		int k = next_critique(f, wf, wlen);

		if (k < 0) {
			buf_free(&prompt);
			return ECL_ENOMEM;
		}
		if (k <= 2)
			buf_printf(&out,
				   "{\"decision\":\"revise\",\"feedback\":\"Critique %d: add a "
				   "concrete example and tighten the second point.\","
				   "\"quality_score\":40}",
				   k);
		else
			buf_printf(&out,
				   "{\"decision\":\"pass\",\"feedback\":\"Critique %d: good "
				   "enough.\",\"quality_score\":90}",
				   k);
	} else if (task && tlen == 6 && !strncmp(task, "revise", 6)) {
		const char *fb = field(prompt.data, "FEEDBACK", &vlen);
		size_t fblen = vlen;

		v = field(prompt.data, "REVISION", &vlen);
		buf_puts(&content, "Draft v");
		buf_append(&content, v ? v : "", v ? vlen : 0);
		buf_puts(&content, ": ");
		buf_puts(&content, filler);
		buf_puts(&content, " Addressed: ");
		buf_append(&content, fb ? fb : "", fb ? fblen : 0);
		draft(&out, &content);
	} else {
		snprintf(res->error, sizeof(res->error),
			 "fake: the prompt of step `%s` has no TASK:generate, critique or revise "
			 "line with a WF: line",
			 req->step->name);
		res->fault = LLM_FAULT_PERMANENT;
		buf_free(&prompt);
		return ECL_EPROVIDER;
	}
	buf_free(&prompt);
	if (out.oom || content.oom) { /* never a draft cut short */
		buf_free(&content);
		buf_free(&out);
		return ECL_ENOMEM;
	}
	buf_free(&content);
	res->text = out.data;
	res->len = out.len;
	return ECL_OK;
}

static void fake_destroy(llm_provider *p)
{
	fake *f = (fake *)p;

	if (!f)
		return;
	mem_free(f->table);
	mem_free(f);
}

int llm_fake_new(const llm_config *cfg, llm_provider **out, char *err, size_t errlen)
{
	fake *f = mem_calloc(1, sizeof(*f));

	(void)cfg;
	*out = NULL;
	if (!f || !(f->table = mem_calloc(TABLE_MIN, sizeof(*f->table)))) {
		mem_free(f);
		snprintf(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	f->size = TABLE_MIN;
	f->base.name = "fake";
	f->base.complete = fake_complete;
	f->base.destroy = fake_destroy;
	*out = &f->base;
	return ECL_OK;
}
