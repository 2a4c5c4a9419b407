"""EMSA/MAS spectral data files (ISO 22029) read in one linear pass, with typed metadata.

Written here rather than taken from RosettaSciIO (HyperSpy's reader): see docs/plugins/upload.md,
"SEM-EDX". The plugin owns the limits and every message; a file whose meaning is not clear is
refused with a sentence saying why, never guessed at.
"""

from __future__ import annotations

import codecs
import datetime
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

MAX_BYTES = 20 * 1024 * 1024
MAX_HEADER_LINES = 1000  # the standard has about 60 keywords; vendors add a few dozen more
MAX_POINTS = 65536  # EDS detectors give 1,024 to 16,384 channels
MAX_LINE_CHARS = 4096  # the standard says 80
MAX_COLUMNS = 5  # values (Y) or x, y pairs (XY) on one data line
MAX_VALUE = 1e100  # no count or energy comes near; past 1e300 the plot's axis overflows
# Every line is a keyword, a data line with at least one point, or blank: a file with more lines
# is refused before any line is looked at.
MAX_LINES = MAX_HEADER_LINES + 2 * MAX_POINTS + 16

_NUMBER_TEXT = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(_NUMBER_TEXT)
# A whole data line: numbers separated by a comma and/or blanks, one trailing comma allowed.
# No text matches it in two ways (a separator is never empty, a number never holds one), so a
# line that fails costs time linear in its length, not exponential.
_DATA_LINE = re.compile(rf"{_NUMBER_TEXT}(?:(?:[ \t]*,[ \t]*|[ \t]+){_NUMBER_TEXT})*"
                        r"(?:[ \t]*,)?")
_SPACED_EXPONENT = re.compile(r"(?<=[0-9.])\s+(?=[eE][+-]?[0-9])")  # "2.0 E-06", seen in files
_PAREN_UNIT = re.compile(r"\(\s*(k?ev)\s*\)\s*$", re.IGNORECASE)  # "Energy Loss (eV)"
_ENERGY_UNITS = {"ev": "eV", "kev": "keV"}
_KEV_PER = {"eV": 0.001, "keV": 1.0}
# Default unit of each typed keyword (the standard's), and the units accepted as suffixes.
_BEAM_UNITS = {"kv": 1.0, "kev": 1.0, "v": 0.001, "ev": 0.001}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "min": 60.0}
_ANGLE_UNITS = {"dg": 1.0, "deg": 1.0, "degree": 1.0, "degrees": 1.0, "°": 1.0,
                "rad": 180 / math.pi, "mr": 0.18 / math.pi, "mrad": 0.18 / math.pi}
_TYPED = {"BEAMKV": ("beam_kv", "kv", _BEAM_UNITS, "beam energy"),
          "LIVETIME": ("live_time_s", "s", _TIME_UNITS, "live time"),
          "REALTIME": ("real_time_s", "s", _TIME_UNITS, "real time"),
          "ELEVANGLE": ("elevation_deg", "dg", _ANGLE_UNITS, "elevation angle"),
          "AZIMANGLE": ("azimuth_deg", "dg", _ANGLE_UNITS, "azimuth angle")}
# Keywords that decide where each point lies: given twice with different values, the file
# has two meanings and is refused.
_AXIS_KEYS = ("DATATYPE", "NCOLUMNS", "XUNITS", "XPERCHAN", "OFFSET")


class SpectrumError(ValueError):
    """A file that is not a readable EMSA/MSA spectrum; the message says where and why."""


class Keyword(NamedTuple):
    """One header line as written: `#NAME-unit: value` (`##NAME: value` for user keywords)."""
    line: int
    name: str  # upper case, without '#', spaces and units suffix
    unit: str  # the suffix after '-' ("kV"), "" when none
    value: str
    user_defined: bool = False


@dataclass(frozen=True)
class PeakLabel:
    z: int
    energy_kev: float
    symbol: str


@dataclass(frozen=True)
class Metadata:
    data_type: str  # "Y" or "XY"
    columns: int | None  # #NCOLUMNS
    declared_points: int | None  # #NPOINTS
    x_per_channel: float | None
    offset: float | None
    x_units: str  # "eV" or "keV"
    y_units: str
    signal_type: str
    beam_kv: float | None = None
    live_time_s: float | None = None
    real_time_s: float | None = None
    elevation_deg: float | None = None
    azimuth_deg: float | None = None
    date: datetime.date | None = None
    time: datetime.time | None = None


