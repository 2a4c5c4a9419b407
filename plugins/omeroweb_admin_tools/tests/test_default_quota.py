"""The automatic default quota for new groups (omero-quota-defaults, run by a timer): the group
list comes from OMERO (the test double) through the job-service account, the quota goes into
the same state file the page writes, under the same lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.urls import reverse

from omero_plugin_common import omero_session
from omero_test_double.login import login_factory
from omeroweb_admin_tools import default_quota, quotas


@pytest.fixture
def logins(fake_omero, job_service):
    """The users the job logs in as (through omero_session's factory)."""
    names: list[str] = []
    real = login_factory(fake_omero)

    def login(username, password, host, port):
        names.append(username)
        return real(username, password, host, port)

    previous = omero_session.use_gateway_factory(login)
    yield names
    omero_session.use_gateway_factory(previous)


def _state(settings) -> dict:
    return json.loads((Path(settings.quota_state_dir) / quotas.STATE_FILE).read_text())


def _update(client, updates):
    response = client.post(reverse("omeroweb_admin_tools_quota_update"),
                           data=json.dumps({"updates": updates}),
                           content_type="application/json")
    assert response.status_code == 200, response.content
    return response


def test_new_groups_get_the_default_and_existing_quotas_stay(admin_env, root_client, people,
                                                            logins, capsys):
    settings = admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="true", DEFAULT_GROUP_QUOTA_GB="5")
    _update(root_client, [{"group": "lab", "quota_gb": 2}])
    assert default_quota.main([]) == 0
    assert "default quota 5 GB given to 1 group(s): imaging" in capsys.readouterr().out
    assert logins == ["job-service"]  # the group list is read as the job-service account
    state = _state(settings)
    imaging = people["imaging"].id
    assert state["quotas"]["imaging"] == {"quota_gb": 5.0, "group_id": imaging,
                                          "project_id": 200000 + imaging}
    assert state["quotas"]["lab"]["quota_gb"] == 2  # an existing quota is never overwritten
    # system, user and guest exist in OMERO but never get a quota.
    assert set(state["quotas"]) == {"lab", "imaging"}
    assert state["log"][-1] == {"at": state["log"][-1]["at"], "by": "auto-default",
                                "group": "imaging", "from": None, "to": 5.0}
    path = Path(settings.quota_state_dir) / quotas.STATE_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in path.parent.iterdir()) == [quotas.STATE_FILE]
    # A second run has nothing to do and leaves the file as it is (no path-unit trigger).
    before = path.stat().st_mtime_ns, path.read_bytes()
    assert default_quota.main([]) == 0
    assert "given to 0 group(s)" in capsys.readouterr().out
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_a_group_whose_quota_was_removed_gets_the_default_again(admin_env, root_client, people,
                                                                logins):
    """As in the original: with the automatic default on, 'no quota' is not a state a group
    keeps; the page says so (auto_default_quota_gb)."""
    settings = admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="yes", DEFAULT_GROUP_QUOTA_GB="1")
    _update(root_client, [{"group": "lab", "quota_gb": None}])
    default_quota.apply_default_quotas()
    assert _state(settings)["quotas"]["lab"]["quota_gb"] == 1
    body = root_client.get(reverse("omeroweb_admin_tools_quota_data")).json()
    assert body["auto_default_quota_gb"] == 1


def test_disabled_does_nothing(admin_env, root_client, people, logins, capsys):
    settings = admin_env()  # ADMIN_TOOLS_AUTO_SET_DEFAULT_GROUP_QUOTA defaults to off
    assert default_quota.main([]) == 0
    assert "is off" in capsys.readouterr().out
    assert logins == []  # not even a login to OMERO
    assert not (Path(settings.quota_state_dir) / quotas.STATE_FILE).exists()
    body = root_client.get(reverse("omeroweb_admin_tools_quota_data")).json()
    assert body["auto_default_quota_gb"] is None


def test_a_default_below_the_minimum_is_raised_to_it(admin_env, people, logins, capsys):
    settings = admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="1", DEFAULT_GROUP_QUOTA_GB="0.05",
                         MIN_QUOTA_GB="2")
    assert default_quota.main([]) == 0
    out = capsys.readouterr().out
    assert "below ADMIN_TOOLS_MIN_QUOTA_GB: using the minimum, 2 GB" in out
    assert {name: q["quota_gb"] for name, q in _state(settings)["quotas"].items()} == {
        "lab": 2, "imaging": 2}


def test_system_groups_are_skipped_by_their_server_names(admin_env, fake_omero, people, logins):
    """The names come from IAdmin.getSecurityRoles as well as the usual three."""
    settings = admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="true")
    report = default_quota.apply_default_quotas()
    assert report.added == ["imaging", "lab"]
    assert fake_omero.calls["IAdmin.getSecurityRoles"] == 1
    assert not {"system", "user", "guest"} & set(_state(settings)["quotas"])


