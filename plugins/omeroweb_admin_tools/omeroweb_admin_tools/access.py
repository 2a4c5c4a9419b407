"""Root only (the plugin's registration says root_only): every page and data route of the
plugin goes through `root_required`; who is root is decided by omero_plugin_common.access."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from omeroweb.decorators import login_required

from omero_plugin_common.access import is_root
from omero_plugin_common.web import handle_request_errors, json_error


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
