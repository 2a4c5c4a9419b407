from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class PluginConfig(AppConfig):
    name = "omeroweb_omp_plugin"
    label = "omeroweb_omp_plugin"
    verbose_name = "OMP: filename to metadata"

    def ready(self) -> None:
        from django.conf import settings

        # The shared views, templates and start-up checks come from the platform app.
        if "omero_plugin_common" not in settings.INSTALLED_APPS:
            raise ImproperlyConfigured(
                "omeroweb_omp_plugin needs omero_plugin_common listed before it in "
                "omero.web.apps (Ansible variable omero_web_plugins)")
