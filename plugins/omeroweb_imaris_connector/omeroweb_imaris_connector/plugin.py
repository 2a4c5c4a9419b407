"""Registers this plugin with the platform (migrations, job kinds, settings docs)."""

from omero_plugin_common.plugin import Plugin

from .config import SETTINGS

PLUGIN = Plugin(
    name="omeroweb_imaris_connector", title="Imaris export", queue="imaris_export",
    settings=SETTINGS, jobs_module="omeroweb_imaris_connector.jobs",
)
