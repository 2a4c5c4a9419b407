"""A pure-Python writer of Imaris 5.5 (.ims) files: HDF5 through h5py, in the layout Imaris and
ImarisWriter use (see docs/plugins/imaris-connector.md, "File layout").

Pixels come in tile by tile from a `read_tiles` callable (OMERO's `PixelsWrapper.getTiles`), one
(chunk depth x tile) block per level-0 chunk, in an order that completes each coarser chunk
from finer chunks still in memory. Worker threads downsample and compress the chunks (ISA-L or
zlib deflate streams, which HDF5's deflate filter reads); the calling thread writes them with
HDF5's direct chunk write. The file is an ordinary gzip-filtered HDF5 file, and memory stays
at a few chunks per worker whatever the image size.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from isal import isal_zlib

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
    workers: int = 2             # threads that downsample and compress; 0: all in one thread
    queue_depth: int = 4         # level-0 blocks read ahead of the workers


@dataclass
class WriteReport:
    path: str
    levels: list[tuple[int, int, int]]  # (z, y, x) per resolution level
    tiles_read: int
    bytes_written: int
    non_finite: dict[int, int] = field(default_factory=dict)  # channel: NaN/inf values ignored


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
    """Min, max and a histogram of one (time point, channel, level), built while writing.
    Non-finite float values (NaN, inf) are left out and counted."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.minimum = math.inf
        self.maximum = -math.inf
        self.non_finite = 0
        # Small integer types are counted exactly and rebinned at the end: one pass only.
        self.exact = (np.zeros(int(np.iinfo(dtype).max) + 1, dtype=np.uint64)
                      if dtype in (np.dtype(np.uint8), np.dtype(np.uint16)) else None)

    def merge(self, part: _BlockStats) -> None:
        if part.counts is not None and self.exact is not None:
            self.exact += part.counts
        self.minimum = min(self.minimum, part.minimum)
        self.maximum = max(self.maximum, part.maximum)
        self.non_finite += part.non_finite

    def histogram(self, low: float, high: float,
                  blocks: Callable[[], Iterator[np.ndarray]]) -> np.ndarray:
        if self.exact is not None:
            values = np.arange(self.exact.size, dtype=np.float64)
            bins = _bin_index(values, low, high)
            return np.bincount(bins, weights=self.exact, minlength=HISTOGRAM_BINS
                               ).astype(np.uint64)
        hist = np.zeros(HISTOGRAM_BINS, dtype=np.uint64)
        for block in blocks():  # uint32 and float: a second pass over what is already written
            values = _finite(block.ravel())[0].astype(np.float64)
            hist += np.bincount(_bin_index(values, low, high),
                                minlength=HISTOGRAM_BINS).astype(np.uint64)
        return hist

    def settled(self) -> _Stats:
        """Only the range and the count of non-finite values from now on (frees the counts)."""
        self.range()
        self.exact = None
        return self

    def range(self) -> tuple[float, float]:
        if self.exact is not None and self.minimum > self.maximum:
            present = np.flatnonzero(self.exact)
            if present.size:
                self.minimum, self.maximum = float(present[0]), float(present[-1])
        if self.minimum > self.maximum:
            return 0.0, 0.0
        return self.minimum, self.maximum


@dataclass
class _BlockStats:
    """What a worker measured on one chunk; merged into _Stats by the writing thread."""

    counts: np.ndarray | None = None
    minimum: float = math.inf
    maximum: float = -math.inf
    non_finite: int = 0


def _finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The finite values and how many others there were (integers are always finite)."""
    if values.dtype.kind != "f":
        return values, 0
    mask = np.isfinite(values)
    bad = values.size - int(np.count_nonzero(mask))
    return (values[mask] if bad else values), bad


def _measure(block: np.ndarray, exact: bool) -> _BlockStats:
    if block.size == 0:
        return _BlockStats()
    if exact:  # min and max come from the counts: one pass over the data
        size = int(np.iinfo(block.dtype).max) + 1
        counts = np.zeros(size, dtype=np.int64)
        for plane in block:  # bincount copies its input as int64: a plane at a time
            counts += np.bincount(plane.ravel(), minlength=size)
        return _BlockStats(counts=counts.astype(np.uint64))
    values, bad = _finite(block)
    if values.size == 0:
        return _BlockStats(non_finite=bad)
    return _BlockStats(minimum=float(values.min()), maximum=float(values.max()), non_finite=bad)


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


def _encode(block: np.ndarray, chunks: tuple[int, int, int], level: int | None
            ) -> bytes | memoryview:
    """The chunk as HDF5 stores it: padded to the full chunk shape (edge chunks), then a zlib
    stream, which HDF5's deflate filter inflates. Levels 1-3 use ISA-L's deflate (3-4 times
    faster than zlib at a similar size), 4-9 zlib's (the bytes HDF5's own filter writes)."""
    if block.shape != chunks:
        padded = np.zeros(chunks, dtype=block.dtype)
        padded[:block.shape[0], :block.shape[1], :block.shape[2]] = block
        block = padded
    raw = memoryview(np.ascontiguousarray(block)).cast("B")
    if level is None:
        return raw
    if level <= isal_zlib.ISAL_BEST_COMPRESSION:
        return isal_zlib.compress(raw, level)
    return zlib.compress(raw, level)


@dataclass(eq=False)
class _Node:
    """One HDF5 chunk of one level of one (time point, channel). Coarser chunks are filled by
    their finer children's downsampled blocks and processed when the last child is in."""

    t: int
    c: int
    level: int
    start: tuple[int, int, int]   # z, y, x of the chunk in its level
    extent: tuple[int, int, int]  # the part inside the image (edge chunks are smaller)
    parent: _Node | None = None
    buffer: np.ndarray | None = None
    pending: int = 0


