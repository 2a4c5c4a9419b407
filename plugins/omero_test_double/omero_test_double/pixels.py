"""Pixel data of fake images and the RawPixelsStore that serves it (big-endian bytes, as OMERO)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .calls import counted
from .contract import fake_of
from .errors import api_usage, security_violation

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway
    from .store import Record

# omero.gateway.OMERO_NUMPY_TYPES, restated so the fake needs no gateway import here.
NUMPY_TYPES = {
    "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
    "int32": np.int32, "uint32": np.uint32, "float": np.float32, "double": np.float64,
}
TILE_SIZE = (256, 256)


def make_pixels(size: tuple[int, int, int, int, int], pixel_type: str,
                physical_size: tuple[float | None, float | None, float | None] | None,
                planes: Any, channel_names: list[str] | None) -> dict[str, Any]:
    if pixel_type not in NUMPY_TYPES:
        raise ValueError(f"pixel_type {pixel_type!r} not in {sorted(NUMPY_TYPES)}")
    size_x, size_y, size_z, size_c, size_t = size
    if planes is not None:
        planes = np.asarray(planes, dtype=NUMPY_TYPES[pixel_type])
        if planes.shape != (size_t, size_c, size_z, size_y, size_x):
            raise ValueError(f"planes shape {planes.shape} is not (t, c, z, y, x) = "
                             f"{(size_t, size_c, size_z, size_y, size_x)}")
    return {
        "size": tuple(size), "pixel_type": pixel_type,
        "physical_size": tuple(physical_size) if physical_size else (None, None, None),
        "planes": planes,
        "channel_names": channel_names or [f"ch{c}" for c in range(size_c)],
    }


def plane_array(pixels: Record, z: int, c: int, t: int,
                window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The (y, x) plane, or its (x, y, w, h) window; without stored planes a deterministic ramp
    that differs per z, c, t (only the window is computed: large images stream in tiles)."""
    size_x, size_y, size_z, size_c, size_t = pixels.data["size"]
    if not (0 <= z < size_z and 0 <= c < size_c and 0 <= t < size_t):
        raise api_usage(f"plane z={z} c={c} t={t} outside {size_z}x{size_c}x{size_t}")
    x, y, w, h = window or (0, 0, size_x, size_y)
    dtype = NUMPY_TYPES[pixels.data["pixel_type"]]
    if pixels.data["planes"] is not None:
        return pixels.data["planes"][t, c, z][y:y + h, x:x + w]
    ramp = (np.arange(x, x + w)[None, :] + 3 * np.arange(y, y + h)[:, None]
            + 101 * z + 211 * c + 307 * t)
    if np.issubdtype(dtype, np.integer):
        ramp = ramp % (int(np.iinfo(dtype).max) + 1)
    return ramp.astype(dtype)


@fake_of("omero.api.RawPixelsStorePrx")
class FakeRawPixelsStore:
    """RawPixelsStore over one Pixels set; bytes are big-endian like the server's."""

    def __init__(self, conn: FakeBlitzGateway) -> None:
        self._conn = conn
        self._omero = conn._omero
        self._pixels: Record | None = None
        self._closed = False

    def _current(self) -> Record:
        if self._closed:
            raise api_usage("RawPixelsStore is closed")
        if self._pixels is None:
            raise api_usage("setPixelsId() first")
        return self._pixels

    @counted("RawPixelsStore.setPixelsId")
    def setPixelsId(self, pixelsId: int, bypassOriginalFile: bool, _ctx: Any = None) -> None:
        pixels = self._omero.records.get(int(pixelsId))
        if pixels is None or pixels.kind != "Pixels":
            raise security_violation(f"Pixels:{pixelsId} not found")
        if not self._conn._can_read(pixels, _ctx):
            raise security_violation(f"Pixels:{pixelsId} not readable")
        self._pixels = pixels

    @counted("RawPixelsStore.getPixelsId")
    def getPixelsId(self, _ctx: Any = None) -> int:
        return self._current().id

    @counted("RawPixelsStore.getPlane")
    def getPlane(self, z: int, c: int, t: int, _ctx: Any = None) -> bytes:
        plane = plane_array(self._current(), z, c, t)
        return plane.astype(plane.dtype.newbyteorder(">")).tobytes()

    @counted("RawPixelsStore.getTile")
    def getTile(self, z: int, c: int, t: int, x: int, y: int, w: int, h: int,
                _ctx: Any = None) -> bytes:
        pixels = self._current()
        size_x, size_y = pixels.data["size"][:2]
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > size_x or y + h > size_y:
            raise api_usage(f"tile {(x, y, w, h)} outside {size_x}x{size_y}")
        tile = plane_array(pixels, z, c, t, (x, y, w, h))
        return tile.astype(tile.dtype.newbyteorder(">")).tobytes()

    @counted("RawPixelsStore.getPlaneSize")
    def getPlaneSize(self, _ctx: Any = None) -> int:
        pixels = self._current()
        size_x, size_y = pixels.data["size"][:2]
        return size_x * size_y * np.dtype(NUMPY_TYPES[pixels.data["pixel_type"]]).itemsize

    @counted("RawPixelsStore.getTileSize")
    def getTileSize(self, _ctx: Any = None) -> list[int]:
        size_x, size_y = self._current().data["size"][:2]
        return [min(TILE_SIZE[0], size_x), min(TILE_SIZE[1], size_y)]

    @counted("RawPixelsStore.getResolutionLevels")
    def getResolutionLevels(self, _ctx: Any = None) -> int:
        self._current()
        return 1

    @counted("RawPixelsStore.close")
    def close(self, _ctx: Any = None) -> None:
        self._closed = True
