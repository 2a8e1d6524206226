/*
 * restate_frame.c - the frames of Restate's service protocol (restate.h): reading and writing
 * them, their protobuf messages' allocator, and their names for messages.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restate_invocation.h"

/* ---- frames ------------------------------------------------------------------------------- */

static void *pb_alloc(void *data, size_t size)
{
	(void)data;
	return mem_alloc(size);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	mem_free(p);
}

ProtobufCAllocator restate_allocator = {pb_alloc, pb_free, NULL};

int restate_frame_next(const uint8_t *data, size_t n, size_t *pos, restate_frame *out, char *why,
		       size_t whylen)
{
	const uint8_t *h = data + *pos;

	if (*pos >= n)
		return ECL_ENOTFOUND;
	if (n - *pos < 8) {
		snprintf(why, whylen, "a frame header at byte %zu is cut short (%zu of 8 bytes)",
			 *pos, n - *pos);
		return ECL_EINPUT;
	}
	out->type = (uint16_t)(h[0] << 8 | h[1]);
	out->flags = (uint16_t)(h[2] << 8 | h[3]);
	out->len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (out->len > n - *pos - 8) {
		snprintf(why, whylen,
			 "the frame of type 0x%04x at byte %zu says %u bytes; %zu are left",
			 out->type, *pos, out->len, n - *pos - 8);
		return ECL_EINPUT;
	}
	out->body = h + 8;
	*pos += 8 + (size_t)out->len;
	return ECL_OK;
}

void restate_frame_put(buf *b, uint16_t type, const ProtobufCMessage *msg)
{
	size_t len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	uint8_t h[8];
	uint8_t *body;

	h[0] = (uint8_t)(type >> 8);
	h[1] = (uint8_t)type;
	h[2] = h[3] = 0;
	h[4] = (uint8_t)(len >> 24);
	h[5] = (uint8_t)(len >> 16);
	h[6] = (uint8_t)(len >> 8);
	h[7] = (uint8_t)len;
	buf_append(b, (const char *)h, 8);
	if (!len)
		return;
	if (!(body = mem_alloc(len))) {
		b->oom = 1;
		return;
	}
	protobuf_c_message_pack(msg, body);
	buf_append(b, (const char *)body, len);
	mem_free(body);
}

const char *restate_type_name(uint16_t type)
{
	switch (type) {
	case RESTATE_START: return "Start";
	case RESTATE_SUSPENSION: return "Suspension";
	case RESTATE_ERROR: return "Error";
	case RESTATE_END: return "End";
	case RESTATE_PROPOSE_RUN: return "ProposeRunCompletion";
	case RESTATE_INPUT: return "InputCommand";
	case RESTATE_OUTPUT: return "OutputCommand";
	case RESTATE_GET_LAZY_STATE: return "GetLazyStateCommand";
	case RESTATE_SET_STATE: return "SetStateCommand";
	case RESTATE_GET_EAGER_STATE: return "GetEagerStateCommand";
	case RESTATE_GET_PROMISE: return "GetPromiseCommand";
	case RESTATE_PEEK_PROMISE: return "PeekPromiseCommand";
	case RESTATE_COMPLETE_PROMISE: return "CompletePromiseCommand";
	case RESTATE_RUN: return "RunCommand";
	case RESTATE_GET_LAZY_STATE_DONE: return "GetLazyStateCompletionNotification";
	case RESTATE_GET_PROMISE_DONE: return "GetPromiseCompletionNotification";
	case RESTATE_PEEK_PROMISE_DONE: return "PeekPromiseCompletionNotification";
	case RESTATE_COMPLETE_PROMISE_DONE: return "CompletePromiseCompletionNotification";
	case RESTATE_RUN_DONE: return "RunCompletionNotification";
	case RESTATE_SIGNAL: return "SignalNotification";
	default: return "an unknown command";
	}
}

/* A message type as a noun phrase for an error: "a RunCommand", "an unknown command (0x0c00)". */
const char *restate_type_phrase(uint16_t type, char text[64])
{
	const char *name = restate_type_name(type);

	if (strcmp(name, "an unknown command") == 0)
		snprintf(text, 64, "an unknown command (0x%04x)", type);
	else
		snprintf(text, 64, "a %s", name);
	return text;
}

/* Notifications have the high bit set; commands live from 0x0400 up. */
int restate_is_notification(uint16_t type)
{
	return (type & 0x8000) != 0;
}
