"""What every API view shares: study lookup by permission, validated input, refusals as problems, uploads."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.http import Http404
from rest_framework import exceptions, viewsets

from evaluation.models import Study
from evaluation.permissions import can_change_study, can_view_study, studies_visible_to

from ..problems import Problem

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def visible_studies(request):
    return studies_visible_to(request.user)


def study_for(request, name: str, change: bool = False) -> Study:
    """The study a request names, if the user may see it (else 404: another's study is not revealed);
    403 when they may see it but not change it."""
    study = visible_studies(request).select_related("network").filter(name=name).first()
    if study is None or not can_view_study(request.user, study):
        raise Http404(f"no study named {name!r}")
    if change and not can_change_study(request.user, study):
        raise exceptions.PermissionDenied(f"you may read study {name!r} but not change it")
    return study


@contextmanager
def uploaded_file_on_disk(upload):
    """The upload saved under its own base name in a fresh folder, so services that read a path
    name the user's file (and store its name) rather than a temporary one."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise exceptions.ValidationError({"file": [f"larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"]})
    name = Path(upload.name or "upload.csv").name or "upload.csv"
    with tempfile.TemporaryDirectory(prefix="neuroneval-upload-") as folder:
        path = Path(folder) / name
        written = 0
        with path.open("wb") as handle:
            for chunk in upload.chunks():
                # Import files are UTF-8 text: a NUL byte is binary or UTF-16 data, and PostgreSQL stores no NUL.
                if b"\x00" in chunk:
                    at = written + chunk.index(b"\x00")
                    raise exceptions.ValidationError(
                        {"file": [f"contains a NUL byte (at byte {at}); import files are UTF-8 text"]})
                handle.write(chunk)
                written += len(chunk)
        yield path


def without_folder(message: str, path: Path) -> str:
    """A service's message with the temporary folder left out: the user knows only their file's name."""
    return message.replace(str(path), path.name)


def validated(serializer_class, data) -> dict:
    """The request's fields checked by the serializer (a 400 naming every bad field), as validated data."""
    given = serializer_class(data=data)
    given.is_valid(raise_exception=True)
    return given.validated_data


@contextmanager
def refused_as(errors, slug: str, field: str = ""):
    """A service's refusal (one of `errors`) as a 422 problem with the service's own message, naming `field`."""
    try:
        yield
    except errors as error:
        raise Problem(422, slug, str(error), errors=[{"field": field, "detail": str(error)}]) from None


class ByNameViewSet(viewsets.ReadOnlyModelViewSet):
    """A catalogue of rows that people name (networks, probing sets, methods): listed and fetched by name."""

    lookup_field = "name"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    ordering = "name"
