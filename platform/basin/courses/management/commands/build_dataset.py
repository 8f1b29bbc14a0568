"""`python manage.py build_dataset --slug S --seed N [--train N ...]`: build and register a version."""
from django.core.management.base import BaseCommand, CommandError

from basin.courses.services import build_dataset_version
from basin.errors import ApplicationError


class Command(BaseCommand):
    help = "Build a difficult-MNIST dataset version into the data directory and register it for homeworks."

    def add_arguments(self, parser):
        from dmnist import DEFAULT_COUNTS

        parser.add_argument("--slug", required=True)
        parser.add_argument("--seed", type=int, default=0)
        for split, n in DEFAULT_COUNTS.items():
            parser.add_argument(f"--{split}", type=int, default=n)

    def handle(self, *args, **opts):
        from dmnist import DEFAULT_COUNTS

        try:
            version = build_dataset_version(slug=opts["slug"], seed=opts["seed"], progress=True,
                                            counts={s: opts[s] for s in DEFAULT_COUNTS})
        except (ApplicationError, ValueError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(self.style.SUCCESS(f"dataset version {version.slug} registered at {version.path}"))
