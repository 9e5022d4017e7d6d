"""Refuses requests no page of this site can take, before any view or query sees them.

Every rater page, crowd entry point and token lookup is reachable by anonymous visitors. Two kinds
of input would otherwise reach the database or the form decoder and fail there with a 500:

- NUL characters (PostgreSQL refuses them in text; SQLite stores them) in the path, the query
  string, a cookie or a form field;
- forms sent in another charset than UTF-8 (every form here is UTF-8; a UTF-16 body decodes to
  nonsense or fails half way).

The REST API under /api/ is left to its own parsers, which answer in problem-details JSON.
"""
from django.http import HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError

EXEMPT_PREFIXES = ("/api/",)
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ACCEPTED_CHARSETS = {"utf-8", "utf8"}


def _has_nul(values):
    return any("\x00" in value for value in values)


class HostileInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refusal = self.refusal(request)
        if refusal:
            return HttpResponseBadRequest(refusal, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def refusal(request):
        if request.path.startswith(EXEMPT_PREFIXES):
            return ""
        if "\x00" in request.path or _has_nul(request.GET.keys()) or _has_nul(v for _, vs in request.GET.lists() for v in vs):
            return "The address contains a NUL character; nothing was stored."
        if _has_nul(request.COOKIES.values()):
            return "A cookie contains a NUL character; clear this site's cookies and try again."
        if request.method != "POST":
            return ""
        content_type = request.META.get("CONTENT_TYPE", "").lower()
        if content_type.startswith(FORM_CONTENT_TYPES):
            charset = (request.content_params or {}).get("charset", "utf-8").strip().lower()
            if charset not in ACCEPTED_CHARSETS:
                return f"Forms must be sent as UTF-8, not {charset[:20]!r}; nothing was stored."
            try:
                fields = [(key, value) for key, values in request.POST.lists() for value in values]
            except UnicodeDecodeError:
                return "The form is not valid UTF-8; nothing was stored."
            except MultiPartParserError:
                return "The form's multipart body is malformed; nothing was stored."
            if _has_nul(key for key, _ in fields) or _has_nul(value for _, value in fields if isinstance(value, str)):
                return "A form field contains a NUL character; nothing was stored."
        return ""
