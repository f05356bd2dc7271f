"""AES-GCM encryption of values at rest, and the key files it uses.

Keys come from an environment variable when set (a high-entropy string of at
least :data:`MIN_KEY_LENGTH` characters; 32 bytes are derived from it with
HKDF-SHA256), else from a key file created on first use with mode 0600 (32
random bytes, base64). Key material with too little entropy is refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as _random
from pathlib import Path
from typing import TYPE_CHECKING

from secretstores.errors import SecretStoresError
from secretstores.paths import private_dir, private_file

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12

#: The least a key's material may be: this many characters ...
MIN_KEY_LENGTH = 32
#: ... of which this many different ones (refuses ``aaaa...`` and short passwords).
MIN_KEY_DISTINCT = 12
#: How to make a good key, said by every refusal.
KEY_ADVICE = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class DecryptionError(SecretStoresError):
    """Raised when a ciphertext was tampered with or was made with another key."""


class WeakKeyError(SecretStoresError):
    """Raised when key material has too little entropy to be used as a key (the
    message names where it came from, never the material)."""


def check_key(material: str, source: str) -> None:
    """Refuse ``material`` (from ``source``, e.g. ``$SECRETSTORES_MASTER_KEY``) unless
    it has at least :data:`MIN_KEY_LENGTH` characters, :data:`MIN_KEY_DISTINCT` of
    them different."""
    if len(material) < MIN_KEY_LENGTH or len(set(material)) < MIN_KEY_DISTINCT:
        what = "empty" if not material else "too weak to be a key"
        raise WeakKeyError(
            f"{source} is {what}: a key needs at least {MIN_KEY_LENGTH} characters, "
            f"at least {MIN_KEY_DISTINCT} of them different; {KEY_ADVICE}")


def derive_key(material: str, purpose: str) -> bytes:
    """32 key bytes from a high-entropy string, separated by ``purpose``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"secretstores {purpose}".encode())
    # surrogateescape: a key file of raw bytes that are not UTF-8 is its bytes
    return hkdf.derive(material.encode("utf-8", "surrogateescape"))


def load_key(variable: str, key_file: Path, purpose: str) -> bytes:
    """The key from ``$variable`` if set, else from ``key_file`` (created 0600 if
    missing; tightened, with a warning, if others could read it).

    :raises WeakKeyError: the material has too little entropy (see :func:`check_key`).
    """
    material = os.environ.get(variable)
    if material:
        check_key(material, f"${variable}")
        return derive_key(material, purpose)
    private_dir(key_file.parent)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        private_file(key_file, f"the {purpose} key file")
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(_random.token_bytes(32)).decode() + "\n")
    text = _read(key_file)
    if not text:  # another process created it a moment ago and is still writing
        import time

        time.sleep(0.05)
        text = _read(key_file)
    check_key(text, f"the key file {key_file}")
    return derive_key(text, purpose)


def _read(key_file: Path) -> str:
    return key_file.read_bytes().strip().decode("utf-8", "surrogateescape")


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
