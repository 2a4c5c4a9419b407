"""Prometheus, Alertmanager and the exporters on a real host, checked through Prometheus' API.

Services that cannot run in this scenario (OMERO.server, OMERO.web and its plugins, Grafana,
Loki, Alloy) have their targets and probes configured; the tests list them as not checked."""

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[5]
sys.path.insert(0, str(ROOT / "files/prometheus"))
import promql_checks  # noqa: E402

PROM = "http://127.0.0.1:9090"
# Jobs and probes of services present on this host: they must be up and succeed.
PRESENT_JOBS = {"prometheus", "alertmanager", "node", "postgres", "redis", "blackbox", "blackbox_http", "blackbox_tcp"}
ABSENT_JOBS = {"grafana": "Grafana", "loki": "Loki", "alloy": "Alloy"}
PRESENT_PROBES = {"prometheus", "postgres_omero", "postgres_plugin", "redis_cache", "redis_state"}
ABSENT_PROBES = {
    "omero_web_login": "OMERO.web", "omp_plugin_health": "OMERO.web plugins", "upload_health": "OMERO.web plugins",
    "imaris_connector_health": "OMERO.web plugins", "admin_tools_health": "OMERO.web plugins",
    "grafana": "Grafana", "loki": "Loki", "omero_server_4063": "OMERO.server", "omero_server_4064": "OMERO.server",
}


