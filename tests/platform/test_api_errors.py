"""Every response under /api/ is JSON in the one error shape, whoever answers it: a path the URL
patterns reject (404), a method the endpoint does not take (405), a bad Host (400), a bug (500),
and a client that asks for HTML. Pages keep their HTML error pages."""
import pytest
from django.test import Client

from basin.leaderboard import api as leaderboard_api

# The URL patterns and error handlers: the same on SQLite and PostgreSQL; not re-run there.
pytestmark = pytest.mark.django_db

REJECTED_PATHS = [
    "/api/nope/",
    "/api/",
    "/api/submissions/not-a-number/",
    "/api/submissions/12/nope/",
    "/api/homeworks/",
    "/api/homeworks/hw%20one/",  # not a slug
    "/api/courses/dl101/homeworks/extra/deep/",
    "/api/auth/token/../../admin/",
    "/api/%00/",
]


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code and body["error"]["message"], body
    return body["error"]


@pytest.mark.parametrize("path", REJECTED_PATHS)
@pytest.mark.parametrize("accept", ["application/json", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html"])
def test_a_path_no_endpoint_has_answers_a_json_404(api, path, accept):
    response = api("student").get(path, HTTP_ACCEPT=accept)
    error = assert_error_shape(response, 404, "not_found")
    assert "/api/docs/" in error["message"]


@pytest.mark.parametrize("path", ["/api/nope", "/api", "/api/homeworks/hw1/dataset"])
def test_a_path_without_its_slash_is_redirected_then_answered_in_json(api, path):
    response = api("student").get(path, follow=True, HTTP_ACCEPT="text/html")
    assert_error_shape(response, 404, "not_found")


@pytest.mark.parametrize("method, path", [("delete", "/api/auth/token/"), ("put", "/api/courses/join/"),
                                          ("post", "/api/submissions/1/"),
                                          ("patch", "/api/homeworks/hw1/leaderboard/")])
def test_a_method_the_endpoint_does_not_take_answers_a_json_405(api, homework, method, path):
    response = getattr(api("student"), method)(path, HTTP_ACCEPT="text/html")
    assert_error_shape(response, 405, "method_not_allowed")


def test_an_api_error_asked_for_as_html_is_still_json(api):
    """A browser's Accept header gets no browsable-API page: the API speaks JSON only."""
    response = api(None).get("/api/submissions/1/", HTTP_ACCEPT="text/html")
    assert_error_shape(response, 401 if response.status_code == 401 else 403, "not_authenticated")


def test_a_bug_in_an_api_view_answers_a_json_500_with_the_request_id(api, homework, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the leaderboard")

    monkeypatch.setattr(leaderboard_api.LeaderboardApi, "get", broken)
    client = api("student")
    client.raise_request_exception = False
    response = client.get(f"/api/homeworks/{homework.slug}/leaderboard/", HTTP_ACCEPT="text/html")
    error = assert_error_shape(response, 500, "server_error")
    assert error["details"]["request_id"] == response["X-Request-ID"]
    assert "a bug in the leaderboard" not in response.content.decode()  # no exception text to the client


def test_a_bad_host_on_an_api_path_answers_a_json_400():
    response = Client().get("/api/homeworks/hw1/", HTTP_HOST="evil.example")
    assert_error_shape(response, 400, "bad_request")


def test_pages_keep_their_html_error_pages():
    response = Client().get("/no/such/page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert b"There is no page at /no/such/page/" in response.content
    assert Client().get("/apiary/").status_code == 404  # not under /api/: HTML
    assert Client().get("/apiary/")["Content-Type"].startswith("text/html")


def test_every_error_code_raised_is_in_the_catalogue_with_one_status():
    """A code raised anywhere in the platform has its one HTTP status in basin.errors.CATALOGUE (an
    unknown code would fail at the moment it is raised, in front of a user)."""
    import re
    from pathlib import Path

    from basin.errors import CATALOGUE

    root = Path(__file__).resolve().parents[2] / "platform"
    raised = {code: path for path in root.rglob("*.py")
              for code in re.findall(r'ApplicationError\(\s*"([^"]+)"', path.read_text())}
    assert len(raised) > 40  # the scan finds the codes
    assert not {code: str(path) for code, path in raised.items() if code not in CATALOGUE}
    assert set(CATALOGUE) == set(raised), set(CATALOGUE) - set(raised)  # no code kept for nothing
