"""What the platform gives every installed plugin from its registration alone, checked for each
(a new plugin is covered without a test of its own): the login-guarded page and help page, the
anonymous health route, its access rule, its queue among Celery's and the workers'."""

import pytest
from django.test import Client
from django.urls import reverse

from omero_plugin_common.celery_app import app
from omero_plugin_common.plugin import PLATFORM, installed_plugins, queues, worker_queues

PLUGINS = [p for p in installed_plugins() if p.name != PLATFORM]
EVERY = pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)


@pytest.fixture
def client():
    return Client()


@EVERY
def test_anonymous_index_redirects_to_login(client, plugin):
    response = client.get(f"/{plugin.name}/")
    assert response.status_code == 302
    assert "/webclient/login/" in response["Location"]


@pytest.mark.parametrize("plugin", installed_plugins(), ids=lambda p: p.name)
def test_health_is_anonymous_and_ok(client, plugin):
    assert reverse(f"{plugin.name}_health") == f"/{plugin.name}/health/"
    response = client.get(f"/{plugin.name}/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@EVERY
def test_its_user_gets_the_page_and_help(client, fake_omero, login_as, plugin):
    fake_omero.add_user("alice", [fake_omero.add_group("lab", "read-annotate")])
    user = "root" if plugin.root_only else "alice"
    login_as(fake_omero.connect(user))
    page = client.get(f"/{plugin.name}/")
    assert page.status_code == 200
    assert plugin.title.encode() in page.content
    assert f'"user": "{user}"'.encode() in page.content
    assert client.get(f"/{plugin.name}/help/").status_code == 200


@EVERY
def test_root_only_plugins_refuse_other_users(client, fake_omero, login_as, plugin):
    fake_omero.add_user("ops", admin=True)  # an administrator, but not root
    login_as(fake_omero.connect("ops"))
    expected = 403 if plugin.root_only else 200
    assert client.get(f"/{plugin.name}/").status_code == expected


def test_every_declared_queue_has_a_worker_and_a_celery_queue():
    declared = {q for p in installed_plugins() for q in p.all_queues}
    assert set(queues()) == declared
    assert {w["name"] for w in worker_queues()} == declared
    assert {q.name for q in app.conf.task_queues} == declared
