/*
 * fake_server.c - starting and steering tests/tools/fake_llm.py from the tests.
 */
#include "fake_server.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

pid_t ts_fake_start(const char *dir, int latency_ms, const char *mode, char *base, size_t len)
{
	char portfile[4200], lat[32];
	pid_t pid;

	snprintf(portfile, sizeof(portfile), "%s/fake_port", dir);
	unlink(portfile);
	snprintf(lat, sizeof(lat), "%d", latency_ms);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		execlp("python3", "python3", ECL_SOURCE_DIR "/tests/tools/fake_llm.py", "--port",
		       "0", "--latency-ms", lat, "--mode", mode, "--port-file", portfile,
		       (char *)NULL);
		_exit(127);
	}
	snprintf(base, len, "http://127.0.0.1:%d", ts_wait_port(portfile, "the fake server"));
	return pid;
}

int ts_wait_port(const char *portfile, const char *what)
{
	char *text = NULL;
	int i, port;

	for (i = 0; i < 1000; i++) {
		struct timespec ts = {0, 10000000};

		text = ts_read(portfile);
		if (text && atoi(text) > 0)
			break;
		free(text);
		text = NULL;
		nanosleep(&ts, NULL);
	}
	cr_assert_not_null(text, "%s did not start", what);
	port = atoi(text);
	free(text);
	return port;
}

void ts_fake_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	char **text = ctx;
	size_t old = *text ? strlen(*text) : 0;
	char *p = realloc(*text, old + size * n + 1);

	cr_assert_not_null(p);
	memcpy(p + old, data, size * n);
	p[old + size * n] = '\0';
	*text = p;
	return size * n;
}

static char *request(const char *base, const char *path, const char *body)
{
	char url[512];
	char *text = NULL;
	CURL *h = curl_easy_init();
	CURLcode cc;
	long status = 0;

	cr_assert_not_null(h);
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &text);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	cr_assert_eq(cc, CURLE_OK, "%s: %s", url, curl_easy_strerror(cc));
	cr_assert_eq(status, 200, "%s: HTTP %ld: %s", url, status, text ? text : "");
	return text ? text : calloc(1, 1);
}

void ts_fake_mode(const char *base, const char *json)
{
	free(request(base, "/mode", json));
}

char *ts_fake_get(const char *base, const char *path)
{
	return request(base, path, NULL);
}
