"""No secret value, private key or access token in any error, repr, CLI output or log record,
including the Google libraries' own DEBUG logs."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gcptest_env import MAIN, Accounts
from gcptest_server import SecretManagerServer

from secretstores import ConfigError, SecretStoresError
from secretstores.api import SecretStores
from secretstores.testing import CANARY, exception_texts, leaked_forms


def key_material(key: dict[str, Any]) -> list[str]:
    """The private key and every line of its body: none may be shown anywhere."""
    pem = key["private_key"]
    return [pem, *(line for line in pem.splitlines() if line and not line.startswith("-----"))]


def assert_clean(text: str, key: dict[str, Any]) -> None:
    for secret in key_material(key):
        assert secret not in text
    assert not leaked_forms(text, [CANARY]), text


class Records(logging.Handler):
    """Every record, with its structured fields, as the JSON a log shipper would send."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage() + json.dumps(vars(record), default=str))


@contextlib.contextmanager
def google_debug_logs() -> Iterator[Records]:
    """The ``google`` loggers at DEBUG with a handler (GOOGLE_SDK_PYTHON_LOGGING_SCOPE does
    the same), and urllib3's."""
    records = Records()
    loggers = [logging.getLogger(name) for name in ("google", "urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(records)
        logger.setLevel(logging.DEBUG)
    yield records
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(records)
        logger.setLevel(level)


def test_google_debug_logs_hold_no_value_or_credential(
        writer: SecretStores, seed: Callable[..., str], server: SecretManagerServer,
        accounts: Accounts, unique: Callable[[str], str]) -> None:
    read, written = unique("logged"), unique("written")
    seed(read, CANARY)  # (the test's own admin client logs what it likes)
    with google_debug_logs() as records:
        assert writer.get("gcp", read) == CANARY  # logs in, then reads
        writer.put("gcp", written, CANARY)
        assert writer.get("gcp", written) == CANARY
    texts = records.texts
    assert any("AccessSecretVersion" in text for text in texts)  # the libraries did log
    assert any("httpResponse" in text for text in texts)
    tokens = list(server.tokens)
    assert tokens
    for text in texts:
        assert_clean(text, accounts.writer)
        for token in tokens:
            assert token not in text


def test_a_refused_key_shows_nothing_of_itself(make_stores: Callable[..., SecretStores],
                                               store_config: Callable[..., Any],
                                               server: SecretManagerServer,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    stolen = server.new_service_account("reader", MAIN, register=False)
    stolen["private_key_id"] = CANARY
    stores = make_stores(store_config(stolen), retries=0)
    with pytest.raises(SecretStoresError) as info:
        stores.check("gcp")
    texts = exception_texts(info.value)
    with pytest.raises(SecretStoresError) as failed:
        stores.render_string("{{ secrets.gcp.anything }}")
    texts += exception_texts(failed.value)
    texts += [repr(stores), repr(stores.stores["gcp"]), caplog.text]
    for text in texts:
        assert_clean(text, stolen)


def test_configuration_errors_show_nothing_of_the_key(accounts: Accounts) -> None:
    broken = dict(accounts.reader, client_email="nobody", token_uri=CANARY)
    for key in (broken, json.dumps(broken), json.dumps(broken)[:-1]):
        with pytest.raises(ConfigError) as info:
            SecretStores.from_dict({"defaultStores": False, "stores": [{
                "name": "gcp", "type": "gcp_secret_manager",
                "configuration": {"projectId": "bad project", "serviceAccountKey": key}}]})
        for text in exception_texts(info.value):
            assert_clean(text, broken)


def test_cli_check_shows_nothing_of_the_key(server: SecretManagerServer, accounts: Accounts,
                                            store_config: Callable[..., Any],
                                            tmp_path: Path) -> None:
    stolen = server.new_service_account("reader", MAIN, register=False)
    config = tmp_path / "secretstores.json"
    config.write_text(json.dumps({"defaultStores": False, "stores": [
        {"name": "good", "type": "gcp_secret_manager",
         "configuration": store_config(accounts.reader)},
        {"name": "stolen", "type": "gcp_secret_manager", "retries": 0,
         "configuration": store_config(stolen)}]}))
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config),
                             "stores", "--check"], capture_output=True, text=True, timeout=60,
                            env={"SECRETSTORES_HOME": str(tmp_path / "home"),
                                 "PATH": "/usr/bin:/bin", "NO_GCE_CHECK": "True"})
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["good"].endswith(f"ok: {accounts.reader['client_email']} accepted by Secret "
                                  f"Manager for project '{MAIN}' (listing secrets is not "
                                  "allowed)")
    assert "invalid_grant: Invalid JWT Signature." in lines["stolen"]
    for key in (accounts.reader, stolen):
        assert_clean(result.stdout + result.stderr, key)
