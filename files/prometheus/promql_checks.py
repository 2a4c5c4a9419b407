"""Find the PromQL queries of the dashboards and alert rules, for the static test
(tests/unit/test_dashboards.py) and the live check against Prometheus (the prometheus role's
molecule scenario). One place, so both check the same queries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "files/dashboards"
RULES_FILE = ROOT / "roles/prometheus/files/rules/omero.rules.yml"
RULE_TEST_FILES = sorted((ROOT / "roles/prometheus/files/rules/tests").glob("*.test.yml"))

# Datasource uids provisioned by the grafana role.
PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"

# Metrics of services that cannot run in the lab scenario, with the reason. A query that
# needs one of them may return nothing there; everything else must return a series.
ABSENT_METRICS: dict[str, str] = {
    "oae_backup_last_success_timestamp_seconds": "written by the backup role's timer (not in this scenario)",
    "oae_pg_maintenance_last_success_timestamp_seconds": "written by the pg_maintenance role's timer (not here)",
    "probe_ssl_earliest_cert_expiry": "no HTTPS endpoint in the scenario (nginx and OMERO.web absent)",
    "loki_distributor_lines_received_total": "Loki cannot be installed here",
    "loki_distributor_bytes_received_total": "Loki cannot be installed here",
    "loki_request_duration_seconds_count": "Loki cannot be installed here",
}

# Label matchers selecting units of services absent from the lab scenario.
ABSENT_SELECTORS: dict[str, str] = {
    "omero-celery@": "Celery worker units are deployed with the plugins (not in this scenario)",
}

_FUNCTIONS_AND_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan", "atan2",
}
_GRAFANA_INTERVALS = re.compile(r"\$__(rate_interval|interval|range)|\$\{__(rate_interval|interval|range)\}")
_GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class Query:
    source: str  # dashboard file or rule file
    where: str  # panel title or alert name
    expr: str


def load_dashboards(directory: Path = DASHBOARD_DIR) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def _datasource_uid(obj: dict) -> str | None:
    ds = obj.get("datasource")
    return ds.get("uid") if isinstance(ds, dict) else None


def dashboard_queries(directory: Path = DASHBOARD_DIR, uid: str = PROMETHEUS_UID) -> list[Query]:
    """Queries of one datasource in every dashboard (target datasource, else the panel's)."""
    queries = []
    for name, dashboard in load_dashboards(directory).items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if (_datasource_uid(target) or _datasource_uid(panel)) == uid and target.get("expr"):
                    queries.append(Query(name, panel.get("title", "?"), target["expr"]))
    return queries


def to_promql(expr: str) -> str:
    """Replace Grafana's variables: intervals by 1m, template variables by a match-all regex."""
    expr = _GRAFANA_INTERVALS.sub("1m", expr)
    return _GRAFANA_VARIABLE.sub(".+", expr)


def load_rules(path: Path = RULES_FILE) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def vector_selectors(expr: str) -> list[str]:
    """The vector selectors (metric name plus label matchers) of a PromQL expression.

    Alert expressions compare against thresholds and are empty while all is well, so the live
    check evaluates each selector they use instead: it proves the metric and labels exist."""

    def blank(match: re.Match) -> str:
        return match.group(0)[0] + " " * (len(match.group(0)) - 2) + match.group(0)[-1]

    # Same-length blanking keeps offsets valid: strings (which may hold braces), grouping
    # label lists and keywords are not selectors.
    masked = re.sub(r'"(?:\\.|[^"\\])*"', blank, expr)
    masked = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", lambda m: " " * len(m.group(0)), masked
    )
    selectors = []
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?", masked):
        name, matchers, call = match.groups()
        if call or name.lower() in _FUNCTIONS_AND_KEYWORDS:
            continue
        # Durations (5m) and numbers with exponents (1e6) are not metrics.
        if match.start() > 0 and (masked[match.start() - 1].isdigit() or masked[match.start() - 1] == "."):
            continue
        selectors.append(expr[match.start(1) : match.end(2) if matchers else match.end(1)])
    return selectors


def rule_queries(path: Path = RULES_FILE) -> list[Query]:
    return [
        Query(path.name, rule["alert"], selector)
        for rule in load_rules(path)
        for selector in dict.fromkeys(vector_selectors(rule["expr"]))
    ]


def metric_names(expr: str) -> set[str]:
    return {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s).group(0) for s in vector_selectors(expr)}


def absent_reasons(expr: str) -> list[str]:
    """Why a query may return nothing in the lab scenario (empty: it must return a series)."""
    reasons = [f"{m}: {ABSENT_METRICS[m]}" for m in sorted(metric_names(expr) & ABSENT_METRICS.keys())]
    reasons += [f"{s}: {r}" for s, r in ABSENT_SELECTORS.items() if s in expr]
    return reasons
