"""The bridge command of roles/openhcs, run as a subprocess: the worker's only way to the
OpenHCS execution server (the OMERO.web venv has no openhcs). Protocol: docs/design/openhcs.md
("Bridge command"): JSON lines on stdout, one final event, SIGTERM cancels."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FINAL = ("complete", "failed", "cancelled")
CANCEL_GRACE_SECONDS = 30  # the bridge cancels on the server, then exits 3
STDERR_TAIL = 4000


class BridgeError(Exception):
    """The bridge could not be run or broke its protocol; the message is a sentence."""


def _die_with_parent() -> None:
    # If the worker process dies (kill -9), the kernel sends the bridge SIGTERM, and the
    # bridge cancels the execution on the server: nothing runs on for a dead job.
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _command(bridge: Path, *args: str) -> list[str]:
    return [str(bridge), *args]


def version(bridge: Path, timeout: float = 60) -> dict[str, Any]:
    """`openhcs-bridge version`: {"openhcs": "0.8.6", "bridge": 1}."""
    try:
        done = subprocess.run(_command(bridge, "version"), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BridgeError(f"The OpenHCS bridge could not be run ({type(exc).__name__}).") from exc
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise BridgeError("The OpenHCS bridge did not report its version.") from None
    if done.returncode != 0 or not isinstance(data, dict) or "openhcs" not in data:
        raise BridgeError("The OpenHCS bridge did not report its version.")
    return data


def run(bridge: Path, socket_dir: Path, preset: str, plate_dir: Path, params: dict[str, Any],
        timeout: int, on_event: Callable[[dict[str, Any]], None],
        keep_going: Callable[[], None], stderr_path: Path) -> dict[str, Any]:
    """Run one execution; returns the final event (complete / failed / cancelled).

    `on_event` gets every other event; `keep_going()` is called at least once a second and
    raises (JobCancelled) to cancel: the bridge then gets SIGTERM and the exception goes on
    after it exited. A bridge that dies without a final event is a failed event."""
    args = _command(bridge, "--socket-dir", str(socket_dir), "run", "--preset", preset,
                    "--plate", str(plate_dir), "--params", json.dumps(params),
                    "--timeout", str(timeout))
    with open(stderr_path, "wb") as stderr:
        try:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr,
                                    stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        except OSError as exc:
            raise BridgeError(f"The OpenHCS bridge could not be started "
                              f"({type(exc).__name__}).") from exc
    lines: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, name="openhcs-bridge-reader", daemon=True)
    reader.start()
    final: dict[str, Any] | None = None
    try:
        while True:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                keep_going()
                continue
            if line is None:
                break
            event = _parse(line)
            if event is None:
                continue
            if event.get("event") in FINAL:
                final = event
            else:
                on_event(event)
            keep_going()
    except BaseException:
        _stop(proc)
        raise
    finally:
        reader.join(timeout=5)
    code = proc.wait()
    if final is None:
        tail = _tail(stderr_path)
        log.warning("bridge exited %s without a final event; stderr: %s", code, tail)
        final = {"event": "failed",
                 "reason": f"The OpenHCS bridge stopped without a result (exit status {code})."}
    final["exit_status"] = code
    return final


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line.decode("utf-8", "replace"))
    except json.JSONDecodeError:
        log.info("bridge: %s", line[:500])
        return None
    return event if isinstance(event, dict) else None


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the bridge cancels on the server), then SIGKILL after the grace period."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + CANCEL_GRACE_SECONDS
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _tail(path: Path) -> str:
    try:
        data = path.read_bytes()[-STDERR_TAIL:]
    except OSError:
        return ""
    return data.decode("utf-8", "replace")
