"""A student on the homework page in headless Chromium, against a live Basin (a web server and a
separate Celery worker process, seeded by the demo): log in through the login page; the page
refuses a file over the limit before sending it; an upload shows its progress, appears in the
history as queued and turns to scored by itself once the worker has graded it; the final
selection is saved. Screenshots in test-artifacts/."""
from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from basin.demo.services import LOGINS
from tests import factories
from tests.e2e.live import LivePlatform, base_env

from .conftest import console_errors, csp_violations, screenshot


def status_of(browser, submission_id: int) -> str:
    """The row's status as shown; "" while it is not there or is being redrawn (each poll redraws
    the table, so a cell found a moment ago may be gone when read)."""
    try:
        cells = browser.find_elements(By.CSS_SELECTOR, f"#submissions tr[data-id='{submission_id}'] .status")
        return cells[0].text if cells else ""
    except StaleElementReferenceException:
        return ""


def test_a_student_uploads_and_watches_the_status_turn_to_scored(browser, tmp_path, artifacts):
    live = LivePlatform(base_env(tmp_path / "data") | {"BASIN_SANDBOX_BACKEND": "process"}, tmp_path)
    live.seed()
    try:
        live.start_web()
        live.start_worker(beat=False)
        live.create_homework("browser", daily_quota=3, max_upload_mb=1, diagnostics_enabled=False)

        username, password = LOGINS["student"]
        browser.get(f"{live.base}/accounts/login/?next=/homeworks/browser/")
        browser.find_element(By.NAME, "username").send_keys(username)
        browser.find_element(By.NAME, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        WebDriverWait(browser, 30).until(lambda d: d.current_url.endswith("/homeworks/browser/"))
        assert "3 of 3 submissions left" in browser.find_element(By.ID, "quota").text
        assert "No submission yet." in browser.find_element(By.ID, "submissions").text

        # Over the limit: refused by the page itself, nothing sent.
        big = factories.write(tmp_path / "big.zip", b"\0" * (3 << 19))
        browser.find_element(By.ID, "upload-file").send_keys(str(big))
        browser.find_element(By.ID, "upload-button").click()
        assert "accepts at most 1 MB" in browser.find_element(By.ID, "upload-status").text
        student = live.token("student")
        assert live.http.get(f"{live.base}/api/homeworks/browser/submissions/", headers=student).json() == []

        model = factories.write(tmp_path / "model.zip", factories.bundle())
        browser.find_element(By.ID, "upload-file").clear()
        browser.find_element(By.ID, "upload-file").send_keys(str(model))
        browser.find_element(By.ID, "upload-note").send_keys("first try")
        browser.find_element(By.ID, "upload-button").click()
        WebDriverWait(browser, 30).until(lambda d: "Uploaded as #" in d.find_element(By.ID, "upload-status").text)
        submission_id = int(browser.find_element(By.ID, "upload-status").text.split("#")[1].split(";")[0])
        screenshot(browser, artifacts / "homework-queued.png")

        # The separate worker process grades it; the page's polling shows it, with no reload.
        WebDriverWait(browser, 120).until(lambda d: status_of(d, submission_id) == "scored")
        scored = live.submission(submission_id, student)
        assert scored["note"] == "first try" and scored["status"] == "scored"
        WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: f"{scored['public_score']:.4f}" in d.find_element(
                By.CSS_SELECTOR, f"#submissions tr[data-id='{submission_id}']").text)
        assert "2 of 3 submissions left" in browser.find_element(By.ID, "quota").text

        WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException]).until(  # redrawn: try again
            lambda d: d.find_element(By.CSS_SELECTOR, f"input.final[value='{submission_id}']").click() or True)
        browser.find_element(By.ID, "save-selection").click()
        WebDriverWait(browser, 30).until(lambda d: "Saved" in d.find_element(By.ID, "selection-status").text)
        assert live.submission(submission_id, student)["selected"] is True
        screenshot(browser, artifacts / "homework-scored.png")
        assert csp_violations(browser) == []
        assert console_errors(browser) == []
    finally:
        live.stop()