@dataclass
class Spectrum:
    title: str
    metadata: Metadata
    labels: list[PeakLabel]
    energy: list[float] = field(default_factory=list)  # in metadata.x_units, as in the file
    counts: list[float] = field(default_factory=list)
    keywords: list[Keyword] = field(default_factory=list)  # every header line, in file order
    warnings: list[str] = field(default_factory=list)

    @property
    def x_units(self) -> str:
        return self.metadata.x_units

    @property
    def energy_kev(self) -> list[float]:
        factor = _KEV_PER[self.metadata.x_units]
        return self.energy if factor == 1.0 else [e * factor for e in self.energy]

    def raw(self, name: str) -> list[str]:
        """Every value given for a keyword, in file order (duplicates kept)."""
        name = name.upper()
        return [k.value for k in self.keywords if k.name == name]


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise SpectrumError(f"the file is larger than {MAX_BYTES // 1048576} MB")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise SpectrumError("the file starts with a UTF-16 byte order mark but is not "
                                "UTF-16 text") from None
    elif raw.startswith(codecs.BOM_UTF8):
        try:
            text = raw[3:].decode("utf-8")
        except UnicodeDecodeError:
            raise SpectrumError("the file starts with a UTF-8 byte order mark but is not "
                                "UTF-8 text") from None
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # Oxford INCA and older writers use Latin-1 (µ, °)
    if "\x00" in text:
        raise SpectrumError("the file is binary, not EMSA/MSA text")
    return text


def _number(token: str) -> float | None:
    """A decimal number as the standard writes them, or None (also for NaN and infinity,
    which Python's float() would take, as it takes '1_000')."""
    if not _NUMBER.fullmatch(token):
        return None
    value = float(token)
    return value if math.isfinite(value) else None


def _header_number(keyword: Keyword) -> float | None:
    return _number(_SPACED_EXPONENT.sub("", keyword.value))


def _parse_keyword(text: str, number: int) -> tuple[Keyword, str]:
    """The keyword of a '#' line, and its value with only the one space after ':' removed: a
    long #TITLE is cut into several lines, anywhere, even inside a word."""
    user = text.startswith("##")
    key, _, value = text[2 if user else 1:].partition(":")
    name, unit = key.strip(), ""
    if not user and "-" in name:
        name, _, unit = name.rpartition("-")
        name, unit = name.strip(), unit.strip()
    verbatim = value[1:] if value.startswith(" ") else value
    return Keyword(number, name.upper(), unit, value.strip(), user), verbatim


def _values(text: str, number: int) -> list[float]:
    """The numbers of one data line: separated by commas and/or spaces or tabs, one trailing
    comma allowed (the standard's own writer leaves one)."""
    if _DATA_LINE.fullmatch(text):  # the common case, checked in one pass
        values = list(map(float, text.replace(",", " ").split()))
        if len(values) <= 2 * MAX_COLUMNS and all(-MAX_VALUE <= v <= MAX_VALUE for v in values):
            return values
    # Otherwise find what is wrong, to say so.
    if ";" in text:
        raise SpectrumError(f"line {number}: ';' is not an EMSA separator (values are "
                            "separated by commas or spaces; a decimal comma cannot be read)")
    parts = text.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    tokens: list[str] = []
    for part in parts:
        words = part.split()
        if not words:
            raise SpectrumError(f"line {number}: a value is missing between two commas")
        tokens.extend(words)
    if len(tokens) > 2 * MAX_COLUMNS:
        raise SpectrumError(f"line {number}: {len(tokens)} values on one line; the standard "
                            f"allows at most {MAX_COLUMNS} columns")
    values = []
    for token in tokens:
        value = _number(token)
        if value is None:
            raise SpectrumError(f"line {number}: {token[:40]!r} is not a finite number")
        if abs(value) > MAX_VALUE:
            raise SpectrumError(f"line {number}: {token[:40]!r} is out of range (no count or "
                                f"energy is beyond {MAX_VALUE:g})")
        values.append(value)
    return values


