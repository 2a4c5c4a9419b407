"""The XT extension (xt_connector/): its logic against a live test server of the plugins, and
its Tk window driven under Xvfb with a fake ImarisLib, with screenshots.

The live server runs the real plugin endpoints (the Imaris connector's export, status and
download; the upload plugin's start, chunk, status, prune and import views with its jobs run
inline, importing through the upload tests' stand-in `omero` executable), OMERO.web's real
/api/v0/token/ and Django's real CSRF checks. OMERO.web's /api/v0/login/ and /api/v0/m/
listings are stand-ins, defined below (they need a Blitz server; here they answer the same JSON
shapes from the OMERO test double).
"""

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_POST

from omero_plugin_common import db

REPO = Path(__file__).resolve().parents[2]
XT_DIR = REPO / "xt_connector"
FAKE_IMARIS = Path(__file__).resolve().parent / "fake_imaris"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
sys.path.insert(0, str(XT_DIR))
sys.path.insert(0, str(FAKE_IMARIS))

import omero_xt_core as core  # noqa: E402

PASSWORDS = {"alice": "secret"}
STATE = {}  # the test's FakeOmero


# -- stand-ins ---------------------------------------------------------------------------------


@require_POST
def api_login(request):
    """OMERO.web's /api/v0/login/ answers like this (CSRF checked by Django's middleware)."""
    username = request.POST.get("username")
    if PASSWORDS.get(username) != request.POST.get("password"):
        return JsonResponse({"message": "Connection not available, please check your user "
                             "name and password."}, status=403)
    request.session["xt_user"] = username
    return JsonResponse({"success": True, "eventContext": {"userName": username}})


def _conn(request):
    user = request.session.get("xt_user")
    return STATE["omero"].connect(user) if user else None


def _listing(objects, extra=lambda obj: {}):
    data = [{"@id": obj.getId(), "Name": obj.getName(), **extra(obj)} for obj in objects]
    return JsonResponse({"data": data, "meta": {"totalCount": len(data), "offset": 0}})


def api_projects(request):
    conn = _conn(request)
    if conn is None:
        return JsonResponse({"message": "Not logged in"}, status=403)
    return _listing(conn.getObjects("Project"))


def api_datasets(request, project_id):
    conn = _conn(request)
    return _listing(conn.getObject("Project", project_id).listChildren())


def api_images(request, dataset_id):
    conn = _conn(request)

    def pixels(image):
        return {"Pixels": {"SizeX": image.getSizeX(), "SizeY": image.getSizeY(),
                           "SizeZ": image.getSizeZ(), "SizeC": image.getSizeC(),
                           "SizeT": image.getSizeT()}}

    return _listing(conn.getObjects("Image", opts={"dataset": dataset_id}), pixels)


urlpatterns = [
    path("api/v0/login/", api_login),
    path("api/v0/m/projects/", api_projects),
    path("api/v0/m/projects/<int:project_id>/datasets/", api_datasets),
    path("api/v0/m/datasets/<int:dataset_id>/images/", api_images),
    path("", include("omeroweb.urls")),
]


@pytest.fixture
def live(live_server, settings, fake_omero, lab, login_as, job_service, celery_eager,
         export_dir, upload_dir, standin_omero, monkeypatch):
    """The live server with alice's P1 > D1 > image, and the stand-ins above mounted."""
    planes = lab[1]
    alice = fake_omero.user_named("alice")
    project = fake_omero.add_project("P1", owner=alice)
    dataset = fake_omero.add_dataset("D1", owner=alice, project=project)
    x, y, z, c, t = (planes.shape[4], planes.shape[3], planes.shape[2], planes.shape[1],
                     planes.shape[0])
    image = fake_omero.add_image("sample 1.czi", owner=alice, dataset=dataset,
                                 size=(x, y, z, c, t), pixel_type="uint16", planes=planes,
                                 physical_size=(0.2, 0.2, 1.0))
    STATE.update(omero=fake_omero, project=project)
    settings.ROOT_URLCONF = sys.modules[__name__]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    login_as(fake_omero.connect("alice"))  # what the plugin endpoints see (OMERO.web's login)
    monkeypatch.setenv("HOME", str(export_dir.parent / "home"))
    return live_server.url, image, planes, dataset


# -- logic, no Tk --------------------------------------------------------------------------------


