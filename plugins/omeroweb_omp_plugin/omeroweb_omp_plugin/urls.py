"""Mounted by OMERO.web at /omeroweb_omp_plugin/ (listed in omero.web.apps). Every route but
the page, help, health and root-status refuses the OMERO root user (403)."""

from django.urls import path

from omero_plugin_common.views import plugin_routes

from . import views

P = "omeroweb_omp_plugin_"

urlpatterns = [
    # GET: the plugin page (login required); page config as one JSON blob.
    path("", views.index, name=P + "index"),
    # GET: the help page.
    path("help/", views.help_page, name=P + "help"),
    # GET: {"is_root_user"}.
    path("root-status/", views.root_status, name=P + "root_status"),
    # GET: projects the user may annotate: owned, collab_rw, collab_ra, collab_available.
    path("projects/", views.projects, name=P + "projects"),
    # GET ?project_id=: the project's datasets.
    path("datasets/", views.datasets, name=P + "datasets"),
    # POST {dataset_ids, parser}: parsed values per image (rate-limited).
    path("preview/", views.preview, name=P + "preview"),
    # POST {provider, model?, dataset_ids | filenames}: a split regex (rate-limited).
    path("ai/regex/", views.ai_regex, name=P + "ai_regex"),
    # POST {provider, model?, dataset_ids | filenames, variables}: value rows (rate-limited).
    path("ai/parse/", views.ai_parse, name=P + "ai_parse"),
    # POST {dataset_ids, parser, delete_mode, confirm?}: 202 + job (rate-limited).
    path("start_job/", views.start_job, name=P + "start_job"),
    # POST {dataset_ids, delete_mode, confirm?}: acquisition-metadata job.
    path("start_acq_job/", views.start_acq_job, name=P + "start_acq_job"),
    # POST {dataset_ids, confirm: "DELETE"}: delete every deletable key/value annotation.
    path("start_delete_all_job/", views.start_delete_all_job, name=P + "start_delete_all_job"),
    # POST {dataset_ids, confirm: "DELETE"}: delete only annotations whose omp_hash verifies.
    path("start_delete_plugin_job/", views.start_delete_plugin_job,
         name=P + "start_delete_plugin_job"),
    # The original's synchronous delete routes now start the same background jobs.
    path("delete_all/", views.start_delete_all_job, name=P + "delete_all"),
    path("delete_plugin/", views.start_delete_plugin_job, name=P + "delete_plugin"),
    # GET: a job's progress (owner or admin), with the platform's cancel_url.
    path("progress/<str:job_id>/", views.progress, name=P + "progress"),
    # Variable sets: GET list, POST save {set_name, var_names}, GET load ?set_name=,
    # POST delete {set_name}.
    path("varsets/", views.varsets, name=P + "varsets"),
    path("varsets/save/", views.varsets_save, name=P + "varsets_save"),
    path("varsets/load/", views.varsets_load, name=P + "varsets_load"),
    path("varsets/delete/", views.varsets_delete, name=P + "varsets_delete"),
    # AI keys (encrypted, never returned): GET which providers have one, POST test/save
    # {provider, api_key}, GET models ?provider=, POST delete {provider}.
    path("ai-credentials/", views.ai_credentials, name=P + "ai_credentials"),
    path("ai-credentials/test/", views.ai_credentials_test, name=P + "ai_credentials_test"),
    path("ai-credentials/save/", views.ai_credentials_save, name=P + "ai_credentials_save"),
    path("ai-credentials/models/", views.ai_credentials_models,
         name=P + "ai_credentials_models"),
    path("ai-credentials/delete/", views.ai_credentials_delete,
         name=P + "ai_credentials_delete"),
    # User settings: GET, POST save {settings}.
    path("user-settings/", views.user_settings, name=P + "user_settings"),
    path("user-settings/save/", views.user_settings_save, name=P + "user_settings_save"),
    # POST: delete this user's API keys, variable sets, or everything the plugin stores.
    path("user-data/delete-api-keys/", views.user_data_delete_api_keys,
         name=P + "user_data_delete_api_keys"),
    path("user-data/delete-variable-sets/", views.user_data_delete_variable_sets,
         name=P + "user_data_delete_variable_sets"),
    path("user-data/delete-all/", views.user_data_delete_all, name=P + "user_data_delete_all"),
    # GET health/: anonymous, 200 {"status": "ok"} or 503.
    *plugin_routes("omeroweb_omp_plugin"),
]
