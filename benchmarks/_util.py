"""Shared pieces of the benchmarks: timing, process runs, reporting."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS: list[dict[str, Any]] = []


def per_call(fn: Callable[[], Any], *, number: int, repeat: int = 5) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` runs of ``number`` calls."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def side_by_side(ours: Callable[[], Any], theirs: Callable[[], Any], *, number: int,
                 repeat: int = 7) -> tuple[float, float]:
    """Median seconds per call of both, measured interleaved in the same run."""
    ours(), theirs()
    a, b = [], []
    for _ in range(repeat):
        for fn, out in ((ours, a), (theirs, b)):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            out.append((time.perf_counter() - start) / number)
    return statistics.median(a), statistics.median(b)


def process_time(args: list[str], *, env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds of one child process (failing loudly if it fails)."""
    start = time.perf_counter()
    result = subprocess.run(args, env={**os.environ, **(env or {})}, capture_output=True,
                            text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{args} failed: {result.stderr[-2000:]}")
    return elapsed


def report(scenario: str, metric: str, ours: float, theirs: float | None, unit: str,
           *, comparison: str = "", target: str = "", met: bool | None = None) -> None:
    """Print one line and keep it for the results file."""
    ratio = (ours / theirs) if theirs else None
    row = {"scenario": scenario, "metric": metric, "secretstores": ours, "comparison": theirs,
           "comparison_name": comparison, "unit": unit, "ratio": ratio, "target": target,
           "met": met}
    RESULTS.append(row)
    shown_theirs = f"{theirs:10.2f}" if theirs is not None else f"{'':>10}"
    shown_ratio = f"{ratio:8.2f}x" if ratio is not None else f"{'':>9}"
    if ratio is not None and ratio < 1 and unit in ("ms", "us"):
        shown_ratio = f"1/{1 / ratio:.1f}".rjust(9)  # ours is this many times faster
    verdict = "" if met is None else ("  target met" if met else "  TARGET MISSED")
    print(f"{scenario:<12} {metric:<44} {ours:10.2f} {shown_theirs} {unit:<6} {shown_ratio}"
          f"  {comparison} {('[' + target + ']') if target else ''}{verdict}", flush=True)


def cold_against_sdk(scenario: str, metric: str, comparison: str, stores: Any,
                     template: str, expected: str, theirs: Callable[[], Any], *,
                     rounds: int) -> Callable[[], None]:
    """Time a cold render of ``template`` (the cache emptied before each, the session
    kept, as a host application has it) side by side with ``theirs`` (an SDK called
    once per secret, one after another) and report it against the providers' target,
    at least 10x faster. Return the cold render, for counting its requests."""

    def ours() -> None:
        stores.invalidate()
        assert stores.render_string(template) == expected

    mine, sdk = side_by_side(ours, theirs, number=1, repeat=rounds)
    report(scenario, metric, mine * 1000, sdk * 1000, "ms", comparison=comparison,
           target=">= 10x faster", met=sdk / mine >= 10)
    return ours


def header() -> None:
    print(f"{'scenario':<12} {'metric':<44} {'ours':>10} {'theirs':>10} {'unit':<6} "
          f"{'ratio':>9}  comparison [target]")


def save(path: Path) -> None:
    """Write every reported row, with the machine's core count, as JSON."""
    path.write_text(json.dumps({"cores": os.cpu_count(), "python": sys.version.split()[0],
                                "results": RESULTS}, indent=2) + "\n")
