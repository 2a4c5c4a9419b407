"""The server's configuration service (IConfig) and the script processors' availability.

``FakeOmero.server_config`` holds ``omero.*`` values; keys under ``omero.client.`` are readable
by everyone, the rest by administrators only (SecurityViolation otherwise), as on the server.
``FakeOmero.busy_script_starts`` is how many of the next ``runScript`` calls find no free
script processor and raise ``omero.NoProcessorAvailable`` (what a busy server answers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import omero

from .calls import counted
from .contract import fake_of
from .errors import security_violation

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway


def server_config(omero_state: Any) -> dict[str, str]:
    # Older dumps (and FakeOmero instances made before this module) have no such attribute.
    if not hasattr(omero_state, "server_config"):
        omero_state.server_config = {}
    return omero_state.server_config


def take_busy_script_start(omero_state: Any) -> bool:
    """True when this script start finds every processor busy (and counts it down)."""
    busy = getattr(omero_state, "busy_script_starts", 0)
    if busy > 0:
        omero_state.busy_script_starts = busy - 1
        return True
    return False


def no_processor_available() -> omero.NoProcessorAvailable:
    return omero.NoProcessorAvailable(message="No processor available", processorCount=0)


@fake_of("omero.api.IConfigPrx")
class FakeConfigService:
    def __init__(self, conn: FakeBlitzGateway) -> None:
        self._conn = conn
        self._omero = conn._omero

    @counted("IConfig.getConfigValue")
    def getConfigValue(self, key: str, _ctx: Any = None) -> str:
        if not key.startswith("omero.client.") and not self._conn.isAdmin():
            raise security_violation(f"reading {key} needs administrator rights")
        return server_config(self._omero).get(key, "")
