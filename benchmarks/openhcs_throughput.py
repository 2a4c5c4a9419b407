"""Wells per minute of the default CPU preset on a synthetic plate: OpenHCS's own client against
the execution server ("bare"), then our bridge command on an identical copy ("bridge"), in one run.

Run with a python that has openhcs 0.8.6 (the role's venv, or any venv installed with
roles/openhcs/files/constraints-openhcs-0.8.6.txt):

    /opt/openhcs/venv/bin/python benchmarks/openhcs_throughput.py [--wells 96] [--socket-dir DIR]

Without --socket-dir it starts a private execution server (IPC sockets in a temporary folder,
CPU only) and stops it at the end; server start-up is not timed. Both paths run the same
pipeline source with the same parameters (the preset's defaults) on the same server, one after
the other. "bridge" counts everything the worker pays per job on top of OpenHCS: the bridge's
process start and imports, parameter and plate checks, the metadata file, and its status
polling. Staging from OMERO and the import of results are the plugin's and not counted here.
The issue's goal is a ratio bridge/bare of at least 0.9.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROLE_FILES = ROOT / "roles/openhcs/files"
ROWS = "ABCDEFGH"


def make_plate(folder: Path, wells: list[str]) -> Path:
    """OpenHCS's own synthetic generator, converted to the staged layout the worker writes."""
    from openhcs.demo.synthetic_data import SyntheticMicroscopyGenerator

    raw = folder / "raw"
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # it prints every tile
        SyntheticMicroscopyGenerator(output_dir=str(raw), grid_size=(2, 2), tile_size=(128, 128), wavelengths=2,
                                     z_stack_levels=1, num_cells=40, wells=wells, random_seed=1).generate_dataset()
    staged = folder / "plate"
    (staged / "TimePoint_1").mkdir(parents=True)
    for tif in (raw / "TimePoint_1").glob("*.tif"):
        m = re.match(r"([A-Z]\d\d)_s(\d+)_w(\d+)\.tif$", tif.name)
        shutil.copy(tif, staged / "TimePoint_1" / f"{m[1]}_s{int(m[2])}_w{int(m[3])}.tif")
    (staged / "plate.json").write_text(json.dumps({"wells": wells, "sites": 4, "channels": ["DAPI", "GFP"],
                                                   "source": {"type": "plate", "id": 0}, "images": {}}))
    shutil.rmtree(raw)
    return staged


def presets_dir(folder: Path) -> tuple[Path, dict]:
    """The role's default preset, as the role writes it (source + manifest)."""
    import yaml

    defaults = yaml.safe_load((ROOT / "roles/openhcs/defaults/main.yml").read_text())
    preset = next(p for p in defaults["openhcs_presets"] if p["name"] == "cell_count_cpu")
    target = folder / "presets"
    target.mkdir()
    shutil.copy(ROLE_FILES / preset["source"], target / "cell_count_cpu.py")
    manifest = {k: v for k, v in preset.items() if k != "source"}
    (target / "cell_count_cpu.json").write_text(json.dumps(manifest))
    params = {p["name"]: p["default"] for p in manifest["parameters"]}
    return target, params


