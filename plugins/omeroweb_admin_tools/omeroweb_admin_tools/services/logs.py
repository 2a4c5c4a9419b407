"""Log reading: journald on this host (journalctl, no shell), Loki's LogQL API when configured,
and OMERO's own log files. Every reader returns the same entry shape, newest last."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .http import fetch_json

# Level names of the viewer and the journald priority each one includes (syslog: lower = worse).
LEVELS = {"debug": 7, "info": 6, "warn": 4, "error": 3, "fatal": 2}
_PRIORITY_LEVEL = {0: "fatal", 1: "fatal", 2: "fatal", 3: "error", 4: "warn", 5: "info",
                   6: "info", 7: "debug"}
# OMERO (logback) and Python logging write the level as a word near the start of the line.
_TEXT_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)\b")
_WORD_LEVEL = {"TRACE": "debug", "DEBUG": "debug", "INFO": "info", "WARN": "warn",
               "WARNING": "warn", "ERROR": "error", "SEVERE": "error", "FATAL": "fatal",
               "CRITICAL": "fatal"}
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?")
LOG_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.log(?:\.\d+)?$")
_FIELDS = "MESSAGE,PRIORITY,_SYSTEMD_UNIT,UNIT,SYSLOG_IDENTIFIER"
# Bytes read from the end of one OMERO log file: enough for thousands of lines, bounded time.
FILE_TAIL_BYTES = 4 * 1024 * 1024
# Loki's series lookup of OMERO's log files looks back at least this far (as the original).
SERIES_LOOKBACK_SECONDS = 7 * 86400


class LogSourceError(Exception):
    """The log backend could not answer (message safe to show to the admin)."""


@dataclass(frozen=True)
class LogQuery:
    units: Sequence[str]
    files: Sequence[str]          # "<dir index>/<file name>"
    since_us: int                 # microseconds since the epoch
    until_us: int
    limit: int
    level: str | None = None      # the least severe level shown
    text: str = ""
    # Live tail: only entries after these points, oldest first (see encode_cursor).
    after_journal: str = ""       # a journald cursor
    after_ns: int | None = None   # nanoseconds since the epoch (files, Loki)

    @property
    def tailing(self) -> bool:
        return bool(self.after_journal) or self.after_ns is not None


def encode_cursor(entries: Sequence[dict[str, Any]], previous: LogQuery) -> str:
    """An opaque token for the next tail read: the last journal cursor and the last time."""
    journal = next((e["cursor"] for e in reversed(entries) if e["cursor"].startswith("s=")),
                   previous.after_journal)
    last_ns = max((e["ns"] for e in entries), default=previous.after_ns)
    raw = json.dumps({"j": journal, "n": last_ns}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[str, int | None]:
    """(journal cursor, nanoseconds); ValueError for anything that is not our token."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        journal, last_ns = data["j"], data["n"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("cursor is not a token this server issued") from None
    if not isinstance(journal, str) or len(journal) > 500 or not (
            last_ns is None or (isinstance(last_ns, int) and last_ns >= 0)):
        raise ValueError("cursor is not a token this server issued")
    return journal, last_ns


def level_of_text(message: str) -> str:
    match = _TEXT_LEVEL.search(message[:200])
    return _WORD_LEVEL[match.group(1)] if match else "info"


def _level_passes(level: str, wanted: str | None) -> bool:
    return wanted is None or LEVELS[level] <= LEVELS[wanted]


def _entry(ts_ns: int, source: str, level: str, message: str, cursor: str = "") -> dict[str, Any]:
    iso = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat(timespec="milliseconds")
    return {"ts": iso, "ns": ts_ns, "source": source, "level": level, "message": message,
            "cursor": cursor}


# --- journald -------------------------------------------------------------------------------

def _level_words(level: str) -> list[str]:
    return [word for word, name in _WORD_LEVEL.items() if LEVELS[name] <= LEVELS[level]]


