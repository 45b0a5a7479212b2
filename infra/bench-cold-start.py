#!/usr/bin/env python3
"""Init ("cold start") time of each function's release bootstrap, measured locally.

Serves a minimal Lambda Runtime API on loopback, starts each function's `bootstrap` with
AWS_LAMBDA_RUNTIME_API pointing at it, and measures the time from process start to the function's
first `GET /2018-06-01/runtime/invocation/next`: that is the init phase Lambda bills as Init Duration
(reading config, building the AWS SDK and HTTP clients). No invocation is sent; the process is then
killed. Each function is started RUNS times; the median and max are printed.

The binary is what `infra/lambda-build.sh` leaves: `target/lambda/<fn>/bootstrap.zip` (cargo lambda
build --output-format zip), extracted to a temporary directory for the run, exactly the file Lambda
unpacks. A plain `target/lambda/<fn>/bootstrap` (cargo lambda build without zip output) is used
when there is no zip; the zip wins when both exist, since lambda-build.sh wrote it last.

usage: infra/bench-cold-start.py [RUNS]      (after infra/lambda-build.sh)
"""
import http.server
import os
import socketserver
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

FUNCTIONS = ["box-sync", "dropbox-sync", "sync-dispatcher", "reclaim", "oauth-callback"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_bootstrap(fn: str, scratch: str) -> str | None:
    """The function's release bootstrap: extracted from bootstrap.zip into `scratch`, else the
    plain file. None when neither exists."""
    base = os.path.join(ROOT, "target", "lambda", fn)
    archive = os.path.join(base, "bootstrap.zip")
    if os.path.isfile(archive):
        with zipfile.ZipFile(archive) as z:
            if "bootstrap" not in z.namelist():
                raise SystemExit(f"{fn}: {archive} has no `bootstrap` entry (has: {', '.join(z.namelist())})")
            out = os.path.join(scratch, fn)
            os.makedirs(out)
            path = z.extract("bootstrap", out)
        # zipfile does not restore permissions; Lambda runs the file as an executable
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path
    plain = os.path.join(base, "bootstrap")
    return plain if os.path.isfile(plain) else None


class Handler(http.server.BaseHTTPRequestHandler):
    seen = None

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.endswith("/runtime/invocation/next") and Handler.seen is not None:
            Handler.seen.set()
        # hold the long poll; the process is killed after the measurement
        time.sleep(2)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "TABLE_NAME": "bench",
        "RECLAIM_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench",
        # the dispatcher refuses to start without its queues
        "BOX_SYNC_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-box-sync",
        "DROPBOX_SYNC_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dropbox-sync",
    }
    with tempfile.TemporaryDirectory(prefix="bench-cold-start.") as scratch:
        return bench(runs, env, scratch)


def bench(runs: int, env: dict, scratch: str) -> int:
    print(f"{'function':16} {'median ms':>10} {'max ms':>8}  ({runs} starts each)")
    for fn in FUNCTIONS:
        binary = find_bootstrap(fn, scratch)
        if binary is None:
            where = os.path.join(ROOT, "target", "lambda", fn)
            print(f"{fn}: neither {where}/bootstrap.zip nor {where}/bootstrap exists (run infra/lambda-build.sh)", file=sys.stderr)
            return 1
        times = []
        for _ in range(runs):
            Handler.seen = threading.Event()
            t0 = time.perf_counter()
            proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ok = Handler.seen.wait(10)
            times.append((time.perf_counter() - t0) * 1000)
            proc.kill()
            proc.wait()
            if not ok:
                print(f"{fn}: never asked for an invocation", file=sys.stderr)
                return 1
        print(f"{fn:16} {statistics.median(times):10.1f} {max(times):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
