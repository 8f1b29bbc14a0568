"""A student on the homework page in headless Chromium: the browser refuses a file over the limit
before sending it; an upload shows its progress, appears in the history as queued and turns to
scored by itself once the grader has run; the final selection is saved. Screenshots in test-artifacts/."""
from __future__ import annotations

import pytest
from django.test import Client
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from basin.grading import services as grading
from basin.submissions.models import Submission
from tests import factories

from .conftest import console_errors, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(browser, live_server, user) -> None:
    """The student's session, made by Django's own login and handed to the browser as its cookie."""
    client = Client()
    client.force_login(user)
    browser.get(f"{live_server.url}/")
    browser.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value, "path": "/"})


def status_of(browser, submission_id: int) -> str:
    cells = browser.find_elements(By.CSS_SELECTOR, f"#submissions tr[data-id='{submission_id}'] .status")
    return cells[0].text if cells else ""


def test_a_student_uploads_and_watches_the_status_turn_to_scored(browser, live_server, homework, people, tmp_path,
                                                                 artifacts):
    homework.max_upload_mb = 1
    homework.save()
    log_in(browser, live_server, people["student"])
    browser.get(f"{live_server.url}/homeworks/{homework.slug}/")
    assert "3 of 3 submissions left" in browser.find_element(By.ID, "quota").text
    assert "No submission yet." in browser.find_element(By.ID, "submissions").text

    # Over the limit: refused by the page itself, nothing sent.
    big = factories.write(tmp_path / "big.zip", b"\0" * (3 << 19))
    browser.find_element(By.ID, "upload-file").send_keys(str(big))
    browser.find_element(By.ID, "upload-button").click()
    assert "accepts at most 1 MB" in browser.find_element(By.ID, "upload-status").text
    assert not Submission.objects.exists()

    model = factories.write(tmp_path / "model.zip", factories.bundle())
    browser.find_element(By.ID, "upload-file").clear()
    browser.find_element(By.ID, "upload-file").send_keys(str(model))
    browser.find_element(By.ID, "upload-note").send_keys("first try")
    browser.find_element(By.ID, "upload-button").click()
    WebDriverWait(browser, 30).until(lambda d: "Uploaded as #" in d.find_element(By.ID, "upload-status").text)
    submission = Submission.objects.get()
    assert status_of(browser, submission.pk) == "queued" and submission.note == "first try"
    screenshot(browser, artifacts / "homework-queued.png")

    grading.grade_submission(submission.pk)  # what the worker does with the queued message
    WebDriverWait(browser, 30).until(lambda d: status_of(d, submission.pk) == "scored")
    submission.refresh_from_db()
    row = browser.find_element(By.CSS_SELECTOR, f"#submissions tr[data-id='{submission.pk}']").text
    assert f"{submission.public_score:.4f}" in row
    assert "2 of 3 submissions left" in browser.find_element(By.ID, "quota").text

    browser.find_element(By.CSS_SELECTOR, f"input.final[value='{submission.pk}']").click()
    browser.find_element(By.ID, "save-selection").click()
    WebDriverWait(browser, 30).until(lambda d: "Saved" in d.find_element(By.ID, "selection-status").text)
    assert Submission.objects.get(pk=submission.pk).selected
    screenshot(browser, artifacts / "homework-scored.png")
    assert console_errors(browser) == []
