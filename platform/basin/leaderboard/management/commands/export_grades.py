"""`python manage.py export_grades HOMEWORK_SLUG [--out FILE]`: the homework's grades as CSV (the
same as the TAs' download), to stdout or a file; refused before the reveal."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from basin.courses.models import Homework
from basin.errors import ApplicationError
from basin.leaderboard.export import grades_csv


class Command(BaseCommand):
    help = ("Export a homework's grades as CSV: student id, name, username, final score (private, after the "
            "late penalty), rank, entries, late penalty; one row per enrolled student.")

    def add_arguments(self, parser):
        parser.add_argument("homework", metavar="HOMEWORK_SLUG")
        parser.add_argument("--out", default=None, metavar="FILE", help="write here instead of stdout")

    def handle(self, *args, **opts):
        homework = Homework.objects.filter(slug=opts["homework"]).first()
        if homework is None:
            raise CommandError(f"no homework {opts['homework']!r}")
        try:
            text = grades_csv(homework)
        except ApplicationError as e:
            raise CommandError(e.message) from e
        if opts["out"]:
            Path(opts["out"]).write_bytes(text.encode())  # byte for byte: CRLF rows stay CRLF
            self.stderr.write(f"wrote {text.count(chr(13) + chr(10)) - 1} students' grades to {opts['out']}")
        else:
            self.stdout.write(text, ending="")
