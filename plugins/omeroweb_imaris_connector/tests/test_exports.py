"""Export endpoints with jobs run inline (celery_eager) against the test double; one test with
a real imaris_export worker."""

import io
import json

import h5py
import numpy as np
import pytest
from django.test import Client

from omero_plugin_common import jobs
from omeroweb_imaris_connector import exports
from omeroweb_imaris_connector.ranges import RangeNotSatisfiable, parse_range

pytestmark = pytest.mark.usefixtures("export_dir")


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _file_bytes(response):
    return b"".join(response.streaming_content)


@pytest.fixture
def alice_client(fake_omero, lab, login_as, job_service, celery_eager):
    login_as(fake_omero.connect("alice"))
    return Client()


def _start(client, image_id):
    response = _post(client, "/omeroweb_imaris_connector/exports/", {"image": image_id})
    assert response.status_code == 202, response.content
    return response.json()


def test_async_export_is_attached_to_the_image_in_its_group(alice_client, lab, fake_omero,
                                                             export_dir):
    image, planes = lab
    started = _start(alice_client, image.id)
    assert started["job_id"] and started["download_url"].endswith("/download/")
    status = alice_client.get(started["status_url"]).json()
    assert status["state"] == "succeeded" and status["finished"] and not status["failed"]
    result = status["result"]
    assert result["backend"] == "writer" and result["export_name"].startswith("sample_1_")
    assert result["export_path"].startswith(str(export_dir / f"image_{image.id}"))
    conn = fake_omero.connect("alice")
    annotations = list(conn.getObject("Image", image.id).listAnnotations(ns=exports.NAMESPACE))
    assert [a.getId() for a in annotations] == [result["file_annotation"]]
    assert annotations[0].getDetails().getGroup().getName() == "lab"
    assert annotations[0].getDetails().getOwner().getOmeName() == "alice"

    download = alice_client.get(started["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Accept-Ranges"] == "bytes"
    assert 'attachment; filename="sample_1_' in download["Content-Disposition"]
    body = _file_bytes(download)
    assert int(download["Content-Length"]) == len(body) == result["size"]
    with h5py.File(io.BytesIO(body), "r") as h5:
        data = h5["DataSet/ResolutionLevel 0/TimePoint 1/Channel 1/Data"][...]
        np.testing.assert_array_equal(data, planes[1, 1])


def test_range_requests(alice_client, lab):
    started = _start(alice_client, lab[0].id)
    whole = _file_bytes(alice_client.get(started["download_url"]))
    part = alice_client.get(started["download_url"], HTTP_RANGE="bytes=10-99")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 10-99/{len(whole)}"
    assert part["Content-Length"] == "90"
    assert _file_bytes(part) == whole[10:100]
    tail = alice_client.get(started["download_url"], HTTP_RANGE="bytes=-16")
    assert _file_bytes(tail) == whole[-16:]
    bad = alice_client.get(started["download_url"], HTTP_RANGE=f"bytes={len(whole)}-")
    assert bad.status_code == 416 and bad["Content-Range"] == f"bytes */{len(whole)}"


def test_download_falls_back_to_the_file_in_omero(alice_client, lab, export_dir):
    started = _start(alice_client, lab[0].id)
    local = alice_client.get(started["download_url"])
    expected = _file_bytes(local)
    for path in export_dir.rglob("*.ims"):
        path.unlink()  # e.g. a worker on another host
    remote = alice_client.get(started["download_url"], HTTP_RANGE="bytes=5-")
    assert remote.status_code == 206 and _file_bytes(remote) == expected[5:]
    assert _file_bytes(alice_client.get(started["download_url"])) == expected


def test_synchronous_mode_answers_with_the_file(alice_client, lab):
    response = _post(alice_client, "/omeroweb_imaris_connector/exports/",
                     {"image": lab[0].id, "async": False})
    assert response.status_code == 200
    assert _file_bytes(response)[:8] == b"\x89HDF\r\n\x1a\n"


def test_only_the_requester_or_root_sees_the_export(alice_client, lab, fake_omero, login_as):
    started = _start(alice_client, lab[0].id)
    login_as(fake_omero.connect("bob"))  # same group, can read the image, but not the job
    assert alice_client.get(started["status_url"]).status_code == 404
    assert alice_client.get(started["download_url"]).status_code == 404
    login_as(fake_omero.connect("root"))
    assert alice_client.get(started["status_url"]).status_code == 200
    assert alice_client.get(started["download_url"]).status_code == 200


def test_409_before_the_file_is_ready(fake_omero, lab, login_as, job_service):
    # No eager mode and no worker: the job stays queued.
    login_as(fake_omero.connect("alice"))
    client = Client()
    started = _start(client, lab[0].id)
    response = client.get(started["download_url"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_ready"
    legacy = client.get("/omeroweb_imaris_connector/imaris-export/",
                        {"job": started["job_id"], "download": "1"})
    assert legacy.status_code == 409
    jobs.request_cancel(started["job_id"])  # its message stays in Redis: no later worker runs it


def test_failed_export_reports_the_reason(alice_client, fake_omero):
    alice = fake_omero.user_named("alice")
    odd = fake_omero.add_image("signed.tif", owner=alice, size=(8, 8, 1, 1, 1),
                               pixel_type="int16")
    started = _start(alice_client, odd.id)
    status = alice_client.get(started["status_url"]).json()
    assert status["state"] == "failed" and status["failed"]
    assert "int16" in status["error"]
    response = alice_client.get(started["download_url"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "export_failed"


def test_malformed_requests_get_4xx_json(alice_client, lab, fake_omero):
    url = "/omeroweb_imaris_connector/exports/"
    cases = [
        (alice_client.post(url, data="{", content_type="application/json"), 400),
        (alice_client.post(url, data={"image": 1}), 415),
        (_post(alice_client, url, {"image": "abc"}), 400),
        (_post(alice_client, url, {"image": -3}), 400),
        (_post(alice_client, url, {"image": True}), 400),
        (_post(alice_client, url, {"image": lab[0].id, "async": "maybe"}), 400),
        (_post(alice_client, url, {"image": 999999}), 404),
        (alice_client.get(url), 405),
        (alice_client.get("/omeroweb_imaris_connector/exports/not-a-uuid/"), 404),
        (alice_client.get("/omeroweb_imaris_connector/exports/"
                          "00000000-0000-0000-0000-000000000000/"), 404),
        (alice_client.get("/omeroweb_imaris_connector/imaris-export/", {"image": lab[0].id}),
         405),
        (alice_client.get("/omeroweb_imaris_connector/imaris-export/"), 400),
        (alice_client.get("/omeroweb_imaris_connector/imaris-export/", {"job": "x"}), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.content
        if response.get("Content-Type") == "application/json":
            assert "error" in response.json()


def test_posts_need_the_csrf_token(fake_omero, lab, login_as, job_service):
    login_as(fake_omero.connect("alice"))
    strict = Client(enforce_csrf_checks=True)
    response = _post(strict, "/omeroweb_imaris_connector/exports/", {"image": lab[0].id})
    assert response.status_code == 403
    legacy = strict.post("/omeroweb_imaris_connector/imaris-export/", {"image": lab[0].id})
    assert legacy.status_code == 403


def test_legacy_route_starts_polls_and_downloads(alice_client, lab):
    started = alice_client.post("/omeroweb_imaris_connector/imaris-export/",
                                {"image": lab[0].id, "async": "1"})
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    status = alice_client.get("/omeroweb_imaris_connector/imaris-export/", {"job": job_id})
    assert status.json()["state"] == "succeeded"
    download = alice_client.get("/omeroweb_imaris_connector/imaris-export/",
                                {"job": f"celery-{job_id}", "download": "1"})
    assert download.status_code == 200 and _file_bytes(download)[:4] == b"\x89HDF"


def test_expired_exports_answer_410(alice_client, lab, monkeypatch):
    started = _start(alice_client, lab[0].id)
    from omero_plugin_common import db

    with db.transaction() as tx:
        tx.execute("UPDATE plugin_jobs SET finished_at = now() - interval '3 hours'"
                   " WHERE id = %s", (started["job_id"],))
    assert alice_client.get(started["status_url"]).status_code == 410
    assert alice_client.get(started["download_url"]).status_code == 410


def test_range_parser():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-0", 100) == (0, 0)
    assert parse_range("bytes=90-200", 100) == (90, 99)
    assert parse_range("bytes=-200", 100) == (0, 99)
    assert parse_range("bytes=1-2,5-6", 100) is None  # several ranges: whole file
    assert parse_range("items=1-2", 100) is None
    for bad in ("bytes=100-", "bytes=5-4", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(bad, 100)


@pytest.mark.worker
def test_real_worker_exports_on_the_imaris_export_queue(fake_omero, lab, login_as,
                                                        fake_omero_worker):
    image, planes = lab
    worker = fake_omero_worker("imaris_export")
    login_as(fake_omero.connect("alice"))
    client = Client()
    started = _start(client, image.id)
    after = worker.omero_after(started["job_id"])
    job = jobs.get(started["job_id"])
    assert job.state == "succeeded", job.error
    assert job.worker == "imaris_export@fake" and job.queue == "imaris_export"
    assert job.progress_done == job.progress_total > 0
    conn = after.connect("alice")
    anns = list(conn.getObject("Image", image.id).listAnnotations(ns=exports.NAMESPACE))
    (annotation,) = anns
    assert annotation.getId() == job.result["file_annotation"]
    body = _file_bytes(client.get(started["download_url"]))
    with h5py.File(io.BytesIO(body), "r") as h5:
        np.testing.assert_array_equal(
            h5["DataSet/ResolutionLevel 0/TimePoint 0/Channel 1/Data"][...], planes[0, 1])


def test_synchronous_mode_gives_up_with_504_and_the_job(fake_omero, lab, login_as, job_service,
                                                        monkeypatch):
    from omeroweb_imaris_connector.config import imaris_settings

    monkeypatch.setenv("OMERO_IMS_EXPORT_TIMEOUT", "1")
    imaris_settings.cache_clear()
    login_as(fake_omero.connect("alice"))  # no worker: the job stays queued
    response = _post(Client(), "/omeroweb_imaris_connector/exports/",
                     {"image": lab[0].id, "async": False})
    assert response.status_code == 504
    body = response.json()
    assert body["error"]["code"] == "timeout" and body["state"] == "queued"
    jobs.request_cancel(body["job_id"])  # its message stays in Redis: no later worker runs it


@pytest.mark.usefixtures("no_earlier_exports")
def test_the_page_lists_only_the_users_exports(alice_client, lab, fake_omero, login_as):
    image, _ = lab
    started = _start(alice_client, image.id)
    listed = alice_client.get("/omeroweb_imaris_connector/exports/list/").json()["exports"]
    assert [e["id"] for e in listed] == [started["id"]]
    (entry,) = listed
    assert entry["image"] == image.id and entry["image_name"] == "sample 1.czi"
    assert entry["state"] == "succeeded" and not entry["expired"]
    assert entry["download_url"].endswith("/download/") and entry["size"] > 0
    login_as(fake_omero.connect("bob"))
    assert Client().get("/omeroweb_imaris_connector/exports/list/").json()["exports"] == []


def test_the_page_describes_chosen_images(alice_client, lab):
    image, _ = lab
    response = alice_client.get("/omeroweb_imaris_connector/images/",
                                {"id": [str(image.id), "99999", str(image.id)]})
    assert response.json()["images"] == [
        {"id": image.id, "found": True, "name": "sample 1.czi", "exportable": True},
        {"id": 99999, "found": False, "name": None, "exportable": False}]
    for bad in ({}, {"id": "x"}, {"id": "0"}, {"id": ",".join(["1"] * 101)}):
        answer = alice_client.get("/omeroweb_imaris_connector/images/", bad)
        assert answer.status_code == 400 and answer.json()["error"]["message"]


def test_the_page_has_its_config_and_the_omero_header(alice_client):
    page = alice_client.get("/omeroweb_imaris_connector/?image=5").content.decode()
    assert 'id="middle_header"' in page and 'id="page-config"' in page
    assert "/omeroweb_imaris_connector/exports/list/" in page
    assert "<script>" not in page and " onclick=" not in page  # nothing inline (CSP)
