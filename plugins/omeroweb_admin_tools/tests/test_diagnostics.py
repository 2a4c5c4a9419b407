"""Diagnostics against the real PostgreSQL and Redis the harness starts, a closed port, a
port that is open but speaks something else, and a local HTTP server for the health URL."""

from __future__ import annotations

import json
import os
import socket

import pytest
from django.urls import reverse

from omeroweb_admin_tools.services import diagnostics


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def _run(client, check):
    response = client.post(reverse("omeroweb_admin_tools_diagnostics_run"),
                           data=json.dumps({"check": check}), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def platform(admin_env, plugin_services, http_fake):
    recorder, base = http_fake
    recorder.json("/health/", {"status": "ok"})
    redis_port = plugin_services.redis.port
    admin_env(OMERO_DB_ADDRESS=f"127.0.0.1:{os.environ['OMP_DATA_PORT']}",
              REDIS_ADDRESSES=f"state=127.0.0.1:{redis_port},cache=127.0.0.1:{closed_port()}",
              OMERO_WEB_HEALTH_URL=f"{base}/health/", OMERO_SERVER_HOST="127.0.0.1")
    return recorder, base


def test_databases_pass_against_real_postgresql(platform, root_client):
    for check, name in (("omero_database", "OMERO PostgreSQL"),
                        ("plugin_database", "Plugin PostgreSQL")):
        body = _run(root_client, check)
        assert body["summary"] == "pass", body
        assert body["results"][0]["check"] == name
        assert body["results"][0]["reason"].startswith("PostgreSQL answers on 127.0.0.1:")


def test_redis_with_a_password_passes_and_a_closed_port_fails(platform, root_client):
    body = _run(root_client, "redis")
    results = {r["check"]: r for r in body["results"]}
    assert results["Redis state"]["status"] == "pass"
    assert "requires authentication" in results["Redis state"]["reason"]
    assert results["Redis cache"]["status"] == "fail"
    assert "refused" in results["Redis cache"]["reason"]
    assert body["summary"] == "fail"


def test_a_port_that_is_not_postgresql_warns(platform, admin_env, root_client):
    _, base = platform
    # An HTTP server, not PostgreSQL: it waits for more bytes and never answers.
    admin_env(OMERO_DB_ADDRESS=base.removeprefix("http://"), LOG_REQUEST_TIMEOUT_SECONDS="1")
    result = _run(root_client, "omero_database")["results"][0]
    assert result["status"] == "warn"
    assert "did not answer like PostgreSQL" in result["reason"]


def test_web_health(platform, admin_env, root_client):
    recorder, _ = platform
    assert _run(root_client, "web")["summary"] == "pass"
    recorder.json("/health/", {"status": "unavailable"}, status=503)
    result = _run(root_client, "web")["results"][0]
    assert result["status"] == "fail" and "503" in result["reason"]
    recorder.json("/health/", {}, status=404)
    assert _run(root_client, "web")["results"][0]["status"] == "warn"


def test_end_to_end_runs_every_check(platform, root_client):
    body = _run(root_client, "platform_end_to_end")
    names = [r["check"] for r in body["results"]]
    assert names == ["OMERO.server 4064 (Glacier2)", "OMERO.server 4063 (Ice)",
                     "OMERO PostgreSQL", "Plugin PostgreSQL", "Redis state", "Redis cache",
                     "OMERO.web health"]
    # No OMERO.server here: its ports are closed, so end to end fails and says why.
    assert body["summary"] == "fail"
    assert all(r["reason"] for r in body["results"])
    # Each result names its check; the counts add up; the request id is in the log too.
    assert [r["group"] for r in body["results"]][:2] == ["omero_server_core"] * 2
    assert sum(body["counts"].values()) == 7 and body["counts"]["fail"] >= 3
    assert len(body["request_id"]) == 12


def test_request_id_reaches_the_log(platform, root_client, caplog):
    with caplog.at_level("INFO", logger="omeroweb_admin_tools.views"):
        body = _run(root_client, "redis")
    assert f"request_id={body['request_id']}" in caplog.text
    assert body["counts"] == {"pass": 1, "warn": 0, "fail": 1}


def test_unresolvable_host_fails_with_the_reason():
    result = diagnostics.tcp("x", "no-such-host.invalid", 4064, 2)
    assert result["status"] == "fail" and "cannot resolve" in result["reason"]


def test_summary():
    assert diagnostics.summary([{"status": "pass"}, {"status": "warn"}]) == "warn"
    assert diagnostics.summary([{"status": "pass"}]) == "pass"
