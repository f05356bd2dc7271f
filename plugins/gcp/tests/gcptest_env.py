"""What the GCP tests share besides fixtures: project names, the accounts, configurations."""

from __future__ import annotations

import json
from typing import Any

import attrs
from gcptest_server import SecretManagerServer

MAIN = "main-project"
OTHER = "other-project"
DISABLED_API = "api-off-project"
STORE = "gcp"


@attrs.frozen
class Accounts:
    """The service account keys (key file contents) the tests use."""

    reader: dict[str, Any]
    writer: dict[str, Any]
    admin: dict[str, Any]
    cross: dict[str, Any]


def configuration(server: SecretManagerServer, key: dict[str, Any] | None,
                  **extra: Any) -> dict[str, Any]:
    """A store configuration: the key as the JSON string the gateway document shows."""
    config: dict[str, Any] = {"projectId": MAIN, "endpoint": server.url}
    if key is not None:
        config["serviceAccountKey"] = json.dumps(key)
    return {**config, **extra}
