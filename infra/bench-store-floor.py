#!/usr/bin/env python3
"""Store floor of the sync benchmarks (docs/benchmarks.md): replays the DynamoDB requests a sync
issued (a log of infra/count-proxy.py) straight against moto, alone, with the concurrency the
proxy observed, into another table of the same schema, and prints the wall time as JSON.

    bench-store-floor.py --endpoint http://127.0.0.1:MOTO --log FILE --from-table A --to-table B
                         [--concurrency N]

Requests go out in the logged order; N workers each send the next one when their last answered
(N = the most the sync had in flight). TableName (and RequestItems keys) naming A are rewritten to
B. moto does not check signatures, so a fixed test credential signs nothing. Requests that moto
refuses (say a conditional write whose item is not there) count as sent: they cost a round trip
like any other. Prints {"requests", "errors", "wall_s", "concurrency"}. Only the standard library.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

AUTH = ("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0")


def rename(value, old, new):
    if isinstance(value, dict):
        return {(new if k == old else k): rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [rename(v, old, new) for v in value]
    if value == old:
        return new
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--from-table", required=True)
    ap.add_argument("--to-table", required=True)
    ap.add_argument("--concurrency", type=int, default=1)
    args = ap.parse_args()

    requests = []
    with open(args.log, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                body = json.loads(rec["body"] or "{}")
            except (ValueError, KeyError) as e:
                sys.exit("bench-store-floor: %s line %d is not a logged request: %s" % (args.log, n, e))
            requests.append((rec["target"], json.dumps(rename(body, args.from_table, args.to_table)).encode()))

    up = urllib.parse.urlsplit(args.endpoint)
    lock = threading.Lock()
    state = {"next": 0, "errors": 0, "failure": None}

    def worker():
        conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=300)
        while True:
            with lock:
                i = state["next"]
                if i >= len(requests) or state["failure"]:
                    break
                state["next"] = i + 1
            target, body = requests[i]
            headers = {
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": target,
                "X-Amz-Date": "20250101T000000Z",
                "Authorization": AUTH,
                "Content-Length": str(len(body)),
            }
            try:
                conn.request("POST", "/", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    with lock:
                        state["errors"] += 1
            except (http.client.HTTPException, OSError) as e:
                with lock:
                    state["failure"] = "%s: %s" % (target, e)
                break
        conn.close()

    workers = [threading.Thread(target=worker) for _ in range(max(1, args.concurrency))]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.monotonic() - started
    if state["failure"]:
        sys.exit("bench-store-floor: moto did not answer: %s" % state["failure"])
    print(json.dumps({"requests": len(requests), "errors": state["errors"], "wall_s": round(wall, 3),
                      "concurrency": max(1, args.concurrency)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