def api(host, path, **params):
    args = " ".join(f"--data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in params.items())
    out = host.run(f"curl -sfG {args} {PROM}{path}")
    assert out.rc == 0, f"{path} {params}: {out.stderr}"
    body = json.loads(out.stdout)
    assert body["status"] == "success", body
    return body["data"]


def query(host, expr):
    return api(host, "/api/v1/query", query=expr)["result"]


def wait_for(host, expr, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = query(host, expr)
        if result:
            return result
        time.sleep(2)
    raise AssertionError(f"no series for {expr} after {timeout}s")


@pytest.fixture(scope="module")
def workload(host):
    """A few jobs waiting in a Celery queue and a cached key, so queue and key panels have data."""
    host.run("redis-cli -p 6380 del upload && redis-cli -p 6380 lpush upload job1 job2 job3")
    host.run("redis-cli -p 6379 set oae-test-key 1")
    wait_for(host, 'redis_key_size{redis="state", key="upload"} == 3')
    yield
    host.run("redis-cli -p 6380 del upload; redis-cli -p 6379 del oae-test-key")


def test_no_failed_units(host):
    out = host.run("systemctl is-system-running --wait")
    assert out.stdout.strip() == "running", host.run("systemctl --failed --no-legend").stdout


def test_config_and_rules_are_valid(host):
    assert host.run("promtool check config /etc/prometheus/prometheus.yml").rc == 0
    tests = host.run("promtool test rules /usr/local/share/omero-prometheus/rules/tests/*.test.yml")
    assert tests.rc == 0 and "SUCCESS" in tests.stdout, tests.stdout + tests.stderr
    assert host.run("amtool check-config /etc/prometheus/alertmanager.yml").rc == 0


def test_a_failing_rule_test_is_detected(host):
    # The role refuses rules whose tests fail: make sure promtool really fails on a wrong expectation.
    broken = host.run(
        "d=$(mktemp -d) && cp /usr/local/share/omero-prometheus/rules/omero.rules.yml $d/ && mkdir $d/tests && "
        "sed 's/summary: \"redis target db1:9121 is down\"/summary: wrong/' "
        "/usr/local/share/omero-prometheus/rules/tests/omero.rules.test.yml > $d/tests/t.yml && "
        "promtool test rules $d/tests/t.yml; rc=$?; rm -rf $d; exit $rc"
    )
    assert broken.rc != 0 and "FAILED" in broken.stdout + broken.stderr


def test_listeners_are_loopback_only(host):
    ports = {9090, 9093, 9100, 9115, 9121, 9122, 9187, 9188}
    listening = {}
    for line in host.run("ss -Htln").stdout.splitlines():
        local = line.split()[3]
        addr, _, port = local.rpartition(":")
        if int(port) in ports | {9094}:
            listening[int(port)] = addr
    assert set(listening) == ports, f"expected {sorted(ports)}, got {listening} (9094 = gossip, must be off)"
    assert all(addr == "127.0.0.1" for addr in listening.values()), listening


def test_retention_flags(host):
    flags = api(host, "/api/v1/status/flags")
    assert flags["storage.tsdb.retention.time"] == "2d"
    # Prometheus reads MB as 2^20 bytes and shows it as MiB.
    assert flags["storage.tsdb.retention.size"] == "512MiB"


def test_every_target_of_a_present_service_is_up(host):
    targets = wait_for(host, 'count(up{job="redis"}) == 2') and api(host, "/api/v1/targets")["activeTargets"]
    jobs = {t["labels"]["job"] for t in targets}
    assert jobs == PRESENT_JOBS | ABSENT_JOBS.keys()
    deadline = time.time() + 60
    while True:
        targets = api(host, "/api/v1/targets")["activeTargets"]
        down = [(t["labels"]["job"], t["scrapeUrl"], t["lastError"]) for t in targets
                if t["labels"]["job"] in PRESENT_JOBS and t["health"] != "up"]
        if not down or time.time() > deadline:
            break
        time.sleep(3)
    assert not down
    present = [t for t in targets if t["labels"]["job"] in PRESENT_JOBS]
    absent = sorted({(t["labels"]["job"], t["scrapeUrl"]) for t in targets if t["labels"]["job"] in ABSENT_JOBS})
    print(f"\n{len(present)} targets of present services up; not checked (service absent here):")
    for job, url in absent:
        print(f"  {job:14} {url}  ({ABSENT_JOBS[job]} cannot run in this scenario)")
    # Labels come from the variables: both clusters and both Redis instances.
    assert {t["labels"].get("cluster") for t in present if t["labels"]["job"] == "postgres"} == {"omero", "plugin"}
    assert {t["labels"].get("redis") for t in present if t["labels"]["job"] == "redis"} == {"cache", "state"}


def test_probes_of_present_services_succeed(host):
    results = {}
    deadline = time.time() + 60
    while time.time() < deadline:
        results = {r["metric"]["probe"]: r["value"][1] for r in query(host, "probe_success")}
        if set(results) == PRESENT_PROBES | ABSENT_PROBES.keys() and all(results[p] == "1" for p in PRESENT_PROBES):
            break
        time.sleep(3)
    assert set(results) == PRESENT_PROBES | ABSENT_PROBES.keys(), results
    assert {p: results[p] for p in PRESENT_PROBES} == dict.fromkeys(PRESENT_PROBES, "1")
    print(f"\n{len(PRESENT_PROBES)} probes succeed; configured but not checked (service absent here):")
    for probe, service in sorted(ABSENT_PROBES.items()):
        print(f"  {probe:24} {service}  (probe_success={results[probe]})")


def test_exporters_report_real_state(host):
    # The clusters and instances are really reached, not just the exporters' own endpoints.
    assert {r["metric"]["cluster"] for r in query(host, "pg_up == 1")} == {"omero", "plugin"}
    assert {r["metric"]["redis"] for r in query(host, "redis_up == 1")} == {"cache", "state"}
    state = query(host, 'redis_memory_max_bytes{redis="state"}')
    assert state and float(state[0]["value"][1]) == 64 * 1024 * 1024


def test_monitoring_role_is_least_privilege(host):
    role = host.run(
        "sudo -u postgres psql -p 5433 -Atc \"select rolsuper, rolcreaterole, rolcreatedb, "
        "(select string_agg(b.rolname, ',') from pg_auth_members m join pg_roles b on b.oid = m.roleid "
        "where m.member = r.oid) from pg_roles r where rolname = 'prometheus'\""
    )
    assert role.stdout.strip() == "f|f|f|pg_monitor", role.stdout + role.stderr
    host.run("sudo -u postgres psql -p 5433 -c 'create table if not exists secret (v text)'")
    denied = host.run("sudo -u prometheus psql -p 5433 -d postgres -c 'select * from secret'")
    assert denied.rc != 0 and "permission denied" in denied.stderr


def test_dsn_and_password_files_are_private(host):
    for path in ["/etc/prometheus/postgres-exporter/omero.env", "/etc/prometheus/postgres-exporter/plugin.env",
                 "/etc/prometheus/redis-exporter/cache.env", "/etc/prometheus/redis-exporter/state.env"]:
        f = host.file(path)
        assert f.mode == 0o600 and f.user == "root", path
    assert host.file("/etc/prometheus/postgres-exporter").mode == 0o700


def test_path_usage_timer_reports_each_path(host):
    assert host.service("omero-host-metrics.timer").is_running
    ratios = {r["metric"]["kind"]: float(r["value"][1]) for r in wait_for(host, "omero_path_used_ratio")}
    assert set(ratios) == {"omero_data", "database", "plugin_database"}
    assert all(0 < v < 1 for v in ratios.values()), ratios
    assert query(host, 'omero_path_present{kind="missing"} == 0')
    # The timer rewrites the file: its mtime moves.
    first = float(query(host, 'node_textfile_mtime_seconds{file=~".*/omero_path_usage.prom"}')[0]["value"][1])
    wait_for(host, f'node_textfile_mtime_seconds{{file=~".*/omero_path_usage.prom"}} > {first}', timeout=90)


def test_per_unit_cpu_and_memory(host):
    units = {r["metric"]["unit"] for r in wait_for(host, "omero_unit_memory_bytes > 0")}
    assert {"prometheus.service", "postgresql@15-omero.service", "redis-server@state.service"} <= units


def test_units_are_sandboxed(host):
    units = ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-blackbox-exporter",
             "prometheus-postgres-exporter@omero", "prometheus-redis-exporter@cache", "omero-host-metrics"]
    names = " ".join(f"{u}.service" for u in units)
    verify = host.run(f"systemd-analyze verify --man=no {names} omero-host-metrics.timer")
    assert verify.rc == 0 and not verify.stderr.strip(), verify.stderr
    for unit in units:
        out = host.run(f"systemd-analyze security {unit}.service").stdout.strip().splitlines()[-1]
        score = float(out.split("level for")[1].split(":")[1].split()[0])
        assert score <= 3.0, out


def test_rules_are_loaded_and_evaluated(host):
    groups = api(host, "/api/v1/rules")["groups"]
    alerts = [r for g in groups for r in g["rules"] if r["type"] == "alerting"]
    assert len(alerts) == len(promql_checks.load_rules())
    unhealthy = [(r["name"], r.get("lastError")) for r in alerts if r["health"] != "ok"]
    assert not unhealthy
    # Grafana is absent here: its target is down, so TargetDown is pending (it fires after 5 minutes).
    wait_for(host, 'ALERTS{alertname="TargetDown", job="grafana"}')
    assert api(host, "/api/v1/alertmanagers")["activeAlertmanagers"]


def test_every_dashboard_and_rule_query_returns_series(host, workload):
    dashboards = promql_checks.dashboard_queries()
    rules = promql_checks.rule_queries()
    loki = promql_checks.dashboard_queries(uid=promql_checks.LOKI_UID)
    empty, allowed = [], []
    for q in dashboards + rules:
        expr = promql_checks.to_promql(q.expr)
        if query(host, expr):
            continue
        reasons = promql_checks.absent_reasons(expr)
        (allowed if reasons else empty).append((q, reasons))
    print(f"\nchecked {len(dashboards)} dashboard queries and {len(rules)} rule selectors against Prometheus;"
          f" {len(loki)} LogQL queries (Loki absent) not checked")
    print("allowed to be empty (services absent here):")
    for q, reasons in allowed:
        print(f"  {q.source} / {q.where}: {q.expr}\n      {'; '.join(reasons)}")
    # The check can fail: a misspelt metric returns nothing and has no excuse.
    misspelt = promql_checks.to_promql('omero_path_used_ration{instance=~"$instance"}')
    assert not query(host, misspelt) and not promql_checks.absent_reasons(misspelt)
    assert not empty, "queries without series:\n" + "\n".join(f"{q.source} / {q.where}: {q.expr}" for q, _ in empty)


def test_prometheus_memory_at_rest(host):
    rss = float(query(host, 'process_resident_memory_bytes{job="prometheus"}')[0]["value"][1])
    series = float(query(host, "prometheus_tsdb_head_series")[0]["value"][1])
    print(f"\nPrometheus resident memory {rss / 2**20:.0f} MiB with {series:.0f} head series")
    assert rss < 512 * 2**20
