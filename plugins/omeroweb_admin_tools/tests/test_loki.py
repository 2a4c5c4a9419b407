"""The log viewer with Loki configured: LogQL query_range against a local HTTP fake that serves
recorded Loki responses (no Loki binary exists here; the response shape is Loki's v1 API)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from omeroweb_admin_tools.services import logs

from .conftest import now_us


def _recorded(ts_ns: int) -> dict:
    # As Loki 3.x answers /loki/api/v1/query_range for a streams query.
    return {"status": "success", "data": {"resultType": "streams", "result": [
        {"stream": {"unit": "omero-web.service", "priority": "3", "host": "lab"},
         "values": [[str(ts_ns + 2000), "GET /webclient failed"],
                    [str(ts_ns + 1000), "worker timeout"]]},
        {"stream": {"unit": "omero-server.service", "priority": "6", "host": "lab"},
         "values": [[str(ts_ns + 1500), "session created"]]},
    ], "stats": {}}}


def test_logql_selector_filters_and_escapes():
    query = logs.LogQuery(units=["omero-web.service", "redis-server@state.service"], files=[],
                          since_us=0, until_us=1, limit=10, level="warn", text='a"b.c')
    assert logs.logql(query) == (
        '{unit=~"^(?:omero\\\\-web\\\\.service|redis\\\\-server@state\\\\.service)$", '
        'priority=~"[0-4]"} |~ "(?i)a\\"b\\\\.c"')


def test_reads_loki_through_the_view(admin_env, root_client, http_fake):
    recorder, base = http_fake
    admin_env(LOKI_URL=base)
    ts = now_us() * 1000 - 10_000_000_000
    recorder.json("/loki/api/v1/query_range", _recorded(ts))
    params = urlencode([("unit", "omero-web.service"), ("unit", "omero-server.service"),
                        ("level", "error"), ("q", "fail"), ("lookback", "600"), ("limit", "50")])
    response = root_client.get(reverse("omeroweb_admin_tools_logs_data") + "?" + params)
    body = response.json()
    assert response.status_code == 200, body
    assert body["backend"] == "loki"
    # Level filter applied to what Loki returned (priority label 6 = info is dropped).
    assert [e["message"] for e in body["entries"]] == ["worker timeout", "GET /webclient failed"]
    assert [e["level"] for e in body["entries"]] == ["error", "error"]
    sent = recorder.requests[0]
    assert sent["query"]["direction"] == ["backward"]
    assert sent["query"]["limit"] == ["50"]
    assert sent["query"]["query"][0].endswith('|~ "(?i)fail"')
    assert "Cookie" not in sent["headers"] and "Authorization" not in sent["headers"]

    # Live tail: forward from the last entry's nanosecond time.
    tail = root_client.get(reverse("omeroweb_admin_tools_logs_data") + "?" + urlencode(
        [("unit", "omero-web.service"), ("cursor", body["cursor"])]))
    assert tail.status_code == 200
    sent = recorder.requests[-1]
    assert sent["query"]["direction"] == ["forward"]
    assert sent["query"]["start"] == [str(ts + 2001)]


def test_loki_errors_are_a_502_with_the_reason(admin_env, root_client, http_fake):
    recorder, base = http_fake
    admin_env(LOKI_URL=base)
    recorder.json("/loki/api/v1/query_range", {"status": "error", "error": "parse error"}, 400)
    response = root_client.get(reverse("omeroweb_admin_tools_logs_data") +
                               "?unit=omero-web.service")
    assert response.status_code == 502
    assert "Loki answered status 'error'" in response.json()["error"]["message"]
    admin_env(LOKI_URL="http://127.0.0.1:9")  # nothing listens on the discard port
    response = root_client.get(reverse("omeroweb_admin_tools_logs_data") +
                               "?unit=omero-web.service")
    assert response.status_code == 502
    assert "unreachable" in response.json()["error"]["message"]
