"""Helpers of the tests: a project of the local Infisical API, its identity and credentials.

Secrets and folders are created through the real SDK with an admin token,
straight to the server (not through the fault proxies the stores under test may
sit behind). A module of its own, with a name no other plugin's tests use: test
modules import it by name (``conftest`` is a name every plugin's tests share).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import attrs
from infisical_api import Identity, InfisicalApi

ENVIRONMENT = "prod"


def admin_client(api: InfisicalApi) -> Any:
    """An SDK client with the server's admin token (its own secrets cache off)."""
    from infisical_sdk import InfisicalSDKClient

    return InfisicalSDKClient(host=api.url, token=api.admin_token, cache_ttl=None)


@attrs.define
class Project:
    """A project of the server, an identity that is a member of it, and its credentials."""

    api: InfisicalApi
    id: str
    identity: Identity
    token: str
    client_id: str
    client_secret: str
    admin: Any

    @classmethod
    def create(cls, api: InfisicalApi, *, ttl: int = 7200) -> Project:
        project = api.add_project()
        identity = api.add_identity(project)
        client_id, client_secret = api.add_universal_auth(identity, ttl=ttl)
        return cls(api, project, identity, api.issue_token(identity), client_id, client_secret,
                   admin_client(api))

    def folder(self, path: str, environment: str = ENVIRONMENT) -> None:
        """Create folder ``path`` and its parents through the SDK (existing ones are kept)."""
        parent = "/"
        for name in path.strip("/").split("/"):
            if not name:
                continue
            existing = self.api.projects[self.id][environment]
            if f"{parent.rstrip('/')}/{name}" not in existing:
                self.admin.folders.create_folder(name=name, environment_slug=environment,
                                                 project_id=self.id, path=parent)
            parent = f"{parent.rstrip('/')}/{name}"

    def seed(self, key: str, value: str, folder: str = "/",
             environment: str = ENVIRONMENT) -> None:
        """Create secret ``key`` in ``folder`` through the SDK (the folder too if needed)."""
        self.folder(folder, environment)
        # the SDK puts the name into the URL path as it is: quote it (as the plugin does)
        self.admin.secrets.create_secret_by_name(
            secret_name=quote(key, safe=""), secret_path=folder, environment_slug=environment,
            project_id=self.id, secret_value=value)

    def value(self, key: str, folder: str = "/", environment: str = ENVIRONMENT) -> str:
        """A secret's value, read through the SDK with the admin token."""
        secret = self.admin.secrets.get_secret_by_name(
            secret_name=quote(key, safe=""), environment_slug=environment, secret_path=folder,
            project_id=self.id)
        return str(secret.secretValue)

    def configuration(self, *, universal: bool = False, **changes: Any) -> dict[str, Any]:
        """The gateway document's configuration (or universal auth), with ``changes``."""
        base: dict[str, Any] = {"siteUrl": self.api.url, "projectId": self.id,
                                "environment": ENVIRONMENT, "secretPath": "/"}
        if universal:
            base.update(clientId=self.client_id, clientSecret=self.client_secret)
        else:
            base["accessToken"] = self.token
        return {**base, **changes}

    def store(self, name: str = "inf", *, universal: bool = False, **options: Any
              ) -> dict[str, Any]:
        """A store definition: ``configuration={...}`` changes its configuration, other
        keywords are store fields (``cacheTtl``, ``readOnly``)."""
        changes = options.pop("configuration", {})
        return {"name": name, "type": "infisical",
                "configuration": self.configuration(universal=universal, **changes), **options}
