"""Shared views through OMERO.web's URL configuration, with the OMERO test double."""

import json
import time

import pytest
from django.test import Client

from omero_plugin_common import health, jobs
from omero_plugin_common.config import common_settings
from omero_test_double.harness.servers import free_port


@pytest.fixture
def world(fake_omero):
    lab = fake_omero.add_group("lab", "read-annotate")
    fake_omero.add_user("alice", [lab])
    fake_omero.add_user("bob", [lab])
    return fake_omero


@pytest.fixture
def client():
    return Client()


def post_json(client, url, payload):
    return client.post(url, json.dumps(payload), content_type="application/json")


@pytest.fixture
def fresh_health():
    """No health result cached from an earlier test, nor left for the next."""
    health.forget()
    yield
    health.forget()


@pytest.mark.parametrize("plugin", ["omero_plugin_common", "omeroweb_omp_plugin"])
def test_health_is_503_with_no_details_when_redis_is_down(client, monkeypatch, plugin,
                                                          fresh_health):
    monkeypatch.setenv("OMERO_PLUGINS_STATE_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    common_settings.cache_clear()
    try:
        response = client.get(f"/{plugin}/health/")
    finally:
        monkeypatch.undo()
        common_settings.cache_clear()
        health.forget()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert client.get(f"/{plugin}/health/").json() == {"status": "ok"}


def test_health_is_503_when_the_plugin_database_is_down(client, monkeypatch, fresh_health):
    monkeypatch.setattr(health.db, "ping", lambda: False)
    assert client.get("/omero_plugin_common/health/").status_code == 503


def _redis_pings(redis_client):
    return redis_client.info("commandstats").get("cmdstat_ping", {}).get("calls", 0)


def test_health_answers_from_its_cache_within_the_window(client, monkeypatch, fresh_health):
    """Within the window a call reaches neither PostgreSQL nor Redis; after it, both again.
    Redis counts the PINGs itself; the database's pings are counted on their way through."""
    monkeypatch.setenv("OMERO_PLUGINS_HEALTH_CACHE_SECONDS", "1")
    common_settings.cache_clear()
    db_pings = []
    real_ping = health.db.ping
    monkeypatch.setattr(health.db, "ping", lambda: db_pings.append(1) or real_ping())
    counter = health._state_redis(common_settings().state_redis_url)
    try:
        before = _redis_pings(counter)
        assert client.get("/omeroweb_upload/health/").json() == {"status": "ok"}
        first = (len(db_pings), _redis_pings(counter) - before)
        # Another plugin's route, same process: the same cached answer.
        for url in ("/omero_plugin_common/health/", "/omeroweb_upload/health/"):
            assert client.get(url).json() == {"status": "ok"}
        within = (len(db_pings), _redis_pings(counter) - before)
        time.sleep(1.1)
        assert client.get("/omeroweb_upload/health/").json() == {"status": "ok"}
        after = (len(db_pings), _redis_pings(counter) - before)
    finally:
        monkeypatch.undo()
        common_settings.cache_clear()
    assert first == (1, 1)
    assert within == (1, 1)
    assert after == (2, 2)


def test_health_window_keeps_a_failure_and_sees_the_recovery_after_it(client, monkeypatch,
                                                                      fresh_health):
    """The probe is truthful within one window: a failure is reported for at most that long."""
    monkeypatch.setenv("OMERO_PLUGINS_HEALTH_CACHE_SECONDS", "1")
    common_settings.cache_clear()
    try:
        monkeypatch.setattr(health.db, "ping", lambda: False)
        assert client.get("/omero_plugin_common/health/").status_code == 503
        monkeypatch.undo()
        monkeypatch.setenv("OMERO_PLUGINS_HEALTH_CACHE_SECONDS", "1")
        assert client.get("/omero_plugin_common/health/").status_code == 503  # still cached
        time.sleep(1.1)
        assert client.get("/omero_plugin_common/health/").status_code == 200
    finally:
        monkeypatch.undo()
        common_settings.cache_clear()


def test_health_reports_a_database_that_refuses_connections(monkeypatch):
    from omero_plugin_common import db

    monkeypatch.setenv("OMP_DATA_PORT", str(free_port()))
    common_settings.cache_clear()
    db.close_pool()
    try:
        assert db.ping() is False
    finally:
        monkeypatch.undo()
        common_settings.cache_clear()
        db.close_pool()
    assert db.ping() is True


def test_job_endpoints_need_login(client):
    job = jobs.submit("selftest", "alice", {"steps": 1}, queue="omp")
    assert client.get(f"/omero_plugin_common/jobs/{job.id}/").status_code == 302


def test_owner_and_admin_see_a_job_others_get_404(client, world, login_as):
    job = jobs.submit("selftest", "alice", {"steps": 3}, queue="omp")
    url = f"/omero_plugin_common/jobs/{job.id}/"
    login_as(world.connect("alice"))
    body = client.get(url).json()
    assert (body["state"], body["total"], body["finished"]) == ("queued", None, False)
    assert body["status_url"] == url
    login_as(world.connect("root"))
    assert client.get(url).status_code == 200
    login_as(world.connect("bob"))
    response = client.get(url)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "no such job"}}


def test_cancel_by_owner_only_and_once(client, world, login_as):
    job = jobs.submit("selftest", "alice", {"steps": 3}, queue="omp")
    url = f"/omero_plugin_common/jobs/{job.id}/cancel/"
    login_as(world.connect("bob"))
    assert client.post(url).status_code == 404
    login_as(world.connect("alice"))
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 202
    assert response.json()["state"] == "cancelled"
    assert client.post(url).status_code == 409


def test_selftest_start_is_for_admins(client, world, login_as):
    login_as(world.connect("alice"))
    assert post_json(client, "/omero_plugin_common/selftest/", {}).status_code == 403
    assert client.get("/omero_plugin_common/").status_code == 403


def test_selftest_start_validates_and_runs(client, world, login_as, celery_eager):
    login_as(world.connect("root"))
    bad = post_json(client, "/omero_plugin_common/selftest/", {"queue": "nope"})
    assert bad.status_code == 400
    assert "queue must be one of admin, imaris_export, omp, openhcs, openhcs_gpu, upload" in \
        bad.json()["error"]["message"]
    response = post_json(client, "/omero_plugin_common/selftest/",
                         {"queue": "upload", "steps": 3, "delay": 0})
    assert response.status_code == 202
    job = jobs.get(response.json()["id"])
    assert (job.queue, job.owner, job.state, job.result) == ("upload", "root", "succeeded",
                                                              {"counted": 3})


def test_selftest_page_renders_config_as_json(client, world, login_as):
    login_as(world.connect("root"))
    page = client.get("/omero_plugin_common/")
    assert page.status_code == 200
    assert b'<script id="page-config" type="application/json">' in page.content
    assert b'"startUrl": "/omero_plugin_common/selftest/"' in page.content


def test_posts_need_the_csrf_token(world, login_as):
    login_as(world.connect("alice"))
    job = jobs.submit("selftest", "alice", {"steps": 1}, queue="omp")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/omero_plugin_common/jobs/{job.id}/cancel/").status_code == 403
    assert jobs.get(job.id).state == "queued"
