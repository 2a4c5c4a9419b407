"""Local upload benchmark (outside CI): a file through nginx (TLS) and gunicorn into the upload
plugin, on this machine's disk, compared with dd's sequential write speed of the same folder.

OMERO's login is REPLACED BY THE TEST DOUBLE here (every request is user "alice" of a
FakeOmero); everything else is real: nginx configured like roles/omero_web's site (TLS with a
self-signed certificate, HTTP/2 offered, client_max_body_size 0, proxy_request_buffering off,
proxy_buffering on, the role's timeouts), gunicorn sync workers (the role's count: 2 x cores + 1,
at most 9), PostgreSQL and Redis from the test harness. The real benchmark, with a real login, is
upload_throughput.sh on a deployed host. Run (needs nginx and openssl on PATH):

    .venv-plugins/bin/python -m pytest -c plugins/pytest.ini --rootdir=plugins \
        -p omero_test_double.harness.fixtures benchmarks/upload_gunicorn_local.py -s

Environment: BENCH_MIB (default 1024) file size; BENCH_RUNS (default 3) uploads, best kept;
BENCH_DIR (default /work) where the upload folder and dd's file go; BENCH_CHUNK_MIB (default
32, the plugin's default); BENCH_PROTOCOL "prefix" (default: X-Prefix-Sha256, one hash pass)
or "chunk" (X-Chunk-Sha256 per chunk and the whole file re-read at the end, as older clients);
BENCH_NGINX=0 talks to gunicorn directly; BENCH_CLIENT=shell runs upload_throughput.sh (curl)
against this nginx instead, its login skipped (SKIP_LOGIN=1; curl speaks HTTP/2 to nginx unless
BENCH_CURL_OPTS=--http1.1); BENCH_NGINX_EXTRA adds directives to the proxied location (to
try a setting before the role takes it); BENCH_PROFILE=DIR writes each
gunicorn worker's cProfile statistics there (slower: for where the time goes, not the numbers).
Prints: dd's write speed (best of the runs), upload MiB/s and its ratio, the gunicorn
processes' RSS before and at peak, and the CPU seconds of nginx, gunicorn and the client.
"""

import hashlib
import http.client
import json
import os
import pwd
import shutil
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from omero_test_double.harness.servers import free_port

MIB = 1024 * 1024
TICK = os.sysconf("SC_CLK_TCK")
WSGI = textwrap.dedent('''
    from omero_test_double import FakeOmero
    from omeroweb.decorators import login_required

    omero = FakeOmero()
    omero.add_user("alice", [omero.add_group("lab", "read-annotate")])
    login_required.get_connection = lambda self, server_id, request: omero.connect("alice")

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
''')
PROFILE = textwrap.dedent('''
    import cProfile, os, time

    def post_fork(server, worker):
        worker.profile = cProfile.Profile(time.process_time)
        worker.profile.enable()

    def worker_exit(server, worker):
        worker.profile.disable()
        worker.profile.dump_stats(os.path.join("{out}", f"worker-{{os.getpid()}}.prof"))
''')
NGINX = textwrap.dedent('''
    {user}
    worker_processes auto;
    error_log {prefix}/error.log warn;
    pid {prefix}/nginx.pid;
    events {{ worker_connections 256; }}
    http {{
        access_log off;
        client_body_temp_path {prefix}/body;
        proxy_temp_path {prefix}/proxy;
        fastcgi_temp_path {prefix}/fastcgi;
        uwsgi_temp_path {prefix}/uwsgi;
        scgi_temp_path {prefix}/scgi;
        upstream omero_web {{ server 127.0.0.1:{upstream} fail_timeout=0; }}
        server {{
            listen 127.0.0.1:{port} ssl http2;
            server_name localhost;
            ssl_certificate {prefix}/cert.pem;
            ssl_certificate_key {prefix}/key.pem;
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_prefer_server_ciphers off;
            ssl_session_cache shared:omero_web:10m;
            ssl_session_timeout 1d;
            server_tokens off;
            client_max_body_size 0;
            sendfile on;
            location / {{
                proxy_pass http://omero_web;
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                proxy_set_header X-Forwarded-Proto https;
                proxy_set_header X-Forwarded-Host $host;
                proxy_redirect off;
                proxy_read_timeout 300;
                proxy_send_timeout 300;
                proxy_request_buffering off;
                proxy_buffering on;
                {extra}
            }}
        }}
    }}
''')


def _children(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


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


def _dd_speed(folder, size):
    seq = folder / "seq"
    began = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", f"of={seq}", f"bs={8 * MIB}",
                    f"count={size // (8 * MIB)}", "conv=fdatasync", "status=none"], check=True)
    speed = size / MIB / (time.monotonic() - began)
    seq.unlink()
    return speed


