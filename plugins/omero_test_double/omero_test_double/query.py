"""A small, honest subset of HQL for the fake IQuery service.

Supported shape (one statement, case-insensitive keywords)::

    [select [distinct] <alias> | count([distinct] <alias>) | <path>, <path> ...]
    from <Class> [as] <alias>
    [[left [outer]] join [fetch] <alias>.<path> [[as] <alias2>]] ...
    [where <path> <op> <value> [and ...]]
    [order by <path> [asc|desc], ...]

with ``<op>`` one of = != <> < <= > >= like in (:list) / not in, is [not] null, values
``:param``, numbers or 'strings'; paths over id, name, description, ns, textValue, path,
mimetype, size, details.owner / details.group (id, omeName, name), details.creationEvent,
parent, child, file, pixels, image and the link collections (annotationLinks, datasetLinks,
imageLinks, projectLinks), and for plates: plate, well, row, column, wells, wellSamples,
screenLinks, plateLinks. ROIs, shapes, filesets and plate acquisitions do not exist in the fake:
queries over them answer nothing. Anything else raises NotImplementedError naming the query, so a
plugin's new query shape shows up as a missing feature of the fake instead of a wrong answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omero.rtypes import unwrap, wrap

from .errors import api_usage
from .store import ANNOTATION_KINDS, Group, Link, Record, User

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway

_QUERY = re.compile(
    r"^(?:select\s+(?P<distinct>distinct\s+)?(?P<select>.+?)\s+)?from\s+(?P<kind>\w+)"
    r"\s+(?:as\s+)?(?P<alias>\w+)(?P<rest>.*)$", re.I | re.S)
_JOIN = re.compile(
    r"^\s*(?:left\s+(?:outer\s+)?)?join\s+(?P<fetch>fetch\s+)?(?P<path>[\w.]+)"
    r"(?:\s+(?:as\s+)?(?!where\b|order\b|join\b|left\b)(?P<alias>\w+))?", re.I)
_CONDITION = re.compile(
    r"^(?P<path>[\w.]+)\s*(?P<op>=|!=|<>|<=|>=|<|>|\bnot\s+in\b|\bin\b|\blike\b|"
    r"\bis\s+not\s+null\b|\bis\s+null\b)\s*(?P<value>.*)$", re.I | re.S)
_COLLECTIONS = {
    "annotationLinks": lambda s, r: s.links_of(parent=r, kind_suffix="AnnotationLink"),
    "datasetLinks": lambda s, r: (
        s.links_of(parent=r, kind_suffix="ProjectDatasetLink") if r.kind == "Project"
        else s.links_of(child=r, kind_suffix="DatasetImageLink")),
    "imageLinks": lambda s, r: s.links_of(parent=r, kind_suffix="DatasetImageLink"),
    "projectLinks": lambda s, r: s.links_of(child=r, kind_suffix="ProjectDatasetLink"),
    "screenLinks": lambda s, r: s.links_of(child=r, kind_suffix="ScreenPlateLink"),
    "plateLinks": lambda s, r: s.links_of(parent=r, kind_suffix="ScreenPlateLink"),
    # A plate's wells and a well's samples are its parts, not links.
    "wells": lambda s, r: list(r.data.get("wells", [])),
    "wellSamples": lambda s, r: list(r.data.get("samples", [])),
}


class Unsupported(NotImplementedError):
    pass


class MissingParameter(KeyError):
    pass


@dataclass
class _Details:
    item: Record | Link


@dataclass
class _Event:
    """details.creationEvent / updateEvent: present, with the record's time."""

    time: int


@dataclass
class Parsed:
    text: str
    kind: str
    alias: str
    select: list[str]
    count: bool
    distinct: bool
    joins: list[tuple[str, str | None, bool, bool]] = field(default_factory=list)
    conditions: list[tuple[str, str, str]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)


def parse(query: str) -> Parsed:
    text = " ".join(query.split())
    match = _QUERY.match(text)
    if not match:
        raise Unsupported(text)
    alias = match["alias"]
    select = (match["select"] or alias).strip()
    count_match = re.fullmatch(r"count\(\s*(distinct\s+)?(\w+)\s*\)", select, re.I)
    parsed = Parsed(text, match["kind"], alias, [], bool(count_match),
                    bool(match["distinct"] or (count_match and count_match[1])))
    parsed.select = [count_match[2]] if count_match else [s.strip() for s in select.split(",")]
    rest = match["rest"]
    while True:
        join = _JOIN.match(rest)
        if not join:
            break
        left = rest.lstrip().lower().startswith("left")
        parsed.joins.append((join["path"], join["alias"], bool(join["fetch"]), left))
        rest = rest[join.end():]
    rest = rest.strip()
    order_at = re.search(r"\border\s+by\b", rest, re.I)
    if order_at:
        for part in rest[order_at.end():].split(","):
            words = part.split()
            if not words or len(words) > 2:
                raise Unsupported(text)
            parsed.order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
        rest = rest[:order_at.start()].strip()
    if rest:
        if not rest.lower().startswith("where "):
            raise Unsupported(text)
        where = rest[6:]
        if re.search(r"\bor\b|\(\s*select\b", where, re.I):
            raise Unsupported(text)
        for part in re.split(r"\s+and\s+", where, flags=re.I):
            condition = _CONDITION.match(part.strip())
            if not condition:
                raise Unsupported(text)
            parsed.conditions.append((condition["path"], " ".join(condition["op"].lower()
                                                                  .split()),
                                      condition["value"].strip()))
    return parsed


