"""Reading an upload request's JSON: the file list, the options, the SEM-EDX settings and
associations; anything malformed is a RequestError naming the field."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from omero_plugin_common.web import RequestError

from ..config import upload_settings
from ..paths import UnsafePath, junk_reason, safe_relative_path

SEM_EDX = "sem_edx_spectra"
SEM_EDX_DEFAULTS = {"create_tables": True, "create_figures_attachments": True,
                    "create_figures_images": True}  # the original's defaults
ORPHAN_PREFIX = "Orphaned_images_base_path_import_"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise RequestError(f"{key} must be true or false")
    return value


def _int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{name} must be an integer")
    if value < low or (high is not None and value > high):
        raise RequestError(f"{name} must be from {low} to {high}" if high is not None
                           else f"{name} must be at least {low}")
    return value


def _sha(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.match(value.lower()):
        raise RequestError(f"{name} must be 64 hexadecimal characters")
    return value.lower()


def dataset_name_for(relative: PurePosixPath, orphan: str) -> str:
    """One dataset per top-level folder; files at the root go to the orphan dataset."""
    return relative.parts[0] if len(relative.parts) > 1 else orphan


def parse_files(raw: Any, special: str | None) -> list[dict[str, Any]]:
    settings = upload_settings()
    if not isinstance(raw, list) or not raw:
        raise RequestError("files must be a non-empty list")
    if len(raw) > settings.max_files:
        raise RequestError(f"a job may list at most {settings.max_files} files", 413)
    files, seen = [], set()
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RequestError(f"files[{n}] must be an object")
        try:
            relative = safe_relative_path(item.get("relative_path"))
        except UnsafePath as exc:
            raise RequestError(f"files[{n}].relative_path: {exc}") from None
        if str(relative) in seen:
            raise RequestError(f"files[{n}].relative_path: {relative} is listed twice")
        seen.add(str(relative))
        size = _int(item.get("size"), f"files[{n}].size", 0)
        import_skip = _bool(item, "import_skip", False)
        if special == SEM_EDX and relative.suffix.lower() == ".txt":
            import_skip = True  # spectra are attached to images, never imported
        files.append({
            "relative_path": str(relative), "size": size,
            "sha256": _sha(item.get("sha256"), f"files[{n}].sha256"),
            "compatibility_skip": _bool(item, "compatibility_skip", False),
            "import_skip": import_skip, "skip_reason": junk_reason(relative),
        })
    return files


def _associations(raw: Any, files: list[dict[str, Any]]) -> dict[str, str]:
    """{spectrum path: image file path}, both listed in the job; unlisted spectra go to the
    image of the same name in their folder."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RequestError("sem_edx_associations must map spectrum paths to image paths")
    listed = {f["relative_path"] for f in files}
    clean = {}
    for spectrum, image in raw.items():
        try:
            pair = (str(safe_relative_path(spectrum)), str(safe_relative_path(image)))
        except UnsafePath as exc:
            raise RequestError(f"sem_edx_associations: {exc}") from None
        if not set(pair) <= listed:
            raise RequestError(f"sem_edx_associations: {spectrum} → {image} names a file the "
                               "job does not list")
        clean[pair[0]] = pair[1]
    return clean


def _sem_edx_settings(raw: Any) -> dict[str, bool]:
    if raw is None:
        return dict(SEM_EDX_DEFAULTS)
    if not isinstance(raw, dict) or set(raw) - set(SEM_EDX_DEFAULTS):
        raise RequestError(f"sem_edx_settings may only set {', '.join(SEM_EDX_DEFAULTS)}")
    return {**SEM_EDX_DEFAULTS, **{key: _bool(raw, key, True) for key in raw}}
