"""Root only: every route, walked as anonymous, a plain user, a non-root admin and root.
CSRF on every POST; malformed input answers 4xx JSON."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

PUBLIC = {"omeroweb_admin_tools_health"}
POSTS = {"omeroweb_admin_tools_quota_update", "omeroweb_admin_tools_quota_import",
         "omeroweb_admin_tools_diagnostics_run"}


def admin_routes() -> list[str]:
    resolver = get_resolver()
    names = []

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                if pattern.name and pattern.name.startswith("omeroweb_admin_tools_"):
                    names.append(pattern.name)
            else:
                walk(pattern.url_patterns)

    walk(resolver.url_patterns)
    return sorted(set(names))


def url_of(name: str) -> str:
    if name == "omeroweb_admin_tools_prometheus_proxy":
        return reverse(name, args=["api/v1/query"])
    if name == "omeroweb_admin_tools_logs_internal_labels":
        return reverse(name) + "?service=omero_server"
    if name == "omeroweb_admin_tools_logs_data":
        return reverse(name) + "?unit=omero-web.service"
    return reverse(name)


def test_the_walk_sees_every_route():
    assert len(admin_routes()) == 19
    assert set(admin_routes()) >= PUBLIC | POSTS


@pytest.mark.parametrize("name", [n for n in admin_routes() if n not in PUBLIC])
def test_anonymous_is_sent_to_login(name, admin_env):
    client = Client()
    response = client.post(url_of(name)) if name in POSTS else client.get(url_of(name))
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/webclient/login/" in response["Location"]


@pytest.mark.parametrize("user", ["alice", "admin2"])
@pytest.mark.parametrize("name", [n for n in admin_routes() if n not in PUBLIC])
def test_non_root_users_are_refused(name, user, admin_env, fake_omero, login_as, people):
    login_as(fake_omero.connect(user))
    client = Client()
    if name in POSTS:
        response = client.post(url_of(name), data="{}", content_type="application/json")
    else:
        response = client.get(url_of(name))
    assert response.status_code == 403
    if response["Content-Type"].startswith("application/json"):
        assert response.json()["error"]["code"] == "forbidden"
    else:
        assert b"root user only" in response.content


@pytest.mark.parametrize("name", [n for n in admin_routes() if n not in PUBLIC | POSTS])
def test_root_gets_every_get_route(name, admin_env, root_client, fake_omero):
    response = root_client.get(url_of(name))
    # The Prometheus proxy and the Loki file list answer 404 JSON while their URL is unset
    # (test_loki.py covers the file list with Loki configured).
    expected = 404 if name.endswith(("prometheus_proxy", "internal_labels")) else 200
    assert response.status_code == expected, response.content[:300]


def test_root_status(admin_env, root_client):
    assert root_client.get(reverse("omeroweb_admin_tools_root_status")).json() == {
        "root": True, "user": "root"}


@pytest.mark.parametrize("name", sorted(POSTS))
def test_posts_need_the_csrf_token(name, admin_env, fake_omero, login_as, people):
    login_as(fake_omero.connect("root"))
    client = Client(enforce_csrf_checks=True)
    response = client.post(url_of(name), data=json.dumps({"check": "redis"}),
                           content_type="application/json")
    assert response.status_code == 403
    assert b"CSRF" in response.content


@pytest.mark.parametrize("name", sorted(POSTS))
def test_posts_refuse_get(name, admin_env, root_client):
    response = root_client.get(url_of(name))
    assert response.status_code == 405


@pytest.mark.parametrize(("name", "body", "content_type", "status", "fragment"), [
    ("omeroweb_admin_tools_quota_update", "not json", "application/json", 400, "not valid JSON"),
    ("omeroweb_admin_tools_quota_update", "[1]", "application/json", 400, "JSON object"),
    ("omeroweb_admin_tools_quota_update", "{}", "text/plain", 415, "Content-Type"),
    ("omeroweb_admin_tools_quota_update", '{"updates": []}', "application/json", 400,
     "non-empty list"),
    ("omeroweb_admin_tools_quota_update", '{"updates": [{"group": "nope", "quota_gb": 1}]}',
     "application/json", 400, "no OMERO group"),
    ("omeroweb_admin_tools_quota_update", '{"updates": [{"group": "lab", "quota_gb": 0.01}]}',
     "application/json", 400, "below the minimum"),
    ("omeroweb_admin_tools_quota_update", '{"updates": [{"group": "lab", "quota_gb": "x"}]}',
     "application/json", 400, "not a number"),
    ("omeroweb_admin_tools_quota_update", '{"updates": [{"group": "lab", "quota_gb": true}]}',
     "application/json", 400, "number of GB"),
    ("omeroweb_admin_tools_quota_update", '{"updates": ["lab"]}', "application/json", 400,
     "needs group"),
    ("omeroweb_admin_tools_diagnostics_run", '{"check": "rm -rf"}', "application/json", 400,
     "check must be one of"),
    ("omeroweb_admin_tools_diagnostics_run", '{"check": ["redis"]}', "application/json", 400,
     "check must be one of"),
])
def test_malformed_posts_get_4xx_json(name, body, content_type, status, fragment, admin_env,
                                      root_client):
    response = root_client.post(reverse(name), data=body, content_type=content_type)
    assert response.status_code == status
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize("query", [
    "", "unit=sshd.service", "unit=omero-web.service&level=loud", "unit=omero-web.service&limit=0",
    "unit=omero-web.service&limit=abc", "unit=omero-web.service&limit=999999",
    "unit=omero-web.service&since=-5", "unit=omero-web.service&lookback=nan",
    "unit=omero-web.service&cursor=garbage", "file=0/../../etc/passwd", "file=9/Blitz-0.log",
    "unit=omero-web.service&q=" + "x" * 201,
])
def test_malformed_log_queries_get_400_json(query, admin_env, root_client):
    response = root_client.get(reverse("omeroweb_admin_tools_logs_data") + "?" + query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("query", ["", "service=", "service=omero_db", "service=omero_server%00",
                                   "service=../omero_server", "services=omero_server"])
def test_malformed_loki_file_queries_get_400_json(query, admin_env, root_client):
    admin_env(LOKI_URL="http://127.0.0.1:9")  # never reached: the input is refused first
    response = root_client.get(reverse("omeroweb_admin_tools_logs_internal_labels") + "?" +
                               query)
    assert response.status_code == 400, response.content
    assert "service must be one of omero_server, omero_web" in response.json()["error"]["message"]


def test_malformed_csv_imports_get_400_json(admin_env, root_client):
    url = reverse("omeroweb_admin_tools_quota_import")
    assert "multipart field" in root_client.post(url).json()["error"]["message"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    for content, fragment in ((b"\xff\xfe\x00", "not UTF-8"), (b"a,b\nlab,1\n", "header"),
                              (b"Group,Quota [GB]\n", "no rows"),
                              (b"Group,Quota [GB]\nlab,1,2\n", "line 2"),
                              (b"Group,Quota [GB]\nlab,0.001\n", "below the minimum")):
        response = root_client.post(url, {"file": SimpleUploadedFile("q.csv", content)})
        assert response.status_code == 400
        assert fragment in response.json()["error"]["message"]
