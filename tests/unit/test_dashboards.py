"""Static validation of the monitoring files: Grafana dashboards (structure, datasources,
variables, PromQL syntax basics), alert rules and their promtool tests, and the query
extraction the live check in roles/prometheus/molecule/default relies on.

The live half (every query returns a series from a real Prometheus) runs in that scenario."""

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "files/prometheus"))
import promql_checks as pc  # noqa: E402

DASHBOARDS = pc.load_dashboards()
EXPECTED_UIDS = {
    "omero-infrastructure", "database-metrics", "plugin-database-metrics", "redis-metrics",
    "omero-logs", "omero-plugin-jobs",
}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__name"}


def test_the_six_dashboards_exist_with_unique_uids():
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))
    assert set(uids) == EXPECTED_UIDS


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_structure(name):
    d = DASHBOARDS[name]
    for key in ("uid", "title", "schemaVersion", "panels", "templating", "time", "refresh"):
        assert key in d, f"{name}: missing {key}"
    assert "omero" in d["tags"]
    panels = pc.panels(d)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    cells = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, f"{name}/{p['title']}: {g}"
        covered = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not covered & cells, f"{name}/{p['title']} overlaps another panel"
        cells |= covered
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] in {pc.PROMETHEUS_UID, pc.LOKI_UID}, f"{name}/{p['title']}"
        assert p["targets"], f"{name}/{p['title']} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["expr"].strip()
            assert t["datasource"]["uid"] == p["datasource"]["uid"]
            if p["type"] == "logs":
                assert t["datasource"]["uid"] == pc.LOKI_UID


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_variables_are_defined(name):
    d = DASHBOARDS[name]
    defined = {v["name"] for v in d["templating"]["list"]}
    for v in d["templating"]["list"]:
        assert v["datasource"]["uid"] in {pc.PROMETHEUS_UID, pc.LOKI_UID}
    for p in pc.panels(d):
        for t in p.get("targets", []):
            used = set(re.findall(r"\$\{?(\w+)", t["expr"]))
            undefined = used - defined - BUILTIN_VARIABLES
            assert not undefined, f"{name}/{p['title']}: undefined {undefined}"


def balanced(expr: str) -> bool:
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    stack, pairs = [], {")": "(", "]": "[", "}": "{"}
    for ch in expr:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack


def test_every_query_is_balanced():
    queries = pc.dashboard_queries() + pc.dashboard_queries(uid=pc.LOKI_UID)
    assert len(queries) > 50
    bad = [q for q in queries if not balanced(q.expr)]
    assert not bad


def test_systemd_hosts_use_unit_metrics_not_containers():
    exprs = " ".join(q.expr for q in pc.dashboard_queries())
    assert "container_" not in exprs and "cadvisor" not in exprs
    assert "omero_unit_cpu_seconds_total" in exprs and "omero_unit_memory_bytes" in exprs


def test_database_dashboards_select_their_cluster():
    for name, cluster in [("database-metrics.json", "omero"), ("plugin-database-metrics.json", "plugin")]:
        for q in pc.dashboard_queries():
            if q.source == name and "pg_" in q.expr:
                assert f'cluster="{cluster}"' in q.expr, q


# Alert rules and their tests.
RULES = pc.load_rules()
RULE_TESTS = [yaml.safe_load(p.read_text()) for p in pc.RULE_TEST_FILES]


def test_rule_names_are_unique_and_labelled():
    names = [r["alert"] for r in RULES]
    assert len(names) == len(set(names))
    for r in RULES:
        assert r["labels"]["severity"] in {"warning", "critical"}, r["alert"]
        assert r["annotations"]["summary"], r["alert"]


