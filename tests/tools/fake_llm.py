#!/usr/bin/env python3
"""fake_llm.py - a fake LLM server for testing the HTTP providers, with fault modes.

Speaks the three wire formats on 127.0.0.1 (standard library only):
  POST /v1/chat/completions   OpenAI chat.completion
  POST /v1/messages           Anthropic Messages API
  POST /api/chat              Ollama chat (stream: false)
  GET  /health                "ok"
  GET  /stats                 calls per path, per WF id and task, connections, the mode, and
                              the last Authorization / x-api-key header seen (masked)
  GET  /last                  the last completion request: path, headers (keys masked), body
  GET  /last/raw              the bytes of the last completion request's body, as sent
  POST /mode                  {"mode": M, "count": n, ...}: M for the next n completion calls,
                              then back to the standing mode; without count, M from now on

Each completion request is checked against the API's documented request shape (required
fields and their types, ranges, unknown fields, the headers anthropic-version, x-api-key and
Authorization: Bearer, Content-Type) and refused with the status and error body the real
server sends (400, or 401 for a missing key) when it would be refused there; /stats counts
the refusals.

Answers are those of the benchmark workload's fake (shared/bench/WORKLOAD.md) byte for byte:
the task comes from the TASK: line and the critique counter from the WF: line of the message
contents joined with newlines. A prompt without those lines gets a generic valid answer
{"content": "...", "word_count": N}. Token counts are words of the prompt and of the answer.

Fault modes: ok, latency (sleep "ms", default 1000, then answer), hang (no answer until the
client gives up), 429 (Retry-After: 1, or the "after" given with the mode), 429date
(Retry-After as an HTTP-date 3 s ahead), 500 (or the "status" given, with the Retry-After
"after" if given),
401 (the API's own error body, echoing the key as a hostile server might), 400 (a multi-line
error message), leak (400 whose message repeats the key after "pad" bytes), malformed (200,
not JSON), truncated (Content-Length larger than the body sent, then close), empty (200 with
no answer in it), fence (the answer in a ```json fence with prose around), wrongtype
(word_count or quality_score as a string), split (Anthropic: the answer in two text blocks
after a thinking block), big (a 9 MiB 200 reply), noschema (OpenAI: a 400 for a
response_format of type json_schema, as older OpenAI-compatible servers answer; other
requests are answered), cut (a streamed answer stops after half its events, the connection
closed).

A request with "stream": true is answered as a stream, the text in three pieces: server-sent
events for OpenAI (chunks, a last one with the usage, [DONE]) and Anthropic (message_start,
content blocks and their deltas, a tool's input as input_json_delta, message_delta,
message_stop), one JSON object a line for Ollama.

Prompt caching: an OpenAI request reports as usage.prompt_tokens_details.cached_tokens the
words of the longest prefix its messages share with one of the last 64 requests (OpenAI caches
prompt prefixes by itself, from 1024 tokens, which the fake does not wait for); an
Anthropic system block with cache_control is written to the cache the first time
(usage.cache_creation_input_tokens) and read from it after (cache_read_input_tokens), its
words left out of input_tokens, as the API counts them.

An Anthropic request that forces a tool (tool_choice {"type": "tool"}) is answered with a
tool_use block whose input is the answer, as the API answers it.

  python3 tests/tools/fake_llm.py --port 0 --port-file PATH [--latency-ms 20] [--mode MODE]
It exits cleanly on SIGTERM and SIGINT.
"""

import argparse
import collections
import email.utils
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILLER = ("This draft explains the topic in plain words, states one clear claim, gives two "
          "short supporting points, names one limitation, and ends with a practical next step "
          "for the reader.")
MAX_IDS = 100000  # WF ids remembered, as the reference fake
HANG_MAX_S = 60.0  # a hanging reply gives up by itself after this
MAX_BODY = 16 << 20  # request bodies accepted
MODES = ("ok", "latency", "hang", "429", "429date", "500", "401", "400", "leak", "malformed",
         "truncated", "empty", "fence", "wrongtype", "split", "big", "noschema", "cut")
API_PATHS = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic",
             "/api/chat": "ollama"}
