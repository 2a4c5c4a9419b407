"""Path safety and junk auto-skip: plain functions, no database."""

import os
from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omeroweb_upload.paths import (
    MAX_NAME_BYTES,
    UnsafePath,
    junk_reason,
    open_in_job,
    path_in_job,
    safe_relative_path,
)


@pytest.mark.parametrize("raw, expected", [
    ("a.tif", "a.tif"),
    ("folder/a.tif", "folder/a.tif"),
    ("./folder//sub/./a.tif", "folder/sub/a.tif"),
    ("folder/", "folder"),
    ("Cafe\u0301/x.tif", "Caf\u00e9/x.tif"),  # NFC: one spelling per name
    ("con-report.txt", "con-report.txt"),
    ("...tif", "...tif"),
])
def test_normalises(raw, expected):
    assert str(safe_relative_path(raw)) == expected


@pytest.mark.parametrize("raw, reason", [
    ("../etc/passwd", "'..'"),
    ("a/../../b", "'..'"),
    ("/etc/passwd", "absolute"),
    ("C:/Windows/x", "absolute"),
    ("c:evil", "absolute"),
    ("./C:/x", "':'"),
    ("a/report.txt:hidden", "':'"),
    ("a\\..\\b", "backslash"),
    ("a/\x00b", "control"),
    ("a/b\nc", "control"),
    ("CON", "device"),
    ("data/nul.txt", "device"),
    ("LPT1.tif", "device"),
    ("com9 .log", "device"),
    ("", "empty"),
    ("././/", "names no file"),
    ("x" * 256, "255 bytes"),
    ("é" * 128, "255 bytes"),  # 256 bytes in UTF-8
    ("/".join(["d"] * 40), "deeper"),
    ("a/" * 600 + "b", "longer than"),
])
def test_refuses_with_a_clear_reason(raw, reason):
    with pytest.raises(UnsafePath, match=reason):
        safe_relative_path(raw)


def test_refuses_non_strings():
    for raw in (None, 3, b"a.tif", ["a"]):
        with pytest.raises(UnsafePath, match="string"):
            safe_relative_path(raw)


_parts = st.one_of(
    st.sampled_from(["..", ".", "", "CON", "nul.txt", "Aux", "lpt3.x", "C:", "~", " ", "a b"]),
    st.text(min_size=1, max_size=12),
    st.text(alphabet="ab./\\:\x00\n", min_size=1, max_size=8),
    st.integers(250, 260).map(lambda n: "n" * n),
)
_paths = st.one_of(
    st.lists(_parts, min_size=0, max_size=40).map("/".join),
    st.text(max_size=300),
    st.builds(lambda p: "/" + p, st.text(max_size=30)),
)
CASES = {"n": 0, "accepted": 0}


def test_property_every_accepted_path_stays_in_the_job(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    root = os.path.realpath(job)

    @settings(max_examples=3000)
    @given(_paths)
    def check(raw):
        CASES["n"] += 1
        try:
            path = safe_relative_path(raw)
        except UnsafePath as exc:
            assert str(exc)  # a reason, for the user
            return
        CASES["accepted"] += 1
        assert not path.is_absolute()
        assert all(p not in ("", ".", "..") for p in path.parts)
        assert all(len(p.encode()) <= MAX_NAME_BYTES for p in path.parts)
        assert "\\" not in str(path) and "\x00" not in str(path)
        assert safe_relative_path(str(path)) == path  # normal form is stable
        target = os.path.realpath(job / path)
        assert target.startswith(root + os.sep)
        assert path_in_job(job, path) == job / path

    check()
    print(f"path-safety property: {CASES['n']} generated paths, {CASES['accepted']} accepted")
    assert CASES["n"] >= 1000 and CASES["accepted"] > 50


def test_symlinked_folder_is_refused(tmp_path):
    job, outside = tmp_path / "job", tmp_path / "outside"
    job.mkdir()
    outside.mkdir()
    (job / "sub").symlink_to(outside)
    with pytest.raises(UnsafePath, match="symbolic link"):
        path_in_job(job, PurePosixPath("sub/a.tif"), create_parents=True)
    with pytest.raises(UnsafePath, match="symbolic link"):
        open_in_job(job, PurePosixPath("sub/a.tif"), os.O_WRONLY | os.O_CREAT)
    assert list(outside.iterdir()) == []


def test_symlinked_file_is_refused(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("x")
    (job / "a.tif").symlink_to(secret)
    with pytest.raises(UnsafePath, match="symbolic link"):
        open_in_job(job, PurePosixPath("a.tif"), os.O_WRONLY | os.O_CREAT)
    assert secret.read_text() == "x"


def test_creates_folders_inside_the_job(tmp_path):
    fd = open_in_job(tmp_path, PurePosixPath("a/b/c.tif"), os.O_WRONLY | os.O_CREAT)
    os.close(fd)
    assert (tmp_path / "a" / "b" / "c.tif").is_file()


@pytest.mark.parametrize("path, skipped", [
    ("Thumbs.db", True), ("sub/thumbs.db", True), (".DS_Store", True), ("a/._x.tif", True),
    ("desktop.ini", True), ("Desktop.INI", True), ("~$report.docx", True),
    ("$RECYCLE.BIN/a.tif", True), ("lost+found/x.tif", True), ("d/.Trashes/x", True),
    ("System Volume Information/x", True), ("__MACOSX/a/x.tif", True),
    (".Spotlight-V100/x", True), (".fseventsd/x", True),
    ("a.tif", False), ("meta.xml", False), ("d/companion.ome.xml", False), ("x._y", False),
    ("Thumbs.db.tif", False), ("found/a.tif", False), (".hidden.tif", False),
])
def test_junk_auto_skip(path, skipped):
    assert (junk_reason(PurePosixPath(path)) is not None) is skipped
