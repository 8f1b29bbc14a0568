"""The leaderboard and a submission's diagnostics page in headless Chromium: every chart is drawn
by Plotly.js (served by Basin itself) and the console stays clean. Screenshots in test-artifacts/."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from basin import dispatch
from tests.runs import diagnose

from .conftest import console_errors, csp_violations, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def drawn(driver) -> tuple[int, int, int]:
    """(charts, drawn by Plotly, shown as 'not computed')."""
    return driver.execute_script("""
        const charts = [...document.querySelectorAll('.chart')];
        return [charts.length, charts.filter(c => c.classList.contains('js-plotly-plot')).length,
                charts.filter(c => c.classList.contains('empty')).length];""")


def test_a_student_opens_the_leaderboard_then_the_diagnostics_of_a_submission(browser, live_server, scored_submission,
                                                                              homework, artifacts, monkeypatch):
    monkeypatch.setattr(dispatch, "send", lambda task, pk, countdown=0: True)  # no broker here
    mine = scored_submission()
    theirs = scored_submission(user="other_student")
    for submission in (mine, theirs):
        diagnose(submission)

    browser.get(f"{live_server.url}/homeworks/{homework.slug}/leaderboard/")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.leaderboard tbody tr")
    assert len(rows) == 2
    screenshot(browser, artifacts / "leaderboard.png")
    assert csp_violations(browser) == []
    rows[0].find_element(By.TAG_NAME, "a").click()

    WebDriverWait(browser, 60).until(lambda d: sum(drawn(d)[1:]) == drawn(d)[0] > 0)
    charts, plotted, empty = drawn(browser)
    webgl = browser.execute_script("return !!document.createElement('canvas').getContext('webgl')")
    # Every chart is drawn; only the 3D surfaces may be replaced by a note, and only without WebGL.
    # The hidden split's detail waits for the reveal (submissions.selectors._SUMMARY), and says so.
    assert plotted == charts - (0 if webgl else 2) and empty == (0 if webgl else 2), (charts, plotted, empty)
    assert "shown when the private leaderboard is revealed" in browser.find_element(By.CSS_SELECTOR, "p.later").text
    assert "Top Hessian eigenvalue" in browser.page_source
    screenshot(browser, artifacts / "diagnostics.png")
    assert csp_violations(browser) == []
    assert console_errors(browser) == []

    other = theirs.pk if f"/{mine.pk}/" in browser.current_url else mine.pk
    browser.find_element(By.NAME, "compare").send_keys(str(other))
    browser.find_element(By.CSS_SELECTOR, "form.compare button").click()
    WebDriverWait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.panel")) == 2
                                     and sum(drawn(d)[1:]) == drawn(d)[0])
    screenshot(browser, artifacts / "diagnostics-compare.png")
    assert csp_violations(browser) == []
    assert console_errors(browser) == []
