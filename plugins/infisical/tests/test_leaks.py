"""Canaries: no value, access token or client secret in an error, repr, log line or CLI output."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from infisical_fixtures import Project

from secretstores import SecretStoresError, StoreError
from secretstores.testing import CANARY, exception_texts, leaked_forms, record_events

#: A token shaped like Infisical's JWTs whose signature Infisical refuses.
TOKEN_MARK = "canary-token-Qx9c-never"
TOKEN_CANARY = ".".join([
    base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("="),
    base64.urlsafe_b64encode(json.dumps({"identityId": TOKEN_MARK}).encode()).decode()
    .rstrip("="), TOKEN_MARK])
SECRET_CANARY = "canary-client-secret-Wp2m-never"


def forms_leaked(texts: list[str], secrets: list[str]) -> list[tuple[str, list[str]]]:
    return [(text, found) for text in texts if (found := leaked_forms(text, secrets))]


def test_rejected_credentials_never_show_them(project: Project, make_stores: Any,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    stores = make_stores(
        project.store("token", configuration={"accessToken": TOKEN_CANARY}),
        project.store("universal", universal=True, configuration={
            "clientSecret": SECRET_CANARY}))
    texts: list[str] = []
    with record_events(stores.plugins) as recorder:
        for store in ("token", "universal"):
            with pytest.raises(StoreError) as info:
                stores.check(store)
            texts += exception_texts(info.value)
            texts.append(repr(stores.fetch(store, ["KEY"])["KEY"]))
            with pytest.raises(SecretStoresError) as rendered:
                stores.render_string(f"{{{{ secrets.{store}.KEY }}}}")
            texts += exception_texts(rendered.value)
            texts.append(repr(stores.stores[store]))
    texts += [repr(event) for event in recorder.events]
    texts += [repr(stores), caplog.text]
    assert any("was refused" in text for text in texts)  # the failures were reported
    assert forms_leaked(texts, [TOKEN_CANARY, TOKEN_MARK, SECRET_CANARY]) == []


def test_working_sessions_never_show_tokens_or_values(project: Project, make_stores: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")  # urllib3 logs every request line at DEBUG
    for i in range(4):
        project.seed(f"KEY_{i}", f"{CANARY}-{i}")
    stores = make_stores(project.store("token"), project.store("universal", universal=True))
    template = " ".join(f"{{{{ secrets.{s}.KEY_{i} }}}}" for s in ("token", "universal")
                        for i in range(4))
    with record_events(stores.plugins) as recorder:
        assert CANARY in stores.render_string(template)
        stores.check("universal")
    session = stores.runtime("universal").session()
    issued = session.client.sdk.get_token()  # the token universal auth obtained
    assert issued and issued != project.token
    texts = [repr(session), repr(session.client), repr(stores.runtime("token").session()),
             repr(stores), caplog.text, *(repr(event) for event in recorder.events)]
    secrets = [project.token, issued, project.client_secret, CANARY]
    assert forms_leaked(texts, secrets) == []


def test_cli_errors_never_show_credentials_or_values(project: Project, tmp_path: Path) -> None:
    project.seed("VISIBLE", CANARY)
    project.seed("DENIED", CANARY)
    project.identity.deny_read.add("DENIED")
    config = tmp_path / "secretstores.json"
    config.write_text(json.dumps({"defaultStores": False, "stores": [
        project.store("good"),
        project.store("token", configuration={"accessToken": TOKEN_CANARY}),
        project.store("universal", universal=True, configuration={
            "clientSecret": SECRET_CANARY}),
    ]}))
    template = tmp_path / "config.j2"
    template.write_text("{{ secrets.good.VISIBLE | upper ~ secrets.good.DENIED }}"
                        "{{ secrets.token.KEY }}{{ secrets.universal.KEY }}")
    outputs = []
    for args in (["stores", "--check"], ["render", str(template)],
                 ["--debug", "render", str(template)], ["get", "good", "DENIED"]):
        result = subprocess.run(
            [sys.executable, "-m", "secretstores.cli", "-c", str(config), *args],
            capture_output=True, text=True, timeout=120,
            env={"SECRETSTORES_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
        assert result.returncode != 0, (args, result.stdout, result.stderr)
        outputs.append(result.stdout + result.stderr)
    assert any("denied" in output for output in outputs)
    assert forms_leaked(outputs, [TOKEN_CANARY, TOKEN_MARK, SECRET_CANARY, CANARY]) == []
