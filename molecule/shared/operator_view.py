"""The operator's first look at a converged platform, as a check every whole-stack layout ends with:
each timer's service has run once, no unit has failed, Prometheus fires no alert, and no journal
holds a Python traceback or a `Failed to start` line.

`problems(hosts, prometheus_host)` returns sentences naming each problem with the offending
unit's last journal lines (empty when the platform is healthy)."""

import datetime
import json
import re
import shlex
import time

# Timers the project ships (units in /etc/systemd/system; Debian's own live in /lib).
_OUR_TIMERS = r"""
import json, subprocess
out = subprocess.run(["systemctl", "list-units", "--type=timer", "--all", "--no-legend", "--plain",
                      "--output=json"], capture_output=True, text=True, check=True).stdout
timers = []
for unit in json.loads(out):
    # Key=value lines: systemctl prints properties in its own order, not the one asked for.
    show = dict(line.split("=", 1) for line in subprocess.run(
        ["systemctl", "show", "-p", "FragmentPath", "-p", "Triggers", unit["unit"]],
        capture_output=True, text=True).stdout.splitlines() if "=" in line)
    if show.get("FragmentPath", "").startswith("/etc/systemd/system/"):
        timers.append([unit["unit"], (show.get("Triggers", "").split() or [""])[0]])
print(json.dumps(timers))
"""
JOURNAL_PATTERNS = ("Traceback (most recent call last)", "Failed to start")


def journal_tail(host, unit, lines=25):
    out = host.run(f"journalctl -u {shlex.quote(unit)} -b --no-pager -o short-iso -n {lines}")
    return out.stdout.rstrip()


def run_timer_services(host, timeout=600):
    """Start the service of every timer we ship once and wait for it to finish; returns the
    services started. A failing one shows up afterwards as a failed unit."""
    timers = json.loads(host.check_output(f"python3 -c {shlex.quote(_OUR_TIMERS)}"))
    services = [service for _timer, service in timers if service]
    # Every layout ships timers (job sweep, database maintenance): none found means the listing
    # above is broken, and the check would pass without running anything.
    assert services, "no timer of the project found on the host"
    for service in services:
        # A oneshot service's start returns when its run has finished (or failed).
        host.run(f"timeout {timeout} systemctl start {shlex.quote(service)}")
    return services


def failed_units(host):
    out = host.run("systemctl list-units --failed --no-legend --plain --output=json")
    return [u["unit"] for u in json.loads(out.stdout or "[]")]


def journal_findings(host, since=None):
    """(unit, message) of every journal entry since `since` (default: boot) that holds a
    traceback or a failed start."""
    window = f"--since {shlex.quote(since)}" if since else "-b"
    grep = " ".join(f"-e {shlex.quote(p)}" for p in JOURNAL_PATTERNS)
    out = host.run(f"journalctl {window} --no-pager -o json | grep -F {grep}")
    findings = []
    for line in out.stdout.splitlines():
        entry = json.loads(line)
        message = entry.get("MESSAGE", "")
        if isinstance(message, list):  # non-UTF-8 bytes
            message = bytes(message).decode("utf-8", "replace")
        unit = entry.get("UNIT") or entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER", "?")
        findings.append((unit, message.strip().splitlines()[0][:300]))
    return findings


def prometheus_api(host, path):
    out = host.run(f"curl -sS --max-time 10 'http://127.0.0.1:9090/api/v1/{path}'")
    return json.loads(out.stdout)["data"]


_RFC3339 = re.compile(r"^(?P<whole>[^.Z+]+?(?:T[\d:]+)?)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)$")


def _epoch(stamp):
    """Prometheus' RFC 3339 time (nanoseconds, Z or an offset) as epoch seconds."""
    parts = _RFC3339.match(stamp)
    zone = "+00:00" if parts["zone"] == "Z" else parts["zone"]
    whole = datetime.datetime.fromisoformat(parts["whole"] + zone).timestamp()
    return whole + (float("0." + parts["fraction"]) if parts["fraction"] else 0.0)


def wait_for_rule_evaluation(host, after, timeout=180):
    """Wait until every rule group was evaluated after the host time `after` (epoch seconds)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        groups = prometheus_api(host, "rules")["groups"]
        if groups and min(_epoch(g["lastEvaluation"]) for g in groups) > after:
            return True
        time.sleep(3)
    return False


def firing_alerts(host):
    return [a for a in prometheus_api(host, "alerts")["alerts"] if a["state"] == "firing"]


def problems(hosts, prometheus_host=None, run_timers=True, since=None):
    """Everything an operator would find wrong, as sentences with journal evidence.

    hosts: {name: testinfra host}; prometheus_host: the host running Prometheus (or None)."""
    found = []
    if run_timers:
        for host in hosts.values():
            run_timer_services(host)
    started = {name: float(h.check_output("date +%s.%N")) for name, h in hosts.items()}
    for name, host in hosts.items():
        for unit in failed_units(host):
            found.append(f"{name}: unit {unit} has failed; its journal:\n{journal_tail(host, unit)}")
        for unit, message in journal_findings(host, since):
            found.append(f"{name}: the journal of {unit} holds {message!r}; its journal:\n"
                         f"{journal_tail(host, unit)}")
    if prometheus_host is not None:
        host = hosts[prometheus_host]
        if not wait_for_rule_evaluation(host, started[prometheus_host]):
            found.append(f"{prometheus_host}: Prometheus evaluated no rule group after the services ran")
        for alert in firing_alerts(host):
            labels = alert["labels"]
            unit = labels.get("name") or labels.get("unit")
            evidence = ""
            for hname, h in hosts.items():
                if unit and labels.get("host", hname) == hname:
                    evidence = f"; journal of {unit} on {hname}:\n{journal_tail(h, unit)}"
            found.append(f"{prometheus_host}: alert {labels.get('alertname')} is firing "
                         f"({json.dumps(labels, sort_keys=True)}): "
                         f"{alert.get('annotations', {}).get('summary', '')}{evidence}")
    return found