def parse_emsa(raw: bytes) -> Spectrum:
    """Read an EMSA/MAS file; SpectrumError (a sentence about the file) when it cannot be read
    or could be read in more than one way. Time and memory are linear in the file's size and
    bounded by the limits above."""
    text = _decode(raw)
    text = text.rstrip("\x1a \t\r\n")  # DOS end-of-file mark and trailing blank lines
    too_long = SpectrumError(f"the file has more than {MAX_LINES} lines: a spectrum holds at "
                             f"most {MAX_POINTS} points and {MAX_HEADER_LINES} header lines")
    # Counted before splitting, so millions of blank lines are never made into a list.
    if text.count("\n") + text.count("\r") > 2 * MAX_LINES:  # CR LF counts twice
        raise too_long
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) > MAX_LINES:
        raise too_long
    keywords: list[Keyword] = []
    title: list[str] = []
    rows: list[tuple[int, list[float]]] = []
    points = 0
    state = "header"  # then "data", then "end"
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_CHARS:
            raise SpectrumError(f"line {number} is longer than {MAX_LINE_CHARS} characters")
        stripped = line.strip()
        if state == "end":
            if stripped:
                raise SpectrumError(f"line {number}: text after #ENDOFDATA (is a second "
                                    "spectrum appended?)")
            continue
        if state == "header" and number > MAX_HEADER_LINES:
            raise SpectrumError(f"more than {MAX_HEADER_LINES} lines before #SPECTRUM: this is "
                                "not the header of a spectrum")
        if not stripped:
            continue
        if stripped.startswith("#"):
            keyword, verbatim = _parse_keyword(line.lstrip(), number)
            if keyword.name == "SPECTRUM" and not keyword.user_defined:
                if state == "data":
                    raise SpectrumError(f"line {number}: a second #SPECTRUM marker")
                state = "data"
            elif keyword.name == "ENDOFDATA" and not keyword.user_defined:
                if state == "header":
                    raise SpectrumError(f"line {number}: #ENDOFDATA before #SPECTRUM")
                state = "end"
            elif state == "data" and keyword.name != "COMMENT":
                raise SpectrumError(f"line {number}: keyword #{keyword.name} among the data; "
                                    "only #COMMENT lines may stand between #SPECTRUM and "
                                    "#ENDOFDATA")
            else:
                keywords.append(keyword)
                if keyword.name == "TITLE" and not keyword.user_defined:
                    title.append(verbatim)
            continue
        if state == "header":
            raise SpectrumError(f"line {number}: data before the #SPECTRUM marker")
        values = _values(stripped, number)
        points += len(values)
        if points > 2 * MAX_POINTS:
            raise SpectrumError(f"the spectrum has more than {MAX_POINTS} points")
        rows.append((number, values))
    if state == "header":
        raise SpectrumError("no #SPECTRUM marker: not an EMSA/MSA spectrum")
    if state == "data":
        raise SpectrumError("no #ENDOFDATA marker: the file is cut off")
    # Runs of spaces (padding to 80 columns) count as one; a line may end inside a word.
    return _build(keywords, " ".join("".join(title).split()), rows)


def _single(by_name: dict[str, list[Keyword]], name: str, axis: bool, warnings: list[str]
            ) -> Keyword | None:
    """The one value of a keyword; several different ones are refused (axis keywords) or
    dropped with a warning."""
    found = by_name.get(name)
    if not found:
        return None
    different = {(k.value.upper(), k.unit.upper()) for k in found}
    if len(different) > 1:
        where = ", ".join(f"line {k.line}: {k.value!r}" for k in found[:3])
        if axis:
            raise SpectrumError(f"#{name} is given {len(found)} times with different values "
                                f"({where}): which one applies is not clear")
        warnings.append(f"#{name} is given {len(found)} times with different values ({where}); "
                        "it is left out")
        return None
    return found[0]


def _axis_number(keyword: Keyword | None, what: str) -> float | None:
    if keyword is None:
        return None
    value = _header_number(keyword)
    if value is None:
        raise SpectrumError(f"line {keyword.line}: #{keyword.name} {keyword.value[:40]!r} is "
                            f"not a number ({what})")
    return value


