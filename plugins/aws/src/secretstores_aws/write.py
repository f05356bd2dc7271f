"""Writing, deleting and listing secrets.

A write sends ``PutSecretValue`` (a new AWSCURRENT version) and, when the
secret does not exist yet, ``CreateSecret``; a secret scheduled for deletion
is restored first. The core gives each write a ``request_id``, the same on
every retry of it, sent as the ``ClientRequestToken``, so a retried write never
makes a second version. Values are always written as ``SecretString``.
"""

from __future__ import annotations

import uuid
from typing import Any

from secretstores.errors import AuthenticationError, StoreError
from secretstores_aws.client import AwsClient
from secretstores_aws.errors import call, describe, error_code, error_message
from secretstores_aws.identifiers import IdentifierError, parse


def _plain(name: str, action: str) -> None:
    try:
        ref = parse(name)
    except IdentifierError as exc:
        raise StoreError(f"cannot {action} '{name}': {exc}") from None
    if ref.stage is not None or ref.version_id is not None:
        raise StoreError(f"cannot {action} '{name}': a version selector cannot be written to")


def _scheduled_for_deletion(exc: Exception) -> bool:
    return error_code(exc) == "InvalidRequestException" and "delet" in error_message(exc).lower()


def put(client: AwsClient, name: str, value: str, request_id: str | None = None) -> bool:
    """Make ``value`` the current version of secret ``name``, creating the secret if needed.

    :param request_id: the ``ClientRequestToken`` (the core's id of this write).
    """
    from botocore.exceptions import ClientError

    _plain(name, "store")
    token = request_id or str(uuid.uuid4())
    secrets = client.secrets

    def put_value() -> None:
        call("PutSecretValue", secrets.put_secret_value,
             SecretId=name, SecretString=value, ClientRequestToken=token)

    try:
        put_value()
        return True
    except ClientError as exc:
        if _scheduled_for_deletion(exc):
            call("RestoreSecret", secrets.restore_secret, SecretId=name)
            put_value()
            return True
        if error_code(exc) != "ResourceNotFoundException":
            raise StoreError(f"cannot store '{name}': {describe(exc)}") from None
    if name.startswith("arn:"):
        raise StoreError(f"cannot store '{name}': no such secret, and a new secret "
                         "is created by name, not by ARN")
    try:
        call("CreateSecret", secrets.create_secret,
             Name=name, SecretString=value, ClientRequestToken=token)
    except ClientError as exc:
        if error_code(exc) != "ResourceExistsException":
            raise StoreError(f"cannot create '{name}': {describe(exc)}") from None
        put_value()  # another writer created it meanwhile: add our version on top
    return True


def delete(client: AwsClient, name: str) -> bool:
    """Delete secret ``name``; False when it does not exist or is already scheduled for deletion.

    With ``recoveryWindowDays`` 0 the secret is gone at once
    (``ForceDeleteWithoutRecovery``, after a ``DescribeSecret`` to learn whether
    it existed); otherwise it can be restored for that many days.
    """
    from botocore.exceptions import ClientError

    _plain(name, "delete")
    params: dict[str, Any] = {"SecretId": name}
    if client.recovery_window_days == 0:
        params["ForceDeleteWithoutRecovery"] = True
    else:
        params["RecoveryWindowInDays"] = client.recovery_window_days
    try:
        if client.recovery_window_days == 0:
            # A forced delete of a missing secret succeeds without saying so: ask first.
            call("DescribeSecret", client.secrets.describe_secret, SecretId=name)
        call("DeleteSecret", client.secrets.delete_secret, **params)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException" or _scheduled_for_deletion(exc):
            return False
        raise StoreError(f"cannot delete '{name}': {describe(exc)}") from None
    return True


def list_names(client: AwsClient) -> list[str]:
    """The names of every secret ``ListSecrets`` shows (not those scheduled for deletion)."""
    from botocore.exceptions import ClientError

    names: list[str] = []
    params: dict[str, Any] = {"MaxResults": 100}
    try:
        while True:
            answer = call("ListSecrets", client.secrets.list_secrets, **params)
            names.extend(entry["Name"] for entry in answer.get("SecretList", []))
            if not answer.get("NextToken"):
                return names
            params["NextToken"] = answer["NextToken"]
    except ClientError as exc:
        raise StoreError(f"cannot list secrets: {describe(exc)}") from None


def check(client: AwsClient) -> str:
    """Prove Secrets Manager accepts the credentials: one ``ListSecrets`` of one entry.

    An ``AccessDeniedException`` also proves it (the credentials were recognised;
    the policy grants only ``GetSecretValue``, as in the gateway document).
    """
    from botocore.exceptions import ClientError

    try:
        call("ListSecrets", client.secrets.list_secrets, MaxResults=1)
    except ClientError as exc:
        code = error_code(exc)
        if code == "AccessDeniedException":
            return "credentials accepted by Secrets Manager (ListSecrets is not allowed)"
        if code in ("InvalidSignatureException", "SignatureDoesNotMatch"):
            raise AuthenticationError(f"Secrets Manager rejected the credentials: "
                                      f"{describe(exc)}") from None
        raise StoreError(f"ListSecrets failed: {describe(exc)}") from None
    return "credentials accepted by Secrets Manager"
