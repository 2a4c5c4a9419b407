"""RawFileStore over the content of fake OriginalFiles (read, write, save)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import omero.model

from . import model
from .calls import counted
from .contract import fake_of
from .errors import api_usage, security_violation

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway
    from .store import Record


@fake_of("omero.api.RawFileStorePrx")
class FakeRawFileStore:
    def __init__(self, conn: FakeBlitzGateway) -> None:
        self._conn = conn
        self._omero = conn._omero
        self._file: Record | None = None
        self._buffer = bytearray()
        self._closed = False

    def _current(self) -> Record:
        if self._closed:
            raise api_usage("RawFileStore is closed")
        if self._file is None:
            raise api_usage("setFileId() first")
        return self._file

    @counted("RawFileStore.setFileId")
    def setFileId(self, fileId: int, _ctx: Any = None) -> None:
        record = self._omero.records.get(int(fileId))
        if record is None or record.kind != "OriginalFile":
            raise security_violation(f"OriginalFile:{fileId} not found")
        if not self._conn._can_read(record, _ctx):
            raise security_violation(f"OriginalFile:{fileId} not readable")
        self._file = record
        self._buffer = bytearray(record.data.get("content", b""))

    @counted("RawFileStore.getFileId")
    def getFileId(self, _ctx: Any = None) -> int:
        return self._current().id

    @counted("RawFileStore.read")
    def read(self, position: int, length: int, _ctx: Any = None) -> bytes:
        self._current()
        return bytes(self._buffer[position:position + length])

    @counted("RawFileStore.size")
    def size(self, _ctx: Any = None) -> int:
        self._current()
        return len(self._buffer)

    @counted("RawFileStore.exists")
    def exists(self, _ctx: Any = None) -> bool:
        return self._current().id in self._omero.records

    @counted("RawFileStore.write")
    def write(self, buf: bytes, position: int, length: int, _ctx: Any = None) -> None:
        record = self._current()
        if not self._omero.can(self._conn._acting_user, "edit", record):
            raise security_violation(f"{self._conn._acting_user.name} may not write {record.id}")
        end = position + length
        if len(self._buffer) < end:
            self._buffer.extend(b"\0" * (end - len(self._buffer)))
        self._buffer[position:end] = buf[:length]

    @counted("RawFileStore.truncate")
    def truncate(self, length: int, _ctx: Any = None) -> bool:
        self._current()
        if length < len(self._buffer):
            del self._buffer[length:]
            return True
        return False

    @counted("RawFileStore.save")
    def save(self, _ctx: Any = None) -> omero.model.OriginalFileI:
        record = self._current()
        record.data["content"] = bytes(self._buffer)
        return model.to_model(self._omero, self._conn._acting_user, record)

    @counted("RawFileStore.close")
    def close(self, _ctx: Any = None) -> None:
        if self._file is not None and not self._closed:
            self._file.data["content"] = bytes(self._buffer)
        self._closed = True
