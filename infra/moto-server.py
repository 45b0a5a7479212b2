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

import threading

import moto.server as server

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


def _run_simple_serialised(host, port, app, **kwargs):
    _run_simple(host, port, _serialised(app), **kwargs)


server.run_simple = _run_simple_serialised

if __name__ == "__main__":
    server.main()
