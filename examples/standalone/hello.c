/*
 * hello.c - the C function of the code step `check` of hello.ecl: it counts the words of the
 * greeting and says whether there are few enough.
 */
#include <ctype.h>

#include "ecl.h"

int count_words(ecl_call *call);

int count_words(ecl_call *call)
{
	const char *s = ecl_call_str(call, "text");
	long long words = 0, max = ecl_call_int(call, "max_words");
	int in_word = 0, rc;

	for (; *s; s++) {
		int space = isspace((unsigned char)*s);

		if (!space && !in_word)
			words++;
		in_word = !space;
	}
	if ((rc = ecl_call_set_int(call, "words", words)) != ECL_OK)
		return rc;
	return ecl_call_set_bool(call, "ok", words <= max);
}
