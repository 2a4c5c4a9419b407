"""The real omero exceptions, raised where the server would raise them."""

from __future__ import annotations

import omero


def security_violation(message: str) -> omero.SecurityViolation:
    return omero.SecurityViolation(serverExceptionClass="ome.conditions.SecurityViolation",
                                   message=message)


def api_usage(message: str) -> omero.ApiUsageException:
    return omero.ApiUsageException(serverExceptionClass="ome.conditions.ApiUsageException",
                                   message=message)


def validation(message: str) -> omero.ValidationException:
    return omero.ValidationException(serverExceptionClass="ome.conditions.ValidationException",
                                     message=message)
