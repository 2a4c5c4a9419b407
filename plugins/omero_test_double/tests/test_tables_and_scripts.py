"""OMERO.tables and the scripts service."""

from __future__ import annotations

import omero
import omero.grid
import pytest
from omero.rtypes import rint, rlong, rstring, unwrap

from omero_test_double.pytest_plugin import OmeroWorld


def _columns(ids: list[int], names: list[str], scores: list[float]) -> list[object]:
    return [omero.grid.ImageColumn("Image", "", ids),
            omero.grid.StringColumn("Name", "", 64, names),
            omero.grid.DoubleColumn("Score", "", scores)]


def test_a_table_round_trip(omero_world: OmeroWorld) -> None:
    w = omero_world
    conn = w.omero.connect("alice")
    table = conn.getSharedResources().newTable(1, "/tables/scores.h5", conn.SERVICE_OPTS)
    table.initialize(_columns([], [], []))
    table.addData(_columns([1, 2, 3], ["a", "b", "c"], [0.5, 1.5, 2.5]))
    table.addData(_columns([4], ["d"], [3.5]))
    assert table.getNumberOfRows() == 4
    assert [h.name for h in table.getHeaders()] == ["Image", "Name", "Score"]
    data = table.read([0, 2], 1, 3)
    assert data.rowNumbers == [1, 2]
    assert [c.values for c in data.columns] == [[2, 3], [1.5, 2.5]]
    assert table.getWhereList("(Score>x)", {"x": omero.rtypes.rdouble(1.0)}, 0, 0, 0) == [
        1, 2, 3]
    assert table.getWhereList("(Image==4)", {}, 0, 0, 0) == [3]
    assert [c.values for c in table.readCoordinates([0, 3]).columns][1] == ["a", "d"]
    table.setMetadata("version", rstring("1"))
    file = table.getOriginalFile()
    assert unwrap(file.getMimetype()) == "OMERO.tables"
    table.close()
    with pytest.raises(omero.ApiUsageException):
        table.getNumberOfRows()

    bob = w.omero.connect("bob")
    reopened = bob.getSharedResources().openTable(file, bob.SERVICE_OPTS)
    assert reopened.slice([1], [0, 1]).columns[0].values == ["a", "b"]
    assert unwrap(reopened.getMetadata("version")) == "1"
    with pytest.raises(omero.SecurityViolation):
        reopened.addData(_columns([5], ["e"], [1.0]))
    with pytest.raises(NotImplementedError):
        reopened.getWhereList("(Score > 1) | (Image == 2)", {}, 0, 0, 0)
    carol = w.omero.connect("carol")
    carol.SERVICE_OPTS.setOmeroGroup(-1)
    with pytest.raises(omero.SecurityViolation):
        carol.getSharedResources().openTable(file, carol.SERVICE_OPTS)


def test_bad_table_data_is_refused(omero_world: OmeroWorld) -> None:
    conn = omero_world.omero.connect("alice")
    table = conn.getSharedResources().newTable(1, "t.h5")
    with pytest.raises(omero.ApiUsageException):
        table.addData(_columns([1], ["a"], [1.0]))  # not initialised
    table.initialize(_columns([], [], []))
    with pytest.raises(omero.ApiUsageException):
        table.addData(_columns([1, 2], ["a"], [1.0]))
    with pytest.raises(omero.ApiUsageException):
        table.addData([omero.grid.LongColumn("Image", "", [1])])
    table.delete()
    assert not omero_world.omero.tables


def test_scripts_run_as_the_caller_and_record_jobs(omero_world: OmeroWorld) -> None:
    w = omero_world

    def rename(conn: object, inputs: dict) -> dict:
        image = conn.getObject("Image", inputs["IDs"][0])
        image.setName(inputs["Name"])
        image.save()
        return {"Message": f"renamed {image.getId()}", "Count": 1}

    script_id = w.omero.add_script(
        "/omero/util_scripts/Rename.py", rename,
        params={"IDs": {"prototype": omero.rtypes.rlist()}, "Name": {},
                "Note": {"optional": True}})
    conn = w.omero.connect("alice")
    scripts = conn.getScriptService()
    assert [unwrap(f.getName()) for f in scripts.getScripts()] == ["Rename.py"]
    assert scripts.getScriptID("/omero/util_scripts/Rename.py") == script_id
    assert scripts.getScriptID("/nope.py") == -1
    assert set(scripts.getParams(script_id).inputs) == {"IDs", "Name", "Note"}
    process = scripts.runScript(
        script_id, {"IDs": omero.rtypes.rlist([rlong(w.image.id)]), "Name": rstring("new")}, 0)
    assert process.poll() == rint(0)
    assert process.wait() == 0
    results = process.getResults(0)
    assert unwrap(results["Message"]) == f"renamed {w.image.id}"
    assert unwrap(results["Count"]) == 1
    assert unwrap(process.getJob().getStatus().getValue()) == "Finished"
    process.close(False)
    assert w.image.name == "new"
    assert w.omero.script_jobs[-1]["user"] == "alice"

    bob = w.omero.connect("bob").getScriptService()
    failed = bob.runScript(
        script_id, {"IDs": omero.rtypes.rlist([rlong(w.image.id)]), "Name": rstring("x")}, 0)
    assert failed.wait() == 1
    assert "SecurityViolation" in unwrap(failed.getResults(0)["stderr"])
    assert w.image.name == "new"
    with pytest.raises(omero.ValidationException):
        bob.runScript(script_id, {"Name": rstring("x")}, 0)
