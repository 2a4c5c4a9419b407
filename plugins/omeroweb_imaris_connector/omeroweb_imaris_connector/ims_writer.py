"""A pure-Python writer of Imaris 5.5 (.ims) files: HDF5 through h5py, in the layout Imaris and
ImarisWriter use (see docs/plugins/imaris-connector.md, "File layout").

Pixels come in tile by tile from a `read_tiles` callable (OMERO's `PixelsWrapper.getTiles`), and
every HDF5 chunk is written whole, so memory stays at a few chunks whatever the image size:
level 0 is filled one (chunk depth x tile) block at a time, each coarser level is computed from
the finer one already on disk, one output chunk block at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

IMARIS_VERSION = "5.5.0"
HISTOGRAM_BINS = 256
THUMBNAIL_SIZE = 256
# Imaris reads 8- and 16-bit unsigned integers, 32-bit unsigned integers and 32-bit floats.
SUPPORTED_DTYPES = {np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32),
                    np.dtype(np.float32)}
# Channel colours (r, g, b in 0..1) when the source has none: Imaris' own defaults.
DEFAULT_COLOURS = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 1.0),
                   (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 1.0, 1.0)]

Tile = tuple[int, int, int, int]  # x, y, width, height (OMERO's order)
TileRequest = tuple[int, int, int, Tile]  # z, c, t, tile
ReadTiles = Callable[[list[TileRequest]], Iterable[np.ndarray]]


class UnsupportedImage(ValueError):
    """The image cannot be written as .ims (pixel type, empty dimensions)."""


@dataclass(frozen=True)
class ImageSpec:
    """What the writer needs to know about the source image."""

    size_x: int
    size_y: int
    size_z: int
    size_c: int
    size_t: int
    dtype: np.dtype
    voxel_size: tuple[float, float, float] = (1.0, 1.0, 1.0)  # x, y, z in microns
    channel_names: list[str] = field(default_factory=list)
    channel_colours: list[tuple[float, float, float] | None] = field(default_factory=list)
    name: str = ""
    description: str = ""
    acquired: datetime | None = None
    time_increment: float | None = None  # seconds between time points, when known

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return (self.size_z, self.size_y, self.size_x)


@dataclass(frozen=True)
class WriteOptions:
    tile: int = 256              # x/y edge of tiles read from OMERO and of HDF5 chunks
    chunk_z: int = 8             # z depth of HDF5 chunks
    compression: int | None = 2  # gzip level; None writes uncompressed data
    min_level_voxels: int = 1024 * 1024  # no coarser level below this many voxels
    max_levels: int = 16


@dataclass
class WriteReport:
    path: str
    levels: list[tuple[int, int, int]]  # (z, y, x) per resolution level
    tiles_read: int
    bytes_written: int


def _attr(value: Any) -> np.ndarray:
    """Imaris stores every attribute as an array of single characters."""
    return np.frombuffer(str(value).encode("ascii", "replace"), dtype="S1")


def _set_attrs(node: h5py.Group, **attrs: Any) -> None:
    for key, value in attrs.items():
        node.attrs[key] = _attr(value)


def _fmt(value: float) -> str:
    # repr keeps every digit, so voxel sizes computed back from the extents round-trip.
    return repr(float(value))


def level_shapes(spec: ImageSpec, options: WriteOptions) -> list[tuple[int, int, int]]:
    """The resolution pyramid: halve x and y each level, and z while it is the finer axis."""
    shapes = [spec.shape_zyx]
    voxel = list(spec.voxel_size)
    while len(shapes) < options.max_levels:
        z, y, x = shapes[-1]
        if z * y * x <= options.min_level_voxels or (x == 1 and y == 1):
            break
        halve_z = z > 1 and voxel[2] <= max(voxel[0], voxel[1])
        voxel = [voxel[0] * 2, voxel[1] * 2, voxel[2] * (2 if halve_z else 1)]
        shapes.append((math.ceil(z / 2) if halve_z else z, math.ceil(y / 2), math.ceil(x / 2)))
    return shapes


def _chunks(shape: tuple[int, int, int], options: WriteOptions) -> tuple[int, int, int]:
    z, y, x = shape
    return (min(z, options.chunk_z), min(y, options.tile), min(x, options.tile))


def _downsample(block: np.ndarray, factor_z: int, out_shape: tuple[int, int, int]
                ) -> np.ndarray:
    """Mean of 2x2(x2) neighbours, rounded half up for integers; edges are padded by
    repetition (odd sizes). Pairwise sums of strided views: several times faster than
    reshape().mean() on 2 cores."""
    oz, oy, ox = out_shape
    pad = [(0, oz * factor_z - block.shape[0]), (0, oy * 2 - block.shape[1]),
           (0, ox * 2 - block.shape[2])]
    if any(p[1] for p in pad):
        block = np.pad(block, pad, mode="edge")
    integer = np.issubdtype(block.dtype, np.integer)
    # Summing the first pair into a wider copy keeps temporaries at half the block's size.
    acc = block[:, 0::2, :].astype(np.uint64 if block.dtype == np.uint32 else
                                   np.uint32 if integer else np.float64)
    acc += block[:, 1::2, :]
    acc = acc[:, :, 0::2] + acc[:, :, 1::2]
    if factor_z == 2:
        acc = acc[0::2] + acc[1::2]
    count = 4 * factor_z
    if integer:
        return ((acc + count // 2) // count).astype(block.dtype)
    return (acc / count).astype(block.dtype)


class _Stats:
    """Per (time point, channel): min, max and a histogram, built while writing."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.minimum = math.inf
        self.maximum = -math.inf
        # Small integer types are counted exactly and rebinned at the end: one pass only.
        self.exact = (np.zeros(int(np.iinfo(dtype).max) + 1, dtype=np.uint64)
                      if dtype in (np.dtype(np.uint8), np.dtype(np.uint16)) else None)

    def add(self, block: np.ndarray) -> None:
        if block.size == 0:
            return
        if self.exact is not None:  # min and max come from the counts: one pass over the data
            self.exact += np.bincount(block.ravel(), minlength=self.exact.size).astype(np.uint64)
            return
        self.minimum = min(self.minimum, float(block.min()))
        self.maximum = max(self.maximum, float(block.max()))

    def histogram(self, blocks: Callable[[], Iterator[np.ndarray]]) -> np.ndarray:
        low, high = self.range()
        if self.exact is not None:
            values = np.arange(self.exact.size, dtype=np.float64)
            bins = _bin_index(values, low, high)
            return np.bincount(bins, weights=self.exact, minlength=HISTOGRAM_BINS
                               ).astype(np.uint64)
        hist = np.zeros(HISTOGRAM_BINS, dtype=np.uint64)
        for block in blocks():  # a second pass over what is already written
            hist += np.bincount(_bin_index(block.ravel().astype(np.float64), low, high),
                                minlength=HISTOGRAM_BINS).astype(np.uint64)
        return hist

    def range(self) -> tuple[float, float]:
        if self.exact is not None and self.minimum > self.maximum:
            present = np.flatnonzero(self.exact)
            if present.size:
                self.minimum, self.maximum = float(present[0]), float(present[-1])
        if self.minimum > self.maximum:
            return 0.0, 0.0
        return self.minimum, self.maximum


