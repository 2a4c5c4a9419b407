"""The plate or dataset an execution runs on: finding it as the user, the permission check,
and its layout as wells and sites of OMERO images (the staged plate of docs/design/openhcs.md).

A plate keeps its wells and fields; a dataset's images become wells in reading order (A01,
A02, ... 24 to a row), one site each."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from omero_plugin_common.omero_helpers import can_annotate, get_id, get_text, group_id, unwrap

TYPES = ("plate", "dataset")
OMERO_TYPE = {"plate": "Plate", "dataset": "Dataset"}
COLUMNS = 24  # a dataset's images fill rows of 24 wells, as on a 384-well plate
ROWS = string.ascii_uppercase


class SourceError(Exception):
    """The source cannot be processed; the message is a sentence about the user's data."""

    def __init__(self, message: str, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


@dataclass
class Source:
    type: str
    id: int
    name: str
    group_id: int
    wells: dict[str, dict[int, int]] = field(default_factory=dict)  # well -> site -> image id

    @property
    def image_count(self) -> int:
        return sum(len(sites) for sites in self.wells.values())


def well_name(row: int, column: int) -> str:
    """0-based row and column → ImageXpress well name (A01)."""
    if not 0 <= row < len(ROWS):
        raise SourceError(f"Well row {row + 1} is beyond row Z; such plates are not supported.")
    return f"{ROWS[row]}{column + 1:02d}"


def find(conn: Any, source_type: str, source_id: int, all_groups: bool = True) -> Any:
    """The wrapper; SourceError 404 when it is missing or hidden from the user. The web looks
    in every group the user belongs to; a worker's session is already in the source's group
    (and must stay there: OMERO refuses writes under omero.group=-1)."""
    if all_groups:
        conn.SERVICE_OPTS.setOmeroGroup("-1")
    obj = conn.getObject(OMERO_TYPE[source_type], source_id)
    if obj is None:
        raise SourceError(f"{source_type.capitalize()} {source_id} was not found, or you "
                          "cannot see it.", 404)
    return obj


def check_annotate(obj: Any, source_type: str) -> None:
    """The results are linked to the source: the user must be allowed to annotate it."""
    if not can_annotate(obj):
        raise SourceError(
            f"You may not annotate the {source_type} “{get_text(obj)}”: OpenHCS links its "
            "results to it, so you need that right (your own data, or a group that lets "
            "members annotate).", 403, "forbidden")


def describe(conn: Any, source_type: str, source_id: int, max_images: int,
             all_groups: bool = True) -> Source:
    """Found, annotatable, and laid out as wells; each refusal a SourceError sentence."""
    obj = find(conn, source_type, source_id, all_groups)
    check_annotate(obj, source_type)
    source = Source(source_type, source_id, get_text(obj), int(group_id(obj) or 0))
    if source_type == "dataset":
        images = sorted(obj.listChildren(), key=lambda i: (get_text(i).lower(), get_id(i)))
        if len(images) > min(max_images, len(ROWS) * COLUMNS):
            raise SourceError(f"The dataset “{source.name}” has {len(images)} images; at most "
                              f"{min(max_images, len(ROWS) * COLUMNS)} can be processed at once.")
        for n, image in enumerate(images):
            source.wells[well_name(n // COLUMNS, n % COLUMNS)] = {1: get_id(image)}
    else:
        count = 0
        for well in obj.listChildren():
            name = well_name(int(unwrap(well.getRow())), int(unwrap(well.getColumn())))
            sites = {}
            for n, sample in enumerate(well.listChildren(), 1):
                image = sample.getImage()
                if image is not None:
                    sites[n] = get_id(image)
            if sites:
                source.wells[name] = sites
                count += len(sites)
            if count > max_images:
                raise SourceError(f"The plate “{source.name}” has more than {max_images} "
                                  "fields; that is more than one execution may process.")
        source.wells = dict(sorted(source.wells.items()))
    if not source.wells:
        raise SourceError(f"The {source_type} “{source.name}” has no images to process.")
    return source
