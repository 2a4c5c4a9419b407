"""FakeBlitzGateway: one user's connection to the fake server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import omero
import omero.cmd
import omero.sys
from omero.gateway.utils import ServiceOptsDict
from omero.rtypes import rlong, rstring, unwrap

from . import model
from .calls import counted
from .contract import fake_of, mirrors
from .errors import api_usage, security_violation

if TYPE_CHECKING:
    from .store import FakeOmero, Group, Record, Session, User

# getObjects() type names (omero.gateway.KNOWN_WRAPPERS keys) -> store kinds.
OBJECT_TYPES = {
    "project": ("Project",),
    "dataset": ("Dataset",),
    "image": ("Image",),
    "screen": ("Screen",),
    "plate": ("Plate",),
    "well": ("Well",),
    "originalfile": ("OriginalFile",),
    "mapannotation": ("MapAnnotation",),
    "fileannotation": ("FileAnnotation",),
    "tagannotation": ("TagAnnotation",),
    "commentannotation": ("CommentAnnotation",),
    "longannotation": ("LongAnnotation",),
    "doubleannotation": ("DoubleAnnotation",),
    "booleanannotation": ("BooleanAnnotation",),
    "annotation": ("MapAnnotation", "FileAnnotation", "TagAnnotation", "CommentAnnotation",
                   "LongAnnotation", "DoubleAnnotation", "BooleanAnnotation"),
    "experimenter": ("Experimenter",),
    "experimentergroup": ("ExperimenterGroup",),
}
COMMON_OPTS = frozenset({"limit", "offset", "owner", "order_by"})
TYPE_OPTS = {
    "Dataset": frozenset({"project", "image", "orphaned"}),
    "Image": frozenset({"dataset", "orphaned", "load_pixels", "load_channels"}),
    "Screen": frozenset({"plate"}),
    "Plate": frozenset({"screen", "orphaned"}),
    "Well": frozenset({"plate"}),
    "Experimenter": frozenset({"load_experimentergroups", "experimentergroup"}),
    "ExperimenterGroup": frozenset({"load_experimenters", "experimenter"}),
}
# Record fields that attributes={...} may filter on.
ATTRIBUTE_FIELDS = {
    "id": lambda r: r.id,
    "name": lambda r: r.name,
    "description": lambda r: r.description,
    "ns": lambda r: r.data.get("ns"),
    "textValue": lambda r: r.data.get("text"),
    "path": lambda r: r.data.get("path"),
    "mimetype": lambda r: r.data.get("mimetype"),
}
USER_FIELDS = {
    "id": lambda u: u.id, "omeName": lambda u: u.name, "firstName": lambda u: u.first_name,
    "lastName": lambda u: u.last_name, "email": lambda u: u.email,
}
GROUP_FIELDS = {"id": lambda g: g.id, "name": lambda g: g.name}


def group_id_of(ctx: Any) -> str | None:
    """The omero.group of a call context (ServiceOptsDict, plain dict or None)."""
    if ctx is None:
        return None
    value = ctx.get("omero.group") if hasattr(ctx, "get") else None
    return None if value in (None, "") else str(value)


@fake_of("omero.gateway._BlitzGateway")
class FakeBlitzGateway:
    """A connected gateway acting as one user (see FakeOmero.connect)."""

    def __init__(self, server: FakeOmero, session: Session) -> None:
        self._omero = server
        self._session = session
        self._event_context: Any = None
        self._last_group_id: int | None = None
        self._user_wrapper: Any = None
        self.SERVICE_OPTS = ServiceOptsDict()
        # OMERO.web's login_required closes conn.c when it is set; the fake has no client.
        self.c = None

    # ---- identity and context ----

    @property
    def _acting_user(self) -> User:
        return self._session.user

    def _scope(self, ctx: Any = None) -> list[Group]:
        """Groups a read may see: the context's omero.group, -1 for all, else the session's."""
        wanted = group_id_of(ctx) or group_id_of(self.SERVICE_OPTS)
        user = self._acting_user
        if wanted is None:
            return [self._session.group]
        if wanted == "-1":
            return list(self._omero.groups.values()) if user.admin else list(user.groups)
        group = self._omero.groups.get(int(wanted))
        if group is None:
            raise security_violation(f"no group {wanted}")
        if group not in user.groups and not user.admin:
            raise security_violation(f"{user.name} is not a member of group {group.name}")
        return [group]

    def _write_group(self, ctx: Any = None) -> Group:
        """The group new objects go to; omero.group=-1 is refused for writes, as by OMERO."""
        wanted = group_id_of(ctx) or group_id_of(self.SERVICE_OPTS)
        if wanted == "-1":
            raise security_violation("cannot create objects with omero.group=-1")
        return self._scope(ctx)[0]

    def _can_read(self, record: Record, ctx: Any = None) -> bool:
        return (record.group in self._scope(ctx)
                and self._omero.can(self._acting_user, "read", record))

    def _wrap(self, record: Record, **kwargs: Any) -> Any:
        from .wrappers import wrapper_for

        return wrapper_for(self, record, **kwargs)

    def connect(self, sUuid: str | None = None) -> bool:
        if sUuid is not None:
            self._session = self._omero.join_session(sUuid)._session
            self._event_context = None
            self._user_wrapper = None
        return not self._session.closed

    def isConnected(self) -> bool:
        return not self._session.closed

    def keepAlive(self) -> bool:
        return self.isConnected()

    def close(self, hard: bool = True) -> None:
        if hard:
            self._session.closed = True

    def isAnonymous(self) -> bool:
        return False

    def canCreate(self) -> bool:
        return not self._session.closed

    def getClientSettings(self) -> dict[str, str]:
        return {}

    @mirrors("omeroweb.webclient.webclient_gateway.OmeroWebGateway.getEmailSettings")
    def getEmailSettings(self) -> bool:
        return False

    def getEventContext(self) -> Any:
        if self._event_context is None:
            self._event_context = self.getAdminService().getEventContext()
        return self._event_context

    def getUserId(self) -> int:
        return self.getEventContext().userId

    def getUser(self) -> Any:
        if self._user_wrapper is None:  # cached, as BlitzGateway does
            self._user_wrapper = self.getObject("Experimenter", self.getUserId())
        return self._user_wrapper

    def isAdmin(self) -> bool:
        return self.getEventContext().isAdmin

    def isFullAdmin(self) -> bool:
        from .store import ALL_PRIVILEGES

        return self.isAdmin() and set(self.getCurrentAdminPrivileges()) == ALL_PRIVILEGES

    def getCurrentAdminPrivileges(self) -> list[str]:
        return [unwrap(p.getValue()) for p in
                self.getAdminService().getCurrentAdminPrivileges()]

    def getAdminPrivileges(self, user_id: int) -> list[str]:
        return [unwrap(p.getValue()) for p in self.getAdminService().getAdminPrivileges(
            omero.model.ExperimenterI(user_id, False))]

    def isLeader(self, gid: int | None = None) -> bool:
        if gid is None:
            gid = self.getEventContext().groupId
        return int(gid) in self.getEventContext().leaderOfGroups

    def getGroupFromContext(self) -> Any:
        from .wrappers import FakeExperimenterGroupWrapper

        group = self.getAdminService().getGroup(self.getEventContext().groupId)
        return FakeExperimenterGroupWrapper(self, group, self._omero.groups[group.id.val])

    def setGroupForSession(self, groupid: int) -> bool | None:
        context = self.getEventContext()
        if context.groupId == groupid:
            return None
        if groupid not in context.memberOfGroups and not context.isAdmin:
            return False
        self._last_group_id = context.groupId
        self._omero.calls.record("ServiceFactory.setSecurityContext")
        self._session.group = self._omero.groups[int(groupid)]
        self._event_context = None
        return True

    def setGroupNameForSession(self, group: str) -> bool | None:
        return self.setGroupForSession(self.getAdminService().lookupGroup(group).getId().val)

    def revertGroupForSession(self) -> None:
        if self._last_group_id is not None:
            self.setGroupForSession(self._last_group_id)
            self._last_group_id = None

    def suConn(self, username: str, group: str | None = None, ttl: int = 60000
               ) -> FakeBlitzGateway | None:
        if not self.isAdmin():
            return None
        if group is None:
            user = self.getObject("Experimenter", attributes={"omeName": username})
            if user is None:
                return None
            from .store import default_group

            group = default_group(self._omero.users[user.getId()]).name
        principal = omero.sys.Principal()
        principal.name = username
        principal.group = group
        principal.eventType = "User"
        session = self.getSessionService().createSessionWithTimeout(principal, ttl)
        return self._omero.join_session(session.getUuid().val)

    # ---- services ----

    def getQueryService(self) -> Any:
        from .services import FakeQueryService

        return FakeQueryService(self)

    def getUpdateService(self) -> Any:
        from .services import FakeUpdateService

        return FakeUpdateService(self)

    def getAdminService(self) -> Any:
        from .services import FakeAdminService

        return FakeAdminService(self)

    def getSessionService(self) -> Any:
        from .services import FakeSessionService

        return FakeSessionService(self)

    def getScriptService(self) -> Any:
        from .scripts import FakeScriptService

        return FakeScriptService(self)

    def getConfigService(self) -> Any:
        from .server_config import FakeConfigService

        return FakeConfigService(self)

    def getSharedResources(self) -> Any:
        from .tables import FakeSharedResources

        return FakeSharedResources(self)

    def createRawPixelsStore(self) -> Any:
        from .pixels import FakeRawPixelsStore

        self._omero.calls.record("ServiceFactory.createRawPixelsStore")
        return FakeRawPixelsStore(self)

    def createRawFileStore(self) -> Any:
        from .files import FakeRawFileStore

        self._omero.calls.record("ServiceFactory.createRawFileStore")
        return FakeRawFileStore(self)

    # ---- reading ----

    @counted("IQuery.findByQuery")
    def getObject(self, obj_type: str, oid: int | None = None, params: Any = None,
                  attributes: dict[str, Any] | None = None, opts: dict[str, Any] | None = None
                  ) -> Any:
        oids = [oid] if oid is not None else None
        found = self._select(obj_type, oids, params, attributes, opts)
        if len(found) > 1:
            raise api_usage(f"getObject({obj_type!r}) matched {len(found)} objects")
        return found[0] if found else None

    @counted("IQuery.findAllByQuery")
    def getObjects(self, obj_type: str, ids: list[int] | None = None, params: Any = None,
                   attributes: dict[str, Any] | None = None, respect_order: bool = False,
                   opts: dict[str, Any] | None = None) -> Iterator[Any]:
        found = self._select(obj_type, ids, params, attributes, opts)
        if respect_order and ids is not None:
            by_id = {w.getId(): w for w in found}
            found = [by_id[i] for i in map(int, unwrap(ids)) if i in by_id]
        return iter(found)

    def listProjects(self, eid: int | None = None) -> Iterator[Any]:
        return self.getObjects("Project", opts={"owner": eid} if eid is not None else None)

    def getGroupsMemberOf(self) -> Iterator[Any]:
        from .wrappers import FakeExperimenterGroupWrapper

        self._omero.calls.record("IAdmin.containedGroups")
        for group in self._acting_user.groups:
            if group.name != "user":
                yield FakeExperimenterGroupWrapper(
                    self, model.experimenter_group(group), group)

    def _select(self, obj_type: str, ids: Any, params: Any, attributes: Any, opts: Any
                ) -> list[Any]:
        if not isinstance(obj_type, str):
            raise AttributeError(f"getObjects uses a string obj_type, not {obj_type!r}")
        kinds = OBJECT_TYPES.get(obj_type.lower())
        if kinds is None:
            raise KeyError(f"obj_type of {obj_type} not supported by the OMERO test double")
        opts = dict(opts or {})
        unknown = set(opts) - COMMON_OPTS - TYPE_OPTS.get(kinds[0], frozenset())
        if unknown:
            raise NotImplementedError(
                f"getObjects({obj_type!r}) opts {sorted(unknown)} are not supported by the "
                "OMERO test double; add them in plugins/omero_test_double")
        owner, offset, limit = opts.get("owner"), opts.get("offset", 0), opts.get("limit")
        if params is not None and getattr(params, "theFilter", None) is not None:
            theFilter = params.theFilter
            owner = unwrap(theFilter.ownerId) if theFilter.ownerId is not None else owner
            offset = unwrap(theFilter.offset) if theFilter.offset is not None else offset
            limit = unwrap(theFilter.limit) if theFilter.limit is not None else limit
        wanted_ids = None if ids is None else {int(i) for i in unwrap(list(ids))}
        if kinds[0] in ("Experimenter", "ExperimenterGroup"):
            items = self._select_people(kinds[0], wanted_ids, attributes or {}, opts)
        else:
            items = self._select_records(kinds, wanted_ids, attributes or {}, opts, owner)
        items.sort(key=_order_key(opts.get("order_by")))
        if limit is not None:
            items = items[int(offset or 0):int(offset or 0) + int(limit)]
        return [self._wrap_any(item) for item in items]

    def _select_records(self, kinds: tuple[str, ...], wanted_ids: set[int] | None,
                        attributes: dict[str, Any], opts: dict[str, Any], owner: Any
                        ) -> list[Any]:
        for key in attributes:
            if key not in ATTRIBUTE_FIELDS:
                raise NotImplementedError(
                    f"attributes filter {key!r} is not supported by the OMERO test double")
        server = self._omero
        rows = []
        for record in server.records.values():
            if record.kind not in kinds or not self._can_read(record):
                continue
            if wanted_ids is not None and record.id not in wanted_ids:
                continue
            if owner is not None and record.owner.id != int(owner):
                continue
            if any(ATTRIBUTE_FIELDS[k](record) != unwrap(v) for k, v in attributes.items()):
                continue
            if not _matches_container_opts(server, record, opts):
                continue
            rows.append(record)
        return rows

    def _select_people(self, kind: str, wanted_ids: set[int] | None,
                       attributes: dict[str, Any], opts: dict[str, Any]) -> list[Any]:
        fields = USER_FIELDS if kind == "Experimenter" else GROUP_FIELDS
        for key in attributes:
            if key not in fields:
                raise NotImplementedError(
                    f"attributes filter {key!r} on {kind} is not supported by the test double")
        server = self._omero
        pool: list[Any] = list(
            server.users.values() if kind == "Experimenter" else server.groups.values())
        rows = []
        for item in pool:
            if wanted_ids is not None and item.id not in wanted_ids:
                continue
            if any(fields[k](item) != unwrap(v) for k, v in attributes.items()):
                continue
            if kind == "Experimenter" and "experimentergroup" in opts and int(
                    opts["experimentergroup"]) not in {g.id for g in item.groups}:
                continue
            if kind == "ExperimenterGroup" and "experimenter" in opts and item not in (
                    server.users[int(opts["experimenter"])].groups):
                continue
            rows.append(item)
        return rows

    def _wrap_any(self, item: Any) -> Any:
        from .store import Group, User
        from .wrappers import FakeExperimenterGroupWrapper, FakeExperimenterWrapper

        if isinstance(item, User):
            return FakeExperimenterWrapper(self, model.experimenter(item), item)
        if isinstance(item, Group):
            return FakeExperimenterGroupWrapper(self, model.experimenter_group(item), item)
        return self._wrap(item)

    # ---- uploads (the real gateway's steps, against the fake services) ----

    def createOriginalFileFromFileObj(self, fo: Any, path: str, name: str, fileSize: int,
                                      mimetype: str | None = None, ns: str | None = None
                                      ) -> Any:
        from .wrappers import FakeOriginalFileWrapper

        original = omero.model.OriginalFileI()
        original.setName(rstring(name))
        original.setPath(rstring(path))
        if mimetype:
            original.setMimetype(rstring(mimetype))
        original.setSize(rlong(fileSize))
        original = self.getUpdateService().saveAndReturnObject(original, self.SERVICE_OPTS)
        store = self.createRawFileStore()
        try:
            store.setFileId(original.getId().getValue(), self.SERVICE_OPTS)
            block_size = 10000
            for position in range(0, int(fileSize), block_size):
                fo.seek(position)
                length = min(block_size, int(fileSize) - position)
                store.write(fo.read(length), position, length, self.SERVICE_OPTS)
            original = store.save(self.SERVICE_OPTS)
        finally:
            store.close()
        return FakeOriginalFileWrapper(self, original, self._omero.records[original.id.val])

    def createOriginalFileFromLocalFile(self, localPath: str,
                                        origFilePathAndName: str | None = None,
                                        mimetype: str | None = None, ns: str | None = None
                                        ) -> Any:
        path, name = os.path.split(origFilePathAndName or localPath)
        with open(localPath, "rb") as handle:
            return self.createOriginalFileFromFileObj(
                handle, path, name, os.path.getsize(localPath), mimetype)

    def createFileAnnfromLocalFile(self, localPath: str, origFilePathAndName: str | None = None,
                                   mimetype: str | None = None, ns: str | None = None,
                                   desc: str | None = None) -> Any:
        from .wrappers import annotation_wrapper

        original = self.createOriginalFileFromLocalFile(localPath, origFilePathAndName,
                                                        mimetype)
        annotation = omero.model.FileAnnotationI()
        annotation.setFile(original._obj)
        if desc:
            annotation.setDescription(rstring(desc))
        if ns:
            annotation.setNs(rstring(ns))
        annotation = self.getUpdateService().saveAndReturnObject(annotation, self.SERVICE_OPTS)
        return annotation_wrapper(self, self._omero.records[annotation.id.val])

    # ---- new images (the real gateway's steps: create the image from the first plane's
    # dtype, upload every plane, then link it to the dataset through the update service) ----

    def createImageFromNumpySeq(self, zctPlanes: Any, imageName: str, sizeZ: int = 1,
                                sizeC: int = 1, sizeT: int = 1, description: str | None = None,
                                dataset: Any = None, sourceImageId: int | None = None,
                                channelList: list[int] | None = None) -> Any:
        import numpy as np

        from .pixels import NUMPY_TYPES

        if sourceImageId is not None or channelList is not None:
            raise NotImplementedError("createImageFromNumpySeq from a source image is not "
                                      "supported by the OMERO test double")
        planes = []
        for _z in range(sizeZ):
            for _c in range(sizeC):
                for _t in range(sizeT):
                    planes.append(np.asarray(next(zctPlanes)))
        dtype = planes[0].dtype.name
        pixel_type = {v().dtype.name: k for k, v in NUMPY_TYPES.items()}.get(dtype)
        if pixel_type is None:
            raise api_usage(f"no OMERO pixels type for dtype {dtype}")
        size_y, size_x = planes[0].shape
        stack = np.stack(planes).reshape(sizeZ, sizeC, sizeT, size_y, size_x)
        self._omero.calls.record("IPixels.createImage")
        for _ in planes:
            self._omero.calls.record("RawPixelsStore.setPlane")
        record = self._omero.add_image(
            imageName, owner=self._acting_user, group=self._write_group(),
            size=(size_x, size_y, sizeZ, sizeC, sizeT), pixel_type=pixel_type,
            planes=stack.transpose(2, 1, 0, 3, 4), description=description)
        if dataset:
            link = omero.model.DatasetImageLinkI()
            link.parent = omero.model.DatasetI(dataset.getId(), False)
            link.child = omero.model.ImageI(record.id, False)
            self.getUpdateService().saveObject(link, self.SERVICE_OPTS)
        return self.getObject("Image", record.id)

    # ---- deleting ----

    def deleteObjects(self, graph_spec: str, obj_ids: list[int], deleteAnns: bool = False,
                      deleteChildren: bool = False, dryRun: bool = False, wait: bool = False
                      ) -> Any:
        from .deletes import FakeHandle, plan_delete

        if "+" in graph_spec:
            raise AttributeError(f"Graph specs containing '+' no longer supported: {graph_spec}")
        if not isinstance(obj_ids, list) or len(obj_ids) < 1:
            raise AttributeError("Must be a list of object IDs")
        self._omero.calls.record("ServiceFactory.submit")
        kind = graph_spec.lstrip("/").split("/")[0]
        response = plan_delete(self, kind, [int(i) for i in obj_ids], deleteAnns,
                               deleteChildren, dryRun)
        handle = FakeHandle(self, response)
        if wait:
            try:
                self._waitOnCmd(handle)
            finally:
                handle.close()
        return handle

    def _waitOnCmd(self, handle: Any, loops: int = 10, ms: int = 500, failonerror: bool = True,
                   failontimeout: bool = False, closehandle: bool = False) -> Any:
        """omero.client.waitOnCmd: the fake's commands finish at once."""
        response = handle.getResponse()
        if closehandle:
            handle.close()
        if failonerror and isinstance(response, omero.cmd.ERR):
            raise omero.CmdError(response)
        return response