class Engine:
    def __init__(self, conn: FakeBlitzGateway, ctx: Any) -> None:
        self.conn = conn
        self.server = conn._omero
        self.user = conn._acting_user
        self.scope = conn._scope(ctx)

    def visible(self, item: Any) -> bool:
        if isinstance(item, (Record, Link)):
            return item.group in self.scope and self.server.can(self.user, "read", item)
        return True

    def run(self, query: str, params: Any) -> tuple[Parsed, list[dict[str, Any]]]:
        parsed = parse(query)
        try:
            values = {k: unwrap(v) for k, v in (getattr(params, "map", None) or {}).items()}
            rows = self._rows(parsed, values)
            for path, descending in reversed(parsed.order or [(parsed.alias + ".id", False)]):
                rows.sort(key=lambda row, p=path: _sortable(self.resolve(row, p)),
                          reverse=descending)
        except MissingParameter as exc:
            raise api_usage(f"query parameter :{exc.args[0]} not given: {parsed.text!r}"
                            ) from None
        except Unsupported as exc:
            raise NotImplementedError(
                f"the OMERO test double does not support this query: {parsed.text!r} "
                f"({exc}); extend plugins/omero_test_double/omero_test_double/query.py"
            ) from None
        return parsed, _page(rows, params)

    def _rows(self, parsed: Parsed, values: dict[str, Any]) -> list[dict[str, Any]]:
        kinds = _kinds(parsed.kind)
        rows = [{parsed.alias: item} for item in self._candidates(kinds) if self.visible(item)]
        for path, alias, _fetch, left in parsed.joins:
            expanded = []
            for row in rows:
                targets = self._join_targets(row, path)
                if not targets and left:
                    expanded.append({**row, alias: None} if alias else row)
                for target in targets:
                    expanded.append({**row, alias: target} if alias else row)
            rows = expanded
        rows = [row for row in rows if all(
            self._test(row, c, values) for c in parsed.conditions)]
        return rows

    def _candidates(self, kinds: tuple[str, ...]) -> list[Any]:
        if kinds == ("Experimenter",):
            return list(self.server.users.values())
        if kinds == ("ExperimenterGroup",):
            return list(self.server.groups.values())
        if all(k.endswith("Link") for k in kinds):
            return [link for link in self.server.links.values() if link.kind in kinds]
        return [record for record in self.server.records.values() if record.kind in kinds]

    def _join_targets(self, row: dict[str, Any], path: str) -> list[Any]:
        head, _, last = path.rpartition(".")
        if last in _COLLECTIONS:
            owner = self.resolve(row, head)
            if not isinstance(owner, Record):
                return []
            return [link for link in _COLLECTIONS[last](self.server, owner) if self.visible(link)]
        target = self.resolve(row, path)
        if target is None or not self.visible(target):
            return []
        return [target]

    def resolve(self, row: dict[str, Any], path: str) -> Any:
        alias, *steps = path.split(".")
        if alias not in row:
            raise Unsupported(f"unknown alias {alias!r}")
        node = row[alias]
        for step in steps:
            if node is None:
                return None
            node = self._step(node, step)
        return node

    def _step(self, node: Any, step: str) -> Any:
        if isinstance(node, (Record, Link)) and step == "details":
            return _Details(node)
        if isinstance(node, _Details):
            if step == "owner":
                return node.item.owner
            if step == "group":
                return node.item.group
            if step in ("creationEvent", "updateEvent"):
                return _Event(getattr(node.item, "created", 0))
            raise Unsupported(f"details.{step}")
        if isinstance(node, User):
            fields = {"id": node.id, "omeName": node.name, "firstName": node.first_name,
                      "lastName": node.last_name, "email": node.email}
            if step in fields:
                return fields[step]
            raise Unsupported(f"Experimenter.{step}")
        if isinstance(node, _Event):
            if step == "time":
                return node.time
            raise Unsupported(f"Event.{step}")
        if isinstance(node, Group):
            if step in ("id", "name"):
                return getattr(node, step)
            raise Unsupported(f"ExperimenterGroup.{step}")
        if isinstance(node, Link):
            if step in ("id", "parent", "child"):
                return getattr(node, step)
            raise Unsupported(f"{node.kind}.{step}")
        if isinstance(node, Record):
            data = node.data
            fields = {
                "id": lambda: node.id, "name": lambda: node.name,
                "description": lambda: node.description, "ns": lambda: data.get("ns"),
                "textValue": lambda: data.get("text"), "path": lambda: data.get("path"),
                "mimetype": lambda: data.get("mimetype"),
                "size": lambda: len(data.get("content", b"")),
                "file": lambda: data.get("file"), "pixels": lambda: data.get("pixels"),
                "image": lambda: data.get("image"), "plate": lambda: data.get("plate"),
                "well": lambda: data.get("well"), "row": lambda: data.get("row"),
                "column": lambda: data.get("column"),
            }
            if step in fields:
                return fields[step]()
            raise Unsupported(f"{node.kind}.{step}")
        raise Unsupported(step)

    def _test(self, row: dict[str, Any], condition: tuple[str, str, str],
              values: dict[str, Any]) -> bool:
        path, op, raw = condition
        left = _plain(self.resolve(row, path))
        if op == "is null":
            return left is None
        if op == "is not null":
            return left is not None
        right = _value(raw, values)
        if op in ("in", "not in"):
            found = left in {_plain(v) for v in (right if isinstance(right, list) else [right])}
            return found if op == "in" else not found
        if left is None:
            return False
        if op == "like":
            pattern = re.escape(str(right)).replace("%", ".*").replace("_", ".")
            return re.fullmatch(pattern, str(left), re.S) is not None
        right = _plain(right)
        return {
            "=": lambda: left == right, "!=": lambda: left != right,
            "<>": lambda: left != right, "<": lambda: left < right,
            "<=": lambda: left <= right, ">": lambda: left > right,
            ">=": lambda: left >= right,
        }[op]()


