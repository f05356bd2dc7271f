"""Building a store's cache identity from the environment and files it reads.

A provider's ``secretstores_identity`` hook says whose view of the secrets a
store reads (see :mod:`secretstores.hookspecs`). Most identities come from
environment variables and files of a credential chain; :func:`environment_identity`
digests them. The digest is only ever fed to the cache's HMAC, never stored or
shown.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path


def _file_digest(path: str | os.PathLike[str]) -> str:
    try:
        return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()
    except OSError:
        return "absent"


def environment_identity(
    *,
    variables: Iterable[str] = (),
    prefixes: Iterable[str] = (),
    files: Iterable[str | os.PathLike[str]] = (),
    file_variables: Iterable[str] = (),
    extra: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> str:
    """A digest of what a credential chain reads, to return from ``secretstores_identity``.

    :param variables: environment variables whose values count.
    :param prefixes: every variable starting with one of these counts (``"AWS_"``).
    :param files: files whose contents count (absent ones count as absent).
    :param file_variables: variables naming files whose contents count
        (``GOOGLE_APPLICATION_CREDENTIALS``).
    :param extra: any other strings that count (a role name from the configuration).
    :param environ: the environment to read (default: ``os.environ``).
    """
    env = os.environ if environ is None else environ
    digest = hashlib.sha256()
    prefixes = tuple(prefixes)
    names = set(variables) | {n for n in env if prefixes and n.startswith(prefixes)}
    for name in sorted(names):
        digest.update(f"var\0{name}\0{env.get(name, '')}\0".encode())
    for name in sorted(set(file_variables)):
        value = env.get(name)
        digest.update(f"filevar\0{name}\0{_file_digest(value) if value else ''}\0".encode())
    for path in files:
        digest.update(f"file\0{path}\0{_file_digest(path)}\0".encode())
    for item in extra:
        digest.update(f"extra\0{item}\0".encode())
    return digest.hexdigest()


def aws_chain_identity(*, extra: Iterable[str] = (),
                       environ: Mapping[str, str] | None = None) -> str:
    """The inputs of AWS's default credential chain, for stores that log in through it
    (an AWS store without keys, Vault's AWS IAM login): every ``AWS_*`` variable, the
    shared credentials and config files, and a web identity token file."""
    env = os.environ if environ is None else environ
    home = Path("~/.aws")
    return environment_identity(
        prefixes=["AWS_"],
        files=[env.get("AWS_SHARED_CREDENTIALS_FILE") or home / "credentials",
               env.get("AWS_CONFIG_FILE") or home / "config"],
        file_variables=["AWS_WEB_IDENTITY_TOKEN_FILE"], extra=extra, environ=env)
