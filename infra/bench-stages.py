#!/usr/bin/env python3
"""Where a benchmarked sync's time went, from its DynamoDB request log.

    infra/bench-stages.py .local/bench-ddb-box-100000-150-long-re-sync.jsonl

`infra/bench-sync.sh` keeps every DynamoDB request of a sync (the count proxy's log: the time it
arrived, the operation, the body). Grouped by operation and partition (`SEATS`, `SEATINDEX`,
`CANDIDATES`, ...), the first and last request of each group show the sync's stages on one
clock: a gap with no request is time spent on the provider alone (the activity read), a burst of
seat writes is the roster, the filtered `Query SEATS` pages are Reclamation. docs/benchmarks.md
("Where the time goes") reads one.
"""
import json
import sys


def partition(key):
    pk = (key or {}).get("pk", {}).get("S", "?")
    return pk.split("#", 1)[0]


def group(target, body):
    op = target.rsplit(".", 1)[-1]
    if op == "Query":
        values = body.get("ExpressionAttributeValues", {})
        pk = values.get(":pk", {}).get("S", "?").split("#", 1)[0]
        return f"Query {pk}" + (" (filtered)" if "FilterExpression" in body else "")
    if op == "BatchWriteItem":
        requests = next(iter(body.get("RequestItems", {}).values()), [])
        first = next(iter(requests[0].values()), {}) if requests else {}
        return f"BatchWriteItem {partition(first.get('Item') or first.get('Key'))}"
    if op == "BatchGetItem":
        keys = next(iter(body.get("RequestItems", {}).values()), {}).get("Keys", [])
        return f"BatchGetItem {partition(keys[0] if keys else None)}"
    if op == "TransactWriteItems":
        return op
    return f"{op} {partition(body.get('Key') or body.get('Item'))}"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: infra/bench-stages.py BENCH-DDB-LOG.jsonl")
    groups = {}
    start = end = None
    with open(sys.argv[1]) as log:
        for n, line in enumerate(log, 1):
            try:
                row = json.loads(line)
                t, body = row["t"], json.loads(row["body"])
                name = group(row["target"], body)
            except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
                sys.exit(f"{sys.argv[1]}:{n}: not a request log line ({e})")
            start = t if start is None else start
            end = t
            g = groups.setdefault(name, [0, t, t])
            g[0] += 1
            g[2] = t
    if start is None:
        sys.exit(f"{sys.argv[1]}: no requests")
    print(f"{sum(g[0] for g in groups.values())} requests over {end - start:.1f} s")
    print(f"| {'requests':<32} | {'count':>6} | {'first s':>8} | {'last s':>8} |")
    print(f"|{'-' * 34}|{'-' * 7}:|{'-' * 9}:|{'-' * 9}:|")
    for name, (count, first, last) in sorted(groups.items(), key=lambda kv: kv[1][1]):
        print(f"| {name:<32} | {count:>6} | {first - start:>8.1f} | {last - start:>8.1f} |")


if __name__ == "__main__":
    main()
