"""Writing uploaded bytes to disk: one chunk at a time, at the last confirmed offset.

A chunk is confirmed only after it was written completely, matched its SHA-256 and was
flushed to disk; anything short of that is cut off again (ftruncate to the confirmed offset),
so an interrupted or refused chunk never leaves garbage that a resume would build on.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from .paths import open_in_job

READ_BLOCK = 1024 * 1024
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class ChunkError(Exception):
    """A refused chunk; `status` is the HTTP status the view answers with."""

    def __init__(self, message: str, status: int, code: str | None = None, **details) -> None:
        super().__init__(message)
        self.message, self.status, self.code, self.details = message, status, code, details


def job_dir(upload_dir: Path, job_id: str) -> Path:
    return Path(upload_dir) / str(job_id)


def files_dir(upload_dir: Path, job_id: str) -> Path:
    return job_dir(upload_dir, job_id) / "files"


def make_job_dir(upload_dir: Path, job_id: str) -> Path:
    """Create <upload_dir>/<job>/files (mode 0750); the upload dir itself must exist."""
    root = Path(upload_dir)
    if not root.is_dir():
        raise ChunkError(f"the upload folder {root} does not exist", 503, "unavailable")
    os.mkdir(job_dir(root, job_id), 0o750)
    os.mkdir(files_dir(root, job_id), 0o750)
    return files_dir(root, job_id)


def check_free_space(upload_dir: Path, incoming: int, keep_free: int) -> None:
    free = shutil.disk_usage(upload_dir).free
    if free - incoming < keep_free:
        raise ChunkError("the upload disk is full; try again later or ask an administrator",
                         507, "insufficient_storage", free_bytes=free)


def write_chunk(folder: Path, relative: PurePosixPath, offset: int, length: int,
                read: Callable[[int], bytes], expected_sha256: str) -> None:
    """Write `length` bytes from `read` at `offset`; keep them only if their hash matches."""
    fd = open_in_job(folder, relative, os.O_WRONLY | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ChunkError("another chunk of this file is being written", 409,
                             "chunk_in_progress") from None
        os.ftruncate(fd, offset)  # drop whatever an interrupted chunk left behind
        digest = hashlib.sha256()
        remaining, position = length, offset
        try:
            while remaining:
                data = read(min(READ_BLOCK, remaining))
                if not data:
                    raise ChunkError(f"the chunk ended after {length - remaining} of {length} "
                                     "bytes", 400, "incomplete_chunk")
                digest.update(data)
                view = memoryview(data)
                while view:
                    written = os.pwrite(fd, view, position)
                    position += written
                    view = view[written:]
                remaining -= len(data)
            if digest.hexdigest() != expected_sha256:
                raise ChunkError("the chunk's SHA-256 does not match X-Chunk-Sha256", 422,
                                 "checksum_mismatch")
            os.fdatasync(fd)
        except OSError as exc:
            os.ftruncate(fd, offset)
            if exc.errno in _DISK_FULL:
                raise ChunkError("the upload disk is full; the chunk was not kept", 507,
                                 "insufficient_storage") from None
            raise
        except ChunkError:
            os.ftruncate(fd, offset)
            raise
    finally:
        os.close(fd)


def file_sha256(folder: Path, relative: PurePosixPath) -> str:
    fd = open_in_job(folder, relative, os.O_RDONLY)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def reset_file(folder: Path, relative: PurePosixPath) -> None:
    fd = open_in_job(folder, relative, os.O_WRONLY | os.O_CREAT)
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def remove_file(folder: Path, relative: PurePosixPath) -> None:
    fd = None
    try:
        fd = open_in_job(folder, relative, os.O_RDONLY)
    except FileNotFoundError:
        return
    finally:
        if fd is not None:
            os.close(fd)
    os.unlink(folder / relative)
