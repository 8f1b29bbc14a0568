"""What a run says of itself is the model's word. Time and memory verdicts come only from what the
worker observed, whatever result.json claims; a rescore gives the same score, however the model
draws its random numbers (the runtime's seeds: run once, in Docker where it runs). The claims on both
sandbox backends, each of which observes time and memory its own way."""
from __future__ import annotations

import pytest

from basin_grader.evaluate import evaluate
from basin_grader.sandbox import SandboxLimits, get_backend
from basin_grader.verdicts import HIDDEN_PASS_MESSAGES, RUNTIME_ERROR, SCORED
from tests import factories, services
from tests.grader.test_adversarial import OUT, before_build


@pytest.fixture(params=["process", "docker"])
def backend(request):
    if request.param == "docker":
        services.require("docker")
    return get_backend(request.param)


def graded(backend, tmp_path, dataset, source: str):
    path = factories.write(tmp_path / "submission.zip", factories.bundle(model_source=source))
    return evaluate(path, dataset, tmp_path / "attempt", backend, SandboxLimits(wall_seconds=120))


def claim(verdict: str, only_on_hidden_images: bool) -> str:
    """model.py that writes result.json claiming `verdict`, then exits at once (status 1)."""
    condition = ("any(n.endswith('_images.npy') and not n.startswith('rehearsal') for n in os.listdir(data))"
                 if only_on_hidden_images else "True")
    return before_build(OUT + "data = '/data' if os.path.isdir('/data') else sys.argv[sys.argv.index('--data') + 1]\n"
                        f"if {condition}:\n"
                        "    import json\n"
                        "    with open(out + '/result.json', 'w') as f:\n"
                        f"        json.dump({{'status': 'error', 'verdict': '{verdict}', 'message': 'claimed'}}, f)\n"
                        "    os._exit(1)\n")


def test_a_run_cannot_claim_a_time_limit_in_the_rehearsal(backend, tmp_path, tiny_dataset):
    result = graded(backend, tmp_path, tiny_dataset, claim("time_limit", only_on_hidden_images=False))
    assert result.verdict == RUNTIME_ERROR and result.message == "claimed"


def test_a_run_cannot_claim_a_memory_verdict_on_the_hidden_images(backend, tmp_path, tiny_dataset):
    result = graded(backend, tmp_path, tiny_dataset, claim("memory_limit", only_on_hidden_images=True))
    assert result.verdict == RUNTIME_ERROR and result.message == HIDDEN_PASS_MESSAGES[RUNTIME_ERROR]
    assert result.hidden_log.startswith("claimed")  # the course's TAs read what it said


# Random at every step a student might leave it: dropout left on, noise drawn in forward with
# torch and with numpy.
RANDOM_EVERYWHERE = factories.BASELINE_SOURCE + '''
import numpy as _np
_build = build_model
def build_model():
    m = _build()
    drop = nn.Dropout(0.5)
    def noisy(mod, inp, out):
        return drop.train()(out) + torch.randn_like(out) + float(_np.random.rand())
    m.register_forward_hook(noisy)
    return m
'''


def test_a_rescore_gives_the_same_score_however_the_model_draws_random_numbers(tmp_path, tiny_dataset):
    backend = get_backend(services.either_sandbox())
    path = factories.write(tmp_path / "submission.zip", factories.bundle(model_source=RANDOM_EVERYWHERE))
    first, second = (evaluate(path, tiny_dataset, tmp_path / f"attempt{i}", backend, SandboxLimits(wall_seconds=120))
                     for i in (1, 2))
    assert first.verdict == second.verdict == SCORED, (first.message, first.log_tail)
    assert first.scores == second.scores


# A line number is the model's word too: a forged one (compiled under model.py's name, or written
# into result.json) could carry 20 bits of hidden pixels per failure. Only a line model.py has is named.
FORGED_LINE = factories.BASELINE_SOURCE + '''
import os as _os, sys as _sys
_build = build_model
def build_model():
    m = _build()
    def hook(mod, inp, out):
        data = '/data' if _os.path.isdir('/data') else _sys.argv[_sys.argv.index('--data') + 1]
        if _os.path.exists(_os.path.join(data, 'test_images.npy')):
            pixel = int(inp[0][0, 0, 0, 0].abs().item() * 1000)
            exec(compile("\\n" * (5000 + pixel) + "raise KeyError()", __file__, "exec"))
        return out
    m.register_forward_hook(hook)
    return m
'''


def test_a_line_that_model_py_does_not_have_is_not_named(tmp_path, tiny_dataset):
    result = graded(get_backend("process"), tmp_path, tiny_dataset, FORGED_LINE)
    assert result.verdict == RUNTIME_ERROR
    assert result.message == f"{HIDDEN_PASS_MESSAGES[RUNTIME_ERROR]} It was a KeyError."
    assert 'model.py", line ' in result.hidden_log  # the course's TAs read the traceback


def unreadable_result(payload: str, exit_code: int) -> str:
    """model.py whose hidden pass leaves a result.json the worker cannot read as a claim, then exits."""
    return before_build(OUT + "data = '/data' if os.path.isdir('/data') else sys.argv[sys.argv.index('--data') + 1]\n"
                        "if os.path.exists(os.path.join(data, 'test_images.npy')):\n"
                        "    import atexit\n"
                        "    def _late():\n"
                        f"        open(out + '/result.json', 'w').write({payload})\n"
                        f"        os._exit({exit_code})\n"
                        "    atexit.register(_late)\n")


@pytest.mark.parametrize("payload, exit_code, verdict", [
    ("'x' * 70_000", 0, SCORED),  # over the size cap, on a run that succeeded: no claim, its logits scored
    ("'[' * 100_000", 1, RUNTIME_ERROR),  # nested past the parser's recursion
    ("'{\"verdict\": ' + '9' * 5000 + '}'", 1, RUNTIME_ERROR),  # an integer past Python's digit limit
], ids=["oversized", "deep", "huge integer"])
def test_a_result_file_the_worker_cannot_read_is_no_claim_and_no_crash(tmp_path, tiny_dataset, payload, exit_code,
                                                                        verdict):
    result = graded(get_backend("process"), tmp_path, tiny_dataset, unreadable_result(payload, exit_code))
    assert result.verdict == verdict, (result.message, result.hidden_log[-2000:])
