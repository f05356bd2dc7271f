"""IAM as moto enforces it: the seed's GetSecretValue-only policy, and a caller with no rights.

moto checks IAM policies only after ``POST /moto-api/reset-auth`` and then
against the resource ``*`` for Secrets Manager, so these tests grant or deny
whole actions, not single secrets.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from secretstores import AccessDeniedError, AuthenticationError, Status, TemplateError
from secretstores.testing import CANARY

#: The seed's "access all secrets" policy: GetSecretValue only.
SEED_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "AccessAllSecrets", "Effect": "Allow",
    "Action": ["secretsmanager:GetSecretValue"], "Resource": "*"}]}


def _reset_auth(moto: str, count: str) -> None:
    connection = http.client.HTTPConnection(urlsplit(moto).netloc, timeout=10)
    try:
        connection.request("POST", "/moto-api/reset-auth", body=count.encode())
        assert connection.getresponse().status == 200
    finally:
        connection.close()


@pytest.fixture
def users(moto: str, admin: Any) -> Iterator[dict[str, dict[str, str]]]:
    """Keys of a user with the seed's policy and of one with none; then IAM is enforced."""
    iam = boto3.session.Session(aws_access_key_id="AKIAADMIN", aws_secret_access_key="x",
                                region_name="us-east-1").client("iam", endpoint_url=moto)
    keys = {}
    for name, policy in (("reader", SEED_POLICY), ("nobody", None)):
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName="secrets",
                                PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = {"accessKeyId": key["AccessKeyId"],
                      "secretAccessKey": key["SecretAccessKey"]}
    for i in range(3):
        admin.create_secret(Name=f"iam/s{i}", SecretString=f"v{i}")
    iam.close()
    _reset_auth(moto, "0")
    try:
        yield keys
    finally:
        _reset_auth(moto, "inf")


def test_seed_policy_falls_back_to_get_secret_value(
    users: Any, make_stores: Any, store_config: Any, proxy: Any
) -> None:
    stores = make_stores(dict(store_config(proxy.url), **users["reader"]))
    names = ["iam/s0", "iam/s1", "iam/s2"]
    results = stores.fetch("aws", names)
    assert [results[n].value for n in names] == ["v0", "v1", "v2"]
    assert proxy.count("BatchGetSecretValue") == 1  # denied as a whole...
    assert proxy.count("GetSecretValue") == 3  # ...so one GetSecretValue each
    stores.invalidate("aws")
    stores.fetch("aws", names)
    assert proxy.count("BatchGetSecretValue") == 1  # remembered: not asked again
    assert proxy.count("GetSecretValue") == 6


def test_no_rights_is_denied(users: Any, make_stores: Any, store_config: Any,
                             proxy: Any) -> None:
    stores = make_stores(dict(store_config(proxy.url), **users["nobody"]))
    result = stores.fetch("aws", ["iam/s0"])["iam/s0"]
    assert result.status is Status.DENIED
    assert "AccessDenied" in result.message
    with pytest.raises(AccessDeniedError):
        stores.get("aws", "iam/s1")
    with pytest.raises(TemplateError, match="denied"):
        stores.render_string("{{ secrets.aws.[iam/s2] | default('x') }}")


def test_check_with_iam_enforced(users: Any, make_stores: Any, store_config: Any,
                                 proxy: Any) -> None:
    """The check proves Secrets Manager accepts the credentials: the seed's policy passes
    (ListSecrets denied is still accepted credentials); unknown keys fail."""
    reader = make_stores(dict(store_config(proxy.url), **users["reader"]))
    assert "credentials accepted by Secrets Manager" in reader.check("aws")
    stranger = make_stores(dict(store_config(proxy.url), accessKeyId="AKIAUNKNOWN000000000",
                                secretAccessKey=CANARY))
    with pytest.raises(AuthenticationError, match="InvalidClientTokenId: The security token "
                                                  "included in the request is invalid") as info:
        stranger.check("aws")
    assert CANARY not in str(info.value) and "<" not in str(info.value)
    result = stranger.fetch("aws", ["iam/s0"])["iam/s0"]
    assert result.status is Status.UNAVAILABLE  # never "not found"
