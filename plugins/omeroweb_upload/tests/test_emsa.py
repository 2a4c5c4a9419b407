"""The EMSA/MAS reader (ISO 22029): files from an independent writer read back, the standard's
own example, ambiguous and malformed files refused with a sentence, and hostile files read in
time linear in their size (measured against a normal file of the same size, never against a
wall-clock threshold)."""

from __future__ import annotations

import contextlib
import datetime
import math
import random
import re
import time

import pytest

from omeroweb_upload import emsa
from omeroweb_upload.emsa import SpectrumError, parse_emsa

# -- an independent writer, from the standard's text (it shares no code with the reader) -----
#
# Header lines are "#KEYWORD-units: value" with the keyword and its units suffix in columns 2
# to 13 and ':' in column 14; user keywords start "##". Required keywords come first, in the
# standard's order; #SPECTRUM starts the data and #ENDOFDATA ends the file. Y data hold
# NCOLUMNS (1 to 5) values per line, the energy of channel i being OFFSET + i * XPERCHAN; XY
# data hold x, y pairs. Long titles continue on further #TITLE lines of 64 characters.


def _header(keyword: str, value: object, units: str = "") -> str:
    key = keyword.ljust(11 - len(units)) + "-" + units if units else keyword
    return f"#{key:<12}: {value}"


def write_emsa(counts: list[str], *, data_type: str = "Y", columns: int = 1,
               offset: str = "0.0", step: str = "10.0", x_units: str = "eV",
               energies: list[str] | None = None, title: str = "Spectrum",
               separator: str = ", ", trailing_comma: bool = False, newline: str = "\r\n",
               encoding: str = "latin-1", bom: bool = False, npoints: int | None = None,
               extra: tuple[str, ...] = ()) -> bytes:
    lines = [_header("FORMAT", "EMSA/MAS Spectral Data File"), _header("VERSION", "1.0")]
    lines += [_header("TITLE", title[i:i + 64]) for i in range(0, max(len(title), 1), 64)]
    lines += [_header("DATE", "07-DEC-2026"), _header("TIME", "10:30"),
              _header("OWNER", "test writer"),
              _header("NPOINTS", f"{len(counts) if npoints is None else npoints}."),
              _header("NCOLUMNS", f"{columns}."), _header("XUNITS", x_units),
              _header("YUNITS", "counts"), _header("DATATYPE", data_type),
              _header("XPERCHAN", step), _header("OFFSET", offset),
              _header("SIGNALTYPE", "EDS"), _header("BEAMKV", "20.0", "kV"),
              _header("LIVETIME", "60.5", "s"), _header("REALTIME", "75.25", "s"),
              _header("ELEVANGLE", "35.0", "dg"), _header("AZIMANGLE", "45.0", "dg"),
              *extra, _header("SPECTRUM", "Spectral Data Starts Here")]
    if data_type == "Y":
        values = counts
    else:
        values = [v for pair in zip(energies or [], counts, strict=True) for v in pair]
    per_line = columns if data_type == "Y" else 2 * columns
    for i in range(0, len(values), per_line):
        lines.append(separator.join(values[i:i + per_line]) + ("," if trailing_comma else ""))
    lines.append(_header("ENDOFDATA", "End Of Data and File"))
    raw = (newline.join(lines) + newline).encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + raw


