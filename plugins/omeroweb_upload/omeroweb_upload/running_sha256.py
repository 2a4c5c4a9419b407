"""SHA-256 whose running state is saved between requests (with the confirmed offset).

hashlib cannot export a hash's state, so a whole-file digest over chunks sent in separate
requests (to any web worker, across restarts) meant reading the whole file again at the end.
OpenSSL's SHA256_CTX is a plain struct (sha.h: h[8], Nl, Nh, data[16], num, md_len; 112
bytes), and its SHA256_Init/Update/Final are still exported by libcrypto 1.1 and 3.x: the
state is saved as those bytes and carried on by the next chunk's request. The library and
layout are checked against hashlib at import; where that fails `available` is False and the
upload API refuses X-Prefix-Sha256 (clients then send X-Chunk-Sha256).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

try:
    import ctypes
    import ctypes.util
except (ImportError, MemoryError, OSError):  # a sandbox that refuses ctypes' set-up: no prefix
    ctypes = None  # type: ignore[assignment]

STATE_BYTES = 112
_ALLOCATED = 256  # room to spare: a larger struct would fail the self-test, not overflow


def _candidates() -> Iterator[str]:
    try:
        import _hashlib  # linked against the libcrypto Python itself uses

        yield _hashlib.__file__
    except (ImportError, AttributeError):
        pass
    found = ctypes.util.find_library("crypto")  # runs ldconfig: only when the above failed
    if found:
        yield found


def _load() -> Any:
    if ctypes is None:
        return None
    for name in _candidates():
        try:
            lib = ctypes.CDLL(name)
            functions = (lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final)
        except (OSError, AttributeError):
            continue
        functions[0].argtypes = [ctypes.c_void_p]
        functions[1].argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        functions[2].argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        for function in functions:
            function.restype = ctypes.c_int
        if _self_test(lib):
            return lib
    return None


def _self_test(lib: Any) -> bool:
    data = bytes(range(256)) * 41  # 10496 bytes: splits inside 64-byte blocks below
    expected = hashlib.sha256(data).hexdigest()
    try:
        running = RunningSha256(lib=lib)
        running.update(data[:1000])
        running = RunningSha256(running.state(), lib=lib)
        running.update(bytearray(data[1000:7777]))
        prefix = running.hexdigest()
        running = RunningSha256(running.state(), lib=lib)
        running.update(memoryview(bytearray(data[7777:])))
        return prefix == hashlib.sha256(data[:7777]).hexdigest() \
            and running.hexdigest() == expected
    except (OSError, ValueError, TypeError, ctypes.ArgumentError):
        return False


class RunningSha256:
    """Like hashlib.sha256(), plus state() and a constructor that takes it back."""

    def __init__(self, state: bytes | None = None, lib: Any = None) -> None:
        self._lib = lib or _LIB
        if self._lib is None:
            raise RuntimeError("no usable SHA256_CTX in libcrypto")
        self._ctx = ctypes.create_string_buffer(_ALLOCATED)
        if state is None:
            self._check(self._lib.SHA256_Init(self._ctx))
        elif len(state) != STATE_BYTES:
            raise ValueError(f"a saved SHA-256 state has {STATE_BYTES} bytes, not {len(state)}")
        else:
            ctypes.memmove(self._ctx, bytes(state), STATE_BYTES)

    @staticmethod
    def _check(result: int) -> None:
        if result != 1:
            raise OSError("libcrypto's SHA-256 failed")

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, bytes):
            self._check(self._lib.SHA256_Update(self._ctx, data, len(data)))
            return
        view = memoryview(data)
        if view.readonly:
            self.update(view.tobytes())
            return
        pointer = (ctypes.c_char * view.nbytes).from_buffer(view)
        try:
            self._check(self._lib.SHA256_Update(self._ctx, pointer, view.nbytes))
        finally:
            del pointer  # releases the buffer export, so the caller may close its memory

    def state(self) -> bytes:
        return self._ctx.raw[:STATE_BYTES]

    def hexdigest(self) -> str:
        """The digest of everything so far; the running state carries on unchanged."""
        finished = ctypes.create_string_buffer(self._ctx.raw, _ALLOCATED)
        digest = ctypes.create_string_buffer(32)
        self._check(self._lib.SHA256_Final(digest, finished))
        return digest.raw.hex()


_LIB = _load()
available = _LIB is not None
