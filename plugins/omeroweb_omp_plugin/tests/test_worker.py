"""The write job in a real Celery worker process on queue omp (OMERO: the test double,
handed to the worker through a file)."""

import pytest

from omero_plugin_common import jobs
from omeroweb_omp_plugin.config import omp_settings
from omeroweb_omp_plugin.services import ownership

from .conftest import map_values


@pytest.mark.worker
def test_write_then_delete_plugin_owned_in_a_real_worker(lab, fake_omero_worker):
    lab.omero.add_map_annotation([("Note", "foreign")], owner=lab.alice, parent=lab.images[0])
    worker = fake_omero_worker("omp")
    job = jobs.submit("omp_write", "alice", {
        "dataset_ids": [lab.dataset.id], "delete_mode": "keep",
        "parser": {"mode": "separators", "separators": ["_"]}})
    after = worker.omero_after(job.id)
    done = jobs.get(job.id)
    assert done.state == "succeeded", done.error
    assert done.worker == "omp@fake" and done.result["written"] == 3
    pairs = [p for _, p in map_values(after, lab.images[0])]
    assert len(pairs) == 2
    assert sum(ownership.is_plugin_owned(p, omp_settings().hash_secret) for p in pairs) == 1

    worker.share(after)
    job = jobs.submit("omp_delete_plugin", "alice", {"dataset_ids": [lab.dataset.id]})
    after = worker.omero_after(job.id)
    assert jobs.get(job.id).result["deleted"] == 3
    assert [p for _, p in map_values(after, lab.images[0])] == [[("Note", "foreign")]]
