#!/usr/bin/env python3
"""Counting proxy in front of moto, for the sync benchmarks (docs/benchmarks.md).

    count-proxy.py --upstream http://127.0.0.1:MOTO_PORT [--port 0] [--log FILE]

Listens on 127.0.0.1 (prints "count-proxy listening on http://127.0.0.1:PORT") and forwards
every request to moto unchanged; point the SDK at it with AWS_ENDPOINT_URL. DynamoDB requests
(JSON protocol: the X-Amz-Target header `DynamoDB_20120810.<Operation>`) are counted:

  reads   GetItem, Query, Scan, BatchGetItem, TransactGetItems
  writes  PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems
  items   items in the write requests (1 per Put/Update/Delete, the requests of a
          BatchWriteItem, the actions of a TransactWriteItems)

plus the most DynamoDB requests in flight at once, and every DynamoDB request (target + body)
is appended as one JSON line to the log file (the store floor replays it: bench-store-floor.py).

Control routes (not forwarded):
  GET  /_proxy/stats   {"reads", "writes", "items_written", "other_ddb", "non_ddb",
                        "max_in_flight", "by_op": {...}, "logged"}
  POST /_proxy/reset   body {"log": "/path"} (optional): zero the counts, start a new log file
Only the standard library.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "DynamoDB_20120810."
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "content-length",
}


def items_in(op, body):
    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return 0
    if op == "BatchWriteItem":
        return sum(len(v) for v in (doc.get("RequestItems") or {}).values())
    if op == "TransactWriteItems":
        return len(doc.get("TransactItems") or [])
    return 0


class Stats:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.log_file = None
        self.reset(log_path)

    def reset(self, log_path):
        with self.lock:
            if self.log_file:
                self.log_file.close()
            self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
            self.reads = self.writes = self.items = self.other = self.non_ddb = 0
            self.by_op = {}
            self.in_flight = self.max_in_flight = 0
            self.logged = 0

    def begin(self, op, body):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.by_op[op] = self.by_op.get(op, 0) + 1
            if op in READS:
                self.reads += 1
            elif op in WRITES:
                self.writes += 1
                self.items += items_in(op, body)
            else:
                self.other += 1
            if self.log_file:
                line = {"t": time.time(), "target": PREFIX + op, "body": body.decode("utf-8", "replace")}
                self.log_file.write(json.dumps(line) + "\n")
                self.logged += 1

    def end(self):
        with self.lock:
            self.in_flight -= 1

    def snapshot(self):
        with self.lock:
            if self.log_file:
                self.log_file.flush()
            return {
                "reads": self.reads, "writes": self.writes, "items_written": self.items,
                "other_ddb": self.other, "non_ddb": self.non_ddb,
                "max_in_flight": self.max_in_flight, "by_op": dict(self.by_op),
                "logged": self.logged,
            }


def make_handler(upstream, stats):
    up = urllib.parse.urlsplit(upstream)
    local = threading.local()

    def connection():
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=300)
            local.conn = conn
        return conn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def read_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def reply(self, status, body, ctype="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self):
            body = self.read_body()
            if self.path.startswith("/_proxy/"):
                return self.control(body)
            target = self.headers.get("X-Amz-Target", "")
            op = target[len(PREFIX):] if target.startswith(PREFIX) else None
            if op is not None:
                stats.begin(op, body)
            else:
                with stats.lock:
                    stats.non_ddb += 1
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                for attempt in (1, 2):
                    conn = connection()
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        data = resp.read()
                        break
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        local.conn = None
                        if attempt == 2:
                            raise
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (http.client.HTTPException, OSError) as e:
                self.reply(502, json.dumps({"error": "count-proxy: upstream: %s" % e}).encode())
            finally:
                if op is not None:
                    stats.end()

        def control(self, body):
            if self.path == "/_proxy/stats" and self.command == "GET":
                return self.reply(200, json.dumps(stats.snapshot()).encode())
            if self.path == "/_proxy/reset" and self.command == "POST":
                try:
                    doc = json.loads(body or b"{}")
                except ValueError:
                    return self.reply(400, b'{"error":"body is not JSON"}')
                stats.reset(doc.get("log"))
                return self.reply(200, b"{}")
            return self.reply(404, b'{"error":"unknown proxy route"}')

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = forward

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", default=None, help="append DynamoDB requests here (JSON lines)")
    args = ap.parse_args()
    stats = Stats(args.log)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream, stats))
    server.daemon_threads = True
    print("count-proxy listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
