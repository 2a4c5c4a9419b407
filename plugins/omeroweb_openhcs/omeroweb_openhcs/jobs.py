"""The execution job kind (imported by the openhcs and openhcs_gpu workers through
Plugin.jobs_module)."""

from typing import Any

from omero_plugin_common.jobs import JobContext, job_kind

from .services import executions


@job_kind(executions.KIND, plugin="omeroweb_openhcs")
def openhcs_run(ctx: JobContext) -> dict[str, Any]:
    return executions.run(ctx)
