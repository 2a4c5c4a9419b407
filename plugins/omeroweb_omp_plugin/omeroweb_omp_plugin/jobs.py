"""The plugin's background jobs (queue `omp`): thin bodies over services.writing.

Each job acts for its owner through the job-service account (`acting_for`), so OMERO applies
the owner's permissions; no session key or password is stored.
"""

from __future__ import annotations

from typing import Any

from omero_plugin_common.jobs import JobContext, job_kind

from .plugin import PLUGIN as _REGISTRATION
from .services import writing

PLUGIN = _REGISTRATION.name  # job rows and kinds carry the registry's name


def _run(ctx: JobContext, action: str) -> dict[str, Any]:
    from omero_plugin_common.omero_session import acting_for

    with acting_for(ctx.job.owner) as conn:
        return writing.run(conn, ctx, action)


@job_kind("omp_write", plugin=PLUGIN)
def write_key_values(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "write")


@job_kind("omp_acquisition", plugin=PLUGIN)
def write_acquisition(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "acquisition")


@job_kind("omp_delete_all", plugin=PLUGIN)
def delete_all(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "delete_all")


@job_kind("omp_delete_plugin", plugin=PLUGIN)
def delete_plugin_owned(ctx: JobContext) -> dict[str, Any]:
    return _run(ctx, "delete_plugin")
