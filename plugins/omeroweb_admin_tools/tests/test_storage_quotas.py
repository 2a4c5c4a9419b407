"""Storage by user and group from OMERO (the test double), disk usage, and the group quota
state: edit, CSV import and template, minimum quota, atomic JSON."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from omeroweb_admin_tools import quotas
from omeroweb_admin_tools.services import storage


@pytest.fixture
def files(fake_omero, people):
    alice = people["alice"]
    fake_omero.add_original_file("a.tif", alice, people["lab"], content=b"x" * 3000)
    fake_omero.add_original_file("b.tif", alice, people["imaging"], content=b"x" * 500)
    fake_omero.add_original_file("c.tif", fake_omero.root, None, content=b"x" * 20)
    return alice


def test_usage_by_user_and_group(admin_env, root_client, files, fake_omero, monkeypatch):
    monkeypatch.setattr(storage, "PAGE", 2)  # several pages even for three files
    body = root_client.get(reverse("omeroweb_admin_tools_storage_data")).json()
    users = {u["name"]: u["bytes"] for u in body["users"]}
    groups = {g["name"]: g["bytes"] for g in body["groups"]}
    assert users["alice"] == 3500 and users["root"] == 20 and users["admin2"] == 0
    assert groups["lab"] == 3000 and groups["imaging"] == 500
    assert body["groups"][0]["name"] == "lab"  # largest first
    assert {g["name"]: g["permissions"] for g in body["groups"]}["imaging"] == "rw----"
    disk = body["disk"]
    assert disk["path"].endswith("/OMERO")
    assert disk["total_bytes"] >= disk["used_bytes"] > 0


def test_missing_data_dir_is_reported(admin_env, root_client, files, tmp_path):
    admin_env(DATA_DIR=str(tmp_path / "absent"))
    disk = root_client.get(reverse("omeroweb_admin_tools_storage_data")).json()["disk"]
    assert "cannot read" in disk["error"]


def _update(client, updates):
    return client.post(reverse("omeroweb_admin_tools_quota_update"),
                       data=json.dumps({"updates": updates}), content_type="application/json")


def test_edit_quotas_writes_the_state_atomically(admin_env, root_client, people):
    settings = admin_env()
    response = _update(root_client, [{"group": "lab", "quota_gb": 1.5},
                                     {"group": "imaging", "quota_gb": "0.10"}])
    assert response.status_code == 200, response.content
    path = Path(settings.quota_state_dir) / quotas.STATE_FILE
    state = json.loads(path.read_text())
    lab_id = people["lab"].id
    assert state["quotas"]["lab"] == {"quota_gb": 1.5, "group_id": lab_id,
                                      "project_id": 200000 + lab_id}
    assert state["quotas"]["imaging"]["quota_gb"] == 0.1
    assert state["updated_by"] == "root" and len(state["log"]) == 2
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in path.parent.iterdir()] == [quotas.STATE_FILE]  # no temp files left
    # Removing a quota (null), and a bad entry anywhere changes nothing at all.
    bad = _update(root_client, [{"group": "lab", "quota_gb": None},
                                {"group": "imaging", "quota_gb": 0.05}])
    assert bad.status_code == 400
    assert json.loads(path.read_text()) == state
    ok = _update(root_client, [{"group": "lab", "quota_gb": None}]).json()
    assert "lab" not in ok["state"]["quotas"]
    assert ok["state"]["log"][-1]["to"] is None


@pytest.mark.parametrize("group", ["system", "user", "guest"])
def test_omeros_own_groups_get_no_quota(admin_env, root_client, people, group):
    """Defect 7: the page offered quota boxes for system, user and guest."""
    response = _update(root_client, [{"group": "lab", "quota_gb": 1},
                                     {"group": group, "quota_gb": 5}])
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"The {group} group is one of OMERO's own groups (system, user, guest) and cannot "
        "have a quota; nothing was saved.")
    body = root_client.get(reverse("omeroweb_admin_tools_storage_data")).json()
    allowed = {g["name"]: g["quota_allowed"] for g in body["groups"]}
    assert allowed == {"system": False, "user": False, "guest": False, "lab": True,
                       "imaging": True}
    template = root_client.get(reverse("omeroweb_admin_tools_quota_template")).content.decode()
    assert {line.split(",")[0] for line in template.splitlines()[1:]} == {"lab", "imaging"}


def test_quota_errors_are_sentences_about_the_group(admin_env, root_client, people):
    """Defect 7: "update 2 (imaging): quota 0.01 is below …" named the request's index."""
    response = _update(root_client, [{"group": "lab", "quota_gb": 1},
                                     {"group": "imaging", "quota_gb": 0.01}])
    assert response.json()["error"]["message"] == (
        "Group imaging: the quota of 0.01 GB is below the minimum of 0.1 GB; nothing was saved.")


