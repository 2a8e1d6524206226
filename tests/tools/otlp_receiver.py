#!/usr/bin/env python3
"""otlp_receiver.py - an OpenTelemetry collector's trace endpoint for tests (standard library only).

Accepts POST /v1/traces on 127.0.0.1 in both OTLP/HTTP encodings, protobuf
(application/x-protobuf, decoded here from the wire format: no protobuf package) and JSON
(application/json), and appends each span it receives to the output file as one JSON line:

  {"trace_id": hex, "span_id": hex, "parent_span_id": hex or "", "name": ..., "kind": n,
   "start": ns, "end": ns, "status": {"code": n, "message": ...}, "attributes": {k: v},
   "events": [{"name": ..., "time": ns, "attributes": {k: v}}], "links": [{"trace_id",
   "span_id"}], "resource": {k: v}, "scope": name, "encoding": "protobuf" | "json",
   "headers": {lower-case name: value}}

An attribute's value is its string, int, float or bool; an array a list of those. A request
that cannot be decoded is answered 400 and written as {"error": why}.

Modes (--mode): ok (200 with an empty ExportTraceServiceResponse), 500 (refuses every
request with HTTP 500), hang (reads the request and never answers until the client goes).

  python3 tests/tools/otlp_receiver.py --port-file PATH --out FILE [--mode ok|500|hang]
It exits cleanly on SIGTERM and SIGINT.
"""

import argparse
import json
import os
import signal
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


# ---- the protobuf wire format -------------------------------------------------------------

def varint(buf, i):
    shift = 0
    n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7


def fields(buf):
    """(number, wire type, value) of each field of a message: an int for varints and fixed
    numbers (raw bits), bytes for length-delimited ones."""
    i = 0
    out = []
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v = struct.unpack_from("<Q", buf, i)[0]
            i += 8
        elif wt == 2:
            n, i = varint(buf, i)
            v = bytes(buf[i:i + n])
            if len(v) != n:
                raise ValueError("a field runs past the end of the message")
            i += n
        elif wt == 5:
            v = struct.unpack_from("<I", buf, i)[0]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((num, wt, v))
    return out


def any_value(buf):
    for num, wt, v in fields(buf):
        if num == 1:
            return v.decode("utf-8")
        if num == 2:
            return bool(v)
        if num == 3:
            return v - (1 << 64) if v >= 1 << 63 else v
        if num == 4:
            return struct.unpack("<d", struct.pack("<Q", v))[0]
        if num == 5:
            return [any_value(x) for n2, _, x in fields(v) if n2 == 1]
        if num == 7:
            return v.hex()
    return None


def key_values(items):
    out = {}
    for buf in items:
        key, value = "", None
        for num, _, v in fields(buf):
            if num == 1:
                key = v.decode("utf-8")
            elif num == 2:
                value = any_value(v)
        out[key] = value
    return out


def pb_span(buf):
    s = {"trace_id": "", "span_id": "", "parent_span_id": "", "name": "", "kind": 0,
         "start": 0, "end": 0, "status": {"code": 0, "message": ""}, "attributes": {},
         "events": [], "links": [], "flags": 0}
    attrs = []
    for num, _, v in fields(buf):
        if num == 1:
            s["trace_id"] = v.hex()
        elif num == 2:
            s["span_id"] = v.hex()
        elif num == 4:
            s["parent_span_id"] = v.hex()
        elif num == 5:
            s["name"] = v.decode("utf-8")
        elif num == 6:
            s["kind"] = v
        elif num == 7:
            s["start"] = v
        elif num == 8:
            s["end"] = v
        elif num == 9:
            attrs.append(v)
        elif num == 11:
            ev = {"name": "", "time": 0, "attributes": {}}
            eattrs = []
            for n2, _, x in fields(v):
                if n2 == 1:
                    ev["time"] = x
                elif n2 == 2:
                    ev["name"] = x.decode("utf-8")
                elif n2 == 3:
                    eattrs.append(x)
            ev["attributes"] = key_values(eattrs)
            s["events"].append(ev)
        elif num == 13:
            link = {}
            for n2, _, x in fields(v):
                if n2 == 1:
                    link["trace_id"] = x.hex()
                elif n2 == 2:
                    link["span_id"] = x.hex()
            s["links"].append(link)
        elif num == 15:
            for n2, _, x in fields(v):
                if n2 == 2:
                    s["status"]["message"] = x.decode("utf-8")
                elif n2 == 3:
                    s["status"]["code"] = x
        elif num == 16:
            s["flags"] = v
    s["attributes"] = key_values(attrs)
    return s


