"""One application error type, mapped to one JSON error shape for every API response:

    {"error": {"code": "quota_exceeded", "message": "a sentence that says what to do", "details": {...}}}
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

# Every code an ApplicationError carries, with the one HTTP status it always answers with. A client
# (the `basin` command, homework.js) may act on the code; the status follows from it.
CATALOGUE: dict[str, int] = {
    # 400: the request itself is wrong; the message says how to fix it
    "bad_mnist_dir": 400, "confirmation_expired": 400, "confirmation_invalid": 400, "confirmation_outdated": 400,
    "dataset_exists": 400, "dataset_without_hidden_seed": 400, "email_not_ascii": 400, "empty_file": 400,
    "empty_roster": 400, "homework_has_submissions": 400, "invalid_deadline": 400,
    "invalid_diagnostics_budget": 400, "invalid_late_until": 400, "invalid_request": 400, "invalid_roster": 400,
    "invalid_submission": 400, "missing_join_code": 400, "no_email": 400, "no_such_dataset": 400,
    "not_scored": 400, "roster_not_utf8": 400, "time_limit_too_long": 400, "too_many_selected": 400,
    "unknown_dataset": 400,
    # 401, 403: who is asking may not do this
    "invalid_credentials": 401,
    "confirmation_for_another_account": 403, "deadline_passed": 403, "hidden_split": 403,
    "not_course_staff": 403, "not_enrolled": 403, "not_open": 403, "revealed": 403,
    "not_revealed": 403,  # the private part: nobody's until the reveal
    # 404: nothing of that name that this viewer may see
    "no_such_file": 404, "no_such_submission": 404, "unknown_join_code": 404,
    # 409: the thing is not in a state that allows it (yet, or any more)
    "already_baseline": 409, "duplicate_submission": 409, "grades_not_final": 409, "homework_exists": 409,
    "not_cancellable": 409,
    "roster_conflict": 409, "still_open": 409, "username_taken": 409,
    # 413, 429, 503: too big, too often, or a service Basin needs is down
    "file_too_large": 413, "roster_too_large": 413,
    "quota_exceeded": 429, "too_many_emails": 429, "total_quota_exceeded": 429,
    "email_not_sent": 503,
}


class ApplicationError(Exception):
    """A rule of Basin's that a request broke. Services raise it; the API maps it, with the status
    its code has in CATALOGUE."""

    def __init__(self, code: str, message: str, *, details: dict | None = None):
        if code not in CATALOGUE:
            raise ValueError(f"unknown error code {code!r}: add it to basin.errors.CATALOGUE with its HTTP status")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status_code = CATALOGUE[code]


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


# A token that was valid once: basin.accounts.authentication says why it no longer is.
TOKEN_REFUSALS = ("token_expired", "token_revoked")


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, Http404):  # keep the view's own sentence ("No such submission."), not DRF's default
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling (logged, no traceback to the client)
    if isinstance(exc, exceptions.ValidationError):
        code, message, details = "invalid_request", "Some fields are missing or invalid.", exc.detail
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        view = context.get("view")
        takes = sorted({p.media_type for p in getattr(view, "parser_classes", [])}) or ["another type"]
        code = "unsupported_media_type"
        message = f"This endpoint takes {' or '.join(takes)}; send the request in that form."
        details = {"accepted": takes}
    elif isinstance(exc, exceptions.AuthenticationFailed) and exc.get_codes() in TOKEN_REFUSALS:
        code, message, details = exc.get_codes(), str(exc.detail), {}  # a sentence that says what to do
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = "not_authenticated"
        message = ("Log in first: send 'Authorization: Token <your token>' (from `basin login`, or created on the "
                   "homework page) or use a browser session.")
        details = {}
    else:
        code = exc.default_code if isinstance(exc, exceptions.APIException) else "error"
        message, details = str(getattr(exc, "detail", exc)), {}
    response.data = error_body(code, message, details if isinstance(details, dict) else {"fields": details})
    return response


# --- Errors Django answers itself, before or outside a DRF view ---------------------------------
# A path the URL patterns reject, a bad Host, an unhandled exception: under /api/
# these answer the same JSON shape as the API's own errors; pages keep Django's HTML handlers.
API_PREFIX = "/api/"


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def _json(request, status_code: int, code: str, message: str):
    details = {"request_id": request.request_id} if getattr(request, "request_id", None) else {}
    return JsonResponse(error_body(code, message, details), status=status_code)


def bad_request(request, exception, template_name="400.html"):
    if not is_api(request):
        return defaults.bad_request(request, exception, template_name)
    return _json(request, 400, "bad_request", "The request could not be read (a bad header, host or body); "
                 "check it against the API documentation at /api/docs/.")


def page_not_found(request, exception, template_name="404.html"):
    if not is_api(request):
        return defaults.page_not_found(request, exception, template_name)
    return _json(request, 404, "not_found", f"There is no API endpoint at {request.path}: the endpoints are "
                 "listed at /api/docs/ (paths end with a slash).")


def server_error(request, template_name="500.html"):
    if not is_api(request):
        return defaults.server_error(request, template_name)
    return _json(request, 500, "server_error", "Something went wrong on Basin's side and it has been logged. "
                 "Try again in a minute; if it keeps happening, tell the course staff the request id.")

