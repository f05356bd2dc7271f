"""secretstores-gcp: the ``gcp_secret_manager`` store type for secretstores.

Importing this package (or :mod:`secretstores_gcp.plugin`) never imports the
Google Cloud client libraries: they are loaded when a store of this type is
first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: The store type this plugin serves (the ``"type"`` of a store definition).
TYPE = "gcp_secret_manager"

#: The OAuth scope the store's credentials are given (Secret Manager accepts no narrower one).
SCOPE = "https://www.googleapis.com/auth/cloud-platform"

#: Secret Manager's global endpoint.
DEFAULT_ENDPOINT = "https://secretmanager.googleapis.com"

__all__ = ["DEFAULT_ENDPOINT", "SCOPE", "TYPE", "__version__"]