def _whole(keyword: Keyword | None, low: int, high: int, what: str) -> int | None:
    value = _axis_number(keyword, what)
    if value is None:
        return None
    if value != int(value) or not low <= value <= high:
        raise SpectrumError(f"line {keyword.line}: #{keyword.name} must be a whole number from "
                            f"{low} to {high}, not {keyword.value[:40]!r}")
    return int(value)


def _x_units(keyword: Keyword | None) -> str:
    if keyword is None:
        raise SpectrumError("no #XUNITS: the file does not say whether its energies are in eV "
                            "or keV")
    value = keyword.value.strip()
    unit = _ENERGY_UNITS.get(value.lower())
    if unit is None and (match := _PAREN_UNIT.search(value)):
        unit = _ENERGY_UNITS[match.group(1).lower()]
    if unit is None:
        raise SpectrumError(f"line {keyword.line}: #XUNITS is {value[:40]!r}; only spectra "
                            "over an energy axis in eV or keV can be read")
    return unit


def _typed(keyword: Keyword | None, default: str, units: dict[str, float], what: str,
           warnings: list[str]) -> float | None:
    if keyword is None or not keyword.value:
        return None
    value = _header_number(keyword)
    factor = units.get((keyword.unit or default).lower())
    if value is None:
        warnings.append(f"line {keyword.line}: the {what} {keyword.value[:40]!r} is not a "
                        "number; it is left out")
        return None
    if factor is None:
        warnings.append(f"line {keyword.line}: the {what} has an unknown unit "
                        f"{keyword.unit[:20]!r}; it is left out")
        return None
    return value * factor


def _date_time(date_kw: Keyword | None, time_kw: Keyword | None, warnings: list[str]
               ) -> tuple[datetime.date | None, datetime.time | None]:
    date = time = None
    if date_kw is not None and date_kw.value:
        for fmt in ("%d-%b-%Y", "%Y-%m-%d"):  # the standard's 01-OCT-1991, and ISO 8601
            try:
                date = datetime.datetime.strptime(date_kw.value, fmt).date()
                break
            except ValueError:
                continue
        else:
            warnings.append(f"line {date_kw.line}: the date {date_kw.value[:40]!r} is not "
                            "DD-MMM-YYYY; it is left out")
    if time_kw is not None and time_kw.value:
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                time = datetime.datetime.strptime(time_kw.value, fmt).time()
                break
            except ValueError:
                continue
        else:
            warnings.append(f"line {time_kw.line}: the time {time_kw.value[:40]!r} is not "
                            "HH:MM; it is left out")
    return date, time


def _labels(keywords: list[Keyword]) -> list[PeakLabel]:
    """Oxford INCA's element labels, `##OXINSTLABEL: Z, keV, symbol`."""
    labels = []
    for k in keywords:
        if not (k.user_defined and k.name == "OXINSTLABEL"):
            continue
        parts = [p.strip() for p in k.value.split(",")]
        z = _number(parts[0]) if len(parts) == 3 else None
        kev = _number(parts[1]) if len(parts) == 3 else None
        if z is None or kev is None or not parts[2] or z != int(z):
            raise SpectrumError(f"line {k.line}: ##OXINSTLABEL must be 'Z, keV, symbol'")
        labels.append(PeakLabel(int(z), kev, parts[2]))
    return labels


def _xy_points(rows: list[tuple[int, list[float]]]) -> tuple[list[float], list[float]]:
    energy: list[float] = []
    counts: list[float] = []
    previous = -math.inf
    for number, values in rows:
        if len(values) % 2:
            raise SpectrumError(f"line {number}: {len(values)} values, but #DATATYPE XY needs "
                                "x, y pairs")
        for i in range(0, len(values), 2):
            if values[i] < previous:
                raise SpectrumError(f"line {number}: the energy {values[i]:g} is below the one "
                                    f"before it ({previous:g}); XY data must be in increasing "
                                    "energy")
            previous = values[i]
            energy.append(values[i])
            counts.append(values[i + 1])
    return energy, counts


