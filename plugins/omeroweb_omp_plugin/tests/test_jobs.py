import pytest

from omero_plugin_common import jobs
from omeroweb_omp_plugin.config import omp_settings
from omeroweb_omp_plugin.services import omero_io, ownership, writing

from .conftest import map_values

PARSER = {"mode": "separators", "separators": ["_"], "variables": ["Project", "Cells"]}


@pytest.fixture
def run_job(celery_eager, job_service):
    def run(kind, owner, **params):
        job = jobs.submit(kind, owner, params)
        return jobs.get(job.id)

    return run


def test_write_job_writes_marked_pairs_in_one_batch(lab, run_job, caplog):
    lab.omero.calls.reset()
    with caplog.at_level("INFO", logger="omeroweb_omp_plugin.services.writing"):
        job = run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    assert job.state == "succeeded", job.error
    assert job.result == {"images": 3, "written": 3, "deleted": 0, "not_permitted": 0,
                          "regex_timeouts": 0, "no_values": 0, "names_too_long": 0,
                          "summary": "Key/value pairs written on 3 images of 3."}
    assert lab.omero.calls["IUpdate.saveArray"] == 1
    [(ns, pairs)] = map_values(lab.omero, lab.images[2])
    assert ns == omero_io.KV_NAMESPACE
    assert pairs[:4] == [("Project", "P2"), ("Cells", "T-cell"), ("Var3", "plastic"),
                         ("Var4", "pos3")]
    assert ownership.is_plugin_owned(pairs, omp_settings().hash_secret)
    assert job.progress_done == job.progress_total == 3
    # The user's log reads as sentences about their images; the counters are for operators.
    assert job.log == ["3 images in 1 dataset.", "Images 1 to 3 of 3 done.",
                       "Key/value pairs written on 3 images of 3."]
    assert "regex_timeouts 0" in caplog.text and "not_permitted 0" in caplog.text


def test_job_summary_names_what_was_skipped(lab, run_job):
    job = run_job("omp_write", "bob", dataset_ids=[lab.ro_dataset.id], parser=PARSER)
    assert job.result["summary"] == ("Key/value pairs written on 0 images of 1; 1 image "
                                     "skipped: you may not change them.")
    assert not any("not_permitted" in line for line in job.log)


def test_job_batch_size_comes_from_the_request(lab, run_job):
    job = run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER,
                  batch_size=1)
    assert [line for line in job.log if line.startswith("Image ")] == [
        "Image 1 of 3 done.", "Image 2 of 3 done.", "Image 3 of 3 done."]


def test_a_second_identical_run_writes_nothing(lab, run_job):
    run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    again = run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    assert again.result["written"] == 0
    assert len(map_values(lab.omero, lab.images[0])) == 1


def test_group_member_may_annotate_in_read_annotate_but_not_read_only(lab, run_job):
    job = run_job("omp_write", "bob", dataset_ids=[lab.dataset.id], parser=PARSER)
    assert job.result["written"] == 3
    job = run_job("omp_write", "bob", dataset_ids=[lab.ro_dataset.id], parser=PARSER)
    assert job.result["written"] == 0 and job.result["not_permitted"] == 1
    assert map_values(lab.omero, lab.ro_image) == []


def test_delete_plugin_keeps_foreign_annotations(lab, run_job):
    secret = omp_settings().hash_secret
    image = lab.images[0]
    # Foreign: a hand-made annotation, and one carrying a forged omp_hash.
    lab.omero.add_map_annotation([("Note", "by hand")], owner=lab.alice,
                                 ns=omero_io.KV_NAMESPACE, parent=image)
    forged = [("Project", "P1"), ("omp_hash", "omphash_v1:" + "0" * 64)]
    lab.omero.add_map_annotation(forged, owner=lab.alice, ns=omero_io.KV_NAMESPACE,
                                 parent=image)
    # Marked with another site's secret: not ours either.
    lab.omero.add_map_annotation(ownership.with_mark([("a", "b")], "x" * 40),
                                 owner=lab.alice, parent=image)
    run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    job = run_job("omp_delete_plugin", "alice", dataset_ids=[lab.dataset.id])
    assert job.state == "succeeded", job.error
    assert job.result["deleted"] == 3 and job.result["kept_foreign"] == 3
    left = [pairs for _, pairs in map_values(lab.omero, image)]
    assert len(left) == 3
    assert not any(ownership.is_plugin_owned(p, secret) for p in left)


