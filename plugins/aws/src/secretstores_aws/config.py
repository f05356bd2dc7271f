"""The configuration of an ``aws_secrets_manager`` store.

The seed's fields (``region``, ``accessKeyId``, ``secretAccessKey``) plus what
AWS users expect: ``sessionToken``, ``profile``, ``roleArn`` (assumed through
STS), ``endpointUrl``, and ``recoveryWindowDays`` for deletes. With neither
keys nor a profile, boto3's standard credential chain is used (environment,
shared files, container or instance role).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from secretstores.config.fields import optional_field

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")

#: AWS's own default recovery window for ``DeleteSecret``.
DEFAULT_RECOVERY_WINDOW_DAYS = 30


def _region(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if not _REGION.match(value):
        raise ValueError("expected an AWS region code such as us-east-1")


def _role_arn(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if not _ROLE_ARN.match(value):
        raise ValueError("expected an IAM role ARN: arn:aws:iam::<account>:role/<name>")


def _endpoint_url(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")


def _recovery_window(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value != 0 and not 7 <= value <= 30:
        raise ValueError("expected 0 (delete at once, no recovery) or 7 to 30 days")


@attrs.frozen
class AwsConfig:
    """Configuration of an ``aws_secrets_manager`` store (JSON names in ``alias``)."""

    region: str | None = optional_field("region", validator=_region)
    access_key_id: str | None = optional_field("accessKeyId")
    secret_access_key: str | None = optional_field("secretAccessKey", secret=True)
    session_token: str | None = optional_field("sessionToken", secret=True)
    profile: str | None = optional_field("profile")
    role_arn: str | None = optional_field("roleArn", validator=_role_arn)
    endpoint_url: str | None = optional_field("endpointUrl", validator=_endpoint_url)
    recovery_window_days: int = optional_field(
        "recoveryWindowDays", type=int, default=DEFAULT_RECOVERY_WINDOW_DAYS,
        validator=_recovery_window)

    def __attrs_post_init__(self) -> None:
        # Messages name fields only, never their values.
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both 'accessKeyId' and 'secretAccessKey', or neither")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("'sessionToken' needs 'accessKeyId' and 'secretAccessKey'")
        if self.profile is not None and self.access_key_id is not None:
            raise ValueError("give either 'profile' or 'accessKeyId'/'secretAccessKey', not both")

    @property
    def credential_source(self) -> str:
        """How the base credentials are found, for messages (never a key)."""
        if self.access_key_id is not None:
            return "the configured access key"
        if self.profile is not None:
            return f"profile '{self.profile}'"
        return "the default credential chain"
