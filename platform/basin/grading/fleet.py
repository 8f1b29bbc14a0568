"""The grading fleet as the broker sees it: which grading workers answer, and how many messages
wait in the broker, for the staff's queue page and `manage.py grading_status`. The database's view
of the queue is queue.py's; the web process's own health check is basin.health's.

Both ask the broker with short timeouts and never raise: a broker that is down is a result
("broker unreachable: ..."), not an exception, so a page or a healthcheck that calls them always
finishes. The broker is the one settings name (CELERY_BROKER_URL and its transport options), read
at each call.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from kombu import Connection, Consumer
from kombu.pidbox import Mailbox
from kombu.utils.uuid import uuid

from basin import dispatch
from basin.celery import app


@dataclass(frozen=True)
class WorkerStatus:
    name: str  # celery@host
    answered: bool
    queues: tuple[str, ...] = ()  # the queues it consumes, in its order
    active: int | None = None  # tasks it runs now (None: it did not say in time)


@dataclass(frozen=True)
class WorkerHealth:
    broker: str  # the broker's URL, password hidden
    workers: tuple[WorkerStatus, ...] = ()  # those that answered, then those expected that did not
    error: str | None = None  # "broker unreachable: ..." and the like; then nobody answered
    seconds: float = 0.0  # how long asking took

    @property
    def answering(self) -> list[WorkerStatus]:
        return [w for w in self.workers if w.answered]

    def consuming(self, queue: str) -> list[WorkerStatus]:
        return [w for w in self.answering if queue in w.queues]

    def worker(self, name: str) -> WorkerStatus | None:
        return next((w for w in self.workers if w.name == name), None)

    def verdict(self, queue: str = "scoring") -> tuple[bool, str]:
        """(healthy, a one-line reason): healthy when a worker answers and consumes `queue`."""
        if self.error:
            return False, self.error
        if not self.answering:
            return False, f"no worker answered ({self.broker})"
        takers = self.consuming(queue)
        if not takers:
            return False, (f"{len(self.answering)} worker(s) answered but none consumes the {queue!r} queue: "
                           + ", ".join(w.name for w in self.answering))
        return True, f"{len(takers)} of {len(self.answering)} answering worker(s) consume {queue!r}"


@dataclass(frozen=True)
class QueueDepth:
    broker: str
    depths: dict[str, int] | None  # messages waiting per queue; None when they cannot be counted
    reason: str | None = None  # why they cannot
    queues: tuple[str, ...] = ()  # those asked about

    @property
    def total(self) -> int | None:
        return None if self.depths is None else sum(self.depths.values())


def page_timeout() -> float:
    """How long the queue page waits for the broker and the workers: a short wait that still hears
    a live worker (on Redis replies take up to a second; the file broker's workers look for
    messages once a second, and the page's own wait is polled)."""
    return 1.5 if settings.CELERY_BROKER_URL.startswith("filesystem://") else 1.0


def known_queues() -> tuple[str, ...]:
    """Basin's queues, in the order a worker takes them (basin.dispatch): scoring, basin, diagnostics."""
    return dispatch.WORKER_QUEUES


def broker_label(url: str | None = None) -> str:
    """The broker's URL without its password (pages and logs show it)."""
    url = url or settings.CELERY_BROKER_URL
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc[-1]}"))


def _connection(timeout: float) -> Connection:
    """A connection to the configured broker that gives up within about `timeout` seconds: no
    reconnect loop (kombu would retry for ever), and socket timeouts on Redis."""
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}) | {"max_retries": 0}
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        # Replies are waited for with BRPOP, which blocks on the server for up to a second
        # (kombu's brpop_timeout): the socket waits longer than that, or a quiet second would read
        # as a dead broker. So asking all workers takes at least a second on Redis.
        options |= {"socket_connect_timeout": timeout, "socket_timeout": 1.0 + timeout}
    elif url.startswith("filesystem://"):
        options |= {"polling_interval": 0.05}  # this side's wait for replies; a worker's own stays 1 s
    return Connection(url, transport_options=options, connect_timeout=timeout)


