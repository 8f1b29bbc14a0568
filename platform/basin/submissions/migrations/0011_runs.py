"""Runs (basin.submissions.models.Run): each submission's scoring and diagnostics state moves
from its own columns into a run of each kind, with nothing lost:

- a submission queued, running, scored, failed or cancelled gets a scoring run in the matching
  state (queued, running, finished with its verdict as the outcome, failed when the grader gave
  up on it, cancelled), with its tries, lease, worker, backend, timings and times;
- one with a diagnostics status gets a diagnostics run alike (complete | partial as the outcome);
- a submission only received (never queued) has no run, as before it had no message.

A live run's message is not carried (its task's name and argument changed: basin.dispatch):
the runs are left unstamped, so the watchdog sends them once they are BASIN_RESEND_AFTER_SECONDS
old (most are: a run is as old as its submission). A worker of the older
release still running a submission can no longer store its result; its lease runs out and the
watchdog queues the run again.

Tries: the older columns counted a submission's tries over all its rescores (attempts, less
attempts_before_rescore, for scoring; diagnostics_attempts never restarted, the bug this change
fixes), so a live diagnostics run of a rescored submission starts its tries afresh.

Reversible: going back writes each submission's latest run of each kind into the columns.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


BATCH = 500
GRADER_GAVE_UP = "infrastructure_error"  # basin_grader.verdicts.INFRASTRUCTURE_ERROR, frozen here
SCORING_STATE = {"queued": "queued", "running": "running", "scored": "finished", "failed": "finished",
                 "cancelled": "cancelled"}
DIAGNOSTICS_STATE = {"queued": "queued", "running": "running", "complete": "finished", "partial": "finished",
                     "failed": "failed"}
OLD_FIELDS = ("id", "created_at", "status", "verdict", "diagnostics_status", "attempts", "attempts_before_rescore",
              "lease_expires_at", "enqueued_at", "started_at", "finished_at", "worker", "backend", "timings",
              "diagnostics_attempts", "diagnostics_lease_expires_at")


def _scoring_run(Run, s):
    state = SCORING_STATE.get(s.status)
    if state is None:  # received: never queued
        return None
    tries = max(0, s.attempts - s.attempts_before_rescore)
    if state == "finished" and s.verdict == GRADER_GAVE_UP:
        state = "failed"
    ended = state in ("finished", "failed", "cancelled")
    return Run(submission_id=s.id, kind="score", state=state,
               outcome=(s.verdict or s.status) if state in ("finished", "failed") else "",
               attempt=max(1, tries) if state in ("running", "finished", "failed") else tries,
               lease_expires_at=s.lease_expires_at if state == "running" else None,
               worker=s.worker, backend=s.backend, timings=s.timings or {}, created_at=s.created_at,
               started_at=s.started_at, finished_at=s.finished_at if ended else None,
               log="carried over from the submission's own columns\n")


def _diagnostics_run(Run, s):
    state = DIAGNOSTICS_STATE.get(s.diagnostics_status)
    if state is None:  # never diagnosed
        return None
    tries = s.diagnostics_attempts
    if state in ("queued", "running") and s.attempts_before_rescore:
        tries = 0  # counted across rescores: this run's own tries are unknown, so it gets all of them
    return Run(submission_id=s.id, kind="diagnose", state=state,
               outcome=(s.diagnostics_status if state == "finished" else GRADER_GAVE_UP if state == "failed" else ""),
               attempt=max(1, tries) if state != "queued" else tries,
               lease_expires_at=s.diagnostics_lease_expires_at if state == "running" else None,
               created_at=s.finished_at or s.created_at,
               # Its end is not recorded: its scoring's stands for it (the queue page's 24 hours).
               finished_at=s.finished_at if state in ("finished", "failed") else None,
               log="carried over from the submission's own columns\n")


def runs_from_columns(apps, schema_editor):
    Submission = apps.get_model("submissions", "Submission")
    Run = apps.get_model("submissions", "Run")
    batch = []
    for s in Submission.objects.only(*OLD_FIELDS).order_by("pk").iterator(chunk_size=BATCH):
        batch += [run for run in (_scoring_run(Run, s), _diagnostics_run(Run, s)) if run is not None]
        if len(batch) >= BATCH:
            Run.objects.bulk_create(batch)
            batch = []
    Run.objects.bulk_create(batch)


def columns_from_runs(apps, schema_editor):
    Submission = apps.get_model("submissions", "Submission")
    Run = apps.get_model("submissions", "Run")
    latest = {}
    runs = Run.objects.order_by("pk").only("submission_id", "kind", "attempt", "lease_expires_at", "enqueued_at",
                                           "started_at", "finished_at", "worker", "backend", "timings")
    for run in runs.iterator(chunk_size=BATCH):  # the last one of each kind wins
        latest[(run.submission_id, run.kind)] = run
    changed = []
    for s in Submission.objects.filter(runs__isnull=False).distinct().iterator(chunk_size=BATCH):
        score, diagnose = latest.get((s.id, "score")), latest.get((s.id, "diagnose"))
        if score is not None:
            s.attempts, s.attempts_before_rescore = score.attempt, 0
            s.lease_expires_at, s.enqueued_at = score.lease_expires_at, score.enqueued_at
            s.started_at, s.finished_at = score.started_at, score.finished_at
            s.worker, s.backend, s.timings = score.worker, score.backend, score.timings
        if diagnose is not None:
            s.diagnostics_attempts = diagnose.attempt
            s.diagnostics_lease_expires_at, s.diagnostics_enqueued_at = diagnose.lease_expires_at, diagnose.enqueued_at
        changed.append(s)
        if len(changed) >= BATCH:
            Submission.objects.bulk_update(changed, OLD_FIELDS[5:] + ("diagnostics_enqueued_at",))
            changed = []
    Submission.objects.bulk_update(changed, OLD_FIELDS[5:] + ("diagnostics_enqueued_at",))


class Migration(migrations.Migration):

    dependencies = [
        ('submissions', '0010_hide_what_was_graded_before_the_rehearsal'),
    ]

    operations = [
        migrations.CreateModel(
            name='Run',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('score', 'Score'), ('diagnose', 'Diagnose')], max_length=16)),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('finished', 'Finished'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=16)),
                ('outcome', models.CharField(blank=True, help_text='a verdict, or complete | partial', max_length=32)),
                ('attempt', models.PositiveIntegerField(default=0, help_text="claims so far; a worker's claim holds its number")),
                ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                ('worker', models.CharField(blank=True, help_text='the worker of the latest claim', max_length=255)),
                ('backend', models.CharField(blank=True, max_length=16)),
                ('timings', models.JSONField(blank=True, default=dict)),
                ('log', models.TextField(blank=True, help_text='what happened to the run: claims, retries and why (staff only)')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('enqueued_at', models.DateTimeField(blank=True, help_text='last message sent; the watchdog resends', null=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('submission', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='submissions.submission')),
            ],
            options={
                'ordering': ['pk'],
                'indexes': [models.Index(fields=['state', 'lease_expires_at'], name='submissions_state_101b2a_idx'), models.Index(fields=['kind', 'state', 'finished_at'], name='submissions_kind_887207_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('state__in', ['queued', 'running'])), fields=('submission', 'kind'), name='one_live_run_per_submission_and_kind')],
            },
        ),
        migrations.RunPython(runs_from_columns, columns_from_runs),
        migrations.RemoveField(
            model_name='submission',
            name='attempts',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='attempts_before_rescore',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='backend',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='diagnostics_attempts',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='diagnostics_enqueued_at',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='diagnostics_lease_expires_at',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='enqueued_at',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='finished_at',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='lease_expires_at',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='started_at',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='timings',
        ),
        migrations.RemoveField(
            model_name='submission',
            name='worker',
        ),
    ]
