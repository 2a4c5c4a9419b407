"""The export job kind (imported by the imaris_export worker through Plugin.jobs_module)."""

from typing import Any

from omero_plugin_common.jobs import JobContext, job_kind

from . import exports


@job_kind(exports.KIND, plugin=exports.PLUGIN)
def imaris_export(ctx: JobContext) -> dict[str, Any]:
    return exports.run(ctx)
