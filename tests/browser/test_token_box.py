"""The homework page's personal-token box in headless Chromium, under the Content-Security-Policy: a
student creates a token, shown once with its expiry and a Copy button, and it works against the API;
a new one revokes the first and leaves the `basin login` token alone; the box counts that one.
Screenshot: test-artifacts/homework-token-box.png."""
from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from basin.accounts.models import ApiToken
from basin.accounts.services import create_token

from .conftest import console_errors, csp_violations, screenshot
from .test_pages_under_csp import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_student_creates_copies_and_replaces_a_token_on_the_homework_page(browser, live_server, homework, people,
                                                                           artifacts):
    homework.course.token_lifetime_days = 30
    homework.course.save()
    cli = create_token(user=people["student"], label=ApiToken.Label.BASIN_LOGIN).secret

    def me(token: str) -> requests.Response:
        return requests.get(f"{live_server.url}/api/auth/me/", headers={"Authorization": f"Token {token}"}, timeout=10)

    def text(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).text

    log_in(browser, live_server.url, f"/accounts/login/?next=/homeworks/{homework.slug}/", "student",
           "student-password-1", f"/homeworks/{homework.slug}/")
    WebDriverWait(browser, 30).until(lambda d: "live token" in text("token-others"))
    assert text("token-box").startswith("Personal API token — for basin login --token or BASIN_TOKEN in a notebook "
                                        "or Colab.")
    assert text("token-others") == "You have 1 other live token (from basin login)."
    assert text("token-create") == "Create a token" and not browser.find_element(By.ID, "token-new").is_displayed()

    browser.find_element(By.ID, "token-create").click()
    WebDriverWait(browser, 30).until(lambda d: text("token-status") == "Created.")
    field = browser.find_element(By.ID, "token-value")
    first = field.get_attribute("value")
    assert len(first) == 64 and field.get_attribute("readonly") is not None
    assert text("token-expiry").startswith("It expires ")
    assert text("token-expiry").endswith("(your course sets how long a token lasts).")
    assert "Keep it secret." in text("token-new")
    assert me(first).json()["token"]["label"] == "web page"
    assert text("token-create") == "New token"
    screenshot(browser, artifacts / "homework-token-box.png")

    browser.find_element(By.ID, "token-copy").click()
    WebDriverWait(browser, 10).until(lambda d: text("token-status") != "Created.")
    # Headless Chromium may refuse the clipboard: then the token is selected for Ctrl+C.
    assert text("token-status") in ("Copied to the clipboard.", "Selected: press Ctrl+C (⌘C on a Mac) to copy it.")
    if text("token-status").startswith("Selected"):
        assert browser.execute_script("const f = document.getElementById('token-value');"
                                      "return [f.selectionStart, f.selectionEnd];") == [0, 64]

    browser.find_element(By.ID, "token-create").click()
    WebDriverWait(browser, 30).until(lambda d: text("token-status").startswith("Created. Your previous"))
    assert text("token-status") == "Created. Your previous web-page token no longer works."
    second = browser.find_element(By.ID, "token-value").get_attribute("value")
    assert second != first and me(first).status_code == 401
    assert me(second).status_code == 200 and me(cli).status_code == 200
    WebDriverWait(browser, 10).until(
        lambda d: text("token-others") == "You have 1 other live token (from basin login).")
    assert csp_violations(browser) == [] and console_errors(browser) == []
