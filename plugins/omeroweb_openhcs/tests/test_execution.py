"""An execution end to end with the real parts: a real Celery worker of queue openhcs (its
OMERO the test double), the role's real bridge command and a real OpenHCS 0.8.6 execution
server running the role's default preset on images staged from OMERO. Checks progress in the
job, the results in OMERO (dataset, images, measurement files, provenance) with a measured
value, cancel mid-run, and a server killed mid-run."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from pathlib import Path

import pytest
from django.test import Client

from omero_plugin_common import db, jobs
from omero_test_double.harness.waiting import wait_for

from .conftest import CELLS_PER_IMAGE, OpenHCSServer

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("no_earlier_executions")]
URL = "/omeroweb_openhcs/executions/"


def start(fake_omero, login_as, source, kind="dataset", **params):
    login_as(fake_omero.connect("alice"))
    response = Client().post(URL, content_type="application/json", data=json.dumps({
        "preset": "cell_count_cpu", "params": params,
        "source": {"type": kind, "id": source.id}}))
    assert response.status_code == 202, response.content
    return response.json()["id"]


def wait_until_accepted(job_id):
    """Until the server has accepted the job's run (the job log says so)."""
    wait_for(lambda: any("Accepted" in line for line in (jobs.get(job_id).log or [])),
             timeout=240, what="accepted run")


def execution_row(job_id):
    with db.transaction() as tx:
        return tx.fetchone("SELECT * FROM openhcs_executions WHERE job_id = %s", (job_id,))


def measured_counts(dataset):
    """The cell counts in the result CSVs attached to the result dataset."""
    counts = []
    for annotation in dataset.listAnnotations(ns="openhcs.omero.results"):
        if not annotation.getFile().getName().endswith(".csv"):
            continue
        text = b"".join(annotation.getFileInChunks()).decode()
        for record in csv.DictReader(io.StringIO(text)):
            for key, value in record.items():
                if key and "cell_count" in key.lower() and value not in ("", None):
                    counts.append(float(value))
    return counts


def test_a_preset_runs_on_the_real_server_and_its_results_come_back(
        tier, fake_omero, lab, login_as, fake_omero_worker):
    _, _, work = tier
    worker = fake_omero_worker("openhcs")
    job_id = start(fake_omero, login_as, lab["dataset"], min_cell_area=20)
    omero = worker.omero_after(job_id, timeout=300)
    job = jobs.get(job_id)
    assert job.state == "succeeded", (job.error, worker.log()[-3000:])
    # Progress reached the job: every well done, and the server's steps were relayed.
    row = execution_row(job_id)
    assert (row["wells_done"], row["wells_total"]) == (3, 3)
    assert row["current_step"]  # the last step the server reported
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert any("Accepted by the OpenHCS server." in line for line in job.log)
    assert {line for line in job.log if line.startswith("Well ")} == {
        "Well A01 done.", "Well A02 done.", "Well A03 done."}
    assert not (work / job_id).exists()  # staging deleted
    with db.transaction() as tx:
        ledger = tx.fetchone("SELECT * FROM openhcs_processing_ledger WHERE job_id = %s",
                             (job_id,))
    assert ledger["owner"] == "alice" and ledger["group_id"] == lab["lab"].id
    assert 0 < ledger["seconds"] < 300

    # In OMERO: the new dataset in the source's project, images, CSVs, provenance on both.
    result = job.result
    conn = omero.connect("alice")
    dataset = conn.getObject("Dataset", result["dataset"])
    assert dataset.getName().startswith("plate 1 – Cell count (CPU) ")  # noqa: RUF001
    assert [p.getId() for p in dataset.listParents()] == [lab["project"].id]
    images = list(dataset.listChildren())
    assert len(images) == len(result["images"]) >= 1
    provenance = {k: v for k, v in next(dataset.listAnnotations(
        ns="openhcs.omero.provenance")).getValue()}
    assert provenance["job_id"] == job_id
    assert provenance["preset"] == "cell_count_cpu"
    assert json.loads(provenance["parameters"])["min_cell_area"] == 20
    assert provenance["openhcs_version"] == "0.8.6"
    assert len(json.loads(provenance["input_images"])) == 3
    source = conn.getObject("Dataset", lab["dataset"].id)
    on_source = [dict(a.getValue()) for a in source.listAnnotations(ns="openhcs.omero.provenance")]
    assert [a["result_dataset"] for a in on_source] == [str(result["dataset"])]

    # A measured value: the counts of the synthetic cells (6 per image and channel).
    files = list(dataset.listAnnotations(ns="openhcs.omero.results"))
    assert len(files) == len(result["files"]) >= 1
    counts = measured_counts(dataset)
    assert counts, [a.getFile().getName() for a in files]
    assert all(CELLS_PER_IMAGE - 2 <= c <= CELLS_PER_IMAGE + 2 for c in counts), counts


