"""Every page carries the content security policy: scripts and styles only from this site (or with the request's
nonce), no inline script allowed, and no framing (the MTurk task's exception is pinned in tests/mturk)."""
import re

import pytest

from tests.fakes.browser import browser_marks, csp_violations, start_chromium


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: sources for name, *sources in (part.split() for part in header.split(";") if part.strip())}


def assert_strict(directives):
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"] and directives["base-uri"] == ["'none'"]
    for kind in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in directives[kind] and "'unsafe-eval'" not in directives[kind]


@pytest.mark.django_db
def test_rater_workspace_and_admin_pages_carry_the_policy(client, rater, admin_user):
    anonymous = [f"/r/{rater.token}/", f"/r/{rater.token}/task/", "/admin/login/", "/accounts/login/"]
    signed_in = ["/studies/", f"/studies/{rater.study.name}/", f"/studies/{rater.study.name}/preview/", "/admin/"]
    for url in anonymous + signed_in:
        if url == signed_in[0]:
            client.force_login(admin_user)
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(policy(response))
        html = response.content.decode()
        # No inline script or handler on our pages: every <script> loads a file.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son(submit|click|load|change)=", html), url


@pytest.mark.django_db
def test_api_docs_run_their_script_from_a_file_and_nonce_their_style(client):
    response = client.get("/api/docs/")
    directives = policy(response)
    assert_strict(directives)
    html = response.content.decode()
    nonce = re.search(r'<style nonce="([^"]+)">', html).group(1)
    assert f"'nonce-{nonce}'" in directives["style-src"]
    script = re.search(r'<script src="(/api/docs/\?[^"]+)">', html).group(1).replace("&amp;", "&")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    start_up = client.get(script)
    assert start_up.status_code == 200 and "SwaggerUIBundle" in start_up.content.decode()
    # Another request, another nonce.
    assert policy(client.get("/api/docs/"))["style-src"] != directives["style-src"]


@pytest.mark.parametrize("mark", [pytest.param(None, marks=browser_marks)])
def test_the_browser_tests_see_a_violation_when_there_is_one(mark):
    """csp_violations (tests/fakes/browser.py) is what the rating-page, workspace and docs browser tests rely on."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class InlineScriptPage(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", "script-src 'self'")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>x</title><script>document.title = 'ran'</script>")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), InlineScriptPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = start_chromium()
    try:
        browser.get(f"http://127.0.0.1:{server.server_port}/")
        assert browser.title == "x"
        found = csp_violations(browser)
        assert any(line.startswith("script-src") and "inline" in line for line in found), found
    finally:
        browser.quit()
        server.shutdown()
