"""Run every benchmark scenario (or those named) and save the figures.

    python benchmarks/run.py                 # all scenarios
    python benchmarks/run.py warm cold       # some of them

Each line prints secretstores' figure and the comparison's from the same run,
and their ratio; results go to benchmarks/results.json with the core count.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import header, save

SCENARIOS = ("startup", "warm", "cold", "load", "peers", "memory", "steady", "outage",
             "infisical", "keyvault", "gcp")


def main(argv: list[str]) -> int:
    chosen = argv or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)} (choose from {', '.join(SCENARIOS)})")
        return 2
    print(f"secretstores benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    header()
    start = time.perf_counter()
    for name in chosen:
        module = __import__(name)
        module.run()
    save(Path(__file__).resolve().parent / "results.json")
    print(f"done in {time.perf_counter() - start:.0f} s; figures in benchmarks/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
