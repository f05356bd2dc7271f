"""The ``manager`` store from ``<PREFIX>_SECRETS_MANAGER=VAULT`` and its variables.

The variable names are those of the secrets-management document, with the
host application's prefix (``ARCHESTRA_`` there, ``SECRETSTORES_`` by default):

==========================================  ==========================================
``<P>_HASHICORP_VAULT_ADDR``                required
``<P>_HASHICORP_VAULT_AUTH_METHOD``         ``TOKEN`` (default), ``K8S`` or ``AWS``
``<P>_HASHICORP_VAULT_TOKEN``               required for ``TOKEN``
``<P>_HASHICORP_VAULT_K8S_ROLE``            required for ``K8S``
``<P>_HASHICORP_VAULT_K8S_TOKEN_PATH``      default: the pod's service-account token, i.e.
                                            ``/var/run/secrets/kubernetes.io/serviceaccount/token``
``<P>_HASHICORP_VAULT_K8S_MOUNT_POINT``     default ``kubernetes``
``<P>_HASHICORP_VAULT_AWS_ROLE``            required for ``AWS``
``<P>_HASHICORP_VAULT_AWS_MOUNT_POINT``     default ``aws``
``<P>_HASHICORP_VAULT_AWS_REGION``          default ``us-east-1``
``<P>_HASHICORP_VAULT_AWS_STS_ENDPOINT``    default ``https://sts.amazonaws.com``
``<P>_HASHICORP_VAULT_AWS_IAM_SERVER_ID``   optional ``X-Vault-AWS-IAM-Server-ID`` value
``<P>_HASHICORP_VAULT_SECRET_PATH_PREFIX``  default: the prefix lower-cased (``archestra``)
==========================================  ==========================================

Secrets live in the ``secret`` KV v2 mount under the path prefix: data path
``secret/data/<prefix>/{secretName}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secretstores.errors import ConfigError
from secretstores_vault.config import AUTH_METHODS, TYPE

#: The ``<PREFIX>_SECRETS_MANAGER`` value this plugin answers.
MANAGER = "VAULT"

#: Optional variables (suffix after ``<P>_HASHICORP_VAULT_``) and their configuration fields.
_OPTIONAL = {
    "TOKEN": {},
    "K8S": {"K8S_TOKEN_PATH": "k8sTokenPath", "K8S_MOUNT_POINT": "k8sMountPoint"},
    "AWS": {"AWS_MOUNT_POINT": "awsMountPoint", "AWS_REGION": "awsRegion",
            "AWS_STS_ENDPOINT": "awsStsEndpoint", "AWS_IAM_SERVER_ID": "awsIamServerId"},
}
#: The variable each method requires, and its configuration field.
_REQUIRED = {"TOKEN": ("TOKEN", "token"), "K8S": ("K8S_ROLE", "k8sRole"),
             "AWS": ("AWS_ROLE", "awsRole")}


def manager_from_env(
    manager: str, prefix: str, environ: Mapping[str, str]
) -> dict[str, Any] | None:
    """The ``manager`` store definition, None for another manager, ConfigError if incomplete."""
    if manager.upper() != MANAGER:
        return None
    base = f"{prefix.rstrip('_')}_HASHICORP_VAULT_"

    def get(suffix: str) -> str | None:
        value = environ.get(base + suffix, "").strip()
        return value or None

    problems: list[str] = []
    address = get("ADDR")
    if address is None:
        problems.append(f"{base}ADDR is not set (the Vault server address)")
    method = (get("AUTH_METHOD") or "TOKEN").upper()
    if method not in AUTH_METHODS:
        problems.append(f"{base}AUTH_METHOD must be one of {', '.join(AUTH_METHODS)}, "
                        f"got '{method}'")
        raise ConfigError(problems)
    required, field = _REQUIRED[method]
    configuration: dict[str, Any] = {
        "address": address,
        "authMethod": method,
        "mountPath": "secret",
        "pathPrefix": get("SECRET_PATH_PREFIX") or prefix.rstrip("_").lower(),
    }
    value = get(required)
    if value is None:
        problems.append(f"{base}{required} is not set (required by "
                        f"{base}AUTH_METHOD={method})")
    configuration[field] = value
    for suffix, name in _OPTIONAL[method].items():
        if get(suffix) is not None:
            configuration[name] = get(suffix)
    if problems:
        raise ConfigError(problems)
    return {"type": TYPE, "configuration": configuration}
