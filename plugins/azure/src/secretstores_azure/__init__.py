"""secretstores-azure: the ``azure_key_vault`` store type for secretstores.

Importing this package (or :mod:`secretstores_azure.plugin`) never imports
the Azure SDKs: azure-keyvault-secrets and azure-identity are loaded when a
store of this type is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: The store type this plugin serves (the ``"type"`` of a store definition).
TYPE = "azure_key_vault"

__all__ = ["TYPE", "__version__"]
