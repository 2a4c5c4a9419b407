"""Local approximation of the upload benchmark (outside CI): gunicorn without nginx, OMERO's
login replaced by the test double, on the controller's disk. The real benchmark is
upload_throughput.sh on a deployed host. Run:

    .venv-plugins/bin/python -m pytest -c plugins/pytest.ini --rootdir=plugins \
        -p omero_plugin_common.testing.fixtures benchmarks/upload_gunicorn_local.py -s

BENCH_MIB (default 1024) sets the file size. Prints the disk's sequential write speed, the
upload throughput (8 MiB chunks, one request each, SHA-256 per chunk and for the file) and the
gunicorn workers' memory before and at peak.
"""

import hashlib
import http.client
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from omero_plugin_common.testing.services import free_port

MIB = 1024 * 1024
CHUNK = 8 * MIB
WSGI = textwrap.dedent('''
    from omero_test_double import FakeOmero
    from omeroweb.decorators import login_required

    omero = FakeOmero()
    omero.add_user("alice", [omero.add_group("lab", "read-annotate")])
    login_required.get_connection = lambda self, server_id, request: omero.connect("alice")

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
''')


def _rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def _gunicorn_pids(master):
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def test_upload_throughput_through_gunicorn(plugin_services, tmp_path):
    size = int(os.environ.get("BENCH_MIB", "1024")) * MIB
    upload_dir = Path(os.environ.get("BENCH_DIR", "/work")) / f".upload-bench-{os.getpid()}"
    upload_dir.mkdir()
    try:
        _run(size, upload_dir, tmp_path)
    finally:
        subprocess.run(["rm", "-rf", str(upload_dir)], check=False)


def _run(size, upload_dir, tmp_path):
    seq = upload_dir / "seq"
    began = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", f"of={seq}", f"bs={CHUNK}", f"count={size // CHUNK}",
                    "conv=fdatasync", "status=none"], check=True)
    disk = size / MIB / (time.monotonic() - began)
    seq.unlink()
    data_path = tmp_path / "data"
    with open(data_path, "wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
    file_sha = hashlib.sha256()
    chunk_shas = []
    with open(data_path, "rb") as src:
        while block := src.read(CHUNK):
            file_sha.update(block)
            chunk_shas.append(hashlib.sha256(block).hexdigest())

    (tmp_path / "bench_wsgi.py").write_text(WSGI)
    port = free_port()
    env = {**os.environ, "OMERO_UPLOAD_DIR": str(upload_dir), "OMERO_UPLOAD_MIN_FREE_BYTES": "0",
           "DJANGO_SETTINGS_MODULE": "omero_plugin_common.testing.django_settings"}
    with open(tmp_path / "gunicorn.log", "wb") as log:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--chdir", str(tmp_path), "-w", "2", "-b",
             f"127.0.0.1:{port}", "--timeout", "300", "bench_wsgi:application"],
            env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                conn.request("GET", "/omeroweb_upload/health/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.5)
        headers = {"Cookie": "csrftoken=" + "a" * 32, "X-CSRFToken": "a" * 32}
        body = json.dumps({"files": [{"relative_path": "bench.bin", "size": size,
                                      "sha256": file_sha.hexdigest()}],
                           "compatibility_enabled": False})
        conn.request("POST", "/omeroweb_upload/start/", body,
                     {**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        job = json.loads(response.read())
        assert response.status == 201, job
        time.sleep(1)
        pids = _gunicorn_pids(gunicorn.pid)
        before = _rss_kb(pids)
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.2):
                peak.append(_rss_kb(pids))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.monotonic()
        with open(data_path, "rb") as src:
            for index, sha in enumerate(chunk_shas):
                block = src.read(CHUNK)
                conn.request("POST", f"/omeroweb_upload/upload/{job['id']}/0/?offset="
                             f"{index * CHUNK}", block,
                             {**headers, "Content-Type": "application/octet-stream",
                              "X-Chunk-Sha256": sha})
                response = conn.getresponse()
                result = json.loads(response.read())
                assert response.status == 200, result
        elapsed = time.monotonic() - began
        stop.set()
        sampler.join()
        assert result["state"] == "uploaded"
        upload = size / MIB / elapsed
        print(f"\ndisk sequential write: {disk:.1f} MiB/s; upload through gunicorn: "
              f"{upload:.1f} MiB/s ({100 * upload / disk:.0f}% of the disk) for "
              f"{size // MIB} MiB in {len(chunk_shas)} chunks; gunicorn RSS "
              f"{before // 1024} MB before, {max(peak) // 1024} MB peak "
              f"(+{(max(peak) - before) // 1024} MB)")
    finally:
        gunicorn.terminate()
        gunicorn.wait(30)
