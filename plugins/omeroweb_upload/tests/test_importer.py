"""The importer over `omero import`, run against the stand-in executable (tests/standin_omero.py)
that reproduces the real command's output and failure modes, with images landing in the test
double."""

import json
import os
import tempfile
import time

import pytest

from omeroweb_upload.importer import CliImporter, OmeroSession, parse_image_ids


@pytest.fixture
def importer(standin_omero):
    return CliImporter(os.environ["OMERO_UPLOAD_OMERO_BIN"], import_timeout=20,
                       check_timeout=10)


@pytest.fixture
def alice_session(world):
    conn = world["omero"].connect("alice")
    key = conn.getEventContext().sessionUuid
    return OmeroSession("omero.example.org", 4064, "alice", key)


def _file(tmp_path, name, data=b"pixels"):
    path = tmp_path / "files" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_parse_image_ids():
    out = "Image:12\nsomething else\n  Image:13  \nImage:x\nPlate:4\n"
    assert parse_image_ids(out) == [12, 13]


def test_compatibility_check(importer, tmp_path):
    assert importer.check(_file(tmp_path, "a.tif")) is True
    assert importer.check(_file(tmp_path, "notes.docx")) is False
    assert importer.check(_file(tmp_path, "checkcrash.tif")) is False  # non-zero exit


def test_import_creates_images_in_the_dataset_as_the_user(importer, alice_session, world,
                                                          tmp_path):
    omero = world["omero"]
    dataset = omero.add_dataset("D", owner=world["alice"], group=world["lab"])
    result = importer.import_file(_file(tmp_path, "a.tif"), alice_session, dataset.id)
    assert result.ok and len(result.image_ids) == 1 and result.error is None
    image = omero.connect("alice").getObject("Image", result.image_ids[0])
    assert image.getName() == "a.tif"
    assert image.getOwner().getOmeName() == "alice"
    assert [d.getId() for d in image.listParents()] == [dataset.id]
    assert any("==> Summary" in line for line in result.log)


def _stores():
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("omero-upload-session-")}


def test_the_session_key_never_reaches_the_command_line(importer, alice_session, tmp_path):
    before = _stores()
    importer.import_file(_file(tmp_path, "a.tif"), alice_session, None)
    argv_log = (tmp_path / "argv.log").read_text()
    assert alice_session.key not in argv_log
    argv = json.loads(argv_log.splitlines()[-1])
    assert argv[:7] == ["import", "-s", "omero.example.org", "-p", "4064", "-u", "alice"]
    assert "-k" not in argv and "-w" not in argv
    assert alice_session.key not in repr(alice_session)
    assert _stores() <= before  # the private session store is gone


def test_stores_left_by_a_killed_worker_are_swept(tmp_path):
    from omeroweb_upload.importer import sweep_session_stores

    old = tempfile.mkdtemp(prefix="omero-upload-session-")
    young = tempfile.mkdtemp(prefix="omero-upload-session-")
    os.utime(old, (time.time() - 9000, time.time() - 9000))
    try:
        assert sweep_session_stores(older_than=7200) >= 1
        assert not os.path.exists(old) and os.path.exists(young)
    finally:
        os.rmdir(young)


def test_multi_series_file_gives_every_image(importer, alice_session, tmp_path):
    result = importer.import_file(_file(tmp_path, "multi.czi"), alice_session, None)
    assert result.ok and len(result.image_ids) == 3


def test_failed_import_reports_the_error(importer, alice_session, tmp_path):
    result = importer.import_file(_file(tmp_path, "fail.tif"), alice_session, None)
    assert not result.ok and result.image_ids == []
    assert "Unsupported or corrupt file" in result.error or "FILE_EXCEPTION" in result.error


def test_partial_import_keeps_the_created_images_and_fails(importer, alice_session, tmp_path):
    result = importer.import_file(_file(tmp_path, "partial.tif"), alice_session, None)
    assert not result.ok and len(result.image_ids) == 1
    assert "1 image(s) were created before it failed" in result.error


def test_import_without_image_is_a_failure(importer, alice_session, tmp_path):
    result = importer.import_file(_file(tmp_path, "noimage.tif"), alice_session, None)
    assert not result.ok and result.error == "omero import reported no image"


def test_expired_session_is_a_failure(importer, alice_session, tmp_path):
    gone = OmeroSession(alice_session.host, alice_session.port, "alice", "0" * 36)
    result = importer.import_file(_file(tmp_path, "a.tif"), gone, None)
    assert not result.ok and "SessionException" in result.error


def test_timeout_kills_the_import(standin_omero, alice_session, tmp_path):
    importer = CliImporter(os.environ["OMERO_UPLOAD_OMERO_BIN"], import_timeout=1,
                           check_timeout=1)
    began = time.monotonic()
    result = importer.import_file(_file(tmp_path, "slow.tif"), alice_session, None)
    assert time.monotonic() - began < 10
    assert not result.ok and result.error == "import timed out after 1 s"
