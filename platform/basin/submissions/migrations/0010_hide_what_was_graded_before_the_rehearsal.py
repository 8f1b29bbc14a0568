"""Submissions graded before this change ran in one sandbox run that saw the hidden images, so what
they printed or raised (the log tail, a failure's message) may carry hidden images: it moves to
hidden_log, the course's TAs', and the student keeps the verdict's plain message. Diagnostics
reports stored before the worker checked them lose their leaderboard thumbnail and sharpness
(basin_grader.diagnostics_trust.trusted: a report without a verdict is not trusted) until they
are diagnosed again.

The messages are frozen here, as they read when this migration was written (verdicts.DEFAULT_MESSAGES)."""
from django.db import migrations

MESSAGES = {
    "invalid_submission": "The file is not a submission the grader accepts.",
    "runtime_error": "Your model raised an error while it was loaded or run. The log below shows where.",
    "time_limit": "Your model did not finish within the time limit. Make inference faster or the model smaller.",
    "memory_limit": "Your model used more memory than the limit allows. Use a smaller model or batch.",
    "invalid_output": "Your model's output was not N×10 finite logits for the N test images.",
}
BATCH = 500


def _trusted(report) -> bool:
    trust = report.get("trust") if isinstance(report, dict) else None
    return isinstance(trust, dict) and trust.get("trusted") is True


def hide(apps, schema_editor):
    Submission = apps.get_model("submissions", "Submission")
    graded = (Submission.objects.filter(status__in=("scored", "failed"))
              .only("id", "verdict", "message", "log_tail", "hidden_log", "model_diagnostics",
                    "landscape_thumbnail", "sharpness"))
    changed = []
    for submission in graded.iterator(chunk_size=BATCH):
        touched = False
        own_message = submission.message if submission.verdict in MESSAGES else ""
        if submission.log_tail or own_message:
            submission.hidden_log = "\n".join(part for part in (
                "(graded before the rehearsal: this run saw the hidden images)", own_message, submission.log_tail,
                submission.hidden_log) if part)
            submission.log_tail = ""
            if own_message:
                submission.message = MESSAGES[submission.verdict]
            touched = True
        if (submission.landscape_thumbnail is not None or submission.sharpness is not None) and not _trusted(
                submission.model_diagnostics):
            submission.landscape_thumbnail, submission.sharpness = None, None
            touched = True
        if touched:
            changed.append(submission)
        if len(changed) >= BATCH:
            Submission.objects.bulk_update(changed, ["hidden_log", "log_tail", "message", "landscape_thumbnail",
                                                     "sharpness"])
            changed = []
    if changed:
        Submission.objects.bulk_update(changed, ["hidden_log", "log_tail", "message", "landscape_thumbnail",
                                                 "sharpness"])


class Migration(migrations.Migration):
    dependencies = [("submissions", "0009_hidden_pass_log")]
    operations = [migrations.RunPython(hide, migrations.RunPython.noop, elidable=True)]
