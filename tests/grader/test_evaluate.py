"""One evaluation through a real sandbox, per backend (once, where no backend code has a part): the
verdict a student would read."""
import numpy as np
import pytest
import torch

from basin_grader.evaluate import evaluate
from basin_grader.sandbox import SandboxLimits, get_backend
from basin_grader.verdicts import INVALID_OUTPUT, INVALID_SUBMISSION, MEMORY_LIMIT, RUNTIME_ERROR, SCORED, TIME_LIMIT
from tests import factories, services

BACKENDS = ["process", "docker"]
SMALL_BUDGET = factories.SMALL_BUDGET


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "docker":
        services.require("docker")
    return get_backend(request.param)


@pytest.fixture
def either_backend():
    """For a verdict the worker or the runtime decides the same way on either backend: run once."""
    return get_backend(services.either_sandbox())


def run(backend, tmp_path, dataset, data: bytes, name="submission.zip", **limits):
    path = factories.write(tmp_path / name, data)
    return evaluate(path, dataset, tmp_path / "attempt", backend, SandboxLimits(**{"wall_seconds": 120, **limits}))


def test_a_valid_bundle_is_scored_as_it_scores_in_process(backend, tmp_path, tiny_dataset):
    state = factories.baseline_state(seed=3)
    result = run(backend, tmp_path, tiny_dataset, factories.bundle(state=state))
    assert result.verdict == SCORED, result.log_tail
    public, private = factories.expected_accuracy(tiny_dataset, state)
    # The Docker image runs the CPU build of torch: allow one flipped argmax either way.
    tolerance = 0 if backend.name == "process" else 1.5 / result.scores["public"]["count"]
    assert result.scores["public"]["accuracy"] == pytest.approx(public, abs=tolerance + 1e-12)
    assert result.scores["private"]["accuracy"] == pytest.approx(private, abs=2 * tolerance + 1e-12)
    assert result.scores["public"]["count"] + result.scores["private"]["count"] == 300
    assert result.scores["shift"]["count"] == 60
    assert {"sandbox_s", "load_s", "inference_s", "scoring_s"} <= set(result.timings)


def test_an_exception_in_build_model_is_a_runtime_error_with_the_traceback(backend, tmp_path, tiny_dataset):
    result = run(backend, tmp_path, tiny_dataset, factories.bundle(model_source=factories.RAISES_IN_BUILD))
    assert result.verdict == RUNTIME_ERROR
    assert "my model is broken" in result.message and "Traceback" in result.log_tail


def test_a_model_that_never_finishes_hits_the_time_limit(backend, tmp_path, tiny_dataset):
    result = run(backend, tmp_path, tiny_dataset, factories.bundle(model_source=factories.SLEEPS_FOREVER),
                 wall_seconds=8)
    assert result.verdict == TIME_LIMIT
    assert "8 s" in result.message


def test_wrong_output_shape_is_invalid_output(either_backend, tmp_path, tiny_dataset):
    source = factories.WRONG_SHAPE
    state = factories.baseline_state()
    state["head.weight"], state["head.bias"] = torch.zeros(7, 64), torch.zeros(7)
    result = run(either_backend, tmp_path, tiny_dataset, factories.bundle(model_source=source, state=state))
    assert result.verdict == INVALID_OUTPUT
    assert "(2, 10)" in result.message


def test_a_memory_bomb_hits_the_memory_limit(backend, tmp_path, tiny_dataset):
    result = run(backend, tmp_path, tiny_dataset, factories.bundle(model_source=factories.MEMORY_BOMB),
                 memory_mb=1024)
    assert result.verdict == MEMORY_LIMIT


def test_weights_of_another_shape_get_one_line_naming_the_first_key_and_the_rest_go_to_the_log(tmp_path, tiny_dataset):
    state = factories.baseline_state()
    state["head.weight"], state["head.bias"] = torch.zeros(7, 64), torch.zeros(7)  # a 7-class head
    result = run(get_backend("process"), tmp_path, tiny_dataset, factories.bundle(state=state))
    assert result.verdict == INVALID_SUBMISSION
    assert result.message == ("The weights do not fit build_model()'s model: head.weight is [7, 64] in the checkpoint "
                              "but [10, 64] in the model and 1 more. Save model.state_dict() of the same "
                              "architecture that build_model() returns.")
    assert "shape mismatch for head.bias: checkpoint [7], model [10]" in result.log_tail


def test_a_refused_format_never_reaches_the_sandbox(tmp_path, tiny_dataset):
    class Untouchable:
        name = "untouchable"

        def run(self, *args):
            raise AssertionError("the sandbox must not run for a refused file")

    result = run(Untouchable(), tmp_path, tiny_dataset, b"not a zip")
    assert result.verdict == INVALID_SUBMISSION


