"""The toolkit's package index: PEP 503 (simple repository API) with PEP 629's version meta, open to
anyone (pip sends no session), listing only the wheel built from the sources running now."""
from __future__ import annotations

import logging
import re

from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponsePermanentRedirect,
)
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_safe

from . import wheel as toolkit

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/vnd.pypi.simple.v1+html"  # PEP 691's name for the HTML form


def normalize(name: str) -> str:  # PEP 503
    return re.sub(r"[-_.]+", "-", name).lower()


def _page(title: str, links) -> HttpResponse:
    body = format_html('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
                       "<title>{}</title></head><body><h1>{}</h1>\n{}\n</body></html>\n",
                       title, title, format_html_join("\n", '<a href="{}"{}>{}</a><br>', links))
    return HttpResponse(body, content_type=CONTENT_TYPE)


@require_safe
def index(request):
    return _page("Simple index", [(reverse("toolkit-project", args=[toolkit.DISTRIBUTION]), "",
                                   toolkit.DISTRIBUTION)])


@require_safe
def project(request, name: str):
    if normalize(name) != name:
        return HttpResponsePermanentRedirect(reverse("toolkit-project", args=[normalize(name)]))
    if name != toolkit.DISTRIBUTION:
        raise Http404(f"This server serves only {toolkit.DISTRIBUTION}; pip looks for {name} on its other indexes.")
    toolkit.ensure_built()
    requires = format_html(' data-requires-python="{}"', toolkit.REQUIRES_PYTHON)
    return _page(f"Links for {name}", [
        (f"{reverse('toolkit-file', args=[name, wheel.filename])}#sha256={wheel.sha256}", requires, wheel.filename)
        for wheel in toolkit.kept()])


@require_safe
def download(request, name: str, filename: str):
    current = toolkit.ensure_built()
    wheel = next((w for w in toolkit.kept() if w.filename == filename), None)
    if name != toolkit.DISTRIBUTION or wheel is None:
        raise Http404(f"No such file. The current toolkit is {current.filename}.")
    # One line per install: how many students fetched which build, with which pip (repr: no log injection).
    logger.info("student toolkit %s downloaded by %r", wheel.filename, request.headers.get("User-Agent", "")[:80])
    return FileResponse(open(wheel.path, "rb"), as_attachment=True, filename=wheel.filename,
                        content_type="application/octet-stream")
