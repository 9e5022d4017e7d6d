"""The whole request body is capped before anything reads it; upload routes have a larger cap."""
import io
import socket
from urllib.parse import urlsplit

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

MiB = 1024 * 1024
BOUNDARY = "----neuroneval-boundary"
pytestmark = pytest.mark.submission_safety


@pytest.fixture
def upload_temp_dir(settings, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def multipart_head(field="file", filename="big.bin"):
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()


@pytest.mark.django_db(transaction=True)
def test_a_300_mb_upload_to_the_login_page_is_refused_before_anything_is_written(live_server, upload_temp_dir):
    address = urlsplit(live_server.url)
    declared = 300 * MiB
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(
            (f"POST /accounts/login/ HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Length: {declared}\r\n"
             f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode()
        )
        # The server answers after the headers and a first slice of the body; the other 300 MB are never sent.
        connection.sendall(multipart_head() + b"\0" * MiB)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert body.decode() == ("The request is too large (300 MiB declared); this address takes at most 10 MiB. "
                             "Nothing was stored.")
    assert list(upload_temp_dir.iterdir()) == []


def test_upload_routes_take_more_than_pages_and_the_api_answers_in_problem_json(client, settings):
    settings.MAX_REQUEST_BYTES = 1 * MiB
    settings.MAX_UPLOAD_REQUEST_BYTES = 4 * MiB
    claim = {"CONTENT_LENGTH": str(2 * MiB)}
    page = client.post("/accounts/login/", data=b"x", content_type="application/x-www-form-urlencoded", **claim)
    assert page.status_code == 413 and b"at most 1 MiB" in page.content
    # Within the upload cap: the ratings import goes on to its own checks (here: not signed in).
    upload = client.post("/api/v1/studies/any/ratings/", data=b"x", content_type="multipart/form-data; boundary=x", **claim)
    assert upload.status_code in (401, 403)
    over = client.post("/api/v1/studies/any/ratings/", data=b"x", content_type="multipart/form-data; boundary=x",
                       CONTENT_LENGTH=str(5 * MiB))
    assert over.status_code == 413 and over["Content-Type"] == "application/problem+json"
    assert over.json()["detail"].startswith("The request is too large (5 MiB declared); this address takes at most 4 MiB")


class EndlessBody(io.RawIOBase):
    """A chunked body that never ends, counting what was read of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def read(self, size=-1):
        size = 65536 if size is None or size < 0 else size
        self.read_bytes += size
        return b"a" * size


def call_wsgi(environ):
    status = []
    body = b"".join(WSGIHandler()(environ, lambda line, headers, exc_info=None: status.append(line)))
    return status[0], body


def chunked_environ(path, stream, content_type):
    environ = RequestFactory()._base_environ(PATH_INFO=path, REQUEST_METHOD="POST", CONTENT_TYPE=content_type,
                                             HTTP_TRANSFER_ENCODING="chunked")
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = stream
    return environ


@pytest.mark.django_db(transaction=True)  # the WSGI handler closes the connection when it is done
def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap(settings, upload_temp_dir):
    settings.MAX_REQUEST_BYTES = 1 * MiB
    body = EndlessBody()
    status, text = call_wsgi(chunked_environ("/accounts/login/", body, f"multipart/form-data; boundary={BOUNDARY}"))
    assert status.startswith("413") and b"more than 1 MiB sent" in text
    assert body.read_bytes <= 1 * MiB + 65536
    assert list(upload_temp_dir.iterdir()) == []


@pytest.mark.django_db(transaction=True)  # the WSGI handler closes the connection when it is done
def test_a_chunked_body_within_the_cap_reaches_the_view_whole(django_user_model, upload_temp_dir):
    django_user_model.objects.create_user("researcher", password="a-long-enough-password-1")
    csrf = "A" * 32
    form = f"csrfmiddlewaretoken={csrf}&username=researcher&password=a-long-enough-password-1".encode()
    environ = chunked_environ("/accounts/login/", io.BytesIO(form), "application/x-www-form-urlencoded")
    environ["HTTP_COOKIE"] = f"csrftoken={csrf}"
    status, _ = call_wsgi(environ)
    assert status.startswith("302")  # signed in: the view read every field
