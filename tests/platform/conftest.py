"""The platform's tests grade through a canned sandbox (tests/canned_sandbox.py): what Basin does
with a run's output is their subject, not the sandbox, which tests/grader and tests/e2e run for real."""
import pytest

from tests import canned_sandbox


@pytest.fixture(autouse=True)
def _canned_sandbox(monkeypatch):
    canned_sandbox.install(monkeypatch)
