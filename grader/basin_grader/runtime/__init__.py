"""What runs inside the sandbox: load the student's model, predict logits for the hidden images.

Untrusted territory: everything here may be subverted by the submission it loads, so nothing
here is believed by the worker without checking (see basin_grader.scoring).
"""
from ..dataset_layout import HIDDEN_SPLITS

OUTPUT_RESULT = "result.json"


def logits_name(split: str) -> str:
    return f"{split}_logits.npy"


def images_name(split: str) -> str:
    return f"{split}_images.npy"


def output_files() -> tuple[str, ...]:
    """Every file the runtime may write to /out. The worker creates them, empty, before the run;
    the sandbox may write into them but create nothing else there (see evaluate.prepare)."""
    return (OUTPUT_RESULT, *(logits_name(split) for split in HIDDEN_SPLITS))
