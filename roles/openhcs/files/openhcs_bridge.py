"""openhcs-bridge: run one curated OpenHCS preset on a staged plate through the local execution server.

The OMERO.web worker runs this command as a subprocess (it has no OpenHCS of its own) and reads
one JSON object per line on stdout. The interface is fixed in docs/design/openhcs.md ("Bridge
command"); in short:

    openhcs-bridge version
    openhcs-bridge presets
    openhcs-bridge run --preset NAME --plate DIR [--params JSON] [--timeout SECONDS]

Exit status of run: 0 complete, 1 failed, 2 bad request (nothing submitted), 3 cancelled.
Standard library and OpenHCS's own client only: the server's wire format (pickled control
messages, typed submissions) is OpenHCS's to define, so the bridge never speaks it by hand.
"""

import argparse
import atexit
import contextlib
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

BRIDGE_VERSION = 1
PRESET_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
WELL = re.compile(r"^([A-Z]{1,2})([0-9]{2})$")
SERVER_GONE = "The OpenHCS execution server stopped during the run."
# A server that answers no status request for this long is taken as gone (it answers in
# milliseconds even while a pipeline runs: execution happens outside its control loop).
STATUS_DEADLINE_SECONDS = 15.0
POLL_SECONDS = 0.5


class BadRequest(Exception):
    """The request cannot run: nothing is submitted, exit 2."""


class Output:
    """One JSON object per line on the real stdout; libraries' prints go to stderr instead."""

    def __init__(self):
        self._stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def emit(self, **event):
        self.write(event)

    def write(self, value):
        with self._lock:
            self._stream.write(json.dumps(value) + "\n")
            self._stream.flush()


# ---- presets and parameters -------------------------------------------------------------------

def load_manifests(presets_dir):
    manifests = []
    for path in sorted(Path(presets_dir).glob("*.json")):
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("name") == path.stem:
            manifests.append(manifest)
    return manifests


def load_preset(presets_dir, name):
    if not PRESET_NAME.match(name or ""):
        raise BadRequest(f"There is no preset named {name!r}.")
    base = Path(presets_dir) / name
    try:
        manifest = json.loads(base.with_suffix(".json").read_text())
        source = base.with_suffix(".py").read_text()
    except FileNotFoundError:
        raise BadRequest(f"There is no preset named {name!r}.") from None
    except (OSError, ValueError) as error:
        raise BadRequest(f"The preset {name!r} cannot be read on this host ({error}).") from None
    return manifest, source


def _number(value, kind):
    if isinstance(value, bool):
        return None
    if kind == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def validate_params(manifest, given):
    """The preset's declared parameters, with the user's values checked; nothing else passes."""
    if not isinstance(given, dict):
        raise BadRequest("The parameters must be a JSON object of names and values.")
    declared = {p["name"]: p for p in manifest.get("parameters", [])}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise BadRequest(f"The preset {manifest['name']!r} has no parameter {', '.join(map(repr, unknown))}.")
    params = {}
    for name, spec in declared.items():
        value = given.get(name, spec.get("default"))
        label = spec.get("label", name)
        kind = spec.get("type")
        if kind in ("int", "float"):
            number = _number(value, kind)
            if number is None:
                raise BadRequest(f"{label} must be {'a whole number' if kind == 'int' else 'a number'}, not {value!r}.")
            if ("min" in spec and number < spec["min"]) or ("max" in spec and number > spec["max"]):
                raise BadRequest(f"{label} must be between {spec.get('min')} and {spec.get('max')}, not {number}.")
            params[name] = number
        elif kind == "bool":
            if not isinstance(value, bool):
                raise BadRequest(f"{label} must be true or false, not {value!r}.")
            params[name] = value
        elif kind == "choice":
            if not isinstance(value, str) or value not in spec.get("choices", []):
                raise BadRequest(f"{label} must be one of {', '.join(spec.get('choices', []))}, not {value!r}.")
            params[name] = value
        else:
            raise BadRequest(f"The preset {manifest['name']!r} declares {name!r} with an unknown type {kind!r}.")
    return params


def pipeline_source(source, params):
    # repr() of a dict of ints, floats, bools and listed strings is a Python literal.
    return f"PARAMS = {params!r}\n" + source


# ---- the staged plate -------------------------------------------------------------------------

