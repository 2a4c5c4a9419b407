"""Fidelity of the permission rules: a table of what each kind of user may do with data owned
by someone else (and by themselves) in a group of each of OMERO's four permission levels.

The expectations are written out from the OMERO documentation ("Groups and permissions
system", permissions tables for Administrator, Group owner and Group member); the actions are
performed for real through the fake gateway, and the PermissionsI flags the fake hands out
must agree with what the actions did.
"""

from __future__ import annotations

from typing import Any

import omero
import omero.gateway
import omero.model
import pytest
from omero.rtypes import rstring

from omero_test_double import FakeOmero

LEVELS = ("private", "read-only", "read-annotate", "read-write")
ACTIONS = ("read", "annotate", "edit", "delete", "link")
# actor -> action -> allowed per level, in the order of LEVELS (Y/N as in the docs' tables;
# "link" is the docs' "Mix data": put the image into a dataset of one's own).
EXPECTED = {
    "owner":    {"read": "YYYY", "annotate": "YYYY", "edit": "YYYY", "delete": "YYYY",
                 "link": "YYYY"},
    "member":   {"read": "NYYY", "annotate": "NNYY", "edit": "NNNY", "delete": "NNNY",
                 "link": "NNNY"},
    "leader":   {"read": "YYYY", "annotate": "NYYY", "edit": "YYYY", "delete": "YYYY",
                 "link": "NYYY"},
    "admin":    {"read": "YYYY", "annotate": "NYYY", "edit": "YYYY", "delete": "YYYY",
                 "link": "NYYY"},
    "outsider": {"read": "NNNN", "annotate": "NNNN", "edit": "NNNN", "delete": "NNNN",
                 "link": "NNNN"},
}
CASES = [(actor, action, level, EXPECTED[actor][action][i] == "Y")
         for actor in EXPECTED for action in ACTIONS for i, level in enumerate(LEVELS)]


def _setup(level: str, actor: str) -> tuple[FakeOmero, Any, Any]:
    omero_ = FakeOmero()
    lab = omero_.add_group("lab", permissions=level)
    elsewhere = omero_.add_group("elsewhere", permissions="read-write")
    owner = omero_.add_user("owner", groups=[lab])
    omero_.add_user("member", groups=[lab])
    omero_.add_user("leader", groups=[lab], leader_of=[lab])
    omero_.add_user("outsider", groups=[elsewhere])
    omero_.add_user("admin", admin=True)
    dataset = omero_.add_dataset("D", owner=owner, group=lab)
    image = omero_.add_image("img.tif", owner=owner, group=lab, dataset=dataset)
    conn = omero_.connect(actor)
    conn.SERVICE_OPTS.setOmeroGroup(-1)  # look across all groups, as OMERO.web does
    return omero_, conn, image


def _attempt(conn: Any, action: str, image_id: int) -> bool:
    """Do the action; True when the fake let it happen."""
    image = conn.getObject("Image", image_id)
    if action == "read":
        return image is not None
    if image is None:
        return False
    try:
        if action == "annotate":
            annotation = omero.gateway.MapAnnotationWrapper(conn)
            annotation.setValue([("key", "value")])
            annotation.setNs("test.ns")
            image.linkAnnotation(annotation)
        elif action == "edit":
            image.setName("renamed.tif")
            image.save()
        elif action == "delete":
            conn.deleteObjects("Image", [image_id], wait=True)
        elif action == "link":
            in_group = {"omero.group": str(image.getDetails().getGroup().getId())}
            update = conn.getUpdateService()
            dataset = omero.model.DatasetI()
            dataset.setName(rstring("mine"))
            dataset = update.saveAndReturnObject(dataset, in_group)
            link = omero.model.DatasetImageLinkI()
            link.setParent(omero.model.DatasetI(dataset.getId().val, False))
            link.setChild(omero.model.ImageI(image_id, False))
            update.saveObject(link, in_group)
    except (omero.SecurityViolation, omero.CmdError):
        return False
    return True


@pytest.mark.parametrize(("actor", "action", "level", "allowed"), CASES,
                         ids=[f"{a}-{b}-{c}" for a, b, c, _ in CASES])
def test_permission_table(actor: str, action: str, level: str, allowed: bool) -> None:
    _, conn, image = _setup(level, actor)
    wrapper = conn.getObject("Image", image.id)
    flags = None if wrapper is None else {
        "annotate": wrapper.canAnnotate(), "edit": wrapper.canEdit(),
        "delete": wrapper.canDelete(), "link": wrapper.canLink()}

    assert _attempt(conn, action, image.id) is allowed
    if flags is not None and action in flags:
        assert flags[action] is allowed, "PermissionsI disagrees with the action"


@pytest.mark.parametrize("level", LEVELS)
def test_effects_are_real_when_allowed_and_absent_when_refused(level: str) -> None:
    omero_, conn, image = _setup(level, "member")
    _attempt(conn, "edit", image.id)
    _attempt(conn, "annotate", image.id)
    _attempt(conn, "delete", image.id)
    record = omero_.records.get(image.id)
    if level == "read-write":
        assert record is None  # deleted (after being renamed and annotated)
    else:
        assert record is not None and record.name == "img.tif"
        annotation_links = omero_.links_of(parent=record, kind_suffix="AnnotationLink")
        assert bool(annotation_links) is (level == "read-annotate")


def test_group_permissions_are_reported_like_omero() -> None:
    omero_ = FakeOmero()
    for level, perm in (("private", "rw----"), ("read-only", "rwr---"),
                        ("read-annotate", "rwra--"), ("read-write", "rwrw--")):
        group = omero_.add_group(level, permissions=level)
        omero_.add_user(f"u-{level}", groups=[group])
        conn = omero_.connect(f"u-{level}")
        permissions = conn.getGroupFromContext().getDetails().getPermissions()
        assert str(permissions) == perm
        assert permissions.isGroupRead() is (level != "private")
        assert permissions.isGroupAnnotate() is (level in ("read-annotate", "read-write"))
        assert permissions.isGroupWrite() is (level == "read-write")


def test_admin_without_group_context_sees_only_the_current_group() -> None:
    _, conn, image = _setup("read-write", "admin")
    conn.SERVICE_OPTS.setOmeroGroup(None)
    assert conn.getObject("Image", image.id) is None  # root's session group is "system"
    assert conn.setGroupForSession(image.group.id) is True
    assert conn.getObject("Image", image.id) is not None


def test_links_owned_by_others_follow_the_delete_rules() -> None:
    omero_ = FakeOmero()
    lab = omero_.add_group("lab", permissions="read-annotate")
    alice = omero_.add_user("alice", groups=[lab])
    bob = omero_.add_user("bob", groups=[lab])
    image = omero_.add_image("i.tif", owner=alice, group=lab)
    tag = omero_.add_tag("t", owner=bob, group=lab)
    link = omero_.link_annotation(image, tag, owner=bob)
    alice_conn = omero_.connect("alice")
    with pytest.raises(omero.CmdError):
        alice_conn.deleteObjects("ImageAnnotationLink", [link.id], wait=True)
    omero_.connect("bob").deleteObjects("ImageAnnotationLink", [link.id], wait=True)
    assert link.id not in omero_.links
    assert tag.id in omero_.records  # the tag itself stays
