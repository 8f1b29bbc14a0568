"""Seeding the embedded demo: a dataset, a course with a TA and a student, a homework, a baseline."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from basin.courses import services as courses
from basin.courses.models import Course, DatasetVersion, Homework, Membership
from basin.submissions import services as submissions
from basin.submissions.models import Submission
from basin_grader import dataset_layout

DATASET_SLUG = "dmnist-demo"
DEMO_COUNTS = {"train": 3000, "val": 600, "test": 1000, "shift": 300}
COURSE_SLUG = "dl101"
HOMEWORK_SLUG = "dmnist"
LOGINS = {"ta": ("ta", "basin-ta-demo"), "student": ("student", "basin-student-demo")}


@dataclass(frozen=True)
class Demo:
    course: Course
    homework: Homework
    ta: object
    student: object


def dataset_files_built() -> bool:
    """Whether an earlier run built the demo's dataset files (whole: a build appears by a rename)."""
    return (settings.BASIN_DATASETS_DIR / DATASET_SLUG / dataset_layout.MANIFEST).exists()


def ensure_dataset(counts: dict[str, int] = DEMO_COUNTS) -> DatasetVersion:
    """The demo's dataset version: registered already, or built by an earlier run whose database was
    since replaced (a new DATABASE_URL, say: the files are reused, not generated again), or built now."""
    existing = DatasetVersion.objects.filter(slug=DATASET_SLUG).first()
    if existing:
        return existing
    if dataset_files_built():
        return courses.register_dataset_version(slug=DATASET_SLUG)
    return courses.build_dataset_version(slug=DATASET_SLUG, seed=0, counts=counts)


def _user(username: str, password: str, **extra):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username=username, password=password, **extra)
    return user


# Smaller than a CPU worker's default (basin_grader.budgets.DEFAULTS), so the demo's baseline gets
# its diagnostics in about a minute on a laptop; a TA sets a homework's own in the admin.
DEMO_DIAGNOSTICS = {"samples": 128, "grid": 9, "line_points": 9, "eval_samples": 1024, "feature_samples": 256,
                    "power_iterations": 10, "hutchinson_probes": 8}


@transaction.atomic
def seed(dataset: DatasetVersion) -> Demo:
    """Idempotent: running the demo twice keeps what the first run made."""
    ta = _user(*LOGINS["ta"], is_staff=True, is_superuser=True)
    student = _user(*LOGINS["student"])
    course, _ = Course.objects.get_or_create(slug=COURSE_SLUG, defaults={"title": "Deep Learning 101"})
    courses.enroll(course=course, user=ta, role=Membership.Role.TA)
    courses.enroll(course=course, user=student, role=Membership.Role.STUDENT)
    homework = Homework.objects.filter(slug=HOMEWORK_SLUG).first()
    if homework is None:
        now = timezone.now()
        homework = courses.create_homework(
            actor=ta, course=course, slug=HOMEWORK_SLUG, title="Homework 1: difficult-MNIST", dataset=dataset,
            opens_at=now - timedelta(days=1), deadline=now + timedelta(days=14),
            description="Classify colour digits written with 3 pens on 5 papers, at any position and size.",
            diagnostics_budget=DEMO_DIAGNOSTICS)
    return Demo(course, homework, ta, student)


def baseline(homework: Homework) -> Submission | None:
    return Submission.objects.filter(homework=homework, is_baseline=True).order_by("-created_at").first()


def add_baseline(demo: Demo, bundle: bytes) -> Submission:
    upload = SimpleUploadedFile("baseline-cnn.zip", bundle, content_type="application/zip")
    return submissions.submit(homework=demo.homework, user=demo.ta, upload=upload,
                              note="small CNN, 4 epochs", is_baseline=True)
