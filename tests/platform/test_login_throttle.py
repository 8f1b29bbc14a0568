"""Brute force: failed logins are counted per account and per address on every path that checks a
password (the login page, the admin's login, POST /api/auth/token/), and wrong join codes on every
path that takes one (the join page, the API that `basin join` calls, sign-up). Past the limit the
answer is 429: the JSON error shape under /api/, a plain page elsewhere."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
TOKEN = "/api/auth/token/"


def token(username: str, password: str, address: str = "10.0.0.1", **headers):
    return APIClient().post(TOKEN, {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=address, **headers)


def page_login(path: str, username: str, password: str, address: str = "10.0.0.1"):
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def assert_locked_json(response):
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/json" and int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "too_many_attempts" and "Wait 15 minutes" in error["message"]


def test_100_wrong_passwords_to_the_token_api_then_the_right_one_get_429(people, settings):
    answers = [token("student", f"guess-{n}").status_code for n in range(100)]
    limit = settings.AXES_FAILURE_LIMIT
    assert answers[:limit - 1] == [401] * (limit - 1) and set(answers[limit - 1:]) == {429}
    assert_locked_json(token("student", "student-password-1"))


def test_the_lock_holds_per_account_and_address(people, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        token("student", f"guess-{n}", address="10.0.0.1")
    assert_locked_json(token("student", "student-password-1", address="10.0.0.1"))
    # Case variants of one username share its count.
    for n in range(settings.AXES_FAILURE_LIMIT):
        token("OUTSIDER" if n % 2 else "Outsider", "guess", address="10.0.0.2")
    assert_locked_json(token("outsider", "outsider-password-1", address="10.0.0.2"))


def test_one_student_cannot_lock_a_shared_campus_address_out(people, settings):
    """F6: ten guesses at names that do not exist, from the address a whole campus shares, used to
    lock every login from it. Only a sprayer far past what a class's typos reach is stopped."""
    nat = "203.0.113.7"
    for n in range(settings.AXES_FAILURE_LIMIT):
        assert token(f"nobody{n}", "x", address=nat).status_code == 401
    assert token("ta", "ta-password-1", address=nat).status_code == 200
    assert page_login(reverse("login"), "student", "student-password-1", address=nat).status_code == 302
    spray = [token(f"sprayed{n}", "x", address=nat).status_code
             for n in range(settings.BASIN_LOGIN_FAILURES_PER_ADDRESS - settings.AXES_FAILURE_LIMIT)]
    assert set(spray[:-1]) == {401} and spray[-1] == 429  # the address's limit, on the failure reaching it
    assert_locked_json(token("ta", "ta-password-1", address=nat))
    assert token("ta", "ta-password-1", address="203.0.113.8").status_code == 200


