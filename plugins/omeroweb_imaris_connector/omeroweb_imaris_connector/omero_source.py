"""What the .ims writer reads from OMERO: the image's description and its pixels, tile by tile
through the gateway's `PixelsWrapper.getTiles` (one RawPixelsStore per block of tiles)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .ims_writer import ImageSpec, ReadTiles, TileRequest

# omero.gateway.OMERO_NUMPY_TYPES, restated so this module needs no gateway import.
NUMPY_TYPES = {
    "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
    "int32": np.int32, "uint32": np.uint32, "float": np.float32, "double": np.float64,
}


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def voxel_size(image: Any) -> tuple[float, float, float]:
    """Microns; as the original's script: a missing X is 1.0, a missing Y or Z takes X's."""
    x = _positive(image.getPixelSizeX()) or 1.0
    y = _positive(image.getPixelSizeY()) or x
    z = _positive(image.getPixelSizeZ()) or x
    return (x, y, z)


def _colour(channel: Any) -> tuple[float, float, float] | None:
    # The Channel model's own colour (the rendering engine is not needed for it).
    obj = getattr(channel, "_obj", None)
    try:
        rgb = [obj.getRed(), obj.getGreen(), obj.getBlue()]
    except AttributeError:
        return None
    if any(v is None for v in rgb):
        return None
    return tuple(int(v.val) / 255 for v in rgb)  # type: ignore[return-value]


def image_spec(image: Any) -> ImageSpec:
    channels = image.getChannels(noRE=True)
    acquired = None
    try:
        acquired_ms = image.getAcquisitionDate()
    except AttributeError:
        acquired_ms = None
    if isinstance(acquired_ms, datetime):
        acquired = acquired_ms.astimezone(UTC)
    return ImageSpec(
        size_x=image.getSizeX(), size_y=image.getSizeY(), size_z=image.getSizeZ(),
        size_c=image.getSizeC(), size_t=image.getSizeT(),
        dtype=np.dtype(NUMPY_TYPES[image.getPixelsType()]),
        voxel_size=voxel_size(image),
        channel_names=[channel.getLabel() for channel in channels],
        channel_colours=[_colour(channel) for channel in channels],
        name=image.getName() or "", description=image.getDescription() or "",
        acquired=acquired,
    )


def tile_reader(image: Any) -> ReadTiles:
    pixels = image.getPrimaryPixels()

    def read(requests: list[TileRequest]) -> Iterable[np.ndarray]:
        return pixels.getTiles(requests)

    return read
