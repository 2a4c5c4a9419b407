"""Production's Content-Security-Policy in the browser tests: the test server sends it, OMERO.web's
login page works under it, and a page that breaks it is caught
(omero_test_double.harness.headers)."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from omero_test_double.harness.headers import content_security_policy, csp_violations


def test_the_policy_is_the_roles_default():
    policy = content_security_policy()
    assert policy.startswith("default-src 'self'; ")
    assert "object-src 'none'" in policy and "frame-ancestors 'self'" in policy


@pytest.mark.browser
def test_omero_web_login_page_works_under_the_policy(live_server, browser):
    conn = http.client.HTTPConnection(urlsplit(live_server.url).netloc, timeout=30)
    conn.request("GET", "/webclient/login/")
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.headers.get_all("Content-Security-Policy") == [content_security_policy()]
    browser.get(f"{live_server.url}/webclient/login/")
    assert browser.title == "OMERO.web - Login"
    # Its scripts ran (jQuery from static files, the page's inline handlers).
    assert browser.execute_script("return typeof jQuery") == "function"
    assert csp_violations(browser) == []


PAGE = b"""<!doctype html><html><head><title>probe</title>
<script>window.inlineRan = true; window.evalRan = eval("1 + 1") === 2;</script>
<script src="http://localhost:%d/foreign.js"></script>
</head><body>probe</body></html>"""


class _Probe(BaseHTTPRequestHandler):
    def do_GET(self):
        port = self.server.server_address[1]
        body = (PAGE % port) if self.path == "/" else b"window.foreignRan = true;"
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.path == "/" else "text/javascript")
        self.send_header("Content-Security-Policy", content_security_policy())
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def probe_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Probe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_a_page_breaking_the_policy_is_caught(probe_server, browser):
    """A script from another origin (localhost is not 127.0.0.1 to the browser) is blocked and
    reported; what OMERO.web needs (inline script, eval) still runs."""
    browser.get(probe_server)
    assert browser.execute_script("return [window.inlineRan, window.evalRan]") == [True, True]
    assert browser.execute_script("return window.foreignRan") is None
    violations = csp_violations(browser)
    assert len(violations) == 1, violations
    assert "foreign.js" in violations[0] and "script-src" in violations[0]
