"""Logs, metrics, services, storage and quotas for OMERO administrators."""
