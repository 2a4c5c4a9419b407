"""The registry of installed plugins: each package declares a Plugin under the
`omero_plugins` entry point group, so migrations, job kinds and settings docs find every
installed plugin without a hand-kept list."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

from .typed_settings import SettingsGroup


@dataclass(frozen=True)
class Plugin:
    name: str  # Django app label and URL prefix: /<name>/
    title: str
    queue: str | None  # Celery queue for this plugin's jobs
    settings: SettingsGroup | None = None
    jobs_module: str | None = None  # imported by workers: registers the plugin's job kinds

    @property
    def sql_dir(self) -> Path:
        """Directory of this plugin's versioned SQL migrations (NNNN_name.sql)."""
        return Path(str(resources.files(self.name) / "sql"))

    def import_jobs(self) -> None:
        if self.jobs_module:
            importlib.import_module(self.jobs_module)


@functools.cache
def installed_plugins() -> tuple[Plugin, ...]:
    """All registered plugins, the common platform first, then by name."""
    found = [ep.load() for ep in entry_points(group="omero_plugins")]
    return tuple(sorted(found, key=lambda p: (p.name != "omero_plugin_common", p.name)))


def get_plugin(name: str) -> Plugin:
    for plugin in installed_plugins():
        if plugin.name == name:
            return plugin
    raise KeyError(f"no installed plugin named {name!r}")


def _common_plugin() -> Plugin:
    from .config import SETTINGS

    return Plugin(
        name="omero_plugin_common",
        title="Plugin platform",
        queue="admin",
        settings=SETTINGS,
        jobs_module="omero_plugin_common.selftest",
    )


PLUGIN = _common_plugin()
