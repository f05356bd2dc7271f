"""Reading secrets: ``BatchGetSecretValue`` for current versions, ``GetSecretValue`` for the rest.

The core splits a batch into parts of
:data:`~secretstores_aws.BATCH_LIMIT` (the most ids Secrets Manager accepts in
one call) and runs them concurrently.
:func:`fetch_batch` asks for the current version of each identifier with
``BatchGetSecretValue``, and leaves out the identifiers a batch cannot express
(a stage other than AWSCURRENT, a version id): the core reads those with
:func:`read_one` (``GetSecretValue``), fanned out. A ``SecretBinary`` value is
returned as standard base64 text.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from secretstores.model import FetchResult
from secretstores_aws.client import AwsClient
from secretstores_aws.errors import call, error_code, error_message, result_for_error
from secretstores_aws.identifiers import IdentifierError, match, parse


def value_text(entry: Mapping[str, Any]) -> str | None:
    """The text of a secret version: ``SecretString``, or ``SecretBinary`` as base64."""
    if entry.get("SecretString") is not None:
        return str(entry["SecretString"])
    if entry.get("SecretBinary") is not None:
        return base64.b64encode(entry["SecretBinary"]).decode("ascii")
    return None


def _found(entry: Mapping[str, Any]) -> FetchResult:
    text = value_text(entry)
    if text is None:
        return FetchResult.not_found("the secret version holds no value")
    return FetchResult.found(text)


def read_one(client: AwsClient, identifier: str) -> FetchResult:
    """Read one identifier (any version selector) with ``GetSecretValue``."""
    from botocore.exceptions import ClientError

    try:
        ref = parse(identifier)
    except IdentifierError as exc:
        return FetchResult.unavailable(f"invalid identifier: {exc}")
    try:
        answer = call("GetSecretValue", client.secrets.get_secret_value, **ref.request())
    except ClientError as exc:
        return result_for_error(error_code(exc), error_message(exc))
    return _found(answer)


def fetch_batch(client: AwsClient, identifiers: Sequence[str]) -> dict[str, FetchResult]:
    """The current versions of ``identifiers`` in one ``BatchGetSecretValue`` (paged).

    Leaves out what the answer does not mention, the identifiers that name
    another version, and everything once ``BatchGetSecretValue`` was denied as a
    whole (a policy granting only ``GetSecretValue``, like the gateway
    document's): the core reads those one at a time.
    """
    from botocore.exceptions import ClientError

    results: dict[str, FetchResult] = {}
    wanted: dict[str, list[str]] = {}  # SecretId -> the identifiers asking for it
    for identifier in identifiers:
        try:
            ref = parse(identifier)
        except IdentifierError as exc:
            results[identifier] = FetchResult.unavailable(f"invalid identifier: {exc}")
            continue
        if ref.batchable:
            wanted.setdefault(ref.secret_id, []).append(identifier)
    if not wanted or not client.batch_allowed:
        return results
    secret_ids = list(wanted)
    params: dict[str, Any] = {"SecretIdList": secret_ids}
    by_id: dict[str, FetchResult] = {}
    try:
        while True:
            answer = call("BatchGetSecretValue", client.secrets.batch_get_secret_value, **params)
            for entry in answer.get("SecretValues", []):
                for secret_id in match(secret_ids, entry.get("ARN", ""), entry.get("Name", "")):
                    by_id[secret_id] = _found(entry)
            for error in answer.get("Errors", []):
                secret_id = error.get("SecretId")
                if secret_id in wanted and secret_id not in by_id:
                    by_id[secret_id] = result_for_error(
                        error.get("ErrorCode"), error.get("Message", ""))
            if not answer.get("NextToken"):
                break
            params["NextToken"] = answer["NextToken"]
    except ClientError as exc:
        if error_code(exc) != "AccessDeniedException":
            raise
        client.batch_allowed = False  # remembered: later fetches go straight to single reads
        return results
    for secret_id, result in by_id.items():
        for identifier in wanted[secret_id]:
            results[identifier] = result
    return results