def test_a_plate_runs_on_the_real_server_and_its_results_are_linked_to_it(
        tier, fake_omero, lab, login_as, fake_omero_worker):
    """A 2-well x 2-field plate: staged as wells and sites, run, imported, and the result
    dataset named on the plate (a plate has no project to put it in)."""
    _, _, work = tier
    worker = fake_omero_worker("openhcs")
    job_id = start(fake_omero, login_as, lab["plate"], kind="plate", min_cell_area=20)
    omero = worker.omero_after(job_id, timeout=300)
    job = jobs.get(job_id)
    assert job.state == "succeeded", (job.error, worker.log()[-3000:])
    row = execution_row(job_id)
    assert (row["source_type"], row["source_name"]) == ("plate", "plate P")
    assert (row["wells_done"], row["wells_total"]) == (2, 2)
    assert {line for line in job.log if line.startswith("Well ")} == {
        "Well A01 done.", "Well B02 done."}
    assert any("Staging 4 images from OMERO." in line for line in job.log)
    assert not (work / job_id).exists()

    conn = omero.connect("alice")
    result = job.result
    assert result["source"] == {"type": "plate", "id": lab["plate"].id}
    dataset = conn.getObject("Dataset", result["dataset"])
    assert dataset.getName().startswith("plate P – Cell count (CPU) ")  # noqa: RUF001
    assert dataset.listParents() == []
    # One output image per well, site and channel: both fields of both wells were processed.
    assert sorted(i.getName() for i in dataset.listChildren()) == [
        f"{w}_s00{s}_w{c}_z001_t001.tif" for w in ("A01", "B02") for s in (1, 2) for c in (1, 2)]
    assert len(result["images"]) == 8
    provenance = dict(next(dataset.listAnnotations(ns="openhcs.omero.provenance")).getValue())
    assert provenance["source"] == f"plate:{lab['plate'].id}"
    fields = lab["plate_fields"]
    # Wells in name order (A01, B02), fields in their order in the well.
    assert json.loads(provenance["input_images"]) == [
        fields[(0, 0, 0)], fields[(0, 0, 1)], fields[(1, 1, 0)], fields[(1, 1, 1)]]
    plate = conn.getObject("Plate", lab["plate"].id)
    on_plate = [dict(a.getValue()) for a in plate.listAnnotations(ns="openhcs.omero.provenance")]
    assert [(a["job_id"], a["result_dataset"]) for a in on_plate] == [
        (job_id, str(result["dataset"]))]
    counts = measured_counts(dataset)
    # One count per field and channel (6 synthetic cells in each).
    assert len(counts) == 8, counts
    assert all(CELLS_PER_IMAGE - 2 <= c <= CELLS_PER_IMAGE + 2 for c in counts), counts


