"""A chunk's request body, read straight into the caller's buffer.

Through request.read() every MiB of a chunk was copied about six times inside gunicorn's
readers (BytesIO buffers, getvalue, slices) before the view saw it: the largest CPU cost of
the chunk path once hashing and writing were made cheap (docs/plugins/upload.md, benchmark).
Under gunicorn, with the body untouched so far, the socket is read with recv_into into the
view's buffer instead, and gunicorn's reader is told how much was taken, so it neither reads
those bytes again nor waits for them. Anything else (another server, a body already partly
read, a gunicorn whose readers look different) gets the ordinary request.read().
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

ReadInto = Callable[[memoryview], int]


def reader(request: Any, length: int) -> ReadInto:
    """readinto(view) → how many bytes were put at the start of view (0: the body ended)."""
    return _gunicorn_socket(request.META, length) or _generic(request.read)


def _generic(read: Callable[[int], bytes]) -> ReadInto:
    def readinto(view: memoryview) -> int:
        data = read(len(view))
        view[:len(data)] = data
        return len(data)
    return readinto


def _gunicorn_socket(environ: dict[str, Any], length: int) -> ReadInto | None:
    body, sock = environ.get("wsgi.input"), environ.get("gunicorn.socket")
    try:
        from gunicorn.http.body import Body, LengthReader
        from gunicorn.http.unreader import SocketUnreader
    except ImportError:
        return None
    if type(body) is not Body or not isinstance(sock, socket.socket):
        return None
    length_reader = getattr(body, "reader", None)
    unreader = getattr(length_reader, "unreader", None)
    if (type(length_reader) is not LengthReader or type(unreader) is not SocketUnreader
            or getattr(unreader, "sock", None) is not sock
            or getattr(length_reader, "length", None) != length
            or body.buf.tell() or not hasattr(unreader, "take_buffered")):
        return None
    # Bytes that arrived with the headers are in gunicorn's buffer: those come first.
    pending = memoryview(unreader.take_buffered())
    if len(pending) > length:  # the start of a pipelined next request: give it back
        unreader.unread(bytes(pending[length:]))
        pending = pending[:length]
    state = {"pending": pending, "left": length}

    def readinto(view: memoryview) -> int:
        wanted = min(len(view), state["left"])
        if not wanted:
            return 0
        if state["pending"]:
            got = min(wanted, len(state["pending"]))
            view[:got] = state["pending"][:got]
            state["pending"] = state["pending"][got:]
        else:
            got = sock.recv_into(view, wanted)
        state["left"] -= got
        length_reader.length -= got  # gunicorn must not read or drain these bytes again
        return got

    return readinto
