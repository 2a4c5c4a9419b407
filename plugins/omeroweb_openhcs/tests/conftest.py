"""Fixtures of the OpenHCS plugin's tests: settings, a small lab in the OMERO test double with
synthetic cell images, and (for the end-to-end tests) a real OpenHCS execution server and the
real bridge command from roles/openhcs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from omeroweb_openhcs.config import openhcs_settings

REPO = Path(__file__).resolve().parents[3]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "omero-ansible-extended"

# The role's default preset (roles/openhcs/defaults/main.yml, without source) and a GPU one.
CELL_COUNT = {
    "name": "cell_count_cpu", "title": "Cell count (CPU)", "gpu": False,
    "description": "Counts cells in every site and channel and writes one table per image.",
    "parameters": [
        {"name": "min_cell_area", "label": "Smallest cell (px)", "type": "int", "min": 5,
         "max": 10000, "default": 20},
        {"name": "max_cell_area", "label": "Largest cell (px)", "type": "int", "min": 10,
         "max": 100000, "default": 400},
        {"name": "sigma", "label": "Smoothing (0 = none)", "type": "float", "min": 0.0,
         "max": 10.0, "default": 1.0},
        {"name": "normalize", "label": "Normalise intensities", "type": "bool", "default": True},
        {"name": "method", "label": "Threshold", "type": "choice", "choices": ["otsu", "li"],
         "default": "otsu"},
    ],
}
GPU_PRESET = {"name": "deconvolve_gpu", "title": "Deconvolution (GPU)", "gpu": True,
              "description": "Deconvolves every image on a GPU.", "parameters": []}
PRESETS = [CELL_COUNT, GPU_PRESET]
CELLS_PER_IMAGE = 6
SIZE = 128


def cell_plane(seed: int, cells: int = CELLS_PER_IMAGE, size: int = SIZE) -> np.ndarray:
    """A uint16 plane with `cells` separated bright disks (radius 6) on a noisy background."""
    rng = np.random.default_rng(seed)
    plane = rng.normal(200, 20, (size, size)).clip(0, None)
    yy, xx = np.mgrid[:size, :size]
    centres = [(20 + 40 * (n % 3), 25 + 45 * (n // 3)) for n in range(cells)]
    for cx, cy in centres:
        plane[(xx - cx) ** 2 + (yy - cy) ** 2 <= 36] = 3000 + rng.normal(0, 50)
    return plane.astype(np.uint16)


@pytest.fixture
def openhcs_env(tmp_path, monkeypatch):
    """The plugin's settings for a test (real workers inherit this environment)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("OPENHCS_PRESETS", json.dumps(PRESETS))
    monkeypatch.setenv("OPENHCS_WORK_DIR", str(work))
    monkeypatch.setenv("OPENHCS_MAX_CONCURRENT_PER_USER", "1")
    monkeypatch.setenv("OPENHCS_GROUP_QUOTA_HOURS", "1")
    openhcs_settings.cache_clear()
    yield work
    openhcs_settings.cache_clear()


