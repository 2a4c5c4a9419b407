#!/usr/bin/env python3
"""Time the SEM-EDX reader on the hostile EMSA files of tests/test_emsa.py (issue 17's repeated
keys and the others) and on normal spectra of the same size; best of 3 runs each, each run
stopped after a time limit (default 300 s). Never run by CI.
  .venv-plugins/bin/python benchmarks/emsa_hostile.py [--reader FILE.py] [--limit SECONDS]
--reader times another parse_emsa, e.g. the reader before issue 17:
  git show 19291af:plugins/omeroweb_upload/omeroweb_upload/sem_edx.py > /tmp/old_sem_edx.py"""

import argparse
import multiprocessing
import time
from importlib import util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "plugins/omeroweb_upload/tests/test_emsa.py"


def _load(path: Path, name: str):
    spec = util.spec_from_file_location(name, path)
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(reader: str | None, raw: bytes, queue) -> None:
    if reader:
        parse = _load(Path(reader), "other_reader").parse_emsa
    else:
        from omeroweb_upload.emsa import parse_emsa as parse
    best, outcome = float("inf"), ""
    for _ in range(3):
        start = time.perf_counter()
        try:
            parse(raw)
            outcome = "read"
        except ValueError as exc:
            outcome = f"refused: {exc}"
        best = min(best, time.perf_counter() - start)
    queue.put((best, outcome))


def timed(reader: str | None, raw: bytes, limit: float) -> tuple[str, str]:
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_run, args=(reader, raw, queue))
    process.start()
    process.join(limit)
    if process.is_alive():
        process.terminate()
        process.join()
        return f"> {limit:.0f} s", "stopped"
    best, outcome = queue.get()
    return f"{best * 1000:.1f} ms", outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reader", help="a .py file with parse_emsa(bytes), timed instead")
    parser.add_argument("--limit", type=float, default=300.0)
    args = parser.parse_args()
    cases = _load(TESTS, "reader_tests")
    print(f"{'file':36} {'size':>9}  {'hostile':>10}  {'normal':>10}  outcome")
    for name, raw in cases.ADVERSARIAL.items():
        hostile, outcome = timed(args.reader, raw, args.limit)
        normal, _ = timed(args.reader, cases.normal_file(len(raw)), args.limit)
        print(f"{name:36} {len(raw) / 1e6:7.2f} MB  {hostile:>10}  {normal:>10}  {outcome[:70]}",
              flush=True)


if __name__ == "__main__":
    main()
