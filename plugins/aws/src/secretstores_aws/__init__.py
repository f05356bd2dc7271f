"""secretstores-aws: the ``aws_secrets_manager`` store type for secretstores.

Importing this package (or :mod:`secretstores_aws.plugin`) never imports
boto3: the SDK is loaded when a store of this type is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: The store type this plugin serves (the ``"type"`` of a store definition).
TYPE = "aws_secrets_manager"

#: The most ids ``BatchGetSecretValue`` accepts in its ``SecretIdList``.
BATCH_LIMIT = 20

__all__ = ["BATCH_LIMIT", "TYPE", "__version__"]
