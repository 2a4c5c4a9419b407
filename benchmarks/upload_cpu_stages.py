"""CPU seconds per GiB of each stage of the upload plugin's chunk path (outside CI).

Run: PYTHONPATH=plugins/omeroweb_upload .venv-plugins/bin/python benchmarks/upload_cpu_stages.py
         [MiB, default 1024]

Measures thread CPU time (user + system of the measuring thread: other helpers' load on shared
cores changes wall time, not this), best of BENCH_REPEAT (default 3), for:
  - reading a request body through gunicorn's reader (wsgi.input, as Django's request.read
    sees it) in 1 MiB reads, and with recv_into a preallocated buffer (the server's fast path);
  - SHA-256 (hashlib, OpenSSL) over the same bytes;
  - the running SHA-256 the server keeps (OpenSSL's SHA256_CTX through ctypes);
  - pwrite to a file in the upload folder through the page cache and with O_DIRECT, and
    fdatasync every 8 MiB (its wall time too: waiting for the disk is not CPU);
  - re-reading and hashing the whole file (what the final check did before).
The sending side is a separate process over loopback TCP, so its CPU is not counted here.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import socket
import sys
import time

from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

MIB = 1024 * 1024
CHUNK = 8 * MIB
BLOCK = MIB


def _sender(size: int) -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        out = socket.create_connection(("127.0.0.1", port))
        block = os.urandom(CHUNK)
        sent = 0
        while sent < size:
            out.sendall(block[:min(CHUNK, size - sent)])
            sent += min(CHUNK, size - sent)
        out.close()
        os._exit(0)
    conn, _ = listener.accept()
    listener.close()
    return conn, pid


def gunicorn_read(size: int) -> float:
    conn, pid = _sender(size)
    began = time.thread_time()
    for _ in range(size // CHUNK):  # one Body per 8 MiB request, read 1 MiB at a time
        body = Body(LengthReader(SocketUnreader(conn), CHUNK))
        while body.read(BLOCK):
            pass
    spent = time.thread_time() - began
    os.waitpid(pid, 0)
    conn.close()
    return spent


def recv_into(size: int) -> float:
    conn, pid = _sender(size)
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    began = time.thread_time()
    remaining = size
    while remaining:
        got = conn.recv_into(view, min(BLOCK, remaining))
        remaining -= got
    spent = time.thread_time() - began
    os.waitpid(pid, 0)
    conn.close()
    return spent


def sha256(size: int) -> float:
    block = os.urandom(CHUNK)
    began = time.thread_time()
    for _ in range(size // CHUNK):
        hashlib.sha256(block).digest()
    return time.thread_time() - began


def running_sha256(size: int) -> float:
    from omeroweb_upload.running_sha256 import RunningSha256

    block = bytearray(os.urandom(CHUNK))
    began = time.thread_time()
    state = RunningSha256().state()
    for _ in range(size // CHUNK):  # as the server does: restore, update, save, digest
        running = RunningSha256(state)
        running.update(block)
        state = running.state()
        running.hexdigest()
    return time.thread_time() - began


def write_and_sync(size: int, folder: str, flags: int = 0) -> tuple[float, float, float]:
    memory = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT needs
    memory.write(os.urandom(BLOCK))
    block = memoryview(memory)
    path = os.path.join(folder, f".stage-bench-{os.getpid()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags, 0o600)
    write_cpu = sync_cpu = sync_wall = 0.0
    try:
        for chunk in range(size // CHUNK):
            began = time.thread_time()
            for n in range(CHUNK // BLOCK):
                os.pwrite(fd, block, chunk * CHUNK + n * BLOCK)
            write_cpu += time.thread_time() - began
            began, wall = time.thread_time(), time.monotonic()
            os.fdatasync(fd)
            sync_cpu += time.thread_time() - began
            sync_wall += time.monotonic() - wall
        return write_cpu, sync_cpu, sync_wall
    finally:
        block.release()
        memory.close()
        os.close(fd)
        os.unlink(path)


def reread_and_hash(size: int, folder: str) -> float:
    path = os.path.join(folder, f".stage-bench-{os.getpid()}")
    with open(path, "wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
    try:
        began = time.thread_time()
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(BLOCK):  # as chunks.file_sha256 did (page cache)
                digest.update(block)
        return time.thread_time() - began
    finally:
        os.unlink(path)


def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 1024) * MIB
    folder = os.environ.get("BENCH_DIR", "/work")
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    per_gib = 1024 * MIB / size
    rows: dict[str, list[float]] = {}

    def best(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value * per_gib)

    for _ in range(repeat):
        best("body via gunicorn Body.read(1 MiB)", gunicorn_read(size))
        best("body via socket.recv_into (fast path)", recv_into(size))
        best("SHA-256 (hashlib)", sha256(size))
        best("running SHA-256 (libcrypto, state saved)", running_sha256(size))
        for label, flags in (("page cache", 0), ("O_DIRECT", os.O_DIRECT)):
            write_cpu, sync_cpu, sync_wall = write_and_sync(size, folder, flags)
            best(f"pwrite 1 MiB blocks, {label}", write_cpu)
            best(f"fdatasync per 8 MiB, {label} (CPU)", sync_cpu)
            best(f"fdatasync per 8 MiB, {label} (wall)", sync_wall)
        best("re-read + SHA-256 of the whole file", reread_and_hash(size, folder))
    out = io.StringIO()
    out.write(f"CPU seconds per GiB, best of {repeat} ({size // MIB} MiB each, {folder}):\n")
    for name, values in rows.items():
        out.write(f"  {name:44s} {min(values):6.2f} s/GiB  ({1024 / min(values):7.0f} MiB/s)\n")
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
