#!/usr/bin/env python3
"""OMP filename parser benchmark: names per CPU second, optionally side by side with the original.

Generates a corpus that imitates real archive names (plates, wells, fields, channels, time
points, dates, hyphenated gene and tag names, `.ome.tif`, `.lif [Series n]`) in five kinds
and parses each with the plugin's functions: `parse_names` (the batch the preview and the
write job use), `pairs_for` (one name) and `preview` (rows with keys).

With `--original DIR` (the original project's `omeroweb_omp_plugin` package directory, e.g.
from a clone of ZMB-UZH/omero-docker-extended; it is read, never copied here) the original's
`parse_filename` runs on the same names in the same process, with the separator regex its
`regex_for_separators` builds for the same separators (its own hyphen protection), or the same
user regex. The table shows each side's best rate and ours ÷ original as the median over rounds
that alternate the two (a busy machine slows both alike). Preview is compared with the
original's preview rows (a VarN dict per image), parse_names with its list of parts per name,
pairs_for (one name at a time, each result dropped) with its parse_filename called likewise.
Without `--original`, absolute rates only. Goal: at least 1.5x the original on every kind, for
every entry point.

    .venv-plugins/bin/python benchmarks/omp_parse.py [--names N] [--repeat N] [--kind TEXT]
        [--original DIR]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import random
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

from omeroweb_omp_plugin.services import parsing

GENES = ["H2B-GFP", "Nup107", "Lifeact-mCherry", "IL-2", "Ki-67", "PD-L1", "anti-Tubulin",
         "GFP-LC3", "alpha-tubulin", "Rab5-KO", "wild-type", "T-cell", "Ter119+", "CD71-APC",
         "Sox2", "E-cadherin", "mNeonGreen-Actin", "p53-WT", "HeLa", "U2OS", "1,4-dioxane"]
CHANNELS = ["DAPI", "GFP", "mCherry", "Cy5", "BF", "w1", "c2", "ch3"]
EXTS = [".ome.tif", ".ome.tiff", ".tif", ".czi", ".nd2", ".lif [Series {n}]"]


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(2012, 2026), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{y}-{m:02}-{d:02}", f"{y % 100:02}{m:02}{d:02}", f"{y}{m:02}{d:02}"])


def _well(rng: random.Random) -> str:
    return f"{'ABCDEFGH'[rng.randrange(8)]}{rng.randint(1, 12):02}"


def _ext(rng: random.Random) -> str:
    return rng.choice(EXTS).format(n=rng.randint(1, 40))


def long_name(rng: random.Random) -> str:
    parts = [_date(rng).replace("-", ""), f"Exp{rng.randint(1, 300):03}", rng.choice(GENES)
             .replace("-", ""), f"Plate{rng.randint(1, 20):02}", _well(rng),
             f"f{rng.randint(1, 50):03}", rng.choice(CHANNELS), f"z{rng.randint(0, 40):02}",
             f"t{rng.randint(0, 9999):04}", rng.choice(["60x", "40x", "20x"])]
    return "_".join(parts) + _ext(rng)


def short_name(rng: random.Random) -> str:
    return rng.choice([f"{_well(rng)}_c{rng.randint(1, 4)}", f"img_{rng.randint(0, 9999):04}",
                       f"{_well(rng)}_t{rng.randint(1, 99)}",
                       f"s{rng.randint(1, 9)}_z{rng.randint(1, 30)}"]
                      ) + rng.choice([".tif", ".ome.tif", ".png"])


def hyphen_name(rng: random.Random) -> str:
    head = rng.choice([_date(rng), f"{rng.randint(1, 99):02}", f"Plate{rng.randint(1, 9)}"])
    parts = [head, rng.choice(GENES), f"cell-{rng.randint(1, 30)}", _well(rng),
             rng.choice(GENES), f"t{rng.randint(1, 99)}"]
    seps = ["-" if rng.random() < 0.5 else "_" for _ in parts[1:]]
    return parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True)) + _ext(rng)


def mixed_name(rng: random.Random) -> str:
    return rng.choice([long_name, short_name, hyphen_name])(rng)


# kind: (generator, parser settings, how the original is called: separators or a regex)
KINDS: dict[str, tuple[Callable[[random.Random], str], parsing.ParserSettings]] = {
    "long names, _": (long_name, parsing.ParserSettings(separators=("_",))),
    "short names, _": (short_name, parsing.ParserSettings(separators=("_",))),
    "_ and - with protection": (hyphen_name, parsing.ParserSettings(separators=("_", "-"))),
    "regex mode [_.]+": (mixed_name, parsing.ParserSettings(mode="regex", regex=r"[_.]+")),
    "regex mode, short names": (short_name,
                                parsing.ParserSettings(mode="regex", regex=r"[_.]+")),
}


def load_original(root: Path) -> tuple[Callable, Callable]:
    """parse_filename and regex_for_separators from the original's package directory, run
    as they are; only constants.PROTECTED_HYPHEN_PATTERNS is read (its module needs the
    original's environment)."""
    consts = types.ModuleType("_omp_original.constants")
    for node in ast.parse((root / "constants.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PROTECTED_HYPHEN_PATTERNS"
                                                for t in node.targets):
            consts.PROTECTED_HYPHEN_PATTERNS = ast.literal_eval(node.value)
    for name, path in (("_omp_original", root), ("_omp_original.services", root / "services"),
                       ("_omp_original.services.parsing", root / "services" / "parsing")):
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package
    sys.modules["_omp_original.constants"] = consts
    loaded = {}
    for name, path in (("filename_utils", root / "services" / "filename_utils.py"),
                       ("filename_parser", root / "services" / "parsing" / "filename_parser.py")):
        full = f"_omp_original.services.{'parsing.' if name == 'filename_parser' else ''}{name}"
        spec = importlib.util.spec_from_file_location(full, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
        loaded[name] = module
    return loaded["filename_parser"].parse_filename, loaded["filename_utils"].regex_for_separators


def cpu_seconds(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def compare(ours: Callable[[], object], theirs: Callable[[], object] | None, repeat: int
            ) -> tuple[float, float | None, float | None]:
    """CPU seconds of ours and theirs, best of `repeat`, run alternately so both see the same
    machine load; and the median of the per-round ratios (theirs ÷ ours)."""
    mine, other, ratios = [], [], []
    for _ in range(repeat):
        mine.append(cpu_seconds(ours))
        if theirs is not None:
            other.append(cpu_seconds(theirs))
            ratios.append(other[-1] / max(mine[-1], 1e-9))
    if theirs is None:
        return min(mine), None, None
    return min(mine), min(other), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--original", type=Path, help="the original's omeroweb_omp_plugin dir")
    parser.add_argument("--kind", default="", help="only the corpus kinds containing this text")
    args = parser.parse_args()
    original = load_original(args.original) if args.original else None

    header = f"{'corpus kind':26} {'entry point':12} {'ours names/s':>13}"
    if original:
        header += f" {'original names/s':>17} {'ours/original':>14}"
    print(header)
    worst = float("inf")
    for kind, (make, settings) in KINDS.items():
        if args.kind not in kind:
            continue
        rng = random.Random(f"{args.seed}:{kind}")  # noqa: S311 (a reproducible corpus)
        names = [make(rng) for _ in range(args.names)]
        pattern = (parsing.safe_regex.compile_pattern(settings.regex)
                   if settings.mode == "regex" else None)

        def one_by_one(names=names, settings=settings, pattern=pattern) -> None:
            for name in names:  # each result used and dropped, as a per-name caller does
                parsing.pairs_for(name, settings, pattern)

        ours = {
            "parse_names": lambda names=names, s=settings: parsing.parse_names(names, s, 10),
            "pairs_for": one_by_one,
            "preview": lambda names=names, s=settings: parsing.preview(names, s, 10),
        }
        theirs: dict[str, Callable[[], object]] = {}
        if original:
            parse, regex_for = original
            theirs_pattern = (settings.regex if settings.mode == "regex"
                              else regex_for(list(settings.separators)))

            def original_run(names=names, p=theirs_pattern, parse=parse) -> list:
                # Results kept, as its preview and job keep them (and as ours are).
                return [parse(name, p) for name in names]

            def original_preview(names=names, p=theirs_pattern, parse=parse) -> list:
                # Its preview's rows (index_view: parts capped at 10, a VarN dict per image).
                rows = []
                for name in names:
                    parts = parse(name, p)[:parsing.MAX_VARIABLES]
                    rows.append((name, {f"Var{i + 1}": v for i, v in enumerate(parts)}))
                return rows

            def original_one_by_one(names=names, p=theirs_pattern, parse=parse) -> None:
                for name in names:
                    parse(name, p)

            theirs = {"parse_names": original_run, "pairs_for": original_one_by_one,
                      "preview": original_preview}
        for entry, run in ours.items():
            mine, other, ratio = compare(run, theirs.get(entry), args.repeat)
            line = f"{kind:26} {entry:12} {len(names) / mine:13,.0f}"
            if other is not None:
                worst = min(worst, ratio)
                line += f" {len(names) / other:17,.0f} {ratio:13.2f}x"
            print(line)
    if original:
        print(f"slowest ours/original (median of alternating rounds): {worst:.2f}x "
              "(goal: at least 1.5x)")


if __name__ == "__main__":
    main()
