"""Personal API tokens (django-rest-knox): kept as digests only; they last as long as the shortest
token lifetime of their owner's courses and are refused after it with what to do; `basin logout`
revokes the token it is sent with; a new web-page token replaces the old one and leaves `basin
login` tokens alone; a new password, by any path, revokes them all; making them is limited."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient

from basin.accounts.models import ApiToken
from basin.courses.models import Course
from basin.courses.roster import set_password_link

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db

GET_A_NEW_TOKEN = "run `basin login`, or create a new token on the homework page"


def log_in(persona: str, password: str | None = None) -> dict:
    response = APIClient().post("/api/auth/token/", {"username": persona, "password": password or
                                                     f"{persona}-password-1"}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def browser(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")  # the CSRF cookie, as the page sets it
    return client


def web_token(client: Client) -> dict:
    response = client.post("/api/auth/tokens/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 201, response.content
    return response.json()


def error_of(response) -> dict:
    return response.json()["error"]


def test_a_token_is_kept_only_as_a_digest(people):
    answer = log_in("student")
    secret = answer["token"]
    assert answer["username"] == "student" and answer["expiry"] is None and len(secret) == 64
    row = ApiToken.objects.get(user=people["student"])
    assert row.label == "basin login" and row.digest == hashlib.sha512(secret.encode()).hexdigest()
    stored = [str(v) for v in ApiToken.objects.values_list(*[f.attname for f in ApiToken._meta.fields]).get()]
    assert not any(secret in value for value in stored)  # the first 15 characters, never the key
    me = with_token(secret).get("/api/auth/me/").json()
    assert me == {"username": "student", "token": {"label": "basin login", "created": me["token"]["created"],
                                                  "expiry": None, "starts_with": secret[:8]}}


def test_the_shortest_lifetime_of_a_students_courses_sets_the_expiry(people, course):
    Course.objects.filter(pk=course.pk).update(token_lifetime_days=30)
    other = Course.objects.get(slug="cv201")
    other.token_lifetime_days = 7
    other.save()
    from basin.courses.services import enroll

    before = timezone.now()
    assert log_in("student")["expiry"] is not None
    expiry = ApiToken.objects.get(user=people["student"]).expiry
    assert before + timedelta(days=30) <= expiry <= timezone.now() + timedelta(days=30)
    enroll(course=other, user=people["student"], role="student")
    log_in("student")
    newest = ApiToken.objects.filter(user=people["student"]).latest("created")
    assert newest.expiry <= timezone.now() + timedelta(days=7)
    assert log_in("outsider")["expiry"] is None  # in no course: no lifetime to apply


def test_an_expired_token_is_refused_with_what_to_do_and_deleted(people, course):
    Course.objects.filter(pk=course.pk).update(token_lifetime_days=1)
    secret = log_in("student")["token"]
    assert with_token(secret).get("/api/auth/me/").status_code == 200
    ApiToken.objects.filter(user=people["student"]).update(expiry=timezone.now() - timedelta(minutes=1))
    refused = with_token(secret).get("/api/homeworks/hw1/")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    error = error_of(refused)
    assert error["code"] == "token_expired"
    assert error["message"].startswith("This token expired on ")
    assert error["message"].endswith(f"(your course sets how long a token lasts): {GET_A_NEW_TOKEN}.")
    assert not ApiToken.objects.filter(user=people["student"]).exists()


def test_a_lifetime_set_or_shortened_later_applies_to_tokens_made_before(people, course):
    """A course that sets a lifetime after its students logged in (or a token carried over from
    before expiries) is held to it: the expiry counts from when the token was made."""
    secret = log_in("student")["token"]
    assert with_token(secret).get("/api/auth/me/").json()["token"]["expiry"] is None
    Course.objects.filter(pk=course.pk).update(token_lifetime_days=1)
    token = ApiToken.objects.get(user=people["student"])
    assert token.expiry is None  # nothing rewritten: the rule is applied when the token is used
    me = with_token(secret).get("/api/auth/me/").json()
    assert me["token"]["expiry"] == serializers.DateTimeField().to_representation(token.created + timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=1, minutes=1))
    refused = with_token(secret).get("/api/homeworks/hw1/")
    assert refused.status_code == 401 and error_of(refused)["code"] == "token_expired"


def test_logout_revokes_the_token_it_is_sent_with_and_no_other(people):
    laptop, cluster = log_in("student")["token"], log_in("student")["token"]
    done = with_token(laptop).post("/api/auth/logout/")
    assert done.status_code == 200 and done.json()["revoked"]["starts_with"] == laptop[:8]
    refused = with_token(laptop).get("/api/auth/me/")
    assert refused.status_code == 401 and error_of(refused)["code"] == "not_authenticated"
    assert with_token(cluster).get("/api/auth/me/").json()["username"] == "student"


# create_token locks the account (SELECT ... FOR UPDATE): SQLite has no row locks
@pytest.mark.database_sensitive
def test_a_new_web_token_replaces_the_old_web_token_and_leaves_basin_login_tokens(people):
    page = browser(people["student"])
    cli = log_in("student")["token"]
    first = web_token(page)
    assert first["label"] == "web page" and first["replaced"] == 0 and first["other_live_tokens"] == 1
    second = web_token(page)
    assert second["replaced"] == 1 and second["other_live_tokens"] == 1 and second["expiry"] is None
    assert with_token(first["token"]).get("/api/auth/me/").status_code == 401
    assert with_token(second["token"]).get("/api/auth/me/").json()["token"]["label"] == "web page"
    assert with_token(cli).get("/api/auth/me/").json()["token"]["label"] == "basin login"
    listed = page.get("/api/auth/tokens/").json()
    assert [t["label"] for t in listed] == ["web page", "basin login"]
    assert [t["starts_with"] for t in listed] == [second["token"][:8], cli[:8]]
    assert all("token" not in t for t in listed)  # no secret is ever shown again


def test_only_a_browser_session_with_its_csrf_token_makes_web_tokens(people):
    cli = log_in("student")["token"]
    by_token = with_token(cli).post("/api/auth/tokens/")
    assert by_token.status_code == 403 and error_of(by_token)["code"] == "not_authenticated"
    forged = browser(people["student"]).post("/api/auth/tokens/")  # another site's form: no CSRF header
    assert forged.status_code == 403 and not ApiToken.objects.filter(label="web page").exists()


def change_by_set_password_link(user, new):
    client = Client()
    opened = client.get(set_password_link(user))
    done = client.post(opened["Location"], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302, done.content


def change_in_the_admin(user, new):
    root = get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(root)
    done = client.post(reverse("admin:auth_user_password_change", args=[user.pk]),
                       {"password1": new, "password2": new, "usable_password": "true"})
    assert done.status_code == 302, done.content


def change_with_manage_py(user, new, monkeypatch):
    monkeypatch.setattr("django.contrib.auth.management.commands.changepassword.getpass.getpass", lambda prompt="": new)
    call_command("changepassword", user.username)


@pytest.mark.parametrize("how", ["set-password link", "admin", "manage.py changepassword"])
def test_a_new_password_revokes_every_token_whatever_set_it(people, how, monkeypatch):
    student = people["student"]
    cli = log_in("student")["token"]
    web = web_token(browser(student))["token"]
    other = log_in("other_student")["token"]
    new = "a-new-long-passphrase-7"
    if how == "set-password link":
        change_by_set_password_link(student, new)
    elif how == "admin":
        change_in_the_admin(student, new)
    else:
        change_with_manage_py(student, new, monkeypatch)
    for token in (cli, web):
        refused = with_token(token).get("/api/auth/me/")
        assert refused.status_code == 401
        assert error_of(refused) == {"code": "token_revoked", "details": {}, "message":
                                     "This token was revoked: the account's password changed after it was made. "
                                     "Run `basin login`, or create a new token on the homework page."}
    assert not ApiToken.objects.filter(user=student).exists()
    assert with_token(other).get("/api/auth/me/").status_code == 200  # another account's are untouched
    assert with_token(log_in("student", new)["token"]).get("/api/auth/me/").status_code == 200


def test_a_django_upgrades_rehash_on_login_or_a_rotated_secret_key_revokes_no_token(people, settings):
    """Neither changes the password: a new default hasher re-hashes it when the user next logs in,
    and a new SECRET_KEY changes the session hash. Notebooks and CLIs keep working through both."""
    token = log_in("student")["token"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]  # a newer default
    User = get_user_model()
    before = User.objects.get(pk=people["student"].pk).password
    log_in("student")  # checks the password: Django re-hashes it with the new default
    assert User.objects.get(pk=people["student"].pk).password.split("$")[0] != before.split("$")[0]
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-rotated-secret-key-" + "x" * 40, []
    assert with_token(token).get("/api/auth/me/").status_code == 200


def test_an_account_makes_a_limited_number_of_tokens_an_hour(people, settings):
    settings.BASIN_TOKENS_PER_ACCOUNT_PER_HOUR = 2
    log_in("student")
    web_token(browser(people["student"]))
    refused = APIClient().post("/api/auth/token/", {"username": "student", "password": "student-password-1"},
                               format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert error_of(refused)["code"] == "too_many_attempts"
    assert error_of(refused)["message"].startswith("Too many new API tokens for this account in the last hour. Wait")
    assert log_in("other_student")["token"]  # counted per account


# create_token's row lock, and the tokens past the kept number deleted under it
@pytest.mark.database_sensitive
def test_basin_login_tokens_past_the_kept_number_revoke_the_oldest(people, settings):
    settings.BASIN_LOGIN_TOKENS_KEPT = 2
    page = browser(people["student"])
    web = web_token(page)["token"]
    oldest, middle, newest = (log_in("student")["token"] for _ in range(3))
    assert with_token(oldest).get("/api/auth/me/").status_code == 401
    for token in (middle, newest, web):
        assert with_token(token).get("/api/auth/me/").status_code == 200
    assert len(page.get("/api/auth/tokens/").json()) == 3


def test_the_course_admin_shows_the_token_lifetime(people, course):
    root = get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(root)
    page = client.get(reverse("admin:courses_course_change", args=[course.pk])).content.decode()
    assert 'name="token_lifetime_days"' in page and "empty: no expiry" in page


def test_a_superuser_lists_and_revokes_tokens_in_the_admin_but_never_sees_or_makes_one(people):
    secret = log_in("student")["token"]
    root = get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(root)
    listing = client.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    assert "student" in listing and secret[:8] in listing and secret not in listing
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    row = ApiToken.objects.get(user=people["student"])
    client.post(reverse("admin:accounts_apitoken_delete", args=[row.pk]), {"post": "yes"})
    assert with_token(secret).get("/api/auth/me/").status_code == 401


def test_the_homework_page_has_the_token_box_with_its_script_as_a_file(people, homework):
    page = browser(people["student"]).get(f"/homeworks/{homework.slug}/").content.decode()
    box = page.split('<div id="token-box"')[1].split("</noscript>")[0]
    assert 'data-tokens-url="/api/auth/tokens/"' in box and 'name="csrfmiddlewaretoken"' in box
    assert "Personal API token</strong> — for <code>basin login --token</code> or\n    <code>BASIN_TOKEN</code>" in box
    assert 'id="token-create"' in box and 'id="token-value" readonly' in box and 'id="token-copy"' in box
    assert "revokes the previous one made on this page" in box and "Keep it secret." in box
    assert "style=" not in box and "<script>" not in page  # the page's policy allows neither inline
    assert '<script src="/static/basin/token_box.js" defer></script>' in page
