"""Fake IUpdate, IQuery, IAdmin and ISession services (real omero.model objects in and out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import omero
import omero.model
import omero.sys
from omero.rtypes import rlong, rstring, rtime, unwrap

from . import model
from .calls import counted
from .contract import fake_of
from .errors import api_usage, security_violation, validation
from .store import ANNOTATION_KINDS, CONTAINER_LINKS, Link, Record

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway

CREATABLE = frozenset({"Project", "Dataset", "OriginalFile"}) | ANNOTATION_KINDS
LINK_COLLECTIONS = ("AnnotationLinks", "DatasetLinks", "ImageLinks", "ProjectLinks")


class _Service:
    def __init__(self, conn: FakeBlitzGateway) -> None:
        self._conn = conn
        self._omero = conn._omero


@fake_of("omero.api.IUpdatePrx")
class FakeUpdateService(_Service):
    """Saves graphs of omero.model objects; each call is one transaction, as on the server."""

    @counted("IUpdate.saveObject")
    def saveObject(self, obj: Any, _ctx: Any = None) -> None:
        self._save_all([obj], _ctx)

    @counted("IUpdate.saveAndReturnObject")
    def saveAndReturnObject(self, obj: Any, _ctx: Any = None) -> Any:
        return self._render(self._save_all([obj], _ctx)[0])

    @counted("IUpdate.saveArray")
    def saveArray(self, graph: list[Any], _ctx: Any = None) -> None:
        self._save_all(graph, _ctx)

    @counted("IUpdate.saveAndReturnArray")
    def saveAndReturnArray(self, graph: list[Any], _ctx: Any = None) -> list[Any]:
        return [self._render(item) for item in self._save_all(graph, _ctx)]

    @counted("IUpdate.saveAndReturnIds")
    def saveAndReturnIds(self, graph: list[Any], _ctx: Any = None) -> list[int]:
        return [item.id for item in self._save_all(graph, _ctx)]

    @counted("IUpdate.saveCollection")
    def saveCollection(self, objs: list[Any], _ctx: Any = None) -> None:
        self._save_all(objs, _ctx)

    @counted("IUpdate.deleteObject")
    def deleteObject(self, row: Any, _ctx: Any = None) -> None:
        server, user = self._omero, self._conn._acting_user
        item = server.links.get(row.id.val) or server.records.get(row.id.val)
        if item is None or not server.can(user, "read", item):
            raise validation(f"{model.kind_of(row)}:{row.id.val} not found")
        if not server.can(user, "delete", item):
            raise security_violation(f"{user.name} may not delete {item.kind}:{item.id}")
        if isinstance(item, Link):
            del server.links[item.id]
            return
        if server.links_of(parent=item) or server.links_of(child=item):
            raise validation(f"{item.kind}:{item.id} is still linked; use deleteObjects")
        del server.records[item.id]

    def _render(self, item: Record | Link) -> Any:
        if isinstance(item, Link):
            return model.link_model(self._omero, self._conn._acting_user, item, load_parent=False,
                                    load_child=False)
        return model.to_model(self._omero, self._conn._acting_user, item)

    def _save_all(self, graph: list[Any], ctx: Any) -> list[Record | Link]:
        server = self._omero
        snapshot = (dict(server.records), dict(server.links), {
            r.id: (r.name, r.description, dict(r.data)) for r in server.records.values()})
        try:
            saver = _GraphSaver(self._conn, ctx)
            return [saver.save(obj) for obj in graph]
        except BaseException:
            records, links, fields = snapshot
            server.records.clear()
            server.records.update(records)
            server.links.clear()
            server.links.update(links)
            for record_id, (name, description, data) in fields.items():
                record = server.records[record_id]
                record.name, record.description, record.data = name, description, data
            raise


class _GraphSaver:
    """Saves one object graph: new objects are created, loaded ones updated, unloaded ones
    are references that must exist and be readable."""

    def __init__(self, conn: FakeBlitzGateway, ctx: Any) -> None:
        self.conn = conn
        self.server = conn._omero
        self.user = conn._acting_user
        self.ctx = ctx
        self.done: dict[int, Record | Link] = {}
        self.pending: set[int] = set()  # links being saved, met again from their other end

    def save(self, obj: Any) -> Record | Link:
        if id(obj) in self.done:
            return self.done[id(obj)]
        self.pending.add(id(obj))
        kind = model.kind_of(obj)
        if obj.getId() is None:
            item = self._create_link(obj, kind) if kind.endswith("Link") else self._create(
                obj, kind)
        else:
            item = self._existing(obj, kind)
            if obj.isLoaded() and not isinstance(item, Link):
                self._update(item, obj)
        self.done[id(obj)] = item
        if isinstance(item, Record) and obj.isLoaded():
            self._save_new_links(obj, item)
        return item

    def _existing(self, obj: Any, kind: str) -> Record | Link:
        oid = obj.getId().val
        item = self.server.links.get(oid) or self.server.records.get(oid)
        if item is None or not (item.kind == kind or (
                kind == "Annotation" and item.kind in ANNOTATION_KINDS)):
            raise validation(f"{kind}:{oid} does not exist")
        if not self.server.can(self.user, "read", item):
            raise security_violation(f"{self.user.name} cannot read {kind}:{oid}")
        return item

    def _create(self, obj: Any, kind: str) -> Record:
        if kind not in CREATABLE:
            raise NotImplementedError(
                f"the OMERO test double cannot create {kind} through IUpdate "
                "(images come from FakeOmero.add_image)")
        group = self.conn._write_group(self.ctx)
        if group not in self.user.groups and not self.user.admin:
            raise security_violation(f"{self.user.name} is not a member of {group.name}")
        record = Record(kind, self.server.next_id(), self.user, group,
                        created=self.server.next_time())
        self._apply_fields(record, obj)
        if kind in ("Project", "Dataset") and not record.name:
            raise validation(f"{kind}.name is required")
        self.server.records[record.id] = record
        return record

    def _update(self, record: Record, obj: Any) -> None:
        before = (record.name, record.description, dict(record.data))
        self._apply_fields(record, obj)
        if (record.name, record.description, record.data) != before and not self.server.can(
                self.user, "edit", record):
            record.name, record.description, record.data = before
            raise security_violation(
                f"{self.user.name} may not edit {record.kind}:{record.id} "
                f"({record.group.level} group, owner {record.owner.name})")

    def _apply_fields(self, record: Record, obj: Any) -> None:
        kind = record.kind
        if hasattr(obj, "_name") and kind != "Pixels":
            record.name = unwrap(obj.getName())
        if hasattr(obj, "_description"):
            record.description = unwrap(obj.getDescription())
        if hasattr(obj, "_ns"):
            record.data["ns"] = unwrap(obj.getNs())
        if kind == "MapAnnotation":
            record.data["values"] = [(nv.name, nv.value) for nv in (obj.getMapValue() or [])]
        elif kind in ("TagAnnotation", "CommentAnnotation"):
            record.data["text"] = unwrap(obj.getTextValue())
        elif kind == "LongAnnotation":
            record.data["value"] = unwrap(obj.getLongValue())
        elif kind == "DoubleAnnotation":
            record.data["value"] = unwrap(obj.getDoubleValue())
        elif kind == "BooleanAnnotation":
            record.data["value"] = unwrap(obj.getBoolValue())
        elif kind == "FileAnnotation" and obj.getFile() is not None:
            record.data["file"] = self.save(obj.getFile())
        elif kind == "OriginalFile":
            record.data.setdefault("content", b"")
            record.data["path"] = unwrap(obj.getPath()) or "/"
            record.data["mimetype"] = unwrap(obj.getMimetype())

    def _create_link(self, obj: Any, kind: str) -> Link:
        parent = self.save(obj.getParent())
        child = self.save(obj.getChild())
        if not isinstance(parent, Record) or not isinstance(child, Record):
            raise validation(f"{kind} must link two objects")
        expected = CONTAINER_LINKS.get((parent.kind, child.kind))
        is_annotation = kind == f"{parent.kind}AnnotationLink" and child.kind in ANNOTATION_KINDS
        if kind != expected and not is_annotation:
            raise validation(f"{kind} cannot link {parent.kind} to {child.kind}")
        if parent.group is not child.group:
            raise security_violation(
                f"cannot link objects of groups {parent.group.name} and {child.group.name}")
        action = "annotate" if is_annotation else "link"
        for end, needed in ((parent, action), (child, "read" if is_annotation else "link")):
            if not self.server.can(self.user, needed, end):
                raise security_violation(
                    f"{self.user.name} may not {needed} {end.kind}:{end.id} "
                    f"({end.group.level} group, owner {end.owner.name})")
        if any(link.kind == kind and link.owner is self.user
               for link in self.server.links_of(parent=parent, child=child)):
            raise validation(f"{kind} {parent.id}->{child.id} exists (unique constraint)")
        link = Link(kind, self.server.next_id(), parent, child, self.user, parent.group)
        self.server.links[link.id] = link
        return link

    def _save_new_links(self, obj: Any, record: Record) -> None:
        """Links added to a loaded object's collections (``project.linkDataset(d)``)."""
        for collection in LINK_COLLECTIONS:
            loaded = getattr(obj, f"is{collection}Loaded", None)
            if loaded is None or not loaded():
                continue
            for link in getattr(obj, f"copy{collection}")():
                if link is not None and link.getId() is None and id(link) not in self.pending:
                    self.save(link)


