"""Fixtures of the upload tests: an upload folder, users, CSRF-checking clients, and the
stand-in `omero` executable."""

from __future__ import annotations

import hashlib
import json
import os
import socketserver
import sys
import threading
from pathlib import Path

import pytest
from django.test import Client

HERE = Path(__file__).resolve().parent


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    from omero_plugin_common import db
    from omeroweb_upload.config import upload_settings

    with db.transaction() as tx:  # the harness database lives for the whole session
        tx.execute("DELETE FROM upload_jobs")
        tx.execute("DELETE FROM upload_user_settings")
        tx.execute("DELETE FROM upload_special_method_settings")
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setenv("OMERO_UPLOAD_DIR", str(folder))
    monkeypatch.setenv("OMERO_UPLOAD_MIN_FREE_BYTES", "0")
    monkeypatch.setenv("OMERO_UPLOAD_CHUNK_BYTES", "65536")
    upload_settings.cache_clear()
    yield folder
    upload_settings.cache_clear()


@pytest.fixture
def world(fake_omero):
    lab = fake_omero.add_group("lab", "read-annotate")
    alice = fake_omero.add_user("alice", [lab])
    bob = fake_omero.add_user("bob", [lab])
    project = fake_omero.add_project("P1", owner=alice, group=lab)
    return {"lab": lab, "alice": alice, "bob": bob, "project": project, "omero": fake_omero}


class Session:
    """A CSRF-enforcing client logged in as one user (OMERO.web's login_required patched to
    hand views that user's fake connection)."""

    def __init__(self, omero, monkeypatch, name):
        from omeroweb.decorators import login_required

        self.client = Client(enforce_csrf_checks=True)
        self.name = name
        self.conn = omero.connect(name) if name else None
        self._patch = (login_required, monkeypatch)
        self.client.cookies["csrftoken"] = "a" * 32
        self.headers = {"HTTP_X_CSRFTOKEN": "a" * 32}

    def use(self):
        login_required, monkeypatch = self._patch
        conn = self.conn
        monkeypatch.setattr(login_required, "get_connection",
                            lambda self, server_id, request: conn)
        return self

    def get(self, url):
        return self.use().client.get(url)

    def post_json(self, url, body=None, csrf=True):
        headers = self.headers if csrf else {}
        data = body if isinstance(body, (str, bytes)) else json.dumps(body or {})
        return self.use().client.post(url, data, content_type="application/json", **headers)

    def chunk(self, job, index, offset, data, sha=None, file_sha=None, csrf=True, prefix=None):
        """X-Chunk-Sha256 (sha, by default the data's), or X-Prefix-Sha256 when prefix is
        given (the digest of the file up to the end of this chunk)."""
        headers = dict(self.headers) if csrf else {}
        if prefix:
            headers["HTTP_X_PREFIX_SHA256"] = prefix
        else:
            headers["HTTP_X_CHUNK_SHA256"] = sha or hashlib.sha256(data).hexdigest()
        if file_sha:
            headers["HTTP_X_FILE_SHA256"] = file_sha
        return self.use().client.post(f"/omeroweb_upload/upload/{job}/{index}/?offset={offset}",
                                      data, content_type="application/octet-stream", **headers)


@pytest.fixture
def session_for(fake_omero, monkeypatch):
    def make(name):
        return Session(fake_omero, monkeypatch, name)
    return make


# -- the stand-in `omero` executable ---------------------------------------------------------


class FakeImportServer(socketserver.ThreadingUnixStreamServer):
    """Lets the stand-in `omero` (a subprocess) create images in this process's FakeOmero,
    as the user whose session key it was given, the way a real import creates them."""

    def __init__(self, path, omero):
        self.omero = omero
        self.requests_seen = []
        super().__init__(path, _Handler)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        request = json.loads(self.rfile.readline())
        omero = self.server.omero
        self.server.requests_seen.append(request)
        with omero.lock:
            session = omero.sessions.get(request["session"])
            if session is None or session.closed:
                reply = {"error": "SessionException: no such session"}
            else:
                dataset = omero.records.get(request["dataset"]) if request["dataset"] else None
                ids = [omero.add_image(f"{request['name']}{suffix}", owner=session.user,
                                       group=session.group, dataset=dataset).id
                       for suffix in request["series"]]
                reply = {"images": ids}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


@pytest.fixture
def standin_omero(tmp_path, monkeypatch, fake_omero):
    """The stand-in executable as OMERO_UPLOAD_OMERO_BIN, wired to fake_omero."""
    from omeroweb_upload.config import upload_settings

    executable = tmp_path / "omero"
    script = str(HERE / "standin_omero.py")
    executable.write_text(f"#!{sys.executable}\nimport runpy\n"
                          f"runpy.run_path({script!r}, run_name='__main__')\n")
    executable.chmod(0o755)
    sock = str(tmp_path / "fake-import.sock")
    server = FakeImportServer(sock, fake_omero)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OMERO_UPLOAD_OMERO_BIN", str(executable))
    monkeypatch.setenv("STANDIN_OMERO_SOCKET", sock)
    monkeypatch.setenv("STANDIN_OMERO_ARGV_LOG", str(tmp_path / "argv.log"))
    upload_settings.cache_clear()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        upload_settings.cache_clear()
        os.environ.pop("STANDIN_OMERO_SOCKET", None)
