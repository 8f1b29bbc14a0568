"""Verdicts a student sees, each with the plain message shown beside the log tail."""
from __future__ import annotations

SCORED = "scored"
INVALID_SUBMISSION = "invalid_submission"
RUNTIME_ERROR = "runtime_error"
TIME_LIMIT = "time_limit"
MEMORY_LIMIT = "memory_limit"
INVALID_OUTPUT = "invalid_output"
# Not the student's fault: retried, never counted against a quota.
INFRASTRUCTURE_ERROR = "infrastructure_error"

STUDENT_VERDICTS = (INVALID_SUBMISSION, RUNTIME_ERROR, TIME_LIMIT, MEMORY_LIMIT, INVALID_OUTPUT)
ALL = (SCORED,) + STUDENT_VERDICTS + (INFRASTRUCTURE_ERROR,)

DEFAULT_MESSAGES = {
    SCORED: "Scored.",
    INVALID_SUBMISSION: "The file is not a submission the grader accepts.",
    RUNTIME_ERROR: "Your model raised an error while it was loaded or run. The log below shows where.",
    TIME_LIMIT: "Your model did not finish within the time limit. Make inference faster or the model smaller.",
    MEMORY_LIMIT: "Your model used more memory than the limit allows. Use a smaller model or batch.",
    INVALID_OUTPUT: "Your model's output was not N×10 finite logits for the N test images.",
    INFRASTRUCTURE_ERROR: "The grader had a problem of its own; your submission will be retried.",
}

# What a student reads when their model fails on the hidden images, whatever it printed or raised
# there: anything it wrote in that pass could carry hidden images out (DESIGN.md, "Output channels
# of the sandbox"). The rehearsal on public images has already shown them everything else.
HIDDEN_PASS_MESSAGES = {
    INVALID_SUBMISSION: "Your submission loaded on the public rehearsal batch but could not be loaded for the hidden "
                        "test images. Make loading deterministic: build_model() and the weights alone.",
    RUNTIME_ERROR: "Your model ran on the public rehearsal batch but raised an error on the hidden test images. "
                   "What it printed there is not shown (it could carry hidden images); run it on the val split "
                   "with `basin check` to find the error.",
    INVALID_OUTPUT: "Your model ran on the public rehearsal batch but its output for the hidden test images was "
                    "not N×10 finite logits for the N images (a wrong shape, NaN or infinite values).",
}


def builtin_exception_names() -> frozenset[str]:
    """Exception types a hidden pass may name to a student: Python's own, never a class the
    submission defined (its name is text the model chose)."""
    import builtins

    return frozenset(name for name, value in vars(builtins).items()
                     if isinstance(value, type) and issubclass(value, BaseException))


class GradingError(Exception):
    """A verdict reached before or after the sandbox run (bad file, bad output)."""

    def __init__(self, verdict: str, message: str):
        super().__init__(message)
        self.verdict = verdict
        self.message = message


class InfrastructureError(Exception):
    """The grader itself failed (no engine, no image, disk): retry, do not blame the student."""


def printable(text: str) -> str:
    """Text the sandbox produced, made safe to store: no NULs, no lone surrogates."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