def _wait_http(connect, log):
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = connect()
            conn.request("GET", "/omeroweb_upload/health/")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return conn
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def _start_nginx(prefix, upstream):
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost", "-keyout", str(prefix / "key.pem"),
         "-out", str(prefix / "cert.pem")], check=True, capture_output=True)
    port = free_port()
    # As root nginx would hand its workers to "nobody"; keep them as whoever runs this.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(NGINX.format(
        user=user, prefix=prefix, port=port, upstream=upstream,
        extra=os.environ.get("BENCH_NGINX_EXTRA", "")))
    nginx = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                              "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    return nginx, port


def test_upload_throughput_through_nginx_and_gunicorn(plugin_services, tmp_path):
    size = int(os.environ.get("BENCH_MIB", "1024")) * MIB
    upload_dir = Path(os.environ.get("BENCH_DIR", "/work")) / f".upload-bench-{os.getpid()}"
    upload_dir.mkdir()
    try:
        _run(size, upload_dir, tmp_path)
    finally:
        shutil.rmtree(upload_dir, ignore_errors=True)


def _run(size, upload_dir, tmp_path):
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    chunk = int(os.environ.get("BENCH_CHUNK_MIB", "32")) * MIB
    protocol = os.environ.get("BENCH_PROTOCOL", "prefix")
    use_nginx = os.environ.get("BENCH_NGINX", "1") != "0"
    assert protocol in ("prefix", "chunk")
    data_path = tmp_path / "data"
    file_sha = hashlib.sha256()
    with open(data_path, "wb") as out:
        for _ in range(size // MIB):
            block = os.urandom(MIB)
            file_sha.update(block)
            out.write(block)

    (tmp_path / "bench_wsgi.py").write_text(WSGI)
    upstream = free_port()
    workers = min(2 * os.cpu_count() + 1, 9)
    env = {**os.environ, "OMERO_UPLOAD_DIR": str(upload_dir), "OMERO_UPLOAD_MIN_FREE_BYTES": "0",
           "OMERO_UPLOAD_CHUNK_BYTES": str(max(chunk, 8 * MIB)),
           "DJANGO_SETTINGS_MODULE": "omero_test_double.harness.django_settings"}
    log = tmp_path / "gunicorn.log"
    profile = []
    if os.environ.get("BENCH_PROFILE"):  # cProfile in each worker, dumped when it stops
        (tmp_path / "profile_conf.py").write_text(PROFILE.format(out=os.environ["BENCH_PROFILE"]))
        profile = ["-c", str(tmp_path / "profile_conf.py")]
    with open(log, "wb") as handle:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *profile, "--chdir", str(tmp_path), "-w",
             str(workers), "-b", f"127.0.0.1:{upstream}", "--timeout", "300",
             "bench_wsgi:application"], env=env, stdout=subprocess.DEVNULL, stderr=handle)
    nginx = None
    try:
        if use_nginx:
            prefix = tmp_path / "nginx"
            prefix.mkdir()
            nginx, port = _start_nginx(prefix, upstream)
            context = ssl.create_default_context(cafile=str(prefix / "cert.pem"))
            conn = _wait_http(lambda: http.client.HTTPSConnection(
                "localhost", port, timeout=300, context=context), prefix / "error.log")
        else:
            conn = _wait_http(lambda: http.client.HTTPConnection(
                "127.0.0.1", upstream, timeout=300), log)
        # Warm-up: every worker loads the plugin's views on its first requests, not timed.
        warm = tmp_path / "warm"
        warm.write_bytes(os.urandom(MIB))
        for _ in range(2):
            _upload(conn, MIB, 64 * 1024, protocol, hashlib.sha256(warm.read_bytes()).hexdigest(),
                    warm, [], [])
        time.sleep(1)
        gunicorn_pids = [gunicorn.pid, *_children(gunicorn.pid)]
        nginx_pids = [nginx.pid, *_children(nginx.pid)] if nginx else []
        if os.environ.get("BENCH_CLIENT") == "shell":
            return _run_shell(port, prefix, upload_dir, size, chunk, protocol, runs,
                              gunicorn_pids, nginx_pids)
        results = []
        for run in range(runs):
            disk = _dd_speed(upload_dir, size)
            results.append((disk, *_upload(conn, size, chunk, protocol, file_sha.hexdigest(),
                                           data_path, gunicorn_pids, nginx_pids)))
            print(f"\nrun {run + 1}: dd {disk:.1f} MiB/s, upload {results[-1][1]:.1f} MiB/s",
                  flush=True)
            for job in upload_dir.iterdir():
                if job.is_dir():
                    shutil.rmtree(job)
    finally:
        gunicorn.terminate()
        if nginx:
            nginx.terminate()
            nginx.wait(30)
        gunicorn.wait(30)
    disk = max(r[0] for r in results)
    disk_run, upload, before, peak, cpu = max(results, key=lambda r: r[1])
    where = "nginx (TLS, HTTP/1.1 client) -> gunicorn" if use_nginx else "gunicorn directly"
    print(textwrap.dedent(f"""
        == upload benchmark: login REPLACED BY THE TEST DOUBLE; {where}; {workers} sync workers
        file {size // MIB} MiB in {chunk // MIB} MiB chunks, protocol {protocol}, best of {runs}
        disk sequential write (dd conv=fdatasync, {upload_dir.parent}): best {disk:.1f} MiB/s
            (all runs: {', '.join(f'{r[0]:.0f}' for r in results)})
        upload: best {upload:.1f} MiB/s = {100 * upload / disk:.0f}% of the best dd
            ({100 * upload / disk_run:.0f}% of the dd just before it; all runs:
            {', '.join(f'{r[1]:.0f}' for r in results)}); needs >= 70%
        gunicorn RSS (master + workers): {before // 1024} MB before, {peak // 1024} MB peak,
            +{(peak - before) // 1024} MB; needs < 100 MB
        CPU seconds in the best run: nginx {cpu['nginx']:.1f}, gunicorn {cpu['gunicorn']:.1f},
            client {cpu['client']:.1f} (per GiB: {cpu['per_gib']:.2f} total)
        load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"""))