def test_every_rule_has_a_firing_promtool_test():
    fired = {
        case["alertname"]
        for tests in RULE_TESTS
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    untested = {r["alert"] for r in RULES} - fired
    assert not untested, f"rules without a firing test: {sorted(untested)}"
    assert len(RULE_TESTS) == 2 and all(t["rule_files"] == ["../omero.rules.yml"] for t in RULE_TESTS)


def test_the_issue_alerts_are_present():
    wanted = {"TargetDown", "SystemdUnitFailed", "BackupStale", "MaintenanceStale", "DiskWillFillIn24Hours",
              "PostgresConnectionsNearLimit", "RedisMemoryHigh", "RedisStateEvictions", "CeleryBacklog",
              "CertificateExpiresSoon", "OmeroWebLoginDown"}
    assert wanted <= {r["alert"] for r in RULES}


# The query extraction used by the live check.
@pytest.mark.parametrize(
    ("expr", "selectors"),
    [
        ("up == 0", ["up"]),
        ('sum by (job, instance) (rate(a_total{x="y{z}", b=~"$v"}[5m])) / on(job) group_left b > 0.8',
         ['a_total{x="y{z}", b=~"$v"}', "b"]),
        ("time() - c_seconds offset 5m > 26 * 3600 and d > 1e6", ["c_seconds", "d"]),
        ("predict_linear(e{f!~\"tmpfs\"}[6h], 24 * 3600) < 0", ['e{f!~"tmpfs"}']),
    ],
)
def test_vector_selectors(expr, selectors):
    assert pc.vector_selectors(expr) == selectors


def test_grafana_variables_become_match_all():
    assert pc.to_promql('rate(x{i=~"$instance", j=~"${unit}"}[$__rate_interval])') == 'rate(x{i=~".+", j=~".+"}[1m])'


def test_allow_list_names_only_absent_services():
    assert pc.absent_reasons("omero_path_used_ratio") == []
    assert pc.absent_reasons("time() - oae_backup_last_success_timestamp_seconds > 1")
    assert pc.absent_reasons('omero_unit_memory_bytes{unit=~"omero-celery@.*"}')


# Rendered configuration of the roles whose software cannot be installed in the lab
# (Grafana, Loki, Alloy) and of the prometheus/exporters templates, through Ansible itself.
RENDER = {
    "grafana": ["grafana.ini", "datasources.yml", "dashboards.yml", "nginx-location.conf"],
    "loki": ["config.yml"],
    "alloy": ["config.alloy", "alloy.default"],
    "prometheus": ["prometheus.yml", "alertmanager.yml"],
    "exporters": ["blackbox.yml"],
}
SITE_VARS = {
    "grafana_admin_password": "correct-horse-battery",
    "grafana_nginx_allow": ["10.0.0.0/8"],
    "prometheus_alertmanager_smtp": {"smarthost": "mail.example.org:587", "from": "omero@example.org"},
    "prometheus_alertmanager_receivers": [
        {"name": "null"},
        {"name": "ops", "email_configs": [{"to": "ops@example.org"}]},
    ],
    # The platform's ports come from the inventory (platform.yml), not the role's defaults.
    "prometheus_probes_tcp": [
        {"name": name, "address": f"127.0.0.1:{port}"}
        for name, port in (("postgres_omero", 5432), ("postgres_plugin", 5433), ("redis_cache", 6379),
                           ("redis_state", 6380), ("omero_server_4063", 4063), ("omero_server_4064", 4064))
    ],
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    tasks = [
        {
            "name": f"Render {role}/{name}",
            "ansible.builtin.template": {
                "src": str(ROOT / f"roles/{role}/templates/{name}.j2"),
                "dest": str(out / role / name),
            },
            "vars": {"role_path": str(ROOT / f"roles/{role}")},
        }
        for role, names in RENDER.items()
        for name in names
    ]
    play = [{
        "name": "Render", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROOT / f"roles/{role}/defaults/main.yml") for role in RENDER]
        + [str(ROOT / f"roles/{role}/vars/main.yml") for role in RENDER],
        "pre_tasks": [{"name": "Make directories", "ansible.builtin.file": {"path": str(out / r), "state": "directory"}}
                      for r in RENDER],
        "tasks": tasks,
    }]
    playbook = out / "render.yml"
    playbook.write_text(yaml.safe_dump(play))
    # Extra vars: the site's values must win over the roles' defaults loaded as vars_files.
    (out / "site.yml").write_text(yaml.safe_dump(SITE_VARS))
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *("-i", "localhost,", "-e", f"@{out / 'site.yml'}", str(playbook)),
        ],
        capture_output=True, text=True, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_grafana_ini_locks_access_down(rendered):
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(rendered / "grafana/grafana.ini")
    assert ini["server"]["http_addr"] == "127.0.0.1"
    assert ini["server"]["root_url"] == "https://localhost/grafana/" and ini["server"]["serve_from_sub_path"] == "true"
    # Never inline: Grafana reads it from the 0640 file.
    assert ini["security"]["admin_password"] == "$__file{/etc/grafana/admin_password}"  # noqa: S105
    assert ini["users"]["allow_sign_up"] == "false"
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["analytics"]["reporting_enabled"] == "false"
    home = Path(ini["dashboards"]["default_home_dashboard_path"]).name
    assert home in DASHBOARDS


def test_grafana_provisions_the_datasources_the_dashboards_use(rendered):
    sources = yaml.safe_load((rendered / "grafana/datasources.yml").read_text())["datasources"]
    provisioned = {s["uid"]: s["type"] for s in sources}
    assert provisioned == {pc.PROMETHEUS_UID: "prometheus", pc.LOKI_UID: "loki"}
    used = {(p["datasource"]["uid"], p["datasource"]["type"]) for d in DASHBOARDS.values() for p in pc.panels(d)
            if p["type"] != "row"}
    used |= {
        (v["datasource"]["uid"], v["datasource"]["type"]) for d in DASHBOARDS.values() for v in d["templating"]["list"]
    }
    assert used <= set(provisioned.items())
    provider = yaml.safe_load((rendered / "grafana/dashboards.yml").read_text())["providers"][0]
    assert provider["folder"] == "OMERO" and provider["options"]["path"] == "/var/lib/grafana/dashboards/omero"


def test_dashboard_files_are_named_after_their_uid():
    assert all(name == f"{d['uid']}.json" for name, d in DASHBOARDS.items())