@fake_of("omero.api.IAdminPrx")
class FakeAdminService(_Service):

    @counted("IAdmin.getEventContext")
    def getEventContext(self, _ctx: Any = None) -> omero.sys.EventContext:
        session, user = self._conn._session, self._conn._acting_user
        context = omero.sys.EventContext()
        context.sessionUuid = session.uuid
        context.sessionId = abs(hash(session.uuid)) % 10**9
        context.userId = user.id
        context.userName = user.name
        context.groupId = session.group.id
        context.groupName = session.group.name
        context.isAdmin = user.admin
        context.adminPrivileges = sorted(user.privileges)
        context.memberOfGroups = [g.id for g in user.groups]
        context.leaderOfGroups = sorted(user.leader_of)
        context.groupPermissions = omero.model.PermissionsI(session.group.permissions)
        context.eventType = "User"
        return context

    @counted("IAdmin.getExperimenter")
    def getExperimenter(self, id: int, _ctx: Any = None) -> omero.model.ExperimenterI:
        user = self._omero.users.get(int(id))
        if user is None:
            raise api_usage(f"no experimenter {id}")
        return model.experimenter(user)

    @counted("IAdmin.lookupExperimenter")
    def lookupExperimenter(self, name: str, _ctx: Any = None) -> omero.model.ExperimenterI:
        try:
            return model.experimenter(self._omero.user_named(name))
        except LookupError:
            raise api_usage(f"no experimenter {name!r}") from None

    @counted("IAdmin.lookupExperimenters")
    def lookupExperimenters(self, _ctx: Any = None) -> list[omero.model.ExperimenterI]:
        return [model.experimenter(u) for u in self._omero.users.values()]

    @counted("IAdmin.getGroup")
    def getGroup(self, id: int, _ctx: Any = None) -> omero.model.ExperimenterGroupI:
        group = self._omero.groups.get(int(id))
        if group is None:
            raise api_usage(f"no group {id}")
        return model.experimenter_group(group)

    @counted("IAdmin.lookupGroup")
    def lookupGroup(self, name: str, _ctx: Any = None) -> omero.model.ExperimenterGroupI:
        try:
            return model.experimenter_group(self._omero.group_named(name))
        except LookupError:
            raise api_usage(f"no group {name!r}") from None

    @counted("IAdmin.lookupGroups")
    def lookupGroups(self, _ctx: Any = None) -> list[omero.model.ExperimenterGroupI]:
        return [model.experimenter_group(g) for g in self._omero.groups.values()]

    @counted("IAdmin.containedExperimenters")
    def containedExperimenters(self, groupId: int, _ctx: Any = None
                               ) -> list[omero.model.ExperimenterI]:
        return [model.experimenter(u) for u in self._omero.users.values()
                if int(groupId) in {g.id for g in u.groups}]

    @counted("IAdmin.containedGroups")
    def containedGroups(self, experimenterId: int, _ctx: Any = None
                        ) -> list[omero.model.ExperimenterGroupI]:
        user = self._omero.users[int(experimenterId)]
        return [model.experimenter_group(g) for g in user.groups]

    @counted("IAdmin.getMemberOfGroupIds")
    def getMemberOfGroupIds(self, exp: Any, _ctx: Any = None) -> list[int]:
        return [g.id for g in self._omero.users[exp.id.val].groups]

    @counted("IAdmin.getLeaderOfGroupIds")
    def getLeaderOfGroupIds(self, exp: Any, _ctx: Any = None) -> list[int]:
        return sorted(self._omero.users[exp.id.val].leader_of)

    @counted("IAdmin.getSecurityRoles")
    def getSecurityRoles(self, _ctx: Any = None) -> omero.sys.Roles:
        server = self._omero
        return omero.sys.Roles(
            rootId=server.root.id, rootName="root", systemGroupId=server.system.id,
            systemGroupName="system", userGroupId=server.user_group.id, userGroupName="user",
            guestId=-1, guestName="guest", guestGroupId=server.guest_group.id,
            guestGroupName="guest")

    @counted("IAdmin.getCurrentAdminPrivileges")
    def getCurrentAdminPrivileges(self, _ctx: Any = None) -> list[Any]:
        return _privileges(self._conn._acting_user.privileges)

    @counted("IAdmin.getAdminPrivileges")
    def getAdminPrivileges(self, user: Any, _ctx: Any = None) -> list[Any]:
        return _privileges(self._omero.users[user.id.val].privileges)


