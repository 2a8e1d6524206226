/*
 * restate.h - Restate's service protocol for ecl (versions 5 and 6): frames, the discovery
 * manifest, and invocations of the `run`, `get_status`, `answer`, `pause` and `resume`
 * handlers answered from a request body, with the Restate journal as a second driver beside
 * the local one. The HTTP server (restate_serve.c) and the tests call restate_handle();
 * nothing here touches a socket. Its parts: restate_frame.c (frames), driver_restate.c (the
 * driver), restate_handlers.c (the handlers and restate_handle), restate_discovery.c (the
 * manifest); what they share is in restate_invocation.h.
 */
#ifndef ECL_RESTATE_H
#define ECL_RESTATE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "internal.h"

/* Message types of the frames ecl reads or writes. */
enum restate_type {
	RESTATE_START = 0x0000,
	RESTATE_SUSPENSION = 0x0001,
	RESTATE_ERROR = 0x0002,
	RESTATE_END = 0x0003,
	RESTATE_PROPOSE_RUN = 0x0005,
	RESTATE_INPUT = 0x0400,
	RESTATE_OUTPUT = 0x0401,
	RESTATE_GET_LAZY_STATE = 0x0402,
	RESTATE_SET_STATE = 0x0403,
	RESTATE_GET_EAGER_STATE = 0x0407,
	RESTATE_GET_PROMISE = 0x0409,
	RESTATE_PEEK_PROMISE = 0x040A,
	RESTATE_COMPLETE_PROMISE = 0x040B,
	RESTATE_RUN = 0x0411,
	RESTATE_GET_LAZY_STATE_DONE = 0x8002,
	RESTATE_GET_PROMISE_DONE = 0x8009,
	RESTATE_PEEK_PROMISE_DONE = 0x800A,
	RESTATE_COMPLETE_PROMISE_DONE = 0x800B,
	RESTATE_RUN_DONE = 0x8011,
	RESTATE_SIGNAL = 0xFBFF
};

/* ErrorMessage codes the protocol defines beside HTTP's. */
#define RESTATE_JOURNAL_MISMATCH   570
#define RESTATE_PROTOCOL_VIOLATION 571

/* The lowest and highest protocol versions ecl speaks. */
#define RESTATE_MIN_VERSION 5
#define RESTATE_MAX_VERSION 6

/* The state key under which a run's status is kept. */
#define RESTATE_STATUS_KEY "status"

/* The built-in signal that cancels an invocation. */
#define RESTATE_CANCEL_SIGNAL 1

/* One frame of a message stream: the header's fields and the body, borrowed from the
 * buffer it was read from. */
typedef struct restate_frame {
	uint16_t type;
	uint16_t flags;
	uint32_t len;
	const uint8_t *body;
} restate_frame;

/* Read the frame at data[*pos] and move *pos past it. ECL_OK, ECL_ENOTFOUND at the end of
 * the data, or ECL_EINPUT when the frame is cut short (why says where). */
int restate_frame_next(const uint8_t *data, size_t n, size_t *pos, restate_frame *out, char *why,
		       size_t whylen);

/* Append one frame (the 8-byte header and msg packed; msg NULL for an empty body). */
void restate_frame_put(buf *b, uint16_t type, const ProtobufCMessage *msg);

/* The allocator protobuf-c uses to unpack, routed through the runtime's seam. */
extern ProtobufCAllocator restate_allocator;

/* A short name for a frame type, for messages ("RunCommand"). */
const char *restate_type_name(uint16_t type);

/* What restate_handle answers: an HTTP status, a content type (static) and a body. */
typedef struct restate_reply {
	int status;
	const char *content_type;
	buf body;
} restate_reply;

/* Answer one HTTP request of the endpoint: GET /discover, GET /health, or
 * POST [prefix]/invoke/{service}/{handler} with its whole body. Invocations are driven
 * with the engine e (its provider asks the model; its store is not used). Free the body
 * with buf_free. Returns ECL_OK unless memory ran out. */
int restate_handle(ecl_engine *e, const char *method, const char *path, const char *content_type,
		   const char *accept, const uint8_t *body, size_t len, restate_reply *out);

/* The client's (restate_client.c, restate_query.c): write the message to err, when err is
 * not NULL and has room. */
void restate_say(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Whether s may go into a URL or a query as it is: not empty, and only letters, digits, `-`,
 * `_` and `.` (run ids, workflow names). */
int restate_plain(const char *s);

#endif /* ECL_RESTATE_H */
