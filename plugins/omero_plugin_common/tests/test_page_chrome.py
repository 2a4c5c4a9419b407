"""Every plugin page has OMERO.web's header (logo, the top links of omero.web.ui.top_links, the
way back to the webclient), the shared stylesheet, and nothing a `script-src 'self'` policy
would block: no inline script, no event-handler attribute (configuration travels as
json_script blobs)."""

import re

import pytest
from django.test import Client, override_settings

PAGES = [
    "/omero_plugin_common/",
    "/omeroweb_admin_tools/", "/omeroweb_admin_tools/logs/", "/omeroweb_admin_tools/services/",
    "/omeroweb_admin_tools/storage/", "/omeroweb_admin_tools/diagnostics/",
    "/omeroweb_admin_tools/help/",
    "/omeroweb_imaris_connector/", "/omeroweb_imaris_connector/help/",
    "/omeroweb_omp_plugin/", "/omeroweb_omp_plugin/help/",
    "/omeroweb_upload/", "/omeroweb_upload/help/",
]
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


@pytest.fixture
def root_client(fake_omero, login_as):
    login_as(fake_omero.connect("root"))
    return Client()


@pytest.mark.parametrize("url", PAGES)
def test_page_has_the_omero_header_and_no_inline_script(root_client, url):
    response = root_client.get(url)
    assert response.status_code == 200, url
    html = response.content.decode()
    assert 'id="middle_header"' in html and "webgateway/css/ome.header.css" in html
    assert "omero_plugin_common/plugin.css" in html
    assert '<a class="omero-header-back" href="/webclient/">' in html
    for attrs, body in SCRIPT.findall(html):
        data = 'type="application/json"' in attrs
        assert "src=" in attrs or data, f"inline script on {url}: {body[:80]!r}"
        assert not body.strip() or data
    assert not HANDLER.search(html), f"event handler attribute on {url}"


def test_header_shows_the_sites_top_links(root_client):
    links = [["Data", "webindex", {"title": "Browse Data"}],
             ["Figure", "https://figure.example.org/", {"target": "_blank"}]]
    with override_settings(TOP_LINKS=links):
        html = root_client.get("/omeroweb_imaris_connector/").content.decode()
    assert '<a href="/webclient/" title="Browse Data">Data</a>' in html
    assert '<a href="https://figure.example.org/" target="_blank">Figure</a>' in html
