import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.test import RequestFactory, override_settings

from omero_plugin_common import checks
from omero_plugin_common.ratelimit import RateLimit, rate_limited


def test_limit_counts_per_user_in_the_shared_redis_cache():
    limit = RateLimit(f"t-{uuid.uuid4()}", limit=3, window_seconds=60)
    now = 1_000_040.0  # 20 s into a 60 s window (windows start at multiples of 60)
    decisions = [limit.hit("alice", now) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after == 40
    assert limit.hit("bob", now).allowed  # another user has their own counter
    assert limit.hit("alice", now + 60).allowed  # next window


def test_counter_lives_in_redis_not_in_this_process():
    from django.core.cache import caches
    from django_redis import get_redis_connection

    limit = RateLimit(f"t-{uuid.uuid4()}", limit=1, window_seconds=60)
    limit.hit("alice", 120.0)
    keys = get_redis_connection("default").keys(f"*ratelimit:{limit.scope}:alice:2")
    assert len(keys) == 1
    assert caches["default"].__class__.__name__ == "RedisCache"


def test_decorated_view_answers_429_with_retry_after(fake_omero):
    fake_omero.add_user("alice", [fake_omero.add_group("lab")])
    conn = fake_omero.connect("alice")
    limit = RateLimit(f"t-{uuid.uuid4()}", limit=1, window_seconds=60)
    view = rate_limited(limit)(lambda request, conn=None: JsonResponse({"ok": True}))
    request = RequestFactory().post("/x")
    assert view(request, conn=conn).status_code == 200
    limited = view(request, conn=conn)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert b'"code": "rate_limited"' in limited.content


@pytest.mark.parametrize("backend", ["django.core.cache.backends.dummy.DummyCache",
                                     "django.core.cache.backends.locmem.LocMemCache"])
def test_a_cache_that_cannot_limit_is_a_startup_error(backend):
    with override_settings(CACHES={"default": {"BACKEND": backend}}):
        errors = checks.check_ratelimit_cache()
        assert [e.id for e in errors] == ["omero_plugin_common.E002"]
        assert backend in errors[0].msg
        with pytest.raises(ImproperlyConfigured, match=r"omero\.web\.caches"):
            checks.enforce()


def test_redis_cache_passes_the_checks():
    assert checks.check_ratelimit_cache() == []
    assert checks.check_plugin_settings() == []


def test_invalid_settings_are_a_startup_error(monkeypatch):
    from omero_plugin_common.config import common_settings

    monkeypatch.setenv("OMP_DATA_POOL_MAX", "500")
    errors = checks.check_plugin_settings()
    assert [e.id for e in errors] == ["omero_plugin_common.E001"]
    assert "OMP_DATA_POOL_MAX is invalid: 500 is above the maximum 50; set the Ansible " \
           "variable omero_web_plugins_settings.OMP_DATA_POOL_MAX" in errors[0].msg
    common_settings.cache_clear()
