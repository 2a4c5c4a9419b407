"""Registers this plugin with the platform: everything the platform derives (Django app,
migrations, job kinds and their queue, worker unit, settings table, health route) comes from
here; see docs/design/plugin-registry.md."""

from omero_plugin_common.plugin import OpenWith, Plugin

from .config import SETTINGS

PLUGIN = Plugin(
    name="omeroweb_imaris_connector", title="Imaris export", queue="imaris_export",
    settings=SETTINGS, jobs_module="omeroweb_imaris_connector.jobs",
    open_with=OpenWith("imaris_export", "Export to Imaris…", ("image", "images")),
)
