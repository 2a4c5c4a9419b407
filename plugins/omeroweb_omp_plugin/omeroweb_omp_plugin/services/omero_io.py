"""Everything the plugin asks of OMERO, in as few calls as possible.

Reads list a whole dataset per call; writes save a whole batch of annotations with their links
in one `IUpdate.saveArray`; deletes remove a whole batch in one `deleteObjects`. Permissions are
the ones the server computed for the connected user (`canAnnotate`, `canDelete`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import omero
import omero.clients  # fills omero.model and omero.sys in any process
from omero.model import ImageAnnotationLinkI, ImageI, MapAnnotationI, NamedValue
from omero.rtypes import rlist, rlong, rstring

from omero_plugin_common.omero_helpers import can_annotate, get_id, get_text, group_id, owner_id

KV_NAMESPACE = "openmicroscopy.org/omero/client/mapAnnotation"
FULL_METADATA_NS = "acquisition.fullmetadata"


class NotFound(LookupError):
    """The object does not exist or this user cannot see it (the same answer, no leak)."""


@dataclass(frozen=True)
class ImageRef:
    id: int
    name: str
    group_id: int | None
    writable: bool


def _all_groups(conn) -> None:
    conn.SERVICE_OPTS.setOmeroGroup(-1)


def project_kind(conn, project) -> str | None:
    """owned / collab_rw / collab_ra for projects this user may annotate; None otherwise."""
    if owner_id(project) == conn.getUserId():
        return "owned"
    perms = project.getDetails().getPermissions()
    if perms.isGroupWrite():
        return "collab_rw"
    if perms.isGroupAnnotate():
        return "collab_ra"
    return None


def list_projects(conn) -> dict:
    """The project payload of the original: owned and collaborative projects, by group."""
    _all_groups(conn)
    out: dict[str, list] = {"owned": [], "collab_rw": [], "collab_ra": []}
    for project in conn.getObjects("Project", opts={"order_by": "lower(obj.name)"}):
        kind = project_kind(conn, project)
        if kind:
            out[kind].append({"id": project.getId(), "name": get_text(project.getName()),
                              "owner": get_text(project.getDetails().getOwner().getOmeName()),
                              "group_id": group_id(project)})
    return {**out, "collab_available": bool(out["collab_rw"] or out["collab_ra"])}


def list_datasets(conn, project_id: int) -> list[dict]:
    _all_groups(conn)
    project = conn.getObject("Project", project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return [{"id": d.getId(), "name": get_text(d.getName()), "image_count": d.countChildren()}
            for d in project.listChildren()]


def project_of_dataset(conn, dataset_id: int) -> int | None:
    """The project holding this dataset (the first, if linked to several), for the page opened
    from the webclient on a dataset; None when it is orphaned or not visible."""
    _all_groups(conn)
    dataset = conn.getObject("Dataset", dataset_id)
    parents = dataset.listParents() if dataset is not None else []
    return min((p.getId() for p in parents), default=None)


def dataset_images(conn, dataset_ids: Sequence[int], limit: int | None = None
                   ) -> list[ImageRef]:
    """The images of these datasets (one query per dataset), in name order, de-duplicated."""
    _all_groups(conn)
    seen: dict[int, ImageRef] = {}
    for dataset_id in dataset_ids:
        if conn.getObject("Dataset", dataset_id) is None:
            raise NotFound(f"dataset {dataset_id} not found")
        for image in conn.getObjects("Image", opts={"dataset": dataset_id}):
            seen.setdefault(image.getId(), ImageRef(
                image.getId(), get_text(image.getName()), group_id(image), can_annotate(image)))
            if limit and len(seen) >= limit:
                break
        if limit and len(seen) >= limit:
            break
    return sorted(seen.values(), key=lambda r: (r.name, r.id))


def images_by_id(conn, image_ids: Sequence[int]) -> list[ImageRef]:
    """One query for a batch; images the user cannot see are simply absent."""
    _all_groups(conn)
    return [ImageRef(i.getId(), get_text(i.getName()), group_id(i), can_annotate(i))
            for i in conn.getObjects("Image", list(image_ids))]


def _by_group(refs: Iterable[ImageRef]) -> dict[int | None, list[ImageRef]]:
    groups: dict[int | None, list[ImageRef]] = {}
    for ref in refs:
        groups.setdefault(ref.group_id, []).append(ref)
    return groups


def save_map_annotations(conn, rows: Sequence[tuple[ImageRef, list[tuple[str, str]]]],
                         ns: str = KV_NAMESPACE) -> int:
    """One MapAnnotation per image, saved with its link in one call per group."""
    by_group: dict[int | None, list] = {}
    for ref, pairs in rows:
        ann = MapAnnotationI()
        ann.setNs(rstring(ns))
        ann.setMapValue([NamedValue(str(k), str(v)) for k, v in pairs])
        link = ImageAnnotationLinkI()
        link.setParent(ImageI(ref.id, False))
        link.setChild(ann)
        by_group.setdefault(ref.group_id, []).append(link)
    update = conn.getUpdateService()
    for gid, links in by_group.items():
        conn.SERVICE_OPTS.setOmeroGroup(gid if gid is not None else -1)
        update.saveArray(links, conn.SERVICE_OPTS)
    return sum(len(v) for v in by_group.values())


@dataclass(frozen=True)
class ExistingAnnotation:
    id: int
    image_id: int
    ns: str | None
    pairs: list[tuple[str, str]]
    deletable: bool


def map_annotations_of(conn, image_ids: Sequence[int]) -> list[ExistingAnnotation]:
    """The MapAnnotations linked to these images, in one query."""
    if not image_ids:
        return []
    _all_groups(conn)
    params = omero.sys.ParametersI()
    params.add("ids", rlist([rlong(i) for i in image_ids]))
    links = conn.getQueryService().findAllByQuery(
        "select l from ImageAnnotationLink l join fetch l.child join fetch l.parent"
        " where l.parent.id in (:ids)", params, conn.SERVICE_OPTS)
    found = []
    for link in links:
        child = link.getChild()
        if not isinstance(child, omero.model.MapAnnotation):
            continue
        pairs = [(nv.name, nv.value) for nv in (child.getMapValue() or [])]
        ns = child.getNs().getValue() if child.getNs() is not None else None
        found.append(ExistingAnnotation(get_id(child), get_id(link.getParent()), ns, pairs,
                                        bool(child.getDetails().getPermissions().canDelete())))
    return found


def delete_annotations(conn, annotation_ids: Sequence[int]) -> int:
    """Delete in one call (all or nothing); the caller passes only deletable ids."""
    if not annotation_ids:
        return 0
    _all_groups(conn)
    conn.deleteObjects("Annotation", list(annotation_ids), wait=True)
    return len(annotation_ids)

