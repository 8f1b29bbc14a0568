"""A real headless Chromium driven through its chromedriver (Selenium), and a folder for the
screenshots each test leaves (test-artifacts/, or $BASIN_TEST_ARTIFACTS)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import services

ROOT = Path(__file__).resolve().parents[2]


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
    yield driver
    driver.quit()


def console_errors(driver) -> list[dict]:
    """The page's console messages at error level (uncaught exceptions included)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver, path: Path) -> None:
    """The whole page, not just the window: the window is made as tall as the page first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 1000), 12000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
