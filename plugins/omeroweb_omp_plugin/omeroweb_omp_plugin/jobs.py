"""The plugin's background jobs (queue `omp`): thin bodies over services.writing.

Each job acts for its owner through the job-service account (`acting_for`), so OMERO applies
the owner's permissions; no session key or password is stored.
"""

from __future__ import annotations

from typing import Any

from omero_plugin_common.jobs import JobContext, job_kind

from .services import writing

PLUGIN = "omeroweb_omp_plugin"


def _run(ctx: JobContext, action: str) -> dict[str, Any]:
    from omero_plugin_common.omero_session import acting_for

    with acting_for(ctx.job.owner) as conn:
        return writing.run(conn, ctx, action)


@job_kind("omp_write", plugin=PLUGIN, queue="omp")
def write_key_values(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "write")


@job_kind("omp_acquisition", plugin=PLUGIN, queue="omp")
def write_acquisition(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "acquisition")


@job_kind("omp_delete_all", plugin=PLUGIN, queue="omp")
def delete_all(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "delete_all")


@job_kind("omp_delete_plugin", plugin=PLUGIN, queue="omp")
def delete_plugin_owned(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "delete_plugin")
