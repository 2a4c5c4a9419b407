"""Root conftest of the plugin suites: the shared harness (real PostgreSQL, Redis, Celery
workers, chromium) lives in omero_test_double.harness (test code, never deployed) so every
plugin uses the same one."""

import os
from pathlib import Path

from hypothesis import settings

pytest_plugins = ["omero_test_double.harness.fixtures"]

# Hypothesis keeps its caches in the per-user cache, never in the checkout, and no example
# database (runs stay reproducible from the seed).
_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      str(_cache / "omero-ansible-extended" / "hypothesis"))
settings.register_profile("plugins", database=None, deadline=None)
settings.load_profile("plugins")
