"""Writes for courses: datasets registered, homeworks created, people enrolled."""
from __future__ import annotations

import json
import shutil
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from basin import leases
from basin.errors import ApplicationError
from basin_grader import dataset_layout

from .access import is_course_staff
from .models import Course, DatasetVersion, Homework, Membership, new_pseudonym, validate_budget_overrides
from .selectors import course_with_join_code


def build_dataset_version(*, slug: str, seed: int, counts: dict[str, int], progress: bool = False,
                          mnist_dir: str | None = None) -> DatasetVersion:
    """Build a difficult-MNIST version into the datasets directory and register it. Glyphs come
    from MNIST's IDX files in `mnist_dir` where given, from the offline generator otherwise."""
    from dmnist import build
    from dmnist.glyphs import MnistGlyphs

    if DatasetVersion.objects.filter(slug=slug).exists():
        raise ApplicationError("dataset_exists", f"A dataset version named {slug!r} exists already.")
    target = settings.BASIN_DATASETS_DIR / slug
    partial = settings.BASIN_DATASETS_DIR / f".{slug}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        glyphs = MnistGlyphs(mnist_dir) if mnist_dir else None
    except (OSError, ValueError, EOFError) as e:  # missing, corrupt or truncated IDX files
        raise ApplicationError("bad_mnist_dir", f"{mnist_dir}: {e}") from e
    manifest = build(partial, seed=seed, counts=counts, progress=progress, glyphs=glyphs)
    partial.rename(target)  # a version appears whole or not at all
    return DatasetVersion.objects.create(slug=slug, directory=slug, seed=seed, manifest=manifest)


def register_dataset_version(*, slug: str) -> DatasetVersion:
    """Register a version already built into BASIN_DATASETS_DIR/<slug>."""
    path = settings.BASIN_DATASETS_DIR / slug
    if DatasetVersion.objects.filter(slug=slug).exists():
        raise ApplicationError("dataset_exists", f"A dataset version named {slug!r} is registered already.")
    if not (path / dataset_layout.MANIFEST).exists():
        raise ApplicationError("no_such_dataset", f"{path} holds no built dataset version: build it there first "
                               f"with `python -m dmnist build --out {path}`.")
    if not (path / dataset_layout.HIDDEN_SEED).exists():
        raise ApplicationError("dataset_without_hidden_seed", f"{path} has no {dataset_layout.HIDDEN_SEED}: its hidden "
                               "labels may follow from the public seed. Rebuild it with `python -m dmnist build`.")
    manifest = json.loads((path / dataset_layout.MANIFEST).read_text())
    return DatasetVersion.objects.create(slug=slug, directory=slug, seed=manifest["seed"], manifest=manifest)


def draw_pseudonym(course_id: int, taken: set[str] | None = None) -> str:
    """A course pseudonym no member of the course has: the one way every membership gets its own
    (`taken`, when the caller already holds the course's pseudonyms, as the roster import does)."""
    if taken is None:
        taken = set(Membership.objects.filter(course_id=course_id).values_list("pseudonym", flat=True))
    return next(p for p in iter(new_pseudonym, None) if p not in taken)


def enroll(*, course: Course, user, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        course=course, user=user, defaults={"role": role},
        create_defaults={"role": role, "pseudonym": draw_pseudonym(course.pk)})
    return membership


@transaction.atomic
def create_homework(*, actor, course: Course, slug: str, title: str, dataset: DatasetVersion,
                    opens_at: datetime, deadline: datetime, description: str = "", **options) -> Homework:
    if not is_course_staff(actor, course.id):
        raise ApplicationError("not_course_staff", "Only the course's TAs can create homeworks.")
    if deadline <= opens_at:
        raise ApplicationError("invalid_deadline", "The deadline must come after the opening time.")
    if options.get("late_policy") == Homework.LatePolicy.PENALTY and not (
            options.get("late_until") and options["late_until"] > deadline):
        raise ApplicationError("invalid_late_until", "With the penalty policy, give late_until: when late "
                               "submissions stop being accepted, a time after the deadline.")
    if options.get("late_policy", Homework.LatePolicy.REFUSE) == Homework.LatePolicy.REFUSE:
        options["late_until"] = None  # no late period to keep
    if options.get("time_limit_s", 0) > leases.longest_run_s():
        raise ApplicationError("time_limit_too_long", f"The time limit can be at most {leases.longest_run_s()} s "
                               f"here {leases.LIMIT_HELP}.")
    try:
        validate_budget_overrides(options.get("diagnostics_budget", {}))
    except ValidationError as e:
        raise ApplicationError("invalid_diagnostics_budget", " ".join(e.messages)) from e
    if Homework.objects.filter(slug=slug).exists():
        raise ApplicationError("homework_exists", f"A homework named {slug!r} exists already; choose another slug.")
    return Homework.objects.create(course=course, slug=slug, title=title, description=description,
                                   dataset=dataset, opens_at=opens_at, deadline=deadline, **options)


def use_dataset_version(*, homework: Homework, version: DatasetVersion) -> Homework:
    """Point a homework at a dataset version; refused once anything was submitted to it, since its
    scores were computed against the old one."""
    with transaction.atomic():
        homework = Homework.objects.select_for_update().get(pk=homework.pk)
        if homework.dataset_id != version.pk and homework.submissions.exists():
            raise ApplicationError("homework_has_submissions", f"{homework.slug} has submissions scored against "
                                   f"{homework.dataset.slug}; create a new homework for {version.slug}.")
        homework.dataset = version
        homework.save(update_fields=["dataset"])
    return homework


def reveal_private(*, homework: Homework) -> Homework:
    """Open the private leaderboard (and every private score and diagnostic) to all who may see
    the homework. Refused while submissions or final selections can still change it."""
    from django.utils import timezone

    now = timezone.now()
    if now <= homework.closes_at:
        raise ApplicationError("still_open", f"Submissions close at {homework.closes_at.isoformat()}; the private "
                               "leaderboard can be revealed after that.")
    Homework.objects.filter(pk=homework.pk, private_revealed_at__isnull=True).update(private_revealed_at=now)
    homework.refresh_from_db()
    return homework


def sign_up(*, username: str, email: str, password: str, code: str) -> tuple:
    """A new account in the course whose join code this is, as a student: (user, membership). No
    account is made without its course: a code that stopped working, or a username taken a moment
    ago, makes nothing (ApplicationError)."""
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(username=username, email=email, password=password)
            membership, _ = join_with_code(user=user, code=code)
    except IntegrityError:
        raise ApplicationError("username_taken", "A user with that username already exists.") from None
    return user, membership


def join_with_code(*, user, code: str) -> tuple[Membership, bool]:
    """Join the course whose join code this is, as a student: (membership, joined now). Someone
    already in the course keeps their role: a TA who types the code stays a TA."""
    course = course_with_join_code(code)
    return Membership.objects.get_or_create(course=course, user=user, defaults={
        "role": Membership.Role.STUDENT, "pseudonym": draw_pseudonym(course.pk)})