def decode_pb(body):
    spans = []
    for num, _, rs in fields(body):
        if num != 1:
            continue
        resource = {}
        scopes = []
        for n2, _, v in fields(rs):
            if n2 == 1:
                resource = key_values([x for n3, _, x in fields(v) if n3 == 1])
            elif n2 == 2:
                scopes.append(v)
        for ss in scopes:
            scope = ""
            for n3, _, v in fields(ss):
                if n3 == 1:
                    for n4, _, x in fields(v):
                        if n4 == 1:
                            scope = x.decode("utf-8")
            for n3, _, v in fields(ss):
                if n3 == 2:
                    s = pb_span(v)
                    s["resource"] = resource
                    s["scope"] = scope
                    spans.append(s)
    return spans


# ---- OTLP/JSON ------------------------------------------------------------------------------

def json_value(v):
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [json_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def json_kv(items):
    return {kv["key"]: json_value(kv.get("value", {})) for kv in items or []}


def decode_json(body):
    spans = []
    doc = json.loads(body)
    for rs in doc.get("resourceSpans", []):
        resource = json_kv(rs.get("resource", {}).get("attributes"))
        for ss in rs.get("scopeSpans", []):
            scope = ss.get("scope", {}).get("name", "")
            for x in ss.get("spans", []):
                spans.append({
                    "trace_id": x.get("traceId", ""), "span_id": x.get("spanId", ""),
                    "parent_span_id": x.get("parentSpanId", ""), "name": x.get("name", ""),
                    "kind": x.get("kind", 0), "start": int(x.get("startTimeUnixNano", 0)),
                    "end": int(x.get("endTimeUnixNano", 0)),
                    "status": {"code": x.get("status", {}).get("code", 0),
                               "message": x.get("status", {}).get("message", "")},
                    "attributes": json_kv(x.get("attributes")),
                    "events": [{"name": e.get("name", ""), "time": int(e.get("timeUnixNano", 0)),
                                "attributes": json_kv(e.get("attributes"))}
                               for e in x.get("events", [])],
                    "links": [{"trace_id": k.get("traceId", ""), "span_id": k.get("spanId", "")}
                              for k in x.get("links", [])],
                    "flags": x.get("flags", 0), "resource": resource, "scope": scope})
    return spans


# ---- the server -----------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def write(self, records):
        with LOCK, open(self.server.out, "a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, sort_keys=True) + "\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        mode = self.server.mode
        if mode == "hang":
            # no answer until the client gives up (or the test ends)
            while True:
                time.sleep(0.2)
        if mode == "500":
            self.reply(500, b"collector failure", "text/plain")
            return
        ctype = self.headers.get("Content-Type", "")
        try:
            if self.path != "/v1/traces":
                raise ValueError("POST to %s, not /v1/traces" % self.path)
            if ctype.startswith("application/x-protobuf"):
                spans, enc = decode_pb(body), "protobuf"
            elif ctype.startswith("application/json"):
                spans, enc = decode_json(body), "json"
            else:
                raise ValueError("Content-Type %r" % ctype)
        except (ValueError, KeyError, IndexError, struct.error, UnicodeDecodeError) as e:
            self.write([{"error": str(e)}])
            self.reply(400, str(e).encode(), "text/plain")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        for s in spans:
            s["encoding"] = enc
            s["headers"] = headers
        self.write(spans)
        if enc == "json":
            self.reply(200, b"{}", "application/json")
        else:
            self.reply(200, b"", "application/x-protobuf")

    def reply(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that went away (a killed ecl) is no news


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=["ok", "500", "hang"], default="ok")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.out = a.out
    srv.mode = a.mode
    tmp = a.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
