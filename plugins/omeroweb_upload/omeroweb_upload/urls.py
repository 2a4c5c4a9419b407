"""Mounted by OMERO.web at /omeroweb_upload/ (listed in omero.web.apps)."""

from django.urls import path

from omero_plugin_common.views import plugin_routes

from . import views

urlpatterns = [
    # GET: the upload page (login required).
    path("", views.index, name="omeroweb_upload_index"),
    # GET: the help page.
    path("help/", views.help_page, name="omeroweb_upload_help"),
    # POST JSON {project_id, files[{relative_path, size, sha256?, ...}], ...} → 201 job status.
    path("start/", views.start, name="omeroweb_upload_start"),
    # POST raw bytes ?offset=N, X-Chunk-Sha256 → the file's confirmed bytes and chunks.
    path("upload/<str:job_id>/<int:index>/", views.upload_chunk, name="omeroweb_upload_chunk"),
    # GET: the job with every file's confirmed bytes, chunks, state and compatibility.
    path("status/<str:job_id>/", views.status, name="omeroweb_upload_status"),
    # POST JSON {keep_paths: [...]}: drop the other uploaded files.
    path("prune/<str:job_id>/", views.prune, name="omeroweb_upload_prune"),
    # POST: import despite incompatible files (awaiting_confirmation or ready) → 202.
    path("confirm/<str:job_id>/", views.confirm, name="omeroweb_upload_confirm"),
    # POST: import a ready job → 202.
    path("import/<str:job_id>/", views.start_import, name="omeroweb_upload_import"),
    # POST: cancel the job (before the import: its files are deleted; during: stop the import).
    path("cancel/<str:job_id>/", views.cancel, name="omeroweb_upload_cancel"),
    # GET: projects the user may add datasets to.
    path("projects/", views.projects, name="omeroweb_upload_projects"),
    # POST an EMSA/MSA file's bytes → its spectrum plot as PNG (400 JSON when malformed).
    path("sem-edx-preview/", views.sem_edx_preview, name="omeroweb_upload_sem_edx_preview"),
    # GET / POST JSON {settings}: the user's page settings.
    path("user-settings/", views.user_settings, name="omeroweb_upload_user_settings"),
    # GET / POST JSON {settings}: settings of one special method (sem_edx_spectra).
    path("special-method-settings/<str:method>/", views.method_settings,
         name="omeroweb_upload_method_settings"),
    # GET health/: anonymous, 200 {"status": "ok"} or 503.
    *plugin_routes("omeroweb_upload"),
]
