"""The sandbox's diagnostics: loss landscape, sharpness and the feature view, checked against
definitions and hand computations; then the worker's reading of a report it cannot trust."""
import json
import math
import time

import numpy as np
import pytest
import torch

from basin_grader.budgets import DEFAULTS, BudgetError, resolve_budget, seeds_of
from basin_grader.evaluate import diagnose_in_sandbox
from basin_grader.landscape_summary import axis, basin_area, flat_radius
from basin_grader.runtime import landscape as ls
from basin_grader.runtime.diagnostics import Diagnostics, plain_loss
from basin_grader.runtime.features import pca_2d, penultimate_features
from basin_grader.runtime.loading import load_model
from basin_grader.runtime.sharpness import HessianVectorProduct, hutchinson_trace, top_eigenvalue
from basin_grader.sandbox import get_backend
from basin_grader.sandbox_diagnostics import read_report
from tests import factories

BUDGET = resolve_budget("cpu", factories.SMALL_BUDGET)


@pytest.fixture(scope="module")
def data():
    """Public-label images the model can tell apart a little: a trained model is not needed for definitions."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (160, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 160)
    return {"train": (images[:96], labels[:96]), "val": (images[96:], labels[96:])}


def run(model, data, budget=BUDGET, deadline=math.inf):
    flushed = []
    report = Diagnostics(model, data, budget, "cpu", deadline, flushed.append).run()
    return report, flushed


@pytest.fixture(scope="module")
def honest(data):
    """(model, report): one honest run of the baseline, read by every test that only looks at it
    (a run leaves its model untouched: test_a_run_leaves_parameters_and_buffers_untouched_...)."""
    model = factories.baseline(factories.baseline_state(seed=1))
    report, _ = run(model, data)
    return model, report


def test_the_landscape_centre_is_the_plain_loss(data, honest):
    model, report = honest
    subset = ls.Subset(torch.from_numpy(factories.model_input(data["train"][0][:BUDGET.samples])),
                       torch.from_numpy(data["train"][1][:BUDGET.samples]), 7)  # another batching, same loss
    loss, accuracy = plain_loss(model, subset)
    centre = len(axis(BUDGET.grid)) // 2
    assert report["landscape"]["grid"]["train"]["loss"][centre][centre] == pytest.approx(loss, rel=1e-5)
    assert report["landscape"]["grid"]["train"]["accuracy"][centre][centre] == accuracy
    for line in report["landscape"]["lines"]:
        assert line["train"]["loss"][len(line["train"]["loss"]) // 2] == pytest.approx(loss, rel=1e-5)
    assert report["landscape"]["centre"]["train"]["loss"] == pytest.approx(loss, rel=1e-5)
    # and away from the centre the loss differs: the directions do move the weights
    assert report["landscape"]["lines"][0]["train"]["loss"][0] != pytest.approx(loss, rel=1e-3)


def test_each_direction_filter_has_the_norm_of_its_weight_filter_and_1d_parameters_stay_put():
    model = factories.baseline(factories.baseline_state(seed=2))
    base = ls.parameters_of(model)
    for direction in ls.directions(base, [11, 12]):
        assert direction.keys() == base.keys()
        for name, w in base.items():
            d = direction[name]
            if w.dim() <= 1:
                assert torch.count_nonzero(d) == 0, name
            else:
                torch.testing.assert_close(d.flatten(1).norm(dim=1), w.flatten(1).norm(dim=1), rtol=1e-5, atol=1e-7)
    again = ls.directions(base, [11])[0]
    assert all(torch.equal(again[n], ls.directions(base, [11])[0][n]) for n in base)  # seeded: reproducible


def test_a_run_leaves_parameters_and_buffers_untouched_and_the_model_in_eval_mode(data):
    model = factories.baseline(factories.baseline_state(seed=3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report, _ = run(model, data)
    assert not report["errors"] and not report["partial"]
    after = model.state_dict()
    assert any("running_mean" in k for k in before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert not model.training and not any(m.training for m in model.modules())


class ViewsAFeatureMap(torch.nn.Module):
    """A classic student model: .view() of a conv feature map, which channels_last cannot serve."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 5, stride=4)
        self.fc = torch.nn.Linear(4 * 15 * 15, 10)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return self.fc(h.view(h.size(0), -1))


