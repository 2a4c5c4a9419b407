"""Screens, plates, wells and well samples through FakeBlitzGateway: the layout, what each
call costs, and permissions grouped as for datasets and images."""

from __future__ import annotations

import pytest

from omero_test_double import FakeOmero


@pytest.fixture
def screen_lab() -> dict:
    """alice's plate "P1" (screen "S1", read-annotate group "lab"): wells A1 and B3, two
    fields each; bob's plate in read-only "archive"; carol's plate in private "solo"."""
    omero = FakeOmero()
    lab = omero.add_group("lab", "read-annotate")
    archive = omero.add_group("archive", "read-only")
    solo = omero.add_group("solo", "private")
    alice = omero.add_user("alice", [lab, archive])
    bob = omero.add_user("bob", [archive, lab])
    carol = omero.add_user("carol", [solo])
    screen = omero.add_screen("S1", alice, lab)
    plate = omero.add_plate("P1", alice, lab, screen=screen)
    images = {}
    for row, column in ((0, 0), (1, 2)):
        well = omero.add_well(plate, row, column)
        for field in range(2):
            image = omero.add_image(f"r{row}c{column}f{field}", alice, lab)
            omero.add_well_sample(well, image)
            images[(row, column, field)] = image.id
    theirs = omero.add_plate("archived", bob, archive)
    omero.add_well_sample(omero.add_well(theirs, 0, 0), omero.add_image("x", bob, archive))
    private = omero.add_plate("private", carol, solo)
    return {"omero": omero, "screen": screen, "plate": plate, "images": images,
            "theirs": theirs, "private": private}


def test_a_plate_is_laid_out_as_wells_and_fields(screen_lab) -> None:
    omero = screen_lab["omero"]
    conn = omero.connect("alice")
    omero.calls.reset()
    plate = conn.getObject("Plate", screen_lab["plate"].id)
    assert (plate.getName(), plate.getId()) == ("P1", screen_lab["plate"].id)
    wells = list(plate.listChildren())
    assert sorted((w.getRow(), w.getColumn()) for w in wells) == [(0, 0), (1, 2)]
    layout = {(w.getRow(), w.getColumn()): [s.getImage().getId() for s in w.listChildren()]
              for w in wells}
    images = screen_lab["images"]
    assert layout == {(r, c): [images[(r, c, 0)], images[(r, c, 1)]] for r, c in layout}
    assert plate.countChildren() == 2  # cached with the wells, as PlateWrapper does
    # getObject, then one query for the wells with their fields and images.
    assert omero.calls["IQuery.findByQuery"] == 1
    assert omero.calls["IQuery.findAllByQuery"] == 1
    well = wells[0]
    assert well.countWellSample() == 2
    assert well.getWellSample(1).getImage().getId() == layout[(0, 0)][1]
    assert well.getImage().getId() == layout[(0, 0)][0]  # index 0 unless chosen
    assert well.getWellSample(2) is None and well.getImage(2) is None
    assert well.isWellSample()
    # The image comes without its pixels: the first size read loads them.
    image = well.getImage()
    before = omero.calls["IContainer.getImages"]
    assert image.getSizeX() == 64
    assert omero.calls["IContainer.getImages"] == before + 1
    assert plate.getGridSize() == {"rows": 2, "columns": 3}
    with pytest.raises(NotImplementedError, match="countWellSample"):
        well.countChildren()


def test_a_well_read_on_its_own_loads_its_fields_once(screen_lab) -> None:
    omero = screen_lab["omero"]
    conn = omero.connect("alice")
    well_id = screen_lab["plate"].data["wells"][1].id
    well = conn.getObject("Well", well_id)
    assert not well.isWellSample()  # not loaded: the real one answers False without a query
    omero.calls.reset()
    assert [s.getImage().getName() for s in well.listChildren()] == ["r1c2f0", "r1c2f1"]
    assert well.countWellSample() == 2
    assert omero.calls["IQuery.findByQuery"] == 1
    assert well.listParents()[0].getName() == "P1"
    sample = well.getWellSample(0)
    assert sample.listParents()[0].getId() == well_id
    assert sample.image().getName() == "r1c2f0"


def test_screens_and_plates_through_get_objects(screen_lab) -> None:
    omero = screen_lab["omero"]
    conn = omero.connect("alice")
    conn.SERVICE_OPTS.setOmeroGroup("-1")
    names = lambda found: [o.getName() for o in found]  # noqa: E731
    assert names(conn.getObjects("Plate", opts={"order_by": "lower(obj.name)"})) == [
        "archived", "P1"]
    assert names(conn.getObjects("Plate", opts={"screen": screen_lab["screen"].id})) == ["P1"]
    assert names(conn.getObjects("Plate", opts={"orphaned": True})) == ["archived"]
    assert names(conn.getObjects("Screen", opts={"plate": screen_lab["plate"].id})) == ["S1"]
    assert [p.getName() for p in conn.getObject("Screen", screen_lab["screen"].id)
            .listChildren()] == ["P1"]
    plate = conn.getObject("Plate", screen_lab["plate"].id)
    assert [s.getName() for s in plate.listParents()] == ["S1"]
    wells = conn.getObjects("Well", opts={"plate": screen_lab["plate"].id})
    assert sorted((w.getRow(), w.getColumn()) for w in wells) == [(0, 0), (1, 2)]
    with pytest.raises(NotImplementedError, match="load_images"):
        conn.getObjects("Well", opts={"plate": 1, "load_images": True})


