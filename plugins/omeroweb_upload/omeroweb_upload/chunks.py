"""Writing uploaded bytes to disk: one chunk at a time, at the last confirmed offset.

A chunk is confirmed only after it was written completely, matched its SHA-256 and was
flushed to disk; anything short of that is cut off again (ftruncate to the confirmed offset),
so an interrupted or refused chunk never leaves garbage that a resume would build on.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from .paths import open_in_job
from .running_sha256 import RunningSha256

READ_BLOCK = 1024 * 1024
DIRECT_ALIGN = 4096  # O_DIRECT offsets and lengths: a multiple of the device's block size
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
                readinto: Callable[[memoryview], int], chunk_sha256: str | None = None,
                prefix_sha256: str | None = None, prefix_state: bytes | None = None,
                check: Callable[[], None] | None = None,
                confirm: Callable[[bytes | None], None] | None = None) -> bytes | None:
    """Write `length` bytes from `readinto` at `offset`; keep them only if their hash matches.

    chunk_sha256 is the chunk's own digest. prefix_sha256 is the digest of the file's bytes
    from 0 to the end of this chunk: checked by carrying on the running SHA-256 saved after
    the previous chunk (prefix_state; rebuilt from the file when missing), one pass over each
    byte. Returns the running state to save with the new confirmed offset (None without
    prefix_sha256). The bytes are durable (fdatasync) before this returns.

    `check` runs under the file's lock before anything is cut off (is `offset` still the
    confirmed one?), `confirm(state)` after fdatasync, still under the lock: no other request
    can cut off or overwrite bytes between their check and this chunk's confirmation.
    """
    fd = open_in_job(folder, relative, os.O_RDWR | os.O_CREAT)
    direct = None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ChunkError("another chunk of this file is being written", 409,
                             "chunk_in_progress") from None
        if check is not None:
            check()
        if os.fstat(fd).st_size < offset:  # confirmed bytes gone: never fill them with zeros
            raise ChunkError("the file lost bytes it had confirmed", 409, "file_lost")
        os.ftruncate(fd, offset)  # drop whatever an interrupted chunk left behind
        direct = _open_direct(folder, relative)
        use_direct = direct is not None
        running = None
        if prefix_sha256 is not None:
            running = RunningSha256(prefix_state) if prefix_state or not offset \
                else _rehash(fd, offset)
        digest = hashlib.sha256() if chunk_sha256 is not None else None
        try:
            with _Block() as block:
                remaining, position = length, offset
                while remaining:
                    wanted = min(READ_BLOCK, remaining)
                    got = block.fill(readinto, wanted)
                    if got < wanted:
                        raise ChunkError(f"the chunk ended after {length - remaining + got} of "
                                         f"{length} bytes", 400, "incomplete_chunk")
                    view = block.view[:got]
                    if digest is not None:
                        digest.update(view)
                    if running is not None:
                        running.update(view)
                    use_direct = _write(fd, direct if use_direct else None, view, position)
                    position += got
                    remaining -= got
                    del view
            if digest is not None and digest.hexdigest() != chunk_sha256:
                raise ChunkError("the chunk's SHA-256 does not match X-Chunk-Sha256", 422,
                                 "checksum_mismatch")
            if running is not None and running.hexdigest() != prefix_sha256:
                raise ChunkError("the SHA-256 of the file up to this chunk does not match "
                                 "X-Prefix-Sha256", 422, "checksum_mismatch")
            os.fdatasync(fd)  # covers the O_DIRECT writes' metadata (size, extents) too
        except OSError as exc:
            os.ftruncate(fd, offset)
            if exc.errno in _DISK_FULL:
                raise ChunkError("the upload disk is full; the chunk was not kept", 507,
                                 "insufficient_storage") from None
            raise
        except ChunkError:
            os.ftruncate(fd, offset)
            raise
        state = running.state() if running is not None else None
        if confirm is not None:
            confirm(state)  # on failure the bytes stay: the next chunk cuts them off
        return state
    finally:
        if direct is not None:
            os.close(direct)
        os.close(fd)


class _Block:
    """One page-aligned READ_BLOCK buffer (O_DIRECT needs aligned memory), reused per read."""

    def __enter__(self) -> _Block:
        self.memory = mmap.mmap(-1, READ_BLOCK)
        self.view = memoryview(self.memory)
        return self

    def fill(self, readinto: Callable[[memoryview], int], wanted: int) -> int:
        got = 0
        while got < wanted:
            step = readinto(self.view[got:wanted])
            if not step:
                break
            got += step
        return got

    def __exit__(self, *_: object) -> None:
        try:
            self.view.release()
            self.memory.close()
        except BufferError:
            pass  # a slice is still referenced by an exception on its way up; GC frees it


def _open_direct(folder: Path, relative: PurePosixPath) -> int | None:
    """A second descriptor that bypasses the page cache: a chunk's bytes are written once,
    read never again here, and copying them through the cache cost more CPU than hashing
    them (see docs/plugins/upload.md). None where the filesystem refuses O_DIRECT."""
    if not hasattr(os, "O_DIRECT"):
        return None
    try:
        return open_in_job(folder, relative, os.O_WRONLY | os.O_DIRECT)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise


def _write(fd: int, direct: int | None, view: memoryview, position: int) -> bool:
    """Write all of view at position; aligned whole blocks bypass the cache. Returns whether
    to keep writing through `direct` (not once the filesystem refused an aligned write)."""
    if direct is not None and position % DIRECT_ALIGN == 0 and len(view) % DIRECT_ALIGN == 0:
        try:
            _pwrite_all(direct, view, position)
            return True
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            direct = None
    _pwrite_all(fd, view, position)
    return direct is not None


def _pwrite_all(fd: int, view: memoryview, position: int) -> None:
    while view:
        written = os.pwrite(fd, view, position)
        position += written
        view = view[written:]


def _rehash(fd: int, length: int) -> RunningSha256:
    """The running SHA-256 of the file's first `length` bytes, read back from disk: only for a
    file whose earlier chunks came without X-Prefix-Sha256."""
    running = RunningSha256()
    with _Block() as block:
        position = 0
        while position < length:
            got = os.preadv(fd, [block.view[:min(READ_BLOCK, length - position)]], position)
            if not got:
                raise ChunkError("the file is shorter than its confirmed offset", 409,
                                 "conflict")
            running.update(block.view[:got])
            position += got
    return running


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
