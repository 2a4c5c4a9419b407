"""The plugin's services on the OMERO test double, in-process: the presets setting, staging
tile by tile, and the import of results (idempotent: a repeated import adds nothing)."""

import json

import numpy as np
import pytest
import tifffile
from omeroweb_openhcs.config import SETTINGS
from omeroweb_openhcs.services import results, sources, staging
from omeroweb_openhcs.services.presets import parse_presets

from .conftest import PRESETS, cell_plane


def test_the_presets_setting_is_checked_at_start_up():
    assert [p.name for p in SETTINGS.load({"OPENHCS_PRESETS": json.dumps(PRESETS)}).presets] == [
        "cell_count_cpu", "deconvolve_gpu"]
    bad = [
        ("[", "not valid JSON"),
        ('{"name": "x"}', "must be a JSON list"),
        ('[{"name": "Bad Name"}]', "preset name 'Bad Name'"),
        ('[{"name": "a"}, {"name": "a"}]', "listed twice"),
        ('[{"name": "a", "parameters": [{"name": "n", "type": "int", "min": 1, "max": 5,'
         ' "default": 9}]}]', "default of parameter n"),
        ('[{"name": "a", "parameters": [{"name": "n", "type": "str", "default": ""}]}]',
         "type 'str' is not one of"),
        ('[{"name": "a", "parameters": [{"name": "c", "type": "choice", "default": "x"}]}]',
         "needs a list of text choices"),
    ]
    for raw, message in bad:
        with pytest.raises(ValueError, match=message):
            parse_presets(raw)
    with pytest.raises(ValueError, match=r"OPENHCS_PRESETS is invalid.*omero_web_plugins_settings"):
        SETTINGS.load({"OPENHCS_PRESETS": "["})


def test_staging_reads_tiles_and_writes_the_contract_layout(fake_omero, tmp_path):
    group = fake_omero.add_group("lab", "read-annotate")
    alice = fake_omero.add_user("alice", [group])
    dataset = fake_omero.add_dataset("big", alice, group)
    rng = np.random.default_rng(1)
    planes = rng.integers(0, 65535, size=(1, 2, 1, 300, 520), dtype=np.uint16)
    image = fake_omero.add_image("big.tif", owner=alice, dataset=dataset, size=(520, 300, 1, 2, 1),
                                 pixel_type="uint16", planes=planes,
                                 physical_size=(0.5, 0.5, None), channel_names=["DAPI", "GFP"])
    conn = fake_omero.connect("alice")
    source = sources.describe(conn, "dataset", dataset.id, 100)
    fake_omero.calls.reset()
    manifest = staging.stage(conn, source, tmp_path / "plate", 128, lambda done, total: None)
    assert manifest == {"wells": ["A01"], "sites": 1, "channels": ["DAPI", "GFP"],
                        "source": {"type": "dataset", "id": dataset.id}, "pixel_size_um": 0.5,
                        "images": {"A01": {"1": image.id}}}
    assert json.loads((tmp_path / "plate" / "plate.json").read_text()) == manifest
    for c in range(2):
        path = tmp_path / "plate" / "TimePoint_1" / f"A01_s1_w{c + 1}.tif"
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            assert page.is_tiled and (page.tilelength, page.tilewidth) == (128, 128)
            assert page.dtype == np.uint16
            np.testing.assert_array_equal(page.asarray(), planes[0, c, 0])
    # Tile by tile: 5 x 3 tiles of 128 px per channel, one pixels store per channel.
    assert fake_omero.calls["RawPixelsStore.getTile"] == 2 * 15
    assert fake_omero.calls["ServiceFactory.createRawPixelsStore"] == 2
    assert fake_omero.calls["RawPixelsStore.getPlane"] == 0


