/*
 * fuzz_dsl.c - arbitrary bytes into the whole front end of eclc (lexer, parser, checker and
 * an emitter): no crash, no leak, no hang. Every rejected input has at least one error; every
 * diagnostic has a code and a message and points inside the input: its byte range lies in
 * it, its line is the line of its first byte and its column is within that line (columns
 * count characters, so never more than the bytes before it on the line, plus one); a note's
 * position too. An accepted input has output, and compiling the same bytes again gives the
 * same output and diagnostics (generated/ is checked against eclc's output byte for byte).
 * The input's length chooses the emitter (C, Mermaid, dot, JSON) and whether warnings are
 * errors, so the seeds are plain .ecl files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eclc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why, const eclc_diag *d)
{
	if (d)
		fprintf(stderr, "fuzz_dsl: %s: %s %d:%d (off %zu len %zu) %s\n", why,
			d->code ? d->code : "?", d->line, d->col, d->off, d->len,
			d->message ? d->message : "");
	else
		fprintf(stderr, "fuzz_dsl: %s\n", why);
	abort();
}

/* Whether line:col can be the position of byte off of the input. */
static int position_ok(const uint8_t *data, size_t size, size_t off, int line, int col)
{
	size_t k, start = 0;
	int l = 1;

	if (off > size || line < 1 || col < 1)
		return 0;
	for (k = 0; k < off; k++)
		if (data[k] == '\n') {
			l++;
			start = k + 1;
		}
	return line == l && (size_t)col <= off - start + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const eclc_format formats[] = {ECLC_C, ECLC_MERMAID, ECLC_DOT, ECLC_JSON};
	eclc_options opt;
	eclc_result res, again;
	int rc, i, errors = 0;

	memset(&opt, 0, sizeof(opt));
	opt.path = "fuzz.ecl";
	opt.format = formats[size % 4];
	opt.werror = (size / 4) % 2;
	rc = eclc_compile((const char *)data, size, &opt, &res);
	if (rc != ECLC_OK && rc != ECLC_EDIAG && rc != ECLC_ENOMEM)
		fail("an unknown result code", NULL);
	if (rc == ECLC_OK && (!res.out || !res.out_len))
		fail("accepted without output", NULL);
	for (i = 0; i < res.ndiags; i++) {
		const eclc_diag *d = &res.diags[i];

		if (!d->message || !d->message[0] || !d->code || !d->code[0])
			fail("a diagnostic without code or message", d);
		if (d->off + d->len > size || !position_ok(data, size, d->off, d->line, d->col))
			fail("a diagnostic that does not point into the input", d);
		if (d->note_line > 0 &&
		    (d->note_off + d->note_len > size ||
		     !position_ok(data, size, d->note_off, d->note_line, d->note_col)))
			fail("a note that does not point into the input", d);
		errors += d->error != 0;
	}
	if (rc == ECLC_EDIAG && (res.nerrors < 1 || errors < 1))
		fail("rejected without an error", NULL);
	if (rc == ECLC_OK && errors)
		fail("accepted with an error", NULL);
	if (rc != ECLC_ENOMEM) {
		if (eclc_compile((const char *)data, size, &opt, &again) != rc ||
		    again.ndiags != res.ndiags || again.diag_len != res.diag_len ||
		    memcmp(again.diag_text, res.diag_text, res.diag_len) != 0 ||
		    again.out_len != res.out_len ||
		    (res.out && memcmp(again.out, res.out, res.out_len) != 0))
			fail("compiling the same input twice gave different results", NULL);
		eclc_result_free(&again);
	}
	eclc_result_free(&res);
	return 0;
}
