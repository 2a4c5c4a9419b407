#!/usr/bin/env python3
"""Throughput and peak memory of the .ims writer on a synthetic 5-D uint16 image. Never run by CI.

    .venv-plugins/bin/python benchmarks/ims_export.py [--gib 1.0] [--gzip 1] [--dir DIR]

Tiles arrive as OMERO sends them (big-endian bytes, converted like PixelsWrapper.getTiles), so
the numbers cover the writer, HDF5 and the conversion, not the OMERO server or the network.
Each run (uncompressed, then gzip) is a separate process, so its peak RSS is its own.
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
from omeroweb_imaris_connector.ims_writer import ImageSpec, WriteOptions, write_ims

X = Y = 2048
C, T = 2, 4


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


def run_one(gib: float, gzip: int, directory: str) -> dict:
    z = max(1, round(gib * 2**30 / (X * Y * 2 * C * T)))
    spec = ImageSpec(X, Y, z, C, T, np.dtype(np.uint16), voxel_size=(0.1, 0.1, 0.3),
                     channel_names=["c0", "c1"])
    options = WriteOptions(compression=gzip or None)
    size = X * Y * z * C * T * 2
    with tempfile.TemporaryDirectory(dir=directory) as work:
        path = Path(work) / "bench.ims"
        start, cpu_start = time.perf_counter(), time.process_time()
        report = write_ims(path, spec, synthetic_reader(options.tile), options)
        seconds = time.perf_counter() - start
        # CPU time: what the writer costs regardless of other load on the machine.
        cpu_seconds = time.process_time() - cpu_start
        file_bytes = path.stat().st_size
    return {
        "shape_xyzct": [X, Y, z, C, T], "compression": f"gzip {gzip}" if gzip else "none",
        "image_mib": round(size / 2**20), "file_mib": round(file_bytes / 2**20),
        "levels": len(report.levels), "seconds": round(seconds, 1),
        "mb_per_s": round(size / 1e6 / seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
        "mb_per_cpu_s": round(size / 1e6 / cpu_seconds, 1),
        "load": round(os.getloadavg()[0], 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="image size in GiB (default 1)")
    parser.add_argument("--gzip", type=int, default=1, help="gzip level of the second run")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.gib, args.one, args.dir)))
        return 0
    print(f"cpus: {os.cpu_count()}; numbers are for the writer on this machine")
    for gzip in (0, args.gzip):
        out = subprocess.run([sys.executable, __file__, "--gib", str(args.gib), "--dir",
                              args.dir, "--one", str(gzip)], check=True, capture_output=True,
                             text=True).stdout
        result = json.loads(out)
        print(f"{result['compression']:>8}: {result['image_mib']} MiB image "
              f"{result['shape_xyzct']} -> {result['file_mib']} MiB file, "
              f"{result['levels']} levels, {result['seconds']} s, "
              f"{result['mb_per_s']} MB/s ({result['mb_per_cpu_s']} MB per CPU second), "
              f"peak RSS {result['peak_rss_mib']} MiB, load average {result['load']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