@dataclass
class _Done:
    node: _Node
    data: bytes | memoryview
    stats: _BlockStats
    thumbnail: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # rows, cols, sampled MIP


class _Inline:
    """The serial path (workers=0): each job runs at once in the thread that submits it."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        fn(*args)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class _Pipeline:
    """Read level-0 blocks in one thread; downsample, measure and compress chunks in a pool of
    workers (ISA-L, zlib and numpy release the GIL); write the compressed chunks in the calling
    thread (h5py is not thread-safe) with HDF5's direct chunk write.

    Level-0 blocks are read in depth-first pyramid order, so each coarser chunk is complete
    after its 4 (or 8) finer chunks and is built from them in memory. At most
    workers + queue_depth level-0 blocks are between reading and writing, plus one partly
    filled chunk per level: memory is a few chunks per worker whatever the image size."""

    def __init__(self, spec: ImageSpec, shapes: list[tuple[int, int, int]],
                 options: WriteOptions, read_tiles: ReadTiles) -> None:
        self.spec, self.shapes, self.options, self.read_tiles = spec, shapes, options, read_tiles
        self.chunks = [_chunks(shape, options) for shape in shapes]
        self.factor_z = [1] + [2 if shapes[i][0] < shapes[i - 1][0] else 1
                               for i in range(1, len(shapes))]
        self.exact = spec.dtype in (np.dtype(np.uint8), np.dtype(np.uint16))
        self.results: queue.Queue[_Done | BaseException] = queue.Queue()
        self.slots = threading.Semaphore(max(1, options.workers) + max(0, options.queue_depth))
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.tiles_read = 0
        self.pool: ThreadPoolExecutor | _Inline = (
            ThreadPoolExecutor(options.workers, thread_name_prefix="ims-worker")
            if options.workers > 0 else _Inline())
        self.thumb_level = len(shapes) - 1
        _, y, x = shapes[self.thumb_level]
        scale = min(THUMBNAIL_SIZE / y, THUMBNAIL_SIZE / x)
        self.thumb_rows = np.minimum((np.arange(max(1, round(y * scale))) / scale).astype(int),
                                     y - 1)
        self.thumb_cols = np.minimum((np.arange(max(1, round(x * scale))) / scale).astype(int),
                                     x - 1)

    # -- the plan: chunks in depth-first order -----------------------------------------------

    def chunk_count(self) -> int:
        return sum(math.prod(math.ceil(n / k) for n, k in zip(shape, chunks, strict=True))
                   for shape, chunks in zip(self.shapes, self.chunks, strict=True))

    def leaves(self) -> Iterator[_Node]:
        for t in range(self.spec.size_t):
            for c in range(self.spec.size_c):
                top = len(self.shapes) - 1
                for start in self._grid(top, (0, 0, 0), self.shapes[top]):
                    yield from self._visit(t, c, top, start, None)

    def _grid(self, level: int, low: tuple[int, int, int], high: tuple[int, int, int]
              ) -> Iterator[tuple[int, int, int]]:
        chunks = self.chunks[level]
        if any(lo % k for lo, k in zip(low, chunks, strict=True)):
            raise AssertionError(f"chunk grid of level {level} not aligned at {low}")
        for z0 in range(low[0], high[0], chunks[0]):
            for y0 in range(low[1], high[1], chunks[1]):
                for x0 in range(low[2], high[2], chunks[2]):
                    yield (z0, y0, x0)

    def _visit(self, t: int, c: int, level: int, start: tuple[int, int, int],
               parent: _Node | None) -> Iterator[_Node]:
        shape, chunks = self.shapes[level], self.chunks[level]
        extent = tuple(min(k, n - s) for s, k, n in zip(start, chunks, shape, strict=True))
        node = _Node(t, c, level, start, extent, parent)  # type: ignore[arg-type]
        if level == 0:
            yield node
            return
        fz, finer = self.factor_z[level], self.shapes[level - 1]
        low = (start[0] * fz, start[1] * 2, start[2] * 2)
        high = (min((start[0] + extent[0]) * fz, finer[0]), min((start[1] + extent[1]) * 2,
                finer[1]), min((start[2] + extent[2]) * 2, finer[2]))
        children = list(self._grid(level - 1, low, high))
        node.pending = len(children)
        node.buffer = np.empty(extent, dtype=self.spec.dtype)
        for child in children:
            yield from self._visit(t, c, level - 1, child, node)

    # -- threads ------------------------------------------------------------------------------

    def read(self) -> None:
        """The reading thread: one block of chunk_z tiles per level-0 chunk, in plan order."""
        try:
            for node in self.leaves():
                while not self.slots.acquire(timeout=0.2):
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
                (z0, y0, x0), (dz, dy, dx) = node.start, node.extent
                block = np.empty(node.extent, dtype=self.spec.dtype)
                requests = [(z, node.c, node.t, (x0, y0, dx, dy)) for z in range(z0, z0 + dz)]
                count = 0
                for index, tile in enumerate(self.read_tiles(requests)):
                    block[index] = tile
                    count += 1
                if count != dz:
                    raise RuntimeError(f"OMERO sent {count} of {dz} tiles at z={z0}, "
                                       f"c={node.c}, t={node.t}")
                self.tiles_read += count
                self.pool.submit(self.process, node, block)
        except BaseException as error:  # handed to the writing thread
            self.results.put(error)

    def process(self, node: _Node, block: np.ndarray) -> None:
        """A worker's job on one chunk: measure, sample the thumbnail, downsample into the
        coarser chunk (which goes to the pool once complete), compress."""
        try:
            if self.stop.is_set():
                return
            level = node.level
            stats = (_measure(block, self.exact) if level == 0 or self.exact
                     else _BlockStats())
            thumbnail = self._thumbnail_sample(node, block) \
                if node.t == 0 and level == self.thumb_level else None
            parent = node.parent
            if parent is not None:
                fz = self.factor_z[parent.level]
                out = (math.ceil(block.shape[0] / fz), math.ceil(block.shape[1] / 2),
                       math.ceil(block.shape[2] / 2))
                z0 = node.start[0] // fz - parent.start[0]
                y0 = node.start[1] // 2 - parent.start[1]
                x0 = node.start[2] // 2 - parent.start[2]
                assert parent.buffer is not None
                parent.buffer[z0:z0 + out[0], y0:y0 + out[1], x0:x0 + out[2]] = \
                    _downsample(block, fz, out)
                with self.lock:
                    parent.pending -= 1
                    complete = parent.pending == 0
                if complete:
                    buffer, parent.buffer = parent.buffer, None
                    self.pool.submit(self.process, parent, buffer)
            data = _encode(block, self.chunks[level], self.options.compression)
            self.results.put(_Done(node, data, stats, thumbnail))
        except BaseException as error:  # handed to the writing thread
            self.results.put(error)

    def _thumbnail_sample(self, node: _Node, block: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        (_, y0, x0), (_, dy, dx) = node.start, node.extent
        rows = np.flatnonzero((self.thumb_rows >= y0) & (self.thumb_rows < y0 + dy))
        cols = np.flatnonzero((self.thumb_cols >= x0) & (self.thumb_cols < x0 + dx))
        # fmax: a NaN does not hide the other planes' values.
        projection = np.fmax.reduce(block, axis=0) if block.dtype.kind == "f" else \
            block.max(axis=0)
        sample = projection[self.thumb_rows[rows] - y0][:, self.thumb_cols[cols] - x0]
        return rows, cols, sample.astype(np.float64)

    def shutdown(self) -> None:
        self.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)


def write_ims(path: str | Path, spec: ImageSpec, read_tiles: ReadTiles,
              options: WriteOptions | None = None,
              progress: Callable[[int, int], None] | None = None) -> WriteReport:
    """Write the image to `path` (replaced if present). `progress(done, total)` is called after
    each block of tiles; it may raise to abort (the partial file is removed). An error in the
    reading thread or a worker is raised here."""
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
    datasets = {(t, c): [_create_data(dataset_group, level, t, c, shape, spec, options)
                         for level, shape in enumerate(shapes)]
                for t in range(spec.size_t) for c in range(spec.size_c)}
    pipeline = _Pipeline(spec, shapes, options, read_tiles)
    z_blocks = math.ceil(spec.size_z / min(spec.size_z, options.chunk_z))
    blocks_per_slab = math.ceil(spec.size_x / options.tile) * math.ceil(spec.size_y / options.tile)
    total = spec.size_t * spec.size_c * z_blocks * blocks_per_slab
    per_image = pipeline.chunk_count()
    remaining = {key: per_image for key in datasets}
    # Made when a (t, c) starts and cut to its range when it is done: uint16 counts take
    # 512 KiB per level, too much to keep for every time point and channel.
    stats: dict[tuple[int, int], list[_Stats]] = {}
    thumb_y, thumb_x = len(pipeline.thumb_rows), len(pipeline.thumb_cols)
    projections = [np.full((thumb_y, thumb_x), -np.inf) for _ in range(spec.size_c)]
    done = 0
    last_report = 0.0

    def report_progress(force: bool = False) -> None:
        nonlocal last_report
        # At most once a second: each report is a database write (and a cancel check).
        if progress and (force or time.monotonic() - last_report >= 1.0):
            last_report = time.monotonic()
            progress(done, total)

    reader = threading.Thread(target=pipeline.read, name="ims-reader", daemon=True)
    reader.start()
    try:
        for _ in range(per_image * len(datasets)):
            item = pipeline.results.get()
            if isinstance(item, BaseException):
                raise item
            node = item.node
            key = (node.t, node.c)
            datasets[key][node.level].id.write_direct_chunk(node.start, item.data, 0)
            if key not in stats:
                stats[key] = [_Stats(spec.dtype) for _ in shapes]
            stats[key][node.level].merge(item.stats)
            if item.thumbnail is not None:
                rows, cols, sample = item.thumbnail
                view = projections[node.c][np.ix_(rows, cols)]
                projections[node.c][np.ix_(rows, cols)] = np.fmax(view, sample)
            if node.level == 0:
                pipeline.slots.release()
                done += 1
                report_progress()
            remaining[key] -= 1
            if remaining[key] == 0:
                _write_statistics(datasets[key], shapes, options, stats[key])
                stats[key] = [stats[key][0].settled()]
                report_progress(force=True)
    finally:
        pipeline.shutdown()
        reader.join()
    _write_channel_ranges(h5["DataSetInfo"], spec, {key: s[0] for key, s in stats.items()})
    _write_thumbnail(h5, spec, projections, {c: stats[(0, c)][0].range()
                                             for c in range(spec.size_c)})
    non_finite = {c: sum(stats[(t, c)][0].non_finite for t in range(spec.size_t))
                  for c in range(spec.size_c)}
    return WriteReport(path="", levels=shapes, tiles_read=pipeline.tiles_read, bytes_written=0,
                       non_finite={c: n for c, n in non_finite.items() if n})


def _write_statistics(datasets: list[h5py.Dataset], shapes: list[tuple[int, int, int]],
                      options: WriteOptions, stats: list[_Stats]) -> None:
    """Histograms of every level over level 0's range (Imaris' way)."""
    low, high = stats[0].range()
    for level, data in enumerate(datasets):
        shape, chunks = shapes[level], _chunks(shapes[level], options)
        hist = stats[level].histogram(low, high, lambda d=data, s=shape, k=chunks:
                                      _blocks_of(d, s, k))
        group = data.parent
        group.create_dataset("Histogram", data=hist)
        _set_attrs(group, HistogramMin=_fmt(low), HistogramMax=_fmt(high))


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


def _write_thumbnail(h5: h5py.File, spec: ImageSpec, projections: list[np.ndarray],
                     ranges: dict[int, tuple[float, float]]) -> None:
    """An RGBA maximum projection of the first time point from the coarsest level, sampled at
    the thumbnail's pixels while the chunks went by (256 x 256 values per channel)."""
    out_y, out_x = projections[0].shape
    rgb = np.zeros((out_y, out_x, 3), dtype=np.float64)
    for c in range(spec.size_c):
        projection = projections[c]
        low, high = ranges[c]
        norm = np.clip((projection - low) / (high - low), 0, 1) if high > low else \
            np.zeros_like(projection)
        rgb += np.nan_to_num(norm)[..., None] * np.array(_colour(spec, c))
    thumbnail = np.zeros((THUMBNAIL_SIZE, THUMBNAIL_SIZE, 4), dtype=np.uint8)
    top, left = (THUMBNAIL_SIZE - out_y) // 2, (THUMBNAIL_SIZE - out_x) // 2
    thumbnail[top:top + out_y, left:left + out_x, :3] = np.clip(rgb * 255, 0, 255).astype(np.uint8)
    thumbnail[top:top + out_y, left:left + out_x, 3] = 255
    group = h5.create_group("Thumbnail")
    # Imaris' layout: one row of interleaved RGBA per thumbnail row.
    group.create_dataset("Data", data=thumbnail.reshape(THUMBNAIL_SIZE, THUMBNAIL_SIZE * 4))
