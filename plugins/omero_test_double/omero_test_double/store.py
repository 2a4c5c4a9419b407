"""The fake server's state: users, groups, objects and links, and who may do what with them."""

from __future__ import annotations

import os
import pickle
import threading
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .calls import CallCounter
from .permissions import LEVELS, allowed, level_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .gateway import FakeBlitzGateway

# Every privilege a full administrator holds (omero.model.AdminPrivilege enumeration).
ALL_PRIVILEGES = frozenset({
    "Chgrp", "Chown", "DeleteFile", "DeleteManagedRepo", "DeleteOwned", "DeleteScriptRepo",
    "ModifyGroup", "ModifyGroupMembership", "ModifyUser", "ReadSession", "Sudo", "WriteFile",
    "WriteManagedRepo", "WriteOwned", "WriteScriptRepo",
})
ANNOTATION_KINDS = frozenset({
    "MapAnnotation", "FileAnnotation", "TagAnnotation", "CommentAnnotation",
    "LongAnnotation", "DoubleAnnotation", "BooleanAnnotation",
})
# Annotations that may be shared between objects: a delete keeps them unless asked (deleteAnns).
SHARED_ANNOTATION_KINDS = frozenset({"TagAnnotation", "FileAnnotation", "TermAnnotation"})
CONTAINER_LINKS = {
    ("Project", "Dataset"): "ProjectDatasetLink",
    ("Dataset", "Image"): "DatasetImageLink",
    ("Screen", "Plate"): "ScreenPlateLink",
}


@dataclass(eq=False)
class Group:
    id: int
    name: str
    level: str
    description: str = ""

    @property
    def permissions(self) -> str:
        return LEVELS[self.level]


@dataclass(eq=False)
class User:
    id: int
    name: str
    first_name: str
    last_name: str
    email: str
    groups: list[Group]
    admin: bool = False
    privileges: frozenset[str] = frozenset()
    leader_of: set[int] = field(default_factory=set)

    @property
    def full_name(self) -> str:
        """As ExperimenterWrapper.getFullName: "first last", the login when both are empty."""
        if not self.first_name and not self.last_name:
            return self.name
        return f"{self.first_name} {self.last_name}"


@dataclass(eq=False)
class Record:
    """One owned object (Project, Dataset, Image, OriginalFile, an annotation ...)."""

    kind: str
    id: int
    owner: User
    group: Group
    name: str | None = None
    description: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0


@dataclass(eq=False)
class Link:
    """A parent-child link (ProjectDatasetLink, DatasetImageLink, ImageAnnotationLink ...)."""

    kind: str
    id: int
    parent: Record
    child: Record
    owner: User
    group: Group


class LinkTable(dict):
    """Links by id, indexed by parent and child so hierarchy walks stay linear."""

    def __init__(self) -> None:
        super().__init__()
        self.by_parent: dict[int, dict[int, Link]] = {}
        self.by_child: dict[int, dict[int, Link]] = {}

    def __setitem__(self, key: int, link: Link) -> None:
        if key in self:
            self._unindex(self[key])
        super().__setitem__(key, link)
        self.by_parent.setdefault(link.parent.id, {})[link.id] = link
        self.by_child.setdefault(link.child.id, {})[link.id] = link

    def __delitem__(self, key: int) -> None:
        self._unindex(self[key])
        super().__delitem__(key)

    def pop(self, key: int, *default: Any) -> Any:
        if key in self:
            self._unindex(self[key])
        return super().pop(key, *default)

    def clear(self) -> None:
        super().clear()
        self.by_parent.clear()
        self.by_child.clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, link in dict(*args, **kwargs).items():
            self[key] = link

    def __reduce__(self) -> Any:
        # dict subclasses unpickle through __setitem__ before __init__: rebuild instead.
        return (_link_table, (list(self.values()),))

    def _unindex(self, link: Link) -> None:
        self.by_parent.get(link.parent.id, {}).pop(link.id, None)
        self.by_child.get(link.child.id, {}).pop(link.id, None)