def test_channels_last_is_used_where_the_model_agrees_and_dropped_where_it_cannot(data, honest):
    assert honest[1]["memory_format"] == "channels_last"
    torch.manual_seed(0)
    model = ViewsAFeatureMap().eval()
    report, _ = run(model, data)
    assert report["memory_format"] == "plain" and not report["errors"] and not report["partial"]
    subset = ls.Subset(torch.from_numpy(factories.model_input(data["train"][0][:BUDGET.samples])),
                       torch.from_numpy(data["train"][1][:BUDGET.samples]), 64)
    centre = len(axis(BUDGET.grid)) // 2
    assert report["landscape"]["grid"]["train"]["loss"][centre][centre] == pytest.approx(plain_loss(model, subset)[0],
                                                                                         rel=1e-5)


class StandardizesItsWeights(torch.nn.Module):
    """Weight standardization with .view() of its own conv weight: channels_last weights refuse it."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=4)
        self.fc = torch.nn.Linear(4, 10)

    def forward(self, x):
        w = self.conv.weight
        flat = w.view(w.size(0), -1)
        w = ((flat - flat.mean(1, keepdim=True)) / (flat.std(1, keepdim=True) + 1e-5)).view_as(w)
        h = torch.nn.functional.conv2d(x, w, self.conv.bias, stride=4)
        return self.fc(h.mean((2, 3)))


def test_a_model_that_views_its_own_weights_keeps_the_plain_layout(data):
    torch.manual_seed(0)
    report, _ = run(StandardizesItsWeights().eval(), data)
    assert report["memory_format"] == "plain" and not report["errors"] and not report["partial"]


def test_a_program_exported_in_training_mode_is_run_in_eval_mode_like_its_bundle(tmp_path, data, honest):
    from basin.demo import baseline_model

    state = factories.baseline_state(seed=1)  # honest's
    model = baseline_model.build_model()
    model.load_state_dict(state)
    model.train()  # the mistake: exported before model.eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.export.save(torch.export.export(model, (torch.zeros(2, 3, 64, 64),), dynamic_shapes=({0: batch},)),
                      str(tmp_path / "train.pt2"))
    exported = load_model(tmp_path / "train.pt2", tmp_path / "e")
    buffers = {k: v.clone() for k, v in exported.named_buffers()}
    bundle_report = honest[1]
    export_report, _ = run(exported, data)
    np.testing.assert_allclose(_numbers(export_report["landscape"]), _numbers(bundle_report["landscape"]),
                               rtol=1e-4, atol=1e-5)
    assert all(torch.equal(v, buffers[k]) for k, v in exported.named_buffers())


def test_stacked_points_under_vmap_equal_the_plain_loop(data):
    model = factories.baseline(factories.baseline_state(seed=1))
    base = ls.parameters_of(model)
    d1, d2 = ls.directions(base, [1, 2])
    steps = [[(a, d1), (b, d2)] for a in (-1.0, 0.0, 0.5) for b in (-0.5, 1.0)]
    subset = ls.Subset(torch.from_numpy(factories.model_input(data["val"][0][:24])),
                       torch.from_numpy(data["val"][1][:24]), 16)
    looped = ls.run_points(model, base, steps, {"val": subset}, points_per_call=1)["val"]
    stacked = ls.run_points(model, base, steps, {"val": subset}, points_per_call=4)["val"]
    for (l1, a1), (l2, a2) in zip(looped, stacked, strict=True):
        assert l1 == pytest.approx(l2, rel=1e-4) and a1 == a2


def _quadratic(a_blocks):
    """loss(p) = ½ Σ pᵢᵀ Aᵢ pᵢ over two parameter tensors: its Hessian is block-diag(A₁, A₂) everywhere."""
    def loss_of(params):
        return sum(0.5 * p.flatten() @ a @ p.flatten() for p, a in zip(params, a_blocks, strict=True))
    return loss_of


def test_sharpness_of_an_exact_quadratic_matches_its_eigenvalues_and_trace():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    a1 = q @ torch.diag(torch.tensor([9.0, 4.0, 2.5, 1.0, 0.5, -0.5], dtype=torch.float64)) @ q.T
    a2 = torch.diag(torch.tensor([3.0, 1.0, 2.0, 0.25], dtype=torch.float64))
    params = [torch.randn(2, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)]
    hvp = HessianVectorProduct(_quadratic([a1, a2]), params)
    eigen = top_eigenvalue(hvp, iterations=500, seed=1, tol=1e-10)
    assert eigen.converged and eigen.value == pytest.approx(9.0, rel=1e-6)
    exact_trace = float(torch.trace(a1) + torch.trace(a2))  # 22.75
    trace = hutchinson_trace(hvp, probes=400, seed=2)
    assert trace.probes == 400 and trace.standard_error > 0
    assert abs(trace.value - exact_trace) < 4 * trace.standard_error
    # Rademacher probes of a diagonal Hessian are exact: zᵀDz = tr(D) for every z
    diagonal = hutchinson_trace(HessianVectorProduct(_quadratic([torch.eye(6, dtype=torch.float64) * 2, a2]), params),
                                probes=5, seed=3)
    assert diagonal.value == pytest.approx(12 + 6.25) and diagonal.standard_error == pytest.approx(0, abs=1e-12)


def test_sharpness_stops_at_the_deadline_with_what_it_has():
    params = [torch.ones(3, dtype=torch.float64)]
    hvp = HessianVectorProduct(_quadratic([torch.eye(3, dtype=torch.float64)]), params)
    assert top_eigenvalue(hvp, 50, seed=0, deadline=time.monotonic() - 1).iterations == 0
    assert hutchinson_trace(hvp, 50, seed=0, deadline=time.monotonic() - 1).probes == 0


def test_features_are_the_input_of_the_final_linear_layer_and_pca_is_sign_fixed(data):
    model = factories.baseline(factories.baseline_state(seed=5))
    x = torch.from_numpy(factories.model_input(data["val"][0][:20]))
    seen = {}
    model.head.register_forward_pre_hook(lambda module, args: seen.setdefault("x", args[0].detach().clone()))
    features = penultimate_features(model, x, batch_size=20)
    torch.testing.assert_close(features, seen["x"])
    coords, explained = pca_2d(features)
    assert coords.shape == (20, 2) and 0 < explained[1] <= explained[0] <= 1
    # Sign fixing: each axis has its largest loading positive, so the same cloud mirrored through
    # the origin gives exactly the mirrored picture (an SVD alone may flip either axis).
    mirrored, _ = pca_2d(-features)
    torch.testing.assert_close(mirrored, -coords, rtol=1e-4, atol=1e-5)
    centred = (features - features.mean(0)).double()
    axes = torch.linalg.lstsq(centred, coords.double()).solution.T  # coords = centred @ axesᵀ
    largest = axes.gather(1, axes.abs().argmax(1, keepdim=True))
    assert (largest > 0).all()


def test_the_bundle_and_the_torch_export_program_give_the_same_diagnostics(tmp_path, data):
    state = factories.baseline_state(seed=6)
    bundle = load_model(factories.write(tmp_path / "m.zip", factories.bundle(state=state)), tmp_path / "b")
    exported = load_model(factories.export_program(state, tmp_path / "m.pt2"), tmp_path / "e")
    a, _ = run(bundle, data)
    b, _ = run(exported, data)
    assert not a["errors"] and not b["errors"]
    for key in ("generalization", "sharpness", "landscape", "features"):
        np.testing.assert_allclose(_numbers(a[key]), _numbers(b[key]), rtol=1e-4, atol=1e-5, err_msg=key)


def _numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _numbers(value[k])]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [float(value)] if isinstance(value, (int, float)) and value is not None else []


def test_a_run_past_its_deadline_reports_the_rest_as_partial(data):
    model = factories.baseline(factories.baseline_state(seed=1))
    report, flushed = run(model, data, deadline=time.monotonic() - 1)
    assert report["partial"] == ["generalization", "features", "lines", "sharpness", "grid"]
    assert flushed[-1]["partial"] == report["partial"]  # written out, so the worker reads why


def test_a_model_that_cannot_be_differentiated_loses_only_that_part(data):
    class NoGrad(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = factories.baseline(factories.baseline_state(seed=1))

        def forward(self, x):
            return self.inner(x).detach()

    report, _ = run(NoGrad().eval(), data)
    assert set(report["errors"]) == {"sharpness"} and "generalization" in report and "grid" in report["landscape"]


def test_flat_radius_interpolates_between_points_and_looks_both_ways():
    alphas = axis(5)  # -1, -0.5, 0, 0.5, 1
    assert flat_radius(alphas, [1.0, 1.0, 1.0, 1.05, 1.2]) == pytest.approx(0.5 + 0.5 * (0.05 / 0.15))
    # rises on the left only: 0.2 by |α|=0.5
    assert flat_radius(alphas, [1.3, 1.2, 1.0, 1.0, 1.0]) == pytest.approx(0.25)
    assert flat_radius(alphas, [1.0, 1.0, 1.0, 1.0, 1.0]) is None  # flat in the whole range
    assert flat_radius(alphas, [None, None, 1.0, None, None]) is None
    assert flat_radius(alphas, [1.0, 1.0, 1.0, 1.01, math.inf]) == pytest.approx(0.5)  # diverged beyond 0.5
    assert basin_area([[1.0, 1.2], [1.05, None]], centre_loss=1.0) == pytest.approx(2 / 3)
    assert basin_area([[1.0, math.inf], [math.inf, math.inf]], centre_loss=1.0) == pytest.approx(1 / 4)


def test_budgets_default_by_device_and_refuse_bad_settings_with_a_fix():
    assert (DEFAULTS["cpu"].grid, DEFAULTS["cpu"].samples, DEFAULTS["gpu"].grid,
            DEFAULTS["gpu"].samples) == (11, 256, 51, 2048)
    assert resolve_budget("gpu", {"grid": 21}).grid == 21
    with pytest.raises(BudgetError, match="grid must be odd .* use 9"):
        resolve_budget("cpu", {"grid": 8})
    with pytest.raises(BudgetError, match="unknown diagnostics setting"):
        resolve_budget("cpu", {"gird": 5})
    with pytest.raises(BudgetError, match="whole number from 3 to 101"):
        resolve_budget("cpu", {"grid": "big"})
    assert seeds_of(resolve_budget("cpu", {"seed": 2}))["directions"] == [2001, 2002, 2003]


# --- the worker's side: a report from the sandbox is untrusted input ---------------------------

def _honest_report(honest, tmp_path):
    """The honest report, a copy of its own to tamper with, and the file it was written to."""
    path = tmp_path / "diagnostics.json"
    path.write_text(json.dumps(honest[1]))
    return json.loads(path.read_text()), path


def test_an_honest_report_reads_back_with_summaries_recomputed(honest, tmp_path):
    raw, path = _honest_report(honest, tmp_path)
    report = read_report(path, BUDGET)
    assert report["partial"] == [] and report["errors"] == {}
    assert report["landscape"]["grid"]["train"]["loss"] == raw["landscape"]["grid"]["train"]["loss"]
    assert len(report["landscape"]["flat_radius"]) == 3 and "basin_area" in report["landscape"]["grid"]
    assert report["generalization"]["gap"]["accuracy"] == pytest.approx(
        raw["generalization"]["train"]["accuracy"] - raw["generalization"]["val"]["accuracy"])


@pytest.mark.parametrize("tamper, part", [
    (lambda r: r["generalization"]["val"].update(accuracy=5), "generalization"),
    (lambda r: r["landscape"]["grid"]["train"]["loss"].append([0.0] * 5), "grid"),
    (lambda r: r["landscape"]["lines"][0]["train"]["loss"].__setitem__(0, "<script>"), "lines"),
    (lambda r: r["features"].update(labels=[11] * len(r["features"]["labels"])), "features"),
    (lambda r: r["sharpness"].update(converged="yes"), "sharpness"),
    (lambda r: r["sharpness"].update(iterations=10**9), "sharpness"),
])
def test_a_tampered_part_is_dropped_and_the_rest_kept(honest, tmp_path, tamper, part):
    raw, path = _honest_report(honest, tmp_path)
    tamper(raw)
    path.write_text(json.dumps(raw))
    report = read_report(path, BUDGET)
    assert report["partial"] == [part]
    assert all(p in report or p in report.get("landscape", {}) for p in ("generalization", "features", "sharpness")
               if p != part)


def test_diverged_points_count_as_outside_the_basin_and_are_stored_as_gaps(honest, tmp_path):
    raw, path = _honest_report(honest, tmp_path)
    side = BUDGET.grid
    raw["landscape"]["grid"]["train"]["loss"] = [["diverged"] * side for _ in range(side)]
    raw["landscape"]["grid"]["train"]["loss"][side // 2][side // 2] = 2.0
    raw["landscape"]["lines"][0]["train"]["loss"][-1] = "diverged"
    path.write_text(json.dumps(raw))
    report = read_report(path, BUDGET)
    grid = report["landscape"]["grid"]
    assert grid["basin_area"]["train"] == pytest.approx(1 / side ** 2) and grid["train"]["diverged"] == side ** 2 - 1
    assert grid["train"]["loss"][0][0] is None and report["landscape"]["lines"][0]["train"]["diverged"] == 1
    json.dumps(report, allow_nan=False)  # storable: no infinity left


def test_a_grid_cut_short_has_no_basin_area(honest, tmp_path):
    raw, path = _honest_report(honest, tmp_path)
    raw["landscape"]["grid"]["val"]["loss"][-1] = [None] * BUDGET.grid
    raw["partial"] = ["grid"]
    path.write_text(json.dumps(raw))
    report = read_report(path, BUDGET)
    assert report["landscape"]["grid"]["basin_area"]["val"] is None and report["partial"] == ["grid"]
    assert report["landscape"]["grid"]["basin_area"]["train"] is not None


def test_hostile_numbers_and_text_in_a_report_never_break_the_worker(honest, tmp_path):
    raw, path = _honest_report(honest, tmp_path)
    raw["errors"] = {"features": "bad\x00bytes\udcff"}
    path.write_text(json.dumps(raw).replace('"n": 64', '"n": ' + "9" * 400, 1))  # an int no float can hold
    report = read_report(path, BUDGET)
    assert report["errors"]["features"] == "bad\ufffdbytes?" and "generalization" in report["partial"]
    report_text = json.dumps(report, ensure_ascii=False)
    report_text.encode("utf-8")  # storable in PostgreSQL's jsonb: no NULs, no lone surrogates


@pytest.mark.parametrize("content", [b"", b"not json", b"[1, 2]", b"{" * 100000])
def test_an_unreadable_report_is_all_partial_not_an_error(tmp_path, content):
    path = tmp_path / "diagnostics.json"
    path.write_bytes(content)
    report = read_report(path, BUDGET)
    assert report["partial"] == ["generalization", "features", "lines", "sharpness", "grid"]
    assert "report" in report["errors"]


def test_a_diagnostics_run_out_of_time_in_docker_keeps_its_finished_parts(tmp_path, tiny_dataset):
    """(The process backend's run out of time is tests/platform/test_diagnostics_run.py's.)"""
    from tests import services

    services.require("docker")
    backend = get_backend("docker")
    submission = factories.write(tmp_path / "m.zip", factories.bundle())
    # 10,201 points: never done
    budget = resolve_budget("cpu", {**factories.SMALL_BUDGET, "grid": 101, "time_limit_s": 12})
    report = diagnose_in_sandbox(submission, tiny_dataset, tmp_path / "attempt", backend, budget)
    assert report["status"] == "partial" and "grid" in report["partial"]
    assert "generalization" in report and report["generalization"]["train"]["n"] == 64
    assert report["sandbox_s"] < 30


# --- reading the report like every sandbox output: no FIFO, no link, nothing larger than the budget ----

def _read_in_time(path, budget=BUDGET) -> dict:
    """read_report in a thread: a FIFO that hung it would leave the thread alive."""
    import threading

    found = {}
    reader = threading.Thread(target=lambda: found.update(report=read_report(path, budget)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "read_report hung"
    return found["report"]


def test_a_fifo_or_a_link_in_place_of_the_report_is_refused_without_hanging(tmp_path, honest):
    import os

    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    report = _read_in_time(fifo)
    assert "not a regular file" in report["trust"]["failed"]["report"] and report["trust"]["trusted"] is False
    _, path = _honest_report(honest, tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    report = _read_in_time(link)
    assert "not a regular file" in report["trust"]["failed"]["report"]
    assert report["partial"] == ["generalization", "features", "lines", "sharpness", "grid"]


def test_a_report_larger_than_the_budget_can_produce_is_refused_before_parsing(tmp_path, honest):
    from basin_grader.sandbox_diagnostics import max_report_bytes

    raw, path = _honest_report(honest, tmp_path)
    assert path.stat().st_size < max_report_bytes(BUDGET)  # an honest one fits
    assert max_report_bytes(DEFAULTS["gpu"]) < 1 << 20  # the cap follows the budget: under a MiB by default
    path.write_text(json.dumps(raw) + " " * max_report_bytes(BUDGET))
    report = read_report(path, BUDGET)
    assert "at most" in report["trust"]["failed"]["report"]
    assert report["partial"] == ["generalization", "features", "lines", "sharpness", "grid"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_report_with_a_number_json_does_not_allow_is_unreadable(tmp_path, honest, constant):
    raw, path = _honest_report(honest, tmp_path)
    path.write_text(json.dumps(raw).replace('"trace": ', f'"trace": {constant}, "was": ', 1))
    report = read_report(path, BUDGET)
    assert "generalization" not in report and report["errors"]["report"]


def test_a_hostile_64_mib_report_costs_the_worker_no_memory(tmp_path):
    """The issue's amplification: 64 MiB of empty lists once made the worker peak at 1.7 GB."""
    import subprocess
    import sys

    hostile = tmp_path / "diagnostics.json"
    count = (64 << 20) // 3
    hostile.write_bytes(b'{"features": {"points": [' + b"[]," * (count - 1) + b"[]]}}")
    script = ("import resource, sys\nfrom pathlib import Path\nfrom basin_grader.budgets import DEFAULTS\n"
              "from basin_grader.sandbox_diagnostics import read_report\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "report = read_report(Path(sys.argv[1]), DEFAULTS['gpu'])\n"
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, report['trust']['failed']['report'])")
    done = subprocess.run([sys.executable, "-c", script, str(hostile)], capture_output=True, text=True, check=True)
    grown_kb, why = done.stdout.split(" ", 1)
    assert int(grown_kb) < 16 * 1024, f"reading it grew the peak RSS by {int(grown_kb) / 1024:.0f} MB"
    assert "at most" in why
