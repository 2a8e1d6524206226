/*
 * fake_server.h - the tests' fake LLM server (tests/tools/fake_llm.py) as a child process:
 * start it on a free port, switch its fault mode, read its statistics.
 */
#ifndef ECL_TEST_FAKE_SERVER_H
#define ECL_TEST_FAKE_SERVER_H

#include <stddef.h>
#include <sys/types.h>

/* Start the server with a latency (ms) and a standing mode ("ok", "hang", ...), writing its
 * port file in dir; base receives "http://127.0.0.1:PORT". The test fails if it cannot. */
pid_t ts_fake_start(const char *dir, int latency_ms, const char *mode, char *base, size_t len);

/* Stop it (SIGTERM) and reap it. */
void ts_fake_stop(pid_t pid);

/* Wait up to 10 s for a server started in the background to write its port to portfile; the
 * port. The test fails, naming what did not start, without it. */
int ts_wait_port(const char *portfile, const char *what);

/* POST /mode with a JSON body, e.g. {"mode": "500", "count": 1}. */
void ts_fake_mode(const char *base, const char *json);

/* The body of GET base + path (caller frees). */
char *ts_fake_get(const char *base, const char *path);

#endif /* ECL_TEST_FAKE_SERVER_H */