def test_staging_refuses_what_the_presets_cannot_read(fake_omero, tmp_path):
    group = fake_omero.add_group("lab", "read-annotate")
    alice = fake_omero.add_user("alice", [group])
    dataset = fake_omero.add_dataset("stacks", alice, group)
    fake_omero.add_image("stack.tif", owner=alice, dataset=dataset, size=(64, 64, 5, 1, 1),
                         pixel_type="uint8")
    conn = fake_omero.connect("alice")
    source = sources.describe(conn, "dataset", dataset.id, 100)
    with pytest.raises(sources.SourceError, match="has 5 z-sections and 1 time points"):
        staging.stage(conn, source, tmp_path / "plate", 1024, lambda done, total: None)


def _outputs(tmp_path):
    root = tmp_path / "plate_openhcs"
    (root / "images").mkdir(parents=True)
    (root / "results").mkdir()
    tifffile.imwrite(root / "images" / "A01.tif", np.ones((40, 50), dtype=np.float64))
    tifffile.imwrite(root / "images" / "A02.tif", np.zeros((2, 40, 50), dtype=np.uint16))
    (root / "results" / "cell_counts.csv").write_text("well,cell_count\nA01,6\n")
    return root


def test_importing_twice_adds_nothing_the_second_time(fake_omero, tmp_path):
    group = fake_omero.add_group("lab", "read-annotate")
    alice = fake_omero.add_user("alice", [group])
    project = fake_omero.add_project("screen", alice, group)
    source_ds = fake_omero.add_dataset("plate 1", alice, group, project=project)
    root = _outputs(tmp_path)
    provenance = [("job_id", "job-1"), ("preset", "cell_count_cpu")]

    def run_import():
        conn = fake_omero.connect("alice")
        source = conn.getObject("Dataset", source_ds.id)
        dataset = results.result_dataset(conn, "plate 1 – result", "desc", provenance,  # noqa: RUF001
                                         "job-1")
        results.link_to_projects(conn, source, dataset)
        images = results.import_images(conn, dataset, root, ["images/A01.tif", "images/A02.tif"])
        files = results.attach_files(conn, dataset, root, ["results/cell_counts.csv"])
        results.annotate_source(conn, source, provenance, "job-1")
        return dataset.getId(), images, files

    first, second = run_import(), run_import()
    assert first == second
    conn = fake_omero.connect("alice")
    datasets = [d for d in conn.getObjects("Dataset") if d.getName() == "plate 1 – result"]  # noqa: RUF001
    assert len(datasets) == 1
    dataset = datasets[0]
    images = {i.getName(): i for i in dataset.listChildren()}
    assert sorted(images) == ["A01.tif", "A02.tif"]
    assert images["A01.tif"].getPixelsType() == "double"
    assert images["A02.tif"].getSizeC() == 2
    assert [p.getId() for p in dataset.listParents()] == [project.id]
    assert len(list(dataset.listAnnotations(ns=results.RESULTS_NS))) == 1
    assert len(list(dataset.listAnnotations(ns=results.PROVENANCE_NS))) == 1
    source = conn.getObject("Dataset", source_ds.id)
    assert len(list(source.listAnnotations(ns=results.PROVENANCE_NS))) == 1
    # Another job's import is a new dataset, even with the same name.
    other = results.result_dataset(conn, "plate 1 – result", "desc",  # noqa: RUF001
                                   [("job_id", "job-2")], "job-2")
    assert other.getId() != dataset.getId()


def test_an_output_path_outside_the_output_folder_is_refused(fake_omero, tmp_path):
    group = fake_omero.add_group("lab", "read-annotate")
    fake_omero.add_user("alice", [group])
    conn = fake_omero.connect("alice")
    dataset = results.result_dataset(conn, "d", "", [("job_id", "j")], "j")
    root = _outputs(tmp_path)
    (tmp_path / "secret.csv").write_text("x")
    with pytest.raises(results.ImportError_, match="missing from the results"):
        results.attach_files(conn, dataset, root, ["../secret.csv"])


