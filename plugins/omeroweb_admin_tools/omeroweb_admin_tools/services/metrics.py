"""Host metrics and the target overview from Prometheus' HTTP API; Grafana dashboard links."""

from __future__ import annotations

import re
from typing import Any

from .http import OutsideBase, UpstreamError, fetch_json, join_base

# node_exporter instant queries: one number each for the whole host.
HOST_QUERIES = {
    "cpu_percent": '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])))',
    "memory_percent": "100 * (1 - sum(node_memory_MemAvailable_bytes) / "
                      "sum(node_memory_MemTotal_bytes))",
    "memory_total_bytes": "sum(node_memory_MemTotal_bytes)",
    "disk_root_percent": '100 * (1 - sum(node_filesystem_avail_bytes{mountpoint="/"}) / '
                         'sum(node_filesystem_size_bytes{mountpoint="/"}))',
    "network_receive_bytes_per_second":
        'sum(rate(node_network_receive_bytes_total{device!="lo"}[5m]))',
    "network_transmit_bytes_per_second":
        'sum(rate(node_network_transmit_bytes_total{device!="lo"}[5m]))',
}
# The only Prometheus API paths the page's proxy may read.
PROXY_PATHS = re.compile(r"^api/v1/(?:query|query_range|targets|alerts|series|labels|"
                         r"label/[A-Za-z0-9_]+/values)$")


def _instant(base: str, query: str, timeout: float) -> float | None:
    body = fetch_json(join_base(base, "api/v1/query", [("query", query)]), base, timeout)
    if body.get("status") != "success":
        raise UpstreamError(f"Prometheus: {body.get('error', 'query failed')}")
    result = body.get("data", {}).get("result", [])
    if not result:
        return None
    return round(float(result[0]["value"][1]), 3)


def host_metrics(base: str, timeout: float) -> dict[str, Any]:
    return {name: _instant(base, query, timeout) for name, query in HOST_QUERIES.items()}


def targets(base: str, timeout: float) -> list[dict[str, Any]]:
    body = fetch_json(join_base(base, "api/v1/targets", [("state", "active")]), base, timeout)
    return [{"job": t.get("labels", {}).get("job", ""),
             "instance": t.get("labels", {}).get("instance", ""),
             "health": t.get("health", "unknown"),
             "last_error": t.get("lastError", ""),
             "last_scrape": t.get("lastScrape", "")}
            for t in body.get("data", {}).get("activeTargets", [])]


def overview(prometheus_url: str, timeout: float) -> dict[str, Any]:
    """Everything the resources page shows from Prometheus; errors become a message."""
    if not prometheus_url:
        return {"configured": False, "error": "ADMIN_TOOLS_PROMETHEUS_URL is not set"}
    try:
        ready_status = _ready(prometheus_url, timeout)
        return {"configured": True, "ready": ready_status,
                "host": host_metrics(prometheus_url, timeout),
                "targets": targets(prometheus_url, timeout)}
    except UpstreamError as exc:
        return {"configured": True, "error": str(exc)}


def _ready(base: str, timeout: float) -> bool:
    from .http import fetch

    status, _, _ = fetch(join_base(base, "-/ready"), base, timeout, accept="text/plain")
    return status == 200


def proxy_url(base: str, path: str, params: list[tuple[str, str]]) -> str:
    """The upstream URL for the page's read-only Prometheus proxy, or OutsideBase."""
    if not PROXY_PATHS.match(path):
        raise OutsideBase("only Prometheus' read API (api/v1/query, targets ...) is proxied")
    return join_base(base, path, params)


def dashboards(grafana_url: str, entries: tuple[str, ...]) -> list[dict[str, str]]:
    """Links opened in a new tab: Grafana keeps its own login; nothing is proxied."""
    if not grafana_url:
        return []
    links = []
    for entry in entries:
        uid, _, title = entry.partition(":")
        if re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
            links.append({"uid": uid, "title": title or uid,
                          "url": f"{grafana_url}/d/{uid}"})
    return links
