"""`python manage.py import_roster COURSE_SLUG FILE [--dry-run] [--links OUT.csv] [--base-url URL] [--relink]`:
import a roster CSV into a course and hand the TA the new accounts' set-password links."""
import csv
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from basin.courses.models import Course
from basin.courses.roster import import_roster
from basin.errors import ApplicationError


class Command(BaseCommand):
    help = ("Import a roster CSV (username, email, first_name, last_name, student_id, optional role ta|student) "
            "into a course. Nothing is written unless the whole file is valid; importing again changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("course", metavar="COURSE_SLUG")
        parser.add_argument("file", metavar="FILE", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check the file and say what would change")
        parser.add_argument("--links", type=Path, metavar="OUT.csv",
                            help="write username,email,link for each new account here (a new file, readable by "
                                 "you only); without it the links are printed")
        parser.add_argument("--relink", action="store_true",
                            help="new links also for listed members who never chose a password (link lost or expired)")
        parser.add_argument("--base-url", default="", metavar="URL",
                            help="this Basin's address, e.g. https://basin.example.org, to start the links with")

    def handle(self, *args, **opts):
        course = Course.objects.filter(slug=opts["course"]).first()
        if course is None:
            known = ", ".join(Course.objects.order_by("slug").values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"no course {opts['course']!r} (courses: {known})")
        out = opts["links"]
        # A links file is the only copy of its links: never overwrite one (checked before importing).
        if out is not None and out.exists():
            raise CommandError(f"{out} exists already; choose another name so the links in it are not lost")
        try:
            data = opts["file"].read_bytes()
        except OSError as e:
            raise CommandError(f"cannot read {opts['file']}: {e.strerror}") from e
        try:
            summary = import_roster(course=course, data=data, base_url=opts["base_url"], dry_run=opts["dry_run"],
                                   relink=opts["relink"])
        except ApplicationError as e:
            problems = e.details.get("problems", [])
            if not problems:
                raise CommandError(e.message) from e
            lines = [f"  line {p['line']}: {p['message']}" for p in problems]  # all, one a line
            raise CommandError("\n".join([f"{opts['file']}: nothing was imported; fix these and import it again:",
                                          *lines])) from e

        heading = f"Roster of {course.slug}" + (" (dry run: nothing was written)" if summary.dry_run else "")
        self.stdout.write(heading)
        for label, names in (("created", summary.created), ("updated", summary.updated)):
            self.stdout.write(f"  {label:<10}{len(names):>5}" + (f"  {', '.join(names)}" if names else ""))
        self.stdout.write(f"  {'unchanged':<10}{len(summary.unchanged):>5}")
        if summary.not_in_roster:
            self.stdout.write(f"  {len(summary.not_in_roster)} members are not in the file (kept): "
                              f"{', '.join(summary.not_in_roster)}")
        if summary.conflicts:
            self.stderr.write(f"{len(summary.conflicts)} lines were left out (the rest was imported):")
            for conflict in summary.conflicts:
                self.stderr.write(f"  line {conflict['line']}: {conflict['message']}")
        if not summary.links:
            return
        if not opts["base_url"]:
            self.stderr.write("The links are paths: put this site's address in front of each, or pass "
                              "--base-url https://your-basin next time.")
        if out is None:
            self.stdout.write("Set-password links (send each person their own; each works once):")
            for link in summary.links:
                self.stdout.write(f"  {link.username} <{link.email}>  {link.link}")
            return
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the links are secrets
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["username", "email", "link"])
            writer.writerows([link.username, link.email, link.link] for link in summary.links)
        self.stdout.write(self.style.SUCCESS(f"{len(summary.links)} set-password links written to {out}: send each "
                                             "person their own; each works once."))