def test_cancel_mid_run_stops_the_server_execution(tier, fake_omero, lab, login_as,
                                                   fake_omero_worker):
    _, _, work = tier
    worker = fake_omero_worker("openhcs")
    job_id = start(fake_omero, login_as, lab["dataset"])
    wait_until_accepted(job_id)
    jobs.request_cancel(job_id)
    worker.omero_after(job_id, timeout=120)
    job = jobs.get(job_id)
    assert job.state == "cancelled", (job.state, job.error, worker.log()[-2000:])
    assert execution_row(job_id)["result_dataset_id"] is None
    assert not (work / job_id).exists()
    with db.transaction() as tx:  # the server's time until the cancel counts for the quota
        ledger = tx.fetchone("SELECT seconds FROM openhcs_processing_ledger WHERE job_id = %s",
                             (job_id,))
    assert ledger is not None and ledger["seconds"] > 0


def test_a_server_killed_mid_run_fails_the_job_with_a_reason(
        openhcs_tier, openhcs_env, monkeypatch, fake_omero, lab, login_as, fake_omero_worker,
        tmp_path):
    python, bridge = openhcs_tier[0].python, openhcs_tier[1]
    own = tmp_path / "server"
    own.mkdir()
    server = OpenHCSServer(python, own, openhcs_tier[0].home).start()
    try:
        monkeypatch.setenv("OPENHCS_BRIDGE", str(bridge))
        monkeypatch.setenv("OPENHCS_SOCKET_DIR", str(server.socket_dir))
        worker = fake_omero_worker("openhcs")
        job_id = start(fake_omero, login_as, lab["dataset"])
        wait_until_accepted(job_id)
        server.kill(signal.SIGKILL)
        worker.omero_after(job_id, timeout=120)
        job = jobs.get(job_id)
        assert job.state == "failed"
        assert execution_row(job_id)["reason"] == (
            "The OpenHCS execution server stopped during the run.")
        assert not (openhcs_env / job_id).exists()
    finally:
        server.kill()


def test_a_worker_killed_mid_run_is_resumed_and_imports_once(tier, fake_omero, lab, login_as,
                                                             fake_omero_worker):
    _, _, work = tier
    first = fake_omero_worker("openhcs", name="openhcs@killed")
    job_id = start(fake_omero, login_as, lab["dataset"])
    wait_until_accepted(job_id)
    first.kill()  # the whole worker, bridge included, as kill -9 of the unit's processes
    assert jobs.get(job_id).state == "running"
    # The unit restarts under the same name: the worker-start recovery resumes the job.
    second = fake_omero_worker("openhcs", name="openhcs@killed")
    omero = second.omero_after(job_id, timeout=300)
    job = jobs.get(job_id)
    assert job.state == "succeeded", (job.error, second.log()[-3000:])
    assert job.attempts == 2
    assert any("lost; resuming" in line for line in job.log)
    conn = omero.connect("alice")
    made = [d for d in conn.getObjects("Dataset") if d.getName().startswith("plate 1 – ")]  # noqa: RUF001
    assert [d.getId() for d in made] == [job.result["dataset"]]
    assert not (work / job_id).exists()


def _bridge_pids(plate_dir):
    """Processes whose command line runs the bridge on this plate (read from /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"openhcs_bridge.py" in part for part in cmdline) and \
                str(plate_dir).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def test_a_bridge_killed_mid_run_fails_the_job_with_a_reason(tier, fake_omero, lab, login_as,
                                                             fake_omero_worker):
    _, _, work = tier
    worker = fake_omero_worker("openhcs")
    job_id = start(fake_omero, login_as, lab["dataset"])
    wait_until_accepted(job_id)
    pids = _bridge_pids(work / job_id / "plate")
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    worker.omero_after(job_id, timeout=120)
    job = jobs.get(job_id)
    assert job.state == "failed"
    assert execution_row(job_id)["reason"] == (
        "The OpenHCS bridge stopped without a result (exit status -9).")
    assert not (work / job_id).exists()