def _order_key(order_by: str | None) -> Any:
    if order_by in (None, "obj.id"):
        return lambda item: item.id
    if order_by in ("obj.name", "lower(obj.name)"):
        lower = order_by.startswith("lower")

        def by_name(item: Any) -> Any:
            name = item.name or ""
            return (name.lower() if lower else name, item.id)

        return by_name
    raise NotImplementedError(f"order_by {order_by!r} is not supported by the OMERO test double")


def _matches_container_opts(server: FakeOmero, record: Record, opts: dict[str, Any]) -> bool:
    if "dataset" in opts:
        parents = {link.parent.id for link in server.links_of(child=record)
                   if link.kind == "DatasetImageLink"}
        if int(opts["dataset"]) not in parents:
            return False
    if "project" in opts:
        parents = {link.parent.id for link in server.links_of(child=record)
                   if link.kind == "ProjectDatasetLink"}
        if int(opts["project"]) not in parents:
            return False
    if "image" in opts:
        children = {link.child.id for link in server.links_of(parent=record)
                    if link.kind == "DatasetImageLink"}
        if int(opts["image"]) not in children:
            return False
    if "screen" in opts:
        parents = {link.parent.id for link in server.links_of(child=record)
                   if link.kind == "ScreenPlateLink"}
        if int(opts["screen"]) not in parents:
            return False
    if "plate" in opts:
        if record.kind == "Well" and record.data["plate"].id != int(opts["plate"]):
            return False
        if record.kind == "Screen" and int(opts["plate"]) not in {
                link.child.id for link in server.links_of(parent=record)
                if link.kind == "ScreenPlateLink"}:
            return False
    if opts.get("orphaned"):
        parent_kind = {"Image": "DatasetImageLink", "Dataset": "ProjectDatasetLink",
                       "Plate": "ScreenPlateLink"}[record.kind]
        if any(link.kind == parent_kind for link in server.links_of(child=record)):
            return False
    return True
