"""AES-GCM encryption of values at rest, and the key files it uses.

Keys come from an environment variable when set (any high-entropy string;
32 bytes are derived from it with HKDF-SHA256), else from a key file created
on first use with mode 0600 (32 random bytes, base64).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as _random
from pathlib import Path
from typing import TYPE_CHECKING

from secretstores.errors import SecretStoresError
from secretstores.paths import private_dir

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class DecryptionError(SecretStoresError):
    """Raised when a ciphertext was tampered with or was made with another key."""


def derive_key(material: str, purpose: str) -> bytes:
    """32 key bytes from a high-entropy string, separated by ``purpose``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"secretstores {purpose}".encode())
    return hkdf.derive(material.encode())


def load_key(variable: str, key_file: Path, purpose: str) -> bytes:
    """The key from ``$variable`` if set, else from ``key_file`` (created 0600 if missing)."""
    material = os.environ.get(variable)
    if material:
        return derive_key(material, purpose)
    private_dir(key_file.parent)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(_random.token_bytes(32)).decode() + "\n")
    if key_file.stat().st_mode & 0o077:
        key_file.chmod(0o600)
    text = key_file.read_text().strip()
    if not text:  # another process created it a moment ago and is still writing
        import time

        time.sleep(0.05)
        text = key_file.read_text().strip()
    return derive_key(text, purpose)


def key_id(key: bytes) -> str:
    """A short fingerprint of a key, safe to store beside ciphertexts."""
    return hashlib.sha256(b"secretstores key id" + key).hexdigest()[:16]


class Cipher:
    """AES-256-GCM with a random nonce per message; ``aad`` binds a ciphertext to its slot."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead: AESGCM = AESGCM(key)
        self.key_id = key_id(key)

    def __repr__(self) -> str:
        return f"Cipher(key_id={self.key_id!r})"

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Return nonce + ciphertext + tag."""
        nonce = _random.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Reverse :meth:`encrypt`; raise :class:`DecryptionError` on any mismatch."""
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except (InvalidTag, ValueError):
            raise DecryptionError(
                "cannot decrypt: the data was altered or encrypted with another key"
            ) from None
