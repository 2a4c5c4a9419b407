"""Mounted by OMERO.web at /omeroweb_imaris_connector/ (listed in omero.web.apps)."""

from django.urls import path

from omero_plugin_common.views import plugin_routes

from . import views

urlpatterns = [
    # GET: the plugin page (login required).
    path("", views.index, name="omeroweb_imaris_connector_index"),
    # GET: the help page.
    path("help/", views.help_page, name="omeroweb_imaris_connector_help"),
    # POST {"image", "async"} (JSON, CSRF): 202 with the job, or the file (synchronous).
    path("exports/", views.start_export, name="omeroweb_imaris_connector_start"),
    # GET: the user's exports, newest first (the page's job list).
    path("exports/list/", views.export_list, name="omeroweb_imaris_connector_list"),
    # GET ?id=1&id=2: names of images and whether the user may export them.
    path("images/", views.images, name="omeroweb_imaris_connector_images"),
    # GET: the export's status (requester or root; 404 otherwise, 410 once expired).
    path("exports/<uuid:job_id>/", views.export_status, name="omeroweb_imaris_connector_export"),
    # GET: the .ims file (Range supported; 409 before it is ready).
    path("exports/<uuid:job_id>/download/", views.export_download,
         name="omeroweb_imaris_connector_download"),
    # The original's route: GET ?job=<id>[&download=1], POST image=<id>[&async=1].
    path("imaris-export/", views.imaris_export, name="omeroweb_imaris_connector_imaris_export"),
    # GET health/: anonymous, 200 {"status": "ok"} or 503.
    *plugin_routes("omeroweb_imaris_connector"),
]