def _bin_index(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.int64)
    index = np.floor((values - low) / (high - low) * HISTOGRAM_BINS).astype(np.int64)
    return np.clip(index, 0, HISTOGRAM_BINS - 1)


def _blocks_of(dataset: h5py.Dataset, shape: tuple[int, int, int],
               chunks: tuple[int, int, int]) -> Iterator[np.ndarray]:
    z, y, x = shape
    for z0 in range(0, z, chunks[0]):
        for y0 in range(0, y, chunks[1]):
            for x0 in range(0, x, chunks[2]):
                yield dataset[z0:z0 + chunks[0], y0:y0 + chunks[1], x0:x0 + chunks[2]]


def write_ims(path: str | Path, spec: ImageSpec, read_tiles: ReadTiles,
              options: WriteOptions | None = None,
              progress: Callable[[int, int], None] | None = None) -> WriteReport:
    """Write the image to `path` (replaced if present). `progress(done, total)` is called after
    each block of tiles; it may raise to abort (the partial file is removed)."""
    options = options or WriteOptions()
    if spec.dtype not in SUPPORTED_DTYPES:
        raise UnsupportedImage(
            f"pixel type {spec.dtype} cannot be written as .ims (Imaris reads uint8, uint16, "
            "uint32 and float32)")
    if min(spec.size_x, spec.size_y, spec.size_z, spec.size_c, spec.size_t) < 1:
        raise UnsupportedImage("the image has an empty dimension")
    path = Path(path)
    shapes = level_shapes(spec, options)
    try:
        with h5py.File(path, "w", libver="earliest") as h5:
            report = _write(h5, spec, read_tiles, options, shapes, progress)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    report.path = str(path)
    report.bytes_written = path.stat().st_size
    return report


