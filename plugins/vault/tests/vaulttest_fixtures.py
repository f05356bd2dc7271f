"""What the Vault tests' fixtures hand to tests (importable by name: a module named
``conftest`` may be another plugin's when the whole repository is collected)."""

from __future__ import annotations

import uuid
from pathlib import Path

import attrs
from vaulttest_aws import VaultFront
from vaulttest_bao import BaoServer
from vaulttest_k8s import TokenReviewServer


@attrs.define
class K8s:
    """The kubernetes auth method of the OpenBao server, backed by a TokenReview server."""

    bao: BaoServer
    reviews: TokenReviewServer
    mount: str = "kubernetes"

    def role(self, name: str, *, account: str, ttl: str = "1h",
             policies: tuple[str, ...] = ("app",), mount: str | None = None) -> None:
        """Create (or replace) a role bound to service account ``account`` in ``default``."""
        self.bao.root().auth.kubernetes.create_role(
            name=name, bound_service_account_names=[account],
            bound_service_account_namespaces=["default"], ttl=ttl, max_ttl=ttl,
            policies=list(policies), mount_point=mount or self.mount)

    def token_file(self, directory: Path, account: str) -> tuple[str, Path]:
        """A JWT for ``account`` written to a file, as a pod's token path holds it."""
        jwt = self.reviews.issue(account)
        path = directory / f"{account}-{uuid.uuid4().hex[:6]}.jwt"
        path.write_text(jwt + "\n")
        return jwt, path


@attrs.define
class Aws:
    """moto's STS (signature-checking) and the Vault front serving auth/aws/login."""

    moto_endpoint: str
    front: VaultFront
    access_key: str
    secret_key: str
    user_arn: str