def _privileges(names: frozenset[str]) -> list[Any]:
    privileges = []
    for name in sorted(names):
        privilege = omero.model.AdminPrivilegeI()
        privilege.setValue(rstring(name))
        privileges.append(privilege)
    return privileges


@fake_of("omero.api.ISessionPrx")
class FakeSessionService(_Service):
    """Sessions; creating one for another user needs an admin with the Sudo privilege."""

    def _session_model(self, session: Any) -> omero.model.SessionI:
        obj = omero.model.SessionI(abs(hash(session.uuid)) % 10**9, True)
        obj.setUuid(rstring(session.uuid))
        obj.setTimeToLive(rlong(session.ttl_ms))
        obj.setStarted(rtime(0))
        obj.getDetails().setOwner(model.experimenter(session.user))
        return obj

    @counted("ISession.createSessionWithTimeout")
    def createSessionWithTimeout(self, principal: Any, timeToLiveMilliseconds: int,
                                 _ctx: Any = None) -> omero.model.SessionI:
        caller = self._conn._acting_user
        if not (caller.admin and "Sudo" in caller.privileges):
            raise security_violation(f"{caller.name} lacks the Sudo privilege")
        try:
            user = self._omero.user_named(principal.name)
        except LookupError:
            raise api_usage(f"no experimenter {principal.name!r}") from None
        group = self._omero.group_named(principal.group) if principal.group else None
        try:
            session = self._omero.open_session(user, group, int(timeToLiveMilliseconds))
        except ValueError as exc:
            raise security_violation(str(exc)) from None
        return self._session_model(session)

    @counted("ISession.createUserSession")
    def createUserSession(self, timeToLiveMilliseconds: int, timeToIdleMilliseconds: int,
                          defaultGroup: str, _ctx: Any = None) -> omero.model.SessionI:
        group = self._omero.group_named(defaultGroup) if defaultGroup else None
        try:
            session = self._omero.open_session(self._conn._acting_user, group,
                                               int(timeToLiveMilliseconds))
        except ValueError as exc:
            raise security_violation(str(exc)) from None
        return self._session_model(session)

    @counted("ISession.getSession")
    def getSession(self, sessionUuid: str, _ctx: Any = None) -> omero.model.SessionI:
        session = self._omero.sessions.get(sessionUuid)
        caller = self._conn._acting_user
        if session is None or session.closed:
            raise omero.RemovedSessionException(message=f"no session {sessionUuid}")
        if session.user is not caller and not (
                caller.admin and "ReadSession" in caller.privileges):
            raise security_violation(f"{caller.name} may not read that session")
        return self._session_model(session)

    @counted("ISession.closeSession")
    def closeSession(self, sess: Any, _ctx: Any = None) -> int:
        session = self._omero.sessions.get(unwrap(sess.getUuid()))
        if session is None:
            return 0
        session.closed = True
        return 0


