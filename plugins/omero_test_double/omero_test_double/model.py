"""Real omero.model objects built from the store, as the server would send them to one user.

Each object carries details (owner, group, creation event) and a PermissionsI whose restrictions
are computed for the viewing user, exactly the fields the real server fills in, so
``getDetails().getPermissions().canEdit()`` answers as it would against OMERO.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import omero
import omero.model
from omero.constants import permissions as perm_constants
from omero.rtypes import rbool, rdouble, rint, rlong, rstring, rtime

from .errors import api_usage

if TYPE_CHECKING:
    from .store import FakeOmero, Group, Link, Record, User

_RESTRICTION_ORDER = (
    (perm_constants.LINKRESTRICTION, "link"),
    (perm_constants.EDITRESTRICTION, "edit"),
    (perm_constants.DELETERESTRICTION, "delete"),
    (perm_constants.ANNOTATERESTRICTION, "annotate"),
    (perm_constants.CHGRPRESTRICTION, "chgrp"),
    (perm_constants.CHOWNRESTRICTION, "chown"),
)


def model_class(kind: str) -> type:
    try:
        return getattr(omero.model, f"{kind}I")
    except AttributeError:
        raise api_usage(f"unknown OMERO class {kind!r}") from None


def kind_of(obj: Any) -> str:
    name = type(obj).__name__
    return name[:-1] if name.endswith("I") else name


def unwrap(value: Any) -> Any:
    return omero.rtypes.unwrap(value)


def _loaded(cls: type, oid: int, *collections: str) -> Any:
    """A loaded object whose collections are unloaded, as the server sends them unless a query
    fetches them, except the named ones (loaded, empty, to be filled)."""
    obj = cls(oid, True)
    obj.unloadCollections()
    for name in collections:
        setattr(obj, f"_{name}Seq", [])
        setattr(obj, f"_{name}Loaded", True)
    return obj


def experimenter(user: User, memberships: bool = True) -> omero.model.ExperimenterI:
    """The Experimenter; ``memberships`` adds its GroupExperimenterMaps, which the server
    loads for Experimenter queries but not for the owner in an object's details."""
    obj = _loaded(omero.model.ExperimenterI, user.id,
                  *(["groupExperimenterMap"] if memberships else []))
    obj.setOmeName(rstring(user.name))
    obj.setFirstName(rstring(user.first_name))
    obj.setLastName(rstring(user.last_name))
    obj.setEmail(rstring(user.email))
    obj.setLdap(rbool(False))
    for group in user.groups if memberships else ():
        membership = omero.model.GroupExperimenterMapI()
        membership.setParent(experimenter_group(group))
        membership.setChild(omero.model.ExperimenterI(user.id, False))
        membership.setOwner(rbool(group.id in user.leader_of))
        obj.addGroupExperimenterMap(membership)
    return obj


def experimenter_group(group: Group) -> omero.model.ExperimenterGroupI:
    obj = _loaded(omero.model.ExperimenterGroupI, group.id)
    obj.setName(rstring(group.name))
    obj.setDescription(rstring(group.description))
    obj.setLdap(rbool(False))
    obj.getDetails().setPermissions(omero.model.PermissionsI(group.permissions))
    return obj


def permissions_for(server: FakeOmero, viewer: User, item: Record | Link
                    ) -> omero.model.PermissionsI:
    perms = omero.model.PermissionsI(item.group.permissions)
    restrictions = [False] * len(_RESTRICTION_ORDER)
    for index, action in _RESTRICTION_ORDER:
        restrictions[index] = not server.can(viewer, action, item)
    perms._restrictions = restrictions
    if item.kind in ("Image", "FileAnnotation", "OriginalFile") and not server.can(
            viewer, "read", item):
        perms._extendedRestrictions = [perm_constants.BINARYACCESS]
    return perms


def _details(server: FakeOmero, viewer: User, item: Record | Link, obj: Any) -> None:
    details = obj.getDetails()
    details.setOwner(experimenter(item.owner, memberships=False))
    details.setGroup(experimenter_group(item.group))
    details.setPermissions(permissions_for(server, viewer, item))
    created = getattr(item, "created", 0)
    event = omero.model.EventI(created or 1, True)
    event.setTime(rtime(created or 0))
    details.setCreationEvent(event)
    details.setUpdateEvent(event)


def _length(value: float | None) -> omero.model.LengthI | None:
    if value is None:
        return None
    return omero.model.LengthI(value, omero.model.enums.UnitsLength.MICROMETER)


