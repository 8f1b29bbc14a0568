"""What the grading queue looks like now, for the staff's queue page and `grading_status`: for
each kind of run (scoring, diagnostics), how many wait and since when, which workers run them
with their oldest run and lease, and how the runs that ended in the last 24 hours ended (a
verdict, complete | partial, or the grader's own failure). Every number is an aggregation over
runs in the database: six queries, whatever the number of submissions.

Scoped to the courses the viewer TAs (everything for a superuser)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, QuerySet

from basin.clock import database_now
from basin.courses.access import is_course_staff, staff_course_ids
from basin.submissions.models import Run
from basin_grader.verdicts import SCORED

WINDOW = timedelta(hours=24)


def may_watch(user) -> bool:
    """Superusers, and the TAs of any course (who see their courses' submissions only)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or is_course_staff(user)


def watched(user) -> QuerySet[Run]:
    qs = Run.objects.all()
    if user.is_superuser:
        return qs
    # A subquery, not a list: the scope costs no query of its own.
    return qs.filter(submission__homework__course_id__in=staff_course_ids(user))


def _age(now: datetime, since: datetime | None) -> timedelta | None:
    return None if since is None else max(timedelta(0), now - since)


@dataclass(frozen=True)
class WorkerRow:
    worker: str
    running: int
    oldest_started_at: datetime | None
    oldest_age: timedelta | None
    lease_expires_at: datetime | None  # the earliest lease among its runs (the oldest run's: leases are fixed)
    lease_expired: bool  # the watchdog will queue it again: its worker is likely lost


@dataclass(frozen=True)
class Tally:
    key: str
    count: int


@dataclass(frozen=True)
class RunQueue:
    """One kind of run: the scoring runs, or the diagnostics runs."""
    waiting: int
    oldest_waiting_since: datetime | None  # when its run was queued (scoring: the upload or rescore;
    oldest_waiting_age: timedelta | None   # diagnostics: the end of its scoring)
    running: int
    workers: list[WorkerRow]
    outcomes_24h: list[Tally]  # of the runs that ended in the last 24 hours, by outcome, most first

    def outcome(self, key: str) -> int:
        return next((o.count for o in self.outcomes_24h if o.key == key), 0)

    @property
    def earliest_lease_expires_at(self) -> datetime | None:
        return min((w.lease_expires_at for w in self.workers if w.lease_expires_at), default=None)

    @property
    def lease_expired(self) -> bool:
        return any(w.lease_expired for w in self.workers)

    @property
    def scored_24h(self) -> int:
        return self.outcome(SCORED)

    @property
    def failures_24h(self) -> list[Tally]:
        """A scoring run's outcomes other than a score: the verdicts, and the grader's own failures."""
        return [o for o in self.outcomes_24h if o.key != SCORED]

    @property
    def failed_24h(self) -> int:
        return sum(f.count for f in self.failures_24h)


@dataclass(frozen=True)
class QueueState:
    now: datetime
    scoring: RunQueue
    diagnostics: RunQueue

    def holders(self) -> list[str]:
        """The Celery workers (name@host) holding a running run: each should answer when asked."""
        return sorted({w.worker for q in (self.scoring, self.diagnostics) for w in q.workers if "@" in w.worker})


def _queue(runs: QuerySet[Run], now: datetime) -> RunQueue:
    queued = runs.filter(state=Run.State.QUEUED).aggregate(n=Count("id"), oldest=Min("created_at"))
    workers = [WorkerRow(worker=w["worker"] or "(unknown)", running=w["n"], oldest_started_at=w["oldest"],
                         oldest_age=_age(now, w["oldest"]), lease_expires_at=w["lease"],
                         lease_expired=w["lease"] is not None and w["lease"] < now)
               for w in (runs.filter(state=Run.State.RUNNING).values("worker")
                         .annotate(n=Count("id"), oldest=Min("started_at"), lease=Min("lease_expires_at"))
                         .order_by("worker"))]
    ended = (runs.filter(state__in=[Run.State.FINISHED, Run.State.FAILED], finished_at__gte=now - WINDOW)
             .values("outcome").annotate(n=Count("id")).order_by())
    outcomes = sorted((Tally(row["outcome"] or "(none)", row["n"]) for row in ended), key=lambda o: (-o.count, o.key))
    return RunQueue(waiting=queued["n"], oldest_waiting_since=queued["oldest"],
                    oldest_waiting_age=_age(now, queued["oldest"]), running=sum(w.running for w in workers),
                    workers=workers, outcomes_24h=outcomes)


def queue_state(user, now: datetime | None = None) -> QueueState:
    now = now or database_now()  # the clock leases are written by (basin.clock)
    runs = watched(user)
    return QueueState(now=now, scoring=_queue(runs.filter(kind=Run.Kind.SCORE), now),
                      diagnostics=_queue(runs.filter(kind=Run.Kind.DIAGNOSE), now))