def test_minimum_quota_is_a_setting(admin_env, root_client, people):
    admin_env(MIN_QUOTA_GB="2")
    response = _update(root_client, [{"group": "lab", "quota_gb": 1.5}])
    assert response.status_code == 400
    assert "minimum of 2 GB" in response.json()["error"]["message"]


def test_csv_template_then_import(admin_env, root_client, people):
    _update(root_client, [{"group": "lab", "quota_gb": 3}])
    template = root_client.get(reverse("omeroweb_admin_tools_quota_template"))
    assert template["Content-Type"].startswith("text/csv")
    assert "attachment" in template["Content-Disposition"]
    lines = template.content.decode().splitlines()
    assert lines[0] == "Group,Quota [GB]"
    assert "lab,3" in lines and "imaging," in lines
    filled = template.content.decode().replace("imaging,", "imaging,12.5").encode()
    response = root_client.post(reverse("omeroweb_admin_tools_quota_import"),
                                {"file": SimpleUploadedFile("q.csv", filled, "text/csv")})
    assert response.status_code == 200, response.content
    state = response.json()["state"]["quotas"]
    assert state["imaging"]["quota_gb"] == 12.5 and state["lab"]["quota_gb"] == 3
    unknown = root_client.post(reverse("omeroweb_admin_tools_quota_import"), {
        "file": SimpleUploadedFile("q.csv", b"Group,Quota [GB]\nghosts,5\n")})
    assert unknown.status_code == 400
    assert "no OMERO group named 'ghosts'" in unknown.json()["error"]["message"]


def test_quota_data_reports_the_enforcer(admin_env, root_client):
    settings = admin_env()
    body = root_client.get(reverse("omeroweb_admin_tools_quota_data")).json()
    assert body["enforcer"] is None and "has not run yet" in body["enforcer_message"]
    quotas.write_json_atomic(settings.quota_state_dir / quotas.STATUS_FILE,
                             {"enforced": False, "message": "/ is overlay, not ext4"})
    body = root_client.get(reverse("omeroweb_admin_tools_quota_data")).json()
    assert body["enforcer_message"] == "/ is overlay, not ext4"


def test_a_corrupt_state_file_is_a_json_error(admin_env, root_client):
    settings = admin_env()
    (Path(settings.quota_state_dir) / quotas.STATE_FILE).write_text("{half")
    response = root_client.get(reverse("omeroweb_admin_tools_quota_data"))
    assert response.status_code == 500
    assert "not valid JSON" in response.json()["error"]["message"]


def test_readers_never_see_a_partial_state(tmp_path):
    """A reader polling while a writer replaces the file sees only whole documents."""
    path = tmp_path / quotas.STATE_FILE
    big = {"version": 1, "quotas": {f"g{i}": {"quota_gb": i} for i in range(3000)}, "log": []}
    quotas.write_json_atomic(path, big)
    stop, seen = threading.Event(), []

    def read():
        while not stop.is_set():
            seen.append(len(json.loads(path.read_text())["quotas"]))

    reader = threading.Thread(target=read)
    reader.start()
    for n in range(30):
        quotas.write_json_atomic(path, {**big, "n": n})
    stop.set()
    reader.join()
    assert seen and set(seen) == {3000}


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / quotas.STATE_FILE
    quotas.write_json_atomic(path, {"version": 1, "quotas": {}, "log": []})

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        quotas.write_json_atomic(path, {"version": 1, "quotas": {"x": 1}, "log": []})
    assert json.loads(path.read_text())["quotas"] == {}
    assert os.listdir(tmp_path) == [quotas.STATE_FILE]


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", 1.0), (" 2,5 ", 2.5), (0.1, 0.1), ("", None), (None, None)])
def test_parse_quota(raw, expected):
    assert quotas.parse_quota(raw, 0.1) == expected


@pytest.mark.parametrize("raw", ["nan", "inf", "-1", "0.0999", "1e7", True, [1]])
def test_parse_quota_refuses(raw):
    with pytest.raises(quotas.QuotaError):
        quotas.parse_quota(raw, 0.1)
