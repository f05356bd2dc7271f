"""The ``configuration`` object of an ``example_store`` store."""

from __future__ import annotations

import attrs

from secretstores.config import optional_field, required_field


@attrs.frozen
class ExampleConfig:
    """Fields use ``alias`` for their JSON name; ``secret=True`` hides credentials."""

    url: str = required_field("url")
    token: str | None = optional_field("token", secret=True)
