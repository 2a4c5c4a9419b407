#!/usr/bin/env python3
"""Time the admin tools' journald reader: write N entries (default 100,000 over 10 units) into
a real journal file with systemd-journal-remote, then read the newest 5,000 of 2 units with and
without level and text filters. Never run by CI.
  .venv-plugins/bin/python benchmarks/admin_tools_journal.py [N]
Needs systemd-journal-remote (bin/setup-controller installs it)."""

import subprocess
import sys
import tempfile
import time

from omeroweb_admin_tools.services import logs

REMOTE = "/lib/systemd/systemd-journal-remote"


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    now = int(time.time() * 1e6)
    with tempfile.TemporaryDirectory(prefix="oae-journal-bench-") as tmp:
        chunks = []
        for i in range(total):
            ts = now - (total - i) * 10_000
            chunks.append(f"__REALTIME_TIMESTAMP={ts}\n__MONOTONIC_TIMESTAMP={ts - 10**15}\n"
                          f"_BOOT_ID=0123456789abcdef0123456789abcdef\nPRIORITY={3 if i % 50 == 0 else 6}\n"
                          f"_SYSTEMD_UNIT=unit{i % 10}.service\nMESSAGE=entry {i} {'x' * 80}\n\n")
        started = time.perf_counter()
        subprocess.run([REMOTE, f"--output={tmp}/bench.journal", "-"],
                       input="".join(chunks).encode(), check=True, capture_output=True)
        print(f"wrote {total} entries in {time.perf_counter() - started:.2f} s")
        for label, level, text in (("plain", None, ""), ("level=error", "error", ""),
                                   ("text", None, "entry 9")):
            query = logs.LogQuery(units=["unit0.service", "unit1.service"], files=[],
                                  since_us=now - total * 10_000 - 1, until_us=now, limit=5000,
                                  level=level, text=text)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                entries = logs.read_journal(query, directory=tmp, timeout=60)
                times.append(time.perf_counter() - started)
            print(f"{label:12} {len(entries):5} entries: best {min(times):.3f} s, "
                  f"median {sorted(times)[2]:.3f} s")


if __name__ == "__main__":
    main()