def _random_number(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return str(rng.randrange(0, 100000))
    if kind == 1:
        return repr(rng.uniform(0, 1e5))
    if kind == 2:
        return f"{rng.uniform(0, 1e5):.4E}"
    return f"{rng.uniform(0, 1e3):.3f}"


def _random_title(rng: random.Random) -> str:
    words = ["Basalt", "site", "1", "spot", "µm", "grain", "Fe-rich", "rim", "core", "°C"]
    return " ".join(rng.choice(words) for _ in range(rng.randrange(1, 40)))


@pytest.mark.parametrize("seed", range(60))
def test_files_of_an_independent_writer_are_read_back(seed):
    rng = random.Random(seed)
    for _ in range(5):
        n = rng.choice([1, 4096, rng.randrange(1, 4097)])
        data_type = rng.choice(["Y", "XY"])
        columns = rng.randrange(1, 6)
        unit = rng.choice(["eV", "keV", "EV", "KeV", "Energy (eV)", "Energy Loss (keV)"])
        scale = 1.0 if "kev" in unit.lower() else 1000.0
        step = repr(rng.uniform(0.001, 0.05) * scale)
        offset = repr(rng.uniform(-0.5, 0.5) * scale)
        counts = [_random_number(rng) for _ in range(n)]
        energies = [repr(float(offset) + i * float(step)) for i in range(n)]
        title = _random_title(rng)
        encoding = rng.choice(["latin-1", "utf-8"])
        raw = write_emsa(counts, data_type=data_type, columns=columns, offset=offset,
                         step=step, x_units=unit, energies=energies, title=title,
                         separator=rng.choice([", ", ",", " ", "\t", " ,  "]),
                         trailing_comma=data_type == "Y" and rng.random() < 0.3,
                         newline=rng.choice(["\n", "\r\n", "\r"]), encoding=encoding,
                         bom=encoding == "utf-8" and rng.random() < 0.5)
        spectrum = parse_emsa(raw)
        case = f"seed {seed}: {n} points, {data_type}, {columns} columns, {unit}"
        assert spectrum.counts == [float(c) for c in counts], case
        assert spectrum.x_units == ("keV" if "kev" in unit.lower() else "eV"), case
        if data_type == "XY":
            assert spectrum.energy == [float(e) for e in energies], case
        else:
            assert spectrum.energy == pytest.approx([float(e) for e in energies],
                                                    rel=1e-12, abs=1e-9), case
        kev = [e / scale for e in map(float, energies)]
        assert spectrum.energy_kev == pytest.approx(kev, rel=1e-12, abs=1e-12), case
        assert spectrum.title == title, case
        meta = spectrum.metadata
        assert (meta.data_type, meta.columns, meta.declared_points) == (data_type, columns, n)
        assert (meta.beam_kv, meta.live_time_s, meta.real_time_s) == (20.0, 60.5, 75.25)
        assert (meta.elevation_deg, meta.azimuth_deg) == (35.0, 45.0)
        assert (meta.date, meta.time) == (datetime.date(2026, 12, 7), datetime.time(10, 30))
        assert spectrum.warnings == [], case


# -- the standard's own example ---------------------------------------------------------------

# ISO 22029's example file (the NiO oxygen K edge in EELS, XY data); its 21 points are not
# evenly spaced, so the energies must come from the x values, not from XPERCHAN.
STANDARD_POINTS = [(520.13, 4066.0), (523.22, 3996.0), (526.32, 3932.0), (529.42, 3923.0),
                   (532.51, 5602.0), (535.61, 5288.0), (538.70, 7234.0), (541.80, 7809.0),
                   (544.90, 4710.0), (547.99, 5015.0), (551.09, 4366.0), (554.18, 4524.0),
                   (557.28, 4832.0), (560.38, 5474.0), (563.47, 5718.0), (565.79, 5034.0),
                   (568.89, 4651.0), (571.99, 4613.0), (574.31, 4637.0), (577.40, 4429.0),
                   (580.50, 4217.0)]
STANDARD_HEADER = """\
#FORMAT      : EMSA/MAS Spectral Data File
#VERSION     : TC202v2.0
#TITLE       : NIO EELS OK SHELL
#DATE        : 01-OCT-1991
#TIME        : 12:00
#OWNER       : EMSA/MAS TASK FORCE
#NPOINTS     : {npoints}.
#NCOLUMNS    : {columns}.
#XUNITS      : Energy Loss (eV)
#YUNITS      : Intensity
#DATATYPE    : {data_type}
#XPERCHAN    : 3.1
#OFFSET      : 520.13
#CHOFFSET    : -168
#SIGNALTYPE  : ELS
#XLABEL      : Energy
#YLABEL      : Counts
#BEAMKV   -kV: 120.0
#EMISSION -uA: 5.5
#PROBECUR -nA: 12.345
#BEAMDIAM -nm: 100.0
#MAGCAM      : 100.
#CONVANGLE-mR: 1.5
#COLLANGLE-mR: 3.4
#OPERMODE    : IMAG
#THICKNESS-nm: 50.
#DWELLTIME-ms: 100.
#ELSDET      : SERIAL
#TAUWIND  -cm: 2.0 E-06
#COMMENT     : The next two lines are user defined keywords
##ALPHA-1    : 3.1415926535
##RESTMASS   : 511.030
#SPECTRUM    : Spectral Data Starts Here
"""


def _standard(data_type="XY", columns=1, npoints=21, per_line=1) -> bytes:
    lines = [STANDARD_HEADER.format(npoints=npoints, columns=columns, data_type=data_type)]
    if data_type == "XY":
        values = [f"{v:.2f}" if i % 2 == 0 else f"{v:.1f}"
                  for x, y in STANDARD_POINTS for i, v in enumerate((x, y))]
        step = 2 * per_line
    else:
        values = [f"{y:.1f}" for _, y in STANDARD_POINTS]
        step = per_line
    lines += [", ".join(values[i:i + step]) + "\n" for i in range(0, len(values), step)]
    lines.append("#ENDOFDATA   : End Of Data and File\n")
    return "".join(lines).replace("\n", "\r\n").encode("ascii")


def test_the_standards_example_is_read_with_its_units():
    spectrum = parse_emsa(_standard())
    assert spectrum.energy == [x for x, _ in STANDARD_POINTS]
    assert spectrum.counts == [y for _, y in STANDARD_POINTS]
    assert spectrum.x_units == "eV"
    assert spectrum.energy_kev[0] == pytest.approx(0.52013)
    assert spectrum.title == "NIO EELS OK SHELL"
    meta = spectrum.metadata
    assert meta.beam_kv == 120.0 and meta.signal_type == "ELS" and meta.y_units == "Intensity"
    assert meta.date == datetime.date(1991, 10, 1) and meta.time == datetime.time(12, 0)
    # Raw keywords are kept as written, with their units suffixes and user keywords.
    assert spectrum.raw("EMISSION") == ["5.5"]
    emission = next(k for k in spectrum.keywords if k.name == "EMISSION")
    assert emission.unit == "uA"
    alpha = next(k for k in spectrum.keywords if k.user_defined and k.name == "ALPHA-1")
    assert alpha.value == "3.1415926535"
    assert spectrum.raw("TAUWIND") == ["2.0 E-06"]
    assert spectrum.warnings == []


@pytest.mark.parametrize("per_line", [2, 3, 5])
def test_the_standards_example_with_several_pairs_or_values_per_line(per_line):
    xy = parse_emsa(_standard(columns=per_line, per_line=per_line))
    assert list(zip(xy.energy, xy.counts, strict=True)) == STANDARD_POINTS
    y = parse_emsa(_standard(data_type="Y", columns=per_line, per_line=per_line))
    assert y.counts == [c for _, c in STANDARD_POINTS]
    assert y.energy == pytest.approx([520.13 + 3.1 * i for i in range(21)])


def test_npoints_disagreeing_with_the_data_is_a_warning():
    spectrum = parse_emsa(_standard(npoints=20))  # the 1991 edition's example says 20
    assert len(spectrum.counts) == 21
    assert spectrum.warnings == ["#NPOINTS says 20 points but the data hold 21; all 21 are "
                                 "shown"]


def test_a_long_title_over_several_lines_is_joined():
    raw = _standard().replace(b"#TITLE       : NIO EELS OK SHELL\r\n",
                              b"#TITLE       : NIO EELS OK SHELL\r\n"
                              b"#TITLE       :  - Second line of the title\r\n"
                              b"#TITLE       :  - Third line of the title\r\n")
    assert parse_emsa(raw).title == ("NIO EELS OK SHELL - Second line of the title"
                                     " - Third line of the title")


def test_encodings_bom_and_line_ends():
    counts = ["1", "2", "3"]
    title = "5 µm grain, 20 °C"
    for encoding, bom in (("latin-1", False), ("utf-8", False), ("utf-8", True)):
        for newline in ("\n", "\r\n", "\r"):
            spectrum = parse_emsa(write_emsa(counts, title=title, encoding=encoding, bom=bom,
                                             newline=newline))
            assert spectrum.title == title and spectrum.counts == [1.0, 2.0, 3.0]
    utf16 = "\ufeff" + write_emsa(counts, title=title, encoding="utf-8").decode("utf-8")
    assert parse_emsa(utf16.encode("utf-16-le")).title == title


def test_units_suffixes_are_converted():
    raw = write_emsa(["1"])
    for keyword, before, after in (("LIVETIME", ("60.5", "s"), ("1500", "ms")),
                                   ("BEAMKV", ("20.0", "kV"), ("15.0", "KV")),
                                   ("ELEVANGLE", ("35.0", "dg"), ("0.5", "rad"))):
        old, new = _header(keyword, *before).encode(), _header(keyword, *after).encode()
        assert old in raw
        raw = raw.replace(old, new)
    assert b"#BEAMKV   -KV: 15.0" in raw  # the spelling
    meta = parse_emsa(raw).metadata
    assert meta.beam_kv == 15.0 and meta.live_time_s == 1.5
    assert meta.elevation_deg == pytest.approx(math.degrees(0.5))


def test_comments_blank_lines_and_a_dos_end_of_file_mark():
    raw = write_emsa(["1", "2", "3", "4"], columns=2, newline="\n").replace(
        b"1, 2\n", b"\n#COMMENT     : a comment inside the data\n1, 2\n\n")
    spectrum = parse_emsa(raw + b"\n\n\x1a")
    assert spectrum.counts == [1.0, 2.0, 3.0, 4.0]
    assert spectrum.raw("COMMENT") == ["a comment inside the data"]


def test_metadata_that_cannot_be_read_is_left_out_with_a_warning():
    raw = write_emsa(["1"]).replace(b"20.0", b"twenty").replace(b"07-DEC-2026", b"7/12/26")
    spectrum = parse_emsa(raw)
    assert spectrum.metadata.beam_kv is None and spectrum.metadata.date is None
    assert any("beam energy 'twenty' is not a number" in w for w in spectrum.warnings)
    assert any("date '7/12/26' is not DD-MMM-YYYY" in w for w in spectrum.warnings)


# -- refused: malformed or ambiguous ----------------------------------------------------------

def _y(lines: str, header: str = "#DATATYPE: Y\n#NCOLUMNS: 2\n") -> bytes:
    return (f"#XUNITS: eV\n#XPERCHAN: 10\n#OFFSET: 0\n{header}#SPECTRUM:\n{lines}"
            "#ENDOFDATA:\n").encode()


@pytest.mark.parametrize("raw, message", [
    (b"", "no #SPECTRUM marker"),
    (b"#TITLE: x\n1.0, 2.0\n", "line 2: data before the #SPECTRUM marker"),
    (_y("1, 2\n").replace(b"#ENDOFDATA:\n", b""), "no #ENDOFDATA marker: the file is cut off"),
    (_y("1, 2\n") + b"3, 4\n", "text after #ENDOFDATA"),
    (b"\x00\x01\x02#SPECTRUM", "binary"),
    (b"\xef\xbb\xbf#SPECTRUM\xff\n", "UTF-8 byte order mark but is not UTF-8"),
    (_y(""), "no data points"),
    (_y("1, abc\n"), "line 7: 'abc' is not a finite number"),
    (_y("1, nan\n"), "'nan' is not a finite number"),
    (_y("1, 1e999\n"), "'1e999' is not a finite number"),
    (_y("1, -1e101\n"), "'-1e101' is out of range"),
    (_y("1, 1_000\n"), "'1_000' is not a finite number"),
    (_y("1,,2\n"), "line 7: a value is missing between two commas"),
    (_y("1,5; 2,5\n"), "';' is not an EMSA separator"),
    (_y("1, 2, 3\n"), "line 7: 3 values, but #NCOLUMNS is 2 for #DATATYPE Y"),
    (_y("1, 2\n", "#DATATYPE: Y\n"), "#NCOLUMNS is not given for #DATATYPE Y"),
    (_y("5, 6\n7, 8\n", ""), "no #DATATYPE, and data lines hold several values"),
    (_y("1, 2, 3\n", "#DATATYPE: XY\n"), "line 6: 3 values, but #DATATYPE XY needs x, y pairs"),
    (_y("5, 1\n4, 1\n", "#DATATYPE: XY\n"), "line 7: the energy 4 is below the one before"),
    (_y("1\n", "#DATATYPE: Z\n"), "#DATATYPE must be Y or XY, not 'Z'"),
    (_y("1\n", "#DATATYPE: Y\n#NCOLUMNS: 6\n"), "#NCOLUMNS must be a whole number from 1 to 5"),
    (_y("1\n", "#DATATYPE: Y\n#XPERCHAN: 5\n"), "#XPERCHAN is given 2 times with different"),
    (_y("1\n", "#DATATYPE: Y\n#DATATYPE: XY\n"), "#DATATYPE is given 2 times"),
    (_y("1, 2\n").replace(b"#XUNITS: eV\n", b""), "no #XUNITS: the file does not say"),
    (_y("1, 2\n").replace(b"#XUNITS: eV", b"#XUNITS: nm"), "#XUNITS is 'nm'; only spectra"),
    (_y("1, 2\n").replace(b"#XPERCHAN: 10\n", b""), "#DATATYPE Y needs #XPERCHAN"),
    (_y("1, 2\n").replace(b"#OFFSET: 0\n", b""), "#DATATYPE Y needs #OFFSET"),
    (_y("1, 2\n").replace(b"#XPERCHAN: 10", b"#XPERCHAN: 0"), "#XPERCHAN must be above zero"),
    (_y("1, 2\n").replace(b"#XPERCHAN: 10", b"#XPERCHAN: ten"), "#XPERCHAN 'ten' is not a"),
    (_y("1, 2\n").replace(b"#XPERCHAN: 10", b"#XPERCHAN: 1e308"), "put energies out of range"),
    (_y("1, 2\n#NPOINTS: 2\n3, 4\n"), "line 8: keyword #NPOINTS among the data"),
    (_y("1, 2\n#SPECTRUM:\n3, 4\n"), "line 8: a second #SPECTRUM marker"),
    (b"#ENDOFDATA:\n#SPECTRUM:\n", "line 1: #ENDOFDATA before #SPECTRUM"),
    (_y("1, 2\n", "#DATATYPE: Y\n#NCOLUMNS: 2\n##OXINSTLABEL: 6, C\n"),
     "##OXINSTLABEL must be 'Z, keV, symbol'"),
])
def test_malformed_or_ambiguous_files_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(SpectrumError, match=re.escape(message)):
        parse_emsa(raw)


def test_the_limits_are_refused_with_a_clear_message():
    too_many = _y("1, 2\n" * (emsa.MAX_POINTS // 2 + 1))
    with pytest.raises(SpectrumError, match=f"more than {emsa.MAX_POINTS} points"):
        parse_emsa(too_many)
    with pytest.raises(SpectrumError, match="larger than 20 MB"):
        parse_emsa(b" " * (emsa.MAX_BYTES + 1))
    with pytest.raises(SpectrumError, match="line 1 is longer than"):
        parse_emsa(b"#COMMENT: " + b"x" * emsa.MAX_LINE_CHARS + b"\n" + _y("1, 2\n"))


# -- hostile files: linear time -----------------------------------------------------------------

TAIL = b"#XUNITS: eV\n#XPERCHAN : 1\n#OFFSET: 0\n#SPECTRUM :\n1\n#ENDOFDATA :\n"
ADVERSARIAL = {
    "the issue's 20,000 repeated keys": b"#A : x\n" * 20000 + TAIL,
    "the issue's 100,000 repeated keys": b"#A : x\n" * 100000 + TAIL,
    "50,000 #TITLE lines": (b"#TITLE : " + b"t" * 60 + b"\n") * 50000 + TAIL,
    "5,000,000 blank lines": b"#XPERCHAN : 1\n#SPECTRUM :\n" + b"\n" * 5000000
                             + b"1\n#ENDOFDATA :\n",
    "one 2 MB header line": b"#COMMENT : " + b"x" * 2000000 + b"\n" + TAIL,
    "200,000 values on one data line": b"#XUNITS: eV\n#XPERCHAN : 1\n#OFFSET: 0\n"
                                       b"#SPECTRUM :\n" + b"1, " * 200000 + b"1\n#ENDOFDATA :\n",
}


def normal_file(size: int) -> bytes:
    """A valid spectrum of about `size` bytes: 5 counts a line, as many points as allowed,
    longer numbers for larger sizes."""
    points = min(emsa.MAX_POINTS, max(size // 12, 5)) // 5 * 5
    digits = max(1, min(90, (size - 200) // points - 4))
    value = "1" * digits + ".5"
    line = ", ".join([value] * 5) + "\n"
    return (f"#FORMAT : EMSA/MAS Spectral Data File\n#XUNITS : eV\n#DATATYPE : Y\n"
            f"#NCOLUMNS : 5\n#XPERCHAN : 10\n#OFFSET : 0\n#NPOINTS : {points}\n"
            f"#SPECTRUM :\n{line * (points // 5)}#ENDOFDATA :\n").encode()


def _best_time(function, *args, repeats: int = 3) -> float:
    """The fastest of a few runs: the least disturbed by other work on a busy machine."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.suppress(SpectrumError):
            function(*args)
        best = min(best, time.perf_counter() - start)
    return best


def _refused_or_read(raw: bytes) -> str:
    try:
        parse_emsa(raw)
        return "read"
    except SpectrumError as exc:
        return str(exc)


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_hostile_files_take_no_longer_than_a_normal_file_of_their_size(name):
    raw = ADVERSARIAL[name]
    normal = normal_file(len(raw))
    assert _refused_or_read(normal) == "read"
    assert len(normal) == pytest.approx(len(raw), rel=0.2)
    assert _refused_or_read(raw) != "read"  # each is refused at one of the limits
    hostile, reference = _best_time(parse_emsa, raw), _best_time(parse_emsa, normal)
    # Quadratic reading of 100,000 keys takes thousands of times longer; 3x leaves room for
    # noise while catching any growth faster than linear.
    assert hostile <= 3 * reference + 0.002, (name, hostile, reference)


@pytest.mark.parametrize("name", ["the issue's 100,000 repeated keys", "50,000 #TITLE lines"])
def test_without_the_limits_reading_is_still_linear(name, monkeypatch):
    """The limits stop hostile files early; the reading itself must not be the slow part. A
    keyword line costs more than a data line of the same length, hence the wider bound; the
    old reader took thousands of times longer here."""
    monkeypatch.setattr(emsa, "MAX_HEADER_LINES", 10**7)
    monkeypatch.setattr(emsa, "MAX_LINES", 10**7)
    raw = ADVERSARIAL[name]
    assert _refused_or_read(raw) == "read"
    hostile, reference = _best_time(parse_emsa, raw), _best_time(parse_emsa, normal_file(len(raw)))
    assert hostile <= 10 * reference, (name, hostile, reference)


def test_without_the_limits_five_times_the_keys_take_about_five_times_as_long(monkeypatch):
    monkeypatch.setattr(emsa, "MAX_HEADER_LINES", 10**7)
    monkeypatch.setattr(emsa, "MAX_LINES", 10**7)
    small = _best_time(parse_emsa, ADVERSARIAL["the issue's 20,000 repeated keys"])
    large = _best_time(parse_emsa, ADVERSARIAL["the issue's 100,000 repeated keys"])
    assert large <= 12 * small, (small, large)  # linear: 5x; quadratic: 25x
