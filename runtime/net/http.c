/*
 * http.c - what the network half's users of libcurl's easy interface share: handle options,
 * request headers, a capped response body, and a whole exchange for one request at a time.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "internal.h"

size_t http_body_write(char *data, size_t size, size_t n, void *body)
{
	http_body *b = body;

	if (b->max && b->data.len + size * n > b->max) {
		b->too_large = 1;
		return 0;
	}
	buf_append(&b->data, data, size * n);
	return b->data.oom ? 0 : size * n;
}

int http_header(struct curl_slist **list, const char *name, const char *text)
{
	char line[1024];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, text);
	l = curl_slist_append(*list, line);
	if (!l)
		return ECL_ENOMEM;
	*list = l;
	return ECL_OK;
}

void http_setup(CURL *h, long connect_timeout_ms, http_body *body)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
}

int http_global_init(void)
{
	static int ready;

	if (!ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return ECL_EPROVIDER;
		ready = 1;
	}
	return ECL_OK;
}

int http_exchange(const char *method, const char *url, const char *body, const char *accept,
		  long timeout_ms, long *status, buf *out, char *err, size_t errlen)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	http_body reply = {{0}, 0, 0};
	CURLcode cc;
	int rc = ECL_OK;

	*status = 0;
	if (!c)
		return ECL_ENOMEM;
	if ((body && http_header(&h, "Content-Type", "application/json") != ECL_OK) ||
	    (accept && http_header(&h, "Accept", accept) != ECL_OK)) {
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return ECL_ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* the reply goes on from what out holds */
	reply.data = *out;
	http_setup(c, 10000L, &reply);
	cc = curl_easy_perform(c);
	*out = reply.data;
	if (out->oom) {
		rc = ECL_ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "out of memory reading %s", url);
	} else if (cc != CURLE_OK) {
		rc = ECL_EIO;
		if (err && errlen)
			snprintf(err, errlen, "%s %s: %s", method, url,
				 cerr[0] ? cerr : curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}
