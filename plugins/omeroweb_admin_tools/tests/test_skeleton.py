import pytest
from django.test import Client

from omero_plugin_common.plugin import get_plugin


@pytest.fixture
def client():
    return Client()


def test_anonymous_index_redirects_to_login(client):
    response = client.get("/omeroweb_admin_tools/")
    assert response.status_code == 302
    assert "/webclient/login/" in response["Location"]


def test_health_is_anonymous_and_ok(client):
    response = client.get("/omeroweb_admin_tools/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_root_gets_the_page_and_help(client, fake_omero, login_as):
    login_as(fake_omero.connect("root"))
    page = client.get("/omeroweb_admin_tools/")
    assert page.status_code == 200
    assert b"Admin tools" in page.content
    assert b'"user": "root"' in page.content
    assert client.get("/omeroweb_admin_tools/help/").status_code == 200


def test_registered_on_its_queue():
    assert get_plugin("omeroweb_admin_tools").queue == "admin"