def _write(h5: h5py.File, spec: ImageSpec, read_tiles: ReadTiles, options: WriteOptions,
           shapes: list[tuple[int, int, int]], progress: Callable[[int, int], None] | None
           ) -> WriteReport:
    _set_attrs(h5, ImarisDataSet="ImarisDataSet", ImarisVersion=IMARIS_VERSION,
               DataSetInfoDirectoryName="DataSetInfo", ThumbnailDirectoryName="Thumbnail",
               DataSetDirectoryName="DataSet")
    h5.attrs["NumberOfDataSets"] = np.array([1], dtype=np.uint32)
    _write_info(h5.create_group("DataSetInfo"), spec)
    dataset_group = h5.create_group("DataSet")
    z_blocks = math.ceil(spec.size_z / min(spec.size_z, options.chunk_z))
    blocks_per_slab = math.ceil(spec.size_x / options.tile) * math.ceil(spec.size_y / options.tile)
    total = spec.size_t * spec.size_c * z_blocks * blocks_per_slab
    done = tiles_read = 0
    last_report = [0.0]
    stats: dict[tuple[int, int], _Stats] = {}

    def block_written(force: bool = False) -> None:
        nonlocal done
        done += 0 if force else 1
        # At most once a second: each report is a database write (and a cancel check).
        if progress and (force or time.monotonic() - last_report[0] >= 1.0):
            last_report[0] = time.monotonic()
            progress(done, total)

    for t in range(spec.size_t):
        for c in range(spec.size_c):
            stat = stats[(t, c)] = _Stats(spec.dtype)
            datasets = [_create_data(dataset_group, level, t, c, shape, spec, options)
                        for level, shape in enumerate(shapes)]
            tiles_read += _fill_level0(datasets[0], spec, t, c, options, read_tiles, stat,
                                       block_written)
            for level in range(1, len(shapes)):
                _fill_level(datasets[level - 1], datasets[level], shapes[level - 1],
                            shapes[level], options)
            for level, data in enumerate(datasets):
                shape = shapes[level]
                chunks = _chunks(shape, options)
                if level == 0:
                    hist = stat.histogram(lambda d=data, s=shape, k=chunks: _blocks_of(d, s, k))
                else:
                    level_stat = _Stats(spec.dtype)
                    for block in _blocks_of(data, shape, chunks):
                        level_stat.add(block)
                    level_stat.minimum, level_stat.maximum = stat.range()
                    hist = level_stat.histogram(lambda d=data, s=shape, k=chunks:
                                                _blocks_of(d, s, k))
                low, high = stat.range()
                group = data.parent
                group.create_dataset("Histogram", data=hist)
                _set_attrs(group, HistogramMin=_fmt(low), HistogramMax=_fmt(high))
            block_written(force=True)
    _write_channel_ranges(h5["DataSetInfo"], spec, stats)
    _write_thumbnail(h5, dataset_group, spec, shapes, stats)
    return WriteReport(path="", levels=shapes, tiles_read=tiles_read, bytes_written=0)


