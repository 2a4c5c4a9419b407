from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class PluginConfig(AppConfig):
    name = "omeroweb_admin_tools"
    label = "omeroweb_admin_tools"
    verbose_name = "Admin tools"

    def ready(self) -> None:
        from django.conf import settings

        # The shared views, templates and start-up checks come from the platform app.
        if "omero_plugin_common" not in settings.INSTALLED_APPS:
            raise ImproperlyConfigured(
                "omeroweb_admin_tools needs omero_plugin_common listed before it in "
                "omero.web.apps (Ansible variable omero_web_plugins)")
