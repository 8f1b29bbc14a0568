"""A course's roster from a CSV file (the university's export or a TA's spreadsheet): accounts
created or updated, memberships added, and a one-time set-password link per new account.

Everything is checked before anything is written (roster_file.py reports every problem with its
line); then one transaction writes it all. Importing the same file again changes nothing: people
are matched by username. A line that would bind an account this course's roster did not create,
by an address its owner has not confirmed, is left out and reported as a conflict."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from basin.accounts.selectors import confirmed_addresses, email_key
from basin.accounts.usernames import lookalikes
from basin.errors import ApplicationError

from .models import Course, Membership
from .roster_file import MAX_BYTES, RosterRow, problem, read_roster  # noqa: F401  (MAX_BYTES: the API's limit)
from .services import draw_pseudonym


@dataclass(frozen=True)
class SetPasswordLink:
    username: str
    email: str
    link: str


@dataclass
class RosterSummary:
    """What an import did (or, with dry_run, would do). created: new accounts; updated: existing
    accounts whose details, role or student id changed, or who were not in the course yet;
    not_in_roster: the course's members missing from the file (kept, never removed)."""

    course: str
    dry_run: bool
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_in_roster: list[str] = field(default_factory=list)
    # Lines left out, each {line, column, message}: see _conflicts. The rest of the file is imported.
    conflicts: list[dict] = field(default_factory=list)
    # One per created account (with relink, also per member still without a password); none in a dry run.
    links: list[SetPasswordLink] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def import_roster(*, course: Course, data: bytes, base_url: str = "", dry_run: bool = False,
                  relink: bool = False) -> RosterSummary:
    """Import a roster CSV into `course`. base_url (e.g. https://basin.example.org) starts each
    set-password link; without it the links are paths on this site. relink: new links also for
    listed members who never chose a password (their link was lost or expired)."""
    rows = read_roster(data)
    try:
        with transaction.atomic():
            return _apply(course, rows, base_url.rstrip("/"), dry_run, relink)
    except IntegrityError:
        # Two imports, or an import and a sign-up, made the same account at once: the next run sees it.
        raise ApplicationError("roster_conflict", "Some of these accounts changed while the roster was imported; "
                               "nothing was imported. Import the file again.") from None


def set_password_link(user, base_url: str = "") -> str:
    """A link that lets `user` choose a password once. It stops working when the password is set
    (the token covers the password hash) and after settings.PASSWORD_RESET_TIMEOUT."""
    path = reverse("set-password", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                           "token": default_token_generator.make_token(user)})
    return f"{base_url}{path}"


