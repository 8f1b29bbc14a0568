"""Finite logits of ±1e308 once gave nll = inf: PostgreSQL's jsonb refused it and the submission
looped through retries into an infrastructure error. The sandbox's logits files (as a model can
rewrite them) are scored by the worker's own `score` and stored by the real `record`: every
stored number is finite and the diagnostics page's JSON parses. Run on PostgreSQL by the re-run
of this folder (test_on_postgres.py); on SQLite, the strict JSON check still holds."""
import json
import math
import re

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client

from basin.grading.services import record
from basin.submissions import runs
from basin.submissions.models import Submission
from basin_grader import dataset_layout as layout
from basin_grader.contract import logits_name
from basin_grader.evaluate import Evaluation, score
from basin_grader.verdicts import SCORED
from tests import factories

# The whole module re-runs on PostgreSQL (test_on_postgres.py): it stores extreme floats in jsonb (no NaN, no inf).
pytestmark = [pytest.mark.django_db, pytest.mark.database_sensitive]


def extreme(kind: str, n: int) -> np.ndarray:
    signs = np.where((np.arange(n)[:, None] + np.arange(10)) % 2 == 0, 1.0, -1.0)
    return {"mixed ±1e308": signs * 1e308, "+1e308 on one class": np.where(signs > 0, 0.0, 1e308),
            "-1e308 on one class": np.where(signs > 0, -1e308, 0.0), "subnormal": signs * 5e-324,
            "float16 max": (signs * 65504).astype(np.float16), "float64 max": signs * np.finfo(np.float64).max}[kind]


def strict(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} in stored JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("kind", ["mixed ±1e308", "+1e308 on one class", "-1e308 on one class", "subnormal",
                                  "float16 max", "float64 max"])
def test_extreme_finite_logits_are_recorded_finite_and_the_page_parses(kind, homework, people, tmp_path):
    submission = Submission.objects.create(homework=homework, user=people["student"],
                                           file=ContentFile(factories.bundle(), name="s.zip"), original_name="s.zip",
                                           kind="bundle", size=1, sha256="0" * 64)
    claimed = runs.claim(runs.open_run(submission.pk, runs.SCORE).pk, runs.SCORE, "w1")
    dataset = homework.dataset.path
    for split in ("test", "shift"):
        labels = np.load(layout.split_file(dataset, split, layout.LABELS))
        np.save(tmp_path / logits_name(split), extreme(kind, len(labels)))
    scores, diagnostics = score(tmp_path, dataset, "cpu")
    assert record(claimed, Evaluation(SCORED, "Scored.", scores=scores, diagnostics=diagnostics, backend="process"))
    submission.refresh_from_db()
    assert submission.status == "scored"
    strict(json.dumps({"scores": submission.scores, "diagnostics": submission.trusted_diagnostics}))  # what jsonb took
    assert math.isfinite(submission.scores["all"]["nll"])
    assert submission.trusted_diagnostics["public"]["calibration"] is not None
    client = Client()
    client.force_login(people["student"])
    page = client.get(f"/submissions/{submission.pk}/diagnostics/")
    assert page.status_code == 200
    script = re.search(r'<script id="diagnostics-data" type="application/json">(.*?)</script>', page.content.decode(),
                       re.S)
    strict(script.group(1))  # as the browser's JSON.parse reads it: Infinity would not parse
    print(f"{kind}: recorded on {connection.vendor}, nll {submission.scores['all']['nll']:.1f}")
