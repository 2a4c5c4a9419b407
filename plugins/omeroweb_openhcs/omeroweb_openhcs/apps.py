from omero_plugin_common import app_base


class PluginConfig(app_base.PluginAppConfig):
    name = "omeroweb_openhcs"
