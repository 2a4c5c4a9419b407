"""Log the job-service account in to a FakeOmero (for omero_plugin_common.omero_session)."""

from __future__ import annotations

from typing import Any

from omero_plugin_common import omero_session

from .store import FakeOmero


def login_factory(omero: FakeOmero) -> omero_session.GatewayFactory:
    """A GatewayFactory logging in to ``omero`` (any non-empty password is accepted)."""

    def login(username: str, password: str, host: str, port: int) -> Any:
        if not password:
            raise omero_session.OmeroUnavailable("empty job-service password")
        try:
            return omero.connect(username)
        except LookupError:
            raise omero_session.OmeroUnavailable(f"no OMERO user {username!r}") from None

    return login
