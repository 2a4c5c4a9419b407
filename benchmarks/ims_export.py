#!/usr/bin/env python3
"""The .ims writer (full pyramid) against a plain h5py write of level 0 only, on the same
synthetic 5-D uint16 image. Never run by CI.

    .venv-plugins/bin/python benchmarks/ims_export.py [--gib 1.0] [--gzip 1] [--workers 2]
        [--queue-depth 4] [--repeat 2] [--dir DIR]

The image is t=1, c=2, z=64*gib, 2048 x 2048 (1 GiB at --gib 1; --gib 0.25 for a quick run).
Tiles arrive as OMERO sends them (big-endian bytes, converted like PixelsWrapper.getTiles) for
both runs, so the numbers cover the writing side, not the OMERO server or the network.
Plain h5py: one thread, chunks (8, 256, 256), HDF5's own gzip filter at the same level, each
block assigned with dset[...] = block. Every run is its own process, so its peak RSS is its
own; "RSS growth" is the peak minus the RSS just before writing (the interpreter, numpy, h5py,
isal and the source's tile pool are loaded by then). Run it more than once on a shared machine:
wall times follow the load, CPU seconds do not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

X = Y = 2048
C, T = 2, 1
TILE, CHUNK_Z = 256, 8


def synthetic_reader(tile_edge: int):
    """Microscope-like tiles (smooth background plus noise); a pool of noise tiles keeps the
    random generator out of the measurement."""
    rng = np.random.default_rng(1)
    pool = [rng.poisson(40, size=(tile_edge, tile_edge)).astype(np.uint16) for _ in range(16)]
    wire = np.dtype(">u2")

    def read(requests):
        for n, (z, c, t, (x, y, w, h)) in enumerate(requests):
            base = np.uint16(200 + 50 * c + 10 * z + 5 * t + (x + y) // 64)
            tile = pool[(z + x // tile_edge + y // tile_edge + n) % 16][:h, :w] + base
            raw = tile.astype(wire).tobytes()  # what RawPixelsStore.getTile returns
            yield np.frombuffer(raw, dtype=wire).reshape(h, w).astype(np.uint16)

    return read


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def plain_h5py(path: Path, z: int, gzip: int) -> int:
    """Level 0 only, HDF5's filter pipeline in this thread: the reference."""
    import h5py

    read = synthetic_reader(TILE)
    with h5py.File(path, "w", libver="earliest") as h5:
        for c in range(C):
            data = h5.create_dataset(f"t0/c{c}", shape=(z, Y, X), dtype=np.uint16,
                                     chunks=(CHUNK_Z, TILE, TILE),
                                     **({"compression": "gzip", "compression_opts": gzip}
                                        if gzip else {}))
            for z0 in range(0, z, CHUNK_Z):
                for y0 in range(0, Y, TILE):
                    for x0 in range(0, X, TILE):
                        block = np.empty((CHUNK_Z, TILE, TILE), dtype=np.uint16)
                        requests = [(zz, c, 0, (x0, y0, TILE, TILE))
                                    for zz in range(z0, z0 + CHUNK_Z)]
                        for index, tile in enumerate(read(requests)):
                            block[index] = tile
                        data[z0:z0 + CHUNK_Z, y0:y0 + TILE, x0:x0 + TILE] = block
    return 1


def writer(path: Path, z: int, gzip: int, workers: int, depth: int) -> int:
    from omeroweb_imaris_connector.ims_writer import ImageSpec, WriteOptions, write_ims

    spec = ImageSpec(X, Y, z, C, T, np.dtype(np.uint16), voxel_size=(0.1, 0.1, 0.3),
                     channel_names=["c0", "c1"])
    options = WriteOptions(compression=gzip or None, workers=workers, queue_depth=depth)
    return len(write_ims(path, spec, synthetic_reader(options.tile), options).levels)


def run_one(kind: str, gib: float, gzip: int, workers: int, depth: int, directory: str
            ) -> dict:
    z = max(CHUNK_Z, round(gib * 2**30 / (X * Y * 2 * C * T) / CHUNK_Z) * CHUNK_Z)
    size = X * Y * z * C * T * 2
    with tempfile.TemporaryDirectory(dir=directory) as work:
        path = Path(work) / "bench.ims"
        # Both runs load the same modules before the baseline RSS, as a worker has them.
        import omeroweb_imaris_connector.ims_writer  # noqa: F401
        synthetic_reader(TILE)
        before = rss_mib()
        load = os.getloadavg()[0]
        start, cpu_start = time.perf_counter(), time.process_time()
        levels = plain_h5py(path, z, gzip) if kind == "h5py" else \
            writer(path, z, gzip, workers, depth)
        seconds = time.perf_counter() - start
        # CPU time (all threads): what the write costs whatever the other load on the machine.
        cpu_seconds = time.process_time() - cpu_start
        file_bytes = path.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "kind": kind, "shape_tczyx": [T, C, z, Y, X], "image_mib": size / 2**20,
        "file_mib": file_bytes / 2**20, "levels": levels, "seconds": seconds,
        "mib_per_s": size / 2**20 / seconds, "cpu_seconds": cpu_seconds,
        "load_before": load, "load_after": os.getloadavg()[0],
        "peak_rss_mib": peak, "rss_growth_mib": peak - before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="image size in GiB (default 1)")
    parser.add_argument("--gzip", type=int, default=1, help="gzip level of both (default 1, "
                        "OMERO_IMS_COMPRESSION's default); 0: uncompressed")
    parser.add_argument("--workers", type=int, default=2, help="writer threads (default 2)")
    parser.add_argument("--queue-depth", type=int, default=4, help="blocks read ahead")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (default 1)")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.gib, args.gzip, args.workers,
                                 args.queue_depth, args.dir)))
        return 0
    print(f"cpus: {os.cpu_count()}; gzip {args.gzip}; writer: {args.workers} workers, "
          f"queue depth {args.queue_depth}")
    print("| run | kind | image MiB | file MiB | levels | s | MiB/s | CPU s | peak RSS MiB "
          "| RSS growth MiB | load before/after | ratio to h5py |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in range(1, args.repeat + 1):
        pair = {}
        for kind in ("h5py", "writer"):
            out = subprocess.run(
                [sys.executable, __file__, "--gib", str(args.gib), "--gzip", str(args.gzip),
                 "--workers", str(args.workers), "--queue-depth", str(args.queue_depth),
                 "--dir", args.dir, "--one", kind],
                check=True, capture_output=True, text=True).stdout
            result = pair[kind] = json.loads(out)
            ratio = result["mib_per_s"] / pair["h5py"]["mib_per_s"]
            label = "plain h5py, level 0" if kind == "h5py" else "writer, full pyramid"
            print(f"| {run} | {label} | {result['image_mib']:.0f} | {result['file_mib']:.0f} "
                  f"| {result['levels']} | {result['seconds']:.1f} | {result['mib_per_s']:.1f} "
                  f"| {result['cpu_seconds']:.1f} | {result['peak_rss_mib']:.0f} "
                  f"| {result['rss_growth_mib']:.0f} | {result['load_before']:.1f}/"
                  f"{result['load_after']:.1f} | {ratio:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