def journal_command(query: LogQuery, directory: str = "", stdout_pass: bool = False
                    ) -> list[str]:
    """The journalctl argv (no shell): JSON output, only the fields the viewer shows.
    `stdout_pass`: the priority-6 entries (a service's stdout/stderr) whose text names the
    wanted level or a worse one, for a level filter of warn, error or fatal."""
    argv = ["journalctl", "--no-pager", "-q", "-o", "json", f"--output-fields={_FIELDS}"]
    if directory:
        argv.append(f"--directory={directory}")
    for unit in query.units:
        argv += ["-u", unit]
    # --grep is a PCRE2 pattern: the text filter is escaped so it stays literal text.
    text = f"(?i:{re.escape(query.text)})" if query.text else ""
    if stdout_pass and query.level:
        words = "|".join(_level_words(query.level))
        argv += ["-p", "6..6", f"--grep=^(?=.*{text})(?=.*\\b(?:{words})\\b)" if text
                 else f"--grep=\\b(?:{words})\\b", "--case-sensitive=true"]
    else:
        if query.level:
            argv += ["-p", str(LEVELS[query.level])]
        if text:
            argv += [f"--grep={text}", "--case-sensitive=true"]
    until = f"--until=@{query.until_us / 1e6:.6f}"
    if query.after_journal:
        # Live tail: forward from the last entry the page has, oldest first.
        return [*argv, f"--after-cursor={query.after_journal}", until, "-n", str(query.limit)]
    since_us = query.since_us
    if query.after_ns is not None:
        since_us = max(since_us, query.after_ns // 1000 + 1)
    # Newest first so that -n keeps the newest entries; read_journal puts them back in order.
    return [*argv, f"--since=@{since_us / 1000000.0:.6f}", until, "-n", str(query.limit),
            "--reverse"]


def parse_journal_json(lines: Iterable[bytes | str]) -> list[dict[str, Any]]:
    entries = []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        message = record.get("MESSAGE")
        if isinstance(message, list):  # journald sends non-UTF-8 messages as byte arrays
            message = bytes(message).decode("utf-8", "replace")
        priority = int(record.get("PRIORITY") or 6)
        level = _PRIORITY_LEVEL.get(priority, "info")
        if priority == 6:
            # A service's stdout arrives as info whatever it says; show the level it wrote.
            level = level_of_text(message or "")
        # systemd's own messages about a unit (started, failed) come from init.scope with
        # UNIT= naming the unit: -u selects them, and they belong to that unit.
        source = (record.get("UNIT") or record.get("_SYSTEMD_UNIT") or
                  record.get("SYSLOG_IDENTIFIER") or "journal")
        entries.append(_entry(int(record["__REALTIME_TIMESTAMP"]) * 1000, source, level,
                              message or "", record["__CURSOR"]))
    return entries


def _run_journalctl(argv: list[str], timeout: float) -> list[dict[str, Any]]:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise LogSourceError("journalctl is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise LogSourceError(f"journalctl did not answer within {timeout:g} s") from None
    # journalctl exits 1 when --grep matches nothing; anything on stderr then is the real error.
    if done.returncode not in (0, 1) or (done.returncode == 1 and done.stderr.strip()):
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LogSourceError("journalctl failed: " + (reason[-1] if reason else
                                                      f"exit status {done.returncode}"))
    return parse_journal_json(done.stdout.splitlines())


def read_journal(query: LogQuery, directory: str = "", timeout: float = 10) -> list[dict[str, Any]]:
    if not query.units:
        return []
    entries = _run_journalctl(journal_command(query, directory), timeout)
    if query.level and LEVELS[query.level] < 6:
        # Most services print to stdout, which journald stores as priority 6 whatever the
        # line says: a second pass finds those that name the wanted level.
        seen = {e["cursor"] for e in entries}
        entries += [e for e in _run_journalctl(journal_command(query, directory, True), timeout)
                    if e["cursor"] not in seen]
    entries = [e for e in entries if _level_passes(e["level"], query.level)]
    return _merge(entries, query)


# --- Loki -----------------------------------------------------------------------------------

def _logql_string(value: str) -> str:
    return json.dumps(value)  # a LogQL string literal has Go (JSON-compatible) escapes


def logql(query: LogQuery) -> str:
    """One LogQL selector over the units and files, with level and text filters."""
    selectors = []
    if query.units:
        units = "|".join(re.escape(u) for u in query.units)
        priority = ""
        if query.level:
            priority = f', priority=~"[0-{LEVELS[query.level]}]"'
        selectors.append("{unit=~" + _logql_string(f"^(?:{units})$") + priority + "}")
    # With Loki a file is "<log_type>/<file name>" (see loki_log_files): one selector each.
    by_type: dict[str, list[str]] = defaultdict(list)
    for file_id in query.files:
        log_type, _, name = file_id.partition("/")
        by_type[log_type].append(re.escape(name))
    for log_type, names in sorted(by_type.items()):
        selectors.append("{log_type=" + _logql_string(log_type) + ", filename=~" +
                         _logql_string(f"^.*/(?:{'|'.join(names)})$") + "}")
    text = f" |~ {_logql_string('(?i)' + re.escape(query.text))}" if query.text else ""
    # Loki cannot OR two stream selectors in one query: the caller runs one per selector.
    return "\n".join(s + text for s in selectors)


def read_loki(query: LogQuery, base_url: str, timeout: float = 10) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    start_ns = query.since_us * 1000
    if query.after_ns is not None:
        start_ns = max(start_ns, query.after_ns + 1)
    for selector in filter(None, logql(query).split("\n")):
        params = {"query": selector, "start": str(start_ns), "end": str(query.until_us * 1000),
                  "limit": str(query.limit),
                  "direction": "forward" if query.tailing else "backward"}
        url = f"{base_url}/loki/api/v1/query_range?{urllib.parse.urlencode(params)}"
        body = fetch_json(url, base_url, timeout)
        if body.get("status") != "success":
            raise LogSourceError(f"Loki answered status {body.get('status')!r}")
        for stream in body.get("data", {}).get("result", []):
            labels = stream.get("stream", {})
            source = labels.get("unit") or labels.get("filename") or "loki"
            priority = labels.get("priority")
            for ts_ns, line in stream.get("values", []):
                level = (_PRIORITY_LEVEL.get(int(priority), "info") if priority is not None
                         else level_of_text(line))
                if not _level_passes(level, query.level):
                    continue
                entries.append(_entry(int(ts_ns), source, level, line))
    return _merge(entries, query)


def check_loki_file_id(file_id: str, log_types: Sequence[str]) -> None:
    """A Loki file is "<log_type>/<file name>": a configured log type, a plain log file name."""
    log_type, _, name = file_id.partition("/")
    if log_type not in log_types or not LOG_FILE_NAME.match(name):
        raise ValueError(f"log file {file_id!r} is not <log type>/<file name> of "
                         f"{', '.join(log_types)}")


def loki_log_files(log_type: str, base_url: str, timeout: float,
                   lookback_seconds: float = SERIES_LOOKBACK_SECONDS,
                   now: float | None = None) -> list[dict[str, Any]]:
    """The distinct log file names Loki has seen for `log_type` (its series API, at least
    7 days back), with the hosts that sent each one."""
    end = time.time() if now is None else now
    start = end - max(SERIES_LOOKBACK_SECONDS, lookback_seconds)
    params = [("match[]", "{log_type=" + _logql_string(log_type) + "}"),
              ("start", str(int(start * 1e9))), ("end", str(int(end * 1e9)))]
    url = f"{base_url}/loki/api/v1/series?{urllib.parse.urlencode(params)}"
    body = fetch_json(url, base_url, timeout)
    if not isinstance(body, dict) or body.get("status") != "success":
        status = body.get("status") if isinstance(body, dict) else None
        raise LogSourceError(f"Loki answered status {status!r}")
    hosts: dict[str, set[str]] = defaultdict(set)
    for labels in body.get("data") or []:
        if not isinstance(labels, dict) or not isinstance(labels.get("filename"), str):
            continue
        name = PurePosixPath(labels["filename"]).name
        if LOG_FILE_NAME.match(name):
            hosts[name].add(str(labels.get("host", "")))
    return [{"id": f"{log_type}/{name}", "name": name, "service": log_type,
             "hosts": sorted(h for h in hosts[name] if h)} for name in sorted(hosts)]


def _merge(entries: list[dict[str, Any]], query: LogQuery) -> list[dict[str, Any]]:
    """Oldest first; a tail read keeps the oldest `limit` (the rest come next poll), a range
    read the newest."""
    entries.sort(key=lambda e: e["ns"])
    return entries[:query.limit] if query.tailing else entries[-query.limit:]


# --- OMERO's log files ----------------------------------------------------------------------

def list_log_files(dirs: Sequence[str]) -> list[dict[str, Any]]:
    files = []
    for index, directory in enumerate(dirs):
        root = Path(directory)
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            if LOG_FILE_NAME.match(path.name) and path.is_file():
                files.append({"id": f"{index}/{path.name}", "dir": directory,
                              "name": path.name, "size": path.stat().st_size})
    return files


def resolve_log_file(file_id: str, dirs: Sequence[str]) -> Path:
    """Only a plain file name directly inside a configured directory; never a path."""
    index, _, name = file_id.partition("/")
    if not index.isdigit() or int(index) >= len(dirs) or not LOG_FILE_NAME.match(name):
        raise ValueError(f"unknown log file {file_id!r}")
    path = Path(dirs[int(index)]) / name
    if not path.is_file():
        raise ValueError(f"unknown log file {file_id!r}")
    return path


def _parse_time_ns(line: str) -> int | None:
    match = _LOG_TIME.match(line)
    if not match:
        return None
    stamp = datetime.fromisoformat(match.group(1).replace(" ", "T")).replace(tzinfo=UTC)
    fraction = (match.group(2) or "0").ljust(6, "0")
    return (int(stamp.timestamp()) * 1_000_000 + int(fraction)) * 1000


def read_log_file(path: Path, source: str, query: LogQuery) -> list[dict[str, Any]]:
    """Entries of one OMERO log file; continuation lines (stack traces) join their entry.
    Times without a zone are taken as UTC (the platform's default time zone)."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - FILE_TAIL_BYTES))
        text = handle.read().decode("utf-8", "replace")
    if size > FILE_TAIL_BYTES:
        text = text.split("\n", 1)[-1]  # drop the partial first line
    needle = query.text.lower()
    entries: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None

    def finish(entry: dict[str, Any] | None) -> None:
        if entry is None:
            return
        if not query.since_us * 1000 <= entry["ns"] <= query.until_us * 1000:
            return
        if query.after_ns is not None and entry["ns"] <= query.after_ns:
            return
        if not _level_passes(entry["level"], query.level):
            return
        if needle and needle not in entry["message"].lower():
            return
        entries.append(entry)

    for line in text.splitlines():
        ts_ns = _parse_time_ns(line)
        if ts_ns is None:
            if current is not None:
                current["message"] += "\n" + line
            continue
        finish(current)
        current = _entry(ts_ns, source, level_of_text(line[:80]), line)
    finish(current)
    return entries


def read_log_files(query: LogQuery, dirs: Sequence[str]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for file_id in query.files:
        path = resolve_log_file(file_id, dirs)
        entries += read_log_file(path, path.name, query)
    return _merge(entries, query)


def read_logs(query: LogQuery, settings: Any) -> dict[str, Any]:
    """All sources merged by time; `cursor` is what the page sends back to tail."""
    if settings.loki_url:
        backend = "loki"
        entries = read_loki(query, settings.loki_url, settings.request_timeout)
    else:
        backend = "journald"
        entries = read_journal(query, settings.journal_directory, settings.request_timeout)
        entries = _merge(entries + read_log_files(query, settings.omero_log_dirs), query)
    return {"backend": backend, "entries": entries, "count": len(entries),
            "truncated": len(entries) >= query.limit, "cursor": encode_cursor(entries, query)}