# C isspace: the in-process fake counts words this way
WORD_SPLIT = re.compile(r"[ \t\n\v\f\r]+")
STOP = threading.Event()


def words(text):
    return len([w for w in WORD_SPLIT.split(text) if w])


def dumps(obj):
    """Compact JSON, non-ASCII kept: the bytes of the reference fake (JSON.stringify)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def mask(value):
    """Enough of a secret to recognise it, never the secret."""
    if value is None:
        return None
    scheme = ""
    if value.lower().startswith("bearer "):
        scheme, value = value[:7], value[7:]
    return "%s%s...(%d chars)" % (scheme, value[:4], len(value))


def field(prompt, key):
    """The value of the first line "KEY:value" of the prompt, or None."""
    head = key + ":"
    for line in prompt.split("\n"):
        if line.startswith(head):
            return line[len(head):]
    return None


class State:
    def __init__(self, mode, latency_ms):
        self.lock = threading.Lock()
        self.mode = mode  # the standing mode
        self.override = None  # (mode, params) for the next override_left calls
        self.override_left = 0
        self.params = {}
        self.latency_ms = latency_ms
        self.critiques = collections.OrderedDict()  # WF id -> critiques answered
        self.calls = collections.Counter()  # path -> calls
        self.per_wf = collections.OrderedDict()  # WF id -> {task: calls}
        self.connections = 0
        self.total = 0
        self.last_auth = None
        self.last_api_key = None
        self.last = None
        self.last_raw = None  # the bytes of the last completion request's body, as sent
        self.refused = 0  # requests refused as a real server would refuse them
        self.cached = set()  # the Anthropic system prompts in the prompt cache
        self.prefixes = collections.deque(maxlen=64)  # the last OpenAI prompts

    def take_mode(self):
        with self.lock:
            if self.override_left > 0:
                mode, params = self.override
                self.override_left -= 1
                if self.override_left == 0:
                    self.override = None
                return mode, params
            return self.mode, self.params

    def set_mode(self, mode, count, params):
        with self.lock:
            if count is None or count <= 0:
                self.mode, self.params = mode, params
                self.override, self.override_left = None, 0
            else:
                self.override, self.override_left = (mode, params), count

    def next_critique(self, wf):
        with self.lock:
            k = self.critiques.pop(wf, 0) + 1
            self.critiques[wf] = k
            while len(self.critiques) > MAX_IDS:
                self.critiques.popitem(last=False)
            return k

    def count(self, path, wf, task, headers, body):
        with self.lock:
            self.total += 1
            self.calls[path] += 1
            if wf is not None:
                tasks = self.per_wf.setdefault(wf, collections.Counter())
                tasks[task or "none"] += 1
                self.per_wf.move_to_end(wf)
                while len(self.per_wf) > MAX_IDS:
                    self.per_wf.popitem(last=False)
            auth = headers.get("Authorization")
            key = headers.get("x-api-key")
            if auth is not None:
                self.last_auth = mask(auth)
            if key is not None:
                self.last_api_key = mask(key)
            shown = {}
            for name, value in headers.items():
                low = name.lower()
                shown[low] = mask(value) if low in ("authorization", "x-api-key") else value
            self.last = {"path": path, "headers": shown, "body": body}

    def stats(self):
        with self.lock:
            return {
                "total": self.total,
                "connections": self.connections,
                "calls": dict(self.calls),
                "wf": {wf: dict(t) for wf, t in self.per_wf.items()},
                "mode": self.mode,
                "override": None if self.override is None else
                {"mode": self.override[0], "left": self.override_left},
                "refused": self.refused,
                "last_authorization": self.last_auth,
                "last_api_key": self.last_api_key,
            }


def answer(state, prompt, wrongtype):
    """(task, wf, the answer text) for the prompt, as the reference fake answers."""
    task, wf = field(prompt, "TASK"), field(prompt, "WF")
    if task == "generate":
        content = "Draft v0 on %s: %s" % (field(prompt, "TOPIC") or "", FILLER)
    elif task == "revise":
        content = "Draft v%s: %s Addressed: %s" % (field(prompt, "REVISION") or "", FILLER,
                                                     field(prompt, "FEEDBACK") or "")
    elif task == "critique" and wf is not None:
        k = state.next_critique(wf)
        if k <= 2:
            out = {"decision": "revise",
                   "feedback": "Critique %d: add a concrete example and tighten the second "
                               "point." % k,
                   "quality_score": 40}
        else:
            out = {"decision": "pass", "feedback": "Critique %d: good enough." % k,
                   "quality_score": 90}
        if wrongtype:
            out["quality_score"] = str(out["quality_score"])
        return task, wf, dumps(out)
    else:
        last = prompt.strip().split("\n")[-1] if prompt.strip() else ""
        content = "Fake answer to: %s" % " ".join(last.split())[:80]
    count = words(content)
    return task, wf, dumps({"content": content,
                            "word_count": str(count) if wrongtype else count})


def prompt_of(api, body):
    """The message contents joined with newlines, the system prompt first."""
    parts = []

    def text(content):
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # Anthropic content blocks
            return "".join(b.get("text", "") for b in content if isinstance(b, dict))
        return ""

    if api == "anthropic" and body.get("system") is not None:
        parts.append(text(body.get("system")))
    for m in body.get("messages") or []:
        if isinstance(m, dict):
            parts.append(text(m.get("content")))
    return "\n".join(parts)


def cache_usage(state, api, body):
    """(tokens read from the prompt cache, tokens written to it) for the request."""
    if api == "openai":
        prompt = prompt_of(api, body)
        best = 0
        with state.lock:
            for old in state.prefixes:
                n = os.path.commonprefix([old, prompt])
                if len(n) < len(prompt):  # whole words only
                    cut = max(n.rfind(c) for c in " \t\n\v\f\r")
                    n = n[:cut + 1] if cut >= 0 else ""
                best = max(best, words(n))
            state.prefixes.append(prompt)
        return best, 0
    if api == "anthropic" and isinstance(body.get("system"), list):
        for block in body["system"]:
            if isinstance(block, dict) and block.get("cache_control") and \
                    isinstance(block.get("text"), str):
                with state.lock:
                    seen = block["text"] in state.cached
                    state.cached.add(block["text"])
                n = words(block["text"])
                return (n, 0) if seen else (0, n)
    return 0, 0


def wire_answer(api, model, text, tokens_in, tokens_out, split, tool=None, cache=(0, 0)):
    if api == "openai":
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                          "total_tokens": tokens_in + tokens_out,
                          "prompt_tokens_details": {"cached_tokens": cache[0]}}}
    if api == "anthropic":
        if split:
            half = len(text) // 2
            blocks = [{"type": "thinking", "thinking": "Let me think.", "signature": "x"},
                      {"type": "text", "text": text[:half]},
                      {"type": "text", "text": text[half:]}]
        else:
            blocks = [{"type": "text", "text": text}]
        if tool is not None:
            try:
                blocks = [{"type": "tool_use", "id": "toolu_fake", "name": tool,
                           "input": json.loads(text)}]
            except ValueError:
                pass
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": tokens_in - cache[0] - cache[1],
                          "cache_read_input_tokens": cache[0],
                          "cache_creation_input_tokens": cache[1],
                          "output_tokens": tokens_out}}
    return {"model": model, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "message": {"role": "assistant", "content": text}, "done": True,
            "done_reason": "stop", "prompt_eval_count": tokens_in, "eval_count": tokens_out}


def wire_empty(api):
    if api == "openai":
        return {"id": "chatcmpl-fake", "object": "chat.completion", "choices": []}
    if api == "anthropic":
        return {"id": "msg_fake", "type": "message", "content": []}
    return {"model": "fake", "done": True}


def wire_error(api, status, message):
    kind = {400: "invalid_request_error", 401: "authentication_error",
            429: "rate_limit_error", 500: "api_error"}.get(status, "api_error")
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    if api == "ollama":
        return {"error": message}
    if status == 401:
        kind = "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None,
                      "code": "invalid_api_key" if status == 401 else None}}


# What each API documents for a request, as far as ecl uses it; anything else a real server
# refuses is refused here too, with a 400 shaped as that server's error.
OPENAI_FIELDS = {"model", "messages", "temperature", "max_tokens", "max_completion_tokens",
                 "response_format", "top_p", "n", "stop", "seed", "stream", "user",
                 "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
                 "top_logprobs", "tools", "tool_choice", "parallel_tool_calls",
                 "stream_options", "service_tier", "store", "metadata", "reasoning_effort"}
OPENAI_ROLES = {"system", "developer", "user", "assistant", "tool"}
ANTHROPIC_FIELDS = {"model", "messages", "max_tokens", "system", "temperature", "top_p",
                    "top_k", "stop_sequences", "stream", "metadata", "tools", "tool_choice",
                    "thinking", "service_tier"}
OLLAMA_FIELDS = {"model", "messages", "stream", "format", "options", "keep_alive", "tools",
                 "think"}
OLLAMA_OPTIONS = {"temperature", "num_predict", "top_k", "top_p", "min_p", "seed", "stop",
                  "num_ctx", "repeat_penalty", "repeat_last_n", "presence_penalty",
                  "frequency_penalty", "mirostat", "mirostat_tau", "mirostat_eta", "typical_p",
                  "num_keep", "num_batch", "num_gpu", "num_thread", "penalize_newline"}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def openai_problem(body, headers):
    """(status, message, param) of what OpenAI refuses in a chat completion, or None."""
    auth = headers.get("Authorization")
    if auth is not None and not re.match(r"Bearer \S+$", auth):
        return 401, ("You didn't provide an API key. You need to provide your API key in an "
                     "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                     "YOUR_KEY)."), None
    for k in body:
        if k not in OPENAI_FIELDS:
            return 400, "Unrecognized request argument supplied: %s" % k, k
    if not isinstance(body.get("model"), str) or not body["model"]:
        return 400, "you must provide a model parameter", "model"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return 400, "'messages' must be a non-empty array", "messages"
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in OPENAI_ROLES:
            return 400, ("Invalid value: %r. Supported values are: 'system', 'assistant', "
                         "'user', 'tool', and 'developer'." % (
                             m.get("role") if isinstance(m, dict) else m)), \
                "messages[%d].role" % i
        if not isinstance(m.get("content"), (str, list)):
            return 400, "Invalid type for 'messages[%d].content': expected a string" % i, \
                "messages[%d].content" % i
        for k in m:
            if k not in ("role", "content", "name", "tool_calls", "tool_call_id"):
                return 400, "Unrecognized request argument supplied: messages[%d].%s" % (
                    i, k), "messages[%d].%s" % (i, k)
    t = body.get("temperature")
    if t is not None and (not is_number(t) or not 0 <= t <= 2):
        return 400, ("Invalid 'temperature': expected a number between 0 and 2, got %r"
                     % (t,)), "temperature"
    n = body.get("max_tokens")
    if n is not None and (not is_int(n) or n < 1):
        return 400, "Invalid 'max_tokens': expected an integer >= 1, got %r" % (n,), \
            "max_tokens"
    rf = body.get("response_format")
    if rf is not None and (not isinstance(rf, dict) or
                           rf.get("type") not in ("text", "json_object", "json_schema")):
        return 400, ("Invalid value for 'response_format.type': %r. Supported values are: "
                     "'text', 'json_object' and 'json_schema'." % (
                         rf.get("type") if isinstance(rf, dict) else rf)), "response_format"
    if rf is not None and rf["type"] == "json_schema":
        return json_schema_problem(rf.get("json_schema"))
    return None


def json_schema_problem(js):
    """(status, message, param) of what OpenAI refuses in response_format.json_schema: a name
    of 1 to 64 [a-zA-Z0-9_-], a schema object and, in strict mode, every property of each
    object required and no other allowed (structured outputs)."""
    param = "response_format.json_schema"
    if not isinstance(js, dict):
        return 400, "Missing required parameter: 'response_format.json_schema'.", param
    name = js.get("name")
    if not isinstance(name, str) or not re.match(r"[a-zA-Z0-9_-]{1,64}$", name):
        return 400, ("Invalid 'response_format.json_schema.name': string does not match "
                     "pattern. Expected a string that matches the pattern "
                     "'^[a-zA-Z0-9_-]+$'."), param + ".name"
    schema = js.get("schema")
    if not isinstance(schema, dict):
        return 400, "Invalid type for 'response_format.json_schema.schema': expected an " \
            "object", param + ".schema"
    if js.get("strict") is True:
        if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
            return 400, ("Invalid schema for response_format '%s': In context=(), "
                         "'additionalProperties' is required to be supplied and to be "
                         "false." % name), "response_format"
        props = schema.get("properties") or {}
        missing = [k for k in props if k not in (schema.get("required") or [])]
        if missing:
            return 400, ("Invalid schema for response_format '%s': In context=(), "
                         "'required' is required to be supplied and to be an array "
                         "including every key in properties. Missing '%s'." % (
                             name, missing[0])), "response_format"
    return None


def anthropic_problem(body, headers):
    """(status, message) of what the Messages API refuses, or None."""
    if headers.get("x-api-key") is None:
        return 401, "x-api-key header is required"
    if headers.get("anthropic-version") is None:
        return 400, "anthropic-version: header is required"
    if headers.get("anthropic-version") not in ("2023-06-01", "2023-01-01"):
        return 400, "anthropic-version: invalid version %s" % headers.get("anthropic-version")
    for k in body:
        if k not in ANTHROPIC_FIELDS:
            return 400, "%s: Extra inputs are not permitted" % k
    if not isinstance(body.get("model"), str) or not body["model"]:
        return 400, "model: Field required"
    n = body.get("max_tokens")
    if n is None:
        return 400, "max_tokens: Field required"
    if not is_int(n) or n < 1:
        return 400, "max_tokens: Input should be a valid integer greater than 0"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return 400, "messages: at least one message is required"
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            return 400, ("messages.%d.role: Input should be 'user' or 'assistant'" % i)
        c = m.get("content")
        if not isinstance(c, (str, list)):
            return 400, "messages.%d.content: Input should be a valid string or list" % i
        if isinstance(c, str) and not c.strip() and not (
                i == len(msgs) - 1 and m["role"] == "assistant"):
            return 400, ("messages: all messages must have non-empty content except for the "
                         "optional final assistant message")
        for k in m:
            if k not in ("role", "content"):
                return 400, "messages.%d.%s: Extra inputs are not permitted" % (i, k)
    if msgs[0]["role"] != "user":
        return 400, "messages: first message must use the \"user\" role"
    tools = body.get("tools")
    names = []
    if tools is not None:
        if not isinstance(tools, list):
            return 400, "tools: Input should be a valid list"
        for i, t in enumerate(tools):
            if not isinstance(t, dict) or not isinstance(t.get("name"), str) or \
                    not re.match(r"[a-zA-Z0-9_-]{1,64}$", t["name"]):
                return 400, "tools.%d.name: String should match pattern " \
                    "'^[a-zA-Z0-9_-]{1,64}$'" % i
            schema = t.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return 400, "tools.%d.input_schema.type: Field required" % i
            for k in t:
                if k not in ("name", "description", "input_schema", "cache_control"):
                    return 400, "tools.%d.%s: Extra inputs are not permitted" % (i, k)
            names.append(t["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or \
                choice.get("type") not in ("auto", "any", "tool", "none"):
            return 400, "tool_choice: Input tag found using 'type' does not match any of " \
                "the expected tags: 'auto', 'any', 'tool', 'none'"
        if choice["type"] == "tool" and choice.get("name") not in names:
            return 400, "tool_choice: tool %r not found in tools" % choice.get("name")
    if "system" in body and not isinstance(body["system"], (str, list)):
        return 400, "system: Input should be a valid string"
    for i, block in enumerate(body["system"] if isinstance(body.get("system"), list) else []):
        if not isinstance(block, dict) or block.get("type") != "text" or \
                not isinstance(block.get("text"), str):
            return 400, "system.%d: Input should be a valid text block" % i
        cc = block.get("cache_control")
        if cc is not None and (not isinstance(cc, dict) or cc.get("type") != "ephemeral"):
            return 400, "system.%d.cache_control.type: Input should be 'ephemeral'" % i
        for k in block:
            if k not in ("type", "text", "cache_control", "citations"):
                return 400, "system.%d.%s: Extra inputs are not permitted" % (i, k)
    t = body.get("temperature")
    if t is not None and (not is_number(t) or not 0 <= t <= 1):
        return 400, "temperature: Input should be less than or equal to 1"
    return None


def ollama_problem(body, headers):
    """(status, message) of what Ollama's /api/chat refuses, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return 400, "model is required"
    msgs = body.get("messages")
    if msgs is not None and not isinstance(msgs, list):
        return 400, "json: cannot unmarshal %s into Go struct field ChatRequest.messages of " \
            "type []api.Message" % type(msgs).__name__
    for m in msgs or []:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or \
                not isinstance(m.get("content", ""), str):
            return 400, "json: cannot unmarshal into Go struct field ChatRequest.messages of " \
                "type api.Message"
        if m["role"] not in ("system", "user", "assistant", "tool"):
            return 400, "invalid role: %s" % m["role"]
    if "stream" in body and not isinstance(body["stream"], bool):
        return 400, "json: cannot unmarshal into Go struct field ChatRequest.stream of type bool"
    if "stream" not in body:
        # Ollama streams by default: ecl always says which it wants
        return 400, "fake_llm: \"stream\" is required (Ollama streams without it)"
    fmt = body.get("format")
    if fmt is not None and fmt != "json" and not isinstance(fmt, dict):
        return 400, "invalid format: %s" % dumps(fmt)
    opts = body.get("options")
    if opts is not None:
        if not isinstance(opts, dict):
            return 400, "json: cannot unmarshal into Go struct field ChatRequest.options of " \
                "type map[string]interface {}"
        for k, v in opts.items():
            if k not in OLLAMA_OPTIONS:
                return 400, "invalid option provided: %s" % k
            if k == "temperature" and not is_number(v):
                return 400, "option \"temperature\" must be of type float"
            if k == "num_predict" and not is_int(v):
                return 400, "option \"num_predict\" must be of type integer"
    return None


