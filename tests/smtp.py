"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and Django pointed at
it with its real SMTP backend. A fixture: tests/conftest.py imports it, so any test may ask for `smtp_server`."""
from __future__ import annotations

import email
import email.policy
import re
import time
from dataclasses import dataclass, field

import pytest


@dataclass
class Inbox:
    host: str
    port: int
    messages: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"{len(self.messages)} messages arrived, {count} expected"
        return self.messages

    def links(self, to: str) -> list[str]:
        """The confirmation links in the messages sent to `to`, oldest first."""
        return [m for rcpts, msg in self.messages if to in rcpts
                for m in re.findall(r"https?://\S+/accounts/confirm-email/\S+/", msg.get_content())]


@pytest.fixture
def smtp_server(settings):
    from aiosmtpd.controller import Controller

    from tests.e2e.live import free_port

    inbox = Inbox("127.0.0.1", free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = inbox.host, inbox.port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()
