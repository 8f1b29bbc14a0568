"""A course's roster from a CSV file (the university's export or a TA's spreadsheet): accounts
created or updated, memberships added, and a one-time set-password link per new account.

Everything is checked before anything is written, and every problem is reported at once with
its line in the file, so a TA fixes the file in one go; then one transaction writes it all.
Importing the same file again changes nothing: people are matched by username."""
from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass, field

import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from basin.errors import ApplicationError

from .models import Course, Membership, new_pseudonym

REQUIRED_COLUMNS = ("username", "email", "first_name", "last_name", "student_id")
MAX_BYTES = 5 * 1024 * 1024  # a roster of thousands is ~200 kB; more is a wrong file
# The columns' lengths in the database: longer values would fail inside the transaction (or be cut).
MAX_LENGTHS = {"username": 150, "email": 254, "first_name": 150, "last_name": 150, "student_id": 64}
SHOWN_IN_MESSAGE = 10  # the message lists the first problems; `details` has them all


@dataclass(frozen=True)
class RosterRow:
    line: int  # in the file, header = 1: what the TA sees in an editor
    username: str
    email: str
    first_name: str
    last_name: str
    student_id: str
    role: str


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
    # One per created account (with relink, also per member still without a password); none in a dry run.
    links: list[SetPasswordLink] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def read_roster(data: bytes) -> list[RosterRow]:
    """The file's rows, checked; ApplicationError("invalid_roster") lists every problem found."""
    frame = _read_csv(data)
    columns: dict[str, str] = {}  # normalized name -> the header as written
    problems: list[dict] = []
    for name in frame.columns:
        key = str(name).strip().lower()
        if key in columns:
            problems.append(_problem(1, key, f"column {key!r} appears twice in the header; keep one"))
        columns.setdefault(key, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        problems.append(_problem(1, None, f"the header lacks {', '.join(map(repr, missing))}; it needs "
                                          f"{', '.join(REQUIRED_COLUMNS)} (and optionally role), it has "
                                          f"{', '.join(repr(str(c)) for c in frame.columns)}"))
    if problems:
        _refuse(problems)

    rows: list[RosterRow] = []
    seen: dict[str, int] = {}  # lower-cased username -> its first line
    validate_username = UnicodeUsernameValidator()
    for index, record in enumerate(frame.to_dict("records")):
        # pandas numbers data rows from 0 after the header; blank lines are kept as empty rows
        # (skip_blank_lines=False), so this is the line in the file.
        line = index + 2
        values = {c: str(record[columns[c]]).strip() for c in REQUIRED_COLUMNS}
        if not any(values.values()) and not str(record.get(columns.get("role"), "")).strip():
            continue  # a blank line, or a spreadsheet's trailing empty row
        role = str(record[columns["role"]]).strip().lower() if "role" in columns else ""
        role = role or Membership.Role.STUDENT
        found = len(problems)
        for column, most in MAX_LENGTHS.items():
            if len(values[column]) > most:
                problems.append(_problem(line, column, f"{column} is {len(values[column])} characters long; "
                                                       f"at most {most} fit"))
        username, email = values["username"], values["email"]
        if not username:
            problems.append(_problem(line, "username", "username is empty"))
        else:
            try:
                validate_username(username)
            except ValidationError:
                problems.append(_problem(line, "username", f"username {username!r} may contain only letters, "
                                                           "digits and @ . + - _ (no spaces)"))
            first = seen.setdefault(username.lower(), line)
            if first != line:
                problems.append(_problem(line, "username", f"username {username!r} is also on line {first}; "
                                                           "each person must appear once"))
        if not email:
            problems.append(_problem(line, "email", "email is empty; each person needs one to receive their "
                                                    "set-password link"))
        else:
            try:
                validate_email(email)
            except ValidationError:
                problems.append(_problem(line, "email", f"email {email!r} is not an email address"))
        if role not in Membership.Role.values:
            problems.append(_problem(line, "role", f"role {role!r} is unknown; write ta or student "
                                                   "(empty means student)"))
        if len(problems) == found:
            rows.append(RosterRow(line=line, username=username, role=role,
                                  email=get_user_model().objects.normalize_email(email),
                                  first_name=values["first_name"], last_name=values["last_name"],
                                  student_id=values["student_id"]))
    if problems:
        _refuse(problems)
    if not rows:
        raise ApplicationError("empty_roster", "The roster lists no one: below its header, write one line per "
                               "person (username, email, first_name, last_name, student_id, role).")
    return rows


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
                               "nothing was imported. Import the file again.", status_code=409) from None


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
    users: dict[str, object] = {}
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

    # An account someone made by signing up is enrolled under a roster line only if its email is
    # that line's: else a student could take a classmate's expected username (and grade).
    problems = [_problem(row.line, "email", f"{row.username!r} is an existing account with another email address; "
                         "check the line, or enroll that person by their own username")
                for row in rows if (u := users.get(row.username.lower())) is not None and u.pk not in members
                and u.has_usable_password() and u.email.lower() != row.email.lower()]
    if problems:
        _refuse(problems)

    def new_membership(user, row: RosterRow, made_here: bool = False) -> Membership:
        pseudonym = next(p for p in iter(new_pseudonym, None) if p not in taken)
        taken.add(pseudonym)
        return Membership(course=course, user=user, role=row.role, student_id=row.student_id, pseudonym=pseudonym,
                          account_from_roster=made_here)

    for row in rows:
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
        details = ({"email": row.email, "first_name": row.first_name, "last_name": row.last_name}
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


def _read_csv(data: bytes) -> pd.DataFrame:
    if len(data) > MAX_BYTES:
        raise ApplicationError("roster_too_large", f"The roster is {len(data) // 1024} kB; a roster CSV is at most "
                               f"{MAX_BYTES // 1024 // 1024} MB. Check that this is the right file.", status_code=413)
    try:
        text = data.decode("utf-8-sig")  # -sig: Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        raise ApplicationError("roster_not_utf8", "The roster is not UTF-8 text. In Excel or LibreOffice, save it as "
                               "\"CSV UTF-8\".") from None
    header = text.split("\n", 1)[0]
    separator = ";" if header.count(";") > header.count(",") else ","  # European spreadsheets write ';'
    try:
        with warnings.catch_warnings():
            # pandas only warns when the first row has more fields than the header; it is an error here.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, index_col=False,
                               skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise ApplicationError("empty_roster", "The roster file is empty; its first line must be the header "
                               "(username, email, first_name, last_name, student_id, role).") from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as e:
        detail = str(e).removeprefix("Error tokenizing data. C error: ").strip()
        if isinstance(e, pd.errors.ParserWarning):
            detail = "line 2 has more fields than the header"
        raise ApplicationError("invalid_roster", f"The roster could not be read as CSV ({detail}). Each line needs as "
                               f"many {separator!r}-separated fields as the header; quote values that contain "
                               f"{separator!r}.") from None


def _problem(line: int, column: str | None, message: str) -> dict:
    return {"line": line, "column": column, "message": message}


def _refuse(problems: list[dict]) -> None:
    shown = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:SHOWN_IN_MESSAGE])
    more = f"; and {len(problems) - SHOWN_IN_MESSAGE} more (see details)" if len(problems) > SHOWN_IN_MESSAGE else ""
    noun = "problem" if len(problems) == 1 else "problems"
    raise ApplicationError("invalid_roster", f"The roster has {len(problems)} {noun}, so nothing was imported; fix "
                           f"them and import it again. {shown}{more}.", details={"problems": problems})
