"""Acquisition metadata → key/value pairs (the original's "acq" mode).

`collect` reads what the image wrapper offers; `to_pairs` is the pure mapping: acquisition date,
objective, per-channel label/emission/excitation, detector binning/gain, dimensions, and the
original metadata as `BF_<key>`. Values longer than 250 characters move to a text file
attached to the image (`acquisition_metadata.txt`) and leave a placeholder.
"""

from __future__ import annotations

from typing import Any

from omero_plugin_common.omero_helpers import get_text, unwrap

MAX_VALUE_LENGTH = 250
FULL_METADATA_FILE = "acquisition_metadata.txt"
PLACEHOLDER = f"(longer than {MAX_VALUE_LENGTH} characters; see {FULL_METADATA_FILE})"


def _optional(obj: Any, method: str, *args: Any) -> Any:
    """Call a real omero-py accessor the test double may not offer (documented as unverified
    there); metadata that is absent or unreadable is simply left out."""
    func = getattr(obj, method, None)
    if func is None:
        return None
    try:
        return func(*args)
    except Exception:  # a missing optional link (no objective, no detector) raises variously
        return None


def collect(image: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "size": [image.getSizeX(), image.getSizeY(), image.getSizeZ(), image.getSizeC(),
                 image.getSizeT()],
        "pixel_type": image.getPixelsType(),
        "channels": [{"label": label} for label in image.getChannelLabels()],
    }
    for axis in "XYZ":
        size = unwrap(image.getPixelSizeX() if axis == "X" else
                      image.getPixelSizeY() if axis == "Y" else image.getPixelSizeZ())
        if size is not None:
            raw[f"pixel_size_{axis.lower()}"] = size
    date = _optional(image, "getAcquisitionDate")
    if date is not None:
        raw["acquisition_date"] = date.isoformat() if hasattr(date, "isoformat") else str(date)
    objective = _optional(image, "getObjectiveSettings")
    if objective is not None:
        raw["objective_id"] = get_text(_optional(objective, "getObjective") and
                                       objective.getObjective().getId())
        raw["correction_collar"] = _optional(objective, "getCorrectionCollar")
    original = _optional(image, "loadOriginalMetadata")
    if original:
        # (file annotation, global metadata, series metadata) as omero-py returns them.
        raw["original"] = {str(k): v for k, v in [*(original[1] or []), *(original[2] or [])]}
    return raw


def to_pairs(raw: dict[str, Any]) -> tuple[list[tuple[str, str]], str]:
    """(pairs, overflow text); overflow is empty when every value fits."""
    pairs: list[tuple[str, str]] = []
    if raw.get("acquisition_date"):
        pairs.append(("Acquisition date", str(raw["acquisition_date"])))
    if raw.get("objective_id"):
        pairs.append(("Objective", str(raw["objective_id"])))
    if raw.get("correction_collar") is not None:
        pairs.append(("Correction collar", str(raw["correction_collar"])))
    if raw.get("size"):
        pairs.append(("Dimensions XYZCT", " x ".join(str(s) for s in raw["size"])))
    if raw.get("pixel_type"):
        pairs.append(("Pixel type", str(raw["pixel_type"])))
    for axis in "xyz":
        if raw.get(f"pixel_size_{axis}") is not None:
            pairs.append((f"Pixel size {axis.upper()} (µm)", str(raw[f"pixel_size_{axis}"])))
    for n, channel in enumerate(raw.get("channels") or [], 1):
        for field, key in (("label", "label"), ("emission", "emission wavelength"),
                           ("excitation", "excitation wavelength")):
            if channel.get(field) not in (None, ""):
                pairs.append((f"Channel {n} {key}", str(channel[field])))
    for n, detector in enumerate(raw.get("detectors") or [], 1):
        for field in ("binning", "gain"):
            if detector.get(field) not in (None, ""):
                pairs.append((f"Detector {n} {field}", str(detector[field])))
    for key, value in sorted((raw.get("original") or {}).items()):
        pairs.append((f"BF_{key}", str(value)))
    overflow = [f"{k}: {v}" for k, v in pairs if len(v) > MAX_VALUE_LENGTH]
    if not overflow:
        return pairs, ""
    pairs = [(k, PLACEHOLDER if len(v) > MAX_VALUE_LENGTH else v) for k, v in pairs]
    pairs.append(("full_metadata_file", FULL_METADATA_FILE))
    return pairs, "\n".join(overflow) + "\n"
