"""Test harness of the plugins: real services, Django settings, browser, Celery worker."""
