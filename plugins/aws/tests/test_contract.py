"""The aws_secrets_manager store passes the core's contract suite against moto."""

from __future__ import annotations

from typing import Any

import pytest

from secretstores.testing import StoreContract, StoreHarness


class AwsHarness(StoreHarness):
    """Seeds through boto3 straight into moto; the store itself goes through the proxy."""

    type = "aws_secrets_manager"
    writable = True

    def __init__(self, admin: Any, proxy: Any, store_config: Any) -> None:
        self.admin = admin
        self.proxy = proxy
        self.configuration = store_config(proxy.url)

    def definition(self) -> dict[str, Any]:
        return {"type": self.type, "configuration": self.configuration}

    def seed(self, identifier: str, value: str) -> None:
        self.admin.create_secret(Name=identifier, SecretString=value)

    def denied_identifier(self) -> str | None:
        # moto evaluates IAM policies for Secrets Manager against the resource "*"
        # only, so it cannot refuse one secret while serving another to the same
        # credentials. test_iam.py checks the denied path with a caller that may
        # read nothing at all.
        return None

    def expire_credentials(self) -> bool:
        # moto does not expire keys; the proxy answers the next request the way AWS
        # answers a request signed with expired credentials (ExpiredTokenException),
        # which must make the core authenticate again and retry.
        self.proxy.fail_next(1, "ExpiredTokenException",
                             "The security token included in the request is expired")
        return True


class TestAwsStore(StoreContract):
    @pytest.fixture
    def harness(self, admin: Any, proxy: Any, store_config: Any) -> StoreHarness:
        return AwsHarness(admin, proxy, store_config)