def test_nul_bytes_and_lone_surrogates_in_the_output_are_made_storable(tmp_path, tiny_dataset):
    source = ("import sys\ndef build_model():\n    sys.stderr.write('bad\\x00bytes\\udcff\\n')\n"
              "    raise ValueError('x\\x00y')\n")
    result = run(get_backend("process"), tmp_path, tiny_dataset, factories.bundle(model_source=source))
    assert result.verdict == RUNTIME_ERROR
    assert "\x00" not in result.message + result.log_tail
    (result.message + result.log_tail).encode("utf-8")  # no lone surrogate left


def test_a_dataset_without_hidden_images_is_the_graders_fault_not_the_students(tmp_path):
    from basin_grader.verdicts import InfrastructureError

    empty = tmp_path / "empty-version"
    empty.mkdir()
    with pytest.raises(InfrastructureError, match="no test images"):
        run(get_backend("process"), tmp_path, empty, factories.bundle())


def test_an_empty_leaderboard_part_scores_none_not_nan():
    from basin_grader.scoring import metrics

    empty = metrics(np.zeros((0, 10)), np.zeros(0, dtype=np.int64))
    assert (empty["accuracy"], empty["nll"], empty["macro_f1"], empty["count"]) == (None, None, None, 0)


def test_the_command_line_prints_one_json_result_with_diagnostics(tmp_path, tiny_dataset):
    import json
    import subprocess
    import sys

    good = factories.write(tmp_path / "good.zip", factories.bundle())
    broken = factories.write(tmp_path / "broken.zip", factories.bundle(model_source=factories.RAISES_IN_BUILD))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "basin_grader", "evaluate", "--data", str(tiny_dataset),
                               "--backend", "process", *args], capture_output=True, text=True, timeout=300)

    done = cli("--submission", str(good), "--diagnostics", "cpu", "--diagnostics-budget", json.dumps(SMALL_BUDGET))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    model = result["diagnostics"]["model"]  # the sandbox's own run, on public-label subsets
    assert model["status"] == "complete", model
    assert {"generalization", "features", "landscape", "sharpness"} <= set(model)
    assert (model["landscape"]["grid"]["train"]["loss"][2][2]
            == pytest.approx(model["landscape"]["centre"]["train"]["loss"]))
    assert model["budget"]["grid"] == 5 and model["seeds"]["directions"] == [1, 2, 3]
    assert result["verdict"] == SCORED and set(result) >= {"message", "scores", "diagnostics", "timings", "log_tail"}
    assert result["diagnostics"]["profile"] == "cpu"
    reliability = result["diagnostics"]["public"]["calibration"]["reliability"]
    assert sum(row["count"] for row in reliability) == result["scores"]["public"]["count"]
    groups = result["diagnostics"]["public"]["by_paper_and_pen"]["groups"]
    assert sum(g["count"] for g in groups) == result["scores"]["public"]["count"]

    off = json.loads(cli("--submission", str(good), "--diagnostics", "off").stdout)
    assert off["diagnostics"] == {} and off["scores"] == result["scores"]
    failed = cli("--submission", str(broken))
    assert failed.returncode == 0 and json.loads(failed.stdout)["verdict"] == RUNTIME_ERROR  # a verdict: exit 0
    missing = cli("--submission", str(tmp_path / "nope.zip"))
    assert missing.returncode == 2 and "no submission file" in missing.stderr
    odd = cli("--submission", str(good), "--diagnostics-budget", '{"grid": 4}')
    assert odd.returncode == 2 and "grid must be odd" in odd.stderr and "use 5" in odd.stderr


def test_a_torch_export_program_scores_as_the_same_weights_in_a_bundle(either_backend, tmp_path, tiny_dataset):
    """In Docker where it runs: its image's torch is not the one that exported the program (the
    process backend loads it with the exporter's own), and the loading code is the runtime's."""
    backend = either_backend
    state = factories.baseline_state(seed=4)
    factories.export_program(state, tmp_path / "model.pt2")
    exported = evaluate(tmp_path / "model.pt2", tiny_dataset, tmp_path / "a1", backend, SandboxLimits(wall_seconds=120))
    bundled = run(backend, tmp_path, tiny_dataset, factories.bundle(state=state))
    assert exported.verdict == bundled.verdict == SCORED, exported.log_tail
    for part in ("public", "private", "shift"):
        assert exported.scores[part]["confusion"] == bundled.scores[part]["confusion"]
        assert exported.scores[part]["nll"] == pytest.approx(bundled.scores[part]["nll"], rel=1e-4)
