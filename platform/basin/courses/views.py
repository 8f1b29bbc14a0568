"""The starter notebook download, filled in for this site and homework (the homework page itself is
basin.submissions.views')."""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse

from basin.toolkit import install
from basin.toolkit import wheel as toolkit

from .selectors import homework_for_member

logger = logging.getLogger(__name__)


@login_required
def starter_notebook(request, slug: str):
    """The starter notebook with this site's address and the homework's slug filled in."""
    homework, _ = homework_for_member(slug, request.user)
    path = settings.BASIN_STARTER_NOTEBOOK
    if not path.is_file():
        raise Http404("This installation has no starter notebook; ask the course staff for it.")
    filled = {"--extra-index-url https://YOUR-BASIN/simple/": install.index_options(request),
              "https://YOUR-BASIN": request.build_absolute_uri("/").rstrip("/"),
              'HOMEWORK = "HOMEWORK"': f'HOMEWORK = "{homework.slug}"',
              # pinned to this server's build, which no other index can hold (basin.toolkit.install);
              # the stored notebook's placeholder is no version at all, so unfilled it installs nothing
              f"{toolkit.DISTRIBUTION}[check]==FILLED-IN-BY-YOUR-BASIN":
                  f"{toolkit.DISTRIBUTION}[check]=={toolkit.current_version()}"}
    notebook = json.loads(path.read_text(encoding="utf-8"))
    sources = "".join("".join(cell["source"]) for cell in notebook["cells"])
    missing = [placeholder for placeholder in filled if placeholder not in sources]
    if missing:  # e.g. a course's own notebook whose install line Basin cannot pin: it is not handed out
        logger.error("starter notebook %s lacks the placeholders %s", path, ", ".join(missing))
        raise Http404("This installation's starter notebook is not one Basin can fill in; ask the course staff.")
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        for placeholder, value in filled.items():
            source = source.replace(placeholder, value)
        cell["source"] = source.splitlines(keepends=True)
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    response = HttpResponse(text, content_type="application/x-ipynb+json")
    response["Content-Disposition"] = f'attachment; filename="{homework.slug}-starter.ipynb"'
    return response
