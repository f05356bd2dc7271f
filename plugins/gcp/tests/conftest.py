"""Fixtures: the local Secret Manager on 127.0.0.1, its projects and service accounts, stores.

One server for the session (keys take a moment to generate); each test starts
with no pending fault and fresh counters. ``main-project`` is the project the
stores are configured with; ``other-project`` holds secrets for cross-project
reads; ``reader`` has only the gateway document's role
(``roles/secretmanager.secretAccessor``) on ``main-project``; ``writer`` is a
Secret Manager admin of ``main-project``; ``admin`` administers every project
and seeds secrets through the official client (self-signed JWTs, the SDK's
default for service accounts). Nothing in the client libraries or the plugin
is mocked: every call crosses a real socket.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gcptest_env import DISABLED_API, MAIN, OTHER, STORE, Accounts, configuration
from gcptest_server import CLOUD_PLATFORM, SecretManagerServer, crc32c

from secretstores.api import SecretStores
from secretstores.testing import one_store_stores


@pytest.fixture(scope="session")
def server() -> Iterator[SecretManagerServer]:
    """The local Secret Manager and token endpoint, for the whole session."""
    api = SecretManagerServer()
    for project in (MAIN, OTHER):
        api.add_project(project)
    api.add_project(DISABLED_API, api_enabled=False)
    yield api
    api.close()


@pytest.fixture(scope="session")
def accounts(server: SecretManagerServer) -> Accounts:
    """Service accounts and their roles (``gcloud ... add-iam-policy-binding``)."""
    reader = server.new_service_account("reader", MAIN)
    writer = server.new_service_account("writer", MAIN)
    admin = server.new_service_account("admin", MAIN)
    cross = server.new_service_account("cross", MAIN)
    accessor = "roles/secretmanager.secretAccessor"
    server.grant(reader["client_email"], accessor, project=MAIN)
    server.grant(writer["client_email"], "roles/secretmanager.admin", project=MAIN)
    server.grant(cross["client_email"], accessor, project=MAIN)
    for project in (MAIN, OTHER, DISABLED_API):
        server.grant(admin["client_email"], "roles/secretmanager.admin", project=project)
    return Accounts(reader, writer, admin, cross)


@pytest.fixture(autouse=True)
def google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Google or proxy setting of the machine may leak in; never ask a metadata server."""
    for name in list(os.environ):
        if name.startswith(("GOOGLE_", "CLOUDSDK_", "GCE_")) or name.lower() in (
                "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


@pytest.fixture(autouse=True)
def fresh_server(server: SecretManagerServer) -> Iterator[None]:
    """Each test starts with no pending fault and fresh counters."""
    server.heal()
    server.reset_counts()
    yield
    server.heal()


@pytest.fixture(scope="session")
def admin(server: SecretManagerServer, accounts: Accounts) -> Any:
    """The official client as an administrator, for seeding and checking."""
    from google.cloud import secretmanager
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        accounts.admin, scopes=[CLOUD_PLATFORM])
    client = secretmanager.SecretManagerServiceClient(
        credentials=credentials, transport="rest", client_options={"api_endpoint": server.url})
    yield client
    client.transport.close()


@pytest.fixture
def seed(admin: Any) -> Callable[..., str]:
    """``seed(name, *values, project=MAIN, checksum=True)``: create a secret with one version
    per value (through the official client); returns its ``projects/...`` path."""

    def make(name: str, *values: str | bytes, project: str = MAIN, checksum: bool = True) -> str:
        parent = f"projects/{project}/secrets/{name}"
        admin.create_secret(request={"parent": f"projects/{project}", "secret_id": name,
                                     "secret": {"replication": {"automatic": {}}}})
        for value in values:
            data = value.encode() if isinstance(value, str) else value
            payload: dict[str, Any] = {"data": data}
            if checksum:
                payload["data_crc32c"] = crc32c(data)
            admin.add_secret_version(request={"parent": parent, "payload": payload})
        return parent

    return make


@pytest.fixture
def store_config(server: SecretManagerServer) -> Callable[..., dict[str, Any]]:
    """``store_config(key, **extra)``: the :func:`configuration` for this server."""
    return lambda key, **extra: configuration(server, key, **extra)


@pytest.fixture
def make_stores(tmp_path: Path) -> Iterator[Callable[..., SecretStores]]:
    """``make_stores(configuration, **store_options)`` -> SecretStores with one store ``gcp``."""
    with one_store_stores(tmp_path, STORE, "gcp_secret_manager") as make:
        yield make


@pytest.fixture
def stores(make_stores: Callable[..., SecretStores], store_config: Callable[..., Any],
           accounts: Accounts) -> SecretStores:
    """A store reading as ``reader`` (secretAccessor on main-project), read-only."""
    return make_stores(store_config(accounts.reader))


@pytest.fixture
def writer(make_stores: Callable[..., SecretStores], store_config: Callable[..., Any],
           accounts: Accounts) -> SecretStores:
    """A store as ``writer`` (Secret Manager admin of main-project), allowed to write."""
    return make_stores(store_config(accounts.writer), readOnly=False)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique(prefix)``: a secret name no other test uses (the server lives for the session)."""
    import uuid

    return lambda prefix="s": f"{prefix}_{uuid.uuid4().hex[:10]}"
