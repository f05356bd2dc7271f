"""The aws_secrets_manager store passes the core's contract suite against moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from secretstores.testing import StoreContract, StoreHarness
from secretstores.testing.faults import FaultProxy


class AwsHarness(StoreHarness):
    """Seeds through boto3 straight into moto; the store itself goes through the proxy."""

    type = "aws_secrets_manager"
    writable = True

    def __init__(self, admin: Any, proxy: Any, store_config: Any) -> None:
        self.admin = admin
        self.proxy = proxy
        self.configuration = store_config(proxy.url)
        self.closing: list[FaultProxy] = []

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

    def unresponsive_definition(self, address: str) -> dict[str, Any]:
        return {"type": self.type, "configuration": dict(self.configuration,
                                                         endpointUrl=f"http://{address}")}

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        if throttle:
            self.proxy.fail_next(count, "ThrottlingException", "Rate exceeded")
        else:
            self.proxy.fail_next(count, "ServiceUnavailableException", "try again", status=503)
        return True

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        # An endpoint that is some web server, not Secrets Manager: a plain 404 page.
        page = FaultProxy(self.proxy.url)
        page.always(status=404, body=b"<html><body>Not Found</body></html>",
                    headers={"Content-Type": "text/html"})
        self.closing.append(page)
        return {"a web server's 404 page": {"type": self.type, "configuration": dict(
            self.configuration, endpointUrl=page.url)}}

    def expire_credentials(self) -> bool:
        # moto does not expire keys; the proxy answers the next request the way AWS
        # answers a request signed with expired credentials (ExpiredTokenException),
        # which must make the core authenticate again and retry.
        self.proxy.fail_next(1, "ExpiredTokenException",
                             "The security token included in the request is expired")
        return True


class TestAwsStore(StoreContract):
    @pytest.fixture
    def harness(self, admin: Any, proxy: Any, store_config: Any) -> Iterator[StoreHarness]:
        harness = AwsHarness(admin, proxy, store_config)
        yield harness
        for server in harness.closing:
            server.close()
