"""Metrics from Prometheus' HTTP API (a local HTTP server answering recorded responses) and
the read-only proxy: crafted paths, schemes, hosts, encodings and redirects never leave the
configured base URL, and nothing of the browser's request is forwarded."""

from __future__ import annotations

import pytest
from django.urls import reverse

from omeroweb_admin_tools.services import http, metrics

from .httpfake import Recorder, serve


def _vector(value: str) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1700000000.0, value]}]}}


TARGETS = {"status": "success", "data": {"activeTargets": [
    {"labels": {"job": "node", "instance": "lab:9100"}, "health": "up", "lastError": "",
     "lastScrape": "2026-11-22T23:00:00Z"},
    {"labels": {"job": "redis", "instance": "lab:9121"}, "health": "down",
     "lastError": "connection refused", "lastScrape": "2026-11-22T23:00:00Z"}]}}


@pytest.fixture
def prometheus(admin_env, http_fake):
    recorder, base = http_fake
    recorder.json("/api/v1/query", _vector("42.5"))
    recorder.json("/api/v1/targets", TARGETS)
    recorder.raw("/-/ready", 200, {"Content-Type": "text/plain"}, b"Prometheus is Ready.")
    admin_env(PROMETHEUS_URL=base, GRAFANA_URL="https://grafana.example.org/grafana")
    return recorder, base


def test_services_data_shows_host_metrics_targets_and_dashboards(prometheus, root_client):
    recorder, _ = prometheus
    body = root_client.get(reverse("omeroweb_admin_tools_services_data")).json()
    prom = body["prometheus"]
    assert prom["ready"] is True
    assert prom["host"] == {name: 42.5 for name in metrics.HOST_QUERIES}
    assert [(t["job"], t["health"]) for t in prom["targets"]] == [("node", "up"),
                                                                   ("redis", "down")]
    assert body["dashboards"][0] == {
        "uid": "omero-infrastructure", "title": "Infrastructure",
        "url": "https://grafana.example.org/grafana/d/omero-infrastructure"}
    sent = {q for r in recorder.requests for q in r["query"].get("query", [])}
    assert set(metrics.HOST_QUERIES.values()) <= sent


def test_prometheus_down_is_a_message_not_a_500(admin_env, root_client):
    admin_env(PROMETHEUS_URL="http://127.0.0.1:9")
    body = root_client.get(reverse("omeroweb_admin_tools_services_data")).json()
    assert "unreachable" in body["prometheus"]["error"]


def test_proxy_reads_the_query_api_without_forwarding_credentials(prometheus, root_client):
    recorder, _ = prometheus
    url = reverse("omeroweb_admin_tools_prometheus_proxy", args=["api/v1/query"])
    response = root_client.get(url + "?query=up", HTTP_COOKIE="sessionid=secret",
                               HTTP_AUTHORIZATION="Bearer secret", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert response.status_code == 200
    assert response.json()["data"]["result"][0]["value"][1] == "42.5"
    headers = recorder.requests[-1]["headers"]
    assert recorder.requests[-1]["query"] == {"query": ["up"]}
    assert not {"Cookie", "Authorization", "X-Forwarded-For"} & set(headers)
    assert not any("secret" in value for value in headers.values())


@pytest.mark.parametrize("path", [
    "../../etc/passwd", "%2e%2e/%2e%2e/admin", "api/v1/%2e%2e/%2e%2e/admin",
    "api/v1/query/../../../admin", "api/v1/query%2f..%2f..%2fadmin", "//evil.example/api/v1/query",
    "/evil.example/api/v1/query", "\\\\evil.example\\api\\v1\\query", "@evil.example/api/v1/query",
    "http://evil.example/api/v1/query", "http:/evil.example/api/v1/query", "api/v1/admin/tsdb",
    "-/quit", "api/v1/query%00", "api/v1/label/..%2f..%2fx/values", "api/v1/query/",
    "%252e%252e/admin",
])
def test_proxy_refuses_every_escape(path, prometheus, root_client):
    recorder, _ = prometheus
    before = len(recorder.requests)
    response = root_client.get(f"/omeroweb_admin_tools/services/prometheus/{path}")
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "outside_base_url"
    assert len(recorder.requests) == before  # nothing reached the upstream


def test_proxy_refuses_redirects_and_never_contacts_their_target(prometheus, root_client):
    recorder, _ = prometheus
    evil = Recorder()
    evil_server = serve(evil)
    try:
        target = f"http://127.0.0.1:{evil_server.server_address[1]}/api/v1/query"
        recorder.raw("/api/v1/query", 302, {"Location": target})
        response = root_client.get(reverse("omeroweb_admin_tools_prometheus_proxy",
                                           args=["api/v1/query"]) + "?query=up")
        assert response.status_code == 502
        assert "redirects are refused" in response.json()["error"]["message"]
        assert evil.requests == []
    finally:
        evil_server.shutdown()
        evil_server.server_close()


@pytest.mark.parametrize("url", [
    "https://127.0.0.1:9090/api/v1/query",          # other scheme
    "http://127.0.0.1:9091/api/v1/query",           # other port
    "http://evil.example/api/v1/query",             # other host
    "http://127.0.0.1:9090@evil.example/api/v1/query",  # user info trick
    "http://user:pw@127.0.0.1:9090/prom/api/v1/query",  # credentials in the URL
    "http://127.0.0.1:9090/prom/../admin",          # dot segments
    "http://127.0.0.1:9090/prom/%2e%2e/admin",      # encoded dot segments
    "http://127.0.0.1:9090/prom/..%2fadmin",        # encoded separator
    "http://127.0.0.1:9090/prom//evil",             # empty segment
    "http://127.0.0.1:9090/prom\\..\\admin",        # backslashes
    "http://127.0.0.1:9090/promx/api",              # sibling of the base path
    "http://127.0.0.1:9090/other",                  # outside the base path
    "file:///etc/passwd", "gopher://127.0.0.1:9090/prom",
])
def test_check_within_refuses_urls_outside_the_base(url):
    with pytest.raises(http.OutsideBase):
        http.check_within(url, "http://127.0.0.1:9090/prom")


@pytest.mark.parametrize("relative", ["/admin", "//evil.example/x", "\\\\evil", "http://evil/x",
                                      "javascript:alert(1)", "../admin", "a/%2e%2e/b"])
def test_join_base_refuses_relative_escapes(relative):
    with pytest.raises(http.OutsideBase):
        http.join_base("http://127.0.0.1:9090/prom", relative)


def test_join_base_accepts_paths_under_the_base():
    assert http.join_base("http://127.0.0.1:9090/prom/", "api/v1/query", [("query", "a b")]) == (
        "http://127.0.0.1:9090/prom/api/v1/query?query=a+b")


def test_proxy_is_off_without_a_prometheus_url(admin_env, root_client):
    response = root_client.get(reverse("omeroweb_admin_tools_prometheus_proxy",
                                       args=["api/v1/query"]))
    assert response.status_code == 404
