#!/usr/bin/env python3
"""The moto launcher's fast Query path (SK_MOTO_FAST_QUERY=1, used by infra/bench-sync.sh for
500 000-seat tenants) answers with exactly moto's own pages: the same items, projections, counts
and LastEvaluatedKeys, page after page, over partitions cut by size (1 MB) and by Limit, with and
without a projection; backward queries must fall through to moto. In-process (moto's mock_aws).

The fast path sorts a partition's keys once and keeps that order as items are written. Under
writes between pages and between whole reads (new items behind and ahead of the start key,
overwrites that change an item's size, deletes of the start key's item and of items ahead, failed
conditional puts and deletes, BatchWriteItem, TransactWriteItems that succeed and that roll back,
UpdateItem that creates an item, PartiQL, a table restored from a backup), every page must equal
moto's own page on the same state and start key, every forward page must come from the fast path,
and no partition may be sorted twice (a kept order that went wrong would be re-sorted, or answered
by moto, and would slip past the page comparison).

    .venv/bin/python infra/check-moto-fast-query.py
"""
import bisect
import importlib.util
import itertools
import os
import random
import sys

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("launcher", os.path.join(HERE, "moto-server.py"))
launcher = importlib.util.module_from_spec(spec)
os.environ["SK_MOTO_FAST_QUERY"] = "1"  # the launcher patches Table.query, put_item, delete_item
spec.loader.exec_module(launcher)
from moto.dynamodb.models.table import Table
orig = launcher._query  # moto's own Table.query
FAST = [0, 0]
def counting(self, *a, **k):
    FAST[0 if "all_items" in self.__dict__ else 1] += 1
    return orig(self, *a, **k)
launcher._query = counting
SORTED = []  # every partition the fast path sorted
sorted_keys = launcher._sorted_keys
def counting_sort(part):
    SORTED.append(part)
    return sorted_keys(part)
launcher._sorted_keys = counting_sort

def page(ddb, name, pk, limit, proj, forward=True, start=None):
    kw = dict(TableName=name, KeyConditionExpression="pk = :pk",
              ExpressionAttributeValues={":pk": {"S": pk}}, ScanIndexForward=forward)
    if limit: kw["Limit"] = limit
    if proj: kw["ProjectionExpression"] = proj
    if start: kw["ExclusiveStartKey"] = start
    r = ddb.query(**kw)
    return (r["Items"], r["Count"], r["ScannedCount"], r.get("LastEvaluatedKey"))

