"""Logins against real servers: token, Kubernetes (TokenReview over TLS), AWS IAM (moto STS)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from vaulttest_bao import BaoServer
from vaulttest_fixtures import Aws, K8s

from secretstores import AuthenticationError, Status
from secretstores.testing.contract import CANARY


def k8s_store(bao: BaoServer, role: str, token_path: Path, **extra: Any) -> dict[str, Any]:
    return {"name": "v", "type": "hashicorp_vault", "cacheTtl": 0, "readOnly": False,
            "configuration": {
        "address": bao.address, "authMethod": "K8S", "k8sRole": role,
        "k8sTokenPath": str(token_path), **extra}}


def aws_store(aws: Aws, **extra: Any) -> dict[str, Any]:
    return {"name": "v", "type": "hashicorp_vault", "cacheTtl": 0, "configuration": {
        "address": aws.front.address, "authMethod": "AWS", "awsRole": "app",
        "awsStsEndpoint": aws.moto_endpoint, "awsIamServerId": "vault.example.com", **extra}}


# -- token -------------------------------------------------------------------


def test_invalid_token_never_shows_it(bao: BaoServer, make_stores: Any, prefix: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    bao.seed(f"{prefix}/x", {"value": "x"})
    stores = make_stores({"name": "v", "type": "hashicorp_vault", "configuration": {
        "address": bao.address, "token": CANARY}})
    result = stores.fetch("v", [f"{prefix}/x"])[f"{prefix}/x"]
    assert result.status is Status.UNAVAILABLE
    assert "unauthorized" in result.message
    assert CANARY not in result.message + repr(stores) + repr(stores.stores["v"]) + caplog.text


# -- kubernetes --------------------------------------------------------------


def test_kubernetes_login_reads_and_writes(bao: BaoServer, k8s: K8s, make_stores: Any,
                                           tmp_path: Path, prefix: str) -> None:
    k8s.role("k8s-app", account="app-sa")
    _, token_path = k8s.token_file(tmp_path, "app-sa")
    stores = make_stores(k8s_store(bao, "k8s-app", token_path, pathPrefix=prefix))
    stores.put("v", "db_password", "from-k8s")
    assert stores.get("v", "db_password") == "from-k8s"
    session = stores.runtime("v").session()
    assert session.expires_at is not None  # a login token has a lease: the core renews it


def test_kubernetes_rejected_token_is_permission_denied(
        bao: BaoServer, k8s: K8s, make_stores: Any, tmp_path: Path) -> None:
    k8s.role("k8s-app", account="app-sa")
    jwt, token_path = k8s.token_file(tmp_path, "app-sa")
    k8s.reviews.revoke(jwt)  # the TokenReview server now answers authenticated: false
    stores = make_stores(k8s_store(bao, "k8s-app", token_path))
    with pytest.raises(AuthenticationError) as info:
        stores.check("v")
    message = str(info.value)
    assert "kubernetes login (role 'k8s-app', mount 'kubernetes') failed" in message
    assert "permission denied" in message
    assert jwt not in message and jwt[:20] not in message


def test_kubernetes_unbound_service_account_is_refused(
        bao: BaoServer, k8s: K8s, make_stores: Any, tmp_path: Path) -> None:
    k8s.role("k8s-app", account="app-sa")
    jwt, token_path = k8s.token_file(tmp_path, "intruder-sa")
    with pytest.raises(AuthenticationError, match="role 'k8s-app'") as info:
        make_stores(k8s_store(bao, "k8s-app", token_path)).check("v")
    assert jwt not in str(info.value)


def test_kubernetes_missing_token_file(bao: BaoServer, make_stores: Any,
                                       tmp_path: Path) -> None:
    missing = tmp_path / "no-such-token"
    with pytest.raises(AuthenticationError, match="cannot read the service-account token"):
        make_stores(k8s_store(bao, "k8s-app", missing)).check("v")


def test_short_lived_login_tokens_are_renewed(bao: BaoServer, k8s: K8s, make_stores: Any,
                                              tmp_path: Path, prefix: str) -> None:
    k8s.role("short", account="short-sa", ttl="2s")
    _, token_path = k8s.token_file(tmp_path, "short-sa")
    bao.seed(f"{prefix}/s", {"value": "still-readable"})
    stores = make_stores(k8s_store(bao, "short", token_path))
    runtime = stores.runtime("v")
    assert stores.get("v", f"{prefix}/s") == "still-readable"
    first = runtime.session()
    logins = k8s.reviews.reviews["short-sa"]
    assert first.expires_at is not None and 0 < first.renew_before < 2
    # wait until the session is due for renewal: the core logs in again before expiry
    time.sleep(max(0.0, first.expires_at - first.renew_before - time.time()) + 0.05)
    assert stores.get("v", f"{prefix}/s") == "still-readable"
    second = runtime.session()
    assert second is not first and second.client.hvac.token != first.client.hvac.token
    assert k8s.reviews.reviews["short-sa"] == logins + 1
    # the first token really expires: renewing was needed
    time.sleep(max(0.0, first.expires_at - time.time()) + 0.3)
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=bao.address, token=first.client.hvac.token).auth.token.lookup_self()


def test_revoked_login_token_is_replaced_after_403(bao: BaoServer, k8s: K8s, make_stores: Any,
                                                  tmp_path: Path, prefix: str) -> None:
    k8s.role("k8s-app", account="app-sa")
    _, token_path = k8s.token_file(tmp_path, "app-sa")
    bao.seed(f"{prefix}/r", {"value": "r"})
    stores = make_stores(k8s_store(bao, "k8s-app", token_path))
    assert stores.get("v", f"{prefix}/r") == "r"
    token = stores.runtime("v").session().client.hvac.token
    bao.root().auth.token.revoke(token)
    assert stores.get("v", f"{prefix}/r") == "r"  # 403, one new login, one retry
    assert stores.runtime("v").session().client.hvac.token != token


# -- aws iam -----------------------------------------------------------------


def test_aws_iam_login(aws: Aws, bao: BaoServer, make_stores: Any, prefix: str) -> None:
    bao.seed(f"{prefix}/aws", {"value": "via-iam"})
    logins = aws.front.logins
    stores = make_stores(aws_store(aws))
    assert stores.get("v", f"{prefix}/aws") == "via-iam"
    assert aws.front.logins == logins + 1
    assert stores.runtime("v").session().expires_at is not None


def test_aws_wrong_secret_key_fails_signature_check(
        aws: Aws, make_stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY)
    with pytest.raises(AuthenticationError) as info:
        make_stores(aws_store(aws)).check("v")
    message = str(info.value)
    assert "aws iam login (role 'app', mount 'aws') failed" in message
    assert "SignatureDoesNotMatch" in message
    assert CANARY not in message and aws.secret_key not in message


def test_aws_server_id_header_is_checked(aws: Aws, make_stores: Any) -> None:
    with pytest.raises(AuthenticationError, match="X-Vault-AWS-IAM-Server-ID"):
        make_stores(aws_store(aws, awsIamServerId="other.example.com")).check("v")
    with pytest.raises(AuthenticationError, match="X-Vault-AWS-IAM-Server-ID"):
        definition = aws_store(aws)
        del definition["configuration"]["awsIamServerId"]
        make_stores(definition).check("v")


def test_aws_without_credentials(aws: Aws, make_stores: Any,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuthenticationError, match="no AWS credentials"):
        make_stores(aws_store(aws)).check("v")


def test_the_cache_is_scoped_to_the_service_account(bao: BaoServer, k8s: K8s,
                                                    make_stores: Any, tmp_path: Path,
                                                    prefix: str) -> None:
    """Another service account's token at the same path: a value another identity read is
    not served (the cache key used to be the configuration alone)."""
    bao.root().sys.create_or_update_policy(
        "only-a", f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}')
    k8s.role("role-a", account="sa-a", policies=("only-a",))
    k8s.role("role-b", account="sa-b", policies=("default",))
    bao.seed(f"{prefix}/scoped", {"value": "for-a-only"})
    token_path = tmp_path / "token"
    jwt_a, _ = k8s.token_file(tmp_path, "sa-a")
    token_path.write_text(jwt_a)
    definition = {**k8s_store(bao, "role-a", token_path), "cacheTtl": 60}
    assert make_stores(definition).get("v", f"{prefix}/scoped") == "for-a-only"
    jwt_b, _ = k8s.token_file(tmp_path, "sa-b")
    token_path.write_text(jwt_b)  # the pod now runs as another service account
    other = make_stores({**definition, "configuration": {
        **definition["configuration"], "k8sRole": "role-b"}})
    result = other.fetch("v", [f"{prefix}/scoped"])[f"{prefix}/scoped"]
    assert result.status is Status.DENIED  # asked with b's token, not served a's value
