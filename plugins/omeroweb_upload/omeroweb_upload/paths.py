"""Path safety and junk detection for uploaded files: plain functions, no Django.

Browsers send a relative path per file (the folder layout the user picked). Nothing in it is
trusted: `safe_relative_path` normalises it and refuses anything that could leave the job's
directory or that some filesystem would treat specially; `open_in_job` refuses symlinks on the
way to the file and opens without following one.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from pathlib import Path, PurePosixPath

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255  # the limit of ext4/xfs for one name
MAX_DEPTH = 32

# Windows reserves these names with any extension (CON.txt is the console too).
_DEVICE_NAMES = {"con", "prn", "aux", "nul", "conin$", "conout$",
                 *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10)),
                 "com¹", "com²", "com³", "lpt¹", "lpt²", "lpt³"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafePath(ValueError):
    """A relative path the upload refuses; the message says why, for the user."""


def safe_relative_path(raw: object) -> PurePosixPath:
    """The normalised relative path, or UnsafePath naming the problem.

    Normalising drops empty and "." components and applies Unicode NFC, so two spellings of
    one name become one path. ".." is refused rather than resolved: a browser never sends it.
    """
    if not isinstance(raw, str):
        raise UnsafePath("the path must be a string")
    if not raw:
        raise UnsafePath("the path is empty")
    if len(raw) > MAX_PATH_CHARS:
        raise UnsafePath(f"the path is longer than {MAX_PATH_CHARS} characters")
    text = unicodedata.normalize("NFC", raw)
    if _CONTROL.search(text):
        raise UnsafePath("the path contains control characters")
    if "\\" in text:
        raise UnsafePath("the path contains a backslash")
    if text.startswith("/") or _DRIVE.match(text):
        raise UnsafePath("absolute paths are not allowed")
    if ":" in text:  # a drive letter after normalisation ("./C:"), or an NTFS stream
        raise UnsafePath("':' is not allowed in a path")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts:
        raise UnsafePath("the path names no file")
    if len(parts) > MAX_DEPTH:
        raise UnsafePath(f"the path is deeper than {MAX_DEPTH} folders")
    for part in parts:
        if part == "..":
            raise UnsafePath("'..' is not allowed in a path")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise UnsafePath(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")
        if part.split(".", 1)[0].rstrip(" ").lower() in _DEVICE_NAMES:
            raise UnsafePath(f"{part!r} is a reserved device name")
    return PurePosixPath(*parts)


def _refuse_symlink(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise UnsafePath(f"{path.name!r} is a symbolic link")
    if not stat.S_ISDIR(mode):
        raise UnsafePath(f"{path.name!r} is not a folder")


def path_in_job(job_dir: Path, relative: PurePosixPath, create_parents: bool = False) -> Path:
    """The file's path inside `job_dir`; every folder on the way is checked (no symlink)."""
    current = job_dir
    _refuse_symlink(current)
    for part in relative.parts[:-1]:
        current = current / part
        _refuse_symlink(current)
        if create_parents:
            try:
                os.mkdir(current, 0o750)
            except FileExistsError:
                _refuse_symlink(current)
    target = current / relative.parts[-1]
    if os.path.islink(target):
        raise UnsafePath(f"{target.name!r} is a symbolic link")
    root = os.path.realpath(job_dir)
    if not os.path.realpath(target).startswith(root + os.sep):
        raise UnsafePath("the path leaves the upload folder")
    return target


def open_in_job(job_dir: Path, relative: PurePosixPath, flags: int) -> int:
    """os.open the file inside the job folder, never through a symlink (O_NOFOLLOW)."""
    target = path_in_job(job_dir, relative, create_parents=bool(flags & os.O_CREAT))
    try:
        return os.open(target, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"{relative.name!r} is a symbolic link") from None
        raise


# Files and folders operating systems leave behind; never worth importing (XML is data).
JUNK_FILES = {"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", ".ds_store",
              ".localized", ".directory", "icon\r", ".apdisk", ".volumeicon.icns"}
JUNK_DIRS = {"lost+found", "$recycle.bin", "recycler", "system volume information", ".trashes",
             ".trash", ".spotlight-v100", ".fseventsd", ".temporaryitems",
             ".documentrevisions-v100", "__macosx", ".ds_store"}


def junk_reason(relative: PurePosixPath) -> str | None:
    """Why this file is skipped automatically, or None to keep it."""
    for folder in relative.parts[:-1]:
        if folder.lower() in JUNK_DIRS:
            return f"system folder {folder}"
    name = relative.name
    lower = name.lower()
    if lower in JUNK_FILES:
        return f"system file {name}"
    if name.startswith("._"):
        return "macOS resource fork"
    if name.startswith("~$"):
        return "office lock file"
    return None
