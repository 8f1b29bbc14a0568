"""`basin download`: a homework's public data, resumable, every file checked against the sha256
the server's manifest gives. Files land where dmnist.DifficultMNIST(root=DEST) reads them."""
from __future__ import annotations

import json
import os
from pathlib import Path

from tqdm import tqdm

# The dataset layout's one definition (the student toolkit ships it with the command).
from basin_grader import dataset_layout as layout

from .http import EXIT_REFUSED, Client, CliError


def download(client: Client, homework: str, splits: list[str], dest: Path, quiet: bool) -> dict:
    """Fetch the splits' files into dest/<split>/; returns {file: "fetched" | "present"}."""
    manifest = client.dataset(homework)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    report = {}
    for split in splits:
        for name in layout.PUBLIC_FILES:
            key = f"{split}/{name}"
            entry = manifest["files"].get(key)
            if entry is None:
                raise CliError(f"The server's dataset has no {key}.", EXIT_REFUSED)
            target = dest / split / name
            if (target.is_file() and target.stat().st_size == entry["size"]
                    and layout.sha256_file(target) == entry["sha256"]):
                report[key] = "present"
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")  # kept across interruptions: the next run resumes
            have = partial.stat().st_size if partial.exists() else 0
            if have > entry["size"]:
                partial.unlink()
                have = 0
            with tqdm(total=entry["size"], initial=have, unit="B", unit_scale=True, desc=key, disable=quiet,
                      leave=False) as bar:
                if have < entry["size"]:
                    client.fetch(entry["url"], partial, have, bar.update)
            got = layout.sha256_file(partial)
            if got != entry["sha256"]:
                partial.unlink()
                raise CliError(f"{key} failed its checksum (sha256 {got[:12]}…, expected {entry['sha256'][:12]}…); "
                               "the broken download was deleted: run `basin download` again.", EXIT_REFUSED)
            os.replace(partial, target)
            report[key] = "fetched"
    return report
