"""The server-script back end (OMERO_IMS_EXPORT_BACKEND=script) on the test double's scripts."""

import json
import tempfile
from pathlib import Path

import pytest
from django.test import Client

from omeroweb_imaris_connector import script_backend
from omeroweb_imaris_connector.config import imaris_settings
from omeroweb_imaris_connector.exports import NAMESPACE

SCRIPT_BYTES = b"\x89HDF\r\n\x1a\n" + b"converted by ImarisConvertBioformats" * 100


def ims_export_script(conn, inputs):
    """Stands in for IMS_Export.py: writes the file, attaches it, returns the original's
    outputs (Message, File_Annotation_Id, Export_Path, Export_Name)."""
    image = conn.getObject("Image", inputs["Image_ID"])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"image_{image.getId()}.ims"
        path.write_bytes(SCRIPT_BYTES)
        annotation = conn.createFileAnnfromLocalFile(str(path), ns=NAMESPACE,
                                                     mimetype="application/octet-stream")
    image.linkAnnotation(annotation)
    return {"Message": "exported", "File_Annotation_Id": annotation.getId(),
            "Export_Path": f"/OMERO/ImarisExports/image_{image.getId()}/{path.name}",
            "Export_Name": path.name}


@pytest.fixture
def script_world(fake_omero, lab, login_as, job_service, celery_eager, export_dir, monkeypatch):
    monkeypatch.setenv("OMERO_IMS_EXPORT_BACKEND", "script")
    monkeypatch.setenv("OMERO_IMS_SCRIPT_START_RETRY_INTERVAL", "0.01")
    monkeypatch.setenv("OMERO_IMS_SCRIPT_START_TIMEOUT", "1")
    imaris_settings.cache_clear()
    script_backend._processor_cache.clear()
    fake_omero.add_script("/omero/export/IMS_Export.py", ims_export_script,
                          params={"Image_ID": {}})
    login_as(fake_omero.connect("alice"))
    yield fake_omero, lab[0]
    script_backend._processor_cache.clear()


def _export(image_id):
    client = Client()
    started = client.post("/omeroweb_imaris_connector/exports/", json.dumps({"image": image_id}),
                          content_type="application/json").json()
    return client, started, client.get(started["status_url"]).json()


def test_script_export_runs_as_the_user_and_downloads_from_omero(script_world):
    omero, image = script_world
    client, started, status = _export(image.id)
    assert status["state"] == "succeeded", status["error"]
    result = status["result"]
    assert result["backend"] == "script" and result["export_name"] == f"image_{image.id}.ims"
    assert result["export_path"].startswith("/OMERO/ImarisExports/")  # the server's, not ours
    assert omero.script_jobs[-1]["user"] == "alice"
    assert omero.script_jobs[-1]["inputs"] == {"Image_ID": image.id}
    assert omero.script_jobs[-1]["closed"] is True  # detached
    assert {"finding_script", "running_script"} <= set(status["log"])
    download = client.get(started["download_url"], HTTP_RANGE="bytes=8-")
    assert download.status_code == 206
    assert b"".join(download.streaming_content) == SCRIPT_BYTES[8:]


def test_busy_processors_are_retried(script_world):
    omero, image = script_world
    omero.busy_script_starts = 3
    _, _, status = _export(image.id)
    assert status["state"] == "succeeded", status["error"]
    assert omero.calls["IScript.runScript"] == 4
    assert sum("no script processor free" in line for line in status["log"]) == 3


def test_start_gives_up_after_the_timeout(script_world, monkeypatch):
    omero, image = script_world
    monkeypatch.setenv("OMERO_IMS_SCRIPT_START_TIMEOUT", "0")
    imaris_settings.cache_clear()
    omero.busy_script_starts = 1000
    _, _, status = _export(image.id)
    assert status["state"] == "failed"
    assert "no script processor became free within 0 s" in status["error"]
    assert omero.script_jobs == []


def test_disabled_processors_fail_fast(script_world):
    omero, image = script_world
    omero.server_config = {"omero.scripts.processors": "0"}
    omero.busy_script_starts = 1000
    _, _, status = _export(image.id)
    assert status["state"] == "failed"
    assert "processors are disabled" in status["error"]
    assert omero.calls["IScript.runScript"] == 1
    assert omero.calls["IConfig.getConfigValue"] == 1


def test_missing_script_names_the_setting(script_world, monkeypatch):
    _, image = script_world
    monkeypatch.setenv("OMERO_IMS_SCRIPT_NAME", "Other_Export.py")
    imaris_settings.cache_clear()
    _, _, status = _export(image.id)
    assert status["state"] == "failed"
    assert "no script named Other_Export.py" in status["error"]


def test_script_found_with_or_without_extension(script_world):
    omero, _ = script_world
    scripts = omero.connect("alice").getScriptService()
    found = script_backend.find_script_id(scripts, "IMS_Export.py")
    assert script_backend.find_script_id(scripts, "IMS_Export") == found
    assert script_backend.find_script_id(scripts, "/any/dir/IMS_Export.py") == found


def test_processor_setting_is_cached(script_world):
    omero, _ = script_world
    omero.server_config = {"omero.scripts.processors": "4"}
    root = omero.connect("root")
    now = [100.0]
    assert script_backend.configured_processors(root, 30, lambda: now[0]) == 4
    omero.server_config = {"omero.scripts.processors": "0"}
    now[0] += 29
    assert script_backend.configured_processors(root, 30, lambda: now[0]) == 4
    now[0] += 2
    assert script_backend.configured_processors(root, 30, lambda: now[0]) == 0
    assert omero.calls["IConfig.getConfigValue"] == 2
