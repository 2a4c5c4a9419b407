"""OMERO sessions for background work: the job-service account acting for a job's owner.

A job never stores a user's session key or password. The worker logs in as the job-service
account (an administrator with the Sudo privilege, created by the omero_server role) and opens
a short session for the owner with ``suConn``; both sessions are closed when the block ends.

    with acting_for(job.owner, group_id=image_group) as conn:   # a BlitzGateway as the owner
        ...

Tests swap the login for the OMERO test double with ``use_gateway_factory``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from .config import common_settings
from .jobs import TransientJobError

log = logging.getLogger(__name__)

# (username, password, host, port) -> a connected BlitzGateway (or a test double of one)
GatewayFactory = Callable[[str, str, str, int], Any]


class OmeroUnavailable(TransientJobError):
    """OMERO could not be reached or refused the job-service login: worth retrying later."""


class ActingForRefused(Exception):
    """OMERO refused to open a session for the user (unknown user or group, or the
    job-service account lacks the Sudo privilege). Retrying does not help."""


def _blitz_login(username: str, password: str, host: str, port: int) -> Any:
    import Ice
    from omero.gateway import BlitzGateway

    conn = BlitzGateway(username, password, host=host, port=port, secure=True)
    try:
        connected = conn.connect()
    except Ice.Exception as exc:
        # connect() returns False for a refused login but lets Ice's own errors (e.g.
        # ConnectionRefusedException: server down) through; both are "OMERO unavailable".
        conn.close()
        raise OmeroUnavailable(f"OMERO cannot be reached at {host}:{port}: "
                               f"{type(exc).__name__}") from exc
    if not connected:
        conn.close()
        raise OmeroUnavailable(f"cannot log in to OMERO at {host}:{port} as {username} "
                               "(server down or wrong job-service password)")
    return conn


_factory: GatewayFactory = _blitz_login


def use_gateway_factory(factory: GatewayFactory | None) -> GatewayFactory:
    """Replace how the job-service account logs in (None restores the real BlitzGateway);
    returns the previous factory."""
    global _factory
    previous, _factory = _factory, factory or _blitz_login
    return previous


@contextlib.contextmanager
def service_session() -> Iterator[Any]:
    """The job-service account's own connection."""
    settings = common_settings()
    conn = _factory(settings.job_service_user, settings.job_service_password,
                    settings.omero_host, settings.omero_port)
    try:
        yield conn
    finally:
        conn.close()


def _group_name(service: Any, group_id: int) -> str:
    group = service.getObject("ExperimenterGroup", int(group_id))
    if group is None:
        raise ActingForRefused(f"OMERO group {group_id} does not exist")
    return group.getName()


@contextlib.contextmanager
def acting_for(username: str, group_id: int | None = None) -> Iterator[Any]:
    """A connection acting as ``username`` in ``group_id`` (default: the user's default group)."""
    ttl_ms = common_settings().sudo_session_ttl_seconds * 1000
    with service_session() as service:
        group = _group_name(service, group_id) if group_id is not None else None
        try:
            conn = service.suConn(username, group, ttl_ms)
        except Exception as exc:  # omero.SecurityViolation, ApiUsageException: Ice exceptions
            raise ActingForRefused(f"OMERO refused a session for {username}: "
                                   f"{type(exc).__name__}") from exc
        if conn is None:
            raise ActingForRefused(f"OMERO refused a session for {username}: the job-service "
                                   "account is not an administrator or the user is unknown")
        log.debug("acting for %s in group %s", username, group or "(default)")
        try:
            yield conn
        finally:
            conn.close()
