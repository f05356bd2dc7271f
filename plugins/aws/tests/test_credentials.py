"""Credentials: default chain, profile, assumed role, missing credentials, expired tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from secretstores import AuthenticationError, Status
from secretstores.api import SecretStores
from secretstores.testing import CANARY, record_events

ENV_KEY = "AKIAENVCHAIN00000001"


def test_default_chain_from_environment(
    make_stores: Any, admin: Any, proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.create_secret(Name="from-env", SecretString="ok")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ENV_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    stores = make_stores({})  # no keys, no region, no endpoint in the configuration
    assert stores.get("aws", "from-env") == "ok"
    assert {r.access_key for r in proxy.requests} == {ENV_KEY}


def test_profile(make_stores: Any, admin: Any, proxy: Any, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    admin.create_secret(Name="from-profile", SecretString="ok")
    credentials = tmp_path / "credentials"
    credentials.write_text("[ci]\naws_access_key_id = AKIAPROFILE000000001\n"
                           "aws_secret_access_key = profile-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    stores = make_stores({"region": "us-east-1", "profile": "ci", "endpointUrl": proxy.url})
    assert stores.get("aws", "from-profile") == "ok"
    assert {r.access_key for r in proxy.requests} == {"AKIAPROFILE000000001"}


def test_assume_role(make_stores: Any, store_config: Any, admin: Any, proxy: Any,
                     moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    iam = boto3.session.Session(aws_access_key_id="AKIAADMIN", aws_secret_access_key="x",
                                region_name="us-east-1").client("iam", endpoint_url=moto)
    role = iam.create_role(RoleName="secrets-reader", AssumeRolePolicyDocument="{}")["Role"]
    admin.create_secret(Name="via-role", SecretString="ok")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)  # STS is resolved the standard way
    config = store_config(proxy.url, roleArn=role["Arn"])
    stores = make_stores(config)
    assert stores.get("aws", "via-role") == "ok"
    assume, fetch = proxy.requests
    assert assume.operation == "AssumeRole"
    assert assume.access_key == config["accessKeyId"]
    assert fetch.operation == "BatchGetSecretValue"
    assert fetch.access_key is not None and fetch.access_key != config["accessKeyId"]


def test_no_credentials_is_a_clear_error(make_stores: Any, proxy: Any) -> None:
    stores = make_stores({"region": "us-east-1", "endpointUrl": proxy.url})
    result = stores.fetch("aws", ["anything"])["anything"]
    assert result.status is Status.UNAVAILABLE
    assert "no AWS credentials found through the default credential chain" in result.message
    assert proxy.requests == []


def test_unknown_profile(make_stores: Any, proxy: Any) -> None:
    stores = make_stores({"region": "us-east-1", "profile": "nope", "endpointUrl": proxy.url})
    with pytest.raises(AuthenticationError, match="profile 'nope' was not found"):
        stores.check("aws")


def test_expired_token_reauthenticates_once(make_stores: Any, store_config: Any, admin: Any,
                                            proxy: Any) -> None:
    admin.create_secret(Name="s", SecretString="ok")
    stores = make_stores(store_config(proxy.url), readOnly=False)
    with record_events(stores.plugins) as recorder:
        proxy.fail_next(1, "ExpiredTokenException", "The security token included in the "
                        "request is expired")
        assert stores.get("aws", "s") == "ok"
        assert [e.operation for e in recorder.events].count("authenticate") == 2
        proxy.fail_next(1, "UnrecognizedClientException", "The security token included in "
                        "the request is invalid.", operation="PutSecretValue")
        stores.put("aws", "s", "new")
        assert [e.operation for e in recorder.events].count("authenticate") == 3
    assert admin.get_secret_value(SecretId="s")["SecretString"] == "new"


def test_still_unauthorized_after_reauthenticating(
    stores: SecretStores, admin: Any, proxy: Any
) -> None:
    admin.create_secret(Name="s", SecretString=CANARY)
    proxy.fail_next(2, "UnrecognizedClientException",
                    "The security token included in the request is invalid.")
    result = stores.fetch("aws", ["s"])["s"]
    assert result.status is Status.UNAVAILABLE
    assert "unauthorized even after authenticating again" in result.message
    assert CANARY not in result.message


def test_the_cache_is_scoped_to_the_credential_chain(make_stores, admin: Any, proxy: Any,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Two profiles over one configuration: a value cached with one is never served to
    the other (the cache key used to be the configuration alone)."""
    admin.create_secret(Name="per-profile", SecretString="seen-by-a")
    credentials = tmp_path / "credentials"
    credentials.write_text("[a]\naws_access_key_id = AKIAPROFILEA00000001\n"
                           "aws_secret_access_key = secret-a\n"
                           "[b]\naws_access_key_id = AKIAPROFILEB00000001\n"
                           "aws_secret_access_key = secret-b\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    configuration = {"region": "us-east-1", "endpointUrl": proxy.url}
    monkeypatch.setenv("AWS_PROFILE", "a")
    first = make_stores(configuration)
    assert first.get("aws", "per-profile") == "seen-by-a"
    assert make_stores(configuration).get("aws", "per-profile") == "seen-by-a"  # from disk
    assert [r.access_key for r in proxy.requests] == ["AKIAPROFILEA00000001"]
    monkeypatch.setenv("AWS_PROFILE", "b")
    second = make_stores(configuration)
    assert second.get("aws", "per-profile") == "seen-by-a"
    assert [r.access_key for r in proxy.requests][-1] == "AKIAPROFILEB00000001"  # asked again
