"""Structured logs. BASIN_LOG_FORMAT=json makes every log line of the web process and of the Celery
worker one JSON object: time, level, logger, message, the exception's text where there is one, and
request_id / submission_id / run_id / task_id / task_name where the line has them (settings.LOGGING; the
worker applies the same config, see basin/celery.py). BASIN_LOG_FORMAT=text (the default) keeps
the plain lines.

Where the ids come from:
- web: RequestIdMiddleware gives each request an id (a proxy's X-Request-ID when it sends a sane
  one), sends it back in the X-Request-ID header, and sets it, with the URL's submission_id where
  the route has one, for every line the request logs;
- worker: the task being run (Celery's current_task): its id and name, and its run_id argument
  where it takes one (the scoring and diagnostics tasks do); the submission_id of the run it
  claimed, for the lines logged while it runs it (`about_submission`).
A caller's own extra={"submission_id": ...} wins over both.
"""
from __future__ import annotations

import inspect
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

_request_id: ContextVar[str | None] = ContextVar("basin_request_id", default=None)
_submission_id: ContextVar[int | None] = ContextVar("basin_submission_id", default=None)
# An id a proxy or a client may send: short, and nothing that could forge a log line.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter with Basin's field names, the time first (UTC, ISO 8601)."""

    def __init__(self):
        super().__init__(["levelname", "name", "message"],
                         rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception",
                                        "stack_info": "stack"},
                         # django.request passes the request object, django.server the socket and
                         # a time: context, not fields (request_id stands for the request).
                         reserved_attrs=[*RESERVED_ATTRS, "request", "server_time", "taskName"])

    def add_fields(self, log_data, record, message_dict):
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)


@contextmanager
def about_submission(submission_id: int) -> Iterator[None]:
    """Lines logged inside carry this submission_id (a worker, while it runs one of its runs)."""
    token = _submission_id.set(submission_id)
    try:
        yield
    finally:
        _submission_id.reset(token)


class ContextFilter(logging.Filter):
    """Adds request_id, submission_id, run_id, task_id and task_name to a record where they are known."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = {"request_id": _request_id.get(), "submission_id": _submission_id.get()}
        request = getattr(record, "request", None)  # django.request's lines come after the middleware is done
        if request is not None and fields["request_id"] is None:
            fields["request_id"] = getattr(request, "request_id", None)
            match = getattr(request, "resolver_match", None)
            fields["submission_id"] = match.kwargs.get("submission_id") if match else None
        fields |= _task_fields()
        for key, value in fields.items():
            if value is not None and not hasattr(record, key):
                setattr(record, key, value)
        return True


class IndexMissFilter(logging.Filter):
    """Drops the "Not Found" lines of /simple/<other project>/: pip asks every index for every
    dependency, so each student's install would log a dozen of them (basin.toolkit)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        args = record.args if record.name == "django.server" and isinstance(record.args, tuple) else ()
        path = getattr(request, "path", None) or (args[0] if args and isinstance(args[0], str) else "")
        return not (getattr(record, "status_code", None) == 404 and " /simple/" in f" {path}")


def _task_fields() -> dict:
    from celery import current_task

    task = current_task._get_current_object()  # the task this process runs now, or None
    request = getattr(task, "request", None)
    if request is None or not getattr(request, "id", None):
        return {}
    return {"task_id": request.id, "task_name": task.name, "run_id": _run_argument(task, request.args, request.kwargs)}


_positions: dict[str, int | None] = {}


def _run_argument(task, args, kwargs):
    if kwargs and "run_id" in kwargs:
        return kwargs["run_id"]
    if task.name not in _positions:  # where the task's run_id parameter sits, if it has one
        try:
            parameters = list(inspect.signature(task.run).parameters)
        except (TypeError, ValueError):
            parameters = []
        _positions[task.name] = parameters.index("run_id") if "run_id" in parameters else None
    position = _positions[task.name]
    if position is not None and args and len(args) > position:
        return args[position]
    return None


class RequestIdMiddleware:
    """Gives each request an id, logged with every line the request causes and sent back in the
    response's X-Request-ID header (a support question can quote it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        request_token, submission_token = _request_id.set(request.request_id), _submission_id.set(None)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(request_token)
            _submission_id.reset(submission_token)
        response["X-Request-ID"] = request.request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if "submission_id" in view_kwargs:
            _submission_id.set(view_kwargs["submission_id"])
        return None
