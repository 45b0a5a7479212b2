#!/usr/bin/env python3
"""The keep page's cold start: how long a person waits for the page when the function starts
cold, measured side by side with a page that needs no I/O, on the same release bootstrap.

Serves a minimal Lambda Runtime API on loopback and starts the oauth-callback `bootstrap` against
it RUNS times per page. Each process gets two invocations (API Gateway HTTP API v2 events):
  cold  = process start → the first response  (init + the first page, with its first connection)
  warm  = the second invocation → its response
Pages:
  keep       GET /keep?t=<a well-formed token nobody issued>: one DynamoDB GetItem (moto), then
             the "link not valid" page (what a mail scanner or a stale link gets)
  no-I/O     GET /oauth/box/callback: a 404 page rendered without any I/O (the floor)
The ratio keep/no-I/O says what the page's store read costs on top of the function's own start.
moto is slower than DynamoDB, so the absolute keep figures are an upper bound.

usage: AWS_ENDPOINT_URL=http://127.0.0.1:PORT TABLE_NAME=T infra/bench-keep-page.py BOOTSTRAP [RUNS]
(infra/bench-keep-page.sh starts moto, creates the table and builds the bootstrap.)
"""
import http.server
import json
import os
import socketserver
import statistics
import subprocess
import sys
import threading
import time

# 43 base64url characters: the shape of a real token (32 bytes), issued by nobody
TOKEN = "A" * 43


def event(path, query):
    return {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": {"host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "accept": "text/html"},
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": f"GET {path}",
            "stage": "$default",
            "time": "29/Nov/2026:14:00:00 +0000",
            "timeEpoch": 1795442400000,
        },
        "isBase64Encoded": False,
    }


PAGES = {
    "keep": event("/keep", {"t": TOKEN}),
    "no-I/O": event("/oauth/box/callback", {}),
}


def runtime_api(events):
    """A Runtime API for one process: hands out `events` in order, records each response's
    time. One server (one port) per process, so a killed process's late poll can never take the
    next process's event."""

    class Runtime(http.server.BaseHTTPRequestHandler):
        pending = list(events)
        responses = []
        done = threading.Event()

        def do_GET(self):  # noqa: N802
            if not self.path.endswith("/runtime/invocation/next") or not Runtime.pending:
                time.sleep(5)  # hold the long poll; the process is killed
                self.send_response(500)
                self.end_headers()
                return
            body = json.dumps(Runtime.pending.pop(0)).encode()
            n = len(Runtime.responses)
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{n}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            Runtime.responses.append((time.perf_counter(), self.path, body))
            self.send_response(202)
            self.end_headers()
            if len(Runtime.responses) >= len(events):
                Runtime.done.set()

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Runtime)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Runtime


def one_process(binary, env, page):
    server, rt = runtime_api([PAGES[page], PAGES[page]])
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ok = rt.done.wait(30)
    proc.kill()
    _, err = proc.communicate()
    server.shutdown()
    server.server_close()
    if not ok:
        raise SystemExit(f"{page}: no two responses within 30 s\n{err.decode(errors='replace')[-2000:]}")
    (t1, path1, body1), (t2, _, _) = rt.responses[0], rt.responses[1]
    if path1.endswith("/error"):
        raise SystemExit(f"{page}: the function reported an error: {body1[:500]!r}")
    status = json.loads(body1).get("statusCode")
    return (t1 - t0) * 1000, (t2 - t1) * 1000, status


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    for var in ("AWS_ENDPOINT_URL", "TABLE_NAME"):
        if not os.environ.get(var):
            raise SystemExit(f"{var} is not set (run infra/bench-keep-page.sh)")
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "TABLE_NAME": os.environ["TABLE_NAME"],
    }
    results = {}
    # interleaved, so a noisy moment on this shared machine hits both pages alike
    for _ in range(runs):
        for page in PAGES:
            results.setdefault(page, []).append(one_process(binary, env, page))
    print(f"{'page':8} {'status':>6} {'cold median ms':>15} {'cold max ms':>12} {'warm median ms':>15}   ({runs} processes each)")
    med = {}
    for page, rows in results.items():
        cold = [r[0] for r in rows]
        warm = [r[1] for r in rows]
        med[page] = statistics.median(cold)
        print(f"{page:8} {rows[0][2]:>6} {med[page]:15.1f} {max(cold):12.1f} {statistics.median(warm):15.1f}")
    print(f"cold keep page / cold no-I/O page = {med['keep'] / med['no-I/O']:.2f}")


if __name__ == "__main__":
    main()