# Classes the fake never holds (no ROIs, filesets or plate acquisitions): queries over them are
# answered truthfully with nothing, so the real gateway's generic parent lookups work.
EMPTY_KINDS = frozenset({"PlateAcquisition", "Roi", "Shape", "Fileset"})


def _kinds(kind: str) -> tuple[str, ...]:
    if kind in EMPTY_KINDS:
        return (kind,)
    if kind == "Annotation":
        return tuple(sorted(ANNOTATION_KINDS))
    if kind == "AnnotationLink":
        raise Unsupported("polymorphic AnnotationLink")
    known = ({"Project", "Dataset", "Image", "Pixels", "OriginalFile", "Experimenter",
              "ExperimenterGroup", "ProjectDatasetLink", "DatasetImageLink", "Screen", "Plate",
              "Well", "WellSample", "ScreenPlateLink"} | ANNOTATION_KINDS)
    if kind in known or kind.endswith("AnnotationLink"):
        return (kind,)
    raise Unsupported(f"class {kind}")


def _plain(value: Any) -> Any:
    if isinstance(value, (Record, Link, User, Group)):
        return value.id
    return value


def _value(raw: str, values: dict[str, Any]) -> Any:
    raw = raw.strip()
    if raw.startswith("(") and raw.endswith(")"):
        raw = raw[1:-1].strip()
    if raw.startswith(":"):
        name = raw[1:]
        if name not in values:
            raise MissingParameter(name)
        return values[name]
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    raise Unsupported(f"value {raw!r}")


def _sortable(value: Any) -> tuple[int, Any]:
    value = _plain(value)
    return (0, "") if value is None else (1, value)


def _page(rows: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
    theFilter = getattr(params, "theFilter", None)
    if theFilter is None:
        return rows
    offset = unwrap(theFilter.offset) or 0
    limit = unwrap(theFilter.limit)
    return rows[offset:offset + limit] if limit is not None else rows[offset:]


def project(engine: Engine, parsed: Parsed, rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows of rtypes, as IQuery.projection returns them."""
    if parsed.count:
        alias = parsed.select[0]
        items = [row[alias] for row in rows if row.get(alias) is not None]
        total = len({id(i) for i in items}) if parsed.distinct else len(items)
        return [[wrap(total)]]
    result = []
    seen = set()
    for row in rows:
        values = [_plain(engine.resolve(row, path)) for path in parsed.select]
        if parsed.distinct:
            key = tuple(values)
            if key in seen:
                continue
            seen.add(key)
        result.append([wrap(v) if v is not None else None for v in values])
    return result
