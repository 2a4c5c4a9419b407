"""Reading through FakeBlitzGateway: getObject(s), options, group context, identity."""

from __future__ import annotations

import omero
import omero.sys
import pytest
from omero.gateway.utils import ServiceOptsDict

from omero_test_double.pytest_plugin import OmeroWorld


def test_the_published_minimal_api(omero_world: OmeroWorld) -> None:
    w = omero_world
    assert w.omero.root.admin and w.omero.root.groups[0].name == "system"
    conn = w.omero.connect("bob")
    image = conn.getObject("Image", w.image.id)
    assert image.getName() == "a_b_c.tif"
    assert (image.getSizeX(), image.getSizeY(), image.getSizeZ(), image.getSizeC(),
            image.getSizeT()) == (40, 30, 3, 2, 2)
    assert image.getPixelsType() == "uint16"
    assert image.getPixelSizeX() == pytest.approx(0.1)
    assert image.getPixelSizeZ() == pytest.approx(0.5)
    assert image.getPixelSizeZ(units=True).getUnit().name == "MICROMETER"
    assert image.getPixelSizeX(units="NANOMETER").getValue() == pytest.approx(100)
    assert image.getOwner().getOmeName() == "alice"
    assert image.getOwnerFullName() == "Alice Liddell"
    assert image.getDetails().getGroup().getName() == "lab"
    assert not image.isOwned()
    assert isinstance(image._obj, omero.model.ImageI)
    assert isinstance(conn.SERVICE_OPTS, ServiceOptsDict)


def test_get_objects_by_ids_attributes_and_options(omero_world: OmeroWorld) -> None:
    w = omero_world
    second = w.omero.add_image("b.tif", owner=w.bob, group=w.lab, dataset=w.dataset)
    orphan = w.omero.add_image("orphan.tif", owner=w.alice, group=w.lab)
    conn = w.omero.connect("alice")
    names = lambda found: [o.getName() for o in found]  # noqa: E731
    assert names(conn.getObjects("Image", opts={"dataset": w.dataset.id})) == [
        "a_b_c.tif", "b.tif"]
    assert names(conn.getObjects("Image", opts={"orphaned": True})) == ["orphan.tif"]
    assert names(conn.getObjects("Image", opts={"owner": w.bob.id})) == ["b.tif"]
    assert names(conn.getObjects("Image", attributes={"name": "b.tif"})) == ["b.tif"]
    assert names(conn.getObjects("Image", [orphan.id, w.image.id], respect_order=True)) == [
        "orphan.tif", "a_b_c.tif"]
    assert names(conn.getObjects("Image", opts={"order_by": "lower(obj.name)", "limit": 2,
                                                "offset": 1})) == ["b.tif", "orphan.tif"]
    params = omero.sys.ParametersI()
    params.page(0, 1)
    assert len(list(conn.getObjects("Image", params=params))) == 1
    assert names(conn.getObjects("Dataset", opts={"project": w.project.id})) == ["D1"]
    assert names(conn.getObjects("Dataset", opts={"image": second.id})) == ["D1"]
    assert conn.getObject("Project", w.project.id).listChildren().__next__().getId() == (
        w.dataset.id)
    assert conn.getObject("Experimenter", attributes={"omeName": "bob"}).getId() == w.bob.id
    assert [g.getName() for g in conn.getObjects(
        "ExperimenterGroup", opts={"experimenter": w.bob.id})] == ["user", "lab", "other"]


def test_unsupported_options_and_types_say_so(omero_world: OmeroWorld) -> None:
    conn = omero_world.omero.connect("alice")
    with pytest.raises(NotImplementedError, match="load_fancy"):
        list(conn.getObjects("Image", opts={"load_fancy": True}))
    with pytest.raises(KeyError):
        conn.getObject("Spaceship", 1)
    with pytest.raises(NotImplementedError, match="acquisitionDate"):
        conn.getObject("Image", attributes={"acquisitionDate": 1})
    assert conn.getObject("Image").getName() == "a_b_c.tif"
    omero_world.omero.add_image("x.tif", owner=omero_world.alice)
    with pytest.raises(omero.ApiUsageException):
        conn.getObject("Image")  # two match


def test_reads_follow_the_group_context(omero_world: OmeroWorld) -> None:
    w = omero_world
    in_other = w.omero.add_project("P-other", owner=w.carol, group=w.other)
    bob = w.omero.connect("bob")  # default group: lab
    assert bob.getObject("Project", in_other.id) is None
    bob.SERVICE_OPTS.setOmeroGroup(w.other.id)
    assert bob.getObject("Project", in_other.id).getName() == "P-other"
    assert bob.getObject("Project", w.project.id) is None
    bob.SERVICE_OPTS.setOmeroGroup(-1)
    assert {p.getName() for p in bob.getObjects("Project")} == {"P1", "P-other"}
    carol = w.omero.connect("carol")
    carol.SERVICE_OPTS.setOmeroGroup(w.lab.id)
    with pytest.raises(omero.SecurityViolation):
        carol.getObject("Project", w.project.id)


