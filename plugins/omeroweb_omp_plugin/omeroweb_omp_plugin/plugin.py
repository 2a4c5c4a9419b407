"""Registers this plugin with the platform (migrations, job kinds, settings docs)."""

from omero_plugin_common.plugin import Plugin

from .config import SETTINGS

PLUGIN = Plugin(
    name="omeroweb_omp_plugin", title="OMP: filename to metadata", queue="omp",
    settings=SETTINGS, jobs_module="omeroweb_omp_plugin.jobs",
)
