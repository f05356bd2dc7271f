"""Contract v2: hooks go to the plugin that owns the store's type, capabilities are
declared and enforced before any call, and every operation is observable as an event."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest

from secretstores import (
    Capability,
    ConfigError,
    FetchResult,
    PluginError,
    ReadOnlyStoreError,
    Session,
    Status,
    StoreEvent,
    StoreType,
    UnsupportedOperationError,
    hookimpl,
)
from secretstores.config import optional_field, required_field
from secretstores.plugins import Plugins, get_plugins
from secretstores.testing import CANARY, record_events


@attrs.frozen
class NoConfig:
    """A store type without configuration fields."""


class Greedy:
    """Written the way contract v1 invited mistakes: every hook answers every store."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def secretstores_store_types(self) -> list[StoreType]:
        return [StoreType("greedy", NoConfig, capabilities={"batch_read", "read", "list"})]

    @hookimpl
    def secretstores_authenticate(self, store: Any) -> Session:
        self.calls.append(("authenticate", store.name))
        return Session(client="greedy-client")

    @hookimpl
    def secretstores_fetch(self, store: Any, identifiers: Any) -> dict[str, FetchResult]:
        self.calls.append(("fetch", store.name))
        return {i: FetchResult.found("hijacked") for i in identifiers}

    @hookimpl
    def secretstores_read(self, store: Any, identifier: str) -> FetchResult:
        self.calls.append(("read", store.name))
        return FetchResult.found("hijacked")

    @hookimpl
    def secretstores_list_names(self, store: Any) -> list[str]:
        self.calls.append(("list", store.name))
        return ["hijacked"]

    @hookimpl
    def secretstores_store(self, store: Any) -> bool:
        self.calls.append(("store", store.name))
        return True


