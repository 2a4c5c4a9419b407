"""playbooks/rotate-secrets.yml on the converged all-in-one host: every secret the lab deploys is
rotated to new values and then back to the inventory's, so the host ends as converged and the
other test modules (and a second `molecule verify`) see the inventory's values. After each run the
old values must be refused and the new ones accepted by PostgreSQL and Redis, jobs must run through
a worker, the login page must answer, and a stored user secret must have been re-encrypted with the
newest Fernet key."""

import json
import secrets
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from demohost import HOST_NAME, INVENTORY, ROOT, SECRETS_FILE
from webhost import django_python, put_private_file, run_as_web, wait_until

# The lab runs no OMERO.server and no Grafana: their accounts are rotated by the same playbook
# on hosts that have them (rotate_omero_server, monitoring_grafana_stack), not here.
ROTATED = ["vault_omero_db_password", "vault_plugins_db_password", "vault_redis_admin_password",
           "vault_redis_webcache_password", "vault_redis_sessions_password",
           "vault_redis_celery_password", "vault_omero_web_secret_key", "vault_fmp_hash_secret",
           "vault_omero_job_service_password", "vault_postgres_exporter_password"]
# (kind, port, user, vault variable): every login that must follow the rotation.
LOGINS = [("pg", 5432, "omero", "vault_omero_db_password"),
          ("pg", 5433, "omero_plugins", "vault_plugins_db_password"),
          ("pg", 5432, "prometheus", "vault_postgres_exporter_password"),
          ("pg", 5433, "prometheus", "vault_postgres_exporter_password"),
          ("redis", 6379, "admin", "vault_redis_admin_password"),
          ("redis", 6380, "admin", "vault_redis_admin_password"),
          ("redis", 6379, "webcache", "vault_redis_webcache_password"),
          ("redis", 6380, "sessions", "vault_redis_sessions_password"),
          ("redis", 6380, "celery", "vault_redis_celery_password")]
SECRET = ("rotation-test", "root", "api-key", "stored before the rotation")

# Runs on the host as root: tries each login, reading the passwords from a root-only file and
# handing them over in the environment only (PGPASSWORD, REDISCLI_AUTH).
LOGIN_PROBE = r"""
import json, os, subprocess, sys
attempts = json.load(open(sys.argv[1]))
def works(kind, port, user, password):
    if kind == "pg":
        argv = ["psql", "-w", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres",
                "-tAc", "select 1"]
        env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"}
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        return proc.returncode == 0 and proc.stdout.strip() == "1"
    argv = ["redis-cli", "-p", str(port), "--user", user, "--no-auth-warning", "PING"]
    proc = subprocess.run(argv, env={**os.environ, "REDISCLI_AUTH": password},
                          capture_output=True, text=True)
    return proc.stdout.strip() == "PONG"
print(json.dumps([works(*a) for a in attempts]))
"""


def new_values():
    values = {name: secrets.token_urlsafe(24) for name in ROTATED}
    values["vault_plugins_fernet_key"] = Fernet.generate_key().decode()
    return values


def rotate(host, old, new, tmp):
    """Run the rotation playbook from `old` to `new` (the Fernet key list is new,old); returns
    (return code, output, seconds)."""
    extra = {**new, "vault_plugins_fernet_key": f"{new['vault_plugins_fernet_key']},"
                                               f"{old['vault_plugins_fernet_key']}"}
    extra["rotate_previous"] = {
        "postgresql": [{"port": p, "user": u, "password": old[v]} for k, p, u, v in LOGINS
                       if k == "pg" and old[v] != new[v]],
        "redis": [{"port": p, "user": u, "password": old[v]} for k, p, u, v in LOGINS
                  if k == "redis" and old[v] != new[v]],
    }
    vars_file = Path(tmp) / "rotation.yml"
    vars_file.touch(mode=0o600)
    vars_file.write_text(yaml.safe_dump(extra))
    started = time.monotonic()
    proc = subprocess.run(
        ["ansible-playbook", "-i", INVENTORY,
         str(ROOT / "playbooks" / "rotate-secrets.yml"), "-e", f"@{vars_file}"],
        capture_output=True, text=True, cwd=ROOT)
    vars_file.unlink()
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def logins(host, values):
    """For each of LOGINS with the given values: does it log in?"""
    path = "/root/.rotation-test-logins.json"
    put_private_file(HOST_NAME, path, json.dumps([[k, p, u, values[v]] for k, p, u, v in LOGINS]))
    try:
        out = host.run(f"python3 -c {shlex.quote(LOGIN_PROBE)} {path}")
        assert out.rc == 0, out.stderr
        return json.loads(out.stdout)
    finally:
        host.run(f"rm -f {path}")


