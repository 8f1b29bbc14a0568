"""manage.py register_dataset SLUG: register a version already built (python -m dmnist build) into
BASIN_DATASETS_DIR/SLUG, e.g. on a server whose containers mount the datasets read-only."""
from django.core.management.base import BaseCommand, CommandError

from basin.courses.services import register_dataset_version
from basin.errors import ApplicationError


class Command(BaseCommand):
    help = "Register a dataset version built into BASIN_DATASETS_DIR/<slug> with `python -m dmnist build`."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the folder's name under BASIN_DATASETS_DIR, e.g. dmnist-2026")

    def handle(self, *args, slug: str, **options):
        try:
            version = register_dataset_version(slug=slug)
        except (ApplicationError, OSError, ValueError) as e:
            raise CommandError(getattr(e, "message", None) or str(e)) from e
        counts = ", ".join(f"{split} {n:,}" for split, n in version.manifest.get("counts", {}).items())
        self.stdout.write(self.style.SUCCESS(f"registered {version.slug} ({counts})"))
