"""Upload limits against a live server: the quota holds under 20 concurrent uploads (exactly the
allowed number accepted), and an upload over the size limit is answered 413 from its declared
length, before its body is read (so it fills neither memory nor disk)."""
from __future__ import annotations

import json
import socket
import threading
from urllib.parse import urlparse

import pytest
import requests
from django.db import connection

from basin.submissions.models import Submission
from tests import factories
from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_exactly_the_quota_is_accepted_from_20_concurrent_uploads(live_server, homework, people):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite takes one writer at a time, so this proves nothing there; it runs in the PostgreSQL "
                    "re-run of this folder (test_on_postgres.py)")
    homework.daily_quota = 5
    homework.save()
    token = token_for(people["student"])
    # Twenty different files: an identical one would be refused as a duplicate, not by the quota.
    data = [factories.bundle(extra={"n.txt": str(i).encode()}) for i in range(20)]
    start = threading.Barrier(20)
    statuses: list[int] = []

    def upload(i: int) -> None:
        start.wait()  # all 20 requests leave together
        response = requests.post(f"{live_server.url}/api/homeworks/{homework.slug}/submissions/",
                                 headers={"Authorization": f"Token {token}"},
                                 files={"file": (f"m{i}.zip", data[i])}, timeout=120)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] * 5 + [429] * 15
    assert Submission.objects.filter(homework=homework, user=people["student"]).count() == 5


def test_an_oversized_upload_is_refused_before_its_body_is_read(live_server, homework, people):
    homework.max_upload_mb = 1
    homework.save()
    token = token_for(people["student"])
    url = urlparse(live_server.url)
    declared = 512 * 1024 * 1024
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall((f"POST /api/homeworks/{homework.slug}/submissions/ HTTP/1.1\r\nHost: {url.netloc}\r\n"
                      f"Authorization: Token {token}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                      f"Content-Length: {declared}\r\nConnection: close\r\n\r\n").encode())
        sock.sendall(b"--b\r\n" + b"\0" * 65536)  # a start of the body; the other 512 MB are never sent
        answer = b""
        while b"\r\n\r\n" not in answer:  # read the answer, not to EOF: a dev server drains what is left
            answer += sock.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += sock.recv(65536)
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"413"
    error = json.loads(body)["error"]
    assert error["code"] == "file_too_large" and "at most 1 MB" in error["message"]
    assert not Submission.objects.exists()
