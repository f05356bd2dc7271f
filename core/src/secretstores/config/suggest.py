"""Suggestions ("did you mean"): the closest known name to a mistyped one, for error messages.

Only names from the configuration or the code (store names, mapping names, field
names, plugin names) are ever suggested, never a secret's value.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The known name ``name`` most likely stands for, or None when none is close.

    A difference of case alone counts as close (``Address`` for ``address``).
    """
    known = [c for c in dict.fromkeys(candidates) if c != name]
    folded = {c.lower(): c for c in known}
    if name.lower() in folded:
        return folded[name.lower()]
    found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str], *, quote: str = "'") -> str:
    """``" (did you mean 'address'?)"`` when a candidate is close to ``name``, else ``""``."""
    match = closest(name, candidates)
    return f" (did you mean {quote}{match}{quote}?)" if match is not None else ""