def read_plate(plate_dir):
    """Check the staged layout (docs/design/openhcs.md) and return its description."""
    plate = Path(plate_dir)
    try:
        description = json.loads((plate / "plate.json").read_text())
    except FileNotFoundError:
        raise BadRequest(f"The staged plate {plate} has no plate.json.") from None
    except (OSError, ValueError) as error:
        raise BadRequest(f"The staged plate's plate.json cannot be read ({error}).") from None
    wells = description.get("wells") if isinstance(description, dict) else None
    sites = description.get("sites") if isinstance(description, dict) else None
    channels = description.get("channels") if isinstance(description, dict) else None
    if not (isinstance(wells, list) and wells and all(isinstance(w, str) and WELL.match(w) for w in wells)):
        raise BadRequest("The staged plate lists no wells, or a well name that is not like A01.")
    if not (isinstance(sites, int) and not isinstance(sites, bool) and sites >= 1):
        raise BadRequest("The staged plate's number of sites must be a whole number of at least 1.")
    if not (isinstance(channels, list) and channels):
        raise BadRequest("The staged plate lists no channels.")
    missing = [f"{w}_s{s}_w{c}.tif" for w in wells for s in range(1, sites + 1)
               for c in range(1, len(channels) + 1)
               if not (plate / "TimePoint_1" / f"{w}_s{s}_w{c}.tif").is_file()]
    if missing:
        raise BadRequest(f"The staged plate misses {len(missing)} image file(s), e.g. TimePoint_1/{missing[0]}.")
    # OpenHCS processes every image it finds, listed or not: the counts would no longer add up.
    expected = len(wells) * sites * len(channels)
    found = sorted(p.name for p in (plate / "TimePoint_1").glob("*.tif"))
    if len(found) != expected:
        listed = {f"{w}_s{s}_w{c}.tif" for w in wells for s in range(1, sites + 1) for c in range(1, len(channels) + 1)}
        extra = [name for name in found if name not in listed]
        raise BadRequest(f"The staged plate holds {len(extra)} image file(s) plate.json does not list, "
                         f"e.g. TimePoint_1/{extra[0]}.")
    pixel_size = description.get("pixel_size_um", 1.0)
    if isinstance(pixel_size, bool) or not isinstance(pixel_size, (int, float)) or not 0 < pixel_size < 1e4:
        pixel_size = 1.0
    return {"wells": wells, "sites": sites, "channels": [str(c) for c in channels], "pixel_size_um": float(pixel_size)}


def write_htd(plate_dir, plate):
    """OpenHCS reads an ImageXpress plate only with its metadata file (.HTD); the worker stages
    none, so the bridge writes one describing exactly what was staged."""
    rows = [WELL.match(w).group(1) for w in plate["wells"]]
    cols = [int(WELL.match(w).group(2)) for w in plate["wells"]]
    row_index = [(ord(r[-1]) - 64) + 26 * (len(r) - 1) for r in rows]
    n_rows, n_cols = max(8, max(row_index)), max(12, max(cols))
    if n_rows > 8 or n_cols > 12:
        n_rows, n_cols = max(16, n_rows), max(24, n_cols)
    chosen = set(zip(row_index, cols, strict=True))
    lines = ['"HTSInfoFile", Version 1.0', '"Description", "Staged by openhcs-bridge"',
             '"PlateType", 6', '"TimePoints", 1', '"ZSeries", FALSE', '"ZSteps", 1', '"ZProjection", FALSE',
             f'"XWells", {n_cols}', f'"YWells", {n_rows}']
    for r in range(1, n_rows + 1):
        flags = ", ".join("TRUE" if (r, c) in chosen else "FALSE" for c in range(1, n_cols + 1))
        lines.append(f'"WellsSelection{r}", {flags}')
    # Sites in one row: the staged layout carries no stage positions to arrange them by.
    lines += ['"Sites", TRUE', f'"XSites", {plate["sites"]}', '"YSites", 1',
              f'"SiteSelection1", {", ".join(["TRUE"] * plate["sites"])}',
              # OpenHCS requires a pixel size; OMERO's, when the worker put it in plate.json.
              f'"PixelSizeUM", {plate["pixel_size_um"]}',
              '"Waves", TRUE', f'"NWavelengths", {len(plate["channels"])}']
    for index, name in enumerate(plate["channels"], start=1):
        safe = re.sub(r'["\r\n]', "_", name)[:64] or f"W{index}"
        lines += [f'"WaveName{index}", "{safe}"', f'"WaveCollect{index}", 1']
    lines += [f'"UniquePlateIdentifier", "{Path(plate_dir).resolve().parent.name}"', '"EndFile"']
    htd = Path(plate_dir) / "plate.HTD"
    htd.write_text("\r\n".join(lines) + "\r\n")
    # The server reads it as another user of the plate's group (the working folder is setgid, but
    # a plate staged elsewhere may not be).
    with contextlib.suppress(OSError):
        os.chown(htd, -1, Path(plate_dir).stat().st_gid)


