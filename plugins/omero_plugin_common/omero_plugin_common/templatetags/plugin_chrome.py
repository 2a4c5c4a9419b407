"""OMERO.web's header on every plugin page: its top links and logo from OMERO.web's own
settings (omero.web.ui.top_links, omero.web.top_logo[_link]), resolved by OMERO.web's own
code, so a plugin page shows exactly the links the webclient shows."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


def omero_chrome() -> dict[str, Any]:
    """The header's links and the webclient's address (for links back to objects)."""
    from omeroweb.webclient.decorators import render_response

    context: dict[str, Any] = {"ome": {}}
    # load_settings only reads settings (top links, logo, panes); it needs no connection.
    render_response().load_settings(None, context, None)
    ome = context["ome"]
    return {"top_links": ome.get("top_links", []), "logo_src": ome.get("logo_src"),
            "logo_href": ome.get("logo_href") or reverse("webindex"),
            "webclient_url": reverse("webindex")}


@register.inclusion_tag("omero_plugin_common/includes/omero_header.html")
def omero_header() -> dict[str, Any]:
    return omero_chrome()


@register.simple_tag
def plugin_links() -> dict[str, str]:
    """What the shared JavaScript needs to link back to the webclient (see links.js)."""
    return {"webclient": reverse("webindex")}