def _link_table(links: list[Link]) -> LinkTable:
    table = LinkTable()
    for link in links:
        table[link.id] = link
    return table


@dataclass(eq=False)
class Session:
    uuid: str
    user: User
    group: Group
    ttl_ms: int
    closed: bool = False


@dataclass
class Script:
    id: int
    path: str
    name: str
    run: Callable[..., dict[str, Any]]
    params: dict[str, Any]


class FakeOmero:
    """An in-memory OMERO server: build users, groups and data, then ``connect("alice")``."""

    def __init__(self) -> None:
        self.calls = CallCounter()
        self.lock = threading.RLock()
        self._last_id = 0
        self._last_time = 1_700_000_000_000  # ms; each new object one second later
        self.groups: dict[int, Group] = {}
        self.users: dict[int, User] = {}
        self.records: dict[int, Record] = {}
        self.links = LinkTable()
        self.sessions: dict[str, Session] = {}
        self.scripts: dict[int, Script] = {}
        self.script_jobs: list[dict[str, Any]] = []
        self.tables: dict[int, Any] = {}
        self.system = self.add_group("system", permissions="private")
        self.user_group = self.add_group("user", permissions="private")
        self.root = self.add_user(
            "root", groups=[self.system, self.user_group], admin=True, first_name="root",
            last_name="root")
        self.guest_group = self.add_group("guest", permissions="private")

    # ---- building the world (test setup; these calls are not counted) ----

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def next_time(self) -> int:
        self._last_time += 1000
        return self._last_time

    # ---- sharing with other processes (a real Celery worker) ----

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Write the whole state to ``path`` (pickle; scripts must be module-level functions).

        A worker process can ``FakeOmero.load(path)``, work, and ``dump`` it back for the test
        to load and check: the fake lives in one process, this hands it over.
        """
        with self.lock:
            data = pickle.dumps(self)
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FakeOmero:
        with open(path, "rb") as handle:
            loaded = pickle.load(handle)  # noqa: S301 - our own test fixture file
        if not isinstance(loaded, cls):
            raise TypeError(f"{path} does not hold a FakeOmero")
        return loaded

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    def add_group(self, name: str, permissions: str = "private", description: str = "") -> Group:
        if any(g.name == name for g in self.groups.values()):
            raise ValueError(f"group {name!r} exists")
        group = Group(self.next_id(), name, level_of(permissions), description)
        self.groups[group.id] = group
        return group

    def add_user(
        self, name: str, groups: Iterable[Group] = (), *, admin: bool = False,
        privileges: Iterable[str] | None = None, leader_of: Iterable[Group] = (),
        first_name: str | None = None, last_name: str = "", email: str = "",
    ) -> User:
        """Add a user; the first group is the default one. ``admin=True`` joins "system" with
        every privilege unless ``privileges`` restricts them (a restricted administrator)."""
        if any(u.name == name for u in self.users.values()):
            raise ValueError(f"user {name!r} exists")
        member_of = list(groups)
        leads = list(leader_of)
        for group in leads:
            if group not in member_of:
                member_of.append(group)
        if admin and name != "root" and self.system not in member_of:
            member_of.append(self.system)
        if hasattr(self, "user_group") and self.user_group not in member_of:
            member_of.append(self.user_group)
        if admin:
            granted = ALL_PRIVILEGES if privileges is None else frozenset(privileges)
            unknown = granted - ALL_PRIVILEGES
            if unknown:
                raise ValueError(f"unknown privileges {sorted(unknown)}")
        else:
            granted = frozenset()
        user = User(
            self.next_id(), name, first_name if first_name is not None else name.capitalize(),
            last_name, email, member_of, admin, granted, {g.id for g in leads})
        self.users[user.id] = user
        return user

    def _add_record(self, kind: str, name: str | None, owner: User, group: Group | None,
                    description: str | None = None, **data: Any) -> Record:
        group = group or default_group(owner)
        if group not in owner.groups and not owner.admin:
            raise ValueError(f"{owner.name} is not a member of {group.name}")
        record = Record(kind, self.next_id(), owner, group, name, description, data,
                        created=self.next_time())
        self.records[record.id] = record
        return record

    def add_link(self, kind: str, parent: Record, child: Record, owner: User | None = None) -> Link:
        link = Link(kind, self.next_id(), parent, child, owner or parent.owner, parent.group)
        self.links[link.id] = link
        return link

    def add_project(self, name: str, owner: User, group: Group | None = None,
                    description: str | None = None) -> Record:
        return self._add_record("Project", name, owner, group, description)

    def add_dataset(self, name: str, owner: User, group: Group | None = None,
                    project: Record | None = None, description: str | None = None) -> Record:
        dataset = self._add_record("Dataset", name, owner, group, description)
        if project is not None:
            self.add_link("ProjectDatasetLink", project, dataset, owner)
        return dataset

    def add_image(
        self, name: str, owner: User, group: Group | None = None, dataset: Record | None = None,
        size: tuple[int, int, int, int, int] = (64, 48, 1, 1, 1), pixel_type: str = "uint8",
        physical_size: tuple[float | None, float | None, float | None] | None = None,
        planes: Any = None, description: str | None = None,
        channel_names: list[str] | None = None,
    ) -> Record:
        """An image with one Pixels set. ``size`` is (x, y, z, c, t); ``planes`` an optional
        numpy array shaped (t, c, z, y, x), else planes are a deterministic ramp."""
        from .pixels import make_pixels

        image = self._add_record("Image", name, owner, group, description)
        pixels = self._add_record("Pixels", None, owner, image.group)
        pixels.data.update(make_pixels(size, pixel_type, physical_size, planes, channel_names))
        pixels.data["image"] = image
        image.data["pixels"] = pixels
        if dataset is not None:
            self.add_link("DatasetImageLink", dataset, image, owner)
        return image

    def add_screen(self, name: str, owner: User, group: Group | None = None,
                   description: str | None = None) -> Record:
        return self._add_record("Screen", name, owner, group, description)

    def add_plate(self, name: str, owner: User, group: Group | None = None,
                  screen: Record | None = None, description: str | None = None) -> Record:
        """A plate; its wells come from ``add_well``, their fields from ``add_well_sample``."""
        plate = self._add_record("Plate", name, owner, group, description, wells=[])
        if screen is not None:
            self.add_link("ScreenPlateLink", screen, plate, owner)
        return plate

    def add_well(self, plate: Record, row: int, column: int) -> Record:
        """A well at 0-based ``row`` and ``column``. As in OMERO a well is part of its plate
        (no link): the plate's owner and group, one well per position."""
        if any(w.data["row"] == row and w.data["column"] == column
               for w in plate.data["wells"]):
            raise ValueError(f"plate {plate.name!r} has a well at row {row}, column {column}")
        well = self._add_record("Well", None, plate.owner, plate.group, plate=plate, row=row,
                                column=column, samples=[])
        plate.data["wells"].append(well)
        return well

    def add_well_sample(self, well: Record, image: Record) -> Record:
        """The well's next field (its index in the well's list), showing ``image``, which must
        be in the plate's group as OMERO requires."""
        if image.group is not well.group:
            raise ValueError(f"image {image.name!r} is not in the plate's group")
        sample = self._add_record("WellSample", None, well.owner, well.group, well=well,
                                  image=image)
        well.data["samples"].append(sample)
        return sample

    def add_original_file(self, name: str, owner: User, group: Group | None = None,
                          content: bytes = b"", path: str = "/", mimetype: str | None = None
                          ) -> Record:
        return self._add_record("OriginalFile", name, owner, group, path=path, content=content,
                                mimetype=mimetype)

    def add_map_annotation(self, values: Iterable[tuple[str, str]], owner: User,
                           group: Group | None = None, ns: str | None = None,
                           parent: Record | None = None) -> Record:
        annotation = self._add_record("MapAnnotation", None, owner, group, ns=ns,
                                      values=[(str(k), str(v)) for k, v in values])
        if parent is not None:
            self.link_annotation(parent, annotation, owner)
        return annotation

    def add_file_annotation(self, file: Record, owner: User, group: Group | None = None,
                            ns: str | None = None, parent: Record | None = None,
                            description: str | None = None) -> Record:
        annotation = self._add_record("FileAnnotation", None, owner, group, description,
                                      ns=ns, file=file)
        if parent is not None:
            self.link_annotation(parent, annotation, owner)
        return annotation

    def add_tag(self, text: str, owner: User, group: Group | None = None, ns: str | None = None,
                parent: Record | None = None) -> Record:
        tag = self._add_record("TagAnnotation", None, owner, group, ns=ns, text=text)
        if parent is not None:
            self.link_annotation(parent, tag, owner)
        return tag

    def link_annotation(self, parent: Record, annotation: Record, owner: User | None = None
                        ) -> Link:
        return self.add_link(f"{parent.kind}AnnotationLink", parent, annotation, owner)

    def add_script(self, path: str, run: Callable[..., dict[str, Any]],
                   params: dict[str, Any] | None = None, name: str | None = None) -> int:
        """Register an official script; ``run(conn, inputs)`` returns the outputs as a dict of
        plain values or rtypes and runs as the calling user."""
        script = Script(self.next_id(), path, name or path.rsplit("/", 1)[-1], run,
                        params or {})
        self.scripts[script.id] = script
        return script.id

    # ---- connections and sessions ----

    def connect(self, username: str, group: str | Group | None = None) -> FakeBlitzGateway:
        """A connected FakeBlitzGateway acting as ``username`` (no password: this is a test)."""
        user = self.user_named(username)
        return self.gateway_for(self.open_session(user, group))

    def open_session(self, user: User, group: str | Group | None = None, ttl_ms: int = 600000
                     ) -> Session:
        if isinstance(group, str):
            group = self.group_named(group)
        group = group or default_group(user)
        if group not in user.groups:
            raise ValueError(f"{user.name} is not a member of {group.name}")
        session = Session(str(uuid_module.uuid4()), user, group, ttl_ms)
        self.sessions[session.uuid] = session
        return session

    def gateway_for(self, session: Session) -> FakeBlitzGateway:
        from .gateway import FakeBlitzGateway

        return FakeBlitzGateway(self, session)

    def join_session(self, session_uuid: str) -> FakeBlitzGateway:
        """A gateway on an existing session, as ``BlitzGateway.connect(sUuid=...)`` does."""
        session = self.sessions.get(session_uuid)
        if session is None or session.closed:
            raise LookupError(f"no open session {session_uuid}")
        return self.gateway_for(session)

    # ---- lookups and rules ----

    def user_named(self, name: str) -> User:
        for user in self.users.values():
            if user.name == name:
                return user
        raise LookupError(f"no user {name!r}")

    def group_named(self, name: str) -> Group:
        for group in self.groups.values():
            if group.name == name:
                return group
        raise LookupError(f"no group {name!r}")

    def roles(self, user: User, record: Record | Link) -> set[str]:
        roles = set()
        if record.owner is user:
            roles.add("owner")
        if user.admin:
            roles.add("admin")
        if record.group.id in user.leader_of:
            roles.add("leader")
        if record.group in user.groups:
            roles.add("member")
        return roles or {"outsider"}

    def can(self, user: User, action: str, record: Record | Link) -> bool:
        return allowed(action, record.group.level, self.roles(user, record))

    def links_of(self, parent: Record | None = None, child: Record | None = None,
                 kind_suffix: str = "") -> list[Link]:
        if parent is not None:
            pool = self.links.by_parent.get(parent.id, {}).values()
        elif child is not None:
            pool = self.links.by_child.get(child.id, {}).values()
        else:
            pool = self.links.values()
        return sorted(
            (link for link in pool
             if (parent is None or link.parent is parent)
             and (child is None or link.child is child)
             and link.kind.endswith(kind_suffix)),
            key=lambda link: link.id)


def default_group(user: User) -> Group:
    """A user's default group: the first one that is not the internal "user" group."""
    for group in user.groups:
        if group.name != "user":
            return group
    return user.groups[0]