def start_server(socket_dir: Path, home: Path) -> subprocess.Popen:
    source = ("from openhcs.runtime.zmq_config import OpenHCSZMQConfig; "
              f"config = OpenHCSZMQConfig(ipc_socket_dir='{socket_dir}')")
    env = dict(os.environ, HOME=str(home), OPENHCS_CPU_ONLY="1", MPLBACKEND="Agg", QT_QPA_PLATFORM="offscreen")
    server = subprocess.Popen([sys.executable, "-m", "openhcs.runtime.zmq_execution_server_launcher",
                               "--transport-mode", "ipc", "--persistent", "--log-level", "WARNING",
                               "--config-source", source], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (socket_dir / "openhcs-zmq-8777.sock").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the execution server did not start")
        time.sleep(1)
    return server


def run_bare(socket_dir: Path, plate: Path, source: str, params: dict) -> float:
    from openhcs.core.config import GlobalPipelineConfig
    from openhcs.core.pipeline_document import PipelineDocumentAuthority
    from openhcs.runtime.zmq_config import OpenHCSZMQConfig
    from openhcs.runtime.zmq_execution_client import OpenHCSExecutionSubmission, ZMQExecutionClient

    started = time.monotonic()
    client = ZMQExecutionClient(config=OpenHCSZMQConfig(ipc_socket_dir=str(socket_dir)))
    if not client.connect_existing(timeout=10):
        raise SystemExit("cannot reach the execution server")
    # The bare path needs the metadata file too: OpenHCS reads no plate without one.
    bridge = load_bridge()
    bridge.write_htd(plate, bridge.read_plate(plate))
    document = PipelineDocumentAuthority.from_source(f"PARAMS = {params!r}\n" + source)
    result = client.execute_pipeline(OpenHCSExecutionSubmission(
        plate_id=str(plate), pipeline_document=document, global_config=GlobalPipelineConfig(num_workers=1)))
    client.disconnect()
    seconds = time.monotonic() - started
    status = result.get("status") if isinstance(result, dict) else result
    if status not in ("complete", "success", "ok"):
        raise SystemExit(f"bare run did not complete: {result}")
    return seconds


def run_bridge(socket_dir: Path, presets: Path, plate: Path) -> float:
    started = time.monotonic()
    out = subprocess.run([sys.executable, str(ROLE_FILES / "openhcs_bridge.py"), "--presets-dir", str(presets),
                          "--socket-dir", str(socket_dir), "run", "--preset", "cell_count_cpu", "--plate", str(plate)],
                         capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    last = json.loads(out.stdout.strip().splitlines()[-1])
    if out.returncode != 0 or last["event"] != "complete":
        raise SystemExit(f"bridge run did not complete: {last}")
    return seconds


def load_bridge():
    import importlib.util

    spec = importlib.util.spec_from_file_location("openhcs_bridge", ROLE_FILES / "openhcs_bridge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=96, help="wells of the synthetic plate (1-96)")
    parser.add_argument("--socket-dir", type=Path, help="an execution server already running (its socket folder)")
    args = parser.parse_args()
    wells = [f"{ROWS[i // 12]}{i % 12 + 1:02d}" for i in range(max(1, min(args.wells, 96)))]

    work = Path(tempfile.mkdtemp(prefix="openhcs-bench-"))
    server = None
    try:
        os.environ.setdefault("MPLBACKEND", "Agg")
        t0 = time.monotonic()
        template = make_plate(work / "template", wells)
        print(f"synthetic plate: {len(wells)} wells x 4 sites x 2 channels, 128 px tiles "
              f"({time.monotonic() - t0:.1f} s to generate)")
        presets, params = presets_dir(work)
        source = (presets / "cell_count_cpu.py").read_text()
        socket_dir = args.socket_dir
        if socket_dir is None:
            socket_dir = work / "ipc"
            socket_dir.mkdir()
            t0 = time.monotonic()
            server = start_server(socket_dir, work / "home")
            print(f"execution server started in {time.monotonic() - t0:.1f} s (not counted)")
        # A warm-up run of one well, so neither path pays the server's first-run imports.
        # OpenHCS processes every image file it finds, so the warm-up plate holds one well's only.
        warm = work / "warm"
        shutil.copytree(template, warm / "plate", ignore=lambda d, names: [
            n for n in names if n.endswith(".tif") and not n.startswith(wells[0] + "_")])
        plate_json = json.loads((warm / "plate" / "plate.json").read_text())
        plate_json["wells"] = wells[:1]
        (warm / "plate" / "plate.json").write_text(json.dumps(plate_json))
        run_bridge(socket_dir, presets, warm / "plate")

        shutil.copytree(template, work / "bare" / "plate")
        shutil.copytree(template, work / "bridge" / "plate")
        bare = run_bare(socket_dir, work / "bare" / "plate", source, params)
        ours = run_bridge(socket_dir, presets, work / "bridge" / "plate")
        bare_rate, our_rate = 60 * len(wells) / bare, 60 * len(wells) / ours
        print(f"bare OpenHCS client: {bare:7.1f} s  {bare_rate:7.1f} wells/min")
        print(f"openhcs-bridge:      {ours:7.1f} s  {our_rate:7.1f} wells/min")
        print(f"ratio bridge/bare:   {our_rate / bare_rate:.3f} (goal >= 0.9)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
