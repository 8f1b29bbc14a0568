"""The OpenAPI schema documents every API route without a warning, and its docs page is served
whole by Basin (no CDN)."""
import re

import pytest
from django.core.management import call_command
from django.test import Client

from basin import urls

# Pages and the schema: the same on SQLite and PostgreSQL; not re-run there.
pytestmark = pytest.mark.django_db


def test_the_schema_covers_every_api_route_and_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    documented = set(re.findall(r"^  (/api/\S+):$", schema, re.M))
    routes = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in urls.api
              if p.name not in ("api-schema", "api-docs")}
    assert documented == routes
    assert "ErrorBody" in schema and "SubmissionUpload" in schema and "multipart/form-data" in schema


def test_the_docs_page_and_schema_are_open_and_load_nothing_from_elsewhere():
    client = Client()
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert not re.search(r"https?://(?!testserver)", html), re.findall(r"https?://[^\"' ]+", html)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/api/schema/").status_code == 200
