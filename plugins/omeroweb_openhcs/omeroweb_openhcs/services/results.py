"""Results back into OMERO (docs/design/openhcs.md, "Results back into OMERO"): a new dataset
with the output images, the result files as file annotations on it, and a provenance map
annotation on the new dataset and on the source.

Idempotent: the dataset is created together with its provenance annotation (one save), and a
retried import finds it by the job id there; images, files and the source's annotation are
each added only when missing, so an import repeated after a crash does not duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import omero
import tifffile
from omero.gateway import MapAnnotationWrapper
from omero.rtypes import rstring

from omero_plugin_common.omero_helpers import get_id, get_text

PROVENANCE_NS = "openhcs.omero.provenance"
RESULTS_NS = "openhcs.omero.results"


class ImportError_(Exception):
    """The outputs cannot be imported; the message is a sentence."""


def _values(annotation: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (annotation.getValue() or [])}


def _has_provenance(obj: Any, job_id: str) -> bool:
    return any(_values(a).get("job_id") == job_id
               for a in obj.listAnnotations(ns=PROVENANCE_NS))


def _provenance_annotation(values: list[tuple[str, str]]) -> Any:
    annotation = omero.model.MapAnnotationI()
    annotation.setNs(rstring(PROVENANCE_NS))
    annotation.setMapValue([omero.model.NamedValue(k, v) for k, v in values])
    return annotation


def find_dataset(conn: Any, name: str, job_id: str) -> Any:
    for dataset in conn.getObjects("Dataset", attributes={"name": name},
                                   opts={"owner": conn.getUserId()}):
        if _has_provenance(dataset, job_id):
            return dataset
    return None


def result_dataset(conn: Any, name: str, description: str, provenance: list[tuple[str, str]],
                   job_id: str) -> Any:
    """The job's result dataset: found again by its provenance, else created with it."""
    found = find_dataset(conn, name, job_id)
    if found is not None:
        return found
    dataset = omero.model.DatasetI()
    dataset.setName(rstring(name))
    dataset.setDescription(rstring(description))
    link = omero.model.DatasetAnnotationLinkI()
    link.setParent(dataset)
    link.setChild(_provenance_annotation(provenance))
    saved = conn.getUpdateService().saveAndReturnObject(link, conn.SERVICE_OPTS)
    return conn.getObject("Dataset", get_id(saved.getParent()))


def link_to_projects(conn: Any, source: Any, dataset: Any) -> None:
    """A dataset source: the result dataset joins the source's projects (where the user may
    link). A plate has no project: the provenance annotation on the plate names the dataset."""
    have = {get_id(p) for p in dataset.listParents() or []}
    for project in source.listParents() or []:
        if get_id(project) in have or not project.canLink():
            continue
        link = omero.model.ProjectDatasetLinkI()
        link.setParent(omero.model.ProjectI(get_id(project), False))
        link.setChild(omero.model.DatasetI(get_id(dataset), False))
        conn.getUpdateService().saveObject(link, conn.SERVICE_OPTS)


def _planes(path: Path) -> tuple[Iterator[np.ndarray], int]:
    """A TIFF's planes (2-D: one; 3-D: channels first). One output image is held at a time."""
    data = tifffile.imread(path)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise ImportError_(f"The output image {path.name} has {data.ndim} dimensions; only "
                           "2-D images and channel stacks are imported.")
    return iter(list(data)), int(data.shape[0])


def import_images(conn: Any, dataset: Any, output_dir: Path, images: list[str]) -> list[int]:
    existing = {get_text(i): get_id(i) for i in dataset.listChildren()}
    ids = []
    for relative in images:
        path = _inside(output_dir, relative)
        name = path.name
        if name in existing:
            ids.append(existing[name])
            continue
        planes, count = _planes(path)
        image = conn.createImageFromNumpySeq(planes, name, sizeZ=1, sizeC=count, sizeT=1,
                                             description=f"OpenHCS output {relative}",
                                             dataset=dataset)
        ids.append(get_id(image))
    return ids


def attach_files(conn: Any, dataset: Any, output_dir: Path, files: list[str]) -> list[int]:
    existing = {get_text(a.getFile().getName()): get_id(a)
                for a in dataset.listAnnotations(ns=RESULTS_NS)}
    ids = []
    for relative in files:
        path = _inside(output_dir, relative)
        if path.name in existing:
            ids.append(existing[path.name])
            continue
        mimetype = "text/csv" if path.suffix.lower() == ".csv" else "application/octet-stream"
        annotation = conn.createFileAnnfromLocalFile(
            str(path), origFilePathAndName=path.name, mimetype=mimetype, ns=RESULTS_NS,
            desc=f"OpenHCS result {relative}")
        dataset.linkAnnotation(annotation)
        ids.append(get_id(annotation))
    return ids


def annotate_source(conn: Any, source: Any, provenance: list[tuple[str, str]],
                    job_id: str) -> None:
    if _has_provenance(source, job_id):
        return
    annotation = MapAnnotationWrapper(conn)
    annotation.setNs(PROVENANCE_NS)
    annotation.setValue([[k, v] for k, v in provenance])
    annotation.save()
    source.linkAnnotation(annotation)


def _inside(root: Path, relative: str) -> Path:
    """An output path the bridge reported, refused if it leaves the output folder."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise ImportError_(f"The output file {relative} is missing from the results.")
    return path
