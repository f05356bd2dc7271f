"""secretstores-vault: HashiCorp Vault (and OpenBao) KV v2 stores for secretstores.

The hooks are in :mod:`secretstores_vault.plugin`; this package imports no SDK
until a store is used.
"""

from __future__ import annotations

from secretstores_vault.config import TYPE, VaultConfig

__all__ = ["TYPE", "VaultConfig"]
