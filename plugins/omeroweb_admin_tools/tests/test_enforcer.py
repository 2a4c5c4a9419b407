"""The quota enforcer (omero-quota-enforcer).

Real parts: ext4 images made with mkfs.ext4 and loop-mounted (needs root). This machine's
kernel is built without CONFIG_QUOTA, so an ext4 with the quota/project features cannot be
mounted here: the real test of chattr/setquota runs only where the kernel allows it, and the
enforcement logic is otherwise tested against a file-backed stand-in that records the commands
(said plainly in docs/plugins/admin-tools.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from omeroweb_admin_tools import enforcer, quotas

GIB_KIB = 1024 * 1024


def _state(state_dir: Path, entries: dict[str, tuple[float, int]]) -> None:
    quotas.write_json_atomic(state_dir / quotas.STATE_FILE, {
        "version": 1, "log": [], "quotas": {
            name: {"quota_gb": gb, "group_id": gid, "project_id": 200000 + gid}
            for name, (gb, gid) in entries.items()}})


@contextmanager
def ext4_image(tmp_path: Path, features: str | None, options: str = "loop"):
    if os.geteuid() != 0:
        pytest.skip("loop-mounting an ext4 image needs root")
    image, mount = tmp_path / "fs.img", tmp_path / "mnt"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", *(["-O", features] if features else []), str(image)],
                   check=True, capture_output=True)
    done = subprocess.run(["mount", "-o", options, str(image), str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        yield None, image, done.stderr
        return
    try:
        yield mount, image, ""
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_real_ext4_without_project_quotas_gets_a_plain_message(tmp_path):
    with ext4_image(tmp_path, None) as (mount, _, error):
        assert mount is not None, error
        (mount / "ManagedRepository" / "lab").mkdir(parents=True)
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        _state(state_dir, {"lab": (1.0, 5)})
        script = Path(sys.executable).with_name("omero-quota-enforcer")
        done = subprocess.run([str(script), "--data-dir", str(mount), "--state-dir",
                               str(state_dir)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        status = json.loads((state_dir / quotas.STATUS_FILE).read_text())
        assert status["enforced"] is False
        assert status["mount"] == {"point": str(mount), "fstype": "ext4"}
        assert "not mounted with prjquota" in status["message"]
        assert "not mounted with prjquota" in done.stdout


def test_real_project_quota_enforcement_where_the_kernel_allows(tmp_path):
    with ext4_image(tmp_path, "quota,project", "loop,prjquota") as (mount, image, error):
        if mount is None:
            # Prove the image itself is right (real feature flags), then say why we stop.
            features = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True,
                                      text=True).stdout
            assert "project" in features and "quota" in features
            pytest.skip(f"this kernel cannot mount ext4 with project quotas: {error.strip()}")
        lab = mount / "ManagedRepository" / "lab"
        lab.mkdir(parents=True)
        (lab / "existing.tif").write_bytes(b"x" * 4096)
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        _state(state_dir, {"lab": (0.5, 7)})
        assert enforcer.main(["--data-dir", str(mount), "--state-dir", str(state_dir)]) == 0
        attrs = subprocess.run(["lsattr", "-pd", str(lab)], capture_output=True, text=True)
        assert attrs.stdout.split()[0] == "200007" and "P" in attrs.stdout.split()[1]
        report = subprocess.run(["repquota", "-P", "-n", str(mount)], capture_output=True,
                                text=True).stdout
        assert "#200007" in report and str(GIB_KIB // 2) in report


class Recorder(enforcer.Commands):
    """File-backed stand-in: records the commands and keeps project ids in a JSON file, as the
    inode flags would."""

    def __init__(self, tmp_path: Path, fail_for: str = "") -> None:
        self.calls: list[list[str]] = []
        self.fail_for = fail_for

    def run(self, argv):
        self.calls.append(list(argv))
        if self.fail_for and self.fail_for in " ".join(argv):
            raise quotas.QuotaError(f"{argv[0]} failed: Operation not permitted")


def _mountinfo(point: Path, fstype: str = "ext4", options: str = "rw,relatime,prjquota") -> str:
    return (f"22 1 8:1 / / rw,relatime - overlay overlay rw\n"
            f"40 22 7:0 / {point} rw,relatime - {fstype} /dev/loop7 {options}\n")


@pytest.fixture
def data(tmp_path):
    data_dir, state_dir = tmp_path / "OMERO", tmp_path / "state"
    for group in ("lab", "imaging"):
        (data_dir / "ManagedRepository" / group).mkdir(parents=True)
    state_dir.mkdir()
    return data_dir, state_dir


def test_stand_in_applies_project_ids_and_limits(data, tmp_path):
    data_dir, state_dir = data
    _state(state_dir, {"lab": (1.5, 5), "imaging": (0.1, 9), "new-group": (2, 11)})
    commands = Recorder(tmp_path)
    status = enforcer.enforce(data_dir, state_dir, _mountinfo(data_dir), commands)
    lab = str(data_dir / "ManagedRepository" / "lab")
    assert ["chattr", "-R", "-p", "200005", lab] in commands.calls
    assert ["chattr", "+P", lab] in commands.calls
    assert ["setquota", "-P", "200005", str(int(1.5 * GIB_KIB)), str(int(1.5 * GIB_KIB)),
            "0", "0", str(data_dir)] in commands.calls
    assert status["enforced"] is True
    assert status["applied"] == {"lab": 200005, "imaging": 200009}
    assert status["groups"]["new-group"].startswith("waiting")


def test_stand_in_clears_removed_quotas_and_retries_failures(data, tmp_path):
    data_dir, state_dir = data
    quotas.write_json_atomic(state_dir / quotas.STATUS_FILE,
                             {"applied": {"lab": 200005, "imaging": 200009}})
    _state(state_dir, {"lab": (1, 5)})
    commands = Recorder(tmp_path, fail_for="200009")
    status = enforcer.enforce(data_dir, state_dir, _mountinfo(data_dir), commands)
    assert ["setquota", "-P", "200009", "0", "0", "0", "0", str(data_dir)] in commands.calls
    assert status["groups"]["imaging"].startswith("failed to remove")
    assert status["applied"] == {"lab": 200005, "imaging": 200009}  # tried again next run


@pytest.mark.parametrize(("fstype", "options", "fragment"), [
    ("xfs", "rw,prjquota", "is xfs, not ext4"),
    ("ext4", "rw,relatime", "not mounted with prjquota"),
])
def test_stand_in_unsupported_filesystems_change_nothing(data, tmp_path, fstype, options,
                                                         fragment):
    data_dir, state_dir = data
    _state(state_dir, {"lab": (1, 5)})
    commands = Recorder(tmp_path)
    status = enforcer.enforce(data_dir, state_dir, _mountinfo(data_dir, fstype, options),
                              commands)
    assert commands.calls == [] and status["enforced"] is False
    assert fragment in status["message"]


def test_the_deepest_mount_wins(tmp_path):
    info = _mountinfo(tmp_path / "a") + f"41 40 7:1 / {tmp_path}/a/b rw - ext4 /dev/x rw,prjquota\n"
    assert enforcer.find_mount(tmp_path / "a" / "b" / "c", info).point == f"{tmp_path}/a/b"
    assert enforcer.find_mount(tmp_path / "a" / "bc", info).point == str(tmp_path / "a")


def test_the_console_script_is_installed():
    assert shutil.which("omero-quota-enforcer",
                        path=str(Path(sys.executable).parent)) is not None


@pytest.mark.parametrize(("name", "entry", "reason"), [
    ("..", {"quota_gb": 1, "project_id": 200001}, "plain group directory"),
    ("../../etc", {"quota_gb": 1, "project_id": 200001}, "plain group directory"),
    ("", {"quota_gb": 1, "project_id": 200001}, "plain group directory"),
    ("lab", {"quota_gb": 1, "project_id": 0}, "project id"),
    ("lab", {"quota_gb": 1, "project_id": "200001; reboot"}, "project id"),
    ("lab", {"quota_gb": float("nan"), "project_id": 200001}, "quota out of range"),
    ("lab", {"quota_gb": True, "project_id": 200001}, "quota out of range"),
    ("lab", ["1"], "not an object"),
    ("linked", {"quota_gb": 1, "project_id": 200001}, "link"),
])
def test_a_tampered_state_is_refused_by_the_root_enforcer(data, tmp_path, name, entry, reason):
    """The web user writes the state; the enforcer runs as root and trusts none of it."""
    data_dir, state_dir = data
    (data_dir / "ManagedRepository" / "linked").symlink_to(tmp_path)
    (state_dir / quotas.STATE_FILE).write_text(json.dumps(
        {"version": 1, "log": [], "quotas": {name: entry}}))
    commands = Recorder(tmp_path)
    status = enforcer.enforce(data_dir, state_dir, _mountinfo(data_dir), commands)
    assert commands.calls == []
    assert reason in next(iter(status["groups"].values()))


def test_a_symlinked_state_file_is_not_followed(data, tmp_path):
    data_dir, state_dir = data
    secret = tmp_path / "secret"
    secret.write_text('{"version": 1, "quotas": {}, "log": []}')
    (state_dir / quotas.STATE_FILE).symlink_to(secret)
    with pytest.raises(quotas.QuotaError, match="cannot be read"):
        enforcer.enforce(data_dir, state_dir, _mountinfo(data_dir), Recorder(tmp_path))


def test_folders_default_to_the_typed_settings(tmp_path, monkeypatch):
    """Without flags the enforcer reads ADMIN_TOOLS_DATA_DIR and ADMIN_TOOLS_QUOTA_STATE_DIR
    through the admin tools' settings loader, as the web does."""
    data, state = tmp_path / "data", tmp_path / "state"
    data.mkdir()
    state.mkdir()
    monkeypatch.setenv("ADMIN_TOOLS_DATA_DIR", str(data))
    monkeypatch.setenv("ADMIN_TOOLS_QUOTA_STATE_DIR", str(state))
    seen = []
    real_enforce = enforcer.enforce

    def recording_enforce(data_dir, state_dir, mountinfo, commands):
        seen.append((data_dir, state_dir))
        return real_enforce(data_dir, state_dir, mountinfo, commands)

    monkeypatch.setattr(enforcer, "enforce", recording_enforce)
    assert enforcer.main([]) == 0
    assert seen == [(data, state)]
    assert json.loads((state / quotas.STATUS_FILE).read_text())["enforced"] is False


def test_a_bad_folder_setting_is_refused_naming_its_ansible_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ADMIN_TOOLS_DATA_DIR", "relative/OMERO")
    monkeypatch.setenv("ADMIN_TOOLS_QUOTA_STATE_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        enforcer.main([])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "ADMIN_TOOLS_DATA_DIR" in err
    assert "omero_web_plugins_settings.ADMIN_TOOLS_DATA_DIR" in err
    assert not (tmp_path / quotas.STATUS_FILE).exists()