@pytest.fixture
def lab(fake_omero):
    """alice's dataset "plate 1" of 3 two-channel images in the read-annotate group "lab";
    bob's dataset in the read-only group "archive" that alice may see but not annotate; the
    same for plates (alice's 2-well x 2-field "plate P", bob's "bob's plate")."""
    lab = fake_omero.add_group("lab", "read-annotate")
    archive = fake_omero.add_group("archive", "read-only")
    alice = fake_omero.add_user("alice", [lab, archive])
    bob = fake_omero.add_user("bob", [archive, lab])
    project = fake_omero.add_project("screen A", alice, lab)
    dataset = fake_omero.add_dataset("plate 1", alice, lab, project=project)
    for n in range(3):
        planes = np.stack([cell_plane(10 * n + c) for c in range(2)])[None, :, None]
        fake_omero.add_image(f"well {n + 1}.tif", owner=alice, group=lab, dataset=dataset,
                             size=(SIZE, SIZE, 1, 2, 1), pixel_type="uint16", planes=planes,
                             physical_size=(0.65, 0.65, None), channel_names=["DAPI", "GFP"])
    theirs = fake_omero.add_dataset("bob's controls", bob, archive)
    fake_omero.add_image("control.tif", owner=bob, group=archive, dataset=theirs,
                         size=(SIZE, SIZE, 1, 1, 1), pixel_type="uint16")
    empty = fake_omero.add_dataset("empty", alice, lab)
    mixed = fake_omero.add_dataset("mixed sizes", alice, lab)
    for n, size in enumerate((SIZE, SIZE // 2)):
        fake_omero.add_image(f"field {n + 1}.tif", owner=alice, group=lab, dataset=mixed,
                             size=(size, size, 1, 1, 1), pixel_type="uint16")
    # alice's plate "plate P" in screen "screen S": wells A01 and B02 (the real gateway's rows
    # and columns are 0-based), two fields each, created B02 first (a plate's wells come back
    # unsorted); bob's read-only plate alice may see but not annotate.
    screen = fake_omero.add_screen("screen S", alice, lab)
    plate = fake_omero.add_plate("plate P", alice, lab, screen=screen)
    fields = {}
    for row, column in ((1, 1), (0, 0)):
        well = fake_omero.add_well(plate, row, column)
        for field in range(2):
            seed = 100 + 10 * row + 2 * column + field
            planes = np.stack([cell_plane(seed + 50 * c) for c in range(2)])[None, :, None]
            image = fake_omero.add_image(
                f"P {row}-{column} field {field + 1}.tif", owner=alice, group=lab, size=(
                    SIZE, SIZE, 1, 2, 1), pixel_type="uint16", planes=planes,
                physical_size=(0.65, 0.65, None), channel_names=["DAPI", "GFP"])
            fake_omero.add_well_sample(well, image)
            fields[(row, column, field)] = image.id
    their_plate = fake_omero.add_plate("bob's plate", bob, archive)
    fake_omero.add_well_sample(fake_omero.add_well(their_plate, 0, 0), fake_omero.add_image(
        "bob's field.tif", owner=bob, group=archive, size=(SIZE, SIZE, 1, 1, 1),
        pixel_type="uint16"))
    return {"dataset": dataset, "theirs": theirs, "empty": empty, "mixed": mixed,
            "project": project, "lab": lab, "alice": alice, "screen": screen, "plate": plate,
            "plate_fields": fields, "their_plate": their_plate}


@pytest.fixture
def no_earlier_executions(plugin_services):
    """The plugin database lives for the whole session: start without earlier tests' jobs."""
    from omero_plugin_common import db

    def clear():
        with db.transaction() as tx:
            tx.execute("DELETE FROM plugin_jobs WHERE kind = 'openhcs_run'")
            tx.execute("DELETE FROM openhcs_processing_ledger")

    clear()
    yield
    clear()


# -- the real OpenHCS tier ------------------------------------------------------------------


def _first(*candidates: Path | str | None) -> Path | None:
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def openhcs_python() -> Path:
    """The OpenHCS venv bin/setup-plugins-venv builds (OPENHCS_VENV overrides)."""
    venv = _first(os.environ.get("OPENHCS_VENV"), CACHE / "openhcs-venv-0.8.6")
    if venv is None or not (venv / "bin" / "python").exists():
        pytest.fail("no OpenHCS venv: run bin/setup-plugins-venv (it builds "
                    f"{CACHE / 'openhcs-venv-0.8.6'}) or set OPENHCS_VENV")
    return venv / "bin" / "python"


def role_files() -> Path:
    """roles/openhcs/files of this checkout (OPENHCS_ROLE_FILES overrides, e.g. while the role
    is on another branch)."""
    files = _first(os.environ.get("OPENHCS_ROLE_FILES"), REPO / "roles" / "openhcs" / "files")
    if files is None or not (files / "openhcs_bridge.py").exists():
        pytest.fail("roles/openhcs/files/openhcs_bridge.py is missing (set OPENHCS_ROLE_FILES)")
    return files


class OpenHCSServer:
    """The real execution server (IPC, its own socket directory and HOME), as the role's unit
    starts it."""

    def __init__(self, python: Path, root: Path, home: Path) -> None:
        self.python, self.root, self.home = python, root, home
        self.socket_dir = root / "run"
        self.socket_dir.mkdir(mode=0o750)
        self.log = root / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> OpenHCSServer:
        config = ("from openhcs.runtime.zmq_config import OpenHCSZMQConfig; "
                  f"config = OpenHCSZMQConfig(ipc_socket_dir='{self.socket_dir}')")
        env = {**os.environ, "HOME": str(self.home), "MPLBACKEND": "Agg",
               "QT_QPA_PLATFORM": "offscreen", "OPENHCS_CPU_ONLY": "1"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.python), "-m", "openhcs.runtime.zmq_execution_server_launcher",
                 "--transport-mode", "ipc", "--persistent", "--log-level", "WARNING",
                 "--config-source", config],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"OpenHCS server exited:\n{self.log.read_text()[-3000:]}")
            if len(list(self.socket_dir.glob("*.sock"))) >= 2:
                return self
            time.sleep(0.5)
        raise RuntimeError(f"OpenHCS server not up in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)


@pytest.fixture(scope="session")
def openhcs_tier():
    """A real OpenHCS server, the real bridge (copied from the role with a wrapper that runs
    it in the OpenHCS venv, as the role's shebang does) and the presets as the role writes
    them to /etc/openhcs/presets. HOME is kept in the cache: the server's function catalogue
    is built once (a cold start takes over 30 s)."""
    python, files = openhcs_python(), role_files()
    root = Path(tempfile.mkdtemp(prefix="ohcs-", dir="/tmp"))  # socket paths < 107 chars
    home = CACHE / "openhcs-test-home"
    home.mkdir(parents=True, exist_ok=True)
    presets = root / "presets"
    presets.mkdir()
    for preset in PRESETS:
        source = files / "presets" / f"{preset['name']}.py"
        if source.exists():
            shutil.copy(source, presets / source.name)
            (presets / f"{preset['name']}.json").write_text(json.dumps(preset))
    bridge_source = root / "openhcs_bridge.py"
    shutil.copy(files / "openhcs_bridge.py", bridge_source)
    bridge = root / "openhcs-bridge"
    bridge.write_text(f"#!/bin/sh\nexec {python} -I {bridge_source} "
                      f"--presets-dir {presets} --host-config {root / 'host.json'} \"$@\"\n")
    bridge.chmod(0o755)
    server = OpenHCSServer(python, root, home).start()
    try:
        yield server, bridge
    finally:
        server.kill(signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def tier(openhcs_tier, openhcs_env, monkeypatch):
    """The settings that point the plugin (and the workers started after) at the real tier."""
    server, bridge = openhcs_tier
    monkeypatch.setenv("OPENHCS_BRIDGE", str(bridge))
    monkeypatch.setenv("OPENHCS_SOCKET_DIR", str(server.socket_dir))
    monkeypatch.setenv("OPENHCS_MAX_CONCURRENT_PER_USER", "3")
    openhcs_settings.cache_clear()
    return server, bridge, openhcs_env
