"""Root conftest of the plugin suites: the shared harness (real PostgreSQL, Redis, Celery
workers, chromium) lives in omero_plugin_common.testing so every plugin uses the same one."""

pytest_plugins = ["omero_plugin_common.testing.fixtures"]