def test_grafana_nginx_location_restricts_networks(rendered):
    conf = (rendered / "grafana/nginx-location.conf").read_text()
    assert "location /grafana/ {" in conf and "allow 10.0.0.0/8;" in conf and "deny all;" in conf
    assert conf.count("proxy_pass http://127.0.0.1:3000;") == 2


def test_loki_keeps_logs_for_a_bounded_time_on_loopback(rendered):
    conf = yaml.safe_load((rendered / "loki/config.yml").read_text())
    assert conf["server"]["http_listen_address"] == "127.0.0.1"
    assert conf["server"]["grpc_listen_address"] == "127.0.0.1"
    assert conf["compactor"]["retention_enabled"] is True
    assert conf["limits_config"]["retention_period"] == "744h"
    assert conf["limits_config"]["reject_old_samples"] is True
    assert conf["schema_config"]["configs"][0]["schema"] == "v13"
    assert "ruler" not in conf and conf["analytics"]["reporting_enabled"] is False


def test_alloy_ships_the_journal_and_joins_multiline_records(rendered):
    conf = (rendered / "alloy/config.alloy").read_text()
    assert balanced(conf)
    assert 'loki.source.journal "journal"' in conf
    for label in ("unit", "priority"):
        assert f'target_label  = "{label}"' in conf
    assert "host = " in conf and 'url = "http://127.0.0.1:3100/loki/api/v1/push"' in conf
    assert conf.count("stage.multiline") == 2
    assert 'log_type = "omero_server"' in conf and 'log_type = "omero_web"' in conf
    firstline = json.loads(re.search(r"firstline\s+=\s+(\".*\")", conf).group(1))
    assert re.search(firstline, "2024-05-01 12:00:00,123 INFO  [ome.services.util.ServiceHandler] Executor.doWork")
    assert not re.search(firstline, "\tat ome.services.blitz.impl.ServiceFactoryI.doStateful(ServiceFactoryI.java:1)")
    assert "--server.http.listen-addr=127.0.0.1:12345" in (rendered / "alloy/alloy.default").read_text()


def test_prometheus_config_scrapes_and_probes_from_variables(rendered):
    conf = yaml.safe_load((rendered / "prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
    wanted = {"node", "postgres", "redis", "blackbox", "blackbox_http", "blackbox_tcp", "grafana", "loki", "alloy"}
    assert wanted <= set(jobs)
    tcp = [c["targets"][0] for c in jobs["blackbox_tcp"]["static_configs"]]
    assert [t.rsplit(":", 1)[1] for t in tcp] == ["5432", "5433", "6379", "6380", "4063", "4064"]
    http = {c["labels"]["probe"]: c["targets"][0] for c in jobs["blackbox_http"]["static_configs"]}
    assert http["omero_web_login"].endswith("/webclient/login/")
    assert conf["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_alertmanager_config_takes_receivers_and_smtp(rendered):
    conf = yaml.safe_load((rendered / "prometheus/alertmanager.yml").read_text())
    assert conf["global"]["smtp_smarthost"] == "mail.example.org:587"
    assert [r["name"] for r in conf["receivers"]] == ["null", "ops"]
    assert conf["route"]["receiver"] == "null"


def test_blackbox_verifies_certificates_by_default(rendered):
    conf = yaml.safe_load((rendered / "exporters/blackbox.yml").read_text())
    assert conf["modules"]["http_2xx"]["http"]["tls_config"]["insecure_skip_verify"] is False


def test_untestable_roles_refuse_unsafe_inputs(tmp_path):
    # The preflight steps only assert, so they run on the controller: an empty admin password or
    # a repository install without a key checksum stops the play, naming the variable.
    cases = {
        "grafana": {"grafana_admin_password": "", "grafana_apt_key_sha256": "0" * 64},
        "loki": {"loki_apt_key_sha256": ""},
        "alloy": {"alloy_apt_key_sha256": ""},
    }
    tasks = []
    for role, overrides in cases.items():
        tasks.append({
            "name": f"Run the {role} preflight",
            "block": [{"name": "Preflight", "ansible.builtin.include_role": {"name": role, "tasks_from": "preflight"},
                       "vars": overrides}],
            "rescue": [
                {"name": "Record", "ansible.builtin.set_fact": {f"refused_{role}": "{{ ansible_failed_result.msg }}"}}
            ],
        })
    tasks.append({"name": "Write", "ansible.builtin.copy": {
        "dest": str(tmp_path / "out.json"),
        "content": "{{ {" + ", ".join(f"'{r}': refused_{r} | default('')" for r in cases) + "} | to_json }}",
    }})
    play = [{"name": "Preflight", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml")],
        capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(ROOT / "roles")},
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    refused = json.loads((tmp_path / "out.json").read_text())
    assert "grafana_admin_password" in refused["grafana"]
    assert "loki_apt_key_sha256" in refused["loki"]
    assert "alloy_apt_key_sha256" in refused["alloy"]
