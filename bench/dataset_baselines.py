"""How hard difficult-MNIST is: a linear model against the course's small CNN, on test and shift.

    python bench/dataset_baselines.py --data DATASET_DIR [--cnn-epochs 2] [--linear-epochs 5]

A TA-side measurement (it reads the hidden labels of DATASET_DIR): logistic regression on raw
pixels (normalized as the grader does) and the demo's baseline CNN, both trained on train only,
on the CPU. Prints a Markdown table for datasets/README.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from basin.demo.training import train_baseline
from basin_grader import dataset_layout as layout
from basin_grader.convention import to_model_input


def load(dataset: Path, split: str) -> tuple[torch.Tensor, np.ndarray]:
    images = np.load(layout.split_file(dataset, split, layout.IMAGES))
    return torch.from_numpy(to_model_input(images)), np.load(layout.split_file(dataset, split, layout.LABELS))


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: np.ndarray) -> float:
    with torch.no_grad():
        predicted = torch.cat([model(batch).argmax(1) for batch in x.split(512)]).numpy()
    return float((predicted == y).mean())


def logistic_regression(x: torch.Tensor, y: np.ndarray, epochs: int, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(x[0].numel(), 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    target = torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(256):
            loss = torch.nn.functional.cross_entropy(model(x[idx]), target[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a dataset version built with python -m dmnist build")
    parser.add_argument("--cnn-epochs", type=int, default=2)
    parser.add_argument("--linear-epochs", type=int, default=5)
    args = parser.parse_args()
    splits = {s: load(args.data, s) for s in ("val", "test", "shift")}
    rows = []

    started = time.perf_counter()
    train_x, train_y = load(args.data, "train")
    linear = logistic_regression(train_x, train_y, args.linear_epochs)
    rows.append((f"logistic regression, raw pixels, {args.linear_epochs} epochs", time.perf_counter() - started,
                 linear))
    del train_x

    started = time.perf_counter()
    cnn = train_baseline(args.data, epochs=args.cnn_epochs, log=lambda line: print(line, file=sys.stderr))
    rows.append((f"small CNN (the demo's baseline), {args.cnn_epochs} epochs", time.perf_counter() - started, cnn))

    counts = {s: len(y) for s, (_, y) in splits.items()}
    print(f"| model (trained on train, CPU, torch {torch.__version__}) "
          "| val | test | shift | drop test→shift | training |")
    print("|---|---|---|---|---|---|")
    for name, seconds, model in rows:
        acc = {s: accuracy(model, x, y) for s, (x, y) in splits.items()}
        print(f"| {name} | {acc['val']:.3f} | {acc['test']:.3f} | {acc['shift']:.3f} | "
              f"{acc['test'] - acc['shift']:+.3f} | {seconds:.0f} s |")
    print(f"\n({', '.join(f'{s} {n:,}' for s, n in counts.items())} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
