/*
 * http.h - the network half's one use of libcurl's easy interface (http.c): the options every
 * easy handle takes, the request headers, the response body gathered into a buf with a cap,
 * and a whole exchange for a caller that makes one request at a time. The HTTP providers
 * (llm_http.c) keep their handles for reuse and set them up with these pieces; the Restate
 * client (restate_client.c) makes each request with http_exchange.
 */
#ifndef ECL_HTTP_H
#define ECL_HTTP_H

#include <curl/curl.h>

#include "buf.h"

/* A response body: what arrives is appended to data until it would pass max bytes (0: no
 * limit); then too_large is set and the transfer fails. data.oom when an append failed. */
typedef struct http_body {
	buf data;
	int too_large;
	unsigned max; /* beside too_large: no more bytes than a buf and a flag */
} http_body;

/* libcurl's CURLOPT_WRITEFUNCTION for an http_body (CURLOPT_WRITEDATA). */
size_t http_body_write(char *data, size_t size, size_t n, void *body);

/* Append the header line "name: text" to *list: ECL_OK, or ECL_ENOMEM with *list as it was. */
int http_header(struct curl_slist **list, const char *name, const char *text);

/* Set the options every easy handle of the runtime takes: no signals (libcurl's timeouts would
 * otherwise raise SIGALRM in a program that may use it), the time allowed to connect, and the
 * response body written to body. */
void http_setup(CURL *h, long connect_timeout_ms, http_body *body);

/* Start libcurl for the process (curl_global_init, once): ECL_OK, or ECL_EPROVIDER. Not
 * thread-safe, as curl_global_init is not: called where a provider is made. */
int http_global_init(void);

/* One HTTP exchange on an easy handle of its own: method to url with body (JSON, or none),
 * asking for accept (or nothing), within timeout_ms (0: no limit) and 10 s to connect. The
 * reply's body is appended to out and its status written to *status (0 when there is none).
 * ECL_OK; ECL_EIO when the server cannot be reached (err names the method, the URL and why);
 * ECL_ENOMEM. */
int http_exchange(const char *method, const char *url, const char *body, const char *accept,
		  long timeout_ms, long *status, buf *out, char *err, size_t errlen);

#endif /* ECL_HTTP_H */
