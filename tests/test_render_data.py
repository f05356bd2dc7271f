"""Rendering a host's server configurations (nested data), files, and the asyncio variants."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from secretstores import TemplateError
from secretstores.api import SecretStores
from secretstores.testing import count_fetch_calls


@pytest.fixture
def stores(make_stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretStores:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_token")
    made = make_stores({"stores": [
        {"name": "aws", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/a.db"},
         "mappings": [{"name": "oauth", "secretIdentifier": "prod/oauth"}]},
        {"name": "env", "type": "env"},
    ]})
    made.put("aws", "prod/oauth", json.dumps({"client_id": "cid", "client_secret": "c s'x"}))
    made.put("aws", "db/password", "p@ss/w:rd")
    made.invalidate()
    return made


SERVER = {
    "name": "github",
    "url": "https://api.example.com/v1?token={{ secrets.env.GITHUB_TOKEN | urlencode }}",
    "headers": {
        "Authorization": "Bearer {{ secrets.env.GITHUB_TOKEN }}",
        "X-Static": "no template here",
    },
    "env": {"DB_PASSWORD": "{{ secrets.aws.[db/password] }}", "MODE": "prod"},
    "args": ["--user", "admin", "--password={{ secrets.aws.[db/password] }}"],
    "oauth": {"clientId": "{{ secrets.aws.oauth.client_id }}",
              "clientSecret": "{{ secrets.aws.oauth.client_secret }}"},
    "port": 8080,
    "enabled": True,
    "timeout": None,
    "tuple": ("{{ secrets.aws.oauth.client_id }}", 1),
    "{{ secrets.env.GITHUB_TOKEN }}": "keys are not rendered",
}


def test_render_data(stores: SecretStores) -> None:
    with count_fetch_calls(stores.plugins) as calls:
        out = stores.render_data(SERVER)
    assert out == {
        "name": "github",
        "url": "https://api.example.com/v1?token=ghp_token",
        "headers": {"Authorization": "Bearer ghp_token", "X-Static": "no template here"},
        "env": {"DB_PASSWORD": "p@ss/w:rd", "MODE": "prod"},
        "args": ["--user", "admin", "--password=p@ss/w:rd"],
        "oauth": {"clientId": "cid", "clientSecret": "c s'x"},
        "port": 8080,
        "enabled": True,
        "timeout": None,
        "tuple": ("cid", 1),
        "{{ secrets.env.GITHUB_TOKEN }}": "keys are not rendered",
    }
    # every string's references fetched together: one call per store
    assert sorted(name for name, _ in calls) == ["aws", "env"]
    assert sorted(next(ids for name, ids in calls if name == "aws")) == \
        ["db/password", "prod/oauth"]
    assert SERVER["headers"]["Authorization"].startswith("Bearer {{")  # input untouched


def test_render_data_values_are_plain_strings(stores: SecretStores) -> None:
    out = stores.render_data({"a": "{{ secrets.aws.[db/password] }}"})
    assert type(out["a"]) is str


def test_render_data_errors_name_the_path(stores: SecretStores) -> None:
    data = {"headers": {"Authorization": "Bearer {{ secrets.env.NOT_SET_ANYWHERE }}"},
            "args": ["ok", "{{ secrets.nostore.x }}"]}
    with pytest.raises(TemplateError) as info:
        stores.render_data(data)
    assert [p.split(": ")[:2] for p in info.value.problems] == [  # every leaf's, in order
        ["config.headers.Authorization:1", "secrets.env.NOT_SET_ANYWHERE"],
        ["config.args[1]:1", "secrets.nostore.x"]]
    assert "unknown store 'nostore'" in info.value.problems[1]
    del data["args"]
    with pytest.raises(TemplateError) as info:
        stores.render_data(data, name="server")
    assert str(info.value).startswith(
        "server.headers.Authorization:1: secrets.env.NOT_SET_ANYWHERE: not found")


def test_render_file(stores: SecretStores, tmp_path: Path) -> None:
    path = tmp_path / "app.conf.j2"
    path.write_text("[db]\npassword = {{ secrets.aws.[db/password] | json }}\n",
                    encoding="utf-8")
    assert stores.render_file(path) == '[db]\npassword = "p@ss/w:rd"\n'
    path.write_text("ok\n{{ secrets.aws.[missing/one] }}\n", encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        stores.render_file(path)
    assert str(info.value).startswith(f"{path}:2: secrets.aws.[missing/one]: not found")
    with pytest.raises(TemplateError, match="cannot read template"):
        stores.render_file(tmp_path / "absent.j2")


def test_render_string_async(stores: SecretStores) -> None:
    async def main() -> list[str]:
        return await asyncio.gather(*(
            stores.render_string_async("{{ n }}:{{ secrets.aws.oauth.client_id }}",
                                       context={"n": n}) for n in range(5)))

    assert asyncio.run(main()) == [f"{n}:cid" for n in range(5)]
    # warm: every value in memory, rendered inline
    with count_fetch_calls(stores.plugins) as calls:
        assert asyncio.run(stores.render_string_async(
            "{{ secrets.aws.oauth.client_id }}")) == "cid"
    assert calls == []


def test_render_string_async_errors(stores: SecretStores) -> None:
    with pytest.raises(TemplateError, match=r"^t:1: secrets\.aws\.\[no/pe\]: not found"):
        asyncio.run(stores.render_string_async("{{ secrets.aws.[no/pe] }}", name="t"))


def test_render_data_async(stores: SecretStores) -> None:
    out = asyncio.run(stores.render_data_async(
        {"env": ["X={{ secrets.env.GITHUB_TOKEN }}"]}))
    assert out == {"env": ["X=ghp_token"]}
