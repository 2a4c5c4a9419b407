"""A real Celery worker whose OMERO is the test double, shared with the test through a file.

Start it as ``celery -A omero_test_double.worker worker ...`` with ``OMERO_TEST_DOUBLE_STATE``
naming a ``FakeOmero.dump`` file (the ``fake_omero_worker`` fixture of omero_plugin_common's
test harness does this). Before each task the worker loads the state and lets the job-service
account log in to it; after each task it dumps the state back and appends the task id to
``<state>.done``, so the test knows when the state it loads includes that task's writes
(the job row turns "succeeded" a moment before the dump).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import signals

from omero_plugin_common import omero_session
from omero_plugin_common.celery_app import app

from . import jobs as _jobs  # noqa: F401 - registers the test job kinds
from .login import login_factory
from .store import FakeOmero

__all__ = ["app"]

_current: list[FakeOmero] = []


def _state_path() -> Path:
    try:
        return Path(os.environ["OMERO_TEST_DOUBLE_STATE"])
    except KeyError:
        raise RuntimeError("OMERO_TEST_DOUBLE_STATE must name a FakeOmero.dump file") from None


@signals.task_prerun.connect
def _load(**_: Any) -> None:
    omero = FakeOmero.load(_state_path())
    _current[:] = [omero]
    omero_session.use_gateway_factory(login_factory(omero))


@signals.task_postrun.connect
def _dump(task_id: str | None = None, **_: Any) -> None:
    if not _current:
        return
    path = _state_path()
    _current.pop().dump(path)
    with open(f"{path}.done", "a", encoding="utf-8") as done:
        done.write(f"{task_id}\n")
