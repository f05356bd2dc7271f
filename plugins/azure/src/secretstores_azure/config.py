"""The configuration of an ``azure_key_vault`` store.

The gateway document's four fields, exactly as it names them::

    {"name": "my_azure_store", "type": "azure_key_vault",
     "configuration": {"vaultUrl": "https://my-vault.vault.azure.net",
                       "tenantId": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                       "clientId": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                       "clientSecret": "..."}}

With no ``clientSecret`` the store signs in with Azure's default credential
chain (environment, workload identity, managed identity, Azure CLI); then
``clientId`` picks a user-assigned managed identity or the workload identity's
application and ``tenantId`` its tenant, and both may be left out. The other
fields are for sovereign clouds (``authorityHost``), private CAs (``caCert``) and
vaults reached under a name outside Azure's vault domains
(``verifyChallengeResource``, ``disableInstanceDiscovery``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs

from secretstores.config.fields import optional_field, required_field

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TENANT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.-]*$")
_HOST = re.compile(r"^[0-9A-Za-z.-]+(:\d{1,5})?$")


def _vault_url(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value.strip())
    if parts.scheme != "https":
        raise ValueError("expected an https:// URL such as https://my-vault.vault.azure.net "
                         "(Key Vault is only reached over TLS)")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("expected the vault's URL alone, such as "
                         "https://my-vault.vault.azure.net (no path or query)")


def _tenant(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not _TENANT.match(value):
        raise ValueError("expected a directory (tenant) ID: a GUID, or a domain such as "
                         "contoso.onmicrosoft.com")


def _client(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not _GUID.match(value):
        raise ValueError("expected an application (client) ID: a GUID such as "
                         "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")


def _authority(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError("expected an https:// URL or a host name such as "
                             "login.microsoftonline.us")
    elif not _HOST.match(value):
        raise ValueError("expected an https:// URL or a host name such as "
                         "login.microsoftonline.us")


@attrs.frozen
class AzureConfig:
    """Configuration of an ``azure_key_vault`` store (JSON names in ``alias``)."""

    vault_url: str = required_field("vaultUrl", validator=_vault_url)
    tenant_id: str | None = optional_field("tenantId", validator=_tenant)
    client_id: str | None = optional_field("clientId", validator=_client)
    client_secret: str | None = optional_field("clientSecret", secret=True)
    #: The Microsoft Entra ID host to sign in at (sovereign clouds, Azure Stack).
    authority_host: str | None = optional_field("authorityHost", validator=_authority)
    #: A CA bundle (PEM file) to verify the vault's and the sign-in endpoint's certificates.
    ca_cert: str | None = optional_field("caCert")
    #: Whether the vault's challenge must name a resource whose domain holds the vault's host.
    verify_challenge_resource: bool = optional_field(
        "verifyChallengeResource", type=bool, default=True)
    #: Skip Microsoft's check that ``authorityHost`` is a known sign-in host.
    disable_instance_discovery: bool = optional_field(
        "disableInstanceDiscovery", type=bool, default=False)

    def __attrs_post_init__(self) -> None:
        # Messages name fields only, never their values.
        if self.client_secret is not None:
            missing = [f"'{name}'" for name, value in (("tenantId", self.tenant_id),
                                                        ("clientId", self.client_id))
                       if value is None]
            if missing:
                raise ValueError(f"'clientSecret' needs {' and '.join(missing)} "
                                 "(the app registration's directory and application IDs)")

    @property
    def url(self) -> str:
        """The vault URL without surrounding blanks or a trailing slash."""
        return self.vault_url.strip().rstrip("/")

    @property
    def uses_client_secret(self) -> bool:
        """Whether the store signs in as an app registration with its client secret."""
        return self.client_secret is not None

    @property
    def principal(self) -> str:
        """Who signs in, for messages (never a credential)."""
        if self.uses_client_secret:
            return f"client '{self.client_id}' of tenant '{self.tenant_id}'"
        if self.client_id is not None:
            return f"the default credential chain (client '{self.client_id}')"
        return "the default credential chain"