@fake_of("omero.api.IQueryPrx")
class FakeQueryService(_Service):
    """IQuery over the HQL subset of query.py; other queries raise NotImplementedError."""

    def _objects(self, query: str, params: Any, ctx: Any) -> list[Any]:
        from .query import Engine

        engine = Engine(self._conn, ctx)
        parsed, rows = engine.run(query, params)
        if parsed.count or len(parsed.select) != 1 or "." in parsed.select[0]:
            raise NotImplementedError(
                f"findAllByQuery needs 'select <alias>': use projection() for {query!r}")
        alias = parsed.select[0]
        fetched = {path for path, _, fetch, _ in parsed.joins if fetch}
        result, seen = [], set()
        for row in rows:
            item = row.get(alias)
            if item is None or (parsed.distinct and item.id in seen):
                continue
            seen.add(item.id)
            result.append(self._render(item, alias, fetched))
        return result

    def _render(self, item: Any, alias: str, fetched: set[str]) -> Any:
        from .store import Group, User

        user = self._conn._acting_user
        if isinstance(item, Link):
            return model.link_model(self._omero, user, item,
                                    load_parent=f"{alias}.parent" in fetched,
                                    load_child=f"{alias}.child" in fetched)
        if isinstance(item, User):
            return model.experimenter(item)
        if isinstance(item, Group):
            return model.experimenter_group(item)
        if item.kind == "Well" and f"{alias}.wellSamples" in fetched:
            samples = [sample for sample in item.data["samples"]
                       if self._omero.can(user, "read", sample)]
            return model.well_model(self._omero, user, item, samples)
        return model.to_model(self._omero, user, item)

    @counted("IQuery.findAllByQuery")
    def findAllByQuery(self, query: str, params: Any, _ctx: Any = None) -> list[Any]:
        return self._objects(query, params, _ctx)

    @counted("IQuery.findByQuery")
    def findByQuery(self, query: str, params: Any, _ctx: Any = None) -> Any:
        found = self._objects(query, params, _ctx)
        # A collection join fetch repeats its root once per element: one object still
        # (Hibernate's uniqueResult).
        if len({(type(o), o.getId().val) for o in found}) > 1:
            raise api_usage(f"query returned {len(found)} results, expected one: {query!r}")
        return found[0] if found else None

    @counted("IQuery.projection")
    def projection(self, query: str, params: Any, _ctx: Any = None) -> list[list[Any]]:
        from .query import Engine, project

        engine = Engine(self._conn, _ctx)
        parsed, rows = engine.run(query, params)
        return project(engine, parsed, rows)

    def _by_id(self, klass: str, id: int, ctx: Any) -> Any:
        from .query import Unsupported, _kinds

        try:
            kinds = _kinds(klass[:-1] if klass.endswith("I") else klass)
        except Unsupported:
            raise NotImplementedError(f"IQuery.get/find of {klass}") from None
        item = self._omero.records.get(int(id)) or self._omero.links.get(int(id))
        if item is None or item.kind not in kinds:
            return None
        if isinstance(item, Record) and not self._conn._can_read(item, ctx):
            return None
        if isinstance(item, Link) and not self._omero.can(self._conn._acting_user, "read", item):
            return None
        return self._render(item, "", set())

    @counted("IQuery.get")
    def get(self, klass: str, id: int, _ctx: Any = None) -> Any:
        found = self._by_id(klass, id, _ctx)
        if found is None:
            raise validation(f"No row with the given identifier exists: {klass}:{id}")
        return found

    @counted("IQuery.find")
    def find(self, klass: str, id: int, _ctx: Any = None) -> Any:
        return self._by_id(klass, id, _ctx)
