from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from omeroweb.decorators import login_required

from omero_plugin_common.omero_helpers import username

from .plugin import PLUGIN


@require_GET
@login_required()
def index(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    context = {"plugin_title": PLUGIN.title, "page_config": {"user": username(conn)}}
    return render(request, f"{PLUGIN.name}/index.html", context)


@require_GET
@login_required()
def help_page(request: HttpRequest, conn: Any = None, **_: Any) -> HttpResponse:
    context = {"plugin_title": f"{PLUGIN.title}: help"}
    return render(request, f"{PLUGIN.name}/help.html", context)
