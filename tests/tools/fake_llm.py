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
  POST /mode                  {"mode": M, "count": n, ...}: M for the next n completion calls,
                              then back to the standing mode; without count, M from now on

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
after a thinking block), big (a 9 MiB 200 reply).

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
         "truncated", "empty", "fence", "wrongtype", "split", "big")
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


def wire_answer(api, model, text, tokens_in, tokens_out, split):
    if api == "openai":
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                          "total_tokens": tokens_in + tokens_out}}
    if api == "anthropic":
        if split:
            half = len(text) // 2
            blocks = [{"type": "thinking", "thinking": "Let me think.", "signature": "x"},
                      {"type": "text", "text": text[:half]},
                      {"type": "text", "text": text[half:]}]
        else:
            blocks = [{"type": "text", "text": text}]
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}}
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
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as e:
            self.send(400, dumps(wire_error(api, 400, "invalid JSON body: %s" % e)))
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
        reply = dumps(wire_answer(api, body.get("model"), text, words(prompt), words(text),
                                  mode == "split")).encode("utf-8")
        if mode == "truncated":
            self.send(200, reply[:len(reply) // 2], length=len(reply), close=True)
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send(200, reply)

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
