"""Installation, discovery, lazy imports, configuration, identifiers and cache identity."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest
from infisical_fixtures import Project

from secretstores import Capability, ConfigError
from secretstores.api import SecretStores
from secretstores.plugins import get_plugins
from secretstores.testing import CANARY
from secretstores_infisical.config import DEFAULT_LIST_THRESHOLD
from secretstores_infisical.identifiers import IdentifierError, SecretRef, parse
from secretstores_infisical.identity import cache_identity, token_subject

SEED = {"siteUrl": "https://us.infisical.com", "accessToken": CANARY,
        "projectId": "6f1c2b7e-0000-4000-8000-000000000000", "environment": "prod",
        "secretPath": "/"}


def build(configuration: dict[str, Any]) -> SecretStores:
    return SecretStores.from_dict({"defaultStores": False, "stores": [
        {"name": "my_infisical_store", "type": "infisical", "configuration": configuration}]})


def test_installed_and_discovered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="secretstores")}
    assert names.get("infisical") == "secretstores_infisical.plugin"
    store_type, plugin = get_plugins().store_types()["infisical"]
    assert plugin == "infisical"
    assert store_type.capabilities == {Capability.READ, Capability.BATCH_READ,
                                       Capability.WRITE, Capability.DELETE, Capability.LIST,
                                       Capability.CHECK}
    assert store_type.read_only_by_default and store_type.batch_size is None


def test_loading_the_plugin_and_a_configuration_imports_no_sdk() -> None:
    code = ("import sys, json\n"
            "from secretstores.api import SecretStores\n"
            "stores = SecretStores.from_dict({'defaultStores': False, 'stores': [\n"
            f"    {{'name': 'inf', 'type': 'infisical', 'configuration': {SEED!r}}}]}})\n"
            "assert stores.stores['inf'].config.environment == 'prod'\n"
            "print(json.dumps(sorted(m for m in sys.modules\n"
            "      if m.split('.')[0] in ('infisical_sdk', 'boto3', 'botocore'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout) == []


def test_the_seed_configuration_is_accepted_as_written() -> None:
    stores = build(SEED)
    config = stores.stores["my_infisical_store"].config
    assert (config.site, config.project_id, config.environment, config.folder) == (
        "https://us.infisical.com", SEED["projectId"], "prod", "/")
    assert not config.universal_auth and config.list_threshold == DEFAULT_LIST_THRESHOLD
    assert CANARY not in repr(config) + repr(stores.stores["my_infisical_store"]) + repr(stores)


def test_universal_auth_configuration() -> None:
    configuration = {k: v for k, v in SEED.items() if k != "accessToken"}
    stores = build({**configuration, "clientId": "machine-1", "clientSecret": CANARY,
                    "secretPath": "/apps/api/", "listThreshold": 0})
    config = stores.stores["my_infisical_store"].config
    assert config.universal_auth and config.folder == "/apps/api" and config.list_threshold == 0
    assert CANARY not in repr(config)


WITHOUT_TOKEN = {k: v for k, v in SEED.items() if k != "accessToken"}


@pytest.mark.parametrize(("configuration", "problem"), [
    (WITHOUT_TOKEN, "missing required field 'accessToken' (or 'clientId' and 'clientSecret'"),
    ({**SEED, "clientId": "m", "clientSecret": CANARY},
     "give either 'accessToken' or 'clientId' and 'clientSecret' (universal auth), not both"),
    ({**WITHOUT_TOKEN, "clientId": "m"}, "'clientSecret' is missing"),
    ({**WITHOUT_TOKEN, "clientSecret": CANARY}, "'clientId' is missing"),
    ({**SEED, "accessToken": " "}, "'accessToken' must not be empty"),
    ({**SEED, "siteUrl": "us.infisical.com"}, "siteUrl: expected the Infisical instance URL"),
    ({**SEED, "siteUrl": "https://us.infisical.com/api"}, "without '/api'"),
    ({**SEED, "secretPath": "apps"}, "secretPath: expected an absolute folder path"),
    ({**SEED, "secretPath": "/apps/../x"}, "secretPath: folder names '.' and '..' are not allowed"),
    ({**SEED, "secretPath": "/my apps"}, "folder name 'my apps' is not valid"),
    ({**SEED, "environment": "prod env"}, "environment: expected an environment slug"),
    ({**SEED, "listThreshold": -1}, "listThreshold: expected 0 (never list)"),
    ({**SEED, "accessToken": 12}, "accessToken: expected a string, got a number"),
    ({**SEED, "token": "x"}, "unknown field 'token'"),
])
def test_invalid_configuration(configuration: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(configuration)
    message = str(info.value)
    assert "store 'my_infisical_store'" in message and problem in message
    assert CANARY not in message


def test_every_field_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        build({"siteUrl": "ftp://x", "accessToken": CANARY, "environment": "",
               "secretPath": "relative"})
    problems = info.value.problems
    assert len(problems) == 4, problems
    for field in ("siteUrl", "environment", "secretPath", "'projectId'"):
        assert any(field in problem for problem in problems), (field, problems)
    assert all(p.startswith("store 'my_infisical_store': configuration") for p in problems)


@pytest.mark.parametrize(("identifier", "secret_path", "ref"), [
    ("OPENAI_KEY", "/", SecretRef("/", "OPENAI_KEY")),
    ("OPENAI_KEY", "/apps/api/", SecretRef("/apps/api", "OPENAI_KEY")),
    ("db/PASSWORD", "/apps", SecretRef("/apps/db", "PASSWORD")),
    ("/shared/db/PASSWORD", "/apps", SecretRef("/shared/db", "PASSWORD")),
    ("/ROOT_KEY", "/apps", SecretRef("/", "ROOT_KEY")),
    ("weird.key-#1?", "/", SecretRef("/", "weird.key-#1?")),
])
def test_parse(identifier: str, secret_path: str, ref: SecretRef) -> None:
    assert parse(identifier, secret_path) == ref


@pytest.mark.parametrize(("identifier", "message"), [
    ("apps/", "names no key"),
    ("HAS SPACE", "no spaces or ':'"),
    ("a:b", "no spaces or ':'"),
    ("../KEY", "folder names '.' and '..' are not allowed"),
    ("/a b/KEY", "folder name 'a b' is not valid"),
])
def test_parse_errors(identifier: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        parse(identifier, "/")


def test_cache_identity_is_the_machine_identity_or_the_token_subject(project: Project) -> None:
    stores = SecretStores.from_dict({"defaultStores": False, "stores": [
        project.store("token"), project.store("universal", universal=True)]})
    token_spec, universal_spec = stores.stores["token"], stores.stores["universal"]
    assert token_subject(project.token) == f"identityId:{project.identity.id}"
    assert cache_identity(token_spec.config) == f"token:identityId:{project.identity.id}"
    assert cache_identity(universal_spec.config) == f"universal-auth:{project.client_id}"
    # the hook the core asks: two stores differing only in their credentials never share
    assert stores.runtime("token").scope != stores.runtime("universal").scope
    opaque = build(SEED).stores["my_infisical_store"].config  # not a JWT: a digest
    assert cache_identity(opaque).startswith("token:digest:")
    assert CANARY not in cache_identity(opaque)
    stores.close()
