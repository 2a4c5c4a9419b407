"""The platform split over four hosts: each tier where the inventory puts it, wired across the
lab network by platform.yml, tested through each web host's front door."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
import operator_view
from webhost import django_python, run_as_web, wait_until, worker_queues

PLUGINS = ["omero_plugin_common", "omeroweb_omp_plugin", "omeroweb_upload", "omeroweb_admin_tools",
           "omeroweb_imaris_connector"]
SERVER_NAME = "omero.split.test"
WEB_UNITS = ["omero-web", "nginx"]
DATA_UNITS = ["postgresql@15-omero", "postgresql@15-plugin", "redis-server@cache", "redis-server@state"]


def lab_host(name):
    return testinfra.get_host(f"ansible://{name}",
                              ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="module")
def db():
    return lab_host("split-db")


@pytest.fixture(scope="module")
def webs():
    return [lab_host("split-web1"), lab_host("split-web2")]


@pytest.fixture(scope="module")
def ops():
    return lab_host("split-ops")


# Declared by the OpenHCS plugin, but this layout places no OpenHCS host: no worker anywhere.
UNPLACED_QUEUES = ["openhcs", "openhcs_gpu"]


@pytest.fixture(scope="module")
def queues(ops):
    return [q for q in worker_queues(ops) if q not in UNPLACED_QUEUES]


def test_queues_without_an_openhcs_host_get_no_worker(webs, ops):
    for queue in UNPLACED_QUEUES:
        assert queue in worker_queues(ops)
        for h in [*webs, ops]:
            assert not h.service(f"omero-celery@{queue}").is_running, queue


def address_of(h):
    return h.interface("host0").addresses[0]


def front_door(h, path, *curl_args):
    """curl from the controller to one web host under the site's public name."""
    proc = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", *curl_args,
                           "--resolve", f"{SERVER_NAME}:443:{address_of(h)}",
                           f"https://{SERVER_NAME}{path}"], capture_output=True, text=True)
    return proc.stdout


def test_each_tier_runs_where_the_inventory_puts_it(db, webs, ops, queues):
    worker_units = [f"omero-celery@{q}" for q in queues]
    for unit in DATA_UNITS:
        assert db.service(unit).is_running, unit
    for web in webs:
        for unit in WEB_UNITS:
            assert web.service(unit).is_running and web.service(unit).is_enabled, unit
        for unit in worker_units:
            assert not web.service(unit).is_running, f"{unit} runs on a web host"
    for unit in [*worker_units, "prometheus"]:
        assert ops.service(unit).is_running and ops.service(unit).is_enabled, unit
    for unit in WEB_UNITS:
        assert not ops.service(unit).is_running, f"{unit} runs on the worker host"
    assert not ops.package("nginx").is_installed
    assert not ops.socket("tcp://0.0.0.0:80").is_listening


def test_data_services_listen_on_loopback_and_the_private_address_only(db):
    private = address_of(db)
    for port in (5432, 5433, 6379, 6380):
        assert db.socket(f"tcp://{private}:{port}").is_listening, port
        assert not db.socket(f"tcp://0.0.0.0:{port}").is_listening, port


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_web_host_serves_every_plugin(webs, plugin):
    for web in webs:
        body = front_door(web, f"/{plugin}/health/")
        assert json.loads(body)["status"] == "ok", (web.backend.hostname, body)


def test_login_page_on_both_web_hosts(webs):
    for web in webs:
        assert "OMERO.web - Login" in front_door(web, "/webclient/login/")


# Saves a session with a probe value (no argument) or prints the probe of session KEY;
# first line: the session engine and cache alias OMERO.web uses on that host.
SESSION_PROBE = """
import sys
from django.conf import settings
from django.contrib.sessions.backends.cache import SessionStore
print(settings.SESSION_ENGINE, settings.SESSION_CACHE_ALIAS)
if len(sys.argv) == 1:
    s = SessionStore()
    s["probe"] = "split"
    s.save()
    print(s.session_key)
else:
    print(SessionStore(session_key=sys.argv[1]).load().get("probe"))
"""


def session_probe(h, *args):
    return django_python(h, SESSION_PROBE, *args)[-2:]


def test_a_session_saved_on_one_web_host_is_read_on_the_other(webs):
    web1, web2 = webs
    engine, key = session_probe(web1)
    assert engine.endswith("cache sessions"), engine
    assert session_probe(web2, key)[-1] == "split"
    assert session_probe(web2, "no-such-session-key")[-1] == "None"


def test_a_job_from_a_web_host_runs_on_the_worker_host(webs, ops, queues):
    for queue in queues:
        out = run_as_web(webs[0], f"omero-plugins-jobs selftest --queue {queue} --steps 2 --timeout 90")
        assert out.rc == 0, out.stdout + out.stderr
        assert f"on queue {queue}: succeeded" in out.stdout
        log = ops.run(f"journalctl -u omero-celery@{queue} --no-pager -q -o cat -n 200").stdout
        assert "selftest" in log or "run_job" in log, log[-2000:]


def test_the_plugin_database_admits_only_the_plugin_hosts(db, webs, ops):
    hba = db.file("/etc/postgresql/15/plugin/pg_hba.conf").content_string
    remote = {f[3] for f in (line.split() for line in hba.splitlines())
              if len(f) > 3 and f[0] == "host" and f[3] not in ("127.0.0.1/32", "::1/128")}
    assert remote == {f"{address_of(h)}/32" for h in [*webs, ops]}
    # The controller is on the lab network but in no tier: the firewall drops it (and pg_hba
    # would refuse it).
    proc = subprocess.run(
        ["psql", "-w", f"host={address_of(db)} port=5433 user=omero_plugins dbname=omero_plugins "
         "connect_timeout=5", "-c", "select 1"],
        capture_output=True, text=True,
        env={**os.environ, "PGPASSWORD": "split-plugins-db-password-0001"})
    assert proc.returncode != 0, proc.stdout


def prometheus(ops, query_path):
    out = ops.run(f"curl -sS -g --max-time 10 'http://127.0.0.1:9090/api/v1/{query_path}'")
    return json.loads(out.stdout)["data"]


def test_prometheus_scrapes_every_host(ops):
    def all_up():
        targets = prometheus(ops, "targets?state=active")["activeTargets"]
        return targets and all(t["health"] == "up" for t in targets
                               if t["labels"]["job"] != "blackbox_tcp")

    assert wait_until(all_up, 90), prometheus(ops, "targets?state=active")
    targets = prometheus(ops, "targets?state=active")["activeTargets"]
    nodes = {t["labels"].get("host") for t in targets if t["labels"]["job"] == "node"}
    assert nodes == {"split-db", "split-web1", "split-web2", "split-ops"}


def test_probes_reach_both_web_hosts_and_the_data_tier(ops):
    absent = {"omero_server_4063", "omero_server_4064"}  # no OMERO.server in the lab

    def probes_ok():
        results = prometheus(ops, "query?query=probe_success")["result"]
        failing = [r["metric"] for r in results
                   if r["value"][1] != "1" and r["metric"].get("probe") not in absent]
        return results and not failing

    assert wait_until(probes_ok, 90), prometheus(ops, "query?query=probe_success")
    results = prometheus(ops, 'query?query=probe_success{probe="omero_web_login"}')["result"]
    assert len(results) == 2


def test_every_host_is_healthy_as_an_operator_sees_it(db, webs, ops):
    hosts = {"split-db": db, "split-web1": webs[0], "split-web2": webs[1], "split-ops": ops}
    found = operator_view.problems(hosts, prometheus_host="split-ops")
    assert not found, "\n\n".join(found)
