"""The plugins' test harness (tests only, never deployed): real PostgreSQL and Redis, Django
settings as OMERO.web loads the plugins, chromium, real Celery workers, the OMERO test double's
job-service account. plugins/conftest.py loads `fixtures` as a pytest plugin."""
