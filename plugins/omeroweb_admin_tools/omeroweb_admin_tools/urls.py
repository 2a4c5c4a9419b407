"""Mounted by OMERO.web at /omeroweb_admin_tools/ (listed in omero.web.apps). Everything but
health/ is for the OMERO root user only."""

from django.urls import path

from omero_plugin_common.views import plugin_routes

from . import views

urlpatterns = [
    # GET: overview page with links to the four tools.
    path("", views.index, name="omeroweb_admin_tools_index"),
    # GET: help page.
    path("help/", views.help_page, name="omeroweb_admin_tools_help"),
    # GET: {"root": true, "user"} for root, 403 otherwise.
    path("root-status/", views.root_status, name="omeroweb_admin_tools_root_status"),
    # GET: log viewer page.
    path("logs/", views.logs_page, name="omeroweb_admin_tools_logs"),
    # GET: {"units", "files"} the viewer can read.
    path("logs/sources/", views.logs_sources, name="omeroweb_admin_tools_logs_sources"),
    # GET ?service=<log type>: OMERO's log file names in Loki (series API, 7 days back).
    path("logs/internal-labels/", views.logs_internal_labels,
         name="omeroweb_admin_tools_logs_internal_labels"),
    # GET ?unit=&file=&since=&until=&lookback=&limit=&level=&q=&cursor= → entries, cursor.
    path("logs/data/", views.logs_data, name="omeroweb_admin_tools_logs_data"),
    # GET: services (systemd) and metrics (Prometheus) page.
    path("services/", views.services_page, name="omeroweb_admin_tools_services"),
    # GET: unit health, host metrics, targets, dashboard links.
    path("services/data/", views.services_data, name="omeroweb_admin_tools_services_data"),
    # GET: read-only proxy of Prometheus' query API (api/v1/...), configured base URL only.
    path("services/prometheus/<path:path>", views.prometheus_proxy,
         name="omeroweb_admin_tools_prometheus_proxy"),
    # GET: storage and quota page.
    path("storage/", views.storage_page, name="omeroweb_admin_tools_storage"),
    # GET: bytes by user and group, disk usage of the data directory.
    path("storage/data/", views.storage_data, name="omeroweb_admin_tools_storage_data"),
    # GET: quota state and the enforcer's last status.
    path("storage/quota/data/", views.quota_data, name="omeroweb_admin_tools_quota_data"),
    # POST JSON {"updates": [{"group", "quota_gb"}]}.
    path("storage/quota/update/", views.quota_update, name="omeroweb_admin_tools_quota_update"),
    # POST multipart `file`: CSV with header Group,Quota [GB].
    path("storage/quota/import/", views.quota_import, name="omeroweb_admin_tools_quota_import"),
    # GET: the CSV template with every group and its current quota.
    path("storage/quota/template/", views.quota_template,
         name="omeroweb_admin_tools_quota_template"),
    # GET: diagnostics page.
    path("diagnostics/", views.diagnostics_page, name="omeroweb_admin_tools_diagnostics"),
    # POST JSON {"check"} → {"summary", "results": [{"check", "status", "reason", "ms"}]}.
    path("diagnostics/run/", views.diagnostics_run, name="omeroweb_admin_tools_diagnostics_run"),
    # GET health/: anonymous, 200 {"status": "ok"} or 503.
    *plugin_routes("omeroweb_admin_tools"),
]
