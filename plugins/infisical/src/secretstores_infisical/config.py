"""The configuration of an ``infisical`` store.

The gateway document's fields, all required there: ``siteUrl``, ``accessToken``,
``projectId``, ``environment``, ``secretPath``::

    {"name": "my_infisical_store", "type": "infisical",
     "configuration": {"siteUrl": "https://us.infisical.com", "accessToken": "...",
                       "projectId": "...", "environment": "prod", "secretPath": "/"}}

Instead of ``accessToken``, a machine identity's universal auth credentials,
``clientId`` and ``clientSecret`` (Infisical's recommended way): the store logs
in and renews its access token before it expires. ``listThreshold`` tunes batch
reads (see :mod:`secretstores_infisical.reads`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from secretstores.config.fields import optional_field, required_field

#: Keys of one folder read in one render from which one list call serves them all,
#: instead of one read per key fanned out by the core (measured: docs/providers/infisical.md).
DEFAULT_LIST_THRESHOLD = 3

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_FOLDER = re.compile(r"^[A-Za-z0-9_.-]+$")


def _site_url(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected the Infisical instance URL, http:// or https:// "
                         "(e.g. https://us.infisical.com)")
    if parts.query or parts.fragment:
        raise ValueError("expected the instance URL without a query or fragment")
    if parts.path.rstrip("/").endswith("/api"):
        raise ValueError("expected the instance URL without '/api' (the SDK adds it)")


def _environment(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _SLUG.match(value):
        raise ValueError("expected an environment slug such as 'prod' (letters, digits, "
                         "'-', '_' and '.')")


def folder_problem(path: str) -> str | None:
    """What is wrong with a folder path (``/``, ``/apps/api``), or None."""
    if not path.startswith("/"):
        return "expected an absolute folder path starting with '/' (e.g. '/' or '/apps/api')"
    for part in path.strip("/").split("/") if path.strip("/") else []:
        if not part:
            return "expected no empty folder names ('//')"
        if part in (".", ".."):
            return "folder names '.' and '..' are not allowed"
        if not _FOLDER.match(part):
            return (f"folder name '{part}' is not valid (letters, digits, '-', '_' and '.' "
                    "only)")
    return None


def normalize_folder(path: str) -> str:
    """A folder path as Infisical compares it: ``/`` or ``/a/b`` (no trailing slash)."""
    return "/" + path.strip("/")


def _secret_path(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    problem = folder_problem(value)
    if problem is not None:
        raise ValueError(problem)


def _threshold(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 0:
        raise ValueError("expected 0 (never list) or a number of keys, 1 or more")


@attrs.frozen
class InfisicalConfig:
    """Configuration of an ``infisical`` store (JSON names in ``alias``)."""

    site_url: str = required_field("siteUrl", validator=_site_url)
    project_id: str = required_field("projectId")
    environment: str = required_field("environment", validator=_environment)
    secret_path: str = required_field("secretPath", validator=_secret_path)
    access_token: str | None = optional_field("accessToken", secret=True)
    client_id: str | None = optional_field("clientId")
    client_secret: str | None = optional_field("clientSecret", secret=True)
    list_threshold: int = optional_field("listThreshold", type=int,
                                         default=DEFAULT_LIST_THRESHOLD, validator=_threshold)

    def __attrs_post_init__(self) -> None:
        # Messages name fields only, never their values.
        problems = []
        universal = self.client_id is not None or self.client_secret is not None
        if self.access_token is not None and universal:
            problems.append("give either 'accessToken' or 'clientId' and 'clientSecret' "
                            "(universal auth), not both")
        elif self.access_token is None and not universal:
            problems.append("missing required field 'accessToken' (or 'clientId' and "
                            "'clientSecret' for universal auth)")
        elif universal and (self.client_id is None or self.client_secret is None):
            missing = "clientSecret" if self.client_secret is None else "clientId"
            problems.append(f"universal auth needs both 'clientId' and 'clientSecret': "
                            f"'{missing}' is missing")
        for name in ("access_token", "client_id", "client_secret"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                alias = attrs.fields_dict(InfisicalConfig)[name].alias
                problems.append(f"'{alias}' must not be empty")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def universal_auth(self) -> bool:
        """Whether the store logs in with universal auth (else it holds an access token)."""
        return self.client_id is not None

    @property
    def site(self) -> str:
        """``siteUrl`` without a trailing slash."""
        return self.site_url.rstrip("/")

    @property
    def folder(self) -> str:
        """``secretPath``, normalized (``/`` or ``/a/b``)."""
        return normalize_folder(self.secret_path)

    @property
    def auth_description(self) -> str:
        """How the store authenticates, for messages (never a credential)."""
        if self.universal_auth:
            return f"universal auth (client ID '{self.client_id}')"
        return "the configured access token"
