"""Runs on the lab host (as root, with the OpenHCS venv's python): makes synthetic plates with
OpenHCS's own generator, stages them in the contract's layout, and drives the bridge as the
worker would (user omero-web, group openhcs). Prints one JSON object.

    helper.py plates                        make the test plates (once)
    helper.py run PLATE JOB PARAMS [ACTION N]   ACTION: term (SIGTERM the bridge) or kill (kill -9
                                            the server) once N wells are done
    helper.py status EXECUTION_ID           the server's record of an execution
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

WORK = Path("/var/lib/openhcs/work")
FIXTURES = Path("/var/lib/openhcs/test-plates")
BRIDGE = "/opt/openhcs/bin/openhcs-bridge"
PYTHON = "/opt/openhcs/venv/bin/python"
AS_WORKER = {"user": "omero-web", "group": "omero-web", "extra_groups": ["openhcs"], "umask": 0o007}
PLATES = {  # name: (wells, tile px, cells per well)
    "small": (["A01", "B02", "C03"], 128, 40),
    "big": ([f"{r}{c:02d}" for r in "ABCD" for c in range(1, 7)], 192, 60),
}


def make_plates():
    from openhcs.demo.synthetic_data import SyntheticMicroscopyGenerator

    for name, (wells, tile, cells) in PLATES.items():
        staged = FIXTURES / name / "plate"
        if (staged / "plate.json").exists():
            continue
        raw = FIXTURES / name / "raw"
        shutil.rmtree(FIXTURES / name, ignore_errors=True)
        SyntheticMicroscopyGenerator(output_dir=str(raw), grid_size=(2, 2), tile_size=(tile, tile),
                                     wavelengths=2, z_stack_levels=1, num_cells=cells, wells=wells,
                                     random_seed=1).generate_dataset()
        # The contract's layout: TimePoint_1/<well>_s<site>_w<channel>.tif and plate.json, no HTD.
        (staged / "TimePoint_1").mkdir(parents=True)
        for tif in (raw / "TimePoint_1").glob("*.tif"):
            m = re.match(r"([A-Z]\d\d)_s(\d+)_w(\d+)\.tif$", tif.name)
            shutil.copy(tif, staged / "TimePoint_1" / f"{m[1]}_s{int(m[2])}_w{int(m[3])}.tif")
        (staged / "plate.json").write_text(json.dumps({
            "wells": wells, "sites": 4, "channels": ["DAPI", "GFP"], "source": {"type": "plate", "id": 1},
            "images": {w: {str(s): 0 for s in range(1, 5)} for w in wells}}))
        shutil.rmtree(raw)
    return {"plates": sorted(PLATES)}


def stage(plate, job):
    """Copy a test plate where the worker stages it, owned as the worker would leave it."""
    target = WORK / job
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(FIXTURES / plate / "plate", target / "plate")
    subprocess.run(["chown", "-R", "omero-web:openhcs", str(target)], check=True)
    subprocess.run(["chmod", "-R", "u+rwX,g+rwX,o-rwx", str(target)], check=True)
    # As the worker's mkdir in the setgid working folder would leave them.
    subprocess.run(["find", str(target), "-type", "d", "-exec", "chmod", "g+s", "{}", "+"], check=True)
    return target / "plate"


def server_pid():
    out = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", "openhcs-server"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return int(out)


def run(plate, job, params, action=None, after_wells=0):
    plate_dir = stage(plate, job)
    cmd = [BRIDGE, "run", "--preset", "cell_count_cpu", "--plate", str(plate_dir), "--params", params,
           "--timeout", "300"]
    started = time.monotonic()
    bridge = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **AS_WORKER)
    events, acted_at, acted = [], None, None
    # The bridge must end on its own; this only keeps a broken one from hanging the test run.
    signal.signal(signal.SIGALRM, lambda *_: bridge.kill())
    signal.alarm(240)
    for line in bridge.stdout:
        event = json.loads(line)
        events.append(event)
        if action and acted_at is None and event.get("event") == "progress" and event["wells_done"] >= after_wells:
            acted_at = time.monotonic()
            if action == "term":
                bridge.send_signal(signal.SIGTERM)
            else:
                acted = server_pid()
                os.kill(acted, signal.SIGKILL)
    rc = bridge.wait(timeout=120)
    ended = time.monotonic()
    return {"rc": rc, "events": events, "seconds": round(ended - started, 2),
            "after_action_seconds": round(ended - acted_at, 2) if acted_at else None,
            "killed_pid": acted, "output_dir": str(plate_dir.parent / "plate_openhcs")}


STATUS = """
import json, sys
from openhcs.runtime.zmq_config import OpenHCSZMQConfig
from openhcs.runtime.zmq_execution_client import ZMQExecutionClient
c = ZMQExecutionClient(config=OpenHCSZMQConfig(ipc_socket_dir="/run/openhcs"))
assert c.connect_existing(timeout=10)
print(json.dumps(c.get_status(sys.argv[1], timeout_ms=5000), default=str))
c.disconnect()
"""


def status(execution_id):
    out = subprocess.run([PYTHON, "-c", STATUS, execution_id], capture_output=True, text=True, check=True,
                         env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"}, **AS_WORKER).stdout  # noqa: S108
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    command, args = sys.argv[1], sys.argv[2:]
    if command == "plates":
        result = make_plates()
    elif command == "run":
        result = run(args[0], args[1], args[2], *(args[3:4]), *(int(a) for a in args[4:5]))
    else:
        result = status(args[0])
    print(json.dumps(result))
