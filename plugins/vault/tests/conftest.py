"""Fixtures: one real OpenBao dev server per session, a TokenReview server, moto STS, a Vault front.

Everything listens on 127.0.0.1; nothing is mocked. Each test works under its own
random path prefix, so tests share the server without cleaning up.
"""

from __future__ import annotations

import json
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vaulttest_aws import AwsRole, VaultFront
from vaulttest_bao import BaoServer, free_port
from vaulttest_fixtures import Aws, K8s
from vaulttest_k8s import TokenReviewServer

from secretstores.api import SecretStores
from secretstores.cache import SecretCache

#: Read, write, delete and list anything in every KV v2 mount (what the manager needs).
APP_POLICY = """
path "+/data/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "+/metadata/*" { capabilities = ["read", "list"] }
"""
#: Like APP_POLICY, but secrets named ss_denied_* are refused.
CONTRACT_POLICY = APP_POLICY + """
path "secret/data/contract/+/ss_denied_*" { capabilities = ["deny"] }
"""


def enable_k8s(bao: BaoServer, reviews: TokenReviewServer, mount: str) -> None:
    """Enable and configure kubernetes auth at ``mount`` against the TokenReview server."""
    root = bao.root()
    root.sys.enable_auth_method("kubernetes", path=mount)
    root.auth.kubernetes.configure(
        kubernetes_host=reviews.host, kubernetes_ca_cert=reviews.ca_pem,
        disable_local_ca_jwt=True, mount_point=mount)


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """The OpenBao dev server (KV v2 at secret/ and kv2/, KV v1 at kv1/), with policies
    ``app`` and ``contract``."""
    server = BaoServer(tmp_path_factory.mktemp("bao"))
    server.start()
    try:
        root = server.root()
        root.sys.create_or_update_policy("app", APP_POLICY)
        root.sys.create_or_update_policy("contract", CONTRACT_POLICY)
        root.sys.enable_secrets_engine("kv", path="kv2", options={"version": "2"})
        root.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def k8s(bao: BaoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[K8s]:
    """Kubernetes auth at ``kubernetes`` (and ``k8s-contract``) via a TLS TokenReview server."""
    reviews = TokenReviewServer(tmp_path_factory.mktemp("k8s"))
    reviews.start()
    try:
        enable_k8s(bao, reviews, "kubernetes")
        enable_k8s(bao, reviews, "k8s-contract")
        yield K8s(bao, reviews)
    finally:
        reviews.stop()


@pytest.fixture(scope="session")
def moto_sts() -> Iterator[tuple[str, str, str, str]]:
    """moto in server mode; an IAM user with an access key. Yields (endpoint, key, secret, arn)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        user = iam.create_user(UserName="secretstores-app")["User"]
        iam.put_user_policy(UserName="secretstores-app", PolicyName="whoami",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                {"Effect": "Allow", "Action": "sts:GetCallerIdentity",
                                 "Resource": "*"}]}))
        key = iam.create_access_key(UserName="secretstores-app")["AccessKey"]
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"], user["Arn"]
    finally:
        server.stop()


def _moto_auth(endpoint: str, count: str) -> str:
    """Set moto's INITIAL_NO_AUTH_ACTION_COUNT at run time; return the previous value."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@pytest.fixture(scope="session")
def front(bao: BaoServer, moto_sts: tuple[str, str, str, str]) -> Iterator[VaultFront]:
    """The Vault front: auth/aws/login (server ID ``vault.example.com``), the rest to OpenBao."""
    server = VaultFront(bao.address, bao.root_token, sts_endpoint=moto_sts[0],
                        iam_server_id="vault.example.com")
    server.roles["app"] = AwsRole(bound_iam_principal_arn=moto_sts[3], policies=["app"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(moto_sts: tuple[str, str, str, str], front: VaultFront,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Aws]:
    """AWS credentials in the standard chain (environment), and moto checking signatures.

    INITIAL_NO_AUTH_ACTION_COUNT=0 (set at run time through moto's reset-auth
    endpoint, since the variable is read once at import) makes moto verify every
    request's signature; the previous value is restored afterwards, because the
    setting is global to the process and other tests may use moto unsigned.
    """
    endpoint, key, secret, arn = moto_sts
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    previous = _moto_auth(endpoint, "0")
    try:
        yield Aws(endpoint, front, key, secret, arn)
    finally:
        _moto_auth(endpoint, previous)


@pytest.fixture
def prefix() -> str:
    """A path prefix no other test uses."""
    return f"t/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_stores(tmp_path: Path) -> Iterator[Any]:
    """Build SecretStores from store definitions (each a dict with a name); closed afterwards."""
    made: list[SecretStores] = []

    def make(*definitions: dict[str, Any], **options: Any) -> SecretStores:
        # one disk tier for the test, a memory tier each: like processes of one user
        cache = SecretCache(tmp_path / "cache", key_file=tmp_path / "cache.key")
        stores = SecretStores.from_dict(
            {"stores": list(definitions), "defaultStores": False}, cache=cache, **options)
        made.append(stores)
        return stores

    yield make
    for stores in made:
        stores.close()
