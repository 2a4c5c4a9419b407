"""Mounted by OMERO.web at /omeroweb_admin_tools/ (listed in omero.web.apps)."""

from django.urls import path

from omero_plugin_common.views import plugin_routes

from . import views

urlpatterns = [
    # GET: the plugin page (login required).
    path("", views.index, name="omeroweb_admin_tools_index"),
    # GET: the help page.
    path("help/", views.help_page, name="omeroweb_admin_tools_help"),
    # GET health/: anonymous, 200 {"status": "ok"} or 503.
    *plugin_routes("omeroweb_admin_tools"),
]
