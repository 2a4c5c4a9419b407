"""The bodies of the write and delete jobs, batch by batch.

Per batch of images: one query for their existing MapAnnotations, at most one delete and one
save per group. Each batch runs as a job step, so a resumed job skips finished batches; a step
checks OMERO before writing (an image that already carries the identical plugin annotation is
skipped), because a worker can die between the OMERO write and the step's commit.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..config import omp_settings
from . import acquisition, omero_io, ownership, parsing, safe_regex

ACTIONS = ("write", "acquisition", "delete_all", "delete_plugin")
DELETE_MODES = ("keep", "all", "plugin")
log = logging.getLogger(__name__)


class Context(Protocol):
    params: dict[str, Any]

    def progress(self, done: int, total: int | None = None,
                 message: str | None = None) -> None: ...

    def step(self, key: str, action: Callable[[Any], Any]) -> Any: ...


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def run(conn: Any, ctx: Context, action: str) -> dict[str, Any]:
    params = ctx.params
    settings = omp_settings()
    listed = omero_io.dataset_images(conn, params["dataset_ids"])
    if params.get("image_ids"):
        wanted = set(params["image_ids"])
        listed = [r for r in listed if r.id in wanted]
    # The image list is recorded once, so a resumed job cuts the same batches even if the
    # datasets changed meanwhile (images deleted since are left out).
    order = ctx.step("images", lambda _tx: [r.id for r in listed])
    by_id = {r.id: r for r in listed}
    refs = [by_id[i] for i in order if i in by_id]
    total = len(refs)
    ctx.progress(0, total, f"{_images(total)} in {_count(len(params['dataset_ids']), 'dataset')}.")
    handler = _HANDLERS[action]
    totals: dict[str, int] = {}
    done = 0
    size = params.get("batch_size") or settings.batch_size
    for n, batch in enumerate(batches(refs, size), 1):
        result = ctx.step(f"{action}-batch-{n}",
                          lambda _tx, batch=batch: handler(conn, batch, params, settings))
        for key, value in result.items():
            totals[key] = totals.get(key, 0) + value
        # The counters are for operators; the user's log says where the job is.
        log.info("omp %s batch %d: %s", action, n,
                 ", ".join(f"{k} {v}" for k, v in sorted(result.items())))
        ctx.progress(done + len(batch), total,
                     f"Image {done + 1} of {total} done." if len(batch) == 1 else
                     f"Images {done + 1} to {done + len(batch)} of {total} done.")
        done += len(batch)
    summary = summarize(action, total, totals)
    ctx.progress(done, total, summary)
    return {"images": total, **totals, "summary": summary}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _images(n: int) -> str:
    return _count(n, "image")


def summarize(action: str, total: int, totals: dict[str, int]) -> str:
    """The job's outcome as a sentence about the user's images."""
    done = {"write": "Key/value pairs written on {}", "acquisition":
            "Acquisition metadata written on {}"}.get(action)
    parts = []
    if done:
        parts.append(done.format(_images(totals.get("written", 0))) + f" of {total}")
        if totals.get("deleted"):
            parts.append(f"{_count(totals['deleted'], 'older annotation')} replaced")
    else:
        parts.append(f"{_count(totals.get('deleted', 0), 'key/value annotation')} deleted "
                     f"from {_images(total)}")
    if totals.get("not_permitted"):
        parts.append(f"{_images(totals['not_permitted'])} skipped: you may not change them")
    if totals.get("no_values"):
        parts.append(f"{_count(totals['no_values'], 'filename')} gave no values")
    if totals.get("regex_timeouts"):
        parts.append(f"{_count(totals['regex_timeouts'], 'filename')} took the regular "
                     "expression too long and were skipped")
    if totals.get("names_too_long"):
        parts.append(f"{_count(totals['names_too_long'], 'filename')} too long to parse "
                     "skipped")
    if totals.get("kept_foreign"):
        parts.append(f"{_count(totals['kept_foreign'], 'annotation')} not written by this "
                     "plugin kept")
    if totals.get("still_present"):
        parts.append(f"{_count(totals['still_present'], 'annotation')} could not be deleted")
    return "; ".join(parts) + "."


def _write(conn: Any, batch: Sequence[omero_io.ImageRef], params: dict[str, Any],
           settings: Any) -> dict[str, int]:
    parser = parsing.ParserSettings.from_dict(params["parser"])
    writable = [r for r in batch if r.writable]
    rows = []
    failed = no_values = too_long = 0
    reviewed = params.get("values")  # values the user reviewed (AI parsing), not parsed
    if reviewed is not None:
        parsed = [(r.name, [v for v in reviewed.get(str(r.id), []) if v][:parsing.MAX_VARIABLES])
                  for r in writable]
    else:
        try:  # one CPU-time limit for the batch, as for a preview
            parsed = parsing.parse_names([r.name for r in writable], parser,
                                         settings.regex_time_limit)
        except safe_regex.RegexError:
            parsed, failed = [], len(writable)
    for ref, row in zip(writable, parsed, strict=False):  # nothing when the limit was hit
        if row is None:
            too_long += 1
            continue
        pairs = list(zip(parsing.key_names(parser.variables, len(row[1])), row[1], strict=True))
        if pairs:
            rows.append((ref, ownership.with_mark(pairs, settings.hash_secret)))
        else:
            no_values += 1
    deleted, rows = _replace_existing(conn, rows, params.get("delete_mode", "keep"),
                                      settings.hash_secret)
    written = omero_io.save_map_annotations(conn, rows)
    return {"written": written, "deleted": deleted, "not_permitted": len(batch) - len(writable),
            "regex_timeouts": failed, "no_values": no_values, "names_too_long": too_long}


def _replace_existing(conn: Any, rows: list, mode: str, secret: str) -> tuple[int, list]:
    """Apply the delete mode; drop rows whose identical annotation already exists."""
    existing = omero_io.map_annotations_of(conn, [ref.id for ref, _ in rows])
    by_image: dict[int, list[omero_io.ExistingAnnotation]] = {}
    for ann in existing:
        by_image.setdefault(ann.image_id, []).append(ann)
    to_delete, keep_rows = [], []
    for ref, pairs in rows:
        anns = by_image.get(ref.id, [])
        if any(a.pairs == pairs for a in anns):
            continue  # already written (a resumed step)
        keep_rows.append((ref, pairs))
        for ann in anns:
            owned = ownership.is_plugin_owned(ann.pairs, secret)
            if ann.deletable and (mode == "all" or (mode == "plugin" and owned)):
                to_delete.append(ann.id)
    return omero_io.delete_annotations(conn, sorted(set(to_delete))), keep_rows


def _acquisition(conn: Any, batch: Sequence[omero_io.ImageRef], params: dict[str, Any],
                 settings: Any) -> dict[str, int]:
    writable = {r.id: r for r in batch if r.writable}
    rows, overflow_files = [], 0
    for image in conn.getObjects("Image", list(writable)):
        ref = writable[image.getId()]
        pairs, overflow = acquisition.to_pairs(acquisition.collect(image))
        if overflow:
            _attach_text(conn, image, acquisition.FULL_METADATA_FILE, overflow)
            overflow_files += 1
        rows.append((ref, ownership.with_mark(pairs, settings.hash_secret)))
    deleted, rows = _replace_existing(conn, rows, params.get("delete_mode", "keep"),
                                      settings.hash_secret)
    written = omero_io.save_map_annotations(conn, rows)
    return {"written": written, "deleted": deleted, "files": overflow_files,
            "not_permitted": len(batch) - len(writable)}


def _attach_text(conn: Any, image: Any, name: str, text: str) -> None:
    data = text.encode("utf-8")
    original = conn.createOriginalFileFromFileObj(io.BytesIO(data), "", name, len(data),
                                                  mimetype="text/plain")
    from omero.gateway import FileAnnotationWrapper

    ann = FileAnnotationWrapper(conn)
    ann.setNs(omero_io.FULL_METADATA_NS)
    ann.setFile(original._obj)
    ann.save()
    image.linkAnnotation(ann)


def _delete(conn: Any, batch: Sequence[omero_io.ImageRef], params: dict[str, Any],
            settings: Any, plugin_only: bool) -> dict[str, int]:
    existing = omero_io.map_annotations_of(conn, [r.id for r in batch])
    chosen = [a for a in existing
              if not plugin_only or ownership.is_plugin_owned(a.pairs, settings.hash_secret)]
    deletable = [a.id for a in chosen if a.deletable]
    omero_io.delete_annotations(conn, sorted(set(deletable)))
    # Confirmed by re-query, as the original did: what is still there was not deleted.
    remaining = {a.id for a in omero_io.map_annotations_of(conn, [r.id for r in batch])}
    return {"deleted": len(set(deletable) - remaining),
            "not_permitted": len(chosen) - len(deletable),
            "kept_foreign": len(existing) - len(chosen) if plugin_only else 0,
            "still_present": len(set(deletable) & remaining)}


_HANDLERS: dict[str, Callable[..., dict[str, int]]] = {
    "write": _write,
    "acquisition": _acquisition,
    "delete_all": lambda c, b, p, s: _delete(c, b, p, s, plugin_only=False),
    "delete_plugin": lambda c, b, p, s: _delete(c, b, p, s, plugin_only=True),
}