def _create_data(root: h5py.Group, level: int, t: int, c: int, shape: tuple[int, int, int],
                 spec: ImageSpec, options: WriteOptions) -> h5py.Dataset:
    group = root.require_group(f"ResolutionLevel {level}").require_group(
        f"TimePoint {t}").create_group(f"Channel {c}")
    z, y, x = shape
    chunks = _chunks(shape, options)
    _set_attrs(group, ImageSizeX=x, ImageSizeY=y, ImageSizeZ=z,
               ImageBlockSizeX=chunks[2], ImageBlockSizeY=chunks[1], ImageBlockSizeZ=chunks[0])
    compression = {"compression": "gzip", "compression_opts": options.compression} \
        if options.compression is not None else {}
    return group.create_dataset("Data", shape=shape, dtype=spec.dtype, chunks=chunks,
                                **compression)


def _fill_level0(data: h5py.Dataset, spec: ImageSpec, t: int, c: int, options: WriteOptions,
                 read_tiles: ReadTiles, stat: _Stats, block_written: Callable[[], None]) -> int:
    """One chunk block at a time: its chunk_z tiles are read, then written as whole chunks."""
    depth = min(spec.size_z, options.chunk_z)
    count = 0
    for z0 in range(0, spec.size_z, depth):
        planes = range(z0, min(z0 + depth, spec.size_z))
        for y0 in range(0, spec.size_y, options.tile):
            height = min(options.tile, spec.size_y - y0)
            for x0 in range(0, spec.size_x, options.tile):
                width = min(options.tile, spec.size_x - x0)
                block = np.empty((len(planes), height, width), dtype=spec.dtype)
                requests = [(z, c, t, (x0, y0, width, height)) for z in planes]
                for index, tile in enumerate(read_tiles(requests)):
                    block[index] = tile
                    count += 1
                data[z0:z0 + len(planes), y0:y0 + height, x0:x0 + width] = block
                stat.add(block)
                block_written()
    return count


def _fill_level(source: h5py.Dataset, target: h5py.Dataset, source_shape: tuple[int, int, int],
                target_shape: tuple[int, int, int], options: WriteOptions) -> None:
    factor_z = 2 if target_shape[0] < source_shape[0] else 1
    chunks = _chunks(target_shape, options)
    oz, oy, ox = target_shape
    for z0 in range(0, oz, chunks[0]):
        for y0 in range(0, oy, chunks[1]):
            for x0 in range(0, ox, chunks[2]):
                out = (min(chunks[0], oz - z0), min(chunks[1], oy - y0), min(chunks[2], ox - x0))
                block = source[z0 * factor_z:(z0 + out[0]) * factor_z,
                               y0 * 2:(y0 + out[1]) * 2, x0 * 2:(x0 + out[2]) * 2]
                target[z0:z0 + out[0], y0:y0 + out[1], x0:x0 + out[2]] = \
                    _downsample(block, factor_z, out)


