"""Mounted by OMERO.web at /omero_plugin_common/ (listed in omero.web.apps)."""

from django.urls import path

from . import views

urlpatterns = [
    # GET: the self-test page (admins): runs a job on a chosen queue with a progress bar.
    path("", views.selftest_page, name="omero_plugin_common_index"),
    # POST JSON {queue, steps, delay} → 202 {job}; admins only.
    path("selftest/", views.selftest_start, name="omero_plugin_common_selftest_start"),
    # GET → job progress JSON; owner or admin.
    path("jobs/<uuid:job_id>/", views.job_status, name="omero_plugin_common_job"),
    # POST → 202 {job} with cancel_requested; owner or admin.
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="omero_plugin_common_job_cancel"),
    *views.plugin_routes("omero_plugin_common"),
]
