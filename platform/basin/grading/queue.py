"""What the grading queue looks like now, for the staff's queue page: the scoring queue (depth,
oldest waiting, running per worker with its oldest run and lease, failures by verdict over the
last 24 hours) and the same for the diagnostics run. Every number is an aggregation in the
database: five queries, whatever the number of submissions.

Scoped to the courses the viewer TAs (everything for a superuser). The diagnostics run records
no worker name and no start time (only its lease), so its running runs are counted together.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet

from basin.clock import database_now
from basin.courses.access import is_course_staff, staff_course_ids
from basin.submissions.models import Submission

WINDOW = timedelta(hours=24)
ScoreStatus = Submission.Status  # the submission's scoring
DiagnosticsStatus = Submission.DiagnosticsStatus  # its diagnostics run


def may_watch(user) -> bool:
    """Superusers, and the TAs of any course (who see their courses' submissions only)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or is_course_staff(user)


def watched(user) -> QuerySet[Submission]:
    qs = Submission.objects.all()
    if user.is_superuser:
        return qs
    # A subquery, not a list: the scope costs no query of its own.
    return qs.filter(homework__course_id__in=staff_course_ids(user))


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
class ScoringQueue:
    waiting: int
    oldest_waiting_since: datetime | None  # when it was received (a rescored one: its upload)
    oldest_waiting_age: timedelta | None
    running: int
    workers: list[WorkerRow]
    scored_24h: int
    failures_24h: list[Tally]  # by verdict, most first

    @property
    def failed_24h(self) -> int:
        return sum(f.count for f in self.failures_24h)


@dataclass(frozen=True)
class DiagnosticsQueue:
    waiting: int
    oldest_waiting_since: datetime | None  # its score's finish: diagnostics are queued when scoring ends
    oldest_waiting_age: timedelta | None
    running: int
    earliest_lease_expires_at: datetime | None
    lease_expired: bool
    outcomes_24h: list[Tally] = field(default_factory=list)  # complete / partial / failed, of those scored in 24 h

    def outcome(self, key: str) -> int:
        return next((o.count for o in self.outcomes_24h if o.key == key), 0)


@dataclass(frozen=True)
class QueueState:
    now: datetime
    scoring: ScoringQueue
    diagnostics: DiagnosticsQueue


def _scoring(qs: QuerySet[Submission], now: datetime) -> ScoringQueue:
    queued = qs.filter(status=ScoreStatus.QUEUED).aggregate(n=Count("id"), oldest=Min("created_at"))
    workers = [WorkerRow(worker=w["worker"] or "(unknown)", running=w["n"], oldest_started_at=w["oldest"],
                         oldest_age=_age(now, w["oldest"]), lease_expires_at=w["lease"],
                         lease_expired=w["lease"] is not None and w["lease"] < now)
               for w in (qs.filter(status=ScoreStatus.RUNNING).values("worker")
                         .annotate(n=Count("id"), oldest=Min("started_at"), lease=Min("lease_expires_at"))
                         .order_by("worker"))]
    finished = (qs.filter(status__in=[ScoreStatus.SCORED, ScoreStatus.FAILED], finished_at__gte=now - WINDOW)
                .values("status", "verdict").annotate(n=Count("id")).order_by())
    scored, failures = 0, []
    for row in finished:
        if row["status"] == ScoreStatus.SCORED:
            scored += row["n"]
        else:
            failures.append(Tally(row["verdict"] or "(none)", row["n"]))
    return ScoringQueue(waiting=queued["n"], oldest_waiting_since=queued["oldest"],
                        oldest_waiting_age=_age(now, queued["oldest"]), running=sum(w.running for w in workers),
                        workers=workers, scored_24h=scored,
                        failures_24h=sorted(failures, key=lambda f: (-f.count, f.key)))


def _diagnostics(qs: QuerySet[Submission], now: datetime) -> DiagnosticsQueue:
    waiting, running = Q(diagnostics_status=DiagnosticsStatus.QUEUED), Q(diagnostics_status=DiagnosticsStatus.RUNNING)
    live = qs.filter(waiting | running).aggregate(
        waiting=Count("id", filter=waiting), oldest=Min("finished_at", filter=waiting),
        running=Count("id", filter=running), lease=Min("diagnostics_lease_expires_at", filter=running))
    finished_states = [DiagnosticsStatus.COMPLETE, DiagnosticsStatus.PARTIAL, DiagnosticsStatus.FAILED]
    done = (qs.filter(diagnostics_status__in=finished_states, finished_at__gte=now - WINDOW)
            .values("diagnostics_status").annotate(n=Count("id")).order_by())
    order: list[str] = list(finished_states)
    outcomes = sorted((Tally(row["diagnostics_status"], row["n"]) for row in done), key=lambda o: order.index(o.key))
    return DiagnosticsQueue(waiting=live["waiting"], oldest_waiting_since=live["oldest"],
                            oldest_waiting_age=_age(now, live["oldest"]), running=live["running"],
                            earliest_lease_expires_at=live["lease"],
                            lease_expired=live["lease"] is not None and live["lease"] < now,
                            outcomes_24h=outcomes)


def queue_state(user, now: datetime | None = None) -> QueueState:
    now = now or database_now()  # the clock leases are written by (basin.clock)
    qs = watched(user)
    return QueueState(now=now, scoring=_scoring(qs, now), diagnostics=_diagnostics(qs, now))