def _colour(spec: ImageSpec, c: int) -> tuple[float, float, float]:
    given = spec.channel_colours[c] if c < len(spec.channel_colours) else None
    if given is not None:
        return given
    if spec.size_c == 1:
        return (1.0, 1.0, 1.0)
    return DEFAULT_COLOURS[c % len(DEFAULT_COLOURS)]


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _write_info(info: h5py.Group, spec: ImageSpec) -> None:
    vx, vy, vz = spec.voxel_size
    acquired = spec.acquired or datetime.now(UTC)
    _set_attrs(info.create_group("ImarisDataSet"), Creator="omeroweb_imaris_connector",
               NumberOfImages=1, Version=IMARIS_VERSION)
    _set_attrs(info.create_group("Imaris"), Version="7.0", ThumbnailMode="thumbnailMIP",
               ThumbnailSize=THUMBNAIL_SIZE)
    _set_attrs(info.create_group("Image"),
               X=spec.size_x, Y=spec.size_y, Z=spec.size_z, Noc=spec.size_c, Unit="um",
               ExtMin0=_fmt(0.0), ExtMin1=_fmt(0.0), ExtMin2=_fmt(0.0),
               ExtMax0=_fmt(spec.size_x * vx), ExtMax1=_fmt(spec.size_y * vy),
               ExtMax2=_fmt(spec.size_z * vz),
               Name=spec.name, Description=spec.description,
               RecordingDate=_timestamp(acquired), ResampleDimensionX="true",
               ResampleDimensionY="true", ResampleDimensionZ="true")
    for c in range(spec.size_c):
        name = spec.channel_names[c] if c < len(spec.channel_names) else f"Channel {c}"
        _set_attrs(info.create_group(f"Channel {c}"), Name=name, Description="",
                   Color=" ".join(_fmt(v) for v in _colour(spec, c)), ColorMode="BaseColor",
                   ColorOpacity="1", GammaCorrection="1")
    times = {}
    step = spec.time_increment or 1.0
    for t in range(spec.size_t):
        moment = datetime.fromtimestamp(acquired.timestamp() + t * step, UTC)
        times[f"TimePoint{t + 1}"] = _timestamp(moment)
    _set_attrs(info.create_group("TimeInfo"), DatasetTimePoints=spec.size_t,
               FileTimePoints=spec.size_t, **times)


def _write_channel_ranges(info: h5py.Group, spec: ImageSpec,
                          stats: dict[tuple[int, int], _Stats]) -> None:
    """Imaris opens each channel with this display range (over all time points)."""
    for c in range(spec.size_c):
        lows, highs = zip(*(stats[(t, c)].range() for t in range(spec.size_t)), strict=True)
        _set_attrs(info[f"Channel {c}"], ColorRange=f"{_fmt(min(lows))} {_fmt(max(highs))}")


def _write_thumbnail(h5: h5py.File, root: h5py.Group, spec: ImageSpec,
                     shapes: list[tuple[int, int, int]], stats: dict[tuple[int, int], _Stats]
                     ) -> None:
    """An RGBA maximum projection of the first time point, from the coarsest level (small)."""
    level = len(shapes) - 1
    _, y, x = shapes[level]
    scale = min(THUMBNAIL_SIZE / y, THUMBNAIL_SIZE / x)
    out_y, out_x = max(1, round(y * scale)), max(1, round(x * scale))
    rows = np.minimum((np.arange(out_y) / scale).astype(int), y - 1)
    cols = np.minimum((np.arange(out_x) / scale).astype(int), x - 1)
    rgb = np.zeros((out_y, out_x, 3), dtype=np.float64)
    for c in range(spec.size_c):
        data = root[f"ResolutionLevel {level}/TimePoint 0/Channel {c}/Data"]
        projection = np.asarray(data[...]).max(axis=0).astype(np.float64)[rows][:, cols]
        low, high = stats[(0, c)].range()
        norm = np.clip((projection - low) / (high - low), 0, 1) if high > low else \
            np.zeros_like(projection)
        rgb += norm[..., None] * np.array(_colour(spec, c))
    thumbnail = np.zeros((THUMBNAIL_SIZE, THUMBNAIL_SIZE, 4), dtype=np.uint8)
    top, left = (THUMBNAIL_SIZE - out_y) // 2, (THUMBNAIL_SIZE - out_x) // 2
    thumbnail[top:top + out_y, left:left + out_x, :3] = np.clip(rgb * 255, 0, 255).astype(np.uint8)
    thumbnail[top:top + out_y, left:left + out_x, 3] = 255
    group = h5.create_group("Thumbnail")
    # Imaris' layout: one row of interleaved RGBA per thumbnail row.
    group.create_dataset("Data", data=thumbnail.reshape(THUMBNAIL_SIZE, THUMBNAIL_SIZE * 4))
