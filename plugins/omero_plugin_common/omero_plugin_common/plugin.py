"""The registry of installed plugins: each package declares one Plugin under the
`omero_plugins` entry point group, and the platform derives everything else from it (migrations,
job kinds and their queues, Celery's queues and the worker units, the webclient's "Open with"
entries, the settings table, the health route, the Django app), so no list of plugins is kept by
hand. See
docs/design/plugin-registry.md."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

from .config import SETTINGS
from .typed_settings import SettingsGroup

PLATFORM = "omero_plugin_common"


@dataclass(frozen=True)
class OpenWith:
    """An entry of the webclient's "Open with" menu: OMERO.web opens the plugin's page in a new tab
    with the selection as query parameters (`?dataset=1&dataset=2`), which the page preselects."""
    id: str
    label: str
    supported_objects: tuple[str, ...]  # OMERO.web's names: image, images, dataset, project, ...


@dataclass(frozen=True)
class Plugin:
    name: str  # Django app label and URL prefix: /<name>/
    title: str
    queue: str | None  # Celery queue of this plugin's jobs (one worker unit per queue)
    settings: SettingsGroup | None = None
    jobs_module: str | None = None  # imported by workers: registers the plugin's job kinds
    worker_concurrency: int = 1  # worker processes of its queue (largest wins on a shared queue)
    root_only: bool = False  # pages for the OMERO root user only (else any logged-in user)
    open_with: OpenWith | None = None  # the webclient's "Open with" entry of the plugin's page
    # Further queues its jobs may be sent to (jobs.create(..., queue=...)), each with its own
    # worker unit, e.g. a queue consumed only on GPU hosts.
    extra_queues: tuple[str, ...] = ()

    @property
    def all_queues(self) -> tuple[str, ...]:
        return ((self.queue,) if self.queue else ()) + self.extra_queues

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
    return tuple(sorted(found, key=lambda p: (p.name != PLATFORM, p.name)))


def get_plugin(name: str) -> Plugin:
    for plugin in installed_plugins():
        if plugin.name == name:
            return plugin
    raise KeyError(f"no installed plugin named {name!r}")


def queues() -> tuple[str, ...]:
    """Celery queues of the installed plugins (the platform's first), each once."""
    return tuple(dict.fromkeys(q for p in installed_plugins() for q in p.all_queues))


def worker_queues() -> list[dict[str, object]]:
    """One worker unit per queue: [{"name", "concurrency"}], what Ansible deploys."""
    concurrency: dict[str, int] = {}
    for plugin in installed_plugins():
        for queue in plugin.all_queues:
            concurrency[queue] = max(concurrency.get(queue, 0), plugin.worker_concurrency)
    return [{"name": name, "concurrency": n} for name, n in concurrency.items()]


def open_with_entries() -> list[list[object]]:
    """The installed plugins' "Open with" entries in omero.web.open_with's syntax, each opening the
    plugin's index page (URL name `<name>_index`)."""
    return [[p.open_with.id, f"{p.name}_index",
             {"supported_objects": list(p.open_with.supported_objects), "target": "_blank",
              "label": p.open_with.label}]
            for p in installed_plugins() if p.open_with]


def registry() -> dict[str, object]:
    """What Ansible deploys from the installed plugins (`omero-plugins-registry`)."""
    return {"worker_queues": worker_queues(), "open_with": open_with_entries()}


PLUGIN = Plugin(
    name=PLATFORM,
    title="Plugin platform",
    queue="admin",
    settings=SETTINGS,
    jobs_module="omero_plugin_common.selftest",
)