def _y_counts(rows: list[tuple[int, list[float]]], columns: int | None) -> list[float]:
    """Counts in reading order; a line with more values than #NCOLUMNS is more likely x, y
    pairs declared as Y (read as counts, they would make a plausible but false spectrum)."""
    counts: list[float] = []
    for number, values in rows:
        if len(values) > (columns or 1):
            raise SpectrumError(
                f"line {number}: {len(values)} values, but "
                + (f"#NCOLUMNS is {columns}" if columns else "#NCOLUMNS is not given")
                + " for #DATATYPE Y: are these x, y pairs? (#DATATYPE XY)")
        counts.extend(values)
    return counts


def _build(keywords: list[Keyword], title: str, rows: list[tuple[int, list[float]]]) -> Spectrum:
    warnings: list[str] = []
    by_name: dict[str, list[Keyword]] = {}
    for k in keywords:
        if not k.user_defined:
            by_name.setdefault(k.name, []).append(k)
    one = {name: _single(by_name, name, True, warnings) for name in _AXIS_KEYS}
    data_type_kw = one["DATATYPE"]
    data_type = data_type_kw.value.upper() if data_type_kw else None
    if data_type not in (None, "Y", "XY"):
        raise SpectrumError(f"line {data_type_kw.line}: #DATATYPE must be Y or XY, not "
                            f"{data_type_kw.value[:40]!r}")
    columns = _whole(one["NCOLUMNS"], 1, MAX_COLUMNS, "the values per data line")
    widest = max((len(values) for _, values in rows), default=0)
    if data_type is None:
        if widest > 1:
            raise SpectrumError("no #DATATYPE, and data lines hold several values: they could "
                                "be x, y pairs or several channels per line")
        data_type = "Y"
    energy, counts = _xy_points(rows) if data_type == "XY" else ([], _y_counts(rows, columns))
    if not counts:
        raise SpectrumError("the spectrum has no data points")
    if len(counts) > MAX_POINTS:
        raise SpectrumError(f"the spectrum has more than {MAX_POINTS} points")
    x_units = _x_units(one["XUNITS"])
    step = _axis_number(one["XPERCHAN"], "the energy width of a channel")
    offset = _axis_number(one["OFFSET"], "the energy of the first channel")
    if data_type == "Y":
        if step is None:
            raise SpectrumError("#DATATYPE Y needs #XPERCHAN (the energy width of a channel)")
        if offset is None:
            raise SpectrumError("#DATATYPE Y needs #OFFSET (the energy of the first channel)")
        if step <= 0:
            raise SpectrumError(f"line {one['XPERCHAN'].line}: #XPERCHAN must be above zero, "
                                f"not {one['XPERCHAN'].value[:40]!r}")
        energy = [offset + i * step for i in range(len(counts))]
        if not -MAX_VALUE <= energy[0] <= energy[-1] <= MAX_VALUE:
            raise SpectrumError(f"#OFFSET {offset:g} and #XPERCHAN {step:g} put energies out of "
                                f"range (no energy is beyond {MAX_VALUE:g})")
    declared = None
    npoints = _single(by_name, "NPOINTS", False, warnings)
    if npoints is not None and npoints.value:
        value = _header_number(npoints)
        if value is None or value != int(value) or value < 0:
            warnings.append(f"line {npoints.line}: #NPOINTS {npoints.value[:40]!r} is not a "
                            "whole number; it is left out")
        else:
            declared = int(value)
            if declared != len(counts):
                warnings.append(f"#NPOINTS says {declared} points but the data hold "
                                f"{len(counts)}; all {len(counts)} are shown")
    typed = {attr: _typed(_single(by_name, name, False, warnings), default, units, what,
                          warnings)
             for name, (attr, default, units, what) in _TYPED.items()}
    date, time = _date_time(_single(by_name, "DATE", False, warnings),
                            _single(by_name, "TIME", False, warnings), warnings)
    text = {name: (k.value if (k := _single(by_name, name, False, warnings)) else "")
            for name in ("YUNITS", "SIGNALTYPE")}
    metadata = Metadata(data_type, columns, declared, step, offset, x_units, text["YUNITS"],
                        text["SIGNALTYPE"], date=date, time=time, **typed)
    return Spectrum(title, metadata, _labels(keywords), energy, counts, keywords, warnings)
