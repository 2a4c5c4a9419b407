"""Starting an execution through the page's endpoint: every refusal is a 4xx JSON error with a
sentence, and nothing is started (no job row, no execution row); GPU presets go to the GPU
queue; the picker and the presets list."""

import json

import pytest
from django.test import Client

from omero_plugin_common import db

pytestmark = pytest.mark.usefixtures("openhcs_env", "no_earlier_executions")
URL = "/omeroweb_openhcs/executions/"


def started() -> tuple[int, int]:
    with db.transaction() as tx:
        jobs = tx.fetchone("SELECT count(*) AS n FROM plugin_jobs WHERE kind = 'openhcs_run'")
        rows = tx.fetchone("SELECT count(*) AS n FROM openhcs_executions")
    return jobs["n"], rows["n"]


@pytest.fixture
def alice(fake_omero, lab, login_as):
    login_as(fake_omero.connect("alice"))
    return Client()


def post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def body(lab, **changes):
    base = {"preset": "cell_count_cpu", "params": {"min_cell_area": 30},
            "source": {"type": "dataset", "id": lab["dataset"].id}}
    base.update(changes)
    return base


def test_a_valid_request_starts_one_execution_on_the_cpu_queue(alice, lab):
    response = post(alice, body(lab))
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["state"] == "queued"
    assert job["preset_title"] == "Cell count (CPU)"
    assert job["source"] == {"type": "dataset", "id": lab["dataset"].id, "name": "plate 1"}
    assert job["wells_total"] == 3
    assert job["params"] == {"min_cell_area": 30, "max_cell_area": 400, "sigma": 1.0,
                             "normalize": True, "method": "otsu"}
    with db.transaction() as tx:
        row = tx.fetchone("SELECT queue, owner FROM plugin_jobs WHERE id = %s", (job["id"],))
    assert row == {"queue": "openhcs", "owner": "alice"}
    assert started() == (1, 1)


def test_a_gpu_preset_goes_to_the_gpu_queue(alice, lab):
    response = post(alice, body(lab, preset="deconvolve_gpu", params={}))
    assert response.status_code == 202, response.content
    with db.transaction() as tx:
        row = tx.fetchone("SELECT queue FROM plugin_jobs WHERE id = %s", (response.json()["id"],))
    assert row["queue"] == "openhcs_gpu"


BAD = [
    ({"preset": "rm_rf"}, 400, "There is no preset named 'rm_rf'"),
    ({"preset": None}, 400, "Choose a preset."),
    ({"params": {"min_cell_area": 4}}, 400,
     "“Smallest cell (px)” must be between 5 and 10000; 4 is outside."),
    ({"params": {"sigma": 10.5}}, 400, "“Smoothing (0 = none)” must be between 0 and 10"),
    ({"params": {"min_cell_area": "30"}}, 400, "“Smallest cell (px)” must be a whole number."),
    ({"params": {"min_cell_area": 30.5}}, 400, "must be a whole number"),
    ({"params": {"normalize": "yes"}}, 400, "“Normalise intensities” must be true or false."),
    ({"params": {"method": "triangle"}}, 400, "“Threshold” must be one of otsu, li."),
    # Python's JSON reader takes NaN; the check refuses it.
    ({"params": {"sigma": float("nan")}}, 400, "“Smoothing (0 = none)” must be a finite number."),
    ({"params": {"code": "import os"}}, 400, "has no parameter 'code'"),
    ({"params": ["min_cell_area"]}, 400, "must be an object"),
    ({"source": {"type": "image", "id": 1}}, 400, "must be a plate or a dataset"),
    ({"source": {"type": "dataset", "id": "5"}}, 400, "positive whole number"),
    ({"source": {"type": "dataset", "id": -1}}, 400, "positive whole number"),
    ({"source": None}, 400, "Choose a plate or a dataset"),
    ({"source": {"type": "dataset", "id": 99999}}, 404,
     "Dataset 99999 was not found, or you cannot see it."),
]


@pytest.mark.parametrize(("change", "status", "message"), BAD,
                         ids=[str(i) for i in range(len(BAD))])
def test_bad_requests_are_refused_and_start_nothing(alice, lab, change, status, message):
    response = post(alice, body(lab, **change))
    assert response.status_code == status, response.content
    assert message in response.json()["error"]["message"]
    assert started() == (0, 0)


def test_data_the_user_may_not_annotate_is_refused(alice, lab):
    response = post(alice, body(lab, source={"type": "dataset", "id": lab["theirs"].id}))
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith(
        "You may not annotate the dataset “bob's controls”")
    assert started() == (0, 0)


def test_an_empty_dataset_is_refused(alice, lab):
    response = post(alice, body(lab, source={"type": "dataset", "id": lab["empty"].id}))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The dataset “empty” has no images to process."
    assert started() == (0, 0)


