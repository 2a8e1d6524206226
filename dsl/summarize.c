/*
 * summarize.c - the C function of the code step `check` of dsl/summarize.ecl: it counts the
 * words of a summary and says whether the summary is acceptable.
 */
#include <ctype.h>
#include <string.h>

#include "ecl.h"

int check_summary(ecl_call *call);

static long long count_words(const char *s)
{
	long long n = 0;
	int in_word = 0;

	for (; *s; s++) {
		int space = isspace((unsigned char)*s);

		if (!space && !in_word)
			n++;
		in_word = !space;
	}
	return n;
}

int check_summary(ecl_call *call)
{
	const char *text = ecl_call_str(call, "text");
	long long words = count_words(text), max = ecl_call_int(call, "max_words");
	const char *problem = "";
	int rc;

	/* Nothing to check a summary against: a failure of the step, not a refused summary. */
	if (count_words(ecl_call_str(call, "document")) == 0)
		return ecl_call_fail(call, "the document is empty");
	if (max < 1)
		return ecl_call_fail(call, "max_words is %lld; it must be at least 1", max);
	if (words == 0)
		problem = "the summary is empty";
	else if (words > max)
		problem = "the summary has more words than allowed";
	else if (strlen(text) >= strlen(ecl_call_str(call, "document")))
		problem = "the summary is not shorter than the document";
	if ((rc = ecl_call_set_int(call, "words", words)) != ECL_OK ||
	    (rc = ecl_call_set_str(call, "problem", problem)) != ECL_OK)
		return rc;
	return ecl_call_set_bool(call, "ok", problem[0] == '\0');
}
