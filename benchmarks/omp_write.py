#!/usr/bin/env python3
"""OMP write-job benchmark on the counting OMERO test double (outside CI).

Builds 10,000 images in 10 datasets, runs the bodies of the write job and the
delete-plugin-owned job exactly as the worker does (services.writing.run, batch steps), and
prints OMERO calls per image (every service call the double counts, lazy loads included) and
images per second. Goal: under 0.1 calls per image.

    .venv-plugins/bin/python benchmarks/omp_write.py [--images N] [--batch N]
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from typing import Any


class BenchContext:
    """What a job body sees, without the plugin database: steps run once, progress is kept."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.done = 0

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        self.done = done

    def step(self, key: str, action: Any) -> Any:
        return action(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("FMP_HASH_SECRET", secrets.token_hex(32))
    os.environ["OMP_WRITE_BATCH_SIZE"] = str(args.batch)

    from omero_test_double import FakeOmero
    from omeroweb_omp_plugin.services import writing

    omero = FakeOmero()
    lab = omero.add_group("lab", "read-annotate")
    alice = omero.add_user("alice", [lab])
    omero.add_user("bob", [lab])
    project = omero.add_project("P", owner=alice, group=lab)
    per_dataset = args.images // args.datasets
    dataset_ids = []
    for d in range(args.datasets):
        dataset = omero.add_dataset(f"D{d}", owner=alice, group=lab, project=project)
        dataset_ids.append(dataset.id)
        for i in range(per_dataset):
            omero.add_image(f"P{d}_HeLa-T-cell_glass_pos{i}_z{i % 5}.tif", owner=alice,
                            group=lab, dataset=dataset)
    images = per_dataset * args.datasets
    print(f"{images} images in {args.datasets} datasets, batch size {args.batch}")

    for label, user, action, params in (
        ("write (bob, read-annotate group)", "bob", "write",
         {"parser": {"mode": "separators", "separators": ["_", "-"]}, "delete_mode": "keep"}),
        ("write again, replacing plugin-owned", "bob", "write",
         {"parser": {"mode": "regex", "regex": "[_]+"}, "delete_mode": "plugin"}),
        ("delete plugin-owned", "bob", "delete_plugin", {}),
        ("acquisition metadata", "bob", "acquisition", {"delete_mode": "keep"}),
    ):
        conn = omero.connect(user)
        omero.calls.reset()
        ctx = BenchContext({"dataset_ids": dataset_ids, **params})
        started = time.perf_counter()
        result = writing.run(conn, ctx, action)
        elapsed = time.perf_counter() - started
        calls = omero.calls.total
        print(f"{label}: {calls} OMERO calls = {calls / images:.4f} calls/image, "
              f"{images / elapsed:,.0f} images/s ({elapsed:.2f} s); result {result}")
        print("  calls by service: " + ", ".join(f"{k} {v}" for k, v in
                                                 sorted(omero.calls.items())))


if __name__ == "__main__":
    main()
