"""Canaries: no secret value, client secret or access token in any log line, error, repr or
CLI output, whatever the store does (the SDKs log HTTP requests at INFO and DEBUG)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azkv_world import AzureWorld, unique

from secretstores import SecretStoresError
from secretstores.api import SecretStores
from secretstores.testing import exception_texts, leaked_forms

STORE = "az"
VALUE = "canary-azure-value-Vq7x-never-shown"
CLIENT_SECRET = "canary-azure-client-Kp2m~never~shown"
WRONG_SECRET = "canary-azure-wrong-Zt9r~never~shown"
CANARIES = [VALUE, CLIENT_SECRET, WRONG_SECRET]


def _failures(stores: SecretStores, template: str) -> list[str]:
    with pytest.raises(SecretStoresError) as info:
        stores.render_string(template)
    return exception_texts(info.value)


def test_nothing_secret_in_logs_errors_or_reprs(
        caplog: pytest.LogCaptureFixture, make_stores: Any, world: AzureWorld) -> None:
    caplog.set_level(logging.DEBUG)
    principal = world.principal(secret=CLIENT_SECRET)
    world.vault.grant(principal.object_id, "Key Vault Secrets Officer")
    writer = make_stores(world.configuration(principal), readOnly=False)
    name, nested = unique("canary"), unique("canary-json")
    texts: list[str] = []

    writer.put(STORE, name, VALUE)  # the PUT body holds the value
    writer.put(STORE, nested, json.dumps({"password": VALUE}))
    writer.invalidate()
    assert writer.get(STORE, name) == VALUE
    assert writer.render_string(f"{{{{ secrets.az.[{nested}].password }}}}") == VALUE
    texts.append(writer.check(STORE))
    writer.list_names(STORE)
    world.vault.fail_next(1, 429, retry_after="0")
    writer.invalidate()
    writer.get(STORE, name)
    texts += _failures(writer, f"{{{{ secrets.az.[{name}] + 1 }}}}")
    texts += _failures(writer, f"{{{{ secrets.az.[{nested}].missing ~ secrets.az.[{name}] }}}}")
    world.directory.revoke(principal.client_id)  # a 401 mid-session, then a new sign-in
    writer.invalidate()
    assert writer.get(STORE, name) == VALUE
    assert writer.delete(STORE, name) is True

    wrong = make_stores(world.configuration(principal, clientSecret=WRONG_SECRET), retries=0)
    with pytest.raises(SecretStoresError) as info:
        wrong.check(STORE)
    texts += exception_texts(info.value)
    texts += _failures(wrong, f"{{{{ secrets.az.[{name}] }}}}")

    runtime = writer.runtime(STORE)
    session = runtime.sessions.current
    assert session is not None
    texts += [repr(writer), repr(wrong), repr(runtime), repr(runtime.spec), repr(session),
              repr(session.client)]
    loggers = {record.name for record in caplog.records}
    # the SDKs' HTTP logging really ran, at DEBUG, and was captured
    assert any(n.startswith("azure.core.pipeline.policies.http_logging_policy") for n in loggers)
    assert any(n.startswith("azure.identity") for n in loggers)
    assert any(n.startswith("urllib3") for n in loggers)
    texts.append(caplog.text)
    texts += [str(record.args) for record in caplog.records]
    for text in texts:
        assert not leaked_forms(text, CANARIES), text
        for token in world.directory.tokens:
            assert token not in text and token.rsplit(".", 1)[-1] not in text


def test_cli_errors_hold_no_secret(tmp_path: Path, world: AzureWorld, admin: Any) -> None:
    principal = world.principal(secret=CLIENT_SECRET)
    world.vault.grant(principal.object_id, "Key Vault Secrets User")
    name = unique("cli-canary")
    admin.set_secret(name, VALUE)
    config = tmp_path / "secretstores.json"
    config.write_text(json.dumps({"defaultStores": False, "stores": [
        {"name": "good", "type": "azure_key_vault",
         "configuration": world.configuration(principal)},
        {"name": "wrong", "type": "azure_key_vault", "retries": 0,
         "configuration": world.configuration(principal, clientSecret=WRONG_SECRET)}]}))
    cases = {
        f"{{{{ secrets.wrong.[{name}] }}}}": "AADSTS7000215",
        f"{{{{ secrets.good.[{name}] + 1 }}}}": "TypeError",
    }
    for template, expected in cases.items():
        source = tmp_path / "template.j2"
        source.write_text(template)
        for debug in ([], ["--debug"]):
            result = subprocess.run(
                [sys.executable, "-m", "secretstores.cli", "-c", str(config), *debug,
                 "render", str(source)], capture_output=True, text=True, timeout=120,
                env={**os.environ, "SECRETSTORES_HOME": str(tmp_path / "home")})
            output = result.stdout + result.stderr
            assert result.returncode != 0, output
            assert expected in result.stderr, output
            assert not leaked_forms(output, CANARIES), output

