"""Mounted by OMERO.web at /omeroweb_openhcs/ (listed in omero.web.apps)."""

from django.urls import path

from omero_plugin_common.views import plugin_routes

from . import views

urlpatterns = [
    # GET: the page (?plate=<id> / ?dataset=<id> from the webclient's "Open with").
    path("", views.index, name="omeroweb_openhcs_index"),
    # GET: the help page.
    path("help/", views.help_page, name="omeroweb_openhcs_help"),
    # GET: the presets users may choose, with their parameters.
    path("presets/", views.preset_list, name="omeroweb_openhcs_presets"),
    # GET ?type=plate|dataset[&id=N]: the user's plates or datasets (picker), or one of them.
    path("sources/", views.source_list, name="omeroweb_openhcs_sources"),
    # POST {"preset", "params", "source": {"type", "id"}} (JSON, CSRF): 202 with the job.
    path("executions/", views.start, name="omeroweb_openhcs_start"),
    # GET: the user's executions, newest first, with progress (cancel: the platform's route).
    path("executions/list/", views.execution_list, name="omeroweb_openhcs_list"),
    # GET health/: anonymous, 200 {"status": "ok"} or 503.
    *plugin_routes("omeroweb_openhcs"),
]
