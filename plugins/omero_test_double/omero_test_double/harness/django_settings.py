"""pytest-django settings: OMERO.web's own settings with the plugins mounted through
`omero.web.apps`, exactly as a deployed OMERO.web loads them."""

from .environment import prepare

prepare()

from omeroweb.settings import *  # noqa: E402,F403

# A fixed key: OMERO.web would otherwise write one into OMERODIR at first start.
SECRET_KEY = "plugin-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
# OMERO.web itself uses no Django database (the plugins use their own PostgreSQL); pytest-django's
# live_server insists on one to flush after each test, so it gets an in-memory SQLite.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# nginx sends the Content-Security-Policy in production; the test server sends the same one.
MIDDLEWARE = (*MIDDLEWARE, "omero_test_double.harness.headers.ContentSecurityPolicyMiddleware")  # noqa: F405
