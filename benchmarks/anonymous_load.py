"""Load benchmark of the anonymous routes (outside CI): 32 concurrent anonymous clients (wrk)
against a plugin's health/ and the login page, and an authenticated page measured alone and
while those 32 clients flood, through nginx (TLS) and gunicorn on this machine.

nginx runs the role's own site: roles/omero_web/templates/nginx-omero-web.conf.j2 rendered by
Ansible's template module with the role's defaults (security headers, rate limits, proxying),
only its listen lines moved to free loopback ports. gunicorn runs the plugins with the real
settings, PostgreSQL and Redis from the test harness. OMERO's login is REPLACED BY THE TEST
DOUBLE (every request is user "alice"), so the "authenticated page" (/omeroweb_upload/, its
login_required index) needs no OMERO.server; the login page is OMERO.web's real one.

Three configurations, each measured the same way:
  before  health/ checks PostgreSQL and Redis on every call (OMERO_PLUGINS_HEALTH_CACHE_SECONDS=0)
          and nginx does not limit (127.0.0.1 in omero_web_ratelimit_exempt): the issue's state
  cache   the 5 s health cache, still no limit: what the route itself costs now
  after   the role's defaults: a 5 s health cache and the per-address limits (excess: 429)
Run (needs nginx, openssl and wrk on PATH, and the controller's .venv from bin/setup-controller):

    .venv-plugins/bin/python -m pytest -c plugins/pytest.ini --rootdir=plugins \\
        -p omero_test_double.harness.fixtures benchmarks/anonymous_load.py -s

Environment: BENCH_SECONDS (default 10) per wrk run; BENCH_CONNECTIONS (default 32).
Prints per run: requests/s (all answers, and 2xx only), latency percentiles (50/90/99 %) and the
non-2xx count. wrk's numbers come from one client address, as a flood from one host would.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

# upload_gunicorn_local.py beside this file: its test-double WSGI app and its wait for gunicorn.
sys.path.insert(0, str(Path(__file__).parent))
from omero_test_double.harness.servers import free_port
from upload_gunicorn_local import WSGI, _wait_http

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "roles" / "omero_web" / "templates" / "nginx-omero-web.conf.j2"
ANSIBLE = ROOT / ".venv" / "bin" / "ansible"
HEALTH = "/omeroweb_upload/health/"
LOGIN = "/webclient/login/"
PAGE = "/omeroweb_upload/"
HTTP = textwrap.dedent("""
    {user}
    worker_processes auto;
    error_log {prefix}/error.log warn;
    pid {prefix}/nginx.pid;
    events {{ worker_connections 1024; }}
    http {{
        access_log off;
        client_body_temp_path {prefix}/body;
        proxy_temp_path {prefix}/proxy;
        fastcgi_temp_path {prefix}/fastcgi;
        uwsgi_temp_path {prefix}/uwsgi;
        scgi_temp_path {prefix}/scgi;
        include {site};
    }}
""")


def render_site(prefix, upstream, port, exempt):
    """The role's site template, rendered as Ansible renders it on a host."""
    overrides = {
        "omero_web_port": upstream, "omero_web_server_name": "localhost",
        "omero_web_ratelimit_exempt": exempt, "omero_web_login_logo": "",
        "__omero_web_certificate": str(prefix / "cert.pem"),
        "__omero_web_certificate_key": str(prefix / "key.pem"),
        "__omero_web_static": str(prefix / "static"), "omero_web_base_dir": str(prefix),
        "__omero_web_nginx_include_dir": str(prefix / "include"),
    }
    (prefix / "overrides.json").write_text(json.dumps(overrides))
    site = prefix / "site.conf"
    done = subprocess.run(
        [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.template",
         "-a", f"src={TEMPLATE} dest={site}",
         "-e", f"@{ROOT / 'roles/omero_web/defaults/main.yml'}",
         "-e", f"@{prefix / 'overrides.json'}", "-e", "ansible_python_interpreter=/usr/bin/python3"],
        capture_output=True, text=True, env={**os.environ, "ANSIBLE_LOCALHOST_WARNING": "false"})
    assert done.returncode == 0, done.stdout + done.stderr
    text = site.read_text()
    # Only the listen lines change: loopback ports instead of 80 and 443.
    text, plain = re.subn(r"listen (\[::\]:)?80;", lambda m: "" if m.group(1) else
                          f"listen 127.0.0.1:{free_port()};", text)
    text, tls = re.subn(r"listen (\[::\]:)?443 ssl http2;", lambda m: "" if m.group(1) else
                        f"listen 127.0.0.1:{port} ssl http2;", text)
    assert (plain, tls) == (2, 2), text
    site.write_text(text)
    return site


