"""Behaviour of the redis role: two instances, ACLs, eviction versus refusal, restarts."""

import base64
import time

import pytest

INSTANCES = {"cache": 6379, "state": 6380}
USERS = {
    "admin": "admin-test-password-0001",
    "webcache": "webcache-test-password-01",
    "celery": "celery-test-password-0001",
    "sessions": "sessions-test-password-01",
}
# 3000 values of 8 KiB = 24 MiB, three times the instances' 8 MB maxmemory, in Redis protocol.
FILL_SCRIPT = """
import sys
v = "x" * 8192
for i in range(3000):
    k = sys.argv[1] + str(i)
    sys.stdout.write("*3\\r\\n$3\\r\\nSET\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n" % (len(k), k, len(v), v))
"""


def fill(host, prefix: str, port: int, user: str):
    encoded = base64.b64encode(FILL_SCRIPT.encode()).decode()
    return host.run(f"echo {encoded} | base64 -d | python3 - {prefix} | " + cli(port, user, "--pipe"))


def cli(port: int, user: str | None, *args: str) -> str:
    auth = f"--user {user} --pass {USERS[user]} --no-auth-warning " if user else ""
    return f"redis-cli -p {port} {auth}" + " ".join(args)


def info(host, port: int, field: str) -> str:
    out = host.check_output(cli(port, "admin", "INFO"))
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith(field + ":"))


@pytest.mark.parametrize("name,port", INSTANCES.items())
def test_instance_runs_in_its_own_unit(host, name, port):
    unit = host.service(f"redis-server@{name}")
    assert unit.is_running and unit.is_enabled
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert info(host, port, "config_file") == f"/etc/redis/redis-{name}.conf"
    conf = host.file(f"/etc/redis/redis-{name}.conf")
    assert conf.mode == 0o640 and conf.group == "redis"
    # Only hashes of the passwords are on disk.
    assert not any(pw in conf.content_string for pw in USERS.values())


def test_package_default_instance_is_off(host):
    assert not host.service("redis-server").is_running
    assert not host.service("redis-server").is_enabled


@pytest.mark.parametrize("name,port", INSTANCES.items())
def test_unauthenticated_and_wrong_password_refused(host, name, port):
    anon = host.run(cli(port, None, "SET", "cache:x", "1"))
    assert "NOAUTH" in anon.stdout + anon.stderr
    bad = host.run(f"redis-cli -p {port} --user admin --pass wrong-password --no-auth-warning PING")
    assert "WRONGPASS" in bad.stdout + bad.stderr


def test_application_users_live_where_documented(host):
    assert host.check_output(cli(6379, "webcache", "SET", "cache:k", "1")) == "OK"
    # webcache may only touch its key prefixes, and exists only in the cache instance.
    assert "NOPERM" in host.run(cli(6379, "webcache", "SET", "other:k", "1")).stdout
    wrong_instance = host.run(cli(6380, "webcache", "PING"))
    assert "WRONGPASS" in wrong_instance.stdout + wrong_instance.stderr
    assert host.check_output(cli(6380, "celery", "-n", "0", "SET", "celery-task-meta-1", "1")) == "OK"
    assert host.check_output(cli(6380, "sessions", "-n", "2", "SET", "django.session:1", "1")) == "OK"
    # Application users cannot reconfigure the server.
    assert "NOPERM" in host.run(cli(6380, "celery", "CONFIG", "SET", "maxmemory", "0")).stdout


def test_settings_per_instance(host):
    assert host.check_output(cli(6379, "admin", "CONFIG", "GET", "maxmemory-policy")).split()[1] == "allkeys-lru"
    assert host.check_output(cli(6380, "admin", "CONFIG", "GET", "maxmemory-policy")).split()[1] == "noeviction"
    for port in INSTANCES.values():
        assert host.check_output(cli(port, "admin", "CONFIG", "GET", "save")).split()[1:] in ([], [""])
    assert host.check_output(cli(6379, "admin", "CONFIG", "GET", "appendonly")).split()[1] == "no"
    assert host.check_output(cli(6380, "admin", "CONFIG", "GET", "appendonly")).split()[1] == "yes"
    assert host.file("/etc/redis/redis-cache.conf").contains("^supervised systemd")


def test_cache_evicts_under_memory_pressure(host):
    out = fill(host, "cache:fill:", 6379, "webcache")
    assert out.rc == 0 and "errors: 0" in out.stdout, out.stdout + out.stderr
    assert int(info(host, 6379, "evicted_keys")) > 0
    assert int(host.check_output(cli(6379, "admin", "DBSIZE"))) < 3000


def test_state_refuses_writes_instead_of_dropping_data(host):
    out = fill(host, "celery:fill:", 6380, "celery")
    # --pipe exits non-zero when replies are errors; the errors are OOM refusals.
    assert "errors: 0" not in out.stdout, out.stdout
    # The refusals were OOM errors (Redis counts error replies by kind).
    errorstats = host.check_output(cli(6380, "admin", "INFO", "errorstats"))
    oom = next(line for line in errorstats.splitlines() if line.startswith("errorstat_OOM:"))
    assert int(oom.split("count=")[1]) > 0
    assert int(info(host, 6380, "evicted_keys")) == 0
    # Every write that was accepted is still there.
    replies = int(out.stdout.rsplit("replies: ", 1)[1].split()[0])
    errors = int(out.stdout.rsplit("errors: ", 1)[1].split(",")[0])
    stored = int(host.check_output(cli(6380, "admin", "EVAL", "\"return #redis.call('KEYS', 'celery:fill:*')\"", "0")))
    assert stored == replies - errors > 0


def test_overcommit_sysctl_written(host):
    assert host.file("/etc/sysctl.d/60-redis.conf").contains("^vm.overcommit_memory = 1")


@pytest.mark.parametrize("name,port", INSTANCES.items())
def test_killed_server_is_restarted_by_systemd(host, name, port):
    show = f"systemctl show -p MainPID --value redis-server@{name}"
    before = int(host.check_output(show))
    host.run(f"kill -9 {before}")
    deadline = time.time() + 30
    after = 0
    while time.time() < deadline:
        after = int(host.check_output(show))
        if after not in (0, before) and host.run(cli(port, "admin", "PING")).stdout.strip() == "PONG":
            break
        time.sleep(1)
    assert after not in (0, before)
    assert host.run(cli(port, "admin", "PING")).stdout.strip() == "PONG"
