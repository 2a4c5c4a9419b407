"""Registers this plugin with the platform: everything the platform derives (Django app,
migrations, job kinds and their queues, worker units, "Open with" entry, settings table,
health route) comes from
here; see docs/design/plugin-registry.md."""

from omero_plugin_common.plugin import OpenWith, Plugin

from .config import SETTINGS

QUEUE = "openhcs"
GPU_QUEUE = "openhcs_gpu"  # GPU presets; consumed only on hosts with openhcs_gpu: true

PLUGIN = Plugin(
    name="omeroweb_openhcs", title="OpenHCS processing", queue=QUEUE,
    extra_queues=(GPU_QUEUE,), settings=SETTINGS, jobs_module="omeroweb_openhcs.jobs",
    open_with=OpenWith("openhcs_process", "Process with OpenHCS…", ("plate", "dataset")),
)
