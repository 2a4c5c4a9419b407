"""The one Celery app of the plugins: broker and results on the `state` Redis instance,
the queues the installed plugins declare (workers run one systemd unit per queue: `celery -A
omero_plugin_common.celery_app worker -Q <queue>`). No beat: periodic work runs from timers.

Imports nothing of the jobs: jobs.py sends RUN_JOB by name, tasks.py (loaded by workers through
`include`) defines it on this app."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Queue

from .config import common_settings
from .logging_config import configure_logging
from .plugin import PLUGIN, installed_plugins, queues

RUN_JOB = "omero_plugins.run_job"

app = Celery("omero_plugins")


def _config() -> dict[str, Any]:
    # Evaluated lazily (on first use), so importing the app never needs the settings.
    url = common_settings().state_redis_url
    return {
        "broker_url": url,
        "result_backend": url,
        "broker_connection_retry_on_startup": True,
        "task_queues": [Queue(name) for name in queues()],
        "task_default_queue": PLUGIN.queue,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 86400,
        # The job row holds the outcome; results kept in the noeviction `state` Redis would
        # only use its memory.
        "task_ignore_result": True,
        # The job row, not the broker, is durable: ack on receipt; recovery re-sends lost jobs.
        "task_acks_late": False,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "include": ["omero_plugin_common.tasks"]
        + [p.jobs_module for p in installed_plugins() if p.jobs_module],
    }


app.add_defaults(_config)


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    configure_logging()