def request_problem(api, body, headers):
    """(status, the error body a real server sends) when it would refuse the request."""
    if (headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
        return 400, wire_error(api, 400, "Content-Type must be application/json, not %r" %
                               headers.get("Content-Type"))
    if api == "openai":
        p = openai_problem(body, headers)
        if p:
            err = wire_error(api, p[0], p[1])
            if p[0] == 400:
                err["error"]["param"] = p[2]
            return p[0], err
        return None
    p = (anthropic_problem if api == "anthropic" else ollama_problem)(body, headers)
    return (p[0], wire_error(api, p[0], p[1])) if p else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_llm/1"

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.state.lock:
            self.server.state.connections += 1

    def log_message(self, fmt, *args):  # quiet: tests read stdout and stderr
        pass

    def send(self, status, body, ctype="application/json", headers=(), length=None,
             close=False):
        """The whole response in one write: no Nagle delay between headers and body."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        reason = self.responses.get(status, ("",))[0]
        head = ["HTTP/1.1 %d %s" % (status, reason), "Content-Type: " + ctype,
                "Content-Length: %d" % (len(body) if length is None else length),
                "Date: " + email.utils.formatdate(usegmt=True)]
        head += ["%s: %s" % h for h in headers]
        if close:
            head.append("Connection: close")
            self.close_connection = True
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    raise ValueError("request body too large")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        state = self.server.state
        if self.path == "/health":
            self.send(200, "ok", "text/plain")
        elif self.path == "/stats":
            self.send(200, dumps(state.stats()))
        elif self.path == "/last":
            with state.lock:
                last = state.last
            self.send(200, dumps(last))
        elif self.path == "/last/raw":
            with state.lock:
                raw = state.last_raw
            self.send(200, raw or b"", "application/octet-stream")
        else:
            self.send(404, dumps(wire_error("openai", 404, "no such path: " + self.path)))

    def do_POST(self):
        state = self.server.state
        try:
            raw = self.read_body()
        except (ValueError, OSError) as e:
            self.send(400, dumps(wire_error("openai", 400, str(e))), close=True)
            return
        if self.path == "/mode":
            try:
                req = json.loads(raw or b"{}")
                mode = req.get("mode")
                if mode not in MODES:
                    raise ValueError("unknown mode %r (one of %s)" % (mode, ", ".join(MODES)))
                params = {k: v for k, v in req.items() if k not in ("mode", "count")}
                state.set_mode(mode, req.get("count"), params)
            except (ValueError, AttributeError) as e:
                self.send(400, dumps({"error": str(e)}))
                return
            self.send(200, dumps(state.stats()))
            return
        api = API_PATHS.get(self.path)
        if api is None:
            self.send(404, dumps(wire_error("openai", 404, "no such path: " + self.path)))
            return
        with state.lock:
            state.last_raw = raw
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as e:
            self.send(400, dumps(wire_error(api, 400, "invalid JSON body: %s" % e)))
            return
        problem = request_problem(api, body, self.headers)
        if problem:
            with state.lock:
                state.refused += 1
            self.send(problem[0], dumps(problem[1]))
            return
        self.complete(api, body)

    def complete(self, api, body):
        state = self.server.state
        mode, params = state.take_mode()
        prompt = prompt_of(api, body)
        headers = dict(self.headers.items())
        state.count(self.path, field(prompt, "WF"), field(prompt, "TASK"), headers, body)
        if state.latency_ms > 0:
            time.sleep(state.latency_ms / 1000.0)
        key = self.headers.get("x-api-key")
        auth = self.headers.get("Authorization")
        if key is None and auth is not None:
            key = auth[7:] if auth.lower().startswith("bearer ") else auth
        if mode == "latency":
            time.sleep(float(params.get("ms", 1000)) / 1000.0)
        if mode == "hang":
            self.hang()
            return
        if mode in ("429", "429date"):
            after = "1" if mode == "429" else email.utils.formatdate(time.time() + 3,
                                                                     usegmt=True)
            after = str(params.get("after", after))
            self.send(429, dumps(wire_error(api, 429, "Rate limit reached for requests")),
                      headers=[("Retry-After", after)])
            return
        if mode == "500":
            # "status" (503, ...) and "after" (a Retry-After header) may come with the mode
            status = int(params.get("status", 500))
            after = params.get("after")
            self.send(status, dumps(wire_error(api, 500, "The server had an error while "
                                                         "processing your request.")),
                      headers=[("Retry-After", str(after))] if after is not None else ())
            return
        if mode == "401":
            message = {"openai": "Incorrect API key provided: %s. You can find your API key "
                                 "at https://platform.openai.com/account/api-keys.",
                       "anthropic": "invalid x-api-key (%s)",
                       "ollama": "unauthorized: %s"}[api] % key
            self.send(401, dumps(wire_error(api, 401, message)))
            return
        if mode == "400":
            self.send(400, dumps(wire_error(api, 400, "Invalid request:\nthe 'messages' "
                                                      "field\tis wrong\r\nsee the docs")))
            return
        if mode == "leak":
            message = "x" * int(params.get("pad", 0)) + (key or "") * 40
            self.send(400, dumps(wire_error(api, 400, message)))
            return
        if mode == "noschema" and api == "openai" and \
                (body.get("response_format") or {}).get("type") == "json_schema":
            err = wire_error(api, 400, "Invalid parameter: 'response_format' of type "
                                       "'json_schema' is not supported with this model.")
            err["error"]["param"] = "response_format"
            self.send(400, dumps(err))
            return
        if mode == "malformed":
            self.send(200, "this is not JSON {\"choices\": [")
            return
        if mode == "empty":
            self.send(200, dumps(wire_empty(api)))
            return
        if mode == "big":
            text = "x" * (9 << 20)
            self.send(200, dumps(wire_answer(api, body.get("model"), text, 1, 1, False)))
            return
        task, wf, text = answer(state, prompt, mode == "wrongtype")
        if mode == "fence":
            text = ("Here is the JSON you asked for:\n```json\n%s\n```\nLet me know if you "
                    "need anything else." % text)
        choice = body.get("tool_choice") if api == "anthropic" else None
        tool = choice.get("name") if choice and choice.get("type") == "tool" else None
        reply = dumps(wire_answer(api, body.get("model"), text, words(prompt), words(text),
                                  mode == "split", tool,
                                  cache_usage(state, api, body))).encode("utf-8")
        if body.get("stream") is True:
            self.stream(api, body, text, words(prompt), words(text), tool,
                        cache_usage(state, api, body), mode == "cut")
            return
        if mode == "truncated":
            self.send(200, reply[:len(reply) // 2], length=len(reply), close=True)
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send(200, reply)

    def stream(self, api, body, text, tokens_in, tokens_out, tool, cache, cut):
        """The answer as the API streams it, in three pieces; cut: half the events only."""
        third = max(1, len(text) // 3)
        pieces = [text[:third], text[third:2 * third], text[2 * third:]]
        model = body.get("model")
        events = []
        if api == "openai":
            for p in pieces:
                events.append("data: %s\n\n" % dumps(
                    {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {"content": p},
                                  "finish_reason": None}]}))
            events.append("data: %s\n\n" % dumps(
                {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
                 "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                           "total_tokens": tokens_in + tokens_out,
                           "prompt_tokens_details": {"cached_tokens": cache[0]}}}))
            events.append("data: [DONE]\n\n")
            ctype = "text/event-stream"
        elif api == "anthropic":
            def ev(kind, obj):
                obj["type"] = kind
                events.append("event: %s\ndata: %s\n\n" % (kind, dumps(obj)))
            ev("message_start", {"message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [], "usage": {"input_tokens": tokens_in - cache[0] - cache[1],
                                         "cache_read_input_tokens": cache[0],
                                         "cache_creation_input_tokens": cache[1],
                                         "output_tokens": 1}}})
            if tool is not None:
                ev("content_block_start", {"index": 0, "content_block": {
                    "type": "tool_use", "id": "toolu_fake", "name": tool, "input": {}}})
                for p in pieces:
                    ev("content_block_delta", {"index": 0, "delta": {
                        "type": "input_json_delta", "partial_json": p}})
            else:
                ev("content_block_start", {"index": 0, "content_block": {
                    "type": "text", "text": ""}})
                for p in pieces:
                    ev("content_block_delta", {"index": 0, "delta": {
                        "type": "text_delta", "text": p}})
            ev("content_block_stop", {"index": 0})
            ev("message_delta", {"delta": {"stop_reason": "end_turn"},
                                 "usage": {"output_tokens": tokens_out}})
            ev("message_stop", {})
            ctype = "text/event-stream"
        else:
            for p in pieces:
                events.append(dumps({"model": model, "message": {
                    "role": "assistant", "content": p}, "done": False}) + "\n")
            events.append(dumps({"model": model, "message": {"role": "assistant",
                                                              "content": ""},
                                 "done": True, "done_reason": "stop",
                                 "prompt_eval_count": tokens_in,
                                 "eval_count": tokens_out}) + "\n")
            ctype = "application/x-ndjson"
        if cut:
            events = events[:len(events) // 2]
        head = ["HTTP/1.1 200 OK", "Content-Type: " + ctype, "Connection: close",
                "Date: " + email.utils.formatdate(usegmt=True)]
        self.close_connection = True
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            for e in events:  # each in a write of its own, as a server streams them
                self.wfile.write(e.encode("utf-8"))
                self.wfile.flush()
        except OSError:
            pass

    def hang(self):
        """Answer nothing until the client closes the connection (or the server stops)."""
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + HANG_MAX_S
        while time.monotonic() < deadline and not STOP.is_set():
            ready, _, _ = select.select([sock], [], [], 0.05)
            if not ready:
                continue
            try:
                if not sock.recv(1, socket.MSG_PEEK):
                    return  # the client gave up
            except OSError:
                return
            time.sleep(0.05)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # many clients connect at once in the benchmarks

    def handle_error(self, request, client_address):
        # clients that hang up mid-reply (a timeout, a size cap) are what the tests do
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("FAKE_LLM_PORT", 18181)))
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--latency-ms", type=float,
                    default=float(os.environ.get("FAKE_LLM_LATENCY_MS", 20)))
    ap.add_argument("--mode", choices=MODES, default="ok")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.mode, args.latency_ms)

    def stop(signum, frame):
        STOP.set()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        STOP.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