def pages(ddb, name, pk, limit, proj, forward=True):
    out, start = [], None
    while True:
        out.append(page(ddb, name, pk, limit, proj, forward, start))
        start = out[-1][3]
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
    assert len(SORTED) == 3, f"P0, P1, P2 sorted {len(SORTED)} times, not once each"
    print(f"check-moto-fast-query: {cases} cases, the same pages; the fast path answered "
          f"{FAST[0]} pages, moto's own {FAST[1]} (backward queries)")

    # --- the kept order under writes -------------------------------------------------------
    def table(name):  # looked up anew: a rolled-back transaction replaces the table object
        return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[name]

    def keys_of(name, pk):  # the partition's sort keys as moto holds them, sorted here
        return sorted(k.value for k in table(name).items.get(DynamoType({"S": pk}), {}))

    serial = itertools.count()
    def seat(pk, sk):  # a new size every time: overwrites change the item's size
        return {"pk": {"S": pk}, "sk": {"S": sk}, "pad": {"S": "x" * rng.randrange(1, 5000)},
                "n": {"N": str(next(serial))}}

    def new_key(name, pk, taken=()):
        while True:
            k = f"SEAT#{rng.randrange(10**6)}"
            if k not in taken and k not in keys_of(name, pk):
                return k

    def key(pk, sk):
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def fails(code, call, **kw):
        try:
            call(**kw)
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, e.response["Error"]
            return
        raise AssertionError(f"{call.__name__} did not fail")

    WROTE = dict.fromkeys(["new behind", "new ahead", "overwrite", "delete start key",
                           "delete ahead", "failed put", "failed delete", "batch", "transaction",
                           "rolled back", "update creates", "partiql"], 0)

    def churn(name, pk, cur, heavy=True):
        """Every kind of write to partition pk, around cur (the next page's start key, or None).
        Not heavy: no transactions or PartiQL, which copy or read every item of the tables."""
        ks = keys_of(name, pk)
        # new items: one right before and one right after the start key, others anywhere
        news = [new_key(name, pk) for _ in range(3)] + ([cur[:-1], cur + "0"] if cur else [])
        for k in news:
            WROTE["overwrite" if k in ks else "new behind" if cur and k <= cur else "new ahead"] += 1
            ddb.put_item(TableName=name, Item=seat(pk, k))
        # overwrites, behind and ahead, each with another size
        ks = keys_of(name, pk)
        at = bisect.bisect_right(ks, cur) if cur else 0
        for k in set(rng.sample(ks[:at], min(2, at)) + ks[at:at + 2] + rng.sample(ks, min(2, len(ks)))):
            ddb.put_item(TableName=name, Item=seat(pk, k))
            WROTE["overwrite"] += 1
        # deletes: the start key's own item (on about half the pages) and items ahead
        if cur and cur in ks and rng.random() < 0.5:
            ddb.delete_item(TableName=name, Key=key(pk, cur))
            WROTE["delete start key"] += 1
        for k in set(ks[at + 1:at + 3] + rng.sample(ks[at:], min(1, len(ks) - at))):
            if k != cur:
                ddb.delete_item(TableName=name, Key=key(pk, k))
                WROTE["delete ahead"] += 1
        ks = keys_of(name, pk)
        if len(ks) < 4:
            return
        # failed conditional puts (of an item there, of one not there) and delete change nothing
        k = rng.choice(ks)
        fails("ConditionalCheckFailedException", ddb.put_item, TableName=name, Item=seat(pk, k),
              ConditionExpression="attribute_not_exists(sk)")
        fails("ConditionalCheckFailedException", ddb.put_item, TableName=name,
              Item=seat(pk, new_key(name, pk)), ConditionExpression="attribute_exists(sk)")
        fails("ConditionalCheckFailedException", ddb.delete_item, TableName=name, Key=key(pk, k),
              ConditionExpression="attribute_not_exists(sk)")
        WROTE["failed put"] += 1
        WROTE["failed delete"] += 1
        # BatchWriteItem: two new, one overwrite, two deletes (one of a key that is not there)
        old = rng.sample(ks, 2)
        fresh = [new_key(name, pk)]
        fresh.append(new_key(name, pk, fresh))
        gone = new_key(name, pk, fresh)
        ddb.batch_write_item(RequestItems={name: [
            {"PutRequest": {"Item": seat(pk, fresh[0])}}, {"PutRequest": {"Item": seat(pk, fresh[1])}},
            {"PutRequest": {"Item": seat(pk, old[0])}}, {"DeleteRequest": {"Key": key(pk, old[1])}},
            {"DeleteRequest": {"Key": key(pk, gone)}}]})
        WROTE["batch"] += 1
        if not heavy:
            return
        # TransactWriteItems: a put, a delete, an update of an item and one that creates an item
        ks = keys_of(name, pk)
        old = rng.sample(ks, 2)
        fresh = [new_key(name, pk)]
        fresh.append(new_key(name, pk, fresh))
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": seat(pk, fresh[0])}},
            {"Delete": {"TableName": name, "Key": key(pk, old[0])}},
            {"Update": {"TableName": name, "Key": key(pk, old[1]), "UpdateExpression": "SET #p = :p",
                        "ExpressionAttributeNames": {"#p": "pad"},
                        "ExpressionAttributeValues": {":p": {"S": "y" * rng.randrange(1, 3000)}}}},
            {"Update": {"TableName": name, "Key": key(pk, fresh[1]), "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": str(next(serial))}}}}])
        WROTE["transaction"] += 1
        # one that fails on its last item: moto has written the others, then puts back a copy
        # of the table taken before the transaction (the kept order must come back with it)
        ks = keys_of(name, pk)
        old = rng.sample(ks, 2)
        before = table(name)
        fails("TransactionCanceledException", ddb.transact_write_items, TransactItems=[
            {"Put": {"TableName": name, "Item": seat(pk, new_key(name, pk))}},
            {"Delete": {"TableName": name, "Key": key(pk, old[0])}},
            {"ConditionCheck": {"TableName": name, "Key": key(pk, old[1]),
                                "ConditionExpression": "attribute_not_exists(sk)"}}])
        assert table(name) is not before and keys_of(name, pk) == ks, "no rollback"
        WROTE["rolled back"] += 1
        # UpdateItem that creates an item, and one that changes an item's size
        ddb.update_item(TableName=name, Key=key(pk, new_key(name, pk)), UpdateExpression="SET n = :n",
                        ExpressionAttributeValues={":n": {"N": str(next(serial))}})
        ddb.update_item(TableName=name, Key=key(pk, rng.choice(ks)), UpdateExpression="SET #p = :p",
                        ExpressionAttributeNames={"#p": "pad"},
                        ExpressionAttributeValues={":p": {"S": "z" * rng.randrange(1, 3000)}})
        WROTE["update creates"] += 1
        if rng.random() < 0.7:
            return
        # PartiQL: an insert and a delete
        ddb.execute_statement(Statement=f"INSERT INTO {name} VALUE "
                              f"{{'pk': '{pk}', 'sk': '{new_key(name, pk)}', 'n': {next(serial)}}}")
        ddb.execute_statement(Statement=f"DELETE FROM {name} WHERE pk = '{pk}' AND "
                              f"sk = '{rng.choice(keys_of(name, pk))}'")
        WROTE["partiql"] += 1

    PAGES = [0, 0]  # pages compared, of them cut by 1 MB
    READ = set()  # the (table, partition)s read: each must be sorted once, on its first page
    def read(name, pk, limit, proj, between):
        """A paged read, each page compared with moto's own page on the same state and start
        key; between(start key) writes before the next page."""
        start = None
        READ.add((name, pk))
        for _ in range(1000):
            Table.query = orig
            want = page(ddb, name, pk, limit, proj, start=start)
            Table.query = launcher._fast_query
            fast = FAST[0]
            got = page(ddb, name, pk, limit, proj, start=start)
            assert FAST[0] == fast + 1, ("a forward page fell through to moto", name, pk, limit)
            assert got == want, (name, pk, limit, proj, start)
            PAGES[0] += 1
            PAGES[1] += limit is None and want[3] is not None
            start = want[3]
            if not start:
                return
            between(start["sk"]["S"])
        raise AssertionError("the read did not end")

    SORTED.clear()  # the 48 cases' sorts are counted above
    ddb.create_table(TableName="w", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    for pk, n in [("A", 450), ("B", 40), ("C", 12)]:
        for _ in range(n):
            ddb.put_item(TableName="w", Item=seat(pk, new_key("w", pk)))
    reads = 0
    # A spans 1 MB pages; between its pages B is written too
    for name, pk, limit, proj, other in [("w", "A", 40, None, "B"), ("w", "A", None, None, "B"),
                                         ("w", "B", 3, "sk, n", "A"), ("w", "A", None, "sk, n", "C"),
                                         ("w", "C", 2, None, "A")]:
        read(name, pk, limit, proj,
             lambda cur: (churn(name, pk, cur), churn(name, other, None, heavy=False)))
        churn(name, pk, None)  # between whole reads
        reads += 1
    # an emptied partition reads as empty, then fills again
    for k in keys_of("w", "C"):
        ddb.delete_item(TableName="w", Key=key("C", k))
    read("w", "C", None, None, lambda cur: None)
    churn("w", "C", None)
    read("w", "C", 2, None, lambda cur: churn("w", "C", cur))
    reads += 2
    # a table restored from a backup: its own items, no order from the source
    arn = ddb.create_backup(TableName="w", BackupName="bak")["BackupDetails"]["BackupArn"]
    ddb.restore_table_from_backup(TargetTableName="w_restored", BackupArn=arn)
    read("w_restored", "A", 60, None, lambda cur: (churn("w_restored", "A", cur), churn("w", "A", cur)))
    read("w", "A", 60, None, lambda cur: churn("w_restored", "A", cur))
    reads += 2
    assert all(WROTE.values()), WROTE
    assert PAGES[1] > 0, "no page under writes was cut by 1 MB"
    assert len(SORTED) == len(READ), f"{len(READ)} partitions sorted {len(SORTED)} times"
    print(f"check-moto-fast-query: under writes, {reads} reads, {PAGES[0]} pages ({PAGES[1]} cut by "
          f"1 MB) the same as moto's; {len(SORTED)} partitions sorted once each; writes: "
          + ", ".join(f"{n} {k}" for k, n in WROTE.items()))
