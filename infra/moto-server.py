#!/usr/bin/env python3
"""moto server (the pinned PyPI `moto[server]`, unchanged) with its DynamoDB requests served one
at a time.

    moto-server.py -H 127.0.0.1 -p PORT        (the same arguments as `moto_server`)

Why: moto's DynamoDB backend is not thread-safe, and moto server answers each request on its own
thread. A table keeps its items in a `defaultdict(dict)` per partition key whose keys hash in
Python code (`DynamoType.__hash__`), so the GIL can switch threads between a lookup that misses
and the insert of the new partition. Two requests that touch a new partition at once (a first
sync writes its new seats in BatchWriteItem batches, 4 in flight) can each create it; the later one
replaces the other's,
and the items written into it in between are gone while their requests were answered 200. CI saw it
as a first sync missing its first 5 (Box) or 18 (Dropbox) seats. Real DynamoDB never loses an
acknowledged write, so the tests must not run against a store that does.

moto never ran requests' Python in parallel (the GIL), only interleaved; what serialising costs the
tests was not measured apart (fresh-clone CI runs with it took 998-2 000 s, against 1 486-2 641 s
before). Only DynamoDB and moto's own API (`/moto-api/`, whose data dump iterates the tables) take
the lock; SQS stays concurrent because a long poll waits inside its request.
"""

import bisect
import os
import threading

import moto.server as server
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

_LOCK = threading.Lock()
_run_simple = server.run_simple


def _serialised(app):
    def wsgi(environ, start_response):
        dynamodb = environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB")
        if dynamodb or environ.get("PATH_INFO", "").startswith("/moto-api"):
            with _LOCK:
                # the whole body inside the lock: moto builds it while iterating the backend
                body = app(environ, start_response)
                try:
                    return list(body)
                finally:
                    close = getattr(body, "close", None)
                    if close is not None:
                        close()
        return app(environ, start_response)

    return wsgi


class _NotPlain(Exception):
    """A query the fast path does not cover: moto's own query answers it."""


# A table's __dict__ entry {hash key: (its partition dict, the partition's sort keys in order)}.
# In the table itself, so the copy TransactWriteItems takes to roll back to (or a backup) copies
# the order with the items it belongs to; a restored table gets new items and no order.
_ORDERS = "_sk_fast_query_orders"


def _string(key):
    if key is None or key.type != "S":
        raise _NotPlain
    return key.value


def _sorted_keys(part):  # a function of its own: infra/check-moto-fast-query.py counts the sorts
    return sorted(map(_string, part))


def _order(table, hash_key):
    """The partition and its sort keys in order: sorted on its first page, then kept by the
    put/delete wrappers below. Sorted anew if the table holds another dict for the partition or
    another number of items than the order (a write that did not pass the wrappers)."""
    part = table.items.get(hash_key)  # .get: reading must not create the partition
    if part is None:
        return {}, []
    orders = table.__dict__.setdefault(_ORDERS, {})
    kept = orders.get(hash_key)
    if kept is None or kept[0] is not part or len(kept[1]) != len(part):
        kept = orders[hash_key] = (part, _sorted_keys(part))
    return kept


def _kept(table, hash_key):
    """The order kept for the partition as the table holds it now, or None."""
    kept = table.__dict__.get(_ORDERS, {}).get(hash_key)
    return kept[1] if kept is not None and kept[0] is table.items.get(hash_key) else None


def _put_item(self, *args, **kwargs):
    item = _put(self, *args, **kwargs)  # a failed condition raises here, before the order changes
    keys = _kept(self, item.hash_key)
    if keys is not None:
        i = bisect.bisect_left(keys, item.range_key.value)
        if keys[i:i + 1] != [item.range_key.value]:  # a new key (an overwrite keeps the order)
            keys.insert(i, item.range_key.value)
    return item


def _delete_item(self, hash_key, range_key):
    item = _delete(self, hash_key, range_key)  # None: there was no such item
    keys = _kept(self, hash_key) if item is not None else None
    if keys is not None:
        i = bisect.bisect_left(keys, item.range_key.value)
        if keys[i:i + 1] == [item.range_key.value]:
            del keys[i]
    return item


def _fast_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                scan_index_forward, projection_expressions, index_name=None, *args, **kwargs):
    """moto's `Table.query`, handed only the items its page can reach.

    moto sorts every item of the table for every page, then walks from the first one to the
    page's start key: a full read of a 500 000-seat partition takes hours. For a plain forward
    query on a table's string sort key (the only kind a sync's seat reads make), this gives moto
    the partition's items after the start key, up to and including the one where moto stops the
    page, with no start key; moto's own code then builds the same page, count and
    LastEvaluatedKey. Anything else goes to moto unchanged. The partition's order is sorted once
    and kept as items are written (`_order`): sorting 500 000 keys on every page cost a large share
    of each page.
    """
    plain = (
        index_name is None
        and self.range_key_attr
        and self.range_key_type == "S"
        and hash_key is not None
        and not range_comparison
        and scan_index_forward is not False
        and not kwargs.get("range_key_conditions")
        and set(kwargs) <= {"hash_key_conditions", "range_key_conditions"}  # no QueryFilter
    )
    if plain:
        try:
            part, keys = _order(self, hash_key)
            first = 0
            if exclusive_start_key is not None:
                start = DynamoType(exclusive_start_key[self.range_key_attr])
                if start.type != "S":
                    raise _NotPlain
                first = bisect.bisect_right(keys, start.value)
            # moto stops before the item that would pass the limit or 1 MB: hand it that item too
            page, size = [], 0
            for i in range(first, len(keys)):
                row = part.get(DynamoType({"S": keys[i]}))  # by key: the item as written last
                if row is None:  # the order is wrong after all: moto answers, the next page sorts
                    del self.__dict__[_ORDERS][hash_key]
                    raise _NotPlain
                page.append(row)
                size += row.size()
                if (limit is not None and len(page) > limit) or size > RESULT_SIZE_LIMIT:
                    break
        except (_NotPlain, KeyError):
            plain = False
    if not plain:
        return _query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                      scan_index_forward, projection_expressions, index_name, *args, **kwargs)
    self.all_items = lambda: page  # under the lock: no other request sees this table now
    try:
        return _query(self, hash_key, range_comparison, range_objs, limit, None,
                      scan_index_forward, projection_expressions, index_name, *args, **kwargs)
    finally:
        del self.all_items


def _run_simple_serialised(host, port, app, **kwargs):
    _run_simple(host, port, _serialised(app), **kwargs)


server.run_simple = _run_simple_serialised
if os.environ.get("SK_MOTO_FAST_QUERY") == "1":
    _query, _put, _delete = Table.query, Table.put_item, Table.delete_item
    Table.query, Table.put_item, Table.delete_item = _fast_query, _put_item, _delete_item
    print("moto-server.py: SK_MOTO_FAST_QUERY=1: plain Query pages read from their partition", flush=True)

if __name__ == "__main__":
    server.main()
