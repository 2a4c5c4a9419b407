"""Typed settings of omeroweb_omp_plugin, read from the plugins' environment file (see
omero_plugin_common.typed_settings). The plugin's issue adds its settings here."""

from omero_plugin_common.typed_settings import SettingsGroup

SETTINGS = SettingsGroup("omeroweb_omp_plugin", ())