def list_outputs(root, sub):
    folder = Path(root) / sub
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in folder.rglob("*") if p.is_file())


# ---- the run ----------------------------------------------------------------------------------

class Run:
    """One submission: relays progress, polls status, cancels on a signal or the time limit."""

    def __init__(self, out, socket_dir, wells_total, timeout):
        self.out = out
        self.socket_dir = socket_dir
        self.wells_total = wells_total
        self.timeout = timeout
        self.execution_id = None
        self.wells_done = set()
        self.stop_reason = None  # "signal" or "timeout"
        self._lock = threading.Lock()
        self._finished = False

    def accept(self, execution_id):
        """The first event: no progress line may come before it."""
        with self._lock:
            self.execution_id = execution_id
            self.out.emit(event="accepted", execution_id=execution_id)

    def finish(self, **event):
        """The final event: after it no progress line may follow (the listener runs in a thread)."""
        with self._lock:
            self._finished = True
            self.out.emit(**event)

    def on_signal(self, signum, frame):
        self.stop_reason = self.stop_reason or "signal"

    def on_progress(self, data):
        # Progress is broadcast to every subscriber: keep only this run's.
        if not isinstance(data, dict) or data.get("execution_id") != self.execution_id:
            return
        phase = str(data.get("phase", ""))
        if phase in ("pattern_group", "success"):
            return
        well = str(data.get("axis_id") or "")
        well = well if WELL.match(well) else ""
        with self._lock:
            if self._finished:
                return
            if phase == "axis_completed" and well:
                self.wells_done.add(well)
            done = len(self.wells_done)
            self.out.emit(event="progress", well=well, step=str(data.get("step_name", "")), phase=phase,
                          wells_done=done, wells_total=self.wells_total,
                          percent=round(100.0 * done / max(self.wells_total, 1), 1))

    def client(self):
        from openhcs.runtime.zmq_config import OpenHCSZMQConfig
        from openhcs.runtime.zmq_execution_client import ZMQExecutionClient

        config = OpenHCSZMQConfig(ipc_socket_dir=str(self.socket_dir))
        return ZMQExecutionClient(config=config, progress_callback=self.on_progress)

    def submit(self, client, plate_dir, source):
        from openhcs.core.config import GlobalPipelineConfig
        from openhcs.core.pipeline_document import PipelineDocumentAuthority
        from openhcs.runtime.zmq_execution_client import OpenHCSExecutionSubmission

        try:
            document = PipelineDocumentAuthority.from_source(source)
        except Exception as error:  # a preset the administrator deployed does not load
            raise BadRequest(f"The preset does not load with these parameters "
                             f"({type(error).__name__}: {error}).") from None
        submission = OpenHCSExecutionSubmission(plate_id=str(plate_dir), pipeline_document=document,
                                                global_config=GlobalPipelineConfig(num_workers=1))
        return client.submit_pipeline(submission)

    def status(self, client):
        """The execution's record, or None when the server did not answer in time."""
        try:
            response = client.get_status(self.execution_id, timeout_ms=2000)
        except Exception:
            return None
        if not isinstance(response, dict):
            return None
        execution = response.get("execution")
        if isinstance(execution, dict):
            return execution
        # The server answered but does not know the run: it restarted (records are in memory).
        return {"status": "lost"}

    def cancel(self, client):
        try:
            client.cancel_execution(self.execution_id)
        except Exception:
            return False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            record = self.status(client)
            if record is None or record.get("status") in ("cancelled", "failed", "complete", "lost"):
                return True
            time.sleep(0.2)
        return False

    def wait(self, client, started):
        last_answer = time.monotonic()
        while True:
            if self.stop_reason is None and self.timeout and time.monotonic() - started > self.timeout:
                self.stop_reason = "timeout"
            if self.stop_reason == "signal":
                self.cancel(client)
                self.finish(event="cancelled")
                return 3
            if self.stop_reason == "timeout":
                self.cancel(client)
                self.finish(event="failed",
                              reason=f"The run took longer than {self.timeout:g} seconds and was stopped.")
                return 1
            record = self.status(client)
            now = time.monotonic()
            if record is None:
                if now - last_answer > STATUS_DEADLINE_SECONDS:
                    self.finish(event="failed", reason=SERVER_GONE)
                    return 1
            else:
                last_answer = now
                state = record.get("status")
                if state == "lost":
                    self.finish(event="failed", reason=SERVER_GONE)
                    return 1
                if state == "complete":
                    summary = record.get("results_summary") or {}
                    root = summary.get("output_plate_root") or ""
                    self.finish(event="complete", output_dir=str(Path(root).resolve()) if root else "",
                                  images=list_outputs(root, "images"), results=list_outputs(root, "results"),
                                  seconds=round(time.monotonic() - started, 1))
                    return 0
                if state == "failed":
                    error = str(record.get("error") or "no reason given").strip().splitlines()
                    self.finish(event="failed", reason=f"The pipeline failed: {error[-1] if error else ''}")
                    return 1
                if state == "cancelled":
                    self.finish(event="cancelled")
                    return 3
            time.sleep(POLL_SECONDS)


