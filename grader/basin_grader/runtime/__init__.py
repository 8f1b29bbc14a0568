"""What runs inside the sandbox: load the student's model, then predict logits for a small public
val batch (mode "rehearse": everything it prints is the student's), for the hidden images (mode
"score": nothing it prints reaches a student), or compute diagnostics on public-label subsets
(mode "diagnose").

Untrusted territory: everything here may be subverted by the submission it loads, so nothing
here is believed by the worker without checking (see basin_grader.scoring).
"""
from ..dataset_layout import HIDDEN_SPLITS

OUTPUT_RESULT = "result.json"
OUTPUT_DIAGNOSTICS = "diagnostics.json"
BUDGET = "budget.json"  # in /data for a diagnostics run: basin_grader.budgets.DiagnosticsBudget
REHEARSE, SCORE, DIAGNOSE = "rehearse", "score", "diagnose"
MODES = (REHEARSE, SCORE, DIAGNOSE)
SANDBOX_UID = 65534  # nobody: the user every sandboxed run has (Docker's --user, /out's files)
REHEARSAL = "rehearsal"  # the name of the public val batch a rehearsal predicts, in /data and /out


def logits_name(split: str) -> str:
    return f"{split}_logits.npy"


def images_name(split: str) -> str:
    return f"{split}_images.npy"


def labels_name(split: str) -> str:  # public splits only: a diagnostics run's subsets
    return f"{split}_labels.npy"


def centre_logits_name(split: str) -> str:  # a diagnostics run's: the unperturbed model on a public subset
    return f"{split}_centre_logits.npy"


def output_files(mode: str = SCORE) -> tuple[str, ...]:
    """Every file the runtime may write to /out. The worker creates them, empty, before the run;
    the sandbox may write into them but create nothing else there (see evaluate.prepare)."""
    if mode == DIAGNOSE:
        return (OUTPUT_RESULT, OUTPUT_DIAGNOSTICS, centre_logits_name("train"), centre_logits_name("val"))
    if mode == REHEARSE:
        return (OUTPUT_RESULT, logits_name(REHEARSAL))
    return (OUTPUT_RESULT, *(logits_name(split) for split in HIDDEN_SPLITS))
