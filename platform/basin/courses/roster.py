"""A course's roster from a CSV file (the university's export or a TA's spreadsheet): accounts
created or updated, memberships added, and a one-time set-password link per new account.

Everything is checked before anything is written (roster_file.py reports every problem with its
line). Then two steps: plan_roster decides, from the rows and what the course and its accounts are
now (read_course_state), what the import does to each line, and writes nothing; apply_roster
carries that plan out in one transaction. A dry run shows the plan. Importing the same file again
changes nothing: people are matched by username. A line that would bind an account this course's
roster did not create, by an address its owner has not confirmed, is left out and reported as a
conflict."""
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


@dataclass(frozen=True)
class CourseState:
    """What a plan is made from besides the rows: the course, its members, and the existing accounts
    the file names, with what decides whether its roster may bind or manage them."""

    course: Course
    users: dict[str, Any]  # the file's usernames, lower-case -> the existing account
    members: dict[int, Membership]  # user id -> membership in this course (with its user)
    elsewhere: frozenset[int]  # those of `users` in another course too
    confirmed: dict[int, set[str]]  # user id (of `users`) -> the addresses they confirmed, as email_key writes them
    lookalikes: dict[str, str]  # a new username of the file -> the existing username it looks like

    def manages(self, user, *, is_staff: bool | None = None) -> bool:
        """Whether this course's roster alone manages `user`, and so may set their name and email:
        an account it made itself, in no other course, not staff, without a password chosen.
        is_staff: as the import leaves it, where that differs from now."""
        membership = self.members.get(user.pk)
        return (membership is not None and membership.account_from_roster and user.pk not in self.elsewhere
                and not user.is_superuser and not (user.is_staff if is_staff is None else is_staff)
                and not user.has_usable_password())


@dataclass(frozen=True)
class NewAccount:
    """A line naming no existing account: the account is made (without a password; its owner chooses
    one through their set-password link) and enrolled, as made by this course's roster."""

    row: RosterRow


@dataclass(frozen=True)
class AccountChange:
    """A line naming an existing account that is not in the course yet (enrolled), or whose details,
    role or student id differ from the line's."""

    row: RosterRow
    user: Any
    membership: Membership | None  # None: enrolled by this import, with the line's role and student id
    user_changes: dict[str, object]  # field -> new value (email, names only where the roster manages it; is_staff)
    member_changes: dict[str, object]  # of an existing membership: role, student_id

    @property
    def enrolls(self) -> bool:
        return self.membership is None


@dataclass(frozen=True)
class RosterPlan:
    """What importing the rows into the course does; nothing is written until apply_roster."""

    course: Course
    steps: list[NewAccount | AccountChange]  # in file order, as they are written
    unchanged: list[str]  # usernames of members the file lists as they are
    not_in_roster: list[str]  # usernames of members the file does not list (kept)
    conflicts: list[dict]  # lines left out, each {line, column, message}: see _conflicts
    relink: list  # members who get a new set-password link (asked for with relink)
    pseudonyms: frozenset[str]  # the course's, before the import: each new membership draws another

    @property
    def created(self) -> list[RosterRow]:
        return [step.row for step in self.steps if isinstance(step, NewAccount)]

    @property
    def changed(self) -> list[AccountChange]:
        return [step for step in self.steps if isinstance(step, AccountChange)]

    def summary(self, *, dry_run: bool) -> RosterSummary:
        """The summary without links: those exist once the accounts do."""
        return RosterSummary(
            course=self.course.slug, dry_run=dry_run, created=[row.username for row in self.created],
            updated=[step.user.username for step in self.changed], unchanged=list(self.unchanged),
            not_in_roster=list(self.not_in_roster), conflicts=list(self.conflicts))


def import_roster(*, course: Course, data: bytes, base_url: str = "", dry_run: bool = False,
                  relink: bool = False) -> RosterSummary:
    """Import a roster CSV into `course`. base_url (e.g. https://basin.example.org) starts each
    set-password link; without it the links are paths on this site. relink: new links also for
    listed members who never chose a password (their link was lost or expired)."""
    rows = read_roster(data)
    try:
        with transaction.atomic():
            plan = plan_roster(rows, read_course_state(course, rows), relink=relink and not dry_run)
            if dry_run:
                return plan.summary(dry_run=True)
            return apply_roster(plan, base_url=base_url.rstrip("/"))
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


def read_course_state(course: Course, rows: list[RosterRow]) -> CourseState:
    """Everything plan_roster needs to know about the course and the accounts the rows name (reads only)."""
    User = get_user_model()
    # Matched without case, as Django's sign-up form refuses "Alice" once "alice" exists; an exact
    # match wins where old accounts differ only in case.
    wanted = {r.username.lower(): r.username for r in rows}
    users: dict[str, Any] = {}
    for u in User.objects.annotate(lower=Lower("username")).filter(lower__in=list(wanted)).order_by("pk"):
        if u.lower not in users or u.username == wanted[u.lower]:
            users[u.lower] = u
    members = {m.user_id: m for m in Membership.objects.filter(course=course).select_related("user")}
    elsewhere = frozenset(Membership.objects.filter(user__in=list(users.values())).exclude(course=course)
                          .values_list("user_id", flat=True))
    new = [row.username for row in rows if row.username.lower() not in users]
    return CourseState(course=course, users=users, members=members, elsewhere=elsewhere,
                       confirmed=confirmed_addresses(u.pk for u in users.values()), lookalikes=lookalikes(new))


