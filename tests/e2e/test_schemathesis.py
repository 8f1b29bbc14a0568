"""The API against its own OpenAPI schema (/api/schema/), with schemathesis, on a live Basin with
real data (PostgreSQL, the demo's course, a homework with a student's scored submission), as a
student and as a TA, each with their token. Every operation gets schema-valid and schema-invalid
requests, half of them aimed at the real homework, course, submission and dataset file. No answer
may be a 5xx, carry a status or body the schema does not promise for the operation, or be HTML.

Bounded and repeatable: a fixed number of examples per operation, derandomized (the same requests
on every run), no shrinking, and a time budget after which no more requests are sent."""
from __future__ import annotations

import re
import time

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories, services
from tests.e2e.live import LivePlatform, base_env

EXAMPLES = 10  # per operation, persona and mode (schema-valid, schema-invalid)
BUDGET_SECONDS = 75  # the whole run, both personas: past it no request is sent


@schemathesis.check
def no_html_on_an_api_path(ctx, response, case):
    kind = (response.headers.get("content-type") or [""])[0]  # schemathesis: lowercase names, lists of values
    if "html" in kind or response.content[:100].lstrip().lower().startswith((b"<!doctype", b"<html")):
        raise AssertionError(f"HTML on an API path ({response.status_code}, {kind})")
    return None


# A 5xx; a body that breaks the schema of its status; a status or content type the schema does not
# document for the operation; HTML.
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          no_html_on_an_api_path]


@pytest.fixture
def live_api(tmp_path, request):
    """The demo on PostgreSQL, a web server, and a homework where the student's submission was
    scored by a real worker (process sandbox, no diagnostics), which is then stopped."""
    services.require("postgres")  # before the database fixture connects
    postgres_database = request.getfixturevalue("postgres_database")
    live = LivePlatform(base_env(tmp_path / "data") | {"DATABASE_URL": postgres_database,
                                                       "BASIN_SANDBOX_BACKEND": "process"}, tmp_path)
    live.seed()
    try:
        live.start_web()
        live.create_homework("schema", diagnostics_enabled=False)
        student = live.token("student")
        with open(factories.write(tmp_path / "model.zip", factories.bundle()), "rb") as f:
            r = live.http.post(f"{live.base}/api/homeworks/schema/submissions/", headers=student,
                               files={"file": ("model.zip", f, "application/zip")}, data={"note": "first"}, timeout=30)
        assert r.status_code == 201, r.text
        submission_id = r.json()["id"]
        worker = live.start_worker(beat=False)
        live.wait_for(lambda: live.submission(submission_id, student)["status"] == "scored", 180, "the score")
        worker.terminate()
        worker.wait(timeout=60)
        yield live, {"slug": "schema", "course_slug": "dl101", "submission_id": submission_id,
                     "name": "train/labels.npy"}
    finally:
        live.stop()


def strategy(operation, real: dict, mode: GenerationMode):
    """Generated cases, and as many again with the real path parameters (so that requests reach
    the data behind them rather than a 404)."""
    names = re.findall(r"\{(\w+)\}", operation.path)
    generated = operation.as_strategy(generation_mode=mode)
    if not names or not set(names) <= set(real):
        return generated
    return st.one_of(generated, operation.as_strategy(generation_mode=mode,
                                                      path_parameters={n: real[n] for n in names}))


# Logging out revokes the token every later request sends (tests/platform/test_api_tokens.py tests it).
NOT_FUZZED = {("POST", "/api/auth/logout/")}


def fuzz(schema, base: str, headers: dict, real: dict, deadline: float) -> tuple[int, list[str]]:
    """Every operation in both modes; returns (requests sent, failures)."""
    sent, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                                 phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck))
            @hypothesis.given(case=strategy(operation, real, mode))
            def one(case, mode):
                nonlocal sent
                if time.monotonic() > deadline:
                    return
                response = case.call(base_url=base, headers=headers, timeout=30)
                sent += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except (AssertionError, FailureGroup) as e:  # keep them all, not only the first
                    failures.append(f"{case.method} {case.formatted_path} [{mode.value}] → {response.status_code}: "
                                    f"{str(e)[:600]}\n  {case.as_curl_command(headers=headers)}")
            try:
                one(mode=mode)  # passed, not closed over: the loop's own mode
            except hypothesis.errors.Unsatisfiable:  # nothing in the operation can be made invalid
                assert mode is GenerationMode.NEGATIVE, operation.label
    return sent, failures


@pytest.mark.postgres
def test_the_api_keeps_its_schema_for_a_student_and_a_ta(live_api):
    live, real = live_api
    schema = schemathesis.openapi.from_url(f"{live.base}/api/schema/?format=json")
    started = time.monotonic()
    deadline = started + BUDGET_SECONDS
    tokens = {persona: live.token(persona) for persona in ("student", "ta")}  # before any wrong password is sent
    report = {persona: fuzz(schema, live.base, headers, real, deadline) for persona, headers in tokens.items()}
    elapsed = time.monotonic() - started
    print(f"schemathesis: {', '.join(f'{p} {n} requests' for p, (n, _) in report.items())} in {elapsed:.0f} s")
    failures = [f for _, found in report.values() for f in found]
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures[:25])
    assert all(n > 100 for n, _ in report.values()), report  # the budget left room for a real run
