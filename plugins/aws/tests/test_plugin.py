"""Installation, discovery, lazy imports, configuration and identifier parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from secretstores import ConfigError
from secretstores.api import SecretStores
from secretstores.plugins import get_plugins
from secretstores.testing import CANARY
from secretstores.testing.faults import closed_port
from secretstores_aws.identifiers import IdentifierError, SecretRef, parse


def test_installed_and_discovered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="secretstores")}
    assert names.get("aws") == "secretstores_aws.plugin"
    store_type, plugin = get_plugins().store_types()["aws_secrets_manager"]
    assert plugin == "aws" and store_type.writable


def test_import_does_not_import_boto3() -> None:
    code = ("import sys, secretstores, secretstores_aws.plugin\n"
            "from secretstores.plugins import get_plugins\n"
            "get_plugins().store_types()\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore'))\n"
            "print(','.join(loaded))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def build(configuration: dict[str, object]) -> SecretStores:
    return SecretStores.from_dict({"defaultStores": False, "stores": [
        {"name": "aws", "type": "aws_secrets_manager", "configuration": configuration}]})


def test_seed_configuration_is_accepted() -> None:
    stores = build({"region": "us-east-1", "accessKeyId": "AKIA0000", "secretAccessKey": CANARY})
    config = stores.stores["aws"].config
    assert config.region == "us-east-1" and config.recovery_window_days == 30
    assert CANARY not in repr(config) and CANARY not in repr(stores.stores["aws"])


@pytest.mark.parametrize(("configuration", "problem"), [
    ({"region": "us-east-1", "accessKeyId": "AKIA0000"},
     "give both 'accessKeyId' and 'secretAccessKey', or neither"),
    ({"region": "us-east-1", "secretAccessKey": CANARY, "sessionToken": CANARY},
     "give both 'accessKeyId' and 'secretAccessKey', or neither"),
    ({"region": "Virginia"}, "expected an AWS region code"),
    ({"roleArn": "arn:aws:iam::12:user/x"}, "expected an IAM role ARN"),
    ({"endpointUrl": "localhost:4566"}, "expected an http:// or https:// URL"),
    ({"recoveryWindowDays": 3}, "expected 0 (delete at once, no recovery) or 7 to 30 days"),
    ({"secretAccessKey": 5}, "secretAccessKey: expected a string, got a number"),
    ({"accessKey": "x"}, "unknown field 'accessKey'"),
    ({"profile": "p", "accessKeyId": "AKIA0000", "secretAccessKey": CANARY},
     "either 'profile' or 'accessKeyId'/'secretAccessKey'"),
])
def test_invalid_configuration(configuration: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(configuration)
    assert problem in str(info.value)
    assert CANARY not in str(info.value)


@pytest.mark.parametrize(("identifier", "ref"), [
    ("prod/db", SecretRef("prod/db")),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
     SecretRef("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf")),
    ("prod/db?stage=AWSPREVIOUS", SecretRef("prod/db", stage="AWSPREVIOUS")),
    ("prod/db?versionStage=custom", SecretRef("prod/db", stage="custom")),
    ("a=b+c@d?versionId=v-1&stage=AWSCURRENT", SecretRef("a=b+c@d", "AWSCURRENT", "v-1")),
])
def test_parse(identifier: str, ref: SecretRef) -> None:
    assert parse(identifier) == ref


@pytest.mark.parametrize(("identifier", "message"), [
    ("?stage=X", "names no secret"),
    ("db?stage=", "needs a value"),
    ("db?version=1", "unknown version option 'version'"),
    ("db?stage=A&stage=B", "given twice"),
])
def test_parse_errors(identifier: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        parse(identifier)


def test_batchable() -> None:
    assert parse("db").batchable and parse("db?stage=AWSCURRENT").batchable
    assert not parse("db?stage=AWSPREVIOUS").batchable
    assert not parse("db?versionId=1").batchable


def test_stores_check_fails_for_an_unreachable_endpoint(proxy: Any, store_config: Any,
                                                        tmp_path: Path) -> None:
    config = tmp_path / "secretstores.json"
    secret_key = store_config(proxy.url)["secretAccessKey"]
    config.write_text(json.dumps({"defaultStores": False, "stores": [
        {"name": "good", "type": "aws_secrets_manager", "configuration": store_config(proxy.url)},
        {"name": "unreachable", "type": "aws_secrets_manager", "retries": 1,
         "configuration": store_config(f"http://127.0.0.1:{closed_port()}")},
    ]}))
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config),
                             "stores", "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["good"].endswith("ok: credentials accepted by Secrets Manager")
    assert "error: ListSecrets failed: EndpointConnectionError" in lines["unreachable"]
    assert result.stderr.startswith("secretstores: error: 1 store failed the check: unreachable:")
    assert secret_key not in result.stdout + result.stderr
