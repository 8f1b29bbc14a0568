"""The clock that leases and resend stamps are written and judged by: the database's.

A lease is set by the worker that claims a submission and judged by the watchdog, often on
another machine; with each machine's own clock, a few seconds of skew could re-queue a live
attempt or keep a dead one. Every machine of a deployment shares the database, so its clock is
the one they agree on. SQLite is never shared by several machines: there it is this one's."""
from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone


def database_now() -> datetime:
    if connection.vendor == "sqlite":
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")  # CURRENT_TIMESTAMP stands still inside a transaction
        value = cursor.fetchone()[0]
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
