"""A homework's public data for students: the public manifest (sha256 of every public file) and
the files themselves. Hidden splits are never served, whatever the path asked for."""
from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.errors import ApplicationError
from basin.schema import FILE, MANIFEST, errors
from basin_grader import dataset_layout as layout

from .selectors import homework_for_viewer


def public_manifest(homework, request) -> dict:
    version = homework.dataset
    files = {}
    for name, sha256 in sorted(version.manifest.get("files", {}).items()):
        path = version.path / name
        if layout.is_public(name) and path.is_file():
            url = reverse("api-homework-dataset-file", kwargs={"slug": homework.slug, "name": name})
            files[name] = {"sha256": sha256, "size": path.stat().st_size, "url": request.build_absolute_uri(url)}
    manifest = version.manifest
    return {"homework": homework.slug, "dataset": version.slug, "name": manifest.get("name"),
            "generator_version": manifest.get("generator_version"), "seed": manifest.get("seed"),
            "glyph_source": manifest.get("glyph_source"),
            "counts": {s: n for s, n in manifest.get("counts", {}).items() if s in layout.PUBLIC_SPLITS},
            "files": files}


class HomeworkDatasetApi(APIView):
    permission_classes = [AllowAny]  # the homework's visibility decides (homework_for_viewer)

    @extend_schema(responses={200: MANIFEST, **errors(404)})
    def get(self, request, slug: str):
        return Response(public_manifest(homework_for_viewer(slug, request.user), request))


class HomeworkDatasetFileApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/octet-stream"): FILE, (206, "application/octet-stream"): FILE,
                              **errors(403, 404)},
                   parameters=[OpenApiParameter("Range", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                                description="bytes=N- resumes from byte N")],
                   operation_id="homeworks_dataset_file_retrieve",
                   description="A public file of the dataset (train/val splits, preview.png); hidden splits: 403.")
    def get(self, request, slug: str, name: str):
        homework = homework_for_viewer(slug, request.user)
        if not layout.is_public(name):
            split = name.split("/")[0]
            if split in layout.HIDDEN_SPLITS:
                raise ApplicationError("hidden_split", f"The {split} split is hidden: it is what the leaderboard "
                                       "scores. "
                                       f"Train on {' and '.join(layout.PUBLIC_SPLITS)}.")
            raise ApplicationError("no_such_file", f"{name} is not a public file of this dataset; the dataset's "
                                   "manifest lists them.")
        path = homework.dataset.path / name
        if name not in homework.dataset.manifest.get("files", {}) or not path.is_file():
            raise ApplicationError("no_such_file", f"This dataset version has no {name}.")
        return _ranged_file(request, path, name.replace("/", "-"))


def _ranged_file(request, path, filename: str) -> HttpResponseBase:
    """The file, or its tail from `Range: bytes=N-` (how an interrupted download resumes)."""
    size = path.stat().st_size
    wanted = request.headers.get("Range", "")
    start = None
    if wanted.startswith("bytes=") and wanted.endswith("-") and wanted[6:-1].isdigit():
        start = int(wanted[6:-1])
    f = open(path, "rb")
    response: HttpResponseBase
    if start is None:
        response = FileResponse(f, as_attachment=True, filename=filename)
    elif start >= size:
        f.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    else:
        f.seek(start)
        response = FileResponse(f, as_attachment=True, filename=filename, status=206)
        response["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        response["Content-Length"] = str(size - start)
    response["Accept-Ranges"] = "bytes"
    return response