def _connect(conn: Connection) -> str | None:
    """None once connected, else why not."""
    try:
        conn.ensure_connection(max_retries=0)  # 0: one try; 1 would sleep 2 s and try again
        conn.default_channel  # noqa: B018  (Redis connects when its first channel is made)
    except Exception as e:  # a health check reports what went wrong; it never raises it
        return f"broker unreachable: {_why(e)}"
    return None


def _why(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _mailbox(conn: Connection) -> Mailbox:
    """Celery's control mailbox (app.control.mailbox's settings), bound to this connection for
    publishing too: Celery's own publishes through the app's producer pool, whose connection
    retries for ever and knows nothing of these timeouts."""
    conf = app.conf
    return Mailbox(conf.control_exchange, type="fanout", accept=conf.accept_content, serializer=conf.task_serializer,
                   queue_ttl=conf.control_queue_ttl, reply_queue_ttl=conf.control_queue_ttl,
                   queue_expires=conf.control_queue_expires, queue_exclusive=conf.control_queue_exclusive,
                   queue_durable=conf.control_queue_durable, reply_queue_expires=conf.control_queue_expires)(conn)


def _ask(conn: Connection, commands: tuple[str, ...], timeout: float, destination: list[str] | None) -> dict:
    """{command: {worker: its reply}}. Every command is sent at once (a broadcast each, or only to
    `destination`) and their replies are read together until `timeout` has passed, or sooner once
    every worker in `destination` has answered every command: one round trip, not one per command
    (on the file broker a worker looks for messages once a second). A worker ignores a command it
    reads after `timeout` (its "expires" header)."""
    mailbox = _mailbox(conn)
    channel = conn.default_channel
    tickets = {uuid(): command for command in commands}
    replies: dict[str, dict] = {command: {} for command in commands}

    def on_reply(body, message):
        command = tickets.get(message.headers.get("ticket"))
        if command and isinstance(body, dict):
            replies[command].update(body)

    deadline = time.monotonic() + timeout
    for ticket, command in tickets.items():
        mailbox._publish(command, {}, destination=destination, reply_ticket=ticket, channel=channel, timeout=timeout)
    try:
        with Consumer(channel, [mailbox.reply_queue], accept=mailbox.accept, no_ack=True, callbacks=[on_reply]):
            while (left := deadline - time.monotonic()) > 0:
                if destination and all(len(r) >= len(destination) for r in replies.values()):
                    break
                try:
                    conn.drain_events(timeout=left)
                except TimeoutError:
                    break
    finally:
        channel.after_reply_message_received(mailbox.reply_queue.name)
    return replies


def _sweep_control_messages(older_than: float = 120.0) -> None:
    """The file broker keeps a stopped worker's control queue bound for ever, so every broadcast
    leaves it a message file that nobody reads. Control messages expire after their timeout
    (seconds; every broadcast sets one): any older than two minutes is garbage."""
    folder = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("data_folder_in", "data_in")
    suffix = f".{app.conf.control_exchange}.pidbox.msg"
    cutoff = time.time() - older_than
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if entry.name.endswith(suffix) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:  # taken by its worker meanwhile
                pass


def worker_health(timeout: float = 2.0, expected=(), destination: list[str] | None = None) -> WorkerHealth:
    """The workers that answer within `timeout` (all of them, or only those in `destination`): the
    queues each consumes and how many tasks it runs. Workers in `expected` that did not answer are
    listed as not answered (the queue page expects those that hold a running submission).

    Takes `timeout` seconds when asking everyone (nobody knows how many will answer), less with a
    destination: it stops when all have answered. Never raises.
    """
    started = time.monotonic()
    broker = broker_label()
    destination = list(dict.fromkeys(destination)) if destination else None
    expected = list(dict.fromkeys(name for name in [*expected, *(destination or [])] if name))

    def result(workers=(), error=None) -> WorkerHealth:
        workers = list(workers)
        seen = {w.name for w in workers}
        workers += [WorkerStatus(name, answered=False) for name in expected if name not in seen]
        return WorkerHealth(broker=broker, workers=tuple(workers), error=error,
                            seconds=round(time.monotonic() - started, 3))

    try:
        conn = _connection(timeout)
        error = _connect(conn)
    except Exception as e:  # a URL kombu cannot even make a connection of
        return result(error=f"broker unreachable: {_why(e)}")
    try:
        if error:
            return result(error=error)
        try:
            replies = _ask(conn, ("active_queues", "active"), timeout, destination)
            if settings.CELERY_BROKER_URL.startswith("filesystem://"):
                _sweep_control_messages()
        except Exception as e:  # the broker went away halfway, or answered nonsense
            return result(error=f"broker error: {_why(e)}")
    finally:
        try:
            conn.release()
        except Exception:
            pass
    queues, active = replies["active_queues"], replies["active"]
    return result(WorkerStatus(name, answered=True,
                               queues=tuple(q.get("name", "?") for q in queues.get(name) or ()),
                               active=len(active[name]) if isinstance(active.get(name), list) else None)
                  for name in sorted({*queues, *active}))


def queue_depth(queues=None, timeout: float = 2.0) -> QueueDepth:
    """Messages waiting in the broker, per queue (Basin's queues unless named). Messages a worker
    has taken but not yet acknowledged are not counted: they are running, not waiting."""
    queues = tuple(queues or known_queues())
    url = settings.CELERY_BROKER_URL
    broker = broker_label(url)
    scheme = urlsplit(url).scheme
    try:
        if scheme in ("redis", "rediss"):
            depths = _redis_depths(queues, timeout)
        elif scheme == "filesystem":
            depths = _filesystem_depths(queues)
        else:
            return QueueDepth(broker, None, f"queue depth is not counted on a {scheme!r} broker", queues)
    except _Unreachable as e:
        return QueueDepth(broker, None, str(e), queues)
    except Exception as e:
        return QueueDepth(broker, None, f"broker error: {_why(e)}", queues)
    return QueueDepth(broker, depths, None, queues)


class _Unreachable(Exception):
    pass


def _redis_depths(queues: tuple[str, ...], timeout: float) -> dict[str, int]:
    """kombu's Redis transport keeps a queue as one list per priority step: the queue's own name for
    step 0 and NAME + "\\x06\\x16" + STEP for the others (kombu.transport.redis.Channel._q_for_pri,
    PRIORITY_STEPS = [0, 3, 6, 9] unless the transport options say otherwise). A queue's depth is
    the sum of their lengths. The channel's client applies a global_keyprefix where one is set."""
    conn = _connection(timeout)
    try:
        error = _connect(conn)
        if error:
            raise _Unreachable(error)
        channel: Any = conn.default_channel  # kombu.transport.redis.Channel: sep, priority_steps, client
        keys = {queue: [queue if not step else f"{queue}{channel.sep}{step}"
                        for step in sorted(set(channel.priority_steps))] for queue in queues}
        with channel.client.pipeline() as pipe:
            for names in keys.values():
                for key in names:
                    pipe.llen(key)
            lengths = iter(pipe.execute())
        return {queue: sum(int(next(lengths)) for _ in names) for queue, names in keys.items()}
    finally:
        conn.release()


def _filesystem_depths(queues: tuple[str, ...]) -> dict[str, int]:
    """kombu's filesystem transport writes one file per message, named
    "<ms>_<uuid>.<queue>.msg", into data_folder_out and reads from data_folder_in (Basin: one folder)."""
    folder = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("data_folder_in", "data_in")
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise _Unreachable(f"broker unreachable: its folder {folder} cannot be read ({e.strerror})") from e
    depths = dict.fromkeys(queues, 0)
    for name in names:
        queue = name.partition(".")[2].removesuffix(".msg")
        if queue in depths and name.endswith(".msg"):
            depths[queue] += 1
    return depths
