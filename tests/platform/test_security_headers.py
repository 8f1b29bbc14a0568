"""Headers every response carries: a strict Content-Security-Policy (no inline script, no eval;
inline styles only where Plotly draws), and `Cache-Control: private, no-store` on whatever a
logged-in viewer gets back (pages and API), so no shared cache keeps one person's page for another."""
import pytest
from django.test import Client

# Middleware and headers: the same on SQLite and PostgreSQL; not re-run there.
pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


def logged_in(person) -> Client:
    client = Client()
    client.force_login(person)
    return client


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/", "/homeworks/hw1/",
                                  "/homeworks/hw1/leaderboard/", "/api/docs/", "/admin/login/", "/no/such/page/",
                                  "/api/homeworks/hw1/", "/api/nope/"])
def test_every_response_carries_a_policy_without_inline_script_or_eval(homework, path):
    response = Client().get(path)
    directives = policy(response)
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"] and directives["base-uri"] == ["'self'"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_only_the_diagnostics_page_allows_inline_styles_for_plotly_and_still_no_inline_script(
        scored, people, homework):
    submission = scored(people["student"], public=0.5)
    directives = policy(Client().get(f"/submissions/{submission.pk}/diagnostics/"))
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["script-src"] == ["'self'"]


def test_the_docs_page_runs_no_inline_script():
    html = Client().get("/api/docs/").content.decode()
    assert "<script>" not in html and "<style>" not in html
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize("path", ["/", "/homeworks/hw1/", "/homeworks/hw1/leaderboard/", "/join/",
                                  "/api/homeworks/hw1/", "/api/homeworks/hw1/submissions/",
                                  "/api/homeworks/hw1/leaderboard/", "/api/nope/", "/admin/"])
def test_what_a_logged_in_viewer_gets_is_private_and_not_stored(homework, people, path):
    response = logged_in(people["student"]).get(path)
    assert {"private", "no-store"} <= cache_control(response), (path, response.get("Cache-Control"))
    assert "public" not in cache_control(response)


def test_an_api_answer_to_a_token_is_private_and_varies_by_it(api, homework):
    response = api("student").get("/api/homeworks/hw1/leaderboard/")
    assert response.status_code == 200
    assert {"private", "no-store"} <= cache_control(response)
    assert "Authorization" in response["Vary"]
    refused = Client().get("/api/homeworks/hw1/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert refused.status_code == 401 and {"private", "no-store"} <= cache_control(refused)


def test_a_dataset_file_download_is_private_but_may_be_kept_by_the_browser(api, homework):
    response = api("student").get("/api/homeworks/hw1/dataset/train/labels.npy")
    assert response.status_code == 200
    assert "private" in cache_control(response) and "no-store" not in cache_control(response)


def test_an_anonymous_public_page_stays_cacheable(homework):
    response = Client().get("/homeworks/hw1/leaderboard/")
    assert response.status_code == 200 and "private" not in cache_control(response)