def test_identity_and_event_context(omero_world: OmeroWorld) -> None:
    w = omero_world
    conn = w.omero.connect("bob", group="other")
    context = conn.getEventContext()
    assert (context.userName, context.groupName, context.isAdmin) == ("bob", "other", False)
    assert set(context.memberOfGroups) == {w.lab.id, w.other.id, w.omero.user_group.id}
    user = conn.getUser()
    assert (user.getName(), user.getFullName(), user.getNameWithInitial()) == (
        "bob", "Bob ", "B. ")
    assert user.isActive() and not user.isAdmin() and not user.isGuest()
    assert [m.parent.name.val for m in user._obj.copyGroupExperimenterMap()] == [
        "lab", "other", "user"]
    assert w.omero.connect("alice").getUser().getFullName() == "Alice Liddell"
    assert conn.getGroupFromContext().getName() == "other"
    assert [g.getName() for g in conn.getGroupsMemberOf()] == ["lab", "other"]
    assert conn.setGroupForSession(w.lab.id) is True
    assert conn.getEventContext().groupName == "lab"
    assert conn.setGroupForSession(w.lab.id) is None
    conn.revertGroupForSession()
    assert conn.getGroupFromContext().getName() == "other"
    assert conn.setGroupNameForSession("system") is False
    root = w.omero.connect("root")
    assert root.isAdmin() and root.isFullAdmin()
    assert "Sudo" in root.getCurrentAdminPrivileges()
    assert root.getAdminPrivileges(w.bob.id) == []
    assert conn.canCreate() and conn.isConnected() and not conn.isAnonymous()
    assert conn.getClientSettings() == {} and conn.c is None
    conn.close()
    assert not conn.isConnected()


def test_hierarchy_navigation(omero_world: OmeroWorld) -> None:
    w = omero_world
    conn = w.omero.connect("bob")
    image = conn.getObject("Image", w.image.id)
    assert image.getParent().getName() == "D1"
    assert [a.getName() for a in image.getAncestry()] == ["D1", "P1"]
    assert image.getProject().getName() == "P1"
    parent, link = image.listParents(withlinks=True)[0]
    assert parent.getId() == w.dataset.id and link.getId() is not None
    project = conn.getObject("Project", w.project.id)
    assert project.countChildren() == 1
    assert [d.getName() for d in project.listChildren()] == ["D1"]
    with pytest.raises(NotImplementedError):
        list(project.listChildren(ns="x"))


def test_uploads_follow_the_gateway_steps(omero_world: OmeroWorld, tmp_path) -> None:
    w = omero_world
    local = tmp_path / "report.csv"
    local.write_bytes(b"a,b\n" * 5000)
    conn = w.omero.connect("bob")
    w.omero.calls.reset()
    annotation = conn.createFileAnnfromLocalFile(str(local), mimetype="text/csv",
                                                 ns="reports", desc="weekly")
    assert annotation.getNs() == "reports" and annotation.getDescription() == "weekly"
    assert annotation.getFileName() == "report.csv" and annotation.getFileSize() == 20000
    assert w.omero.calls["RawFileStore.write"] == 2  # 10000-byte blocks, as the gateway
    image = conn.getObject("Image", w.image.id)
    image.linkAnnotation(annotation)
    assert conn.getObject("Image", w.image.id).getAnnotation("reports").getId() == (
        annotation.getId())


def test_channels_and_leaders(omero_world: OmeroWorld) -> None:
    w = omero_world
    image = w.omero.add_image("c.tif", owner=w.alice, size=(4, 4, 1, 3, 1),
                              channel_names=["DAPI", "GFP", ""])
    conn = w.omero.connect("alice")
    wrapper = conn.getObject("Image", image.id)
    assert [c.getLabel() for c in wrapper.getChannels(noRE=True)] == ["DAPI", "GFP", "2"]
    assert wrapper.getChannelLabels() == ["DAPI", "GFP", ""]
    with pytest.raises(NotImplementedError, match="rendering engine"):
        wrapper.getChannels()
    assert not conn.isLeader()
    w.omero.add_user("pi", groups=[w.lab], leader_of=[w.lab])
    assert w.omero.connect("pi").isLeader(w.lab.id)
