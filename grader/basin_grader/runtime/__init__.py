"""What runs inside the sandbox: load the student's model, predict logits for the hidden images.

Untrusted territory: everything here may be subverted by the submission it loads, so nothing
here is believed by the worker without checking (see basin_grader.scoring).
"""
OUTPUT_RESULT = "result.json"


def logits_name(split: str) -> str:
    return f"{split}_logits.npy"


def images_name(split: str) -> str:
    return f"{split}_images.npy"