def test_over_the_concurrent_limit_is_refused(alice, lab):
    assert post(alice, body(lab)).status_code == 202  # the limit is 1; no worker: it waits
    response = post(alice, body(lab))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "concurrent_limit"
    assert response.json()["error"]["message"].startswith(
        "You already have 1 OpenHCS execution waiting or running")
    assert started() == (1, 1)


def test_over_the_group_quota_is_refused(alice, lab):
    with db.transaction() as tx:  # the group used its hour (quota 1 h in openhcs_env)
        tx.execute("INSERT INTO openhcs_processing_ledger (job_id, owner, group_id, seconds)"
                   " VALUES (gen_random_uuid(), 'bob', %s, 3600)", (lab["lab"].id,))
    response = post(alice, body(lab))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "quota_exhausted"
    assert "(1.0 of 1 hours)" in response.json()["error"]["message"]
    assert started() == (0, 0)


def test_time_outside_the_period_does_not_count(alice, lab):
    with db.transaction() as tx:
        tx.execute("INSERT INTO openhcs_processing_ledger (job_id, owner, group_id, seconds,"
                   " recorded_at) VALUES (gen_random_uuid(), 'bob', %s, 7200,"
                   " now() - interval '31 days')", (lab["lab"].id,))
    assert post(alice, body(lab)).status_code == 202


def test_post_needs_the_csrf_token(fake_omero, lab, login_as):
    login_as(fake_omero.connect("alice"))
    client = Client(enforce_csrf_checks=True)
    response = client.post(URL, data=json.dumps(body(lab)), content_type="application/json")
    assert response.status_code == 403
    assert started() == (0, 0)


def test_not_json_is_a_clear_error(alice):
    response = alice.post(URL, data="preset=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert started() == (0, 0)


def test_presets_and_usage(alice, lab):
    response = alice.get("/omeroweb_openhcs/presets/")
    assert response.status_code == 200
    data = response.json()
    assert [p["name"] for p in data["presets"]] == ["cell_count_cpu", "deconvolve_gpu"]
    assert data["presets"][0]["parameters"][0] == {
        "name": "min_cell_area", "label": "Smallest cell (px)", "type": "int", "default": 20,
        "min": 5, "max": 10000}
    assert data["usage"] == {"used_seconds": 0.0, "used_hours": 0.0, "quota_hours": 1.0,
                             "period_days": 30}


def test_the_picker_lists_datasets_with_the_annotate_right(alice, lab):
    data = alice.get("/omeroweb_openhcs/sources/?type=dataset").json()
    by_name = {s["name"]: s["can_annotate"] for s in data["sources"]}
    assert by_name == {"plate 1": True, "empty": True, "mixed sizes": True,
                       "bob's controls": False}
    one = alice.get(f"/omeroweb_openhcs/sources/?type=dataset&id={lab['dataset'].id}").json()
    assert one["sources"][0]["name"] == "plate 1"
    assert alice.get("/omeroweb_openhcs/sources/?type=image").status_code == 400
    assert alice.get("/omeroweb_openhcs/sources/?type=dataset&id=x").status_code == 400
    assert alice.get("/omeroweb_openhcs/sources/?type=dataset&id=424242").status_code == 404


def test_a_plate_starts_one_execution_with_its_wells(alice, lab):
    response = post(alice, body(lab, source={"type": "plate", "id": lab["plate"].id}))
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["source"] == {"type": "plate", "id": lab["plate"].id, "name": "plate P"}
    assert job["wells_total"] == 2
    with db.transaction() as tx:
        row = tx.fetchone("SELECT group_id, source_type FROM openhcs_executions"
                          " WHERE job_id = %s", (job["id"],))
    assert row == {"group_id": lab["lab"].id, "source_type": "plate"}
    assert started() == (1, 1)


def test_a_plate_the_user_may_not_annotate_is_refused(alice, lab):
    response = post(alice, body(lab, source={"type": "plate", "id": lab["their_plate"].id}))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert error["message"].startswith("You may not annotate the plate “bob's plate”")
    assert started() == (0, 0)
    missing = post(alice, body(lab, source={"type": "plate", "id": 424242}))
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Plate 424242 was not found, or you cannot see it."
    assert started() == (0, 0)


def test_the_picker_lists_plates_with_the_annotate_right(alice, lab):
    data = alice.get("/omeroweb_openhcs/sources/?type=plate").json()
    assert [(s["name"], s["can_annotate"]) for s in data["sources"]] == [
        ("bob's plate", False), ("plate P", True)]
    one = alice.get(f"/omeroweb_openhcs/sources/?type=plate&id={lab['plate'].id}").json()
    assert one["sources"] == [{"type": "plate", "id": lab["plate"].id, "name": "plate P",
                               "can_annotate": True}]
    assert alice.get("/omeroweb_openhcs/sources/?type=plate&id=424242").status_code == 404