def _run_shell(port, prefix, upload_dir, size, chunk, protocol, runs, gunicorn_pids,
               nginx_pids):
    """upload_throughput.sh (curl, digests computed before the timed part) against this nginx,
    its login skipped: the test double stands in for it here."""
    script = Path(__file__).with_name("upload_throughput.sh")
    env = {**os.environ, "SKIP_LOGIN": "1", "UPLOAD_DIR": str(upload_dir),
           # https://localhost as on a host at port 443 (Django compares the Referer with it)
           "CURL_OPTS": f"--cacert {prefix / 'cert.pem'} "
                        f"--connect-to localhost:443:localhost:{port} "
                        + os.environ.get("BENCH_CURL_OPTS", ""),
           "CHUNK_MIB": str(chunk // MIB),
           "PROTOCOL": protocol}
    for run in range(runs):
        before = (_cpu_seconds(nginx_pids), _cpu_seconds(gunicorn_pids))
        done = subprocess.run(["bash", str(script), "https://localhost", "alice",
                               str(size // MIB)], env=env, capture_output=True, text=True)
        print(f"\n== run {run + 1}: upload_throughput.sh, login REPLACED BY THE TEST DOUBLE "
              f"(SKIP_LOGIN=1), exit {done.returncode}\n{done.stdout}{done.stderr}"
              f"CPU seconds: nginx {_cpu_seconds(nginx_pids) - before[0]:.1f}, gunicorn "
              f"{_cpu_seconds(gunicorn_pids) - before[1]:.1f} (curl and dd not counted)",
              flush=True)
        assert "file state uploaded" in done.stdout, done.stdout + done.stderr


def _upload(conn, size, chunk, protocol, sha, data_path, gunicorn_pids, nginx_pids):
    headers = {"Cookie": "csrftoken=" + "a" * 32, "X-CSRFToken": "a" * 32,
               "Referer": "https://localhost/omeroweb_upload/"}
    body = json.dumps({"files": [{"relative_path": "bench.bin", "size": size, "sha256": sha}],
                       "compatibility_enabled": False})
    conn.request("POST", "/omeroweb_upload/start/", body,
                 {**headers, "Content-Type": "application/json"})
    response = conn.getresponse()
    job = json.loads(response.read())
    assert response.status == 201, job
    before = _rss_kb(gunicorn_pids)
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.2):
            peak.append(_rss_kb(gunicorn_pids))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = (_cpu_seconds(nginx_pids), _cpu_seconds(gunicorn_pids), time.thread_time())
    began = time.monotonic()
    running = hashlib.sha256()
    with open(data_path, "rb") as src:
        offset = 0
        while offset < size:
            block = src.read(chunk)
            sent = {**headers, "Content-Type": "application/octet-stream"}
            if protocol == "prefix":
                running.update(block)
                sent["X-Prefix-Sha256"] = running.copy().hexdigest()
            else:
                sent["X-Chunk-Sha256"] = hashlib.sha256(block).hexdigest()
            conn.request("POST", f"/omeroweb_upload/upload/{job['id']}/0/?offset={offset}",
                         block, sent)
            response = conn.getresponse()
            result = json.loads(response.read())
            assert response.status == 200, result
            offset += len(block)
    elapsed = time.monotonic() - began
    cpu = {"nginx": _cpu_seconds(nginx_pids) - cpu_before[0],
           "gunicorn": _cpu_seconds(gunicorn_pids) - cpu_before[1],
           "client": time.thread_time() - cpu_before[2]}
    cpu["per_gib"] = sum(cpu.values()) * 1024 * MIB / size
    stop.set()
    sampler.join()
    assert result["state"] == "uploaded", result
    return size / MIB / elapsed, before, max(peak), cpu
