"""Configuration of a ``hashicorp_vault`` store.

The first four fields are exactly those of the read-only store document
(``address``, ``token``, ``namespace``, ``mountPath``); the others choose a
login method and a path prefix, as the read-write secrets manager needs::

    {"name": "vault", "type": "hashicorp_vault",
     "configuration": {"address": "https://vault.example.com", "token": "hvs.xxx",
                       "namespace": "admin", "mountPath": "secret"}}
"""

from __future__ import annotations

from typing import Any

import attrs

from secretstores.config.fields import optional_field, required_field

TYPE = "hashicorp_vault"

#: The login methods, as ``authMethod`` (and ``<PREFIX>_HASHICORP_VAULT_AUTH_METHOD``) name them.
AUTH_METHODS = ("TOKEN", "K8S", "AWS")

DEFAULT_K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
DEFAULT_K8S_MOUNT_POINT = "kubernetes"
DEFAULT_AWS_MOUNT_POINT = "aws"
DEFAULT_AWS_REGION = "us-east-1"
DEFAULT_AWS_STS_ENDPOINT = "https://sts.amazonaws.com"


def _auth_method(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if value.upper() not in AUTH_METHODS:
        raise ValueError(f"expected one of {', '.join(AUTH_METHODS)}, got '{value}'")


def _address(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")


def _mount(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    if not value.strip("/"):
        raise ValueError("expected a non-empty mount path")


@attrs.frozen
class VaultConfig:
    """Configuration of a ``hashicorp_vault`` store (KV secrets engine v2)."""

    address: str = required_field("address", validator=_address)
    token: str | None = optional_field("token", secret=True)
    namespace: str | None = optional_field("namespace")
    mount_path: str = optional_field("mountPath", default="secret", validator=_mount)
    #: Prepended to every identifier: ``archestra`` makes ``db`` read ``<mount>/data/archestra/db``.
    path_prefix: str = optional_field("pathPrefix", default="")
    auth_method: str = optional_field("authMethod", default="TOKEN", validator=_auth_method)
    k8s_role: str | None = optional_field("k8sRole")
    k8s_token_path: str = optional_field("k8sTokenPath", default=DEFAULT_K8S_TOKEN_PATH)
    k8s_mount_point: str = optional_field(
        "k8sMountPoint", default=DEFAULT_K8S_MOUNT_POINT, validator=_mount)
    aws_role: str | None = optional_field("awsRole")
    aws_mount_point: str = optional_field(
        "awsMountPoint", default=DEFAULT_AWS_MOUNT_POINT, validator=_mount)
    aws_region: str = optional_field("awsRegion", default=DEFAULT_AWS_REGION)
    aws_sts_endpoint: str = optional_field("awsStsEndpoint", default=DEFAULT_AWS_STS_ENDPOINT)
    aws_iam_server_id: str | None = optional_field("awsIamServerId")
    #: A CA bundle (PEM file) to verify the Vault server's certificate with.
    ca_cert: str | None = optional_field("caCert")

    def __attrs_post_init__(self) -> None:
        method = self.method
        needed = {"TOKEN": ("token", self.token), "K8S": ("k8sRole", self.k8s_role),
                  "AWS": ("awsRole", self.aws_role)}[method]
        if not needed[1]:
            raise ValueError(f"authMethod {method} needs the field '{needed[0]}'")

    @property
    def method(self) -> str:
        """The login method, upper-cased (``TOKEN``, ``K8S`` or ``AWS``)."""
        return self.auth_method.upper()

    @property
    def mount(self) -> str:
        """The KV v2 mount path without surrounding slashes."""
        return self.mount_path.strip("/")

    def path_of(self, name: str) -> str:
        """The path within the mount of secret ``name`` (the prefix put in front)."""
        prefix = self.path_prefix.strip("/")
        name = name.strip("/")
        return f"{prefix}/{name}" if prefix else name
