"""The configuration of a ``gcp_secret_manager`` store.

The gateway document's fields, ``projectId`` and ``serviceAccountKey`` (the
JSON key file's contents, as a string or as an object), plus ``endpoint`` for
a regional or Private Service Connect endpoint. Without a key the store uses
Application Default Credentials.

The key is a credential: it never appears in a repr, and the messages about
it name the key's fields, never their values. It is checked in
``__attrs_post_init__``, where messages are shown as written (a secret
field's own validator messages are replaced by the core with "has an invalid
value", which would not say what is wrong).
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from secretstores.config.fields import optional_field, required_field
from secretstores_gcp import DEFAULT_ENDPOINT

# Project ids: 6-30 lowercase letters, digits and hyphens, starting with a letter, not
# ending with a hyphen, maybe behind a domain ("example.com:my-project"); or a number.
_PROJECT = re.compile(r"^(?:(?:[a-z0-9-]+\.)+[a-z]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[0-9]{1,20}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$")
_REGIONAL = re.compile(r"^secretmanager\.([a-z0-9-]+)\.rep\.googleapis\.com$")
#: The fields of a key file google-auth needs.
KEY_FIELDS = ("client_email", "private_key", "token_uri")
_OTHER_CREDENTIALS = {"authorized_user", "external_account", "impersonated_service_account",
                      "external_account_authorized_user", "gdch_service_account"}


def _project(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _PROJECT.match(value):
        raise ValueError("expected a project ID (6 to 30 lowercase letters, digits and "
                         "hyphens, starting with a letter) or a project number")


def _endpoint(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if endpoint_parts(value) is None:
        raise ValueError("expected a host name (secretmanager.us-central1.rep.googleapis.com) "
                         "or an https:// URL without a path (http:// only for a local server "
                         "on 127.0.0.1, localhost or [::1])")


def endpoint_parts(value: str) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` of an ``endpoint`` value, or None when it is not one."""
    text = value.strip()
    if "://" not in text:
        return ("https", text) if _HOST.match(text) else None
    parts = urlsplit(text)
    if (parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/")
            or parts.query or parts.fragment or "@" in parts.netloc
            or not _HOST.match(parts.netloc)):
        return None
    if parts.scheme == "http" and not loopback(parts.hostname):
        return None  # the access token would cross the network in clear text
    return parts.scheme, parts.netloc


def loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (the only place plain ``http://`` may go)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def key_problems(value: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse a ``serviceAccountKey`` value: the key object and what is wrong with it.

    Messages name the key's fields, never their values.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:  # its message holds no part of the text
            return None, [f"serviceAccountKey: is not valid JSON ({exc.msg} at line "
                          f"{exc.lineno} column {exc.colno}): give the key file's contents"]
    if not isinstance(value, dict):
        return None, ["serviceAccountKey: expected the JSON object of a service account key "
                      "file"]
    kind = value.get("type", "service_account")
    if kind != "service_account":
        shown = f"'{kind}'" if kind in _OTHER_CREDENTIALS else "an unknown type"
        return None, [f"serviceAccountKey: has type {shown}, expected a service account key "
                      "(type 'service_account'); for other credentials leave serviceAccountKey "
                      "out and use Application Default Credentials"]
    problems = []
    missing = [name for name in KEY_FIELDS if not value.get(name)]
    if missing:
        problems.append(f"serviceAccountKey: missing field{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)}")
    wrong = [name for name in (*KEY_FIELDS, "private_key_id", "project_id")
             if value.get(name) is not None and not isinstance(value[name], str)]
    if wrong:
        problems.append(f"serviceAccountKey: {', '.join(wrong)} must be strings")
    else:
        if value.get("client_email") and "@" not in value["client_email"]:
            problems.append("serviceAccountKey: client_email is not an email address")
        private_key = value.get("private_key")
        if private_key and not ("-----BEGIN" in private_key and "PRIVATE KEY-----" in private_key):
            problems.append("serviceAccountKey: private_key is not a PEM private key")
        token_uri = value.get("token_uri")
        if token_uri and not (token_uri.startswith("https://") or (
                token_uri.startswith("http://") and loopback(_hostname(token_uri)))):
            problems.append("serviceAccountKey: token_uri is not an https:// URL (http:// "
                            "only for a local server on 127.0.0.1, localhost or [::1])")
    return (None, problems) if problems else (value, [])


@attrs.frozen
class GcpConfig:
    """Configuration of a ``gcp_secret_manager`` store (JSON names in ``alias``)."""

    #: The project whose secrets plain names designate.
    project_id: str = required_field("projectId", validator=_project)
    #: The service account key file's contents (a JSON string or object); None: ADC.
    service_account_key: str | dict[str, Any] | None = optional_field(
        "serviceAccountKey", type=(str, dict), secret=True)
    #: Another endpoint than ``secretmanager.googleapis.com`` (regional, private).
    endpoint: str | None = optional_field("endpoint", validator=_endpoint)

    def __attrs_post_init__(self) -> None:
        if self.service_account_key is not None:
            _, problems = key_problems(self.service_account_key)
            if problems:
                raise ValueError("; ".join(problems))

    @property
    def key_info(self) -> dict[str, Any] | None:
        """The service account key as an object (None: Application Default Credentials)."""
        if self.service_account_key is None:
            return None
        key, _ = key_problems(self.service_account_key)
        return key

    @property
    def client_email(self) -> str | None:
        """The service account of the configured key (None: ADC)."""
        key = self.key_info
        return str(key["client_email"]) if key else None

    @property
    def endpoint_url(self) -> str:
        """The endpoint as ``scheme://host[:port]``."""
        parts = endpoint_parts(self.endpoint) if self.endpoint else None
        if parts is None:
            return DEFAULT_ENDPOINT
        return f"{parts[0]}://{parts[1]}"

    @property
    def location(self) -> str | None:
        """The location a regional endpoint serves (``secretmanager.LOC.rep.googleapis.com``):
        plain names there designate that location's regional secrets."""
        host = urlsplit(self.endpoint_url).hostname or ""
        found = _REGIONAL.match(host)
        return found.group(1) if found else None

    @property
    def credential_source(self) -> str:
        """How the credentials are found, for messages (never a key)."""
        email = self.client_email
        if email:
            return f"the service account key of {email}"
        return "Application Default Credentials"
