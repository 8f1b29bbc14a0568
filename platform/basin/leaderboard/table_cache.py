"""The leaderboard's table, cached and served stale while one request renders it again.

A board of hundreds of rows takes ~100 ms to build under load. With a plain expiring cache every
request that arrives after expiry builds it at once, and all viewers stall together; here the
first request past `fresh_seconds` takes a lock and rebuilds, and the rest keep the previous
table until it is replaced (a new score shows within fresh_seconds plus one build)."""
from __future__ import annotations

import time
from collections.abc import Callable

from django.core.cache import cache

KEEP_SECONDS = 600  # a stale table is served at most this long after it was made
LOCK_SECONDS = 60  # a rebuild that crashed releases its lock after this


def fresh_or_stale(key: str, fresh_seconds: int, build: Callable[[], str]) -> str:
    if fresh_seconds <= 0:
        return build()
    entry = cache.get(key)
    if entry is not None:
        html, made_at = entry
        if time.time() - made_at < fresh_seconds or not cache.add(f"{key}:rebuild", 1, timeout=LOCK_SECONDS):
            return html  # fresh, or another request is rebuilding it
    made_at = time.time()
    html = build()
    cache.set(key, (html, made_at), timeout=max(KEEP_SECONDS, 2 * fresh_seconds))
    cache.delete(f"{key}:rebuild")
    return html
