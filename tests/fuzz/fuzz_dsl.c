/*
 * fuzz_dsl.c - arbitrary bytes into the whole front end of eclc (lexer, parser, checker and
 * an emitter): no crash, no leak, no hang; every rejected input has at least one error, and
 * every diagnostic points at a line and column inside the input; an accepted one has output.
 * The input's length chooses the emitter (C, Mermaid, dot, JSON), so the seeds are plain .ecl
 * files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eclc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const eclc_format formats[] = {ECLC_C, ECLC_MERMAID, ECLC_DOT, ECLC_JSON};
	eclc_options opt;
	eclc_result res;
	int rc, i, lines = 1;
	size_t k;

	for (k = 0; k < size; k++)
		lines += data[k] == '\n';
	memset(&opt, 0, sizeof(opt));
	opt.path = "fuzz.ecl";
	opt.format = formats[size % 4];
	rc = eclc_compile((const char *)data, size, &opt, &res);
	if (rc == ECLC_EDIAG && res.nerrors < 1)
		abort(); /* rejected without saying why */
	if (rc == ECLC_OK && (!res.out || !res.out_len))
		abort(); /* accepted without output */
	if (rc != ECLC_OK && rc != ECLC_EDIAG && rc != ECLC_ENOMEM)
		abort();
	for (i = 0; i < res.ndiags; i++) {
		const eclc_diag *d = &res.diags[i];

		if (d->line < 1 || d->line > lines || d->col < 1 || !d->message || !d->code)
			abort(); /* a diagnostic must point into the input */
	}
	eclc_result_free(&res);
	return 0;
}