def test_delete_all_removes_every_deletable_map_annotation(lab, run_job):
    lab.omero.add_map_annotation([("Note", "x")], owner=lab.alice, parent=lab.images[1])
    run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    job = run_job("omp_delete_all", "alice", dataset_ids=[lab.dataset.id])
    assert job.result["deleted"] == 4 and job.result["still_present"] == 0
    assert all(map_values(lab.omero, i) == [] for i in lab.images)


def test_member_cannot_delete_the_owners_annotations(lab, run_job):
    run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    job = run_job("omp_delete_all", "bob", dataset_ids=[lab.dataset.id])
    assert job.result["deleted"] == 0 and job.result["not_permitted"] == 3
    assert len(map_values(lab.omero, lab.images[0])) == 1


def test_write_with_delete_mode_plugin_replaces_only_its_own(lab, run_job):
    lab.omero.add_map_annotation([("Note", "x")], owner=lab.alice, parent=lab.images[0])
    run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    changed = {**PARSER, "variables": ["Proj", "Cells"]}
    job = run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=changed,
                  delete_mode="plugin")
    assert job.result["written"] == 3 and job.result["deleted"] == 3
    keys = sorted(p[0][0] for _, p in map_values(lab.omero, lab.images[0]))
    assert keys == ["Note", "Proj"]


def test_acquisition_job_writes_dimensions_and_channels(lab, run_job):
    job = run_job("omp_acquisition", "alice", dataset_ids=[lab.dataset.id])
    assert job.state == "succeeded", job.error
    assert job.result["written"] == 3
    [(_, pairs)] = map_values(lab.omero, lab.images[0])
    values = dict(pairs)
    assert values["Dimensions XYZCT"] == "64 x 48 x 1 x 1 x 1"
    assert values["Pixel type"] == "uint8" and "omp_hash" in values


def test_unknown_dataset_fails_the_job_with_a_reason(lab, run_job):
    job = run_job("omp_write", "alice", dataset_ids=[999999], parser=PARSER)
    assert job.state == "failed" and "not found" in job.error


def test_long_acquisition_values_go_to_an_attached_text_file(lab):
    conn = lab.omero.connect("alice")
    image = conn.getObject("Image", lab.images[0].id)
    writing._attach_text(conn, image, "acquisition_metadata.txt", "BF_Notes: " + "x" * 300)
    files = [a for a in conn.getObject("Image", lab.images[0].id).listAnnotations(
        ns=omero_io.FULL_METADATA_NS)]
    assert len(files) == 1 and files[0].getFile().getName() == "acquisition_metadata.txt"
    assert b"".join(files[0].getFileInChunks()).decode().startswith("BF_Notes: xxx")


@pytest.mark.parametrize(("level", "written", "state"), [
    ("private", None, "failed"),        # a member cannot even see the owner's data
    ("read-only", 0, "succeeded"),      # sees it, may not annotate it
    ("read-annotate", 2, "succeeded"),
    ("read-write", 2, "succeeded"),
])
def test_a_group_member_writes_where_the_group_level_allows(fake_omero, run_job, level,
                                                            written, state):
    group = fake_omero.add_group("g", level)
    owner = fake_omero.add_user("owner", [group])
    fake_omero.add_user("member", [group])
    dataset = fake_omero.add_dataset("D", owner=owner, group=group)
    for name in ("a_b.tif", "c_d.tif"):
        fake_omero.add_image(name, owner=owner, group=group, dataset=dataset)
    job = run_job("omp_write", "member", dataset_ids=[dataset.id], parser=PARSER)
    assert job.state == state
    if written is not None:
        assert job.result["written"] == written
        assert job.result["not_permitted"] == 2 - written
    # The owner may always write to their own images (those the member wrote identically
    # already carry the annotation and are skipped).
    assert run_job("omp_write", "owner", dataset_ids=[dataset.id], parser=PARSER
                   ).result["written"] == 2 - (written or 0)


def test_regex_without_a_match_writes_nothing_and_says_so(lab, run_job):
    parser = {"mode": "regex", "regex": r"^(X\d+)_(\w+)"}
    job = run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=parser)
    assert job.result["written"] == 0 and job.result["no_values"] == 3


def test_the_image_list_is_recorded_as_the_first_step(lab, run_job):
    from omero_plugin_common import db

    job = run_job("omp_write", "alice", dataset_ids=[lab.dataset.id], parser=PARSER)
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT step, result FROM plugin_job_steps WHERE job_id = %s"
                           " ORDER BY step", (str(job.id),))
    steps = {r["step"]: r["result"] for r in rows}
    assert steps["images"] == sorted(i.id for i in lab.images)
    assert "write-batch-1" in steps
