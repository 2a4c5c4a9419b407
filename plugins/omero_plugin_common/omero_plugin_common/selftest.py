"""The platform's self-test job: counts to N with progress, one recorded side effect per
step. System tests run it on every queue; the kill test checks no step is applied twice."""

from __future__ import annotations

import time
from typing import Any

from .jobs import JobContext, job_kind

MAX_STEPS = 10000


@job_kind("selftest", plugin="omero_plugin_common")
def run_selftest(ctx: JobContext) -> dict[str, Any]:
    steps = int(ctx.params.get("steps", 10))
    delay = float(ctx.params.get("delay", 0))
    if not 0 < steps <= MAX_STEPS or not 0 <= delay <= 60:
        raise ValueError(f"selftest takes 1..{MAX_STEPS} steps and a delay of 0..60 s")
    ctx.progress(0, steps, f"counting to {steps}")
    for n in range(1, steps + 1):
        ctx.step(f"count-{n}", lambda tx, n=n: _record(tx, ctx, n))
        time.sleep(delay)
        ctx.progress(n, steps)
    ctx.log("done")
    return {"counted": steps}


def _record(tx: Any, ctx: JobContext, n: int) -> int:
    tx.execute("INSERT INTO plugin_selftest_effects (job_id, step) VALUES (%s, %s)",
               (str(ctx.job.id), n))
    return n
