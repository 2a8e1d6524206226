/*
 * price.c - what tokens cost by a price table (ecl_price): the one computation the runtime's
 * spans and the ecl command's listings share.
 */
#include <string.h>

#include "internal.h"

int ecl_price_cost(const ecl_price *prices, size_t n, const char *provider, const char *model,
		   long long tokens_in, long long tokens_out, double *cost)
{
	size_t i;

	*cost = 0;
	for (i = 0; provider && model && i < n; i++)
		if (prices[i].provider && prices[i].model &&
		    strcmp(prices[i].provider, provider) == 0 &&
		    strcmp(prices[i].model, model) == 0) {
			*cost = ((double)tokens_in * prices[i].input +
				 (double)tokens_out * prices[i].output) /
				1e6;
			return 1;
		}
	return 0;
}
