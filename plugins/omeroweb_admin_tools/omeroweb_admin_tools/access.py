"""Root only: every page and data route of the plugin goes through `root_required`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from omeroweb.decorators import login_required

from omero_plugin_common.omero_helpers import username
from omero_plugin_common.web import handle_request_errors, json_error

ROOT = "root"


def is_root(conn: Any) -> bool:
    """The OMERO root user itself (the original's rule); other administrators are refused."""
    return conn is not None and username(conn) == ROOT and conn.isAdmin()


def root_required(page: bool = False) -> Callable[[Callable[..., HttpResponse]],
                                                  Callable[..., HttpResponse]]:
    """login_required (anonymous → login page), then 403 for anyone but root: a plain page
    for page views, the JSON error shape for data routes."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, conn: Any = None, **kwargs: Any
                    ) -> HttpResponse:
            if not is_root(conn):
                if page:
                    return HttpResponse("The admin tools are for the OMERO root user only.",
                                        status=403, content_type="text/plain")
                return json_error("the admin tools are for the OMERO root user only", 403)
            return view(request, *args, conn=conn, **kwargs)

        return login_required()(handle_request_errors(wrapper))

    return decorate
