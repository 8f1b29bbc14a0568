"""An e-mail address counts for a roster only once its owner confirmed it: sign-up (and a roster's
set-password link) e-mails a signed link, through a real SMTP server on loopback; the link works
for its own account, logged in, before it expires; the e-mail page sends it again."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.urls import reverse

from basin.accounts.models import ConfirmedEmail
from basin.accounts.selectors import has_confirmed
from basin.courses.roster import import_roster

pytestmark = pytest.mark.django_db
User = get_user_model()


def sign_up(client, course, username="dana", email="dana@uni.example"):
    return client.post(reverse("signup"), {"code": course.join_code, "username": username, "email": email,
                                           "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"},
                       follow=True)


def path_of(link: str) -> str:
    return urlsplit(link).path


def test_sign_up_mails_a_link_that_confirms_the_address_for_its_own_account_only(course, people, smtp_server):
    dana = Client()
    done = sign_up(dana, course)
    assert b"Basin sent a link to dana@uni.example" in done.content
    (rcpts, message), = smtp_server.wait_for(1)
    assert rcpts == ["dana@uni.example"] and message["Subject"] == "Confirm your e-mail address for Basin"
    assert "ignore this message" in message.get_content()
    user = User.objects.get(username="dana")
    assert not has_confirmed(user, "dana@uni.example")
    link = path_of(smtp_server.links("dana@uni.example")[0])

    anonymous = Client().get(link)  # someone else who got hold of the link: log in first
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    stranger = Client()
    stranger.force_login(people["outsider"])
    refused = stranger.get(link)
    assert refused.status_code == 403 and b"another account" in refused.content
    assert not ConfirmedEmail.objects.exists()

    confirmed = dana.get(link, follow=True)
    assert b"dana@uni.example is confirmed" in confirmed.content and has_confirmed(user, "DANA@uni.example")
    assert dana.get(link).status_code == 302  # opening it again changes nothing
    assert ConfirmedEmail.objects.filter(user=user).count() == 1


def test_a_tampered_expired_or_outdated_link_confirms_nothing(course, smtp_server):
    client = Client()
    sign_up(client, course)
    user = User.objects.get(username="dana")
    link = path_of(smtp_server.links("dana@uni.example")[0])
    token = link.rstrip("/").rsplit("/", 1)[1]

    tampered = client.get(link.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")))
    assert tampered.status_code == 400 and b"not valid" in tampered.content

    class FourDaysAgo(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 4 * 24 * 3600)

    old = FourDaysAgo(salt="basin.accounts.confirm-email").sign_object({"user": user.pk, "email": "dana@uni.example"})
    expired = client.get(reverse("confirm-email", kwargs={"token": old}))
    assert expired.status_code == 400 and b"expired" in expired.content

    client.post(reverse("account-email"), {"email": "dana@elsewhere.example"})
    outdated = client.get(link)  # the first link was for the first address
    assert outdated.status_code == 400
    assert b"your account&#x27;s address is now dana@elsewhere.example" in outdated.content
    assert not ConfirmedEmail.objects.exists()
    newest = path_of(smtp_server.links("dana@elsewhere.example")[-1])
    assert client.get(newest).status_code == 302 and has_confirmed(user, "dana@elsewhere.example")


def test_the_email_page_shows_the_state_and_resends_within_a_limit(people, smtp_server, settings):
    client = Client()
    client.force_login(people["student"])
    page = client.get(reverse("account-email"))
    assert page.status_code == 200 and b"has no e-mail address yet" in page.content
    for n in range(settings.BASIN_CONFIRMATION_EMAILS_PER_HOUR):
        sent = client.post(reverse("account-email"), {"email": "student@uni.example"}, follow=True)
        assert b"Basin sent a link to student@uni.example" in sent.content, n
    assert len(smtp_server.wait_for(settings.BASIN_CONFIRMATION_EMAILS_PER_HOUR)) == 5
    assert b"is not confirmed yet" in client.get(reverse("account-email")).content
    flood = client.post(reverse("account-email"), {"email": "student@uni.example"})
    assert flood.status_code == 429 and flood["Retry-After"].isdigit() and b"open the newest one" in flood.content
    assert len(smtp_server.messages) == 5
    client.get(path_of(smtp_server.links("student@uni.example")[-1]))
    assert b"is confirmed" in client.get(reverse("account-email")).content


def test_a_mail_server_that_does_not_answer_never_breaks_sign_up(course, settings):
    from tests.e2e.live import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    done = sign_up(Client(), course)
    assert done.status_code == 200 and b"You are a student of Deep Learning 101" in done.content
    assert b"could not send the confirmation e-mail just now" in done.content
    assert User.objects.filter(username="dana").exists()


def test_a_roster_account_gets_the_link_once_it_chose_its_password(course, smtp_server):
    summary = import_roster(course=course, data=b"username,email,first_name,last_name,student_id\n"
                                                 b"erin,erin@uni.example,Erin,E,s5\n")
    assert smtp_server.messages == []  # the TA hands out the set-password link; nothing is mailed yet
    client = Client()
    form = client.get(summary.links[0].link).headers["Location"]
    client.post(form, {"new_password1": "a-long-passphrase-9", "new_password2": "a-long-passphrase-9"})
    (rcpts, _), = smtp_server.wait_for(1)
    assert rcpts == ["erin@uni.example"]
    client.get(path_of(smtp_server.links("erin@uni.example")[0]))
    assert has_confirmed(User.objects.get(username="erin"), "erin@uni.example")


# --- how often Basin mails one address, and which address a confirmation is for ---------------

def sign_up_as(client, course, username, email):
    return client.post(reverse("signup"), {"code": course.join_code, "username": username, "email": email,
                                           "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"})


def test_many_sign_ups_cannot_flood_one_inbox(course, smtp_server, settings):
    """F9: thirty sign-ups with a valid code from one address, all giving prof's address, mailed prof
    thirty times. Sign-ups per address are limited, and so are confirmation mails to one address."""
    per_address = settings.BASIN_SIGNUPS_PER_ADDRESS_PER_HOUR
    per_day = settings.BASIN_CONFIRMATION_EMAILS_PER_ADDRESS_PER_DAY
    answers = [sign_up_as(Client(REMOTE_ADDR="10.6.6.6"), course, f"flood{n}", "prof@uni.example") for n in range(30)]
    assert [a.status_code for a in answers] == [302] * per_address + [429] * (30 - per_address)
    assert b"Too many sign-ups from this address" in answers[-1].content
    assert User.objects.filter(username__startswith="flood").count() == per_address

    spread = Client(REMOTE_ADDR="10.6.6.7")  # another address, the same inbox (case differs)
    done = sign_up_as(spread, course, "spread", "PROF@Uni.Example")
    assert done.status_code == 302
    warned = spread.get(done["Location"])
    assert f"Basin sent {per_day} confirmation links to PROF@uni.example in the last day" in warned.content.decode()
    assert [rcpts for rcpts, _ in smtp_server.messages] == [["prof@uni.example"]] * per_day
    page = spread.post(reverse("account-email"), {"email": "prof@uni.example"})
    assert page.status_code == 429 and page["Retry-After"].isdigit() and b"open the newest one" in page.content
    assert len(smtp_server.messages) == per_day


KELVIN = "\u212aim.minji@uni.example"  # KELVIN SIGN, which str.lower() turns into "k"
HEADER = "username,email,first_name,last_name,student_id,role\n"


def test_an_address_with_a_non_ascii_letter_before_the_at_is_refused(course, people, smtp_server):
    """F11: the link went to the KELVIN SIGN address, and confirmed the ASCII one a roster lists."""
    from basin.accounts.selectors import email_key
    from basin.accounts.services import send_email_confirmation
    from basin.errors import ApplicationError

    page = sign_up_as(Client(), course, "kim.minji", KELVIN)
    assert page.status_code == 200 and "The part before @ may hold only ASCII letters" in page.content.decode()
    assert not User.objects.filter(username="kim.minji").exists()
    student = Client()
    student.force_login(people["student"])
    page = student.post(reverse("account-email"), {"email": "ma\u00eblle@uni.example"})  # an accent: said so too
    assert page.status_code == 200 and "no accents or other alphabets" in page.content.decode()
    with pytest.raises(ApplicationError) as e:
        import_roster(course=course, data=f"{HEADER}kim.minji,{KELVIN},M,K,s1,ta\n".encode())
    assert "The part before @ may hold only ASCII" in e.value.details["problems"][0]["message"]
    assert smtp_server.messages == []

    assert email_key(KELVIN) != email_key("kim.minji@uni.example")  # nothing but ASCII case is folded
    legacy = User.objects.create_user(username="legacy", email=KELVIN)  # stored before the rule
    with pytest.raises(ApplicationError) as e:
        send_email_confirmation(user=legacy, base_url="http://testserver/")
    assert e.value.code == "email_not_ascii" and smtp_server.messages == []


def test_the_confirmed_key_is_the_address_mailed(course, smtp_server):
    """An international domain is stored as the mail goes out (IDNA), so the link confirms that
    address, and a roster that writes the domain in Unicode matches it."""
    client = Client()
    assert sign_up_as(client, course, "dana", "Dana@B\u00fccher.Example").status_code == 302
    user = User.objects.get(username="dana")
    assert user.email == "Dana@xn--bcher-kva.example"
    (rcpts, _), = smtp_server.wait_for(1)
    assert rcpts == [user.email]
    client.get(path_of(smtp_server.links(user.email)[0]))
    assert list(ConfirmedEmail.objects.values_list("email", flat=True)) == ["dana@xn--bcher-kva.example"]
    summary = import_roster(course=course, data=f"{HEADER}dana,dana@b\u00fccher.example,Dana,D,s1,ta\n".encode())
    assert summary.conflicts == []
    user.refresh_from_db()
    assert user.is_staff and user.memberships.get(course=course).role == "ta"
