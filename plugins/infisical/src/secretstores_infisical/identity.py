"""Whose view of the secrets a store reads: its machine identity or its token's subject.

Cheap and offline (the core asks once per store, before any login): the
universal auth client ID, or the subject an access token names. Infisical's
access tokens are JWTs whose payload carries ``identityId`` (machine identities)
or ``userId`` (users); the payload is read, not verified (Infisical verifies it
on every request). A token that is not a JWT is digested instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from secretstores_infisical.config import InfisicalConfig

_SUBJECT_CLAIMS = ("identityId", "userId", "serviceTokenId", "sub")


def token_subject(token: str) -> str | None:
    """``identityId:<uuid>`` (or ``userId:...``) from a JWT access token; None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        return None
    if not isinstance(payload, dict):
        return None
    for claim in _SUBJECT_CLAIMS:
        value = payload.get(claim)
        if isinstance(value, str) and value:
            return f"{claim}:{value}"
    return None


def cache_identity(config: InfisicalConfig) -> str:
    """The principal a store reads as, for the cache's scope (fed to its HMAC only)."""
    if config.client_id is not None:
        return f"universal-auth:{config.client_id}"
    token = config.access_token or ""
    subject = token_subject(token)
    if subject is None:
        subject = "digest:" + hashlib.sha256(token.encode()).hexdigest()
    return f"token:{subject}"