def test_permissions_are_the_groups_as_for_datasets(screen_lab) -> None:
    omero = screen_lab["omero"]
    alice, bob = omero.connect("alice"), omero.connect("bob")
    alice.SERVICE_OPTS.setOmeroGroup("-1")
    bob.SERVICE_OPTS.setOmeroGroup("-1")
    own = alice.getObject("Plate", screen_lab["plate"].id)
    assert own.canAnnotate() and own.canEdit() and own.canLink()
    # read-annotate: bob may annotate alice's plate, not edit it.
    other = bob.getObject("Plate", screen_lab["plate"].id)
    assert other.canAnnotate() and not other.canEdit()
    # read-only: alice sees bob's plate and its wells but may not annotate it.
    theirs = alice.getObject("Plate", screen_lab["theirs"].id)
    assert not theirs.canAnnotate()
    assert [w.getImage().getName() for w in theirs.listChildren()] == ["x"]
    # private group of another user: not found at all.
    assert alice.getObject("Plate", screen_lab["private"].id) is None
    # A group context narrows reads, as for datasets.
    alice.SERVICE_OPTS.setOmeroGroup(str(omero.group_named("archive").id))
    assert alice.getObject("Plate", screen_lab["plate"].id) is None


def test_annotating_a_plate_checks_the_right(screen_lab) -> None:
    import omero as omero_py
    from omero.gateway import MapAnnotationWrapper

    omero = screen_lab["omero"]
    conn = omero.connect("alice")
    conn.SERVICE_OPTS.setOmeroGroup("-1")
    plate = conn.getObject("Plate", screen_lab["plate"].id)
    conn.SERVICE_OPTS.setOmeroGroup(str(screen_lab["plate"].group.id))
    annotation = MapAnnotationWrapper(conn)
    annotation.setNs("test.ns")
    annotation.setValue([["k", "v"]])
    annotation.save()
    plate.linkAnnotation(annotation)
    assert [dict(a.getValue()) for a in conn.getObject("Plate", plate.getId())
            .listAnnotations(ns="test.ns")] == [{"k": "v"}]
    conn.SERVICE_OPTS.setOmeroGroup(str(screen_lab["theirs"].group.id))
    theirs = conn.getObject("Plate", screen_lab["theirs"].id)
    other = MapAnnotationWrapper(conn)
    other.setValue([["k", "v"]])
    other.save()
    with pytest.raises(omero_py.SecurityViolation):
        theirs.linkAnnotation(other)


def test_layout_mistakes_are_refused_at_setup(screen_lab) -> None:
    omero = screen_lab["omero"]
    with pytest.raises(ValueError, match="has a well at row 0, column 0"):
        omero.add_well(screen_lab["plate"], 0, 0)
    well = screen_lab["plate"].data["wells"][0]
    elsewhere = omero.add_image("elsewhere", omero.user_named("alice"),
                                omero.group_named("archive"))
    with pytest.raises(ValueError, match="not in the plate's group"):
        omero.add_well_sample(well, elsewhere)


def test_a_plate_survives_the_handover_to_a_worker(screen_lab, tmp_path) -> None:
    omero = screen_lab["omero"]
    omero.dump(tmp_path / "state")
    loaded = FakeOmero.load(tmp_path / "state")
    plate = loaded.connect("alice").getObject("Plate", screen_lab["plate"].id)
    assert sum(w.countWellSample() for w in plate.listChildren()) == 4


def test_deleting_plates_is_refused_clearly(screen_lab) -> None:
    conn = screen_lab["omero"].connect("alice")
    with pytest.raises(NotImplementedError, match="deleting a Plate"):
        conn.deleteObjects("Plate", [screen_lab["plate"].id], wait=True)
    with pytest.raises(NotImplementedError, match="image of a plate's well"):
        conn.deleteObjects("Image", [screen_lab["images"][(0, 0, 0)]], wait=True)
    assert screen_lab["images"][(0, 0, 0)] in screen_lab["omero"].records


def test_the_real_gateway_wrappers_read_a_plate_through_the_fake_queries(screen_lab) -> None:
    """omero.gateway's own PlateWrapper and WellWrapper run their HQL on the fake IQuery and
    answer as the fake wrappers do."""
    from omero import gateway

    omero = screen_lab["omero"]
    conn = omero.connect("alice")
    fake = conn.getObject("Plate", screen_lab["plate"].id)
    real = gateway._PlateWrapper(conn, fake._obj)
    wells = list(real.listChildren())
    assert all(isinstance(w, gateway._WellWrapper) for w in wells)
    real_layout = {(w.getRow(), w.getColumn()): [s.getImage().getId() for s in w.listChildren()]
                   for w in wells}
    fake_layout = {(w.getRow(), w.getColumn()): [s.getImage().getId() for s in w.listChildren()]
                   for w in fake.listChildren()}
    assert real_layout == fake_layout and len(real_layout) == 2
    assert real.countChildren() == 2
    with pytest.raises(NotImplementedError):  # max() without an alias: not in the subset
        real.getGridSize()
    # A well on its own: the real one reloads itself with its samples (one findByQuery).
    well = gateway._WellWrapper(conn, conn.getObject("Well", wells[0].getId())._obj)
    omero.calls.reset()
    assert [s.getImage().getId() for s in well.listChildren()] == real_layout[
        (well.getRow(), well.getColumn())]
    assert omero.calls["IQuery.findByQuery"] == 1
    assert well.getWellSample(1).getImage().getId() == real_layout[
        (well.getRow(), well.getColumn())][1]
    assert [s.getName() for s in real.listParents()] == ["S1"]
