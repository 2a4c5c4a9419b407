"""Sessions and sudo; counting of service calls."""

from __future__ import annotations

import omero
import omero.sys
import pytest

from omero_test_double import FakeOmero
from omero_test_double.pytest_plugin import OmeroWorld


def test_su_conn_acts_as_the_user(omero_world: OmeroWorld) -> None:
    w = omero_world
    root = w.omero.connect("root")
    alice = root.suConn("alice")
    assert alice.getUser().getName() == "alice"
    assert alice.getEventContext().groupName == "lab"
    assert alice.getObject("Image", w.image.id).isOwned()
    bob_other = root.suConn("bob", group="other", ttl=1000)
    assert bob_other.getGroupFromContext().getName() == "other"
    assert root.suConn("nobody") is None
    assert w.omero.connect("alice").suConn("bob") is None  # not an admin


def test_sudo_needs_the_privilege(omero_world: OmeroWorld) -> None:
    w = omero_world
    w.omero.add_user("manager", admin=True, privileges=["ModifyUser"])
    manager = w.omero.connect("manager")
    assert manager.isAdmin() and not manager.isFullAdmin()
    with pytest.raises(omero.SecurityViolation, match="Sudo"):
        manager.suConn("alice")


def test_sessions_service(omero_world: OmeroWorld) -> None:
    w = omero_world
    root = w.omero.connect("root")
    principal = omero.sys.Principal()
    principal.name, principal.group, principal.eventType = "bob", "lab", "User"
    sessions = root.getSessionService()
    session = sessions.createSessionWithTimeout(principal, 60000)
    uuid = session.getUuid().val
    bob = w.omero.join_session(uuid)
    assert bob.getEventContext().sessionUuid == uuid
    other = w.omero.connect("alice")
    assert other.connect(sUuid=uuid) and other.getUser().getName() == "bob"
    assert sessions.getSession(uuid).getUuid().val == uuid
    with pytest.raises(omero.SecurityViolation):
        w.omero.connect("carol").getSessionService().getSession(uuid)
    sessions.closeSession(session)
    assert not bob.isConnected()
    with pytest.raises(omero.RemovedSessionException):
        sessions.getSession(uuid)
    with pytest.raises(LookupError):
        w.omero.join_session(uuid)
    principal.group = "other"
    principal.name = "alice"
    with pytest.raises(omero.SecurityViolation):
        sessions.createSessionWithTimeout(principal, 1000)  # alice is not in "other"
    mine = w.omero.connect("bob").getSessionService().createUserSession(1000, 1000, "other")
    assert w.omero.sessions[mine.getUuid().val].group.name == "other"


def test_calls_are_counted_per_name_and_in_total(omero_world: OmeroWorld) -> None:
    w = omero_world
    for i in range(4):
        image = w.omero.add_image(f"i{i}.tif", owner=w.alice, dataset=w.dataset)
        w.omero.add_map_annotation([("i", str(i))], owner=w.alice, parent=image)
    conn = w.omero.connect("alice")
    w.omero.calls.reset()
    assert w.omero.calls.total == 0
    dataset = conn.getObject("Dataset", w.dataset.id)
    images = list(dataset.listChildren())
    for image in images:
        image.getSizeX()          # lazy pixel load: listChildren does not fetch pixels
        image.getSizeY()          # loaded now: free
        assert len(list(image.listAnnotations())) == (image.getId() != w.image.id)
    calls = w.omero.calls
    # listChildren fetches the images' annotation links with them, as the real query does
    assert dict(calls) == {"IQuery.findByQuery": 1, "IQuery.findAllByQuery": 1,
                           "IContainer.getImages": 5}
    assert calls.total / len(images) == pytest.approx(7 / 5)
    calls.reset()
    image = conn.getObject("Image", w.image.id)
    list(image.listAnnotations())
    list(image.listAnnotations())  # loaded once per wrapper
    assert calls["IQuery.findAllByQuery"] == 1
    calls.reset()
    conn.getObject("Image", w.image.id).getPrimaryPixels().getPlane()
    assert dict(calls) == {
        "IQuery.findByQuery": 1, "ServiceFactory.createRawPixelsStore": 1,
        "RawPixelsStore.setPixelsId": 1, "RawPixelsStore.getPlane": 1,
        "RawPixelsStore.close": 1}


def test_builders_validate_their_input() -> None:
    omero_ = FakeOmero()
    lab = omero_.add_group("lab", permissions="rwra--")
    assert lab.level == "read-annotate"
    with pytest.raises(ValueError):
        omero_.add_group("bad", permissions="world-writable")
    with pytest.raises(ValueError):
        omero_.add_group("lab")
    alice = omero_.add_user("alice", groups=[lab])
    with pytest.raises(ValueError):
        omero_.add_user("alice")
    with pytest.raises(ValueError):
        omero_.add_user("x", admin=True, privileges=["Fly"])
    other = omero_.add_group("other")
    with pytest.raises(ValueError):
        omero_.add_project("P", owner=alice, group=other)
    with pytest.raises(ValueError):
        omero_.connect("alice", group="other")
    with pytest.raises(LookupError):
        omero_.connect("nobody")
