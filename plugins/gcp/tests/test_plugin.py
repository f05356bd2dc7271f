"""Installation, discovery, lazy imports, configuration, identifiers and cache identity."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from gcptest_env import Accounts

from secretstores import ConfigError
from secretstores.api import SecretStores
from secretstores.plugins import get_plugins
from secretstores.testing import CANARY
from secretstores_gcp.config import GcpConfig
from secretstores_gcp.identifiers import IdentifierError, SecretRef, parse, writable
from secretstores_gcp.plugin import secretstores_identity


def test_installed_and_discovered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="secretstores")}
    assert names.get("gcp") == "secretstores_gcp.plugin"
    store_type, plugin = get_plugins().store_types()["gcp_secret_manager"]
    assert plugin == "gcp" and store_type.writable and store_type.read_only_by_default
    assert {c.value for c in store_type.capabilities} == {
        "read", "write", "delete", "list", "check", "versions"}


def test_loading_a_configuration_imports_no_google_library(accounts: Accounts) -> None:
    """Importing the plugin, discovering it and validating a store never loads the SDK."""
    definition = {"defaultStores": False, "stores": [{
        "name": "gcp", "type": "gcp_secret_manager", "configuration": {
            "projectId": "my-project", "serviceAccountKey": json.dumps(accounts.reader)}}]}
    code = ("import json, sys, secretstores, secretstores_gcp.plugin\n"
            "from secretstores.api import SecretStores\n"
            f"stores = SecretStores.from_dict(json.loads({json.dumps(definition)!r}))\n"
            "stores.stores['gcp'].config.client_email\n"
            "loaded = sorted(m for m in sys.modules\n"
            "                if m.split('.')[0] in ('google', 'grpc', 'requests', 'proto',\n"
            "                                        'urllib3', 'google_crc32c', 'cryptography'))\n"
            "print(','.join(loaded))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def build(configuration: dict[str, Any]) -> SecretStores:
    return SecretStores.from_dict({"defaultStores": False, "stores": [
        {"name": "gcp", "type": "gcp_secret_manager", "configuration": configuration}]})


def test_the_gateway_documents_configuration(accounts: Accounts) -> None:
    """``projectId`` and ``serviceAccountKey`` as a JSON string, as the document shows."""
    key = dict(accounts.reader, private_key_id=CANARY)
    stores = build({"projectId": "my-project-id", "serviceAccountKey": json.dumps(key)})
    config: GcpConfig = stores.stores["gcp"].config
    assert config.project_id == "my-project-id"
    assert config.client_email == accounts.reader["client_email"]
    assert config.endpoint_url == "https://secretmanager.googleapis.com"
    for shown in (repr(config), repr(stores.stores["gcp"]), repr(stores), str(config)):
        assert CANARY not in shown and "PRIVATE KEY" not in shown


def test_the_key_as_an_object(accounts: Accounts) -> None:
    stores = build({"projectId": "my-project-id", "serviceAccountKey": accounts.reader})
    config: GcpConfig = stores.stores["gcp"].config
    assert config.key_info == accounts.reader
    assert "PRIVATE KEY" not in repr(config)


@pytest.mark.parametrize(("endpoint", "url", "location"), [
    ("secretmanager.us-central1.rep.googleapis.com",
     "https://secretmanager.us-central1.rep.googleapis.com", "us-central1"),
    ("https://secretmanager.europe-west4.rep.googleapis.com/",
     "https://secretmanager.europe-west4.rep.googleapis.com", "europe-west4"),
    ("secretmanager-psc.p.googleapis.com:443", "https://secretmanager-psc.p.googleapis.com:443",
     None),
    ("http://127.0.0.1:8085", "http://127.0.0.1:8085", None),
])
def test_endpoints(endpoint: str, url: str, location: str | None) -> None:
    config: GcpConfig = build({"projectId": "my-project", "endpoint": endpoint}).stores[
        "gcp"].config
    assert (config.endpoint_url, config.location) == (url, location)


@pytest.mark.parametrize(("configuration", "problem"), [
    ({}, "missing required field 'projectId'"),
    ({"projectId": "My_Project"}, "configuration.projectId: expected a project ID"),
    ({"projectId": "my-project", "endpoint": "https://example.com/v1/secrets"},
     "configuration.endpoint: expected a host name"),
    ({"projectId": "my-project", "endpoint": "ftp://example.com"},
     "configuration.endpoint: expected a host name"),
    ({"projectId": "my-project", "serviceAccountKey": 5},
     "configuration.serviceAccountKey: expected a string or an object, got a number"),
    ({"projectId": "my-project", "serviceAccountKey": "{" + CANARY},
     "serviceAccountKey: is not valid JSON (Expecting property name enclosed in double quotes "
     "at line 1 column 2)"),
    ({"projectId": "my-project", "serviceAccountKey": [CANARY]},
     "configuration.serviceAccountKey: expected a string or an object, got an array"),
    ({"projectId": "my-project", "serviceAccountKey": {"type": "authorized_user",
                                                        "refresh_token": CANARY}},
     "serviceAccountKey: has type 'authorized_user', expected a service account key"),
    ({"projectId": "my-project", "serviceAccountKey": {"type": CANARY}},
     "serviceAccountKey: has type an unknown type"),
    ({"projectId": "my-project", "serviceAccountKey": {"type": "service_account",
                                                        "private_key_id": CANARY}},
     "serviceAccountKey: missing fields client_email, private_key, token_uri"),
    ({"projectId": "my-project", "serviceAccountKey": {
        "client_email": "a@b.iam.gserviceaccount.com", "private_key": CANARY,
        "token_uri": "https://oauth2.googleapis.com/token"}},
     "serviceAccountKey: private_key is not a PEM private key"),
    ({"projectId": "my-project", "projectID": "x"}, "unknown field 'projectID'"),
])
def test_invalid_configuration(configuration: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(configuration)
    assert problem in str(info.value)
    assert "store 'gcp'" in str(info.value)
    assert CANARY not in str(info.value)


def test_every_field_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        build({"projectId": "Bad Project", "endpoint": "mailto:x", "serviceAccountKey": 1.5,
               "region": "us"})
    text = str(info.value)
    for field in ("projectId", "endpoint", "serviceAccountKey", "unknown field 'region'"):
        assert field in text, text
    assert "4 problems" in text


def test_key_problems_are_listed_together() -> None:
    with pytest.raises(ConfigError) as info:
        build({"projectId": "my-project", "serviceAccountKey": {
            "client_email": "not-an-email", "private_key": CANARY,
            "token_uri": "oauth2.googleapis.com/token"}})
    text = str(info.value)
    assert "client_email is not an email address" in text
    assert "private_key is not a PEM private key" in text
    assert "token_uri is not an https:// URL" in text
    assert CANARY not in text


@pytest.mark.parametrize(("identifier", "ref"), [
    ("db", SecretRef("main", "db")),
    ("prod-db_2", SecretRef("main", "prod-db_2")),
    ("db:3", SecretRef("main", "db", "3")),
    ("db:latest", SecretRef("main", "db")),
    ("db:prod", SecretRef("main", "db", "prod")),
    ("projects/other-project/secrets/db", SecretRef("other-project", "db")),
    ("projects/other-project/secrets/db/versions/latest", SecretRef("other-project", "db")),
    ("projects/123456789012/secrets/db/versions/7", SecretRef("123456789012", "db", "7")),
    ("projects/example.com:my-project/secrets/db/versions/blue",
     SecretRef("example.com:my-project", "db", "blue")),
    ("projects/p-123456/locations/us-east1/secrets/db/versions/2",
     SecretRef("p-123456", "db", "2", "us-east1")),
])
def test_parse(identifier: str, ref: SecretRef) -> None:
    assert parse(identifier, "main") == ref


def test_parse_paths() -> None:
    ref = parse("db:3", "main-project")
    assert ref.version_path == "projects/main-project/secrets/db/versions/3"
    assert ref.secret_path == "projects/main-project/secrets/db"
    regional = parse("db", "main-project", "us-central1")
    assert regional.version_path == (
        "projects/main-project/locations/us-central1/secrets/db/versions/latest")
    assert regional.parent == "projects/main-project/locations/us-central1"


@pytest.mark.parametrize(("identifier", "message"), [
    ("", "expected a secret name"),
    ("prod/db", "expected a secret name"),
    ("db:", "expected a secret name"),
    ("db:1:2", "expected a secret name"),
    ("db.json", "expected a secret name"),
    ("projects/p/secrets/db", "expected projects/PROJECT/secrets/NAME"),
    ("projects/my-project/secrets/db/versions/", "expected projects/PROJECT/secrets/NAME"),
    ("projects/my-project/secrets/db/versions/1/extra", "expected projects/PROJECT"),
    ("projects/my-project/secrets/" + "x" * 256, "expected projects/PROJECT"),
])
def test_parse_errors(identifier: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        parse(identifier, "main")


def test_writable_names() -> None:
    assert writable("db", "main") == SecretRef("main", "db")
    assert writable("projects/example.com:my-project/secrets/db", "main").project == (
        "example.com:my-project")
    for versioned in ("db:3", "db:latest", "projects/my-project/secrets/db/versions/1"):
        with pytest.raises(IdentifierError, match="a version cannot be written"):
            writable(versioned, "main")


def spec(configuration: dict[str, Any]) -> Any:
    return build(configuration).stores["gcp"]


def test_identity_of_a_key_is_its_service_account(accounts: Accounts) -> None:
    key_store = spec({"projectId": "my-project", "serviceAccountKey": accounts.reader})
    other = spec({"projectId": "my-project", "serviceAccountKey": json.dumps(accounts.writer)})
    assert secretstores_identity(store=key_store) == (
        f"serviceAccount:{accounts.reader['client_email']}")
    assert secretstores_identity(store=other) != secretstores_identity(store=key_store)


def test_identity_of_adc_follows_its_principal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               accounts: Accounts) -> None:
    """Two processes with different ADC principals never share cache entries."""
    adc = spec({"projectId": "my-project"})
    nothing = secretstores_identity(store=adc)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(accounts.reader))
    second.write_text(json.dumps(accounts.writer))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(first))
    as_reader = secretstores_identity(store=adc)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(second))
    as_writer = secretstores_identity(store=adc)
    second.write_text(json.dumps(accounts.reader))  # the same path, the first account
    rewritten = secretstores_identity(store=adc)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    gcloud = tmp_path / "gcloud"
    gcloud.mkdir(exist_ok=True)
    (gcloud / "application_default_credentials.json").write_text('{"type": "authorized_user"}')
    logged_in = secretstores_identity(store=adc)
    assert len({nothing, as_reader, as_writer, logged_in}) == 4
    assert rewritten == as_reader  # what counts is whose key the file holds