def _apply(course: Course, rows: list[RosterRow], base_url: str, dry_run: bool, relink: bool) -> RosterSummary:
    User = get_user_model()
    summary = RosterSummary(course=course.slug, dry_run=dry_run)
    # Matched without case, as Django's sign-up form refuses "Alice" once "alice" exists; an exact
    # match wins where old accounts differ only in case.
    wanted = {r.username.lower(): r.username for r in rows}
    users: dict[str, Any] = {}
    for u in User.objects.annotate(lower=Lower("username")).filter(lower__in=list(wanted)).order_by("pk"):
        if u.lower not in users or u.username == wanted[u.lower]:
            users[u.lower] = u
    members = {m.user_id: m for m in Membership.objects.filter(course=course).select_related("user")}
    # Pseudonyms are drawn here, not one query per new member in Membership.save().
    taken = {m.pseudonym for m in members.values()}
    new_members: list[Membership] = []
    # A course's roster may set the name and email only of accounts it made itself and alone
    # manages: never of one that signed up on its own, belongs to another course, has chosen a
    # password, or is staff.
    elsewhere = set(Membership.objects.filter(user__in=list(users.values())).exclude(course=course)
                    .values_list("user_id", flat=True))

    def own_details(user) -> bool:
        membership = members.get(user.pk)
        return (membership is not None and membership.account_from_roster and user.pk not in elsewhere
                and not user.is_superuser and not user.is_staff and not user.has_usable_password())

    # A line binds a person (name, student id, role) to an account. One that this course's roster
    # did not make is bound only by an address its owner confirmed: else whoever signed up first
    # with a classmate's (or a TA's) username and address would take their place.
    summary.conflicts = _conflicts(rows, users, members)
    skipped = {c["line"] for c in summary.conflicts}

    def new_membership(user, row: RosterRow, made_here: bool = False) -> Membership:
        pseudonym = draw_pseudonym(course.pk, taken)
        taken.add(pseudonym)
        return Membership(course=course, user=user, role=row.role, student_id=row.student_id, pseudonym=pseudonym,
                          account_from_roster=made_here)

    for row in rows:
        if row.line in skipped:
            continue
        is_ta = row.role == Membership.Role.TA
        user = users.get(row.username.lower())
        if user is None:
            summary.created.append(row.username)
            if not dry_run:
                # is_staff lets a TA into the admin; what they may do there is decided per course.
                user = User(username=row.username, email=row.email, first_name=row.first_name,
                            last_name=row.last_name, is_staff=is_ta)
                user.set_unusable_password()  # they choose one through their link
                user.save()
                new_members.append(new_membership(user, row, made_here=True))
                summary.links.append(SetPasswordLink(row.username, row.email, set_password_link(user, base_url)))
            continue
        details: dict[str, object] = ({"email": row.email, "first_name": row.first_name, "last_name": row.last_name}
                                      if own_details(user) else {})
        if is_ta:
            details["is_staff"] = True  # never taken away here: they may be staff for another reason
        user_changes = {k: v for k, v in details.items() if getattr(user, k) != v}
        membership = members.get(user.pk)
        member_changes = {k: v for k, v in {"role": row.role, "student_id": row.student_id}.items()
                          if membership is not None and getattr(membership, k) != v}
        if membership is not None and not user_changes and not member_changes:
            summary.unchanged.append(user.username)
            continue
        summary.updated.append(user.username)
        if dry_run:
            continue
        if user_changes:
            for k, v in user_changes.items():
                setattr(user, k, v)
            user.save(update_fields=list(user_changes))
        if membership is None:
            new_members.append(new_membership(user, row))
        elif member_changes:
            for k, v in member_changes.items():
                setattr(membership, k, v)
            membership.save(update_fields=list(member_changes))
    Membership.objects.bulk_create(new_members)
    if relink and not dry_run:
        summary.links += _relinks(course, [u for u in users.values() if u.pk in members], base_url)
    listed = {u.pk for u in users.values()}
    summary.not_in_roster = sorted(m.user.username for m in members.values() if m.user_id not in listed)
    return summary


def _conflicts(rows: list[RosterRow], users: dict, members: dict) -> list[dict]:
    """Lines the import leaves out, each with what the TA can do: an existing account this course's
    roster did not make, without the line's address confirmed; a new username that looks like an
    existing account's."""
    confirmed = confirmed_addresses(u.pk for u in users.values())
    conflicts = []
    for row in rows:
        user = users.get(row.username.lower())
        membership = members.get(user.pk) if user is not None else None
        if user is None or (membership is not None and membership.account_from_roster) \
                or email_key(row.email) in confirmed[user.pk]:
            continue
        if email_key(user.email) == email_key(row.email):
            why = (f"{row.username!r} is an account this roster did not create, and its owner has not confirmed "
                   f"{row.email}. Ask them to confirm it (their e-mail page on Basin sends the link), then import "
                   "again")
        else:
            why = (f"{row.username!r} is an account this roster did not create, with another e-mail address. If "
                   f"it is this person's, ask them to confirm {row.email} on their e-mail page, then import again; "
                   "if not, list the person under another username")
        conflicts.append(problem(row.line, "username", f"{why}. Nothing on this line was applied."))
    new = [row for row in rows if row.username.lower() not in users]
    similar = lookalikes([row.username for row in new])
    conflicts += [problem(row.line, "username", f"{row.username!r} looks like the existing account "
                          f"{similar[row.username]!r} (I/l/1, O/0, rn/m, vv/w, cl/d read alike); no account was "
                          "made. Give this person a username that differs in more than that.")
                  for row in new if row.username in similar]
    return sorted(conflicts, key=lambda c: c["line"])


def _relinks(course: Course, users: list, base_url: str) -> list[SetPasswordLink]:
    """Links for members of the course before this import who never logged in and have no
    password yet, and belong to no other course: a TA cannot take over anyone else's account by
    listing it."""
    elsewhere = set(Membership.objects.filter(user__in=users).exclude(course=course).values_list("user_id", flat=True))
    made_here = set(Membership.objects.filter(course=course, user__in=users, account_from_roster=True)
                    .values_list("user_id", flat=True))
    return [SetPasswordLink(u.username, u.email, set_password_link(u, base_url)) for u in users
            if u.pk in made_here and u.pk not in elsewhere and u.last_login is None and not u.is_superuser
            and not u.is_staff and not u.has_usable_password()]
