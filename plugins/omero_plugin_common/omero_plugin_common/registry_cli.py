"""omero-plugins-registry: print what Ansible deploys from the installed plugins, as JSON:
{"worker_queues": [{"name", "concurrency"}, ...], "open_with": [omero.web.open_with entries]}.
The omero_web role reads it after installing the venv (one worker unit per queue, the webclient's
"Open with" menu), so no list of plugins, queues or menu entries is kept in Ansible."""

from __future__ import annotations

import argparse
import json

from .plugin import registry


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="omero-plugins-registry", description=__doc__).parse_args(argv)
    print(json.dumps(registry()))
    return 0
