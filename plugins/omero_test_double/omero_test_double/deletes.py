"""deleteObjects: OMERO's Delete2 graph rules, applied at once (the fake has no queue)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import omero.cmd
from omero.cmd import Delete2Response

from .calls import counted
from .contract import fake_of
from .store import ANNOTATION_KINDS, SHARED_ANNOTATION_KINDS, Link, Record

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway

CHILD_LINKS = {"Project": "ProjectDatasetLink", "Dataset": "DatasetImageLink"}
JAVA_CLASS = {
    "Project": "ome.model.containers.Project", "Dataset": "ome.model.containers.Dataset",
    "Image": "ome.model.core.Image", "Pixels": "ome.model.core.Pixels",
    "OriginalFile": "ome.model.core.OriginalFile",
}


def _java_class(kind: str) -> str:
    if kind in JAVA_CLASS:
        return JAVA_CLASS[kind]
    if kind.endswith("Link"):
        package = "annotations" if "Annotation" in kind else "containers"
        return f"ome.model.{package}.{kind}"
    return f"ome.model.annotations.{kind}"


def plan_delete(conn: FakeBlitzGateway, kind: str, ids: list[int], delete_anns: bool,
                delete_children: bool, dry_run: bool) -> Any:
    """Delete (or, with dry_run, only report) the targets and what OMERO deletes with them;
    all or nothing. Returns a Delete2Response or an omero.cmd.ERR."""
    server, user = conn._omero, conn._acting_user
    if kind in ("Screen", "Plate", "Well", "WellSample"):
        raise NotImplementedError(f"deleting a {kind} (and its wells, fields and images) is "
                                  "not in the OMERO test double")
    targets: list[Record | Link] = []
    for oid in ids:
        item = server.records.get(oid) or server.links.get(oid)
        matches = item is not None and (item.kind == kind or (
            kind == "Annotation" and item.kind in ANNOTATION_KINDS))
        if not matches or not server.can(user, "read", item):
            return omero.cmd.ERR(category="graph-fail", name="not-found",
                                 parameters={"message": f"{kind}:{oid} not found"})
        if item.kind == "Image" and any(r.kind == "WellSample" and r.data["image"] is item
                                        for r in server.records.values()):
            raise NotImplementedError("deleting an image of a plate's well is not in the OMERO "
                                      "test double")
        targets.append(item)
    doomed: dict[int, Record | Link] = {}
    refused: list[Record | Link] = []

    def take(item: Record | Link, required: bool = True) -> None:
        """Doom ``item``; a required item the user may not delete fails the whole request,
        an optional one (another user's orphaned annotation or file) is left in place."""
        if item.id in doomed:
            return
        if item.kind != "Pixels" and not server.can(user, "delete", item):
            if required:
                refused.append(item)
            return
        doomed[item.id] = item
        if isinstance(item, Link):
            return
        # Links to a deleted object go with it, whoever made them.
        for link in server.links_of(parent=item) + server.links_of(child=item):
            doomed[link.id] = link
        if item.kind == "Image":
            take(item.data["pixels"])
        if item.kind == "FileAnnotation" and item.data.get("file") is not None:
            take(item.data["file"], required=False)
        child_link = CHILD_LINKS.get(item.kind)
        if delete_children and child_link:
            for link in server.links_of(parent=item, kind_suffix=child_link):
                if _orphaned(server, link.child, doomed):
                    take(link.child)
        for link in server.links_of(parent=item, kind_suffix="AnnotationLink"):
            annotation = link.child
            shared = annotation.kind in SHARED_ANNOTATION_KINDS and not delete_anns
            if not shared and _orphaned(server, annotation, doomed):
                take(annotation, required=False)

    for target in targets:
        take(target)
    if refused:
        first = refused[0]
        return omero.cmd.ERR(
            category="graph-fail", name="security-violation",
            parameters={"message": f"{user.name} may not delete {first.kind}:{first.id} "
                                   f"({first.group.level} group, owner {first.owner.name})"})
    deleted: dict[str, list[int]] = {}
    for item in doomed.values():
        deleted.setdefault(_java_class(item.kind), []).append(item.id)
    if not dry_run:
        for item in doomed.values():
            (server.links if isinstance(item, Link) else server.records).pop(item.id, None)
    return Delete2Response(deletedObjects=deleted)


def _orphaned(server: Any, record: Record, doomed: dict[int, Any]) -> bool:
    """True when every link to ``record`` as a child is being deleted already."""
    return all(link.id in doomed or link.parent.id in doomed
               for link in server.links_of(child=record))


@fake_of("omero.cmd.HandlePrx")
class FakeHandle:
    """The handle of a finished command."""

    def __init__(self, conn: FakeBlitzGateway, response: Any) -> None:
        self._omero = conn._omero
        self._response = response
        self._closed = False

    @counted("Handle.getResponse")
    def getResponse(self, _ctx: Any = None) -> Any:
        return self._response

    @counted("Handle.getStatus")
    def getStatus(self, _ctx: Any = None) -> omero.cmd.Status:
        flags = [omero.cmd.State.FAILURE] if isinstance(self._response, omero.cmd.ERR) else []
        return omero.cmd.Status(flags=flags, steps=1, currentStep=1)

    @counted("Handle.cancel")
    def cancel(self, _ctx: Any = None) -> bool:
        return False

    @counted("Handle.close")
    def close(self, _ctx: Any = None) -> None:
        self._closed = True
