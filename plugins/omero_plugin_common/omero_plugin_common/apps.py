from django.apps import AppConfig


class PluginCommonConfig(AppConfig):
    name = "omero_plugin_common"
    label = "omero_plugin_common"
    verbose_name = "OMERO plugin platform"

    def ready(self) -> None:
        from . import checks
        from .logging_config import quiet_noisy_loggers
        from .plugin import installed_plugins

        checks.register()
        checks.enforce()
        quiet_noisy_loggers()
        # The web side submits jobs, so it needs every kind registered, as workers do.
        for plugin in installed_plugins():
            plugin.import_jobs()
