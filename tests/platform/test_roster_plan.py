"""The roster import's plan (basin.courses.roster.plan_roster), on its own: given the file's rows and
the course as it is, what each line does, with no database at all (the import tests in
test_enrollment.py and test_roster_takeover.py cover the rows read and the plan carried out)."""
from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth import get_user_model

from basin.courses.models import Course, Membership
from basin.courses.roster import AccountChange, CourseState, NewAccount, plan_roster
from basin.courses.roster_file import RosterRow

User = get_user_model()
COURSE = Course(pk=1, slug="dl101")
LOGGED_IN = datetime(2025, 3, 1, tzinfo=UTC)


def row(line: int, username: str, role: str = "student", student_id: str = "", email: str = "") -> RosterRow:
    return RosterRow(line=line, username=username, email=email or f"{username}@uni.example",
                     first_name=username.title(), last_name="X", student_id=student_id, role=role)


def account(pk: int, username: str, **fields):
    user = User(pk=pk, username=username, email=f"{username}@uni.example", first_name=username.title(),
                last_name="X", **fields)
    user.set_unusable_password()
    return user


def member(user, role: str = "student", student_id: str = "", from_roster: bool = True) -> Membership:
    return Membership(course=COURSE, user=user, role=role, student_id=student_id, pseudonym=f"p{user.pk}",
                      account_from_roster=from_roster)


def state(users: list, members: list[Membership], confirmed: dict | None = None,
          lookalikes: dict | None = None, elsewhere: frozenset = frozenset()) -> CourseState:
    return CourseState(course=COURSE, users={u.username.lower(): u for u in users},
                       members={m.user_id: m for m in members}, elsewhere=elsewhere, confirmed=confirmed or {},
                       lookalikes=lookalikes or {})


def test_each_line_is_created_enrolled_changed_left_alone_or_refused_with_why():
    alice, bob, sam, dora, erin = (account(1, "alice"), account(2, "bob"), account(4, "sam"), account(5, "dora"),
                                   account(6, "erin"))
    carl = account(3, "carl", last_login=LOGGED_IN)
    alice_in, carl_in, dora_in, erin_in = member(alice), member(carl), member(dora), member(erin)
    before = (alice.is_staff, alice_in.role, bob.email)
    rows = [row(2, "newbie"), row(3, "Alice", role="ta", email="alice@uni.example"),
            row(4, "bob", email="bob@home.example"), row(5, "carl"), row(6, "sam"), row(7, "a1ice"), row(8, "erin")]
    plan = plan_roster(rows, state([alice, bob, carl, sam, erin], [alice_in, carl_in, dora_in, erin_in],
                                   confirmed={2: {"bob@home.example"}}, lookalikes={"a1ice": "alice"}),
                       relink=True)

    assert [type(s) for s in plan.steps] == [NewAccount, AccountChange, AccountChange]  # in file order
    assert [r.username for r in plan.created] == ["newbie"]
    made_ta, enrolled = plan.changed
    assert (made_ta.user, made_ta.enrolls, made_ta.member_changes) == (alice, False, {"role": "ta"})
    assert made_ta.user_changes == {"is_staff": True}  # matched without case; details as they are
    # bob signed up on his own: the roster enrolls him (his address is confirmed) but keeps his details
    assert (enrolled.user, enrolled.enrolls, enrolled.user_changes, enrolled.member_changes) == (bob, True, {}, {})
    assert plan.unchanged == ["carl", "erin"]
    assert [(c["line"], c["column"]) for c in plan.conflicts] == [(6, "username"), (7, "username")]
    assert "'sam' is an account this roster did not create" in plan.conflicts[0]["message"]
    assert "looks like the existing account 'alice'" in plan.conflicts[1]["message"]
    assert plan.not_in_roster == ["dora"]
    # new links: for members the roster made who never logged in nor chose a password; not alice, staff once imported
    assert plan.relink == [erin]
    summary = plan.summary(dry_run=True)
    assert (summary.created, summary.updated, summary.unchanged, summary.links) == (
        ["newbie"], ["alice", "bob"], ["carl", "erin"], [])
    assert (alice.is_staff, alice_in.role, bob.email) == before  # planning changed nothing


def test_the_roster_sets_name_and_email_only_of_accounts_it_alone_manages():
    mine, shared, chosen = account(1, "mine"), account(2, "shared"), account(3, "chosen")
    chosen.set_password("a-long-passphrase-9")
    members = [member(mine), member(shared), member(chosen)]
    rows = [row(2, u, email=f"{u}@new.example") for u in ("mine", "shared", "chosen")]
    plan = plan_roster(rows, state([mine, shared, chosen], members,
                                   confirmed={2: {"shared@new.example"}, 3: {"chosen@new.example"}},
                                   elsewhere=frozenset({2})))
    assert [(s.user.username, s.user_changes) for s in plan.changed] == [("mine", {"email": "mine@new.example"})]
    assert plan.unchanged == ["shared", "chosen"] and plan.relink == []  # relink not asked for