def fernet_state(host):
    """The stored secret as read by the plugins, and which configured key its token opens."""
    return django_python(host, """
import os
from cryptography.fernet import Fernet, InvalidToken
from omero_plugin_common import db, secret_store
with db.transaction() as tx:
    token = bytes(tx.fetchone("SELECT token FROM plugin_user_secrets WHERE plugin=%s AND username=%s"
                              " AND name=%s", ('rotation-test', 'root', 'api-key'))["token"])
opens = []
for i, key in enumerate(os.environ["OMERO_PLUGINS_SECRET_KEYS"].split(",")):
    try:
        Fernet(key).decrypt(token)
        opens.append(str(i))
    except InvalidToken:
        pass
print(secret_store.get('rotation-test', 'root', 'api-key'))
print(",".join(opens))
""")


def active_timers(host):
    return sorted(host.run("systemctl list-units --type=timer --state=active --plain --no-legend "
                           "'omero-*.timer' | awk '{print $1}'").stdout.split())


def after_run(host, since, old, new, rc, output, seconds):
    """Everything a rotation must leave behind, checked right after the run."""
    web_up = wait_until(lambda: host.run("curl -sf http://127.0.0.1:4080/omero_plugin_common/health/").rc == 0,
                        timeout=90)
    return {
        "rc": rc, "output": output, "seconds": seconds,
        "old_logins": logins(host, old), "new_logins": logins(host, new),
        "web_up": web_up,
        "job": run_as_web(host, "omero-plugins-jobs selftest --queue omp --steps 2 --timeout 60").rc,
        "login_page": host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4080/webclient/login/").stdout,
        "fernet": fernet_state(host),
        "leaked": [v for v in new.values() if v in output],
        "timers": active_timers(host),
        # The plugins' timers were held: none logged in with an old password in between.
        "tracebacks": host.run(f"journalctl --since @{since} -q --no-pager -o cat -u 'omero-*' "
                               "| grep -c Traceback").stdout.strip(),
    }


@pytest.fixture(scope="module")
def rotations(host):
    inventory = {k: str(v) for k, v in yaml.safe_load(SECRETS_FILE.read_text()).items()
                 if k.startswith("vault_")}
    fresh = new_values()
    django_python(host, f"from omero_plugin_common import secret_store\nsecret_store.put(*{SECRET!r})")
    results = {}
    timers_before = active_timers(host)
    with tempfile.TemporaryDirectory() as tmp:
        since = host.run("date +%s").stdout.strip()
        results["forward"] = after_run(host, since, inventory, fresh,
                                       *rotate(host, inventory, fresh, tmp))
        # Back to the inventory's values, which are then the new ones.
        since = host.run("date +%s").stdout.strip()
        results["back"] = after_run(host, since, fresh, inventory,
                                    *rotate(host, fresh, inventory, tmp))
    results["timers_before"] = timers_before
    django_python(host, "from omero_plugin_common import secret_store\n"
                        f"secret_store.delete({SECRET[0]!r}, {SECRET[1]!r})")
    print("\nrotate-secrets.yml: " + ", ".join(f"{k} {results[k]['seconds']:.0f} s"
                                               for k in ("forward", "back")))
    return results


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_rotation_playbook_succeeds(rotations, direction):
    result = rotations[direction]
    assert result["rc"] == 0, result["output"][-4000:]
    assert "rotate | Refuse a PostgreSQL password that still works" in result["output"]


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_old_values_are_refused_and_new_ones_accepted(rotations, direction):
    result = rotations[direction]
    assert result["old_logins"] == [False] * len(LOGINS)
    assert result["new_logins"] == [True] * len(LOGINS)


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_platform_works_with_the_new_values(rotations, direction):
    result = rotations[direction]
    assert result["web_up"]
    assert result["job"] == 0
    assert result["login_page"] == "200"


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_stored_user_secrets_are_reencrypted_with_the_newest_key(rotations, direction):
    # Keys are deployed newest first: the token must open with key 0 only, not with the old key.
    assert rotations[direction]["fernet"] == [SECRET[3], "0"]


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_no_new_value_in_the_playbook_output(rotations, direction):
    assert rotations[direction]["leaked"] == []


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_plugin_timers_are_held_and_resumed(rotations, direction):
    result = rotations[direction]
    assert rotations["timers_before"], "no omero-*.timer was active before the rotation"
    assert result["timers"] == rotations["timers_before"]
    assert result["tracebacks"] == "0"
