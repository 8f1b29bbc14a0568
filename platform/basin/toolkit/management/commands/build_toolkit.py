"""Build the student toolkit's wheel now (the demo and the deployment's start run this), rather than
on the first request to /simple/."""
from django.core.management.base import BaseCommand

from basin.toolkit.wheel import ensure_built


class Command(BaseCommand):
    help = "Build the student toolkit (basin-toolkit) served at /simple/ from the sources this server runs."

    def handle(self, *args, **options):
        wheel = ensure_built()
        self.stdout.write(f"student toolkit {wheel.version}: {wheel.path} (sha256 {wheel.sha256[:12]}…)")