def test_a_page_write_during_the_run_is_not_lost(admin_env, root_client, fake_omero, people,
                                                 logins, monkeypatch):
    """The state is re-read under the lock after OMERO answered: quotas the page saved while
    the job was reading the group list survive, and those groups keep the page's value."""
    settings = admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="true", DEFAULT_GROUP_QUOTA_GB="5")
    fake_omero.add_group("fresh")
    real_group_ids = default_quota.storage.group_ids
    job_calls = []

    def group_ids_then_a_page_write(conn):
        groups = real_group_ids(conn)
        if not job_calls:  # the job's call (the page's own call, inside, is the second)
            job_calls.append(conn)
            _update(root_client, [{"group": "lab", "quota_gb": 3},
                                  {"group": "imaging", "quota_gb": 7}])
        return groups

    monkeypatch.setattr(default_quota.storage, "group_ids", group_ids_then_a_page_write)
    report = default_quota.apply_default_quotas()
    assert report.added == ["fresh"]
    quotas_now = {n: q["quota_gb"] for n, q in _state(settings)["quotas"].items()}
    assert quotas_now == {"lab": 3, "imaging": 7, "fresh": 5}
    assert [e["by"] for e in _state(settings)["log"]] == ["root", "root", "auto-default"]


def test_writers_wait_for_each_other(tmp_path):
    """update_state holds the lock from read to rename: a second writer waits, then sees the
    first one's change."""
    inside, release = threading.Event(), threading.Event()

    def slow(state):
        inside.set()
        release.wait(5)
        return {**state, "quotas": {**state["quotas"], "a": {"quota_gb": 1}}}

    def fast(state):
        return {**state, "quotas": {**state["quotas"], "b": {"quota_gb": 2}}}

    first = threading.Thread(target=quotas.update_state, args=(tmp_path, slow))
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=quotas.update_state, args=(tmp_path, fast))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # blocked on the lock the first writer holds
    release.set()
    first.join(5)
    second.join(5)
    assert set(quotas.load_state(tmp_path)["quotas"]) == {"a", "b"}


def test_omero_unavailable_changes_nothing(admin_env, people, capsys):
    settings = admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="true")

    def down(*_):
        raise omero_session.OmeroUnavailable("cannot log in to OMERO at 127.0.0.1:4064")

    previous = omero_session.use_gateway_factory(down)
    try:
        assert default_quota.main([]) == 1
    finally:
        omero_session.use_gateway_factory(previous)
    assert "omero-quota-defaults: OMERO is unavailable, nothing was changed (cannot log in to " \
           "OMERO at 127.0.0.1:4064); the next run tries again" in capsys.readouterr().err
    assert not (Path(settings.quota_state_dir) / quotas.STATE_FILE).exists()


def test_a_missing_state_directory_is_an_error(admin_env, people, logins, tmp_path, capsys):
    admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="true", QUOTA_STATE_DIR=str(tmp_path / "absent"))
    assert default_quota.main([]) == 1
    assert "cannot update the quota state" in capsys.readouterr().err


def test_bad_settings_exit_2(admin_env, monkeypatch, capsys):
    monkeypatch.setenv("ADMIN_TOOLS_AUTO_SET_DEFAULT_GROUP_QUOTA", "maybe")
    default_quota.admin_settings.cache_clear()
    assert default_quota.main([]) == 2
    assert "ADMIN_TOOLS_AUTO_SET_DEFAULT_GROUP_QUOTA" in capsys.readouterr().err


def test_the_installed_command_against_a_closed_omero_port(admin_env, people):
    """The console script as the timer runs it: off, it exits at once; on, with OMERO down
    (the real BlitzGateway to a closed port), it fails with the reason and writes nothing."""
    settings = admin_env()
    command = [str(Path(sys.executable).parent / "omero-quota-defaults")]
    off = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert (off.returncode, off.stdout) == (
        0, "ADMIN_TOOLS_AUTO_SET_DEFAULT_GROUP_QUOTA is off: nothing to do\n")
    admin_env(AUTO_SET_DEFAULT_GROUP_QUOTA="true")
    env = {**os.environ, "OMERO_PLUGINS_OMERO_HOST": "127.0.0.1",
           "OMERO_PLUGINS_OMERO_PORT": "9"}  # nothing listens on the discard port
    down = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert down.returncode == 1, down.stderr
    assert "OMERO is unavailable, nothing was changed (OMERO cannot be reached at 127.0.0.1:9: " \
           "ConnectionRefusedException" in down.stderr
    assert "Traceback" not in down.stderr
    assert not (Path(settings.quota_state_dir) / quotas.STATE_FILE).exists()
