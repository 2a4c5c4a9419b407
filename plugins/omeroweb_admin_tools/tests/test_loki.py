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


# As Loki 3.x answers /loki/api/v1/series for {log_type="omero_server"}: one series per label
# set, so the same file from two hosts (and from two alloy restarts) comes more than once.
SERIES = {"status": "success", "data": [
    {"filename": "/opt/omero/server/OMERO.server/var/log/Blitz-0.log", "host": "lab1",
     "log_type": "omero_server", "service_name": "omero_server"},
    {"filename": "/opt/omero/server/OMERO.server/var/log/Blitz-0.log", "host": "lab2",
     "log_type": "omero_server", "service_name": "omero_server"},
    {"filename": "/opt/omero/server/OMERO.server/var/log/Processor-0.log", "host": "lab1",
     "log_type": "omero_server", "service_name": "omero_server"},
    {"filename": "/opt/omero/server/OMERO.server/var/log/master.err", "host": "lab1",
     "log_type": "omero_server", "service_name": "omero_server"},
]}


def _files_url(service: str) -> str:
    return reverse("omeroweb_admin_tools_logs_internal_labels") + "?" + urlencode(
        {"service": service})


def test_loki_series_lists_the_file_names_of_a_service(admin_env, root_client, http_fake):
    recorder, base = http_fake
    admin_env(LOKI_URL=base)
    recorder.json("/loki/api/v1/series", SERIES)
    before = now_us() * 1000
    response = root_client.get(_files_url("omero_server"))
    body = response.json()
    assert response.status_code == 200, body
    # Distinct names, sorted; master.err is not a *.log file and is left out.
    assert body["files"] == [
        {"id": "omero_server/Blitz-0.log", "name": "Blitz-0.log", "service": "omero_server",
         "hosts": ["lab1", "lab2"]},
        {"id": "omero_server/Processor-0.log", "name": "Processor-0.log",
         "service": "omero_server", "hosts": ["lab1"]}]
    sent = recorder.requests[-1]
    assert sent["query"]["match[]"] == ['{log_type="omero_server"}']
    start, end = int(sent["query"]["start"][0]), int(sent["query"]["end"][0])
    assert end >= before and end - start >= 7 * 86400 * 10**9  # at least 7 days back
    assert body["lookback_seconds"] == 7 * 86400
    assert "Cookie" not in sent["headers"] and "Authorization" not in sent["headers"]
    # A longer viewer lookback widens the series lookup too.
    admin_env(LOKI_URL=base, LOG_LOOKBACK_SECONDS=str(10 * 86400))
    root_client.get(_files_url("omero_web"))
    sent = recorder.requests[-1]
    assert sent["query"]["match[]"] == ['{log_type="omero_web"}']
    assert int(sent["query"]["end"][0]) - int(sent["query"]["start"][0]) == 10 * 86400 * 10**9


def record_blitz_log(recorder, line: str) -> None:
    """Loki's fake answers the series query with SERIES and any range query with one line of
    the OMERO.server's Blitz-0.log, five seconds old."""
    recorder.json("/loki/api/v1/series", SERIES)
    ts = now_us() * 1000 - 5_000_000_000
    recorder.json("/loki/api/v1/query_range", {"status": "success", "data": {
        "resultType": "streams", "result": [{"stream": {
            "filename": "/opt/omero/server/OMERO.server/var/log/Blitz-0.log",
            "log_type": "omero_server", "host": "lab1"},
            "values": [[str(ts), line]]}]}})


