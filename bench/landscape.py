"""Loss-landscape benchmark: Basin's 2D landscape against the floor and against the reference
tool's per-point loop, in one run, on the same model and the same subset.

    python bench/landscape.py                       # the CPU budget: 11×11 grid on 256 images, batch 32, 1 thread
    python bench/landscape.py --device cuda --grid 51 --samples 2048 --batch-size 2048 --points-per-call 4

(a) Basin: basin_grader.runtime.landscape.run_points, as the sandbox runs it (functional_call on
    perturbed copies, data resident on the device in channels_last where the model agrees; vmap
    over points and bf16 autocast on a GPU).
(b) reference: a straightforward re-implementation of the per-point loop of Li et al.'s
    loss-landscape tool: write w + αd₁ + βd₂ into the model, evaluate over a DataLoader
    (batch 128, normalized per batch), next point.
(c) floor: grid points × one plain forward pass over the subset (median of --repeat passes), in
    Basin's memory layout; (c') the same in the model's own layout, as a student's loop runs it.
Prints each one's total and per-point cost, its ratio to the floor (c), and Basin's speed-up over (b).
The model is the starter notebook's CNN (the demo baseline), randomly initialized: cost does not
depend on the weights. Target: Basin ≤ 1.15× the floor.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))

from basin.demo.baseline_model import build_model  # noqa: E402
from basin_grader.budgets import DEFAULTS  # noqa: E402
from basin_grader.convention import to_model_input  # noqa: E402
from basin_grader.landscape_summary import axis  # noqa: E402
from basin_grader.runtime import landscape as ls  # noqa: E402

TARGET = 1.15


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def floor_per_pass(model, subset: ls.Subset, repeat: int, autocast: bool) -> float:
    """One plain forward pass over the subset, as a student's evaluation would run it."""
    times = []
    for _ in range(repeat + 1):  # the first pass warms up allocators and kernels
        _sync(subset.x.device.type)
        started = time.perf_counter()
        with torch.no_grad(), torch.autocast(subset.x.device.type, dtype=torch.bfloat16, enabled=autocast):
            for b in range(0, len(subset.y), subset.batch_size):
                model(subset.x[b:b + subset.batch_size])
        _sync(subset.x.device.type)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def basin_landscape(model, base, steps, subset: ls.Subset, points_per_call: int, autocast: bool) -> float:
    _sync(subset.x.device.type)
    started = time.perf_counter()
    found = ls.run_points(model, base, steps, {"train": subset}, points_per_call, autocast, deadline=float("inf"))
    _sync(subset.x.device.type)
    assert all(v is not None for v in found["train"])
    return time.perf_counter() - started


def reference_loop(model, base, directions, coefficients, images: np.ndarray, labels: np.ndarray, device: str) -> float:
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=False)
    params = dict(model.named_parameters())
    d1, d2 = directions
    _sync(device)
    started = time.perf_counter()
    for beta in coefficients:
        for alpha in coefficients:
            with torch.no_grad():  # set_weights: w + αd₁ + βd₂, written into the model
                for name, p in params.items():
                    p.copy_(base[name] + alpha * d1[name] + beta * d2[name])
            model.eval()
            total = correct = 0.0
            with torch.no_grad():
                for x, y in loader:
                    x = torch.from_numpy(to_model_input(x.numpy())).to(device)
                    y = y.to(device)
                    out = model(x)
                    total += float(F.cross_entropy(out, y, reduction="sum"))
                    correct += int((out.argmax(1) == y).sum())
    _sync(device)
    elapsed = time.perf_counter() - started
    with torch.no_grad():  # put the weights back
        for name, p in params.items():
            p.copy_(base[name])
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--grid", type=int, default=DEFAULTS["cpu"].grid)
    parser.add_argument("--samples", type=int, default=DEFAULTS["cpu"].samples)
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["cpu"].batch_size)
    parser.add_argument("--points-per-call", type=int, default=1, help="vmap over this many points (pays on a GPU)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (a sandbox gets 1 per CPU of its limit)")
    parser.add_argument("--repeat", type=int, default=5, help="plain passes timed for the floor")
    parser.add_argument("--skip-reference", action="store_true", help="do not time the reference loop (slow)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device, autocast = args.device, args.device == "cuda"
    model = build_model().to(device).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.samples, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, args.samples).astype(np.int64)
    plain = ls.Subset(torch.from_numpy(to_model_input(images)).to(device), torch.from_numpy(labels).to(device),
                      args.batch_size)
    memory_format = ls.choose_memory_format(model, plain.x[:2])
    subset = ls.Subset(plain.x.contiguous(memory_format=memory_format), plain.y, args.batch_size)
    base = {k: v.clone() for k, v in ls.parameters_of(model, memory_format).items()}
    plain_base = {k: v.detach().clone() for k, v in model.named_parameters()}
    directions = ls.directions(base, [1, 2])
    coefficients = axis(args.grid)
    steps = [[(a, directions[0]), (b, directions[1])] for b in coefficients for a in coefficients]
    points = len(steps)

    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"landscape benchmark · {name} · starter CNN ({sum(p.numel() for p in base.values()):,} parameters) · "
          f"{args.grid}×{args.grid} grid = {points} points · {args.samples} images · batch {args.batch_size} · "
          f"{'bf16 autocast' if autocast else 'fp32'} · {args.points_per_call} point(s) per call · "
          f"layout {'channels_last' if memory_format == torch.channels_last else 'plain'}")
    floor = floor_per_pass(model, subset, args.repeat, autocast) * points
    floor_plain = floor_per_pass(model, plain, args.repeat, autocast) * points
    basin = basin_landscape(model, base, steps, subset, args.points_per_call, autocast)
    reference = None if args.skip_reference else reference_loop(model, plain_base, directions, coefficients, images,
                                                                 labels, device)
    print(f"{'':32}{'total s':>10}{'per point ms':>14}{'× floor':>10}{'speed-up':>10}")
    rows = [("(c) floor", floor), ("(c') floor, model's own layout", floor_plain), ("(a) Basin", basin)]
    rows += [("(b) reference loop", reference)] if reference else []
    for label, total in rows:
        speedup = f"{reference / total:.2f}×" if reference and label == "(a) Basin" else ""
        print(f"{label:32}{total:10.2f}{1000 * total / points:14.1f}{total / floor:10.3f}{speedup:>10}")
    ratio = basin / floor
    print(f"Basin per point: {ratio:.3f}× the floor (target ≤ {TARGET}×): {'met' if ratio <= TARGET else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
