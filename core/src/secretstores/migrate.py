"""Copying every secret from one store to another (``secretstores migrate``).

The seed warns that existing secrets are not migrated when the secrets manager
changes; this closes that gap. Every copy is verified by reading it back from
the destination, uncached. Running it again is harmless: secrets whose value
is already identical are skipped, and different values are only overwritten
when asked.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs

from secretstores.api import SecretStores
from secretstores.errors import SecretStoresError
from secretstores.model import FetchResult, Status
from secretstores.runtime import StoreRuntime

_BATCH = 100


class Outcome(enum.Enum):
    """What happened to one secret."""

    COPIED = "copied"
    UNCHANGED = "unchanged"
    CONFLICT = "skipped: the destination holds a different value (use --overwrite)"
    GONE = "skipped: listed by the source but no longer there"
    UNREADABLE = "skipped: cannot read it from the source"
    FAILED = "failed"


@attrs.frozen
class Step:
    """One secret's outcome; ``detail`` explains failures (never holds a value)."""

    name: str
    outcome: Outcome
    detail: str = ""


@attrs.define
class Report:
    """Every secret's outcome, in order."""

    steps: list[Step] = attrs.Factory(list)

    def count(self, outcome: Outcome) -> int:
        """How many secrets had ``outcome``."""
        return sum(1 for step in self.steps if step.outcome is outcome)

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing was left in conflict."""
        return not any(s.outcome in (Outcome.FAILED, Outcome.CONFLICT, Outcome.UNREADABLE)
                       for s in self.steps)


def migrate(
    stores: SecretStores,
    source: str,
    destination: str,
    *,
    overwrite: bool = False,
    dry_run: bool = False,
    progress: Callable[[Step, int, int], None] | None = None,
) -> Report:
    """Copy every secret ``source`` lists into ``destination`` and verify each copy.

    :param overwrite: replace destination secrets whose value differs.
    :param dry_run: decide every outcome but write nothing.
    :param progress: called after each secret with (step, done, total).
    """
    if source == destination:
        raise SecretStoresError("--from and --to name the same store")
    src, dst = stores.runtime(source), stores.runtime(destination)
    dst.check_writable("migrate secrets into it")
    names = src.list_names()
    report = Report()
    total = len(names)
    for start in range(0, total, _BATCH):
        chunk = names[start:start + _BATCH]
        values = src.fetch_uncached(chunk)
        existing = dst.fetch_uncached(chunk)
        for name in chunk:
            step = _copy_one(dst, name, values[name], existing[name], overwrite, dry_run)
            report.steps.append(step)
            if progress is not None:
                progress(step, len(report.steps), total)
    return report


def _copy_one(
    dst: StoreRuntime,
    name: str,
    value: FetchResult,
    existing: FetchResult,
    overwrite: bool,
    dry_run: bool,
) -> Step:
    if value.status is Status.NOT_FOUND:
        return Step(name, Outcome.GONE, value.message)
    if value.status is not Status.FOUND or value.value is None:
        return Step(name, Outcome.UNREADABLE, value.message)
    if existing.status is Status.FOUND:
        if existing.value == value.value:
            return Step(name, Outcome.UNCHANGED)
        if not overwrite:
            return Step(name, Outcome.CONFLICT)
    if dry_run:
        return Step(name, Outcome.COPIED, "dry run: not written")
    try:
        dst.put(name, value.value)
        check = dst.fetch_uncached([name])[name]
    except SecretStoresError as exc:
        return Step(name, Outcome.FAILED, str(exc))
    if check.status is not Status.FOUND or check.value != value.value:
        return Step(name, Outcome.FAILED, "read-back verification did not return the value written")
    return Step(name, Outcome.COPIED)
