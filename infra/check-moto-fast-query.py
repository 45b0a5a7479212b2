#!/usr/bin/env python3
"""The moto launcher's fast Query path (SK_MOTO_FAST_QUERY=1, used by infra/bench-sync.sh for
500 000-seat tenants) answers with exactly moto's own pages: the same items, projections, counts
and LastEvaluatedKeys, page after page, over partitions cut by size (1 MB) and by Limit, with and
without a projection; backward queries must fall through to moto. In-process (moto's mock_aws).

    .venv/bin/python infra/check-moto-fast-query.py
"""
import importlib.util
import os
import random
import sys

import boto3
from moto import mock_aws

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("launcher", os.path.join(HERE, "moto-server.py"))
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)
from moto.dynamodb.models.table import Table
orig = Table.query
FAST = [0, 0]
def counting(self, *a, **k):
    FAST[0 if "all_items" in self.__dict__ else 1] += 1
    return orig(self, *a, **k)
launcher._query = counting

def pages(ddb, name, pk, limit, proj, forward=True):
    out, start = [], None
    while True:
        kw = dict(TableName=name, KeyConditionExpression="pk = :pk",
                  ExpressionAttributeValues={":pk": {"S": pk}}, ScanIndexForward=forward)
        if limit: kw["Limit"] = limit
        if proj: kw["ProjectionExpression"] = proj
        if start: kw["ExclusiveStartKey"] = start
        r = ddb.query(**kw)
        out.append((r["Items"], r["Count"], r["ScannedCount"], r.get("LastEvaluatedKey")))
        start = r.get("LastEvaluatedKey")
        if not start: return out

rng = random.Random(7)
with mock_aws():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    # P0 and P2 span several 1 MB pages; P1 is paged by Limit
    for p, n in enumerate([1500, 60, 900]):
        for i in range(n):
            ddb.put_item(TableName="t", Item={"pk": {"S": f"P{p}"}, "sk": {"S": f"SEAT#{rng.randrange(10**6)}"},
                "pad": {"S": "x" * rng.randrange(1, 3000)}, "n": {"N": str(i)}})
    cases, size_cut = 0, 0
    for pk in ["P0", "P1", "P2", "none"]:
        for limit in ([None, 1, 7, 250] if pk in ("P1", "none") else [None, 250]):
            for proj in [None, "sk, n"]:
                for forward in [True, False]:
                    Table.query = orig
                    want = pages(ddb, "t", pk, limit, proj, forward)
                    Table.query = launcher._fast_query
                    got = pages(ddb, "t", pk, limit, proj, forward)
                    assert got == want, (pk, limit, proj, forward)
                    if limit is None and len(want) > 1:
                        size_cut += 1
                    cases += 1
    assert FAST[0] > 0, FAST
    assert size_cut > 0, "no case was paged by the 1 MB limit"
    print(f"check-moto-fast-query: {cases} cases, the same pages; the fast path answered "
          f"{FAST[0]} pages, moto's own {FAST[1]} (backward queries)")