def start_nginx(prefix, upstream, exempt):
    prefix.mkdir()
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "include", "static"):
        (prefix / sub).mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(prefix / "key.pem"),
         "-out", str(prefix / "cert.pem")], check=True, capture_output=True)
    port = free_port()
    site = render_site(prefix, upstream, port, exempt)
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(HTTP.format(user=user, prefix=prefix, site=site))
    check = subprocess.run(["nginx", "-t", "-q", "-p", str(prefix), "-c",
                            str(prefix / "nginx.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                              "-g", "daemon off;"])
    return nginx, port


def start_gunicorn(tmp_path, upstream, cache_seconds):
    (tmp_path / "bench_wsgi.py").write_text(WSGI)
    workers = min(2 * os.cpu_count() + 1, 9)  # the role's default
    env = {**os.environ, "OMERO_PLUGINS_HEALTH_CACHE_SECONDS": str(cache_seconds),
           "OMERO_UPLOAD_DIR": str(tmp_path / "upload"),
           "DJANGO_SETTINGS_MODULE": "omero_test_double.harness.django_settings"}
    log = tmp_path / f"gunicorn-{upstream}.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--chdir", str(tmp_path), "-w", str(workers),
             "-b", f"127.0.0.1:{upstream}", "--timeout", "60", "bench_wsgi:application"],
            env=env, stdout=subprocess.DEVNULL, stderr=handle)
    return proc, log, workers


def wrk(port, path, connections, seconds):
    """Run wrk; returns its numbers as a dict."""
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "-H", "Host: localhost", f"https://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(non2xx.group(1)) if non2xx else 0
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: _ms(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1)) for p in (50, 90, 99)}
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rate": rate, "ok_rate": rate * (total - non2xx) / max(total, 1), "total": total,
            "non2xx": non2xx, "pct": pct, "errors": errors.group(1) if errors else ""}


def _ms(text):
    value = float(re.match(r"[\d.]+", text).group(0))
    return value * {"us": 0.001, "ms": 1, "s": 1000}[re.search(r"[a-z]+$", text).group(0)]


def line(label, r):
    return (f"  {label:<46} {r['rate']:9.1f} req/s ({r['ok_rate']:8.1f} 2xx/s)  "
            f"p50 {r['pct'][50]:7.1f} ms  p90 {r['pct'][90]:7.1f} ms  p99 {r['pct'][99]:7.1f} ms"
            f"  non-2xx {r['non2xx']}{'  socket errors: ' + r['errors'] if r['errors'] else ''}")


def measure(port, seconds, connections):
    results = {}
    for name, path in (("health/", HEALTH), ("login page", LOGIN), ("authenticated page", PAGE)):
        results[name] = wrk(port, path, connections, seconds)
        time.sleep(2)  # the rate limiter's buckets drain between runs
    # The authenticated page (8 clients) while 32 anonymous clients flood health/.
    flood = subprocess.Popen(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds + 2}s",
                              "-H", "Host: localhost", f"https://127.0.0.1:{port}{HEALTH}"],
                             stdout=subprocess.DEVNULL)
    time.sleep(1)
    results["authenticated page, 8 clients, health/ flooded"] = wrk(port, PAGE, 8, seconds)
    flood.wait()
    time.sleep(2)
    results["authenticated page, 8 clients, alone"] = wrk(port, PAGE, 8, seconds)
    return results


def test_anonymous_routes_under_load(plugin_services, tmp_path):
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    (tmp_path / "upload").mkdir()
    report = []
    for name, cache_seconds, exempt in (
            ("before (no health cache, no rate limit)", 0, ["127.0.0.1"]),
            ("health cache only (5 s, no rate limit: the route's own cost)", 5, ["127.0.0.1"]),
            ("after (the role's defaults: 5 s health cache, rate limits)", 5, [])):
        upstream = free_port()
        gunicorn, log, workers = start_gunicorn(tmp_path, upstream, cache_seconds)
        nginx = None
        try:
            _wait_http(lambda up=upstream: http.client.HTTPConnection("127.0.0.1", up, timeout=30),
                       log)
            nginx, port = start_nginx(tmp_path / f"nginx-{upstream}", upstream, exempt)
            time.sleep(1)
            # Warm-up: each worker loads the views on its first requests (not measured).
            wrk(port, PAGE, workers * 2, 2)
            wrk(port, LOGIN, workers * 2, 2)
            time.sleep(3)
            results = measure(port, seconds, connections)
        finally:
            if nginx:
                nginx.terminate()
                nginx.wait(30)
            gunicorn.terminate()
            gunicorn.wait(30)
        report.append(f"{name}; {workers} gunicorn workers, {connections} wrk connections, "
                      f"{seconds} s each:")
        report += [line(label, r) for label, r in results.items()]
    print("\n== anonymous load: login REPLACED BY THE TEST DOUBLE; wrk -> nginx (TLS, the role's "
          "site) -> gunicorn\n" + "\n".join(report)
          + f"\n  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