def test_a_plate_is_found_and_laid_out_as_wells_and_sites(fake_omero, lab, tmp_path):
    """omero-py's rows and columns are 0-based: row 1, column 1 is well B02; each well's
    fields are its sites in their order; the wells come back unsorted and are sorted here."""
    conn = fake_omero.connect("alice")
    fields = lab["plate_fields"]
    source = sources.describe(conn, "plate", lab["plate"].id, 100)
    assert (source.type, source.id, source.name, source.group_id) == (
        "plate", lab["plate"].id, "plate P", lab["lab"].id)
    assert source.wells == {"A01": {1: fields[(0, 0, 0)], 2: fields[(0, 0, 1)]},
                            "B02": {1: fields[(1, 1, 0)], 2: fields[(1, 1, 1)]}}
    assert list(source.wells) == ["A01", "B02"]
    assert source.image_count == 4
    manifest = staging.stage(conn, source, tmp_path / "plate", 128, lambda done, total: None)
    assert (manifest["wells"], manifest["sites"], manifest["channels"]) == (
        ["A01", "B02"], 2, ["DAPI", "GFP"])
    assert manifest["images"] == {"A01": {"1": fields[(0, 0, 0)], "2": fields[(0, 0, 1)]},
                                  "B02": {"1": fields[(1, 1, 0)], "2": fields[(1, 1, 1)]}}
    staged = tmp_path / "plate" / "TimePoint_1"
    assert sorted(p.name for p in staged.iterdir()) == [
        f"{w}_s{s}_w{c}.tif" for w in ("A01", "B02") for s in (1, 2) for c in (1, 2)]
    # B02's second field, channel 2, is the plane that image holds (seed as in conftest).
    np.testing.assert_array_equal(tifffile.imread(staged / "B02_s2_w2.tif"),
                                  cell_plane(100 + 10 + 2 + 1 + 50))


def test_plate_refusals_are_sentences(fake_omero, lab):
    conn = fake_omero.connect("alice")
    with pytest.raises(sources.SourceError, match="more than 3 fields") as too_many:
        sources.describe(conn, "plate", lab["plate"].id, 3)
    assert too_many.value.status == 400
    with pytest.raises(sources.SourceError) as theirs:
        sources.describe(conn, "plate", lab["their_plate"].id, 100)
    assert (theirs.value.status, theirs.value.code) == (403, "forbidden")
    assert theirs.value.message.startswith("You may not annotate the plate “bob's plate”")
    empty = fake_omero.add_plate("no fields", lab["alice"], lab["lab"])
    fake_omero.add_well(empty, 0, 0)
    with pytest.raises(sources.SourceError, match="The plate “no fields” has no images"):
        sources.describe(conn, "plate", empty.id, 100)
    with pytest.raises(sources.SourceError, match="Plate 424242 was not found") as missing:
        sources.describe(conn, "plate", 424242, 100)
    assert missing.value.status == 404


def test_the_plate_layout_is_the_same_through_omero_py_s_own_wrappers(fake_omero, lab,
                                                                      monkeypatch):
    """omero-py's PlateWrapper, WellWrapper and WellSampleWrapper (their own queries, run by
    the test double's IQuery) give the same layout as the double's wrappers."""
    from omero import gateway

    conn = fake_omero.connect("alice")
    through_double = sources.describe(conn, "plate", lab["plate"].id, 100)
    get_object = conn.getObject

    def real_plate(obj_type, oid=None, **kwargs):
        found = get_object(obj_type, oid, **kwargs)
        if obj_type == "Plate" and found is not None:
            return gateway._PlateWrapper(conn, found._obj)
        return found

    monkeypatch.setattr(conn, "getObject", real_plate)
    assert isinstance(sources.find(conn, "plate", lab["plate"].id), gateway._PlateWrapper)
    assert sources.describe(conn, "plate", lab["plate"].id, 100) == through_double
    with pytest.raises(sources.SourceError) as theirs:
        sources.describe(conn, "plate", lab["their_plate"].id, 100)
    assert theirs.value.status == 403