def to_model(server: FakeOmero, viewer: User, record: Record) -> Any:
    """The loaded omero.model object for ``record`` as ``viewer`` sees it."""
    kind = record.kind
    obj = _loaded(model_class(kind), record.id, *(["pixels"] if kind == "Image" else []))
    _details(server, viewer, record, obj)
    data = record.data
    if hasattr(obj, "setName") and record.kind != "Pixels":
        obj.setName(rstring(record.name) if record.name is not None else None)
    if hasattr(obj, "setDescription"):
        obj.setDescription(rstring(record.description) if record.description is not None
                           else None)
    if hasattr(obj, "setNs"):
        obj.setNs(rstring(data["ns"]) if data.get("ns") is not None else None)
    if kind == "Image":
        obj.setAcquisitionDate(rtime(record.created))
        obj.setArchived(rbool(False))
        obj.setPartial(rbool(False))
        obj.addPixels(pixels_model(server, viewer, data["pixels"], obj))
    elif kind == "Pixels":
        return pixels_model(server, viewer, record, omero.model.ImageI(data["image"].id, False))
    elif kind == "Plate":
        obj.setRowNamingConvention(rstring("letter"))
        obj.setColumnNamingConvention(rstring("number"))
    elif kind == "Well":
        obj.setRow(rint(data["row"]))
        obj.setColumn(rint(data["column"]))
        obj.setPlate(omero.model.PlateI(data["plate"].id, False))
    elif kind == "WellSample":
        obj.setWell(omero.model.WellI(data["well"].id, False))
        obj.setImage(to_model(server, viewer, data["image"]))
    elif kind == "OriginalFile":
        content = data.get("content", b"")
        obj.setPath(rstring(data.get("path", "/")))
        obj.setSize(rlong(len(content)))
        obj.setMimetype(rstring(data["mimetype"]) if data.get("mimetype") else None)
        obj.setHash(rstring(_sha1(content)))
    elif kind == "MapAnnotation":
        obj.setMapValue([omero.model.NamedValue(k, v) for k, v in data.get("values", [])])
    elif kind == "FileAnnotation":
        file = data.get("file")
        obj.setFile(to_model(server, viewer, file) if file is not None else None)
    elif kind in ("TagAnnotation", "CommentAnnotation"):
        obj.setTextValue(rstring(data.get("text", "")))
    elif kind == "LongAnnotation":
        obj.setLongValue(rlong(data.get("value")))
    elif kind == "DoubleAnnotation":
        obj.setDoubleValue(rdouble(data.get("value")))
    elif kind == "BooleanAnnotation":
        obj.setBoolValue(rbool(data.get("value")))
    return obj


def well_model(server: FakeOmero, viewer: User, well: Record, samples: list[Record]) -> Any:
    """A Well with its WellSamples and their images loaded, as the plate's wells query and
    the well's own reload fetch them."""
    obj = to_model(server, viewer, well)
    obj._wellSamplesSeq, obj._wellSamplesLoaded = [], True
    for sample in samples:
        obj.addWellSample(to_model(server, viewer, sample))
    return obj


def pixels_model(server: FakeOmero, viewer: User, pixels: Record, image: Any) -> Any:
    obj = _loaded(omero.model.PixelsI, pixels.id, "channels")
    _details(server, viewer, pixels, obj)
    size_x, size_y, size_z, size_c, size_t = pixels.data["size"]
    obj.setSizeX(rint(size_x))
    obj.setSizeY(rint(size_y))
    obj.setSizeZ(rint(size_z))
    obj.setSizeC(rint(size_c))
    obj.setSizeT(rint(size_t))
    pixels_type = omero.model.PixelsTypeI()
    pixels_type.setValue(rstring(pixels.data["pixel_type"]))
    obj.setPixelsType(pixels_type)
    order = omero.model.DimensionOrderI()
    order.setValue(rstring("XYZCT"))
    obj.setDimensionOrder(order)
    physical_x, physical_y, physical_z = pixels.data["physical_size"]
    obj.setPhysicalSizeX(_length(physical_x))
    obj.setPhysicalSizeY(_length(physical_y))
    obj.setPhysicalSizeZ(_length(physical_z))
    obj.setSha1(rstring("Pending"))
    obj.setImage(image)
    for index, label in enumerate(pixels.data["channel_names"]):
        channel = omero.model.ChannelI(pixels.id * 100 + index, True)
        logical = omero.model.LogicalChannelI(pixels.id * 100 + index, True)
        logical.setName(rstring(label))
        channel.setLogicalChannel(logical)
        obj.addChannel(channel)
    return obj


def link_model(server: FakeOmero, viewer: User, link: Link, load_parent: bool = True,
               load_child: bool = True) -> Any:
    obj = _loaded(model_class(link.kind), link.id)
    _details(server, viewer, link, obj)
    parent = (to_model(server, viewer, link.parent) if load_parent
              else model_class(link.parent.kind)(link.parent.id, False))
    child = (to_model(server, viewer, link.child) if load_child
             else model_class(link.child.kind)(link.child.id, False))
    obj.setParent(parent)
    obj.setChild(child)
    return obj


def _sha1(content: bytes) -> str:
    import hashlib

    return hashlib.sha1(content).hexdigest()
