#!/usr/bin/env python3
"""Measurement steps of infra/bench-sync.sh (docs/benchmarks.md). Subcommands:

  measure   one sync (first or re-sync) of one mode: the paging floor just before it, then the
            sync looped over invocations (a new bench_sync process each, under /usr/bin/time -v,
            `--job` = the last continuation, until it is null), with the count proxy's and the
            sandbox's counts around it, then the store floor (the proxy's log replayed against
            moto). Prints one JSON row.
  compare   the seat items of two tables' profile, ignoring what legitimately differs between
            runs; exits 1 and lists the differences when they are not the same seats.
  table     the rows as one markdown table (stdout and a file).

Run by bench-sync.sh with the venv's python (boto3 comes with moto).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request


def die(msg):
    sys.exit("bench-sync.py: error: " + msg)


def http_json(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def parse_time_v(path):
    """wall s, user+sys s, max RSS MB from a `/usr/bin/time -v -o` file."""
    text = open(path, encoding="utf-8").read()

    def field(pattern):
        m = re.search(pattern, text)
        if not m:
            die("no %r in %s" % (pattern, path))
        return m.group(1)

    wall = field(r"Elapsed \(wall clock\) time.*\): ([0-9:.]+)")
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    cpu = float(field(r"User time \(seconds\): ([0-9.]+)")) + float(field(r"System time \(seconds\): ([0-9.]+)"))
    rss_mb = int(field(r"Maximum resident set size \(kbytes\): ([0-9]+)")) / 1024.0
    return secs, cpu, rss_mb


def run_json(cmd, env, what):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        die("%s failed (exit %d): %s" % (what, p.returncode, p.stderr.strip()[-2000:]))
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    if not lines:
        die("%s printed nothing" % what)
    try:
        return json.loads(lines[-1])
    except ValueError:
        die("%s did not print JSON: %r" % (what, lines[-1][:500]))


def measure(a):
    env = dict(os.environ)
    moto_env = dict(env, AWS_ENDPOINT_URL=a.moto)
    proxy_env = dict(env, AWS_ENDPOINT_URL=a.proxy)
    for e in (moto_env, proxy_env):
        e["TABLE_NAME"] = a.table

    # The paging floor: the same pages, right before the sync, read with the same checkpoint.
    floor = run_json([os.path.join(a.bin_dir, "bench_paging_floor"), "--provider", a.provider,
                      "--profile", a.profile], moto_env, "bench_paging_floor")

    # The sync, invocation after invocation, counted at the proxy and the sandbox.
    open(a.ddb_log, "w").close()
    http_json("POST", a.proxy + "/_proxy/reset", {"log": a.ddb_log})
    calls_before = http_json("GET", a.sandbox + "/_sandbox/stats")["requests"]
    invocations, wall, cpu, rss = 0, 0.0, 0.0, 0.0
    job = None
    last = None
    while True:
        invocations += 1
        if invocations > a.max_invocations:
            die("%s %s sync did not finish in %d invocations" % (a.mode, a.sync, a.max_invocations))
        cmd = [os.path.join(a.bin_dir, "bench_sync"), "--provider", a.provider, "--profile", a.profile]
        if a.invocation_secs:
            cmd += ["--invocation-secs", str(a.invocation_secs)]
        if job is not None:
            cmd += ["--job", json.dumps(job)]
        timefile = "%s.time-%d.txt" % (a.ddb_log, invocations)
        last = run_json(["/usr/bin/time", "-v", "-o", timefile] + cmd, proxy_env,
                        "bench_sync (%s %s, invocation %d)" % (a.mode, a.sync, invocations))
        w, c, r = parse_time_v(timefile)
        wall, cpu, rss = wall + w, cpu + c, max(rss, r)
        print("  %s %s invocation %d: %s" % (a.mode, a.sync, invocations, json.dumps(last)), file=sys.stderr)
        if not last.get("succeeded"):
            die("%s %s sync failed: %s" % (a.mode, a.sync, last.get("error")))
        job = last.get("continuation")
        if job is None:
            break
    calls = http_json("GET", a.sandbox + "/_sandbox/stats")["requests"] - calls_before
    ddb = http_json("GET", a.proxy + "/_proxy/stats")
    http_json("POST", a.proxy + "/_proxy/reset", {})  # closes the log

    # The store floor: the same DynamoDB requests, alone, against moto (unless skipped).
    if a.store_floor_mode == "skip":
        store = {"wall_s": None, "errors": None}
    else:
        store = run_json([sys.executable, a.store_floor, "--endpoint", a.moto, "--log", a.ddb_log,
                          "--from-table", a.table, "--to-table", a.floor_table,
                          "--concurrency", str(max(1, ddb["max_in_flight"]))], env, "bench-store-floor.py")
    row = {
        "size": a.users, "latency": a.latency, "mode": a.mode, "sync": a.sync,
        "invocations": invocations, "provider_calls": calls,
        "ddb_reads": ddb["reads"], "ddb_writes": ddb["writes"], "items_written": ddb["items_written"],
        "ddb_max_in_flight": ddb["max_in_flight"],
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(rss, 1),
        "paging_floor_s": floor["wall_s"], "paging_floor_pages": floor["pages"],
        "store_floor_s": store["wall_s"], "store_floor_errors": store["errors"],
        "sync_pages": last.get("pages"), "sync_api_calls": last.get("api_calls"),
        "sync_items_written": last.get("items_written"), "seats_seen": last.get("seats_seen"),
    }
    print(json.dumps(row))


# Seat fields that differ between two runs of the same data: which run wrote the item and when
# (Seat::run_id, first_seen_at, last_seen_at); removed_at is compared as present or not.
IGNORED = {"run_id", "first_seen_at", "last_seen_at"}


def seat_items(endpoint, table, profile):
    import boto3  # in the venv with moto
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))
    out = {}
    kwargs = {"TableName": table, "KeyConditionExpression": "pk = :pk",
              "ExpressionAttributeValues": {":pk": {"S": "SEATS#" + profile}}}
    for page in ddb.get_paginator("query").paginate(**kwargs):
        for item in page["Items"]:
            key = item.get("sk", {}).get("S") or json.dumps(item, sort_keys=True)
            norm = {k: v for k, v in item.items() if k not in IGNORED}
            if "removed_at" in norm:
                norm["removed_at"] = {"present": True}
            out[key] = norm
    return out


def compare(a):
    left = seat_items(a.endpoint, a.table_a, a.profile)
    right = seat_items(a.endpoint, a.table_b, a.profile)
    if not left:
        die("table %s has no seat items for profile %s" % (a.table_a, a.profile))
    diffs = []
    for key in sorted(set(left) | set(right)):
        l, r = left.get(key), right.get(key)
        if l is None or r is None:
            diffs.append("%s: only in %s" % (key, a.table_a if r is None else a.table_b))
        elif l != r:
            fields = sorted(k for k in set(l) | set(r) if l.get(k) != r.get(k))
            diffs.append("%s: %s" % (key, ", ".join("%s %s != %s" % (f, json.dumps(l.get(f)), json.dumps(r.get(f)))
                                                   for f in fields)))
    if diffs:
        print("SEATS DIFFER between %s and %s (%d of %d/%d items):" % (a.table_a, a.table_b, len(diffs), len(left), len(right)),
              file=sys.stderr)
        for d in diffs[:20]:
            print("  " + d[:400], file=sys.stderr)
        sys.exit(1)
    print("seats identical: %d items in %s and %s (ignoring %s; removed_at as present/absent)"
          % (len(left), a.table_a, a.table_b, ", ".join(sorted(IGNORED))))


COLUMNS = [
    ("size", "size"), ("latency ms", "latency"), ("mode", "mode"), ("sync", "sync"),
    ("invocations", "invocations"), ("provider calls", "provider_calls"), ("DDB reads", "ddb_reads"),
    ("DDB writes", "ddb_writes"), ("items written", "items_written"), ("wall s", "wall_s"),
    ("CPU s", "cpu_s"), ("peak RSS MB", "peak_rss_mb"), ("paging floor s", "paging_floor_s"),
    ("store floor s", "store_floor_s"), ("ratio", None),
]


def table(a):
    rows = [json.loads(l) for l in open(a.rows, encoding="utf-8") if l.strip()]
    lines = ["| " + " | ".join(c for c, _ in COLUMNS) + " |",
             "|" + "|".join("---" if k in ("mode", "sync") else "---:" for _, k in COLUMNS) + "|"]
    for r in rows:
        cells = []
        for _, k in COLUMNS:
            if k is None:
                if r["store_floor_s"] is None:
                    cells.append("–")  # the store floor was skipped
                    continue
                floor = max(r["paging_floor_s"], r["store_floor_s"])
                cells.append("%.2f" % (r["wall_s"] / floor) if floor > 0 else "n/a")
            elif r[k] is None:
                cells.append("–")
            elif isinstance(r[k], float):
                cells.append("%.2f" % r[k] if k != "peak_rss_mb" else "%.1f" % r[k])
            else:
                cells.append(str(r[k]))
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    for opt in ("provider", "profile", "mode", "sync", "table", "floor-table", "proxy", "moto",
                "sandbox", "bin-dir", "ddb-log", "store-floor"):
        m.add_argument("--" + opt, required=True)
    m.add_argument("--users", type=int, required=True)
    m.add_argument("--latency", type=int, required=True)
    m.add_argument("--invocation-secs", type=int, default=0)
    m.add_argument("--max-invocations", type=int, default=1000)
    m.add_argument("--store-floor-mode", choices=["run", "skip"], default="run")
    c = sub.add_parser("compare")
    for opt in ("endpoint", "table-a", "table-b", "profile"):
        c.add_argument("--" + opt, required=True)
    t = sub.add_parser("table")
    t.add_argument("--rows", required=True)
    t.add_argument("--out", required=True)
    a = ap.parse_args()
    {"measure": measure, "compare": compare, "table": table}[a.cmd](a)


if __name__ == "__main__":
    main()
