"""Registers this plugin with the platform: everything the platform derives (Django app,
migrations, job kinds and their queue, worker unit, settings table, health route) comes from
here; see docs/design/plugin-registry.md."""

from omero_plugin_common.plugin import Plugin

from .config import SETTINGS

PLUGIN = Plugin(
    name="omeroweb_admin_tools", title="Admin tools", queue="admin", root_only=True,
    settings=SETTINGS,
)