def test_settings_are_saved_without_the_password(tmp_path):
    values = {"host": "omero.example.org", "port": 443, "https": True, "username": "alice",
              "password": "secret", "download_dir": "/data"}
    path = core.save_settings(values, str(tmp_path))
    saved = Path(path).read_text()
    assert "secret" not in saved and "password" not in saved
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert core.load_settings(str(tmp_path))["username"] == "alice"
    assert core.load_settings(str(tmp_path / "none"))["port"] == 443


def test_base_url():
    assert core.base_url("omero.example.org", 443, True) == "https://omero.example.org"
    assert core.base_url("https://h/", 4090, False) == "http://h:4090"
    with pytest.raises(core.ConnectorError):
        core.base_url(" ", 443, True)


def test_wrong_password_is_refused(live):
    url = live[0]
    with pytest.raises(core.ConnectorError, match="login failed"):
        core.WebClient(url).login("alice", "wrong")


def test_posts_without_the_csrf_token_are_refused_then_recovered(live):
    url, image, _, _ = live
    client = core.WebClient(url)
    client.login("alice", "secret")
    credentials, client._credentials = client._credentials, None
    client.csrf_token = "forged"
    with pytest.raises(core.ConnectorError, match="HTTP 403"):
        client.request_export(image.id)
    # With the credentials (kept in memory only) it logs in once more, as the original did.
    client._credentials, client.csrf_token = credentials, "forged"
    assert client.request_export(image.id)["job_id"]


def test_browse_export_download_open_and_send_back(live, tmp_path, monkeypatch):
    url, image, planes, _ = live
    imaris_log = tmp_path / "imaris.jsonl"
    monkeypatch.setenv("FAKE_IMARIS_LOG", str(imaris_log))
    client = core.WebClient(url)
    assert client.login("alice", "secret") == {"userName": "alice"}
    (project,) = client.projects()
    (dataset,) = client.datasets(project["id"])
    images = client.images(dataset["id"])
    assert [i["id"] for i in images] == [image.id] and images[0]["size"] == "70x50x4x2x2"

    statuses = []
    path = core.export_to_file(client, image.id, str(tmp_path / "downloads"), interval=0.1,
                               on_status=statuses.append)
    assert Path(path).parent.name == f"img_{image.id}" and path.endswith(".ims")
    with h5py.File(path, "r") as h5:
        assert (h5["DataSet/ResolutionLevel 0/TimePoint 1/Channel 0/Data"][...]
                == planes[1, 0]).all()
    application = core.imaris_application(0)
    core.open_in_imaris(application, path)
    assert json.loads(imaris_log.read_text().splitlines()[0]) == ["FileOpen", path, ""]

    described = core.describe_dataset(application)
    assert described["size"] == [64, 48, 5, 2, 3] and described["channels"] == ["DAPI", "GFP"]
    saved = core.save_current_dataset(application, str(tmp_path))
    done = core.UploadApi(client, interval=0.1).send_files(
        [(saved, os.path.basename(saved))], "D1", project_id=STATE["project"].id)
    assert_imported(done, {"D1/" + os.path.basename(saved): Path(saved).read_bytes()}, "D1")


def assert_imported(status, expected, dataset_name):
    """The job is done, every file confirmed with the server's own SHA-256 of the bytes it
    received, imported by the stand-in `omero` into the named dataset of P1."""
    assert status["state"] == "done", status
    files = {f["relative_path"]: f for f in status["files"]}
    assert sorted(files) == sorted(expected)
    with db.transaction() as tx:
        digests = {r["relative_path"]: r["sha256"] for r in tx.fetchall(
            "SELECT relative_path, sha256 FROM upload_files WHERE job_id = %s", (status["id"],))}
    for relative, data in expected.items():
        assert files[relative]["state"] == "imported", files[relative]
        assert files[relative]["received_bytes"] == len(data)
        assert digests[relative] == hashlib.sha256(data).hexdigest()
        assert len(files[relative]["image_ids"]) == 1
    conn = STATE["omero"].connect("alice")
    project = conn.getObject("Project", STATE["project"].id)
    (dataset,) = [d for d in project.listChildren() if d.getName() == dataset_name]
    in_dataset = {i.getId() for i in conn.getObjects("Image", opts={"dataset": dataset.getId()})}
    assert set(core.imported_image_ids(status)) <= in_dataset


