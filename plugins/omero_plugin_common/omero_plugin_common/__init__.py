"""Shared foundation of the OMERO.web plugins (settings, plugin database, jobs, helpers)."""