def run(args, out):
    try:
        manifest, source = load_preset(args.presets_dir, args.preset)
        try:
            given = json.loads(args.params) if args.params else {}
        except ValueError:
            raise BadRequest("The parameters are not valid JSON.") from None
        params = validate_params(manifest, given)
        plate = read_plate(args.plate)
        if manifest.get("gpu") and not args.allow_gpu:
            raise BadRequest(f"The preset {manifest['name']!r} needs a GPU, and this host has none configured.")
        write_htd(args.plate, plate)
    except BadRequest as error:
        out.emit(event="failed", reason=str(error))
        return 2
    except OSError as error:
        out.emit(event="failed", reason=f"The staged plate cannot be prepared ({error.strerror}).")
        return 2

    job = Run(out, args.socket_dir, len(plate["wells"]), args.timeout)
    signal.signal(signal.SIGTERM, job.on_signal)
    signal.signal(signal.SIGINT, job.on_signal)
    started = time.monotonic()
    client = job.client()
    try:
        try:
            if not client.connect_existing(timeout=10):
                out.emit(event="failed", reason="The OpenHCS execution server is not running on this host.")
                return 1
        except Exception as error:
            out.emit(event="failed", reason=f"The OpenHCS execution server cannot be reached ({error}).")
            return 1
        if job.stop_reason:
            out.emit(event="cancelled")
            return 3
        try:
            response = job.submit(client, Path(args.plate).resolve(), pipeline_source(source, params))
        except BadRequest as error:
            out.emit(event="failed", reason=str(error))
            return 2
        except Exception as error:
            out.emit(event="failed", reason=f"The OpenHCS execution server did not accept the run ({error}).")
            return 1
        if not (isinstance(response, dict) and response.get("status") == "accepted" and response.get("execution_id")):
            message = response.get("message") if isinstance(response, dict) else response
            out.emit(event="failed", reason=f"The OpenHCS execution server refused the run: {message}")
            return 1
        job.accept(str(response["execution_id"]))
        return job.wait(client, started)
    finally:
        # The run's outcome is already out; a failing disconnect (server gone) changes nothing.
        with contextlib.suppress(Exception):
            client.disconnect()


def host_has_gpu(path):
    """GPU presets run only where the role enabled GPU access (openhcs_gpu; it writes host.json)."""
    try:
        return json.loads(Path(path).read_text()).get("gpu") is True
    except (OSError, ValueError, AttributeError):
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(prog="openhcs-bridge", description=__doc__.splitlines()[0])
    parser.add_argument("--presets-dir", default=os.environ.get("OPENHCS_PRESETS_DIR", "/etc/openhcs/presets"))
    parser.add_argument("--host-config", default="/etc/openhcs/host.json")
    parser.add_argument("--socket-dir", default=os.environ.get("OPENHCS_SOCKET_DIR", "/run/openhcs"))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version")
    commands.add_parser("presets")
    run_parser = commands.add_parser("run")
    run_parser.add_argument("--preset", required=True)
    run_parser.add_argument("--plate", required=True)
    run_parser.add_argument("--params", default="")
    run_parser.add_argument("--timeout", type=float, default=0)
    args = parser.parse_args(argv)
    args.allow_gpu = host_has_gpu(args.host_config)

    out = Output()
    if args.command == "version":
        out.emit(openhcs=metadata.version("openhcs"), bridge=BRIDGE_VERSION)
        return 0
    if args.command == "presets":
        out.write(load_manifests(args.presets_dir))
        return 0
    # Files the client makes (its startup lock in the socket directory) stay usable by the group.
    os.umask(0o007)
    # The client keeps caches under $HOME; a worker's home may not be writable.
    if not os.access(os.path.expanduser("~"), os.W_OK):
        os.environ["HOME"] = tempfile.mkdtemp(prefix="openhcs-bridge-")
        atexit.register(shutil.rmtree, os.environ["HOME"], True)
    return run(args, out)


if __name__ == "__main__":
    sys.exit(main())
