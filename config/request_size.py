"""A cap on the whole request body, checked before anything reads it.

Django limits form fields held in memory (DATA_UPLOAD_MAX_MEMORY_SIZE) but streams any file part of a multipart
body to a temporary file, whatever its size: a 300 MB POST to the login page is written to disk before the view
refuses it. This middleware, first in MIDDLEWARE, refuses with 413 any request whose Content-Length is over the
cap (NEURONEVAL_MAX_REQUEST_BYTES), or, on the routes that take files (UPLOAD_ROUTES), over the upload cap
(NEURONEVAL_MAX_UPLOAD_REQUEST_BYTES). A chunked body has no length to check: it is read here as it arrives,
counted, and refused as soon as it passes the cap; one within the cap is handed on to Django as if its length had
been sent (WSGI servers give Django no chunked body otherwise).
"""
import tempfile

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from api.problems import PROBLEM_CONTENT_TYPE, problem_body

# Views that accept uploaded files (url names): explanation files, ratings imports, study imports.
UPLOAD_ROUTES = {"api:explanation-list", "api:study-ratings", "api:study-import"}
_READ_SIZE = 64 * 1024


def request_cap(request) -> int:
    try:
        route = resolve(request.path_info).view_name
    except Resolver404:
        route = ""
    return settings.MAX_UPLOAD_REQUEST_BYTES if route in UPLOAD_ROUTES else settings.MAX_REQUEST_BYTES


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def too_large(request, cap: int, sent: str) -> HttpResponse:
    detail = f"The request is too large ({sent}); this address takes at most {_megabytes(cap)}. Nothing was stored."
    if request.path.startswith("/api/"):
        response = JsonResponse(problem_body(413, detail), status=413, content_type=PROBLEM_CONTENT_TYPE)
    else:
        response = HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
    return response


def _read_chunked_body(stream, cap: int):
    """The body read into a spooled file, or None once it passes the cap (what was read is dropped)."""
    body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR)
    size = 0
    while chunk := stream.read(_READ_SIZE):
        size += len(chunk)
        if size > cap:
            body.close()
            return None, size
        body.write(chunk)
    body.seek(0)
    return body, size


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cap = request_cap(request)
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.strip():
            try:
                declared = int(length)
            except ValueError:
                return HttpResponse("The Content-Length header is not a number.", status=400,
                                    content_type="text/plain; charset=utf-8")
            if declared > cap:
                return too_large(request, cap, f"{_megabytes(declared)} declared")
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and "wsgi.input" in request.environ:
            body, size = _read_chunked_body(request.environ["wsgi.input"], cap)
            if body is None:
                return too_large(request, cap, f"more than {_megabytes(cap)} sent")
            request.META["CONTENT_LENGTH"] = str(size)
            request._stream = LimitedStream(body, size)
            request._read_started = False
        return self.get_response(request)
