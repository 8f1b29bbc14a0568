"""Every endpoint and page × anonymous, student (the owner), another student of the course, a TA of
another course, a logged-in outsider, and the course's TA.

The homework is course-only, so only its members may see it. Before the reveal no response, to
anyone, holds a private score; only the owner and the course's TAs read a submission's logs, and only
the TAs what it printed on the hidden images; no hidden label file is ever served. A route added to
urls.py without a row here fails the test."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from basin.courses.models import Homework

pytestmark = pytest.mark.django_db

PERSONAS = (None, "student", "other_student", "other_ta", "outsider", "ta")
PRIVATE = 0.4375  # the owner's private score: it must appear nowhere before the reveal
PRIVATE_PART = 0.171875  # a number only the private part of the stored scores has
LOG_LINE = "owner-only log line 7f3e"
HIDDEN_LOG_LINE = "hidden-pass log line 91c2: staff only, never the owner"
LOGIN = 302  # a page sends an anonymous visitor to log in


def expect(anonymous, student, other_student, other_ta, outsider, ta) -> dict:
    return dict(zip(PERSONAS, (anonymous, student, other_student, other_ta, outsider, ta), strict=True))


MEMBERS = expect(401, 200, 200, 404, 404, 200)  # API, course members only
OWNER = expect(401, 200, 404, 404, 404, 200)  # API, the submission's owner and the course's TAs
PAGE_MEMBERS = expect(LOGIN, 200, 200, 404, 404, 200)
OPEN_VIEWERS = expect(404, 200, 200, 404, 404, 200)  # AllowAny, but a course-only homework hides itself
EVERYONE = expect(200, 200, 200, 200, 200, 200)
STAFF_ONLY = expect(404, 404, 404, 404, 404, 409)  # the grade export waits for the reveal

# route in urls.py → [(method, path, data, {persona: status})]; {sub} is the owner's scored submission.
# API requests are sent as JSON: an upload endpoint answers 415 with the form it takes.
MATRIX = {
    "api/auth/token/": [("post", "/api/auth/token/", {}, expect(400, 400, 400, 400, 400, 400))],
    # The homework page's token box takes a browser session only: a token cannot list or make tokens.
    "api/auth/tokens/": [("get", "/api/auth/tokens/", None, expect(403, 403, 403, 403, 403, 403)),
                         ("post", "/api/auth/tokens/", {}, expect(403, 403, 403, 403, 403, 403))],
    "api/auth/me/": [("get", "/api/auth/me/", None, expect(401, 200, 200, 200, 200, 200))],
    "api/auth/logout/": [("post", "/api/auth/logout/", {}, expect(401, 200, 200, 200, 200, 200))],
    "api/courses/<slug:course_slug>/homeworks/": [
        ("post", "/api/courses/dl101/homeworks/", {}, expect(401, 404, 404, 404, 404, 400))],
    "api/courses/join/": [("post", "/api/courses/join/", {"code": "no-such-code"},
                           expect(401, 404, 404, 404, 404, 404))],
    "api/courses/<slug:course_slug>/roster/": [
        ("post", "/api/courses/dl101/roster/", {}, expect(401, 404, 404, 404, 404, 415))],
    "api/homeworks/<slug:slug>/": [("get", "/api/homeworks/hw1/", None, MEMBERS)],
    "api/homeworks/<slug:slug>/dataset/": [("get", "/api/homeworks/hw1/dataset/", None, OPEN_VIEWERS)],
    "api/homeworks/<slug:slug>/dataset/<path:name>": [
        ("get", "/api/homeworks/hw1/dataset/train/labels.npy", None, OPEN_VIEWERS),
        # Hidden labels: never, not even to the course's TAs.
        ("get", "/api/homeworks/hw1/dataset/test/labels.npy", None, expect(404, 403, 403, 404, 404, 403)),
        ("get", "/api/homeworks/hw1/dataset/shift/labels.npy", None, expect(404, 403, 403, 404, 404, 403)),
        ("get", "/api/homeworks/hw1/dataset/hidden_seed.json", None, expect(404, 404, 404, 404, 404, 404)),
        ("get", "/api/homeworks/hw1/dataset/../hw1/test/labels.npy", None, expect(404, 404, 404, 404, 404, 404))],
    "api/homeworks/<slug:slug>/submissions/": [
        ("get", "/api/homeworks/hw1/submissions/", None, MEMBERS),
        ("post", "/api/homeworks/hw1/submissions/", {}, expect(401, 415, 415, 404, 404, 415))],
    "api/homeworks/<slug:slug>/selection/": [
        ("get", "/api/homeworks/hw1/selection/", None, MEMBERS),
        ("post", "/api/homeworks/hw1/selection/", {"ids": []}, MEMBERS)],
    "api/homeworks/<slug:slug>/leaderboard/": [
        ("get", "/api/homeworks/hw1/leaderboard/", None, OPEN_VIEWERS),
        ("get", "/api/homeworks/hw1/leaderboard/?part=private", None, expect(404, 403, 403, 404, 404, 403))],
    "api/submissions/<int:submission_id>/": [("get", "/api/submissions/{sub}/", None, OWNER)],
    "api/submissions/<int:submission_id>/cancel/": [
        ("post", "/api/submissions/{sub}/cancel/", {}, expect(401, 409, 404, 404, 404, 409))],
    "api/schema/": [("get", "/api/schema/", None, EVERYONE)],
    "api/docs/": [("get", "/api/docs/", None, EVERYONE)],
    "": [("get", "/", None, EVERYONE)],
    "homeworks/<slug:slug>/": [("get", "/homeworks/hw1/", None, PAGE_MEMBERS)],
    "homeworks/<slug:slug>/starter.ipynb": [("get", "/homeworks/hw1/starter.ipynb", None, PAGE_MEMBERS)],
    "homeworks/<slug:slug>/leaderboard/": [("get", "/homeworks/hw1/leaderboard/", None, OPEN_VIEWERS)],
    "submissions/<int:submission_id>/diagnostics/": [
        ("get", "/submissions/{sub}/diagnostics/", None, OPEN_VIEWERS)],
    "homeworks/<slug:slug>/grades.csv": [("get", "/homeworks/hw1/grades.csv", None, STAFF_ONLY)],
    "queue/": [("get", "/queue/", None, expect(LOGIN, 404, 404, 200, 404, 200))],
    "accounts/login/": [("get", "/accounts/login/", None, EVERYONE)],
    "accounts/logout/": [("get", "/accounts/logout/", None, EVERYONE)],
    "accounts/signup/": [("get", "/accounts/signup/", None, expect(200, 302, 302, 302, 302, 302))],
    "accounts/set-password/<uidb64>/<token>/": [
        ("get", "/accounts/set-password/MQ/not-a-token/", None, EVERYONE)],
    "accounts/email/": [("get", "/accounts/email/", None, expect(LOGIN, 200, 200, 200, 200, 200))],
    "accounts/confirm-email/<str:token>/": [  # a link confirms only for its own account, logged in
        ("get", "/accounts/confirm-email/not-a-token/", None, expect(LOGIN, 400, 400, 400, 400, 400))],
    "join/": [("get", "/join/", None, expect(LOGIN, 200, 200, 200, 200, 200))],
    # Django's admin: only staff get past its login page; its own per-course rules are in test_admin.py.
    "admin/": [("get", "/admin/", None, expect(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN))],
    "health/": [("get", "/health/", None, EVERYONE)],
    # The student toolkit's index: open to anyone (pip sends no session); it holds no course's data.
    "simple/": [("get", "/simple/", None, EVERYONE)],
    "simple/<str:name>/": [("get", "/simple/basin-toolkit/", None, EVERYONE),
                           ("get", "/simple/some-other-project/", None, expect(404, 404, 404, 404, 404, 404))],
    "simple/<str:name>/<str:filename>": [
        ("get", "/simple/basin-toolkit/basin_toolkit-0.0.0-py3-none-any.whl", None,
         expect(404, 404, 404, 404, 404, 404))],
    "favicon.ico": [("get", "/favicon.ico", None, expect(301, 301, 301, 301, 301, 301))],  # to the static icon
}


def routes() -> set[str]:
    found = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            found.add(str(entry.pattern))  # an include (the admin): one row for all of it
        elif isinstance(entry, URLPattern):
            found.add(str(entry.pattern))
    return found


def test_every_route_has_a_row_in_the_matrix():
    assert routes() - set(MATRIX) == set(), "add the new routes to MATRIX with who may use them"
    assert set(MATRIX) - routes() == set(), "MATRIX names routes that no longer exist"


@pytest.fixture
def world(homework, people, scored):
    Homework.objects.filter(pk=homework.pk).update(leaderboard_is_public=False)
    owner = scored(people["student"], 0.8125, private=PRIVATE, log_tail=LOG_LINE, message=f"Scored. {LOG_LINE}",
                   hidden_log=HIDDEN_LOG_LINE,
                   scores={"public": {"accuracy": 0.8125}, "private": {"accuracy": PRIVATE_PART},
                           "all": {"accuracy": PRIVATE_PART}},
                   trusted_diagnostics={"public": {"ece": 0.01}, "private": {"ece": PRIVATE_PART}})
    scored(people["other_student"], 0.5, private=0.5)
    return owner


def request(client, method, path, data):
    if method == "get":
        return client.get(path)
    return client.post(path, data or {}, format="json") if hasattr(client, "credentials") else client.post(path, data)


def clients(api, people, client_factory):
    """Per persona: the API client (token) for /api/, a browser-like session client for pages."""
    def for_path(persona, path):
        if path.startswith("/api/"):
            return api(persona)
        c = client_factory()
        if persona:
            c.force_login(people[persona])
        return c
    return for_path


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p or "anonymous")
def test_who_may_use_each_endpoint_and_what_never_leaks(api, people, world, persona):
    from django.test import Client

    client_for = clients(api, people, Client)
    problems = []
    for rows in MATRIX.values():
        for method, path, data, statuses in rows:
            path = path.format(sub=world.pk)
            response = request(client_for(persona, path), method, path, data)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if response.status_code != statuses[persona]:
                problems.append(f"{method.upper()} {path}: {response.status_code}, expected {statuses[persona]}")
            if response.status_code >= 500:
                problems.append(f"{method.upper()} {path}: a server error")
            text = body.decode("utf-8", "replace")
            for secret in (str(PRIVATE), str(PRIVATE_PART)):
                if secret in text:
                    problems.append(f"{method.upper()} {path}: a private score before the reveal")
            if LOG_LINE in text and persona not in ("student", "ta"):
                problems.append(f"{method.upper()} {path}: the owner's log shown to {persona}")
            if HIDDEN_LOG_LINE in text and persona != "ta":
                problems.append(f"{method.upper()} {path}: the hidden pass's log shown to {persona}")
    assert problems == []


def test_after_the_reveal_private_scores_reach_the_members_and_still_no_one_else(api, people, world, homework):
    from basin.courses.services import reveal_private

    Homework.objects.filter(pk=homework.pk).update(opens_at=timezone.now() - timedelta(days=9),
                                                   deadline=timezone.now() - timedelta(hours=1))
    homework.refresh_from_db()
    reveal_private(homework=homework)
    for persona in PERSONAS:
        board = api(persona).get("/api/homeworks/hw1/leaderboard/?part=private")
        if persona in ("student", "other_student", "ta"):
            assert str(PRIVATE) in board.content.decode()
        else:
            assert board.status_code == 404 and str(PRIVATE) not in board.content.decode()
    assert api("other_student").get(f"/api/submissions/{world.pk}/").status_code == 404
    detail = api("student").get(f"/api/submissions/{world.pk}/").json()
    assert detail["private_score"] == PRIVATE and detail["diagnostics"]["private"]["ece"] == PRIVATE_PART
