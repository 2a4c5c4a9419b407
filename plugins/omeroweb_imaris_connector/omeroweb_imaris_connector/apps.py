from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class PluginConfig(AppConfig):
    name = "omeroweb_imaris_connector"
    label = "omeroweb_imaris_connector"
    verbose_name = "Imaris export"

    def ready(self) -> None:
        from django.conf import settings

        # The shared views, templates and start-up checks come from the platform app.
        if "omero_plugin_common" not in settings.INSTALLED_APPS:
            raise ImproperlyConfigured(
                "omeroweb_imaris_connector needs omero_plugin_common listed before it in "
                "omero.web.apps (Ansible variable omero_web_plugins)")