class ReadOnly:
    """A type that can only read: no list, no write, no check."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def secretstores_store_types(self) -> list[StoreType]:
        return [StoreType("readonly_kind", NoConfig, capabilities={Capability.READ})]

    @hookimpl
    def secretstores_authenticate(self, store: Any) -> Session:
        self.calls.append("authenticate")
        return Session(client=None)

    @hookimpl
    def secretstores_read(self, store: Any, identifier: str) -> FetchResult:
        self.calls.append(f"read {identifier}")
        return FetchResult.found(f"value of {identifier}")


def test_a_plugin_answering_every_store_cannot_take_over_others(
    make_stores: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROUTED", "the real value")
    greedy = Greedy()
    plugins = Plugins()
    plugins.register(greedy, name="greedy")  # registered last: pluggy calls it first
    stores = make_stores({"defaultStores": True, "stores": [{"name": "g", "type": "greedy"}]},
                         plugins=plugins)
    stores.put("local", "mine", "local value")
    out = stores.render_string(
        "{{ secrets.env.ROUTED }}|{{ secrets.local.mine }}|{{ secrets.g.x }}")
    assert out == "the real value|local value|hijacked"
    assert "ROUTED" in stores.list_names("env")  # env's own listing
    assert "hijacked" not in stores.list_names("env") + stores.list_names("local")
    assert {name for _, name in greedy.calls} == {"g"}  # never called for env or local


def test_a_missing_capability_is_refused_before_any_call(make_stores: Any) -> None:
    kind = ReadOnly()
    plugins = Plugins()
    plugins.register(kind, name="readonly_kind")
    stores = make_stores({"stores": [{"name": "r", "type": "readonly_kind"}],
                          "defaultStores": False}, plugins=plugins)
    with pytest.raises(UnsupportedOperationError,
                       match="stores of type 'readonly_kind' do not have the 'list' capability"):
        stores.list_names("r")
    with pytest.raises(ReadOnlyStoreError, match="cannot write"):
        stores.put("r", "x", CANARY)
    with pytest.raises(ReadOnlyStoreError, match="cannot write"):
        stores.delete("r", "x")
    assert kind.calls == []  # nothing was called, not even authenticate
    assert "authenticated" in stores.check("r")  # no check hook: authentication only
    assert stores.get("r", "k") == "value of k"


def test_a_refused_write_on_the_cli_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"stores": [{"name": "e", "type": "env"}], "defaultStores": false}')
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "-c", str(config),
                             "put", "e", "x"], input="v", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("secretstores: error: store 'e': cannot store a secret: "
                                    "the store is read-only")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("capabilities", "hooks", "problem"), [
    ({"read", "list"}, ("secretstores_read",),
     "declares capability 'list' but the plugin does not implement secretstores_list_names"),
    ({"write"}, ("secretstores_store",), "declares neither 'read' nor 'batch_read'"),
    ({"batch_read"}, ("secretstores_read",),
     "declares capability 'batch_read' but the plugin does not implement secretstores_fetch"),
])
def test_unusable_store_types_are_refused(capabilities: set[str], hooks: tuple[str, ...],
                                          problem: str) -> None:
    namespace: dict[str, Any] = {
        "secretstores_store_types": hookimpl(lambda: [StoreType("odd", NoConfig,
                                                                capabilities=capabilities)]),
        "secretstores_authenticate": hookimpl(lambda store: Session(client=None)),
    }
    for hook in hooks:
        namespace[hook] = hookimpl(lambda **kwargs: None)
    plugin = type("Odd", (), {k: staticmethod(v) for k, v in namespace.items()})()
    plugins = Plugins(load_entrypoints=False)
    with pytest.raises(PluginError, match=problem):
        plugins.register(plugin, name="odd")
    assert not plugins.pm.has_plugin("odd")  # nothing half-registered
    assert "odd" not in plugins.store_types()


def test_an_unusable_installed_plugin_is_reported_and_skipped(
    install_distribution: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tag = uuid.uuid4().hex[:8]
    install_distribution(f"ss-nolist-{tag}", {f"nolist_{tag}": f"nolist_{tag}"}, {
        f"nolist_{tag}": (
            "import attrs\nfrom secretstores import StoreType, hookimpl\n\n"
            "@attrs.frozen\nclass C:\n    pass\n\n"
            "@hookimpl\ndef secretstores_store_types():\n"
            "    return [StoreType('nolist', C, capabilities={'read', 'list'})]\n\n"
            "@hookimpl\ndef secretstores_authenticate(store):\n    return None\n\n"
            "@hookimpl\ndef secretstores_read(store, client, identifier):\n    return None\n")})
    caplog.set_level(logging.WARNING)
    plugins = Plugins()
    failed = {f.name: f.error for f in plugins.failed}
    assert "does not implement secretstores_list_names" in failed[f"nolist_{tag}"]
    assert "nolist" not in plugins.store_types()
    assert {"db", "env", "toy"} <= set(plugins.store_types())  # the others still load


class Observer:
    """Records every event; the events must never carry a value."""

    def __init__(self) -> None:
        self.events: list[StoreEvent] = []

    @hookimpl
    def secretstores_event(self, event: StoreEvent) -> None:
        self.events.append(event)


def test_events_describe_every_operation_and_never_a_value(
    make_stores: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SEEN_VAR", CANARY)
    stores = make_stores({"stores": [
        {"name": "e", "type": "env", "configuration": {"allow": ["SEEN_*"]}},
        {"name": "d", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/e.db"}}],
        "defaultStores": False})
    with record_events(stores.plugins) as recorder:
        stores.put("d", "written", CANARY + "-db")
        assert stores.get("d", "written") == CANARY + "-db"  # from the store
        assert stores.get("d", "written") == CANARY + "-db"  # from the memory tier
        assert stores.render_string("{{ secrets.d.written }}") == CANARY + "-db"
        stores.fetch("e", ["SEEN_VAR", "NOT_ALLOWED", "SEEN_MISSING"])
        stores.list_names("d")
        assert stores.delete("d", "written") is True
        stores.check("d")
    events = recorder.events
    operations = [(e.store, e.operation) for e in events]
    assert ("d", "authenticate") in operations and ("e", "authenticate") in operations
    for expected in [("d", "store"), ("d", "fetch"), ("e", "fetch"), ("d", "list"),
                     ("d", "delete"), ("d", "check")]:
        assert expected in operations
    fetched, *cached = [e for e in events if e.store == "d" and e.operation == "fetch"]
    assert fetched.cached == frozenset() and fetched.calls == 1
    assert len(cached) == 2  # get() and the render, both from the memory tier
    assert all(e.cached == frozenset({"written"}) and e.calls == 0 for e in cached)
    [env_fetch] = [e for e in events if e.store == "e" and e.operation == "fetch"]
    assert env_fetch.outcomes == {"SEEN_VAR": Status.FOUND, "NOT_ALLOWED": Status.DENIED,
                                  "SEEN_MISSING": Status.NOT_FOUND}
    assert env_fetch.calls == 1 and env_fetch.duration >= 0 and env_fetch.started > 0
    assert all(e.type in ("env", "db") for e in events)
    for event in events:
        assert CANARY not in repr(event)


def test_a_failing_observer_never_breaks_an_operation(
    make_stores: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def secretstores_event(self, event: StoreEvent) -> None:
            raise RuntimeError(f"observer bug {CANARY}")

    monkeypatch.setenv("OBSERVED", "fine")
    caplog.set_level(logging.WARNING)
    stores = make_stores(None)
    broken = Broken()
    stores.plugins.register(broken)
    try:
        assert stores.render_string("{{ secrets.env.OBSERVED }}") == "fine"
    finally:
        stores.plugins.unregister(broken)
    assert "secretstores_event implementation failed (plugin" in caplog.text
    assert "RuntimeError" in caplog.text
    assert CANARY not in caplog.text


# -- configuration field helpers ---------------------------------------------------------


def _must_be_known(_: Any, attribute: Any, value: str) -> None:
    if value not in ("file", "memory"):
        raise ValueError("expected 'file' or 'memory'")


@attrs.frozen
class HelperConfig:
    name: str = required_field("name")
    backend: str = optional_field("backend", default="file", validator=_must_be_known)
    port: int = optional_field("port", type=int, default=8200)
    ratio: float = optional_field("ratio", type=float, default=1.0)
    key: str | dict[str, Any] | None = optional_field("key", type=(str, dict), secret=True)


@pytest.mark.parametrize(("configuration", "problem"), [
    ({"name": "x", "backend": 5}, "configuration.backend: expected a string, got a number"),
    ({"name": ""}, "configuration.name: must not be empty"),
    ({"name": "   "}, "configuration.name: must not be empty"),
    ({"name": "x", "backend": "disk"}, "configuration.backend: expected 'file' or 'memory'"),
    ({"name": "x", "port": "8200"}, "configuration.port: expected a whole number, got a string"),
    ({"name": "x", "port": True}, "configuration.port: expected a whole number, got a boolean"),
    ({"name": "x", "ratio": float("nan")}, "configuration.ratio: expected a number, got a number"),
    ({"name": "x", "key": [CANARY]},
     "configuration.key: expected a string or an object, got an array"),
])
def test_field_helpers_keep_their_checks(configuration: dict[str, Any], problem: str) -> None:
    from secretstores.config.fields import structure

    instance, problems = structure(HelperConfig, configuration, "configuration")
    assert instance is None
    assert problems == [problem]
    assert CANARY not in " ".join(problems)


def test_field_helpers_accept_good_values_and_null_means_default() -> None:
    from secretstores.config.fields import structure

    instance, problems = structure(
        HelperConfig, {"name": "x", "backend": None, "port": 1, "ratio": 2,
                       "key": {"type": "service_account"}}, "configuration")
    assert problems == []
    assert (instance.backend, instance.port, instance.ratio) == ("file", 1, 2)
    assert "service_account" not in repr(instance)  # secret: kept out of the repr


def test_read_only_false_on_a_type_that_cannot_write_is_an_error(make_stores: Any) -> None:
    with pytest.raises(ConfigError, match="readOnly is false, but stores of type 'env' "
                                          "cannot write"):
        make_stores({"stores": [{"name": "e", "type": "env", "readOnly": False}]})


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("timeout", 0, "timeout: expected a number of seconds greater than 0"),
    ("deadline", float("inf"), "deadline: expected a number of seconds greater than 0"),
    ("retries", -1, "retries: expected a whole number from 0 to 1000"),
    ("concurrency", 0, "concurrency: expected a whole number from 1 to 1000"),
    ("concurrency", 2.5, "concurrency: expected a whole number from 1 to 1000"),
])
def test_store_mechanics_fields_are_validated(make_stores: Any, field: str, value: Any,
                                              problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        make_stores({"stores": [{"name": "e", "type": "env", field: value}]})


def test_store_mechanics_reach_the_hooks(make_stores: Any) -> None:
    stores = make_stores({"stores": [{"name": "e", "type": "env", "timeout": 2.5,
                                      "deadline": 7, "retries": 0, "concurrency": 3}]})
    spec = stores.stores["e"]
    assert (spec.timeout, spec.deadline, spec.retries, spec.concurrency) == (2.5, 7.0, 0, 3)
    assert stores.runtime("e").lane.limit == 3


def test_plugins_command_shows_capabilities() -> None:
    result = subprocess.run([sys.executable, "-m", "secretstores.cli", "plugins"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "store type db: batch_read, check, delete, list, write (read-write)" in result.stdout
    assert "store type env: batch_read, list (read-only)" in result.stdout
    assert ("store type toy: check, delete, list, read, write "
            "(read-only unless readOnly: false)") in result.stdout
    assert get_plugins().store_types()["toy"][0].read_only_by_default
