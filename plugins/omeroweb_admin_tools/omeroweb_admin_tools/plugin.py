"""Registers this plugin with the platform (migrations, job kinds, settings docs)."""

from omero_plugin_common.plugin import Plugin

from .config import SETTINGS

PLUGIN = Plugin(
    name="omeroweb_admin_tools", title="Admin tools", queue="admin",
    settings=SETTINGS,
)
