"""Mounted by OMERO.web at /omeroweb_upload/ (listed in omero.web.apps)."""

from django.urls import path

from omero_plugin_common.views import plugin_routes

from . import views

urlpatterns = [
    # GET: the plugin page (login required).
    path("", views.index, name="omeroweb_upload_index"),
    # GET: the help page.
    path("help/", views.help_page, name="omeroweb_upload_help"),
    # GET health/: anonymous, 200 {"status": "ok"} or 503.
    *plugin_routes("omeroweb_upload"),
]
