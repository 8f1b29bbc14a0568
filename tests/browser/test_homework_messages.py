"""The homework page's history in headless Chromium: a long message shows its first line with the
rest behind a click, and a failed submission's message reads as an error in words as well as in
colour, under the Content-Security-Policy. Screenshot: test-artifacts/homework-messages.png."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from basin.submissions.models import Submission

from .conftest import console_errors, csp_violations, screenshot
from .test_pages_under_csp import log_in

pytestmark = pytest.mark.django_db(transaction=True)

# What PyTorch's load_state_dict used to put in the message: one long line, then one per key.
DUMP = ("The weights do not fit build_model()'s model: Error(s) in loading state_dict for Net:\n"
        + "".join(f"\tsize mismatch for layer{i}.weight: copying a param with shape torch.Size([7, 64]) from "
                  "checkpoint, the shape in current model is torch.Size([10, 64]).\n" for i in range(30)))


def test_long_messages_are_collapsed_and_failures_read_as_errors(browser, live_server, homework, people, artifacts):
    def make(**fields):
        return Submission.objects.create(homework=homework, user=people["student"], size=1, kind="bundle",
                                         sha256=f"{Submission.objects.count():064d}", **fields)

    failed = make(status="failed", verdict="invalid_submission", message=DUMP)
    short = make(status="failed", verdict="runtime_error", message="build_model() raised ValueError: boom")
    scored = make(status="scored", public_score=0.5, message="Scored.")
    log_in(browser, live_server.url, f"/accounts/login/?next=/homeworks/{homework.slug}/", "student",
           "student-password-1", f"/homeworks/{homework.slug}/")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-id='{scored.pk}']"))

    def message(pk):
        return browser.find_element(By.CSS_SELECTOR, f"#submissions tr[data-id='{pk}'] .message")

    long = message(failed.pk)
    summary = long.find_element(By.CSS_SELECTOR, "details > summary")
    assert summary.text == ("Error: The weights do not fit build_model()'s model: Error(s) in loading state_dict "
                            "for Net: …")
    screenshot(browser, artifacts / "homework-messages.png")
    assert long.size["height"] < 100  # the first line, wrapped in its column (it was ~1,300 px)
    assert "layer29" not in long.text  # the rest is closed
    assert "message-error" in long.get_attribute("class")
    assert long.value_of_css_property("color") == "rgba(180, 35, 24, 1)"
    summary.click()
    WebDriverWait(browser, 10).until(lambda d: "layer29.weight" in message(failed.pk).text)

    one_line = message(short.pk)
    assert one_line.text == "Error: build_model() raised ValueError: boom"
    assert not one_line.find_elements(By.TAG_NAME, "details")
    plain = message(scored.pk)
    assert plain.text == "Scored." and "message-error" not in plain.get_attribute("class")
    assert not plain.find_elements(By.CSS_SELECTOR, ".message-label")
    screenshot(browser, artifacts / "homework-messages-open.png")
    assert csp_violations(browser) == [] and console_errors(browser) == []
