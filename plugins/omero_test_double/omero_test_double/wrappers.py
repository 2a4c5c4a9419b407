"""Fake counterparts of the omero.gateway wrapper classes.

Each wrapper holds the real omero.model object (``_obj``) as the viewing user would receive it,
and the store record it came from. Reads that the real wrapper answers from ``_obj`` cost no
call; reads that make the real wrapper go back to the server (annotation links, children,
parents, pixels of an image loaded without them) are counted under the service the real wrapper
calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import omero
import omero.model
from omero.rtypes import rstring, unwrap

from . import model
from .contract import fake_of, mirrors
from .pixels import NUMPY_TYPES

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway
    from .store import Group, Link, Record, User

# parent kind -> (link kind, child kind)
CHILDREN = {"Project": ("ProjectDatasetLink", "Dataset"), "Dataset": ("DatasetImageLink", "Image"),
            "Screen": ("ScreenPlateLink", "Plate")}
PARENTS = {"Dataset": ("ProjectDatasetLink", "Project"), "Image": ("DatasetImageLink", "Dataset"),
           "Plate": ("ScreenPlateLink", "Screen")}


@fake_of("omero.gateway.DetailsWrapper")
class FakeDetailsWrapper:
    def __init__(self, conn: FakeBlitzGateway, details: Any) -> None:
        self._conn = conn
        self._obj = details

    def getOwner(self) -> FakeExperimenterWrapper | None:
        owner = self._obj.getOwner()
        if owner is None:
            return None
        return FakeExperimenterWrapper(self._conn, owner,
                                       self._conn._omero.users[owner.id.val])

    def getGroup(self) -> FakeExperimenterGroupWrapper | None:
        group = self._obj.getGroup()
        if group is None:
            return None
        return FakeExperimenterGroupWrapper(self._conn, group,
                                            self._conn._omero.groups[group.id.val])

    @mirrors("omero.model.DetailsI.getPermissions")
    def getPermissions(self) -> omero.model.PermissionsI:
        return self._obj.getPermissions()


@fake_of("omero.gateway.BlitzObjectWrapper")
class FakeBlitzObjectWrapper:
    """Wrapper over an owned object (or a link); the base of the data wrappers."""

    OMERO_CLASS: str | None = None

    def __init__(self, conn: FakeBlitzGateway, obj: Any, record: Record | Link,
                 annotations_loaded: bool = False, **kwargs: Any) -> None:
        self._conn = conn
        self._obj = obj
        self._record = record
        self._annotation_links: list[Link] | None = None
        if annotations_loaded:
            self._annotation_links = self._readable_annotation_links()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._record.id}>"

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and other._obj.id == self._obj.id  # type: ignore
                and other.getName() == self.getName())  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._record.id))

    @property
    def _server(self) -> Any:
        return self._conn._omero

    # ---- fields ----

    def getId(self) -> int | None:
        oid = self._obj.getId()
        return oid.val if oid is not None else None

    def getName(self) -> str | None:
        name = getattr(self._obj, "_name", None)
        return name.val if name is not None else None

    def getDescription(self) -> str:
        description = getattr(self._obj, "_description", None)
        return description.val if description is not None else ""

    def setName(self, value: str) -> None:
        self._obj.setName(rstring(str(value)))

    def setDescription(self, value: str) -> None:
        self._obj.setDescription(rstring(str(value)))

    def save(self) -> None:
        ctx = self._conn.SERVICE_OPTS.copy()
        details = self.getDetails()
        if details is not None and details.getGroup() is not None:
            ctx.setOmeroGroup(details.getGroup().getId())
        self._obj = self._conn.getUpdateService().saveAndReturnObject(self._obj, ctx)
        self._record = self._server.records.get(self._obj.id.val, self._record)

    def getDetails(self) -> FakeDetailsWrapper | None:
        if not self._obj.isLoaded():
            return None
        return FakeDetailsWrapper(self._conn, self._obj.getDetails())

    def getOwner(self) -> FakeExperimenterWrapper | None:
        details = self.getDetails()
        return details.getOwner() if details else None

    def getOwnerOmeName(self) -> str:
        return self._obj.getDetails().getOwner().getOmeName().val

    def getOwnerFullName(self) -> str | None:
        owner = self.getOwner()
        return owner.getFullName() if owner else None

    def isOwned(self) -> bool:
        return self._obj.getDetails().getOwner().id.val == self._conn.getUserId()

    def creationEventDate(self) -> datetime:
        time = self._obj.getDetails().getCreationEvent().getTime()
        return datetime.fromtimestamp((time.val or 0) / 1000)

    # ---- what the viewer may do (the server's restrictions, carried by PermissionsI) ----

    def _perms(self) -> omero.model.PermissionsI:
        return self._obj.getDetails().getPermissions()

    def canEdit(self) -> bool:
        return self._perms().canEdit()

    def canDelete(self) -> bool:
        return self._perms().canDelete()

    def canLink(self) -> bool:
        return self._perms().canLink()

    def canAnnotate(self) -> bool:
        return self._perms().canAnnotate()

    def canChgrp(self) -> bool:
        return self._perms().canChgrp()

    def canChown(self) -> bool:
        return self._perms().canChown()

    # ---- annotations ----

    def _readable_annotation_links(self) -> list[Link]:
        viewer = self._conn._acting_user
        return [
            link for link in self._server.links_of(parent=self._record,
                                                   kind_suffix="AnnotationLink")
            if self._server.can(viewer, "read", link)
            and self._server.can(viewer, "read", link.child)
        ]

    def _load_annotation_links(self) -> list[Link]:
        if self._annotation_links is None:
            self._server.calls.record("IQuery.findAllByQuery")
            self._annotation_links = self._readable_annotation_links()
        return self._annotation_links

    def _annotations(self, ns: str | None) -> list[Any]:
        wrapped = []
        for link in self._load_annotation_links():
            if ns is not None and link.child.data.get("ns") != ns:
                continue
            wrapped.append(annotation_wrapper(self._conn, link.child, link))
        return wrapped

    def listAnnotations(self, ns: str | None = None) -> Iterator[Any]:
        return iter(self._annotations(ns))

    def getAnnotation(self, ns: str | None = None) -> Any:
        found = self._annotations(ns)
        return found[0] if found else None

    def linkAnnotation(self, ann: Any, sameOwner: bool = False) -> Any:
        """Save ``ann`` if new, then save the link, with the object's group as context.

        ``ann`` may be a fake wrapper or a real omero.gateway annotation wrapper built on this
        connection (``MapAnnotationWrapper(conn)``); both hold the model object in ``_obj``.
        """
        if sameOwner:
            raise NotImplementedError("linkAnnotation(sameOwner=True) is not in the test double")
        ctx = self._conn.SERVICE_OPTS.copy()
        ctx.setOmeroGroup(self._record.group.id)
        update = self._conn.getUpdateService()
        if not ann.getId():
            saved = update.saveAndReturnObject(ann._obj, ctx)
            ann = annotation_wrapper(self._conn, self._server.records[saved.id.val])
        link = getattr(omero.model, f"{self.OMERO_CLASS}AnnotationLinkI")()
        link.setParent(type(self._obj)(self._obj.id.val, False))
        link.setChild(type(ann._obj)(ann._obj.id.val, False))
        update.saveObject(link, ctx)
        self._annotation_links = None
        return ann

    def unlinkAnnotations(self, ns: str) -> None:
        links = [link for link in self._load_annotation_links()
                 if link.child.data.get("ns") == ns]
        by_kind: dict[str, list[int]] = {}
        for link in links:
            by_kind.setdefault(link.kind, []).append(link.id)
        for kind, ids in by_kind.items():
            self._conn.deleteObjects(kind, ids, wait=True)
        self._annotation_links = None

    def removeAnnotations(self, ns: str) -> None:
        ids = [link.child.id for link in self._load_annotation_links()
               if link.child.data.get("ns") == ns]
        if ids:
            self._conn.deleteObjects("Annotation", ids, wait=True)
        self._annotation_links = None

    # ---- hierarchy ----

    def listChildren(self, ns: str | None = None, val: str | None = None, params: Any = None
                     ) -> Iterator[Any]:
        if ns is not None or val is not None or params is not None:
            raise NotImplementedError("listChildren(ns, val, params) filters are not in the "
                                      "test double")
        spec = CHILDREN.get(self._record.kind)
        if spec is None:
            return iter(())
        self._server.calls.record("IQuery.findAllByQuery")
        ctx_groups = self._conn._scope()
        viewer = self._conn._acting_user
        children = [
            link.child for link in self._server.links_of(parent=self._record)
            if link.kind == spec[0] and link.group in ctx_groups
            and self._server.can(viewer, "read", link.child)
        ]
        children.sort(key=lambda r: (r.name or "", r.id))
        # The real query fetches the children with their annotation links, without pixels.
        extra = {"pixels_loaded": False} if spec[1] == "Image" else {}
        return iter([self._conn._wrap(child, annotations_loaded=True, **extra)
                     for child in children])

    def countChildren(self) -> int:
        spec = CHILDREN.get(self._record.kind)
        if spec is None:
            return 0
        self._server.calls.record("IContainer.getCollectionCount")
        viewer = self._conn._acting_user
        return sum(1 for link in self._server.links_of(parent=self._record)
                   if link.kind == spec[0] and self._server.can(viewer, "read", link.child))

    def listParents(self, withlinks: bool = False) -> list[Any]:
        spec = PARENTS.get(self._record.kind)
        if spec is None:
            return []
        self._server.calls.record("IQuery.findAllByQuery")
        ctx_groups = self._conn._scope()
        viewer = self._conn._acting_user
        found = []
        for link in self._server.links_of(child=self._record):
            if (link.kind != spec[0] or link.group not in ctx_groups
                    or not self._server.can(viewer, "read", link.parent)):
                continue
            parent = self._conn._wrap(link.parent)
            found.append((parent, link_wrapper(self._conn, link)) if withlinks else parent)
        return found

    def getParent(self, withlinks: bool = False) -> Any:
        parents = self.listParents(withlinks=withlinks)
        return parents[0] if parents else None

    def getAncestry(self) -> list[Any]:
        ancestry = []
        parent = self.getParent()
        while parent:
            ancestry.append(parent)
            parent = parent.getParent()
        return ancestry


@fake_of("omero.gateway._ProjectWrapper")
class FakeProjectWrapper(FakeBlitzObjectWrapper):
    OMERO_CLASS = "Project"


@fake_of("omero.gateway._DatasetWrapper")
class FakeDatasetWrapper(FakeBlitzObjectWrapper):
    OMERO_CLASS = "Dataset"


@fake_of("omero.gateway._ImageWrapper")
class FakeImageWrapper(FakeBlitzObjectWrapper):
    OMERO_CLASS = "Image"

    def __init__(self, conn: FakeBlitzGateway, obj: Any, record: Record,
                 pixels_loaded: bool = True, **kwargs: Any) -> None:
        super().__init__(conn, obj, record, **kwargs)
        self._pixels_loaded = pixels_loaded

    def _pixels(self) -> Any:
        if not self._pixels_loaded:
            # ImageWrapper.__loadedHotSwap__ reloads the image with its pixels.
            self._server.calls.record("IContainer.getImages")
            self._pixels_loaded = True
        return self._obj.getPrimaryPixels()

    def getPrimaryPixels(self) -> FakePixelsWrapper:
        return FakePixelsWrapper(self._conn, self._pixels(), self._record.data["pixels"])

    def getPixelsId(self) -> int:
        return self._pixels().getId().val

    def getSizeX(self) -> int:
        return self._pixels().getSizeX().val

    def getSizeY(self) -> int:
        return self._pixels().getSizeY().val

    def getSizeZ(self) -> int:
        return self._pixels().getSizeZ().val

    def getSizeC(self) -> int:
        return self._pixels().getSizeC().val

    def getSizeT(self) -> int:
        return self._pixels().getSizeT().val

    def getPixelsType(self) -> str:
        return self._pixels().getPixelsType().getValue().val

    def _length(self, value: Any, units: Any) -> Any:
        if value is None:
            return None
        if units is None:
            return value.getValue()
        if units is True:
            return value
        return omero.model.LengthI(value, units)

    def getPixelSizeX(self, units: Any = None) -> Any:
        return self._length(self._pixels().getPhysicalSizeX(), units)

    def getPixelSizeY(self, units: Any = None) -> Any:
        return self._length(self._pixels().getPhysicalSizeY(), units)

    def getPixelSizeZ(self, units: Any = None) -> Any:
        return self._length(self._pixels().getPhysicalSizeZ(), units)

    def getChannelLabels(self) -> list[str]:
        return [channel.getLogicalChannel().getName().val
                for channel in self._pixels().copyChannels()]

    def canDownload(self) -> bool:
        return not self._perms().isRestricted(omero.constants.permissions.BINARYACCESS)

    def getChannels(self, noRE: bool = False) -> list[FakeChannelWrapper]:
        """Only ``noRE=True``: the fake has no rendering engine."""
        if not noRE:
            raise NotImplementedError("the OMERO test double has no rendering engine: "
                                      "use getChannels(noRE=True)")
        self._server.calls.record("IQuery.findByQuery")
        return [FakeChannelWrapper(self._conn, channel, self._record, idx=index)
                for index, channel in enumerate(self._pixels().copyChannels())]

    def getProject(self) -> FakeProjectWrapper | None:
        dataset = self.getParent()
        return dataset.getParent() if dataset is not None else None


@fake_of("omero.gateway._ScreenWrapper")
class FakeScreenWrapper(FakeBlitzObjectWrapper):
    OMERO_CLASS = "Screen"


@fake_of("omero.gateway._PlateWrapper")
class FakePlateWrapper(FakeBlitzObjectWrapper):
    """A plate: its children are wells (no links: a well is part of its plate), listed with
    their well samples and images in one query and cached, as PlateWrapper._listChildren."""

    OMERO_CLASS = "Plate"

    def __init__(self, conn: FakeBlitzGateway, obj: Any, record: Record, **kwargs: Any) -> None:
        super().__init__(conn, obj, record, **kwargs)
        self._wells: list[FakeWellWrapper] | None = None

    def _listWells(self) -> list[FakeWellWrapper]:
        if self._wells is None:
            self._server.calls.record("IQuery.findAllByQuery")
            ctx_groups = self._conn._scope()
            viewer = self._conn._acting_user
            self._wells = [
                FakeWellWrapper(self._conn, model.well_model(
                    self._server, viewer, well, _readable_samples(self._conn, well)), well,
                    samples_loaded=True)
                for well in self._record.data["wells"]
                if well.group in ctx_groups and self._server.can(viewer, "read", well)]
        return self._wells

    def listChildren(self, ns: str | None = None, val: str | None = None, params: Any = None
                     ) -> Iterator[FakeWellWrapper]:
        """The wells, not sorted (the real order is the database's; here creation order)."""
        if ns is not None or val is not None or params is not None:
            raise NotImplementedError("listChildren(ns, val, params) filters are not in the "
                                      "test double")
        return iter(list(self._listWells()))

    def countChildren(self) -> int:
        return len(self._listWells())

    def getGridSize(self) -> dict[str, int]:
        """{'rows', 'columns'}: one past the largest row and column of the wells (0 and 0
        without wells)."""
        self._server.calls.record("IQuery.projection")
        wells = self._record.data["wells"]
        if not wells:
            return {"rows": 0, "columns": 0}
        return {"rows": max(w.data["row"] for w in wells) + 1,
                "columns": max(w.data["column"] for w in wells) + 1}


def _readable_samples(conn: FakeBlitzGateway, well: Record) -> list[Record]:
    viewer = conn._acting_user
    return [sample for sample in well.data["samples"]
            if conn._omero.can(viewer, "read", sample)]


@fake_of("omero.gateway._WellWrapper")
class FakeWellWrapper(FakeBlitzObjectWrapper):
    """A well; its children are well samples (fields) in index order. A well fetched on its
    own (getObject("Well", id)) has them unloaded: the first use reloads the well with them
    (WellWrapper.__loadedHotSwap__, one IQuery.findByQuery)."""

    OMERO_CLASS = "Well"

    def __init__(self, conn: FakeBlitzGateway, obj: Any, record: Record,
                 samples_loaded: bool = False, index: int = 0, **kwargs: Any) -> None:
        super().__init__(conn, obj, record, **kwargs)
        self._samples_loaded = samples_loaded
        self.index = index

    @mirrors("omero.model.WellI.getRow")
    def getRow(self) -> int:
        """0-based, as WellWrapper answers it (through __getattr__, unwrapped)."""
        return self._obj.getRow().val

    @mirrors("omero.model.WellI.getColumn")
    def getColumn(self) -> int:
        return self._obj.getColumn().val

    def _listSamples(self) -> list[Any]:
        if not self._samples_loaded:
            self._server.calls.record("IQuery.findByQuery")
            self._obj = model.well_model(self._server, self._conn._acting_user, self._record,
                                         _readable_samples(self._conn, self._record))
            self._samples_loaded = True
        records = {sample.id: sample for sample in self._record.data["samples"]}
        return [(obj, records[obj.getId().val]) for obj in self._obj.copyWellSamples()]

    def listChildren(self, ns: str | None = None, val: str | None = None, params: Any = None
                     ) -> Iterator[FakeWellSampleWrapper]:
        if ns is not None or val is not None or params is not None:
            raise NotImplementedError("listChildren(ns, val, params) filters are not in the "
                                      "test double")
        return iter([FakeWellSampleWrapper(self._conn, obj, record)
                     for obj, record in self._listSamples()])

    def countChildren(self) -> int:
        raise NotImplementedError("WellWrapper.countChildren fails on a real server (a well "
                                  "has no child link class): use countWellSample()")

    def countWellSample(self) -> int:
        return len(self._listSamples())

    def isWellSample(self) -> bool:
        """True when the well samples are loaded and there are some (no query, as the real)."""
        return self._samples_loaded and len(self._obj.copyWellSamples()) > 0

    def getWellSample(self, index: int | None = None) -> FakeWellSampleWrapper | None:
        index = int(self.index if index is None else index)
        samples = self._listSamples()
        if len(samples) > index:
            return FakeWellSampleWrapper(self._conn, *samples[index])
        return None

    def getImage(self, index: int | None = None) -> FakeImageWrapper | None:
        sample = self.getWellSample(index)
        return sample.getImage() if sample else None

    def listParents(self, withlinks: bool = False) -> list[Any]:
        """The plate (the real one loads it when unloaded: one query)."""
        self._server.calls.record("IQuery.findByQuery")
        plate = self._conn._wrap(self._record.data["plate"])
        return [(plate, None)] if withlinks else [plate]


@fake_of("omero.gateway._WellSampleWrapper")
class FakeWellSampleWrapper(FakeBlitzObjectWrapper):
    """One field of a well; its image comes loaded without pixels (read on first use)."""

    OMERO_CLASS = "WellSample"

    def getImage(self) -> FakeImageWrapper:
        return FakeImageWrapper(self._conn, self._obj.getImage(), self._record.data["image"],
                                pixels_loaded=False)

    def image(self) -> FakeImageWrapper:
        return self.getImage()

    def listParents(self, withlinks: bool = False) -> list[Any]:
        self._server.calls.record("IQuery.findAllByQuery")
        well = self._record.data["well"]
        wrapped = FakeWellWrapper(self._conn, model.well_model(
            self._server, self._conn._acting_user, well, _readable_samples(self._conn, well)),
            well, samples_loaded=True)
        return [(wrapped, None)] if withlinks else [wrapped]


@fake_of("omero.gateway._ChannelWrapper")
class FakeChannelWrapper(FakeBlitzObjectWrapper):
    OMERO_CLASS = "Channel"

    def __init__(self, conn: FakeBlitzGateway, obj: Any, record: Record, idx: int = -1,
                 **kwargs: Any) -> None:
        super().__init__(conn, obj, record, **kwargs)
        self._idx = idx

    def getLabel(self) -> str:
        name = unwrap(self._obj.getLogicalChannel().getName())
        return str(name) if name and name.strip() else str(self._idx)

    def getName(self) -> str | None:
        name = unwrap(self._obj.getLogicalChannel().getName())
        return str(name) if name is not None else None


@fake_of("omero.gateway._PixelsWrapper")
class FakePixelsWrapper(FakeBlitzObjectWrapper):
    OMERO_CLASS = "Pixels"

    @mirrors("omero.model.PixelsI.getSizeX")
    def getSizeX(self) -> int:
        return self._obj.getSizeX().val

    @mirrors("omero.model.PixelsI.getSizeY")
    def getSizeY(self) -> int:
        return self._obj.getSizeY().val

    @mirrors("omero.model.PixelsI.getSizeZ")
    def getSizeZ(self) -> int:
        return self._obj.getSizeZ().val

    @mirrors("omero.model.PixelsI.getSizeC")
    def getSizeC(self) -> int:
        return self._obj.getSizeC().val

    @mirrors("omero.model.PixelsI.getSizeT")
    def getSizeT(self) -> int:
        return self._obj.getSizeT().val

    def get_numpy_type(self) -> type:
        return NUMPY_TYPES[self._obj.getPixelsType().getValue().val]

    def getTiles(self, zctTileList: list[tuple[int, int, int, Any]]) -> Iterator[np.ndarray]:
        """As the real one: one RawPixelsStore, big-endian bytes, closed at the end."""
        size_x, size_y = self.getSizeX(), self.getSizeY()
        dtype = np.dtype(self.get_numpy_type()).newbyteorder(">")
        store = self._conn.createRawPixelsStore()
        try:
            store.setPixelsId(self.getId(), True, self._conn.SERVICE_OPTS)
            for z, c, t, tile in zctTileList:
                if tile is None:
                    raw, width, height = store.getPlane(z, c, t), size_x, size_y
                else:
                    x, y, width, height = tile
                    raw = store.getTile(z, c, t, x, y, width, height)
                plane = np.frombuffer(raw, dtype=dtype).reshape(height, width)
                yield plane.astype(self.get_numpy_type())
        finally:
            store.close()

    def getPlanes(self, zctList: list[tuple[int, int, int]]) -> Iterator[np.ndarray]:
        return self.getTiles([(z, c, t, None) for z, c, t in zctList])

    def getPlane(self, theZ: int = 0, theC: int = 0, theT: int = 0) -> np.ndarray:
        (plane,) = self.getPlanes([(theZ, theC, theT)])  # exhausts it: the store closes
        return plane

    def getTile(self, theZ: int = 0, theC: int = 0, theT: int = 0, tile: Any = None
                ) -> np.ndarray:
        (plane,) = self.getTiles([(theZ, theC, theT, tile)])
        return plane


@fake_of("omero.gateway._OriginalFileWrapper")
class FakeOriginalFileWrapper(FakeBlitzObjectWrapper):
    OMERO_CLASS = "OriginalFile"

    @mirrors("omero.model.OriginalFileI.getPath")
    def getPath(self) -> str:
        return self._obj.getPath().val

    @mirrors("omero.model.OriginalFileI.getSize")
    def getSize(self) -> int:
        return self._obj.getSize().val

    @mirrors("omero.model.OriginalFileI.getMimetype")
    def getMimetype(self) -> str | None:
        return unwrap(self._obj.getMimetype())

    def getFileInChunks(self, buf: int = 2621440) -> Iterator[bytes]:
        store = self._conn.createRawFileStore()
        try:
            store.setFileId(self.getId(), self._conn.SERVICE_OPTS)
            size, position = store.size(), 0
            while position < size:
                length = min(buf, size - position)
                yield store.read(position, length)
                position += length
        finally:
            store.close()

    def canDownload(self) -> bool:
        return not self._perms().isRestricted(omero.constants.permissions.BINARYACCESS)


@fake_of("omero.gateway.AnnotationWrapper")
class FakeAnnotationWrapper(FakeBlitzObjectWrapper):
    """Annotations; ``link`` is the link it was reached through (as in omero.gateway)."""

    def __init__(self, conn: FakeBlitzGateway, obj: Any, record: Record,
                 link: Link | None = None, **kwargs: Any) -> None:
        super().__init__(conn, obj, record, **kwargs)
        self.link = link_wrapper(conn, link) if link is not None else None

    def getNs(self) -> str | None:
        ns = self._obj.getNs()
        return ns.val if ns is not None else None

    def setNs(self, val: str) -> None:
        self._obj.setNs(rstring(val) if val is not None else None)

    def getValue(self) -> Any:
        raise NotImplementedError

    def setValue(self, val: Any) -> None:
        raise NotImplementedError


@fake_of("omero.gateway.MapAnnotationWrapper")
class FakeMapAnnotationWrapper(FakeAnnotationWrapper):
    def getValue(self) -> list[tuple[str, str]]:
        return [(kv.name, kv.value) for kv in self._obj.getMapValue()]

    def setValue(self, val: list[tuple[str, str]]) -> None:
        self._obj.setMapValue([omero.model.NamedValue(k, v) for k, v in val])


@fake_of("omero.gateway.TagAnnotationWrapper")
class FakeTagAnnotationWrapper(FakeAnnotationWrapper):
    def getValue(self) -> str:
        return unwrap(self._obj.getTextValue())

    def setValue(self, val: str) -> None:
        self._obj.setTextValue(rstring(val))

    def listParents(self, withlinks: bool = True) -> list[Any]:
        """The tag sets holding this tag: the fake has no tag sets, so none."""
        return []


@fake_of("omero.gateway.CommentAnnotationWrapper")
class FakeCommentAnnotationWrapper(FakeAnnotationWrapper):
    def getValue(self) -> str:
        return unwrap(self._obj.getTextValue())

    def setValue(self, val: str) -> None:
        self._obj.setTextValue(rstring(val))


@fake_of("omero.gateway.FileAnnotationWrapper")
class FakeFileAnnotationWrapper(FakeAnnotationWrapper):
    def getValue(self) -> None:
        return None

    def setValue(self, val: Any) -> None:
        return None

    def getFile(self) -> FakeOriginalFileWrapper:
        file_record = self._record.data["file"]
        return FakeOriginalFileWrapper(self._conn, self._obj.getFile(), file_record)

    def setDescription(self, val: str) -> None:
        self._obj.setDescription(rstring(val) if val is not None else None)

    def setFile(self, originalfile: Any) -> None:
        self._obj.setFile(omero.model.OriginalFileI(originalfile.getId(), False))

    def getFileName(self) -> str | None:
        return self.getFile().getName()

    def getFileSize(self) -> int:
        return self.getFile().getSize()

    def getFileInChunks(self, buf: int = 2621440) -> Iterator[bytes]:
        return self.getFile().getFileInChunks(buf=buf)

    def canDownload(self) -> bool:
        return not self._perms().isRestricted(omero.constants.permissions.BINARYACCESS)


@fake_of("omero.gateway._ExperimenterWrapper")
class FakeExperimenterWrapper:
    OMERO_CLASS = "Experimenter"

    def __init__(self, conn: FakeBlitzGateway, obj: Any, user: User) -> None:
        self._conn = conn
        self._obj = obj
        self._user = user

    def __repr__(self) -> str:
        return f"<FakeExperimenterWrapper {self._user.name}>"

    def getId(self) -> int:
        return self._obj.getId().val

    def getName(self) -> str:
        return self._obj.getOmeName().val

    @mirrors("omero.model.ExperimenterI.getOmeName")
    def getOmeName(self) -> str:
        return self._obj.getOmeName().val

    @mirrors("omero.model.ExperimenterI.getFirstName")
    def getFirstName(self) -> str:
        return self._obj.getFirstName().val

    @mirrors("omero.model.ExperimenterI.getLastName")
    def getLastName(self) -> str:
        return self._obj.getLastName().val

    @mirrors("omero.model.ExperimenterI.getEmail")
    def getEmail(self) -> str:
        return unwrap(self._obj.getEmail()) or ""

    def getFullName(self) -> str:
        return self._user.full_name

    def getDescription(self) -> str:
        return self.getFullName()

    def getNameWithInitial(self) -> str:
        return f"{self._user.first_name[:1]}. {self._user.last_name}"

    def isAdmin(self) -> bool:
        return any(g.name == "system" for g in self._user.groups)

    def isActive(self) -> bool:
        return any(g.name == "user" for g in self._user.groups)

    def isGuest(self) -> bool:
        return any(g.name == "guest" for g in self._user.groups)

    def is_self(self) -> bool:
        return self._user.id == self._conn.getUserId()


@fake_of("omero.gateway._ExperimenterGroupWrapper")
class FakeExperimenterGroupWrapper:
    OMERO_CLASS = "ExperimenterGroup"

    def __init__(self, conn: FakeBlitzGateway, obj: Any, group: Group) -> None:
        self._conn = conn
        self._obj = obj
        self._group = group

    def __repr__(self) -> str:
        return f"<FakeExperimenterGroupWrapper {self._group.name}>"

    def getId(self) -> int:
        return self._obj.getId().val

    def getName(self) -> str:
        return self._obj.getName().val

    def getDescription(self) -> str:
        return unwrap(self._obj.getDescription()) or ""

    def getDetails(self) -> FakeDetailsWrapper:
        return FakeDetailsWrapper(self._conn, self._obj.getDetails())


ANNOTATION_WRAPPERS: dict[str, type[FakeAnnotationWrapper]] = {
    "MapAnnotation": FakeMapAnnotationWrapper,
    "FileAnnotation": FakeFileAnnotationWrapper,
    "TagAnnotation": FakeTagAnnotationWrapper,
    "CommentAnnotation": FakeCommentAnnotationWrapper,
}
DATA_WRAPPERS: dict[str, type[FakeBlitzObjectWrapper]] = {
    "Project": FakeProjectWrapper,
    "Dataset": FakeDatasetWrapper,
    "Image": FakeImageWrapper,
    "Screen": FakeScreenWrapper,
    "Plate": FakePlateWrapper,
    "Well": FakeWellWrapper,
    "WellSample": FakeWellSampleWrapper,
    "Pixels": FakePixelsWrapper,
    "OriginalFile": FakeOriginalFileWrapper,
}


def annotation_wrapper(conn: FakeBlitzGateway, record: Record, link: Link | None = None) -> Any:
    cls = ANNOTATION_WRAPPERS.get(record.kind, FakeAnnotationWrapper)
    return cls(conn, model.to_model(conn._omero, conn._acting_user, record), record, link=link)


def link_wrapper(conn: FakeBlitzGateway, link: Link) -> FakeBlitzObjectWrapper:
    return FakeBlitzObjectWrapper(
        conn, model.link_model(conn._omero, conn._acting_user, link, load_parent=False,
                               load_child=False), link)


def wrapper_for(conn: FakeBlitzGateway, record: Record, **kwargs: Any) -> Any:
    if record.kind in ANNOTATION_WRAPPERS or record.kind.endswith("Annotation"):
        return annotation_wrapper(conn, record)
    cls = DATA_WRAPPERS[record.kind]
    return cls(conn, model.to_model(conn._omero, conn._acting_user, record), record, **kwargs)
