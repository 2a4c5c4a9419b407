"""Registers this plugin with the platform (migrations, job kinds, settings docs)."""

from omero_plugin_common.plugin import Plugin

from .config import SETTINGS

PLUGIN = Plugin(
    name="omeroweb_upload", title="Upload and import", queue="upload",
    settings=SETTINGS, jobs_module="omeroweb_upload.jobs",
)
