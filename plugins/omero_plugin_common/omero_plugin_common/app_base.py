"""The Django app of every plugin: its label and title come from its registration, and it
refuses to start without the platform app. A plugin's apps.py is one class naming its package:

    from omero_plugin_common import app_base

    class PluginConfig(app_base.PluginAppConfig):
        name = "omeroweb_example"

(imported as a module, so Django finds exactly one AppConfig in the plugin's apps.py)."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .plugin import PLATFORM, get_plugin


class PluginAppConfig(AppConfig):
    def __init__(self, app_name: str, app_module: Any) -> None:
        super().__init__(app_name, app_module)
        self.label = self.name
        self.verbose_name = get_plugin(self.name).title

    def ready(self) -> None:
        # The shared views, templates and start-up checks come from the platform app.
        if PLATFORM not in settings.INSTALLED_APPS:
            raise ImproperlyConfigured(
                f"{self.name} needs {PLATFORM} listed before it in omero.web.apps "
                "(Ansible variable omero_web_plugins)")
