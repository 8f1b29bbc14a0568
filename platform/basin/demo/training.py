"""Training the demo's baseline on the CPU (our own code and data: trusted, unlike submissions)."""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as save_safetensors

from basin_grader import dataset_layout as layout
from basin_grader.convention import to_model_input

from . import baseline_model

MODEL_SOURCE = Path(baseline_model.__file__)
EPOCHS = 4


def train_baseline(dataset: Path, epochs: int = EPOCHS, batch_size: int = 64, seed: int = 0, log=print,
                   status=None) -> torch.nn.Module:
    """Trains the baseline CNN; `log` gets a line per epoch (its val accuracy), `status` (if given)
    a short text per batch for a progress line."""
    torch.manual_seed(seed)
    x = torch.from_numpy(to_model_input(np.load(layout.split_file(dataset, "train", layout.IMAGES))))
    y = torch.from_numpy(np.load(layout.split_file(dataset, "train", layout.LABELS)))
    val_x = torch.from_numpy(to_model_input(np.load(layout.split_file(dataset, "val", layout.IMAGES))))
    val_y = torch.from_numpy(np.load(layout.split_file(dataset, "val", layout.LABELS)))
    model = baseline_model.build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        started = time.perf_counter()
        model.train()
        batches = torch.randperm(len(x), generator=generator).split(batch_size)
        for number, idx in enumerate(batches, 1):
            if status:
                status(f"epoch {epoch + 1}/{epochs}, batch {number}/{len(batches)}")
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            accuracy = (torch.cat([model(b).argmax(1) for b in val_x.split(256)]) == val_y).float().mean().item()
        log(f"  epoch {epoch + 1}/{epochs}: val accuracy {accuracy:.3f} ({time.perf_counter() - started:.0f} s)")
    return model.eval()


def bundle_bytes(model: torch.nn.Module) -> bytes:
    """A submission bundle: model.py (the baseline's source) and weights.safetensors."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.py", MODEL_SOURCE.read_text())
        zf.writestr("weights.safetensors", save_safetensors({k: v.contiguous() for k, v in model.state_dict().items()}))
    return buf.getvalue()
