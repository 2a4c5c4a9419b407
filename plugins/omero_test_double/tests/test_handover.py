"""Handing the fake to another process (a real Celery worker) and back."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from omero_test_double import FakeOmero
from omero_test_double.pytest_plugin import OmeroWorld

WORKER = textwrap.dedent("""
    import sys
    from omero_test_double import FakeOmero

    omero = FakeOmero.load(sys.argv[1])
    conn = omero.connect("alice")
    image = conn.getObject("Image", int(sys.argv[2]))
    image.setName("renamed by the worker")
    image.save()
    assert image.getPrimaryPixels().getPlane(1, 1, 1).shape == (30, 40)
    omero.dump(sys.argv[1])
""")


def test_a_separate_process_works_on_the_same_state(omero_world: OmeroWorld,
                                                     tmp_path: Path) -> None:
    w = omero_world
    state = tmp_path / "omero.pickle"
    w.omero.dump(state)
    subprocess.run([sys.executable, "-c", WORKER, str(state), str(w.image.id)], check=True,
                   timeout=120)
    after = FakeOmero.load(state)
    assert after.records[w.image.id].name == "renamed by the worker"
    assert after.calls["IUpdate.saveAndReturnObject"] == 1
    after.add_project("still works", owner=after.user_named("bob"))
    assert max(after.records) > max(w.omero.records)  # ids go on where they stopped


def test_load_refuses_other_pickles(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "x.pickle"
    path.write_bytes(pickle.dumps({"not": "omero"}))
    with pytest.raises(TypeError):
        FakeOmero.load(path)