def test_a_folder_is_sent_in_chunks_with_relative_paths(live, tmp_path):
    url = live[0]
    folder = tmp_path / "plate"
    (folder / "well A1").mkdir(parents=True)
    (folder / "well A1" / "a.tif").write_bytes(os.urandom(150_000))
    (folder / "b.tif").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"junk")
    client = core.WebClient(url)
    client.login("alice", "secret")
    statuses = []
    # The client's 32 MiB chunks are more than this server takes (64 KiB): it halves them.
    api = core.UploadApi(client, interval=0.1)
    done = api.send_files(core.folder_files(str(folder)), "plate", STATE["project"].id,
                          on_status=statuses.append)
    assert api.chunk_bytes == 65536
    assert_imported(done, {"plate/well A1/a.tif": (folder / "well A1" / "a.tif").read_bytes(),
                           "plate/b.tif": b""}, "plate")
    assert done["files"][1]["chunks"] == 3  # 150 000 bytes in 64 KiB chunks
    assert "upload done" in statuses


def test_files_omero_cannot_read_are_pruned_before_the_import(live, tmp_path):
    url = live[0]
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.tif").write_bytes(b"tiff")
    (folder / "notes.docx").write_bytes(b"docx")
    client = core.WebClient(url)
    client.login("alice", "secret")
    done = core.UploadApi(client, interval=0.1).send_files(
        core.folder_files(str(folder)), "mixed", STATE["project"].id)
    states = {f["relative_path"]: f["state"] for f in done["files"]}
    assert states == {"mixed/a.tif": "imported", "mixed/notes.docx": "pruned"}
    assert done["state"] == "done"


def test_an_interrupted_upload_resumes_from_the_confirmed_offset(live, tmp_path):
    url = live[0]
    data = os.urandom(200_000)
    path = tmp_path / "big.tif"
    path.write_bytes(data)
    client = core.WebClient(url)
    client.login("alice", "secret")
    api = core.UploadApi(client, chunk_bytes=65536, interval=0.1)
    job = api.start([(str(path), "big.tif")], "D1", STATE["project"].id)
    real_open, offsets, dropped = client._open, [], []

    def dropping_second_chunk(method, where, data=None, headers=None, retry_login=True):
        if "/upload/" in where:
            offsets.append(int(where.rsplit("offset=", 1)[1]))
            if len(offsets) == 2 and not dropped:
                dropped.append(where)
                raise core.ConnectorError("cannot reach the server: connection reset")
        return real_open(method, where, data, headers, retry_login)

    client._open = dropping_second_chunk
    with pytest.raises(core.ConnectorError, match="connection reset"):
        api.resume(job["id"], [str(path)])
    assert api.status(job["id"])["files"][0]["received_bytes"] == 65536
    # A client that lost track starts the file again: the server answers 409 and the client
    # continues from the offset the server confirmed, not from its own.
    offsets.clear()
    api.send_file(job["id"], 0, str(path), offset=0)
    assert offsets == [0, 65536, 131072, 196608]
    done = api.finish(job["id"])
    assert_imported(done, {"D1/big.tif": data}, "D1")
    assert done["files"][0]["chunks"] == 4  # the refused chunk left nothing behind


@pytest.mark.parametrize("server_has_prefix", [True, False])
def test_chunks_carry_the_files_running_digest_or_their_own(live, tmp_path, monkeypatch,
                                                            server_has_prefix):
    """X-Prefix-Sha256 (the file up to the chunk's end) where the server supports it; after
    a prefix_unsupported answer, X-Chunk-Sha256 for the rest of the file."""
    from omeroweb_upload import running_sha256

    monkeypatch.setattr(running_sha256, "available", server_has_prefix)
    data = os.urandom(150_000)
    path = tmp_path / "c.tif"
    path.write_bytes(data)
    client = core.WebClient(live[0])
    client.login("alice", "secret")
    api = core.UploadApi(client, chunk_bytes=65536, interval=0.1)
    job = api.start([(str(path), "c.tif")], "D1", STATE["project"].id)
    real_open, sent = client._open, []

    def recording(method, where, body=None, headers=None, retry_login=True):
        if "/upload/" in where:
            sent.append(sorted(k for k in headers if k.endswith("Sha256")))
        return real_open(method, where, body, headers, retry_login)

    client._open = recording
    done = api.resume(job["id"], [str(path)])
    assert_imported(done, {"D1/c.tif": data}, "D1")
    if server_has_prefix:
        assert sent == [["X-Prefix-Sha256"]] * 3
    else:
        assert sent == [["X-Prefix-Sha256"]] + [["X-Chunk-Sha256"]] * 3


