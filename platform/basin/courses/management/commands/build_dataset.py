"""`python manage.py build_dataset --slug S --seed N [--train N ...] [--mnist-dir DIR] [--homework H]`:
build a version, register it, and (optionally) make it a homework's data."""
from django.core.management.base import BaseCommand, CommandError

from basin.courses.models import Homework
from basin.courses.services import build_dataset_version, use_dataset_version
from basin.errors import ApplicationError


class Command(BaseCommand):
    help = "Build a difficult-MNIST dataset version into the data directory and register it for homeworks."

    def add_arguments(self, parser):
        from dmnist import DEFAULT_COUNTS

        parser.add_argument("--slug", required=True, help="the version's name, e.g. dmnist-2026")
        parser.add_argument("--seed", type=int, default=0, help="the public seed (train and val)")
        for split, n in DEFAULT_COUNTS.items():
            parser.add_argument(f"--{split}", type=int, default=n, metavar="N", help=f"samples (default {n:,})")
        parser.add_argument("--mnist-dir", default=None,
                            help="MNIST's IDX files for the glyphs (default: the built-in offline generator)")
        parser.add_argument("--homework", default=None, help="a homework (slug) to use this version, if it has "
                            "no submissions yet")

    def handle(self, *args, **opts):
        from dmnist import DEFAULT_COUNTS

        homework = None
        if opts["homework"]:
            homework = Homework.objects.filter(slug=opts["homework"]).first()
            if homework is None:
                raise CommandError(f"no homework {opts['homework']!r}; create it first (API or admin)")
            if homework.submissions.exists():  # say so before a minute of building, not after
                raise CommandError(f"{homework.slug} has submissions scored against {homework.dataset.slug}; "
                                   "create a new homework for a new dataset version")
        try:
            version = build_dataset_version(slug=opts["slug"], seed=opts["seed"], progress=True,
                                            counts={s: opts[s] for s in DEFAULT_COUNTS}, mnist_dir=opts["mnist_dir"])
            if homework is not None:
                use_dataset_version(homework=homework, version=version)
        except (ApplicationError, ValueError, OSError, EOFError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(self.style.SUCCESS(f"dataset version {version.slug} ({version.manifest['glyph_source']} "
                                             f"glyphs) registered at {version.path}"))
        if homework is not None:
            self.stdout.write(self.style.SUCCESS(f"homework {homework.slug} now uses {version.slug}"))
