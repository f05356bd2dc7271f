"""Reading: ARNs, partial ARNs and names; stages and version ids; JSON; binary; batches."""

from __future__ import annotations

import base64
import json
from typing import Any

from secretstores import Status
from secretstores.api import SecretStores
from secretstores.testing import count_fetch_calls


def render_lines(stores: SecretStores, references: list[str]) -> list[str]:
    template = "\n".join("{{ secrets.aws." + r + " }}" for r in references)
    return stores.render_string(template).splitlines()


def test_arn_partial_arn_and_name(stores: SecretStores, admin: Any, proxy: Any) -> None:
    arn = admin.create_secret(Name="prod/openai-api-key", SecretString="sk-1")["ARN"]
    partial = arn[:-7]  # without "-" and the six random characters
    assert partial.endswith(":secret:prod/openai-api-key")
    lines = render_lines(stores, [f"[{arn}]", f"[{partial}]", "[prod/openai-api-key]"])
    assert lines == ["sk-1", "sk-1", "sk-1"]
    assert proxy.operations() == ["BatchGetSecretValue"]


def test_mapping_to_an_arn(make_stores: Any, store_config: Any, admin: Any, proxy: Any) -> None:
    arn = admin.create_secret(Name="prod/db", SecretString="pw")["ARN"]
    stores = make_stores(store_config(proxy.url),
                         mappings=[{"name": "db", "secretIdentifier": arn}])
    assert stores.render_string("{{ secrets.aws.db }}") == "pw"


def test_stages_and_version_ids(stores: SecretStores, admin: Any, proxy: Any) -> None:
    first = admin.create_secret(Name="rotated", SecretString="v1")["VersionId"]
    admin.put_secret_value(SecretId="rotated", SecretString="v2")
    admin.put_secret_value(SecretId="rotated", SecretString="v3", VersionStages=["CANARY"])
    references = ["[rotated]", "[rotated?stage=AWSCURRENT]", "[rotated?stage=AWSPREVIOUS]",
                  "[rotated?stage=CANARY]", f"[rotated?versionId={first}]",
                  f"[rotated?versionId={first}&stage=AWSPREVIOUS]"]
    assert render_lines(stores, references) == ["v2", "v2", "v1", "v3", "v1", "v1"]
    # Current versions go in one batch; the other versions one GetSecretValue each.
    assert proxy.count("BatchGetSecretValue") == 1
    assert proxy.count("GetSecretValue") == 4


def test_missing_stage_or_version_is_not_found(stores: SecretStores, admin: Any) -> None:
    admin.create_secret(Name="single", SecretString="v1")
    identifiers = ["single?stage=NOPE", "single?versionId=00000000-0000-0000-0000-000000000000"]
    results = stores.fetch("aws", identifiers)
    assert [results[i].status for i in identifiers] == [Status.NOT_FOUND, Status.NOT_FOUND]
    assert stores.render_string(
        "{{ secrets.aws.[single?stage=NOPE] | default('none') }}") == "none"


def test_invalid_selector_is_reported_not_defaulted(stores: SecretStores) -> None:
    result = stores.fetch("aws", ["db?stag=AWSPREVIOUS"])["db?stag=AWSPREVIOUS"]
    assert result.status is Status.UNAVAILABLE
    assert "unknown version option 'stag'" in result.message


def test_json_keys_of_any_version(stores: SecretStores, admin: Any) -> None:
    admin.create_secret(Name="prod/db", SecretString=json.dumps({"username": "u", "password": "1"}))
    admin.put_secret_value(SecretId="prod/db",
                           SecretString=json.dumps({"username": "u", "password": "2"}))
    out = stores.render_string(
        "{{ secrets.aws.[prod/db].username }}:{{ secrets.aws.[prod/db].password }}:"
        "{{ secrets.aws.[prod/db?stage=AWSPREVIOUS]['password'] }}")
    assert out == "u:2:1"


def test_binary_secret_is_base64(stores: SecretStores, admin: Any, proxy: Any) -> None:
    raw = b"\x00\x01binary\xff"
    admin.create_secret(Name="cert", SecretBinary=raw)
    admin.put_secret_value(SecretId="cert", SecretBinary=raw + b"2")
    value = stores.get("aws", "cert")
    assert base64.b64decode(value) == raw + b"2"
    assert base64.b64decode(stores.get("aws", "cert?stage=AWSPREVIOUS")) == raw


def test_45_ids_in_one_render_are_3_batch_calls(
    stores: SecretStores, admin: Any, proxy: Any
) -> None:
    names = [f"app/key{i:02d}" for i in range(45)]
    for i, name in enumerate(names):
        admin.create_secret(Name=name, SecretString=f"value{i}")
    with count_fetch_calls(stores.plugins) as calls:
        lines = render_lines(stores, [f"[{n}]" for n in names])
    assert lines == [f"value{i}" for i in range(45)]
    assert len(calls) == 1  # one hook call for the store...
    assert proxy.count("BatchGetSecretValue") == 3  # ...split into 20 + 20 + 5 ids
    assert proxy.count("GetSecretValue") == 0


def test_batch_with_some_missing(stores: SecretStores, admin: Any, proxy: Any) -> None:
    present = [f"present{i}" for i in range(22)]
    missing = [f"missing{i}" for i in range(3)]
    for name in present:
        admin.create_secret(Name=name, SecretString=f"v-{name}")
    results = stores.fetch("aws", [*present, *missing])
    assert all(results[n].value == f"v-{n}" for n in present)
    assert all(results[n].status is Status.NOT_FOUND for n in missing)
    assert "ResourceNotFoundException" in results["missing0"].message
    assert proxy.count("BatchGetSecretValue") == 2
    assert proxy.count("GetSecretValue") == 0
    lines = render_lines(stores, ["[present0]", "[missing0] | default('fallback')"])
    assert lines == ["v-present0", "fallback"]


def test_secret_scheduled_for_deletion_is_not_found(stores: SecretStores, admin: Any) -> None:
    admin.create_secret(Name="old", SecretString="x")
    admin.delete_secret(SecretId="old", RecoveryWindowInDays=7)
    result = stores.fetch("aws", ["old"])["old"]
    assert result.status is Status.NOT_FOUND
    assert "deletion" in result.message
