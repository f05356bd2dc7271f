"""Reading secrets: ``BatchGetSecretValue`` in chunks of 20, ``GetSecretValue`` for the rest.

Identifiers that ask for the current version go in batches (Secrets Manager
accepts at most 20 ids a call); those naming a stage other than AWSCURRENT or
a version id, which a batch cannot express, go one ``GetSecretValue`` each.
All the calls of one fetch run concurrently in threads. A ``SecretBinary``
value is returned as standard base64 text.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from secretstores.errors import StoreUnavailableError, Unauthorized
from secretstores.model import FetchResult
from secretstores_aws.client import AwsClient
from secretstores_aws.identifiers import IdentifierError, SecretRef, match, parse
from secretstores_aws.retry import call, error_code, error_message

#: The most ids ``BatchGetSecretValue`` accepts in its ``SecretIdList``.
BATCH_LIMIT = 20

_Task = Callable[[], dict[Any, FetchResult]]


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


def result_for_error(code: str | None, message: str) -> FetchResult:
    """Map an AWS error code (of a call or of a batch's ``Errors`` entry) to a result."""
    text = f"{code}: {message}" if message else str(code)
    if code == "ResourceNotFoundException":
        return FetchResult.not_found(text)
    if code == "AccessDeniedException":
        return FetchResult.denied(text)
    if code == "DecryptionFailure":
        return FetchResult.denied(f"{text} (the caller may lack kms:Decrypt on its KMS key)")
    if code == "InvalidRequestException" and "delet" in message.lower():
        return FetchResult.not_found(f"the secret is scheduled for deletion ({text})")
    return FetchResult.unavailable(text)


def fetch_one(client: AwsClient, ref: SecretRef) -> FetchResult:
    """Read one secret version with ``GetSecretValue``."""
    from botocore.exceptions import ClientError

    try:
        answer = call("GetSecretValue", client.secrets.get_secret_value, client.policy,
                      **ref.request())
    except ClientError as exc:
        return result_for_error(error_code(exc), error_message(exc))
    return _found(answer)


def fetch_batch(client: AwsClient, secret_ids: Sequence[str]) -> dict[str, FetchResult]:
    """Read the current version of up to :data:`BATCH_LIMIT` secrets in one call.

    Falls back to ``GetSecretValue`` for ids the answer does not mention, and
    for all of them when the call itself fails (say, ``BatchGetSecretValue``
    is not allowed, which is then remembered for this client).
    """
    from botocore.exceptions import ClientError

    results: dict[str, FetchResult] = {}
    params: dict[str, Any] = {"SecretIdList": list(secret_ids)}
    try:
        while True:
            answer = call("BatchGetSecretValue", client.secrets.batch_get_secret_value,
                          client.policy, **params)
            for entry in answer.get("SecretValues", []):
                for secret_id in match(secret_ids, entry.get("ARN", ""), entry.get("Name", "")):
                    results[secret_id] = _found(entry)
            for error in answer.get("Errors", []):
                secret_id = error.get("SecretId")
                if secret_id in params["SecretIdList"] and secret_id not in results:
                    results[secret_id] = result_for_error(
                        error.get("ErrorCode"), error.get("Message", ""))
            if not answer.get("NextToken"):
                break
            params["NextToken"] = answer["NextToken"]
    except ClientError as exc:
        if error_code(exc) == "AccessDeniedException":
            client.batch_allowed = False
    for secret_id in secret_ids:
        if secret_id not in results:
            results[secret_id] = fetch_one(client, SecretRef(secret_id))
    return results


def _guard(task: _Task, keys: Sequence[Any]) -> _Task:
    """``task``, but a store-unavailable failure becomes an unavailable result per key."""

    def run() -> dict[Any, FetchResult]:
        try:
            return task()
        except StoreUnavailableError as exc:
            return {key: FetchResult.unavailable(str(exc)) for key in keys}

    return run


def fetch(client: AwsClient, identifiers: Sequence[str]) -> dict[str, FetchResult]:
    """Results for ``identifiers`` (with any version selector), in as few calls as possible."""
    results: dict[str, FetchResult] = {}
    refs: dict[str, SecretRef] = {}
    for identifier in identifiers:
        try:
            refs[identifier] = parse(identifier)
        except IdentifierError as exc:
            results[identifier] = FetchResult.unavailable(f"invalid identifier: {exc}")
    # Several identifiers may ask for the same version ("db" and "db?stage=AWSCURRENT").
    wanted: dict[SecretRef, list[str]] = {}
    for identifier, ref in refs.items():
        key = SecretRef(ref.secret_id) if ref.batchable else ref
        wanted.setdefault(key, []).append(identifier)
    current = [ref.secret_id for ref in wanted if ref.batchable]
    tasks: list[_Task] = []
    if current and client.batch_allowed:
        for start in range(0, len(current), BATCH_LIMIT):
            chunk = current[start:start + BATCH_LIMIT]
            tasks.append(_guard(partial(_batch_task, client, chunk),
                                [SecretRef(secret_id) for secret_id in chunk]))
        singles = [ref for ref in wanted if not ref.batchable]
    else:
        singles = list(wanted)
    for ref in singles:
        tasks.append(_guard(partial(_single_task, client, ref), [ref]))
    for by_ref in _run(tasks, client.max_workers):
        for ref, result in by_ref.items():
            for identifier in wanted.get(ref, []):
                results[identifier] = result
    return results


def _batch_task(client: AwsClient, chunk: Sequence[str]) -> dict[Any, FetchResult]:
    return {SecretRef(k): v for k, v in fetch_batch(client, chunk).items()}


def _single_task(client: AwsClient, ref: SecretRef) -> dict[Any, FetchResult]:
    return {ref: fetch_one(client, ref)}


def _run(tasks: Sequence[_Task], max_workers: int) -> list[dict[Any, FetchResult]]:
    """Run ``tasks`` concurrently; re-raise :class:`Unauthorized` once all have finished."""
    if len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(tasks)),
                            thread_name_prefix="secretstores-aws") as pool:
        futures = [pool.submit(task) for task in tasks]
    answers: list[dict[Any, FetchResult]] = []
    unauthorized: Unauthorized | None = None
    for future in futures:
        try:
            answers.append(future.result())
        except Unauthorized as exc:
            unauthorized = exc
    if unauthorized is not None:
        raise unauthorized
    return answers