def test_a_listed_file_is_read_through_query_range(admin_env, root_client, http_fake):
    """The ids the series route hands out are what logs/data takes with Loki configured."""
    recorder, base = http_fake
    admin_env(LOKI_URL=base)
    record_blitz_log(recorder, "2026-01-01 10:00:00,000 ERROR [ome.services] boom")
    ids = [f["id"] for f in root_client.get(_files_url("omero_server")).json()["files"]]
    response = root_client.get(reverse("omeroweb_admin_tools_logs_data") + "?" + urlencode(
        [("file", ids[0]), ("file", ids[1])]))
    body = response.json()
    assert response.status_code == 200, body
    assert [(e["level"], e["message"][-4:]) for e in body["entries"]] == [("error", "boom")]
    assert recorder.requests[-1]["query"]["query"] == [
        '{log_type="omero_server", filename=~'
        '"^.*/(?:Blitz\\\\-0\\\\.log|Processor\\\\-0\\\\.log)$"}']
    # Ids that are not <configured log type>/<log file name> are refused before Loki is asked.
    asked = len(recorder.requests)
    for bad in ("omero_db/Blitz-0.log", "omero_server/../../etc/passwd", "0/Blitz-0.log",
                "omero_server/Blitz-0.log\"}"):
        response = root_client.get(reverse("omeroweb_admin_tools_logs_data") + "?" +
                                   urlencode({"file": bad}))
        assert response.status_code == 400, bad
    assert len(recorder.requests) == asked


def test_sources_point_the_page_at_loki_or_at_local_files(admin_env, root_client, http_fake,
                                                         tmp_path):
    (tmp_path / "server-log").mkdir()
    (tmp_path / "server-log" / "Blitz-0.log").write_text("")
    url = reverse("omeroweb_admin_tools_logs_sources")
    local = root_client.get(url).json()
    assert local["files_from"] == "local" and local["file_services"] == []
    assert [f["id"] for f in local["files"]] == ["0/Blitz-0.log"]
    _, base = http_fake
    admin_env(LOKI_URL=base, LOKI_LOG_TYPES="omero_server")
    loki = root_client.get(url).json()
    assert loki["files_from"] == "loki" and loki["files"] == []
    assert loki["file_services"] == ["omero_server"]


def test_loki_series_errors_are_502_and_timeouts_504(admin_env, root_client, http_fake):
    recorder, base = http_fake
    admin_env(LOKI_URL=base, LOG_REQUEST_TIMEOUT_SECONDS="1")
    recorder.json("/loki/api/v1/series", {"status": "error", "error": "too many series"}, 400)
    response = root_client.get(_files_url("omero_server"))
    assert response.status_code == 502
    assert response.json()["error"] == {"code": "log_source_failed",
                                        "message": "Loki answered status 'error'"}
    recorder.raw("/loki/api/v1/series", 500, {"Content-Type": "text/plain"}, b"internal")
    response = root_client.get(_files_url("omero_server"))
    assert response.status_code == 502
    assert "HTTP 500 without JSON" in response.json()["error"]["message"]
    recorder.raw("/loki/api/v1/series", 302, {"Location": "http://elsewhere.example/"})
    response = root_client.get(_files_url("omero_server"))
    assert response.status_code == 502
    assert "redirects are refused" in response.json()["error"]["message"]
    recorder.json("/loki/api/v1/series", SERIES)
    recorder.delays["/loki/api/v1/series"] = 2.5
    response = root_client.get(_files_url("omero_server"))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "log_source_timeout"
    assert "did not answer within 1 s" in response.json()["error"]["message"]
    admin_env(LOKI_URL="http://127.0.0.1:9")
    response = root_client.get(_files_url("omero_server"))
    assert response.status_code == 502
    assert "unreachable" in response.json()["error"]["message"]


def test_a_query_range_timeout_is_504(admin_env, root_client, http_fake):
    recorder, base = http_fake
    admin_env(LOKI_URL=base, LOG_REQUEST_TIMEOUT_SECONDS="1")
    recorder.json("/loki/api/v1/query_range", _recorded(now_us() * 1000))
    recorder.delays["/loki/api/v1/query_range"] = 2.5
    response = root_client.get(reverse("omeroweb_admin_tools_logs_data") +
                               "?unit=omero-web.service")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "log_source_timeout"


def test_without_loki_the_file_list_route_says_so(admin_env, root_client):
    response = root_client.get(_files_url("omero_server"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "loki_not_configured"