def plan_roster(rows: list[RosterRow], state: CourseState, *, relink: bool = False) -> RosterPlan:
    """What importing `rows` does, line by line, given the course as `state` found it; writes nothing.
    relink: plan new links also for listed members who never chose a password."""
    # A line binds a person (name, student id, role) to an account. One that this course's roster
    # did not make is bound only by an address its owner confirmed: else whoever signed up first
    # with a classmate's (or a TA's) username and address would take their place.
    conflicts = _conflicts(rows, state)
    skipped = {c["line"] for c in conflicts}
    steps: list[NewAccount | AccountChange] = []
    unchanged: list[str] = []
    for row in rows:
        if row.line in skipped:
            continue
        user = state.users.get(row.username.lower())
        if user is None:
            steps.append(NewAccount(row))
            continue
        # A course's roster may set the name and email only of accounts it made itself and alone
        # manages: never of one that signed up on its own, belongs to another course, has chosen a
        # password, or is staff.
        details: dict[str, object] = ({"email": row.email, "first_name": row.first_name, "last_name": row.last_name}
                                      if state.manages(user) else {})
        if row.role == Membership.Role.TA:
            details["is_staff"] = True  # never taken away here: they may be staff for another reason
        user_changes = {k: v for k, v in details.items() if getattr(user, k) != v}
        membership = state.members.get(user.pk)
        member_changes: dict[str, object] = {k: v for k, v in {"role": row.role, "student_id": row.student_id}.items()
                                             if membership is not None and getattr(membership, k) != v}
        if membership is not None and not user_changes and not member_changes:
            unchanged.append(user.username)
            continue
        steps.append(AccountChange(row, user, membership, user_changes, member_changes))
    listed = {u.pk for u in state.users.values()}
    return RosterPlan(
        course=state.course, steps=steps, unchanged=unchanged, conflicts=conflicts,
        not_in_roster=sorted(m.user.username for m in state.members.values() if m.user_id not in listed),
        relink=_relinks(state, steps) if relink else [],
        pseudonyms=frozenset(m.pseudonym for m in state.members.values()))


def apply_roster(plan: RosterPlan, *, base_url: str = "") -> RosterSummary:
    """Carry out `plan` in one transaction: accounts made and changed, memberships added and changed,
    and the set-password links (starting with base_url) of the new accounts and of plan.relink."""
    User = get_user_model()
    course = plan.course
    summary = plan.summary(dry_run=False)
    # Pseudonyms are drawn here, not one query per new member in Membership.save().
    taken = set(plan.pseudonyms)
    new_members: list[Membership] = []

    def new_membership(user, row: RosterRow, made_here: bool = False) -> Membership:
        pseudonym = draw_pseudonym(course.pk, taken)
        taken.add(pseudonym)
        return Membership(course=course, user=user, role=row.role, student_id=row.student_id, pseudonym=pseudonym,
                          account_from_roster=made_here)

    with transaction.atomic():
        for step in plan.steps:
            row = step.row
            if isinstance(step, NewAccount):
                # is_staff lets a TA into the admin; what they may do there is decided per course.
                user = User(username=row.username, email=row.email, first_name=row.first_name,
                            last_name=row.last_name, is_staff=row.role == Membership.Role.TA)
                user.set_unusable_password()  # they choose one through their link
                user.save()
                new_members.append(new_membership(user, row, made_here=True))
                summary.links.append(SetPasswordLink(row.username, row.email, set_password_link(user, base_url)))
                continue
            if step.user_changes:
                for k, v in step.user_changes.items():
                    setattr(step.user, k, v)
                step.user.save(update_fields=list(step.user_changes))
            if step.membership is None:
                new_members.append(new_membership(step.user, row))
            elif step.member_changes:
                for k, v in step.member_changes.items():
                    setattr(step.membership, k, v)
                step.membership.save(update_fields=list(step.member_changes))
        Membership.objects.bulk_create(new_members)
    # After the changes: each link's token covers the account as saved.
    summary.links += [SetPasswordLink(u.username, u.email, set_password_link(u, base_url)) for u in plan.relink]
    return summary


def _conflicts(rows: list[RosterRow], state: CourseState) -> list[dict]:
    """Lines the import leaves out, each with what the TA can do: an existing account this course's
    roster did not make, without the line's address confirmed; a new username that looks like an
    existing account's."""
    conflicts = []
    for row in rows:
        user = state.users.get(row.username.lower())
        membership = state.members.get(user.pk) if user is not None else None
        if user is None or (membership is not None and membership.account_from_roster) \
                or email_key(row.email) in state.confirmed.get(user.pk, set()):
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
    new = [row for row in rows if row.username.lower() not in state.users]
    conflicts += [problem(row.line, "username", f"{row.username!r} looks like the existing account "
                          f"{state.lookalikes[row.username]!r} (I/l/1, O/0, rn/m, vv/w, cl/d read alike); no account "
                          "was made. Give this person a username that differs in more than that.")
                  for row in new if row.username in state.lookalikes]
    return sorted(conflicts, key=lambda c: c["line"])


def _relinks(state: CourseState, steps: list[NewAccount | AccountChange]) -> list:
    """Members of the course before this import who never logged in and have no password yet, and
    whose account its roster alone manages (made here, in no other course, not staff once imported):
    a TA cannot take over anyone else's account by listing it."""
    made_staff = {s.user.pk for s in steps if isinstance(s, AccountChange) and s.user_changes.get("is_staff")}
    return [u for u in state.users.values()
            if state.manages(u, is_staff=u.is_staff or u.pk in made_staff) and u.last_login is None]
