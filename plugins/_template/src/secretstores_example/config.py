"""The ``configuration`` object of an ``example_store`` store."""

from __future__ import annotations

from typing import Any

import attrs

from secretstores.config import optional_field, required_field


def _url(_: Any, attribute: Any, value: str) -> None:
    # The built-in check already made sure this is a non-empty string.
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")


@attrs.frozen
class ExampleConfig:
    """Fields use ``alias`` for their JSON name; ``secret=True`` hides credentials."""

    url: str = required_field("url", validator=_url)
    token: str = required_field("token", secret=True)
    namespace: str = optional_field("namespace", default="default")
