"""OMERO.tables: SharedResources.newTable/openTable and the Table service, over real
omero.grid columns (LongColumn, StringColumn, DoubleColumn, ImageColumn ...)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import omero.grid
import omero.model
from omero.rtypes import unwrap

from . import model
from .calls import counted
from .contract import fake_of
from .errors import api_usage, security_violation

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway
    from .store import Record

TABLES_MIMETYPE = "OMERO.tables"
_CONDITION = re.compile(r"^\(?\s*(\w+)\s*(==|!=|<=|>=|<|>)\s*([\w.+-]+)\s*\)?$")
_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


@dataclass
class TableData:
    file: Record
    headers: list[Any] | None = None
    columns: list[list[Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    modified: int = 0


@fake_of("omero.grid.SharedResourcesPrx")
class FakeSharedResources:
    def __init__(self, conn: FakeBlitzGateway) -> None:
        self._conn = conn
        self._omero = conn._omero

    @counted("SharedResources.areTablesEnabled")
    def areTablesEnabled(self, _ctx: Any = None) -> bool:
        return True

    @counted("SharedResources.repositories")
    def repositories(self, _ctx: Any = None) -> omero.grid.RepositoryMap:
        description = omero.model.OriginalFileI(1, False)
        return omero.grid.RepositoryMap(descriptions=[description], proxies=[None])

    @counted("SharedResources.newTable")
    def newTable(self, repoId: int, path: str, _ctx: Any = None) -> FakeTable:
        group = self._conn._write_group(_ctx)
        user = self._conn._acting_user
        if group not in user.groups and not user.admin:
            raise security_violation(f"{user.name} is not a member of {group.name}")
        file = self._omero._add_record(
            "OriginalFile", path.rsplit("/", 1)[-1], user, group,
            path=path.rsplit("/", 1)[0] + "/" if "/" in path else "/", content=b"",
            mimetype=TABLES_MIMETYPE)
        self._omero.tables[file.id] = TableData(file)
        return FakeTable(self._conn, self._omero.tables[file.id])

    @counted("SharedResources.openTable")
    def openTable(self, file: Any, _ctx: Any = None) -> FakeTable:
        data = self._omero.tables.get(file.id.val)
        if data is None or data.file.id not in self._omero.records:
            raise api_usage(f"OriginalFile:{file.id.val} is not a table")
        if not self._conn._can_read(data.file, _ctx):
            raise security_violation(f"OriginalFile:{file.id.val} not readable")
        return FakeTable(self._conn, data)


@fake_of("omero.grid.TablePrx")
class FakeTable:
    def __init__(self, conn: FakeBlitzGateway, data: TableData) -> None:
        self._conn = conn
        self._omero = conn._omero
        self._data = data
        self._closed = False

    def _ready(self, write: bool = False) -> TableData:
        if self._closed:
            raise api_usage("table is closed")
        if write and not self._omero.can(self._conn._acting_user, "edit", self._data.file):
            raise security_violation(f"{self._conn._acting_user.name} may not write this table")
        return self._data

    def _rows(self) -> int:
        columns = self._data.columns
        return len(columns[0]) if columns else 0

    def _make(self, indexes: list[int], rows: list[int]) -> list[Any]:
        data = self._data
        if data.headers is None:
            raise api_usage("table not initialized")
        made = []
        for index in indexes:
            if not 0 <= index < len(data.headers):
                raise api_usage(f"no column {index}")
            column = copy.copy(data.headers[index])
            column.values = [data.columns[index][row] for row in rows]
            made.append(column)
        return made

    @counted("Table.getOriginalFile")
    def getOriginalFile(self, _ctx: Any = None) -> Any:
        return model.to_model(self._omero, self._conn._acting_user, self._ready().file)

    @counted("Table.getHeaders")
    def getHeaders(self, _ctx: Any = None) -> list[Any]:
        data = self._ready()
        return self._make(list(range(len(data.headers or []))), [])

    @counted("Table.getNumberOfRows")
    def getNumberOfRows(self, _ctx: Any = None) -> int:
        self._ready()
        return self._rows()

    @counted("Table.initialize")
    def initialize(self, cols: list[Any], _ctx: Any = None) -> None:
        data = self._ready(write=True)
        if data.headers is not None:
            raise api_usage("table already initialized")
        names = [col.name for col in cols]
        if len(set(names)) != len(names) or not all(names):
            raise api_usage(f"column names must be unique and non-empty: {names}")
        data.headers = [copy.copy(col) for col in cols]
        for header in data.headers:
            header.values = []
        data.columns = [[] for _ in cols]

    @counted("Table.addData")
    def addData(self, cols: list[Any], _ctx: Any = None) -> None:
        data = self._ready(write=True)
        if data.headers is None:
            raise api_usage("table not initialized")
        if [type(c) for c in cols] != [type(h) for h in data.headers] or [
                c.name for c in cols] != [h.name for h in data.headers]:
            raise api_usage("addData columns must match the table's columns")
        lengths = {len(c.values) for c in cols}
        if len(lengths) > 1:
            raise api_usage(f"columns of different lengths {sorted(lengths)}")
        for stored, col in zip(data.columns, cols, strict=True):
            stored.extend(col.values)
        data.modified += 1

    @counted("Table.read")
    def read(self, colNumbers: list[int], start: int, stop: int, _ctx: Any = None
             ) -> omero.grid.Data:
        self._ready()
        rows = list(range(max(0, start), min(stop, self._rows())))
        return omero.grid.Data(lastModification=self._data.modified, rowNumbers=rows,
                               columns=self._make(list(colNumbers), rows))

    @counted("Table.readCoordinates")
    def readCoordinates(self, rowNumbers: list[int], _ctx: Any = None) -> omero.grid.Data:
        data = self._ready()
        # slice's body without its counter: readCoordinates is one call to the server.
        return self.slice.__wrapped__(self, list(range(len(data.headers or []))),
                                      rowNumbers)

    @counted("Table.slice")
    def slice(self, colNumbers: list[int], rowNumbers: list[int], _ctx: Any = None
              ) -> omero.grid.Data:
        self._ready()
        rows = list(rowNumbers) if rowNumbers else list(range(self._rows()))
        if any(not 0 <= r < self._rows() for r in rows):
            raise api_usage(f"rows {rows} outside 0..{self._rows() - 1}")
        columns = list(colNumbers) if colNumbers else list(range(len(self._data.headers or [])))
        return omero.grid.Data(lastModification=self._data.modified, rowNumbers=rows,
                               columns=self._make(columns, rows))

    @counted("Table.getWhereList")
    def getWhereList(self, condition: str, variables: dict[str, Any], start: int, stop: int,
                     step: int, _ctx: Any = None) -> list[int]:
        """Conditions ``(col op value)`` joined by ``&``; other PyTables expressions raise
        NotImplementedError."""
        data = self._ready()
        names = [h.name for h in data.headers or []]
        tests = []
        for part in condition.split("&"):
            match = _CONDITION.match(part.strip())
            if not match or match[1] not in names:
                raise NotImplementedError(
                    f"getWhereList condition {condition!r} is not supported by the test double")
            column, op, raw = match.groups()
            if raw in (variables or {}):
                value = unwrap(variables[raw])
            else:
                try:
                    value = float(raw) if "." in raw else int(raw)
                except ValueError:
                    raise NotImplementedError(f"getWhereList value {raw!r}") from None
            tests.append((names.index(column), _COMPARE[op], value))
        stop = self._rows() if stop in (0, None) else min(stop, self._rows())
        return [row for row in range(start, stop, step or 1)
                if all(test(data.columns[col][row], value) for col, test, value in tests)]

    @counted("Table.getAllMetadata")
    def getAllMetadata(self, _ctx: Any = None) -> dict[str, Any]:
        return dict(self._ready().metadata)

    @counted("Table.getMetadata")
    def getMetadata(self, key: str, _ctx: Any = None) -> Any:
        return self._ready().metadata.get(key)

    @counted("Table.setMetadata")
    def setMetadata(self, key: str, value: Any, _ctx: Any = None) -> None:
        self._ready(write=True).metadata[key] = value

    @counted("Table.setAllMetadata")
    def setAllMetadata(self, dict: dict[str, Any], _ctx: Any = None) -> None:
        self._ready(write=True).metadata.update(dict)

    @counted("Table.delete")
    def delete(self, _ctx: Any = None) -> None:
        data = self._ready()
        if not self._omero.can(self._conn._acting_user, "delete", data.file):
            raise security_violation(f"{self._conn._acting_user.name} may not delete this table")
        self._omero.tables.pop(data.file.id, None)
        self._omero.records.pop(data.file.id, None)

    @counted("Table.close")
    def close(self, _ctx: Any = None) -> None:
        self._closed = True
