"""The original's back end: run the IMS_Export.py OMERO server script (which calls
ImarisConvertBioformats on the server) and take its outputs.

The script is found by file name; a start that finds no free script processor is retried every
OMERO_IMS_SCRIPT_START_RETRY_INTERVAL seconds for up to OMERO_IMS_SCRIPT_START_TIMEOUT, except
when the server's `omero.scripts.processors` is 0 (processors disabled): then it fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import omero
from omero.rtypes import rlong, unwrap

_processor_cache: dict[str, tuple[float, int | None]] = {}


class ScriptExportError(RuntimeError):
    """The script back end cannot export (no script, no processor, script failed)."""


def _basename(name: str) -> str:
    return PurePosixPath(name).name


def find_script_id(scripts: Any, script_name: str) -> int:
    """Match the file name with or without its extension, as the original did."""
    wanted = {_basename(script_name), PurePosixPath(_basename(script_name)).stem}
    for script in scripts.getScripts():
        name = unwrap(script.getName()) or ""
        if name in wanted or PurePosixPath(name).stem in wanted:
            return int(unwrap(script.getId()))
    raise ScriptExportError(f"the OMERO server has no script named {script_name} "
                            "(upload IMS_Export.py as an official script, or set "
                            "OMERO_IMS_EXPORT_BACKEND=writer)")


def configured_processors(admin_conn: Any, ttl: float, now: Callable[[], float] = time.monotonic
                          ) -> int | None:
    """omero.scripts.processors (readable by administrators only), cached for `ttl` seconds;
    None when unknown or unset."""
    cached = _processor_cache.get("value")
    if cached and now() - cached[0] < ttl:
        return cached[1]
    try:
        raw = admin_conn.getConfigService().getConfigValue("omero.scripts.processors")
        value: int | None = int(raw) if str(raw).strip() else None
    except (omero.SecurityViolation, ValueError):
        value = None
    _processor_cache["value"] = (now(), value)
    return value


def start_script(scripts: Any, script_id: int, inputs: dict[str, Any], *,
                 processors: Callable[[], int | None], start_timeout: float,
                 retry_interval: float, on_wait: Callable[[str], None] = lambda _: None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> Any:
    """runScript, retried while no processor is free; fail fast when processors are off."""
    deadline = clock() + start_timeout
    while True:
        try:
            return scripts.runScript(script_id, inputs, 0)
        except omero.NoProcessorAvailable as exc:
            if processors() == 0:
                raise ScriptExportError(
                    "script processors are disabled on the OMERO server "
                    "(omero.scripts.processors = 0)") from exc
            if clock() + retry_interval > deadline:
                raise ScriptExportError(
                    f"no script processor became free within {start_timeout:g} s") from exc
            on_wait(f"no script processor free; retrying in {retry_interval:g} s")
            sleep(retry_interval)


def run_export_script(conn: Any, admin_conn: Any, image_id: int, settings: Any,
                      on_state: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run the script for one image as `conn`'s user; returns its outputs as plain values."""
    on_state("finding_script")
    scripts = conn.getScriptService()
    script_id = find_script_id(scripts, settings.script_name)
    on_state("running_script")
    process = start_script(
        scripts, script_id, {"Image_ID": rlong(int(image_id))},
        processors=lambda: configured_processors(admin_conn, settings.processor_config_ttl),
        start_timeout=settings.script_start_timeout,
        retry_interval=settings.script_retry_interval, on_wait=on_state)
    try:
        deadline = time.monotonic() + settings.script_timeout
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise ScriptExportError(
                    f"the export script did not finish in {settings.script_timeout} s")
            time.sleep(1)
        results = {key: unwrap(value) for key, value in process.getResults(0).items()}
    finally:
        process.close(True)  # detach: the server keeps the job's record
    if "File_Annotation_Id" not in results and "File_Annotation" not in results:
        raise ScriptExportError("the export script failed: "
                                f"{results.get('Message') or results.get('stderr') or 'no output'}")
    annotation = results.get("File_Annotation_Id") or results.get("File_Annotation")
    if hasattr(annotation, "getId"):
        annotation = unwrap(annotation.getId())
    return {"file_annotation": int(annotation), "export_name": results.get("Export_Name"),
            "export_path": results.get("Export_Path"), "message": results.get("Message")}
