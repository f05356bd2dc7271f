"""secretstores-infisical: the ``infisical`` store type for secretstores.

Importing this package (or :mod:`secretstores_infisical.plugin`) never imports
Infisical's SDK (``infisical_sdk``, which imports boto3): it is loaded when a
store of this type is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: The store type this plugin serves (the ``"type"`` of a store definition).
TYPE = "infisical"

__all__ = ["TYPE", "__version__"]
