/*
 * provider.c - choosing a provider by name: offline, scripted and fake here in llm/, the HTTP
 * ones (openai, anthropic, ollama) in the network half (net/llm_http.c, reached through
 * net.h when the `ecl` command loads it).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int llm_provider_new(const char *name, const llm_config *cfg, llm_provider **out, char *err,
		     size_t errlen)
{
	static const struct {
		const char *name;
		int (*make)(const llm_config *, llm_provider **, char *, size_t);
	} backends[] = {
		{"offline", llm_offline_new},     {"scripted", llm_scripted_new},
		{"fake", llm_fake_new},           {"openai", llm_openai_new},
		{"anthropic", llm_anthropic_new}, {"ollama", llm_ollama_new},
	};
	size_t i;

	*out = NULL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(name, backends[i].name) == 0)
			return backends[i].make(cfg, out, err, errlen);
	snprintf(err, errlen,
		 "unknown provider `%s` (known: offline, scripted, fake, openai, anthropic, "
		 "ollama)",
		 name);
	return ECL_EUSAGE;
}
