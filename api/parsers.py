"""Request parsers that refuse a NUL character anywhere in what they parse.

PostgreSQL stores no NUL in text or JSON ("unsupported Unicode escape sequence"), so a NUL that reaches a model
is a 500 there (and is stored on SQLite). Serializer CharFields refuse it already; JSON values, dictionary keys
and free-form parameters (a network's class names, a job's method parameters) are checked here, once, for every
view: 400 naming where the NUL is.
"""
from rest_framework import parsers
from rest_framework.exceptions import ParseError


def nul_location(data, where: str = "") -> str | None:
    """The path of the first string (or key) holding a NUL, e.g. "method_params.netdissect", else None."""
    if isinstance(data, str):
        return (where or "body") if "\x00" in data else None
    if hasattr(data, "lists"):  # QueryDict: every value of every field
        data = dict(data.lists())
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and "\x00" in key:
                return (where or "body") + " (a key)"
            found = nul_location(value, path)
            if found:
                return found
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            found = nul_location(value, f"{where}[{index}]")
            if found:
                return found
    return None


def refuse_nul(data):
    found = nul_location(data)
    if found:
        raise ParseError(f"{found.replace(chr(0), '?')}: contains a NUL character, which no field accepts")
    return data


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return refuse_nul(super().parse(stream, media_type, parser_context))


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return refuse_nul(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        refuse_nul(parsed.data)
        for upload in parsed.files.values():
            if "\x00" in (upload.name or ""):
                raise ParseError("the uploaded file's name contains a NUL character")
        return parsed
