"""Registers this plugin with the platform: everything the platform derives (Django app,
migrations, job kinds and their queue, worker unit, settings table, health route) comes from
here; see docs/design/plugin-registry.md."""

from omero_plugin_common.plugin import OpenWith, Plugin

from .config import SETTINGS

PLUGIN = Plugin(
    name="omeroweb_upload", title="Upload and import", queue="upload",
    settings=SETTINGS, jobs_module="omeroweb_upload.jobs", worker_concurrency=2,
    open_with=OpenWith("upload_here", "Upload here…", ("project",)),
)
