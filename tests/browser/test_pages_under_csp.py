"""Every kind of page works under Basin's Content-Security-Policy in a real headless Chromium: no
violation and no console error, and each page does what it is for (its scripts ran, its data
arrived). The diagnostics page (Plotly) is opened in test_diagnostics_page.py, the live upload in
test_homework_page.py. Screenshots in test-artifacts/csp-*.png."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from basin.courses.models import Homework
from basin.submissions import runs
from basin.submissions.models import Submission

from .conftest import console_errors, csp_violations, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(browser, base: str, path: str, username: str, password: str, then: str) -> None:
    browser.get(f"{base}{path}")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url.rstrip("/").endswith(then.rstrip("/")))


def visit(browser, url: str, ready: str, name: str, artifacts, status: int = 200) -> None:
    """Open a page, wait until `ready` (a CSS selector) shows that its scripts ran, and check that
    the policy blocked nothing and the console is clean (but for the page's own status, if not 200)."""
    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ready), f"{url}: no {ready}")
    screenshot(browser, artifacts / f"csp-{name}.png")
    assert browser.execute_script("return document.readyState") == "complete"
    assert csp_violations(browser) == [], url
    expected = ([] if status == 200 else
                [f"{url} - Failed to load resource: the server responded with a status of {status}"])
    assert [e["message"].split(" (")[0] for e in console_errors(browser)] == expected, url


def test_every_kind_of_page_works_under_the_content_security_policy(browser, live_server, homework, people,
                                                                     artifacts):
    base = live_server.url
    # Anonymous: the home page, the public leaderboard, log in, sign up, the API docs (Swagger UI
    # renders the operations from the schema it fetched), a 404 page.
    visit(browser, f"{base}/", "main", "home", artifacts)
    visit(browser, f"{base}/homeworks/{homework.slug}/leaderboard/", "table.leaderboard, main p", "leaderboard",
          artifacts)
    visit(browser, f"{base}/accounts/login/", "form [type=submit]", "login", artifacts)
    visit(browser, f"{base}/accounts/signup/", "form [type=submit]", "signup", artifacts)
    visit(browser, f"{base}/api/docs/", ".swagger-ui .opblock", "api-docs", artifacts)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")) >= 10
    visit(browser, f"{base}/no/such/page/", "main h1", "not-found", artifacts, status=404)
    visit(browser, f"{base}/accounts/set-password/MQ/not-a-token/", "main", "set-password", artifacts)

    # A student: the homework page (its script fetched the quota and the history), joining a course.
    log_in(browser, base, f"/accounts/login/?next=/homeworks/{homework.slug}/", "student", "student-password-1",
           f"/homeworks/{homework.slug}/")
    WebDriverWait(browser, 30).until(lambda d: "submissions left" in d.find_element(By.ID, "quota").text)
    assert csp_violations(browser) == [] and console_errors(browser) == []
    visit(browser, f"{base}/homeworks/{homework.slug}/", "#submissions", "homework", artifacts)
    visit(browser, f"{base}/join/", "form [type=submit]", "join", artifacts)
    visit(browser, f"{base}/accounts/email/", "main h1", "email", artifacts)
    browser.delete_all_cookies()

    # A TA: the queue page, with a submission scored after a lost try and its diagnostics running.
    submission = Submission.objects.create(homework=homework, user=people["student"], file="x.zip",
                                           original_name="x.zip", kind="bundle", size=1, sha256="0" * 64)
    first = runs.claim(runs.open_run(submission.pk, runs.SCORE).pk, runs.SCORE, "celery@gpu-1")
    runs.release(first, "InfrastructureError: Docker failed: 500 Server Error")
    again = runs.claim(first.run.pk, runs.SCORE, "celery@gpu-2")
    runs.finish(again, outcome="scored", status="scored", run_fields={"backend": "docker", "timings": {"sandbox_s": 4}},
                submission_fields={"verdict": "scored", "public_score": 0.81})
    runs.claim(runs.open_run(submission.pk, runs.DIAGNOSE).pk, runs.DIAGNOSE, "celery@gpu-1")
    log_in(browser, base, "/accounts/login/?next=/queue/", "ta", "ta-password-1", "/queue/")
    visit(browser, f"{base}/queue/", "main h1", "queue", artifacts)
    browser.delete_all_cookies()

    # A superuser in the Django admin: its login, index, lists with filters and actions, change forms.
    get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    log_in(browser, base, "/admin/login/?next=/admin/", "root", "root-password-1", "/admin/")
    pk = Homework.objects.get(slug=homework.slug).pk
    for name, path, ready in [
        ("admin-index", "/admin/", "#content-main"),
        ("admin-homeworks", "/admin/courses/homework/", "#changelist-form"),
        ("admin-homework", f"/admin/courses/homework/{pk}/change/", "form#homework_form"),
        ("admin-submissions", "/admin/submissions/submission/", "#changelist"),
        ("admin-submission", f"/admin/submissions/submission/{submission.pk}/change/", "#runs-group"),
        ("admin-add-user", "/admin/auth/user/add/", "form#user_form"),
    ]:
        visit(browser, f"{base}{path}", ready, name, artifacts)
    # The admin's scripts ran: the actions bar counts the rows a click selects.
    browser.get(f"{base}/admin/courses/homework/")
    browser.find_element(By.CSS_SELECTOR, "#result_list input.action-select").click()
    WebDriverWait(browser, 10).until(
        lambda d: "1 of 1 selected" in d.find_element(By.CSS_SELECTOR, ".action-counter").text)
    assert csp_violations(browser) == [] and console_errors(browser) == []
