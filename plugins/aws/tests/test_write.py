"""Writing, deleting and listing through the store, checked through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from secretstores import ReadOnlyStoreError, SecretNotFoundError, SecretStoresError
from secretstores.api import SecretStores
from secretstores.testing import CANARY


def versions(admin: Any, name: str) -> list[dict[str, Any]]:
    return admin.list_secret_version_ids(SecretId=name)["Versions"]  # type: ignore[no-any-return]


def test_put_then_render_shows_the_new_value_at_once(
    writer: SecretStores, admin: Any, proxy: Any
) -> None:
    template = "token={{ secrets.aws.[api/token] }}"
    writer.put("aws", "api/token", "first")  # CreateSecret
    assert writer.render_string(template) == "token=first"
    assert writer.render_string(template) == "token=first"  # cached: no new request
    assert proxy.count("BatchGetSecretValue") == 1
    writer.put("aws", "api/token", "second")  # PutSecretValue, and the cache entry is dropped
    assert writer.render_string(template) == "token=second"
    assert admin.get_secret_value(SecretId="api/token")["SecretString"] == "second"
    assert proxy.operations() == ["PutSecretValue", "CreateSecret", "BatchGetSecretValue",
                                  "PutSecretValue", "BatchGetSecretValue"]


def test_put_uses_a_client_request_token(writer: SecretStores, admin: Any) -> None:
    writer.put("aws", "tokened", "v1")
    writer.put("aws", "tokened", "v2")
    ids = [v["VersionId"] for v in versions(admin, "tokened")]
    assert len(ids) == 2
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids)  # our uuid4 tokens


def test_retried_write_is_idempotent(writer: SecretStores, admin: Any, proxy: Any) -> None:
    admin.create_secret(Name="idem", SecretString="v1")
    # moto stores the value, but the answer is lost: the core retries the write, and the
    # plugin sends the same token (the core's request_id) again.
    proxy.fail_next(1, "InternalServiceError", "internal error", status=500,
                    operation="PutSecretValue", forward=True)
    writer.put("aws", "idem", "v2")
    assert proxy.count("PutSecretValue") == 2
    assert len(versions(admin, "idem")) == 2  # v1 and one v2, not two
    assert admin.get_secret_value(SecretId="idem")["SecretString"] == "v2"


def test_put_by_arn_updates(writer: SecretStores, admin: Any) -> None:
    arn = admin.create_secret(Name="by-arn", SecretString="v1")["ARN"]
    writer.put("aws", arn, "v2")
    assert admin.get_secret_value(SecretId="by-arn")["SecretString"] == "v2"


def test_put_refuses_new_arn_and_selectors(writer: SecretStores) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    with pytest.raises(SecretStoresError, match="created by name, not by ARN") as info:
        writer.put("aws", arn, CANARY)
    assert CANARY not in str(info.value)
    with pytest.raises(SecretStoresError, match="version selector"):
        writer.put("aws", "x?stage=AWSPREVIOUS", CANARY)


def test_delete_keeps_the_recovery_window_by_default(
    writer: SecretStores, admin: Any, proxy: Any
) -> None:
    writer.put("aws", "doomed", "v1")
    assert writer.delete("aws", "doomed") is True
    assert "DeletedDate" in admin.describe_secret(SecretId="doomed")
    with pytest.raises(SecretNotFoundError):
        writer.get("aws", "doomed")
    assert writer.delete("aws", "doomed") is False  # already scheduled
    assert "doomed" not in writer.list_names("aws")
    # AWS refuses PutSecretValue on a secret scheduled for deletion; moto accepts
    # it silently, so the proxy gives AWS's answer to the first try.
    proxy.fail_next(1, "InvalidRequestException", "You can't perform this operation on the "
                    "secret because it was marked for deletion.", operation="PutSecretValue")
    writer.put("aws", "doomed", "v2")  # restored, then written
    assert proxy.operations()[-3:] == ["PutSecretValue", "RestoreSecret", "PutSecretValue"]
    assert writer.get("aws", "doomed") == "v2"


def test_delete_without_recovery(make_stores: Any, store_config: Any, admin: Any,
                                 proxy: Any) -> None:
    writer = make_stores(store_config(proxy.url, recoveryWindowDays=0), readOnly=False)
    writer.put("aws", "gone", "v1")
    assert writer.delete("aws", "gone") is True
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        admin.describe_secret(SecretId="gone")
    assert writer.delete("aws", "gone") is False


def test_list_names_pages(writer: SecretStores, admin: Any, proxy: Any) -> None:
    names = [f"list/{i:03d}" for i in range(105)]
    for name in names:
        admin.create_secret(Name=name, SecretString="x")
    assert writer.list_names("aws") == sorted(names)
    assert proxy.count("ListSecrets") == 2  # 100 a page


def test_a_store_in_the_gateway_shape_is_read_only(stores: SecretStores, proxy: Any) -> None:
    with pytest.raises(ReadOnlyStoreError, match='"readOnly": false') as info:
        stores.put("aws", "refused", CANARY)
    assert CANARY not in str(info.value)
    assert proxy.requests == []  # refused before anything was sent
