import pytest
from django.test import Client

from omero_plugin_common.plugin import get_plugin


@pytest.fixture
def client():
    return Client()


def test_anonymous_index_redirects_to_login(client):
    response = client.get("/omeroweb_imaris_connector/")
    assert response.status_code == 302
    assert "/webclient/login/" in response["Location"]


def test_health_is_anonymous_and_ok(client):
    response = client.get("/omeroweb_imaris_connector/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_logged_in_user_gets_the_page_and_help(client, fake_omero, login_as):
    fake_omero.add_user("alice", [fake_omero.add_group("lab", "read-annotate")])
    login_as(fake_omero.connect("alice"))
    page = client.get("/omeroweb_imaris_connector/")
    assert page.status_code == 200
    assert b"Imaris export" in page.content
    assert b'"user": "alice"' in page.content
    assert client.get("/omeroweb_imaris_connector/help/").status_code == 200


def test_registered_on_its_queue():
    assert get_plugin("omeroweb_imaris_connector").queue == "imaris_export"