def test_a_stranger_cannot_lock_a_named_account_everywhere(people, settings):
    """F7: wrong passwords for someone else's username lock that username only from where they came."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        token("student", "wrong", address="198.51.100.9")
    assert_locked_json(token("student", "student-password-1", address="198.51.100.9"))
    assert token("student", "student-password-1", address="192.0.2.50").status_code == 200
    assert page_login(reverse("login"), "student", "student-password-1", address="192.0.2.51").status_code == 302


def test_an_account_guessed_from_many_addresses_gets_few_tries_per_address(people, settings):
    """Per account: past its bound, every address gets only a few tries at it, and the owner, from an
    address without failures, still logs in with the right password."""
    per_account = settings.BASIN_LOGIN_FAILURES_PER_ACCOUNT
    for n in range(per_account):
        token("student", "wrong", address=f"10.8.{n // settings.AXES_FAILURE_LIMIT}.1")
    fresh = "10.9.0.1"
    assert [token("student", "wrong", address=fresh).status_code for _ in range(3)] == [401, 401, 429]
    assert_locked_json(token("student", "student-password-1", address=fresh))
    assert token("student", "student-password-1", address="10.9.0.2").status_code == 200
    assert token("ta", "wrong", address="10.9.0.3").status_code == 401  # other accounts: the usual ten
    assert [token("ta", "wrong", address="10.9.0.3").status_code for _ in range(3)] == [401, 401, 401]


def test_the_lock_ends_after_the_cool_off(people, settings):
    from axes.models import AccessAttempt

    for n in range(settings.AXES_FAILURE_LIMIT):
        token("student", f"guess-{n}")
    assert token("student", "student-password-1").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timezone.timedelta(minutes=16))
    assert token("student", "student-password-1").status_code == 200


def test_every_login_path_shares_the_count_and_pages_answer_a_plain_page(people, settings):
    people["ta"].is_staff = True
    people["ta"].save()
    half = settings.AXES_FAILURE_LIMIT // 2
    for n in range(half):
        assert page_login(reverse("login"), "ta", f"guess-{n}").status_code == 200  # the form again
    for n in range(settings.AXES_FAILURE_LIMIT - half - 1):
        assert token("ta", f"guess-{n}").status_code == 401
    locked = page_login("/admin/login/", "ta", "guess-last")
    assert locked.status_code == 429 and locked["Content-Type"].startswith("text/html")
    assert b"Too many failed logins" in locked.content and b'"error"' not in locked.content
    for path in (reverse("login"), "/admin/login/"):  # the right password too, from that address
        right = page_login(path, "ta", "ta-password-1")
        assert right.status_code == 429 and "_auth_user_id" not in right.wsgi_request.session
    assert_locked_json(token("ta", "ta-password-1"))
    assert page_login("/admin/login/", "ta", "ta-password-1", address="10.7.7.7").status_code == 302


def test_behind_the_proxy_the_address_is_the_one_it_appended(people, settings):
    """X-Forwarded-For entries before the proxy's own are the client's word: varying them evades nothing."""
    settings.BASIN_PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        token("ta", "guess", address="172.18.0.5", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.7")
    assert_locked_json(token("ta", "ta-password-1", address="172.18.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7"))
    assert token("ta", "ta-password-1", address="172.18.0.5", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200
    settings.BASIN_PROXY_COUNT = 0  # no proxy: the header is ignored, the connection's address counts
    assert token("ta", "ta-password-1", address="10.3.3.3", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 200


def test_an_ipv6_guesser_counts_as_its_64_whatever_address_it_takes_in_it(people, settings):
    """A host or home has 2^64 IPv6 addresses: changing the last 64 bits evades nothing."""
    for n in range(settings.AXES_FAILURE_LIMIT):
        token("ta", "guess", address=f"2001:db8:1:2::{n + 1:x}")
    assert_locked_json(token("ta", "ta-password-1", address="2001:db8:1:2:ffff::9"))
    assert token("ta", "ta-password-1", address="2001:db8:1:3::1").status_code == 200  # another /64


@pytest.mark.parametrize("field, value", [("username", "x" * 151), ("password", "p" * 1025)])
def test_overlong_credentials_are_a_400_before_any_hashing_or_counting(people, field, value):
    answer = APIClient().post(TOKEN, {"username": "student", "password": "x", field: value}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


# --- join codes ------------------------------------------------------------------------------

def join_api(client, code, address="10.0.0.1"):
    return client.post("/api/courses/join/", {"code": code}, format="json", REMOTE_ADDR=address)


def test_wrong_join_codes_over_the_api_get_429_then_even_the_right_one(api, course, settings):
    outsider = api("outsider")
    answers = [join_api(outsider, f"guess-{n}").status_code for n in range(30)]
    limit = settings.BASIN_JOIN_CODE_FAILURES_PER_ACCOUNT
    assert answers[:limit] == [404] * limit and set(answers[limit:]) == {429}
    blocked = join_api(outsider, course.join_code, address="10.5.5.5")  # per account: from anywhere
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "too_many_attempts"
    assert int(blocked["Retry-After"]) > 0 and "check it with your course staff" in blocked.json()["error"]["message"]
    assert join_api(api("other_ta"), course.join_code, address="10.5.5.5").json()["joined"] is True


def test_wrong_join_codes_from_one_address_get_429_for_every_account(api, course, people, settings):
    from django.contrib.auth import get_user_model

    users = [get_user_model().objects.create_user(username=f"guesser{n}", password="x") for n in range(60)]
    clients = {}
    for n in range(settings.BASIN_JOIN_CODE_FAILURES_PER_ADDRESS):
        user = users[n % 5]  # few wrong codes per account, many from the address
        client = clients.setdefault(user.pk, APIClient())
        client.force_authenticate(user)
        assert join_api(client, f"guess-{n}", address="10.0.0.9").status_code == 404
    assert join_api(api("outsider"), course.join_code, address="10.0.0.9").status_code == 429


def test_right_join_codes_never_count_so_a_class_behind_one_address_joins(course, settings):
    from django.contrib.auth import get_user_model

    for n in range(settings.BASIN_JOIN_CODE_FAILURES_PER_ADDRESS + 10):
        client = APIClient()
        client.force_authenticate(get_user_model().objects.create_user(username=f"pupil{n}", password="x"))
        assert join_api(client, course.join_code, address="10.0.0.9").status_code == 200, n


def test_the_join_page_and_sign_up_answer_a_plain_429_page(course, people, settings):
    client = Client(REMOTE_ADDR="10.0.0.4")
    client.force_login(people["outsider"])
    for n in range(settings.BASIN_JOIN_CODE_FAILURES_PER_ACCOUNT):
        assert b"No course has this join code" in client.post(reverse("join"), {"code": f"guess-{n}"}).content
    blocked = client.post(reverse("join"), {"code": course.join_code})
    assert blocked.status_code == 429 and b"Too many wrong join codes" in blocked.content
    assert blocked["Content-Type"].startswith("text/html")

    settings.BASIN_JOIN_CODE_FAILURES_PER_ADDRESS = 12
    visitor = Client(REMOTE_ADDR="10.0.0.6")
    form = {"username": "newbie", "email": "newbie@uni.example", "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9"}
    for n in range(12):
        assert visitor.post(reverse("signup"), {**form, "code": f"guess-{n}"}).status_code == 200
    signed = visitor.post(reverse("signup"), {**form, "code": course.join_code})
    assert signed.status_code == 429 and b"Too many wrong join codes" in signed.content
    assert Client(REMOTE_ADDR="10.0.0.7").post(reverse("signup"), {**form, "code": course.join_code}).status_code == 302


def test_sign_up_tells_nothing_about_existing_usernames_without_a_valid_code(course, people):
    form = {"email": "x@uni.example", "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"}

    def errors(username: str, code: str) -> dict:
        page = Client().post(reverse("signup"), {**form, "username": username, "code": code})
        return {name: list(e) for name, e in page.context["form"].errors.items()}

    for taken, free in (("student", "nobody-here"), ("Student", "nobody-here"), ("stuclent", "zzzzz")):
        assert errors(taken, "wrong-code") == errors(free, "wrong-code"), taken
    assert errors("student", course.join_code) == {"username": ["A user with that username already exists."]}


def test_sign_up_with_a_valid_code_is_counted_per_address_whatever_its_outcome(course, people, settings):
    """F10: with a valid code, sign-up says whether a username is taken; 200 tries from one address
    used to read that for 200 names. Every such try counts, failed or not."""
    limit = settings.BASIN_SIGNUPS_PER_ADDRESS_PER_HOUR

    def try_name(username: str, address: str):
        return Client(REMOTE_ADDR=address).post(reverse("signup"), {
            "code": course.join_code, "username": username, "email": "a@uni.example",
            "password1": "a-long-passphrase-9", "password2": "mismatch"})

    answers = [try_name("ta" if n % 2 == 0 else f"nobody{n}", "10.4.4.4") for n in range(limit + 5)]
    assert [a.status_code for a in answers] == [200] * limit + [429] * 5
    assert b"already exists" in answers[0].content and b"already exists" not in answers[-1].content
    assert b"Too many sign-ups from this address" in answers[-1].content and answers[-1]["Retry-After"].isdigit()
    assert try_name("ta", "10.4.4.5").status_code == 200  # another address counts on its own
