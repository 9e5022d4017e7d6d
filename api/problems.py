"""Errors as RFC 9457 problem details: type, title, status, detail, and the field errors."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status as http_status
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/api/problems/"


class Problem(exceptions.APIException):
    """An API error with its own problem type and optional field errors."""

    def __init__(self, status: int, slug: str, detail: str, errors: list[dict] | None = None, title: str | None = None):
        self.status_code = status
        self.slug = slug
        self.title = title
        self.errors = errors or []
        super().__init__(detail)


def _flatten(detail, field: str = "") -> list[dict]:
    """DRF's nested validation errors as a flat list of {field, detail} ("" for the whole request)."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else (f"{field}.{key}" if field else str(key))
            out.extend(_flatten(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out.extend(_flatten(value, f"{field}[{index}]" if field else str(index)))
            else:
                out.extend(_flatten(value, field))
        return out
    return [{"field": field, "detail": str(detail)}]


_SLUGS = {
    400: "invalid-request", 401: "not-authenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    406: "not-acceptable", 409: "conflict", 413: "too-large", 415: "unsupported-media-type", 422: "unprocessable",
    429: "too-many-requests",
}


def problem_body(status: int, detail: str, slug: str | None = None, title: str | None = None, errors=None) -> dict:
    slug = slug or _SLUGS.get(status, "error")
    try:
        default_title = http_status_phrase(status)
    except ValueError:
        default_title = "Error"
    return {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "errors": list(errors or []),
    }


def http_status_phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def problem_response(status: int, detail: str, **kwargs) -> Response:
    return Response(problem_body(status, detail, **kwargs), status=status, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc, context):
    """DRF's handler, then its result reshaped into a problem document."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) if str(exc) else None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django's 500 handling, and the traceback in the log
    status = response.status_code
    if isinstance(exc, Problem):
        body = problem_body(status, str(exc.detail), slug=exc.slug, title=exc.title, errors=exc.errors)
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        summary = "; ".join(f"{e['field']}: {e['detail']}" if e["field"] else e["detail"] for e in errors)
        body = problem_body(status, summary or "invalid request", slug="invalid-request", errors=errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem_body(status, str(detail))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def not_found(request, exception=None):
    """Django's 404 page, except under /api/, where an unknown path is a problem document too."""
    if request.path.startswith("/api/"):
        return JsonResponse(problem_body(404, f"no API resource at {request.path}"), status=404,
                            content_type=PROBLEM_CONTENT_TYPE)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(problem_body(500, "the server failed; the error is logged"), status=500,
                            content_type=PROBLEM_CONTENT_TYPE)
    return defaults.server_error(request)
