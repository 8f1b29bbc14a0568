"""A real headless Chromium driven through its chromedriver (Selenium), and a folder for the
screenshots each test leaves (test-artifacts/, or $BASIN_TEST_ARTIFACTS). Grading goes through the
canned sandbox, as in the platform's tests (tests/canned_sandbox.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import canned_sandbox, services

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _canned_sandbox(monkeypatch):
    canned_sandbox.install(monkeypatch)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("BASIN_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser():
    services.require("chromium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    # Every document records its Content-Security-Policy violations before any script of its own
    # runs (a DevTools script: the policy does not apply to it).
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CSP_VIOLATIONS})
    yield driver
    driver.quit()


RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
    {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber,
     sample: e.sample}));
"""


def csp_violations(driver) -> list[dict]:
    """The Content-Security-Policy violations of the page now shown (each page: before leaving it)."""
    return driver.execute_script("return window.__cspViolations || []")


def console_errors(driver) -> list[dict]:
    """The page's console messages at error level (uncaught exceptions included)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver, path: Path) -> None:
    """The whole page, not just the window: the window is made as tall as the page first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 1000), 12000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
