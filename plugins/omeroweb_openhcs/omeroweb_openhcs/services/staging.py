"""Staging: the source's images, read from OMERO tile by tile, written as the staged plate of
docs/design/openhcs.md (ImageXpress names, one single-plane TIFF per well, site and channel,
dtype as in OMERO). Memory per image is one tile, whatever the image's size: large planes are
written as tiled TIFFs straight from the tiles (tifffile writes tiles from an iterator)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from omero_plugin_common.omero_helpers import get_text

from .sources import Source, SourceError

DTYPES = {"uint8": np.uint8, "uint16": np.uint16}


def _geometry(image: Any) -> tuple[int, int, int, int, int, str]:
    return (int(image.getSizeX()), int(image.getSizeY()), int(image.getSizeZ()),
            int(image.getSizeC()), int(image.getSizeT()), str(image.getPixelsType()))


def _check(image: Any, first: tuple | None) -> tuple:
    geometry = _geometry(image)
    _, _, size_z, _, size_t, pixel_type = geometry
    name = f"“{get_text(image)}” (image {image.getId()})"
    if pixel_type not in DTYPES:
        raise SourceError(f"Image {name} has {pixel_type} pixels; the presets read 8- or 16-bit "
                          "unsigned images.")
    if size_z > 1 or size_t > 1:
        raise SourceError(f"Image {name} has {size_z} z-sections and {size_t} time points; the "
                          "presets process single planes per channel.")
    if first is not None and geometry != first:
        raise SourceError(f"Image {name} differs from the first image in size, channels or pixel "
                          "type; all images of one execution must match.")
    return geometry


def _tiles(pixels: Any, c: int, size_x: int, size_y: int, tile: tuple[int, int],
           dtype: Any) -> Iterator[np.ndarray]:
    """The plane's tiles in TIFF order (rows of tiles), edge tiles padded to the full tile.
    One RawPixelsStore serves the whole plane (getTiles), one tile in memory at a time."""
    th, tw = tile
    windows = [(x, y, min(tw, size_x - x), min(th, size_y - y))
               for y in range(0, size_y, th) for x in range(0, size_x, tw)]
    for (_, _, w, h), data in zip(windows, pixels.getTiles([(0, c, 0, w) for w in windows]),
                                  strict=True):
        data = np.asarray(data, dtype=dtype)
        if (h, w) != (th, tw):
            padded = np.zeros((th, tw), dtype=dtype)
            padded[:h, :w] = data
            data = padded
        yield data


def _write_plane(path: Path, pixels: Any, c: int, size_x: int, size_y: int, dtype: Any,
                 tile_edge: int) -> None:
    if size_x <= tile_edge and size_y <= tile_edge:
        tifffile.imwrite(path, np.asarray(pixels.getTile(0, c, 0, (0, 0, size_x, size_y)),
                                          dtype=dtype))
        return
    tile = (tile_edge, tile_edge)  # a multiple of 16, as TIFF tiles must be
    tifffile.imwrite(path, data=_tiles(pixels, c, size_x, size_y, tile, dtype),
                     shape=(size_y, size_x), dtype=dtype, tile=tile)


def _pixel_size_um(image: Any) -> float | None:
    """OMERO's pixel size in micrometres (OpenHCS needs one; the bridge defaults to 1)."""
    size = image.getPixelSizeX()
    return float(size) if size else None


def stage(conn: Any, source: Source, plate_dir: Path, tile_edge: int,
          progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Write the staged plate; returns plate.json's content. `progress(done, total)` after
    each image (it may raise JobCancelled)."""
    tile_edge = max(16, tile_edge // 16 * 16)
    timepoint = plate_dir / "TimePoint_1"
    timepoint.mkdir(parents=True)
    first = None
    channels: list[str] = []
    pixel_size = None
    total, done = source.image_count, 0
    for well, sites in source.wells.items():
        for site, image_id in sites.items():
            image = conn.getObject("Image", image_id)
            if image is None:
                raise SourceError(f"Image {image_id} of the {source.type} “{source.name}” "
                                  "was not found, or you cannot see it.")
            geometry = _check(image, first)
            if first is None:
                first = geometry
                channels = [get_text(label) or f"Channel {n}" for n, label in
                            enumerate(image.getChannelLabels(), 1)]
                pixel_size = _pixel_size_um(image)
            size_x, size_y, _, size_c, _, pixel_type = geometry
            pixels = image.getPrimaryPixels()
            for c in range(size_c):
                _write_plane(timepoint / f"{well}_s{site}_w{c + 1}.tif", pixels, c, size_x,
                             size_y, DTYPES[pixel_type], tile_edge)
            done += 1
            progress(done, total)
    sites_max = max(len(s) for s in source.wells.values())
    manifest = {
        "wells": list(source.wells), "sites": sites_max, "channels": channels,
        "source": {"type": source.type, "id": source.id},
        **({"pixel_size_um": pixel_size} if pixel_size else {}),
        "images": {w: {str(s): i for s, i in sites.items()} for w, sites in source.wells.items()},
    }
    (plate_dir / "plate.json").write_text(json.dumps(manifest, indent=1))
    return manifest