# -- the window under Xvfb --------------------------------------------------------------------

DRIVER = r'''
import json, os, subprocess, sys, time
import tkinter as tk
sys.path[:0] = [os.environ["XT_DIR"], os.environ["FAKE_IMARIS"]]
import XTOmeroConnector as xt, omero_xt_core as core

out = os.environ["OUT"]
root = tk.Tk()
window = xt.ConnectorWindow(root, core.imaris_application(0), settings_dir=os.environ["SETTINGS"])
statuses = []
window.status.trace_add("write", lambda *_: statuses.append(window.status.get()))

def wait(predicate, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        root.update()
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what + "; status: " + window.status.get())

def shot(name):
    root.update()
    time.sleep(0.3)
    root.update()
    subprocess.run(["import", "-window", "root", os.path.join(out, name)], check=True)

def select(box, index):
    box.selection_clear(0, "end")
    box.selection_set(index)
    box.event_generate("<<ListboxSelect>>")

window.password.set("secret")
window.connect_button.invoke()
wait(lambda: window.projects.size() == 1 and not window.busy, "projects")
select(window.projects, 0)
wait(lambda: window.datasets.size() == 1 and not window.busy, "datasets")
select(window.datasets, 0)
wait(lambda: window.images.size() == 1 and not window.busy, "images")
select(window.images, 0)
shot("xt-connector-browse.png")
window.load_button.invoke()
wait(lambda: window.status.get().startswith("Opened in Imaris"), "export")
shot("xt-connector-opened.png")
window.send_button.invoke()
wait(lambda: window.status.get().startswith("Imported into OMERO"), "upload")
shot("xt-connector-sent.png")
json.dump({"statuses": statuses, "images": window.images.get(0, "end")},
          open(os.path.join(out, "result.json"), "w"))
window.close_button.invoke()
'''


@pytest.mark.browser
def test_window_under_xvfb(live, tmp_path):
    url, image, _, _ = live
    host_port = url.split("://", 1)[1]
    settings_dir = tmp_path / "settings"
    core.save_settings({"host": host_port.split(":")[0], "port": int(host_port.split(":")[1]),
                        "https": False, "username": "alice",
                        "download_dir": str(tmp_path / "downloads")}, str(settings_dir))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    imaris_log = tmp_path / "imaris.jsonl"
    env = {**os.environ, "XT_DIR": str(XT_DIR), "FAKE_IMARIS": str(FAKE_IMARIS),
           "OUT": str(SCREENSHOTS), "SETTINGS": str(settings_dir),
           "FAKE_IMARIS_LOG": str(imaris_log), "TMPDIR": str(tmp_path)}
    run = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1100x600x24", sys.executable,
                          "-c", DRIVER], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((SCREENSHOTS / "result.json").read_text())
    (SCREENSHOTS / "result.json").unlink()
    assert result["images"] == ["sample 1.czi  (70x50x4x2x2)"]
    assert any(s.startswith("Connected to http://") for s in result["statuses"])
    assert "Exporting sample 1.czi…" in result["statuses"]
    assert any(s.startswith("export succeeded") for s in result["statuses"])
    assert any(s.startswith("Imported into OMERO: 1 image") for s in result["statuses"])
    calls = [json.loads(line) for line in imaris_log.read_text().splitlines()]
    assert [c[0] for c in calls] == ["FileOpen", "FileSave"]
    assert calls[0][1].endswith(".ims") and f"img_{image.id}" in calls[0][1]
    with db.transaction() as tx:
        (sent,) = tx.fetchall("SELECT j.state, f.relative_path FROM upload_jobs j"
                              " JOIN upload_files f ON f.job_id = j.id")
    assert sent["state"] == "done"
    assert sent["relative_path"].startswith("D1/")  # the selected dataset
    for name in ("xt-connector-browse.png", "xt-connector-opened.png", "xt-connector-sent.png"):
        assert (SCREENSHOTS / name).stat().st_size > 5000
    saved = json.loads((settings_dir / "settings.json").read_text())
    assert "password" not in saved and saved["username"] == "alice"
    assert list(tmp_path.glob("XTOmeroConnector_*.log"))  # the log file, in the temp dir


def test_the_extension_imports_only_the_standard_library():
    import ast

    allowed = set(sys.stdlib_module_names) | {"omero_xt_core", "ImarisLib"}
    for source in XT_DIR.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{source.name} imports {name}"
