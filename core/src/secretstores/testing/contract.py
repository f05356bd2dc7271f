"""Test classes that hold every store type to one behaviour."""

from __future__ import annotations

import json
import os
import select
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from secretstores import (
    AccessDeniedError,
    Capability,
    ReadOnlyStoreError,
    SecretNotFoundError,
    SecretStoresError,
    Status,
    StoreError,
    StoreEvent,
    TemplateError,
    UnsupportedOperationError,
    hookimpl,
)
from secretstores.api import SecretStores
from secretstores.cache import SecretCache
from secretstores.plugins import Plugins, get_plugins
from secretstores.testing.faults import BlackHole, closed_port
from secretstores.testing.leaks import error_templates, exception_texts, leaked_forms

#: A value no message, repr or log line may ever contain.
CANARY = "canary-5ecret-Zq8w-do-not-leak"
#: A JSON object secret's values, for the canary tests that drill into one.
INNER_CANARIES: dict[str, Any] = {"pw": "canary-inner-Hh3k-never", "n": "918273645",
                                  "list": ["canary-item-Pq4z-never"]}


class StoreHarness:
    """What a provider's tests give the contract suite about one running store.

    Subclasses set :attr:`type` and :attr:`writable` and implement
    :meth:`definition` and :meth:`seed`; every other method has a default that
    makes the tests needing it skip (each says which). Identifiers given to
    :meth:`seed` are made of letters, digits and underscores, so every store
    type can hold them.
    """

    #: The store type under test.
    type: str = ""
    #: Whether the store type can write (the write, delete and read-only tests run).
    writable: bool = False

    def definition(self) -> dict[str, Any]:
        """The store's definition without its name: ``{"type", "configuration"}``."""
        raise NotImplementedError

    def seed(self, identifier: str, value: str) -> None:
        """Create secret ``identifier`` with ``value`` in the store, through its SDK."""
        raise NotImplementedError

    def missing_identifier(self) -> str:
        """An identifier the store certainly does not hold."""
        return f"ss_missing_{uuid.uuid4().hex[:12]}"

    def denied_identifier(self) -> str | None:
        """An identifier the store holds but refuses to these credentials (None: skip)."""
        return None

    def expire_credentials(self) -> bool:
        """Make the current session's credentials stop working at the server.

        Return False when the store type has nothing that expires (skip).
        """
        return False

    def unresponsive_definition(self, address: str) -> dict[str, Any] | None:
        """The definition with the store's server at ``address`` (``127.0.0.1:PORT``).

        The suite puts a server there that accepts connections and never
        answers (:class:`~secretstores.testing.faults.BlackHole`), or nothing
        at all (refused connections). None: the store has no address (skip).
        """
        return None

    def fail_next(self, count: int, *, throttle: bool = False) -> bool:
        """Make the next ``count`` requests to the store fail transiently (a 503, an
        UNAVAILABLE), or with throttling and a short retry-after when ``throttle``.

        Return False when the harness cannot (skip). A
        :class:`~secretstores.testing.faults.FaultProxy` in front of the server
        does it for HTTP stores.
        """
        return False

    def misconfigured_definitions(self) -> dict[str, dict[str, Any]]:
        """Definitions that are wrong in a way the store's answers reveal, by label.

        For example a mount that does not exist, an engine of another kind, an
        address whose server answers a plain 404. Each must make reads
        "unavailable: misconfigured ..." (never "not found") and the check fail.
        """
        return {}

    def rejected_credentials_definition(self) -> dict[str, Any] | None:
        """The definition with credentials the store rejects (None: skip)."""
        return None


class _FetchRecorder:
    """A plugin that records the store fetches events report."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.events: list[StoreEvent] = []
        self._lock = threading.Lock()

    @hookimpl
    def secretstores_event(self, event: StoreEvent) -> None:
        with self._lock:
            self.events.append(event)
            if event.operation == "fetch":
                fetched = [i for i in event.identifiers if i not in event.cached]
                if fetched:
                    self.calls.append((event.store, fetched))


@contextmanager
def count_fetch_calls(plugins: Plugins | None = None) -> Iterator[list[tuple[str, list[str]]]]:
    """Record every fetch that asked a store (not only the cache) as ``(store, identifiers)``.

    One entry per fetch operation: a render asks each store once, whether the
    type reads in batches or the core fans single reads out.
    """
    with record_events(plugins) as recorder:
        yield recorder.calls


@contextmanager
def record_events(plugins: Plugins | None = None) -> Iterator[_FetchRecorder]:
    """Record every :class:`~secretstores.model.StoreEvent`: ``.events``, and ``.calls``
    as :func:`count_fetch_calls` gives them."""
    plugins = plugins or get_plugins()
    recorder = _FetchRecorder()
    plugins.register(recorder)
    try:
        yield recorder
    finally:
        plugins.unregister(recorder)


def _unique(base: str = "ss_contract") -> str:
    return f"{base}_{uuid.uuid4().hex[:10]}"


class StoreContract:
    """Tests every store type passes. Subclass it and provide a ``harness`` fixture."""

    STORE = "under_test"

    @pytest.fixture
    def harness(self) -> StoreHarness:
        raise NotImplementedError("provide a 'harness' fixture returning a StoreHarness")

    @pytest.fixture
    def make_stores(self, harness: StoreHarness, tmp_path: Path) -> Iterator[Any]:
        """``make_stores(definition=None, **store_fields)``: a SecretStores with the store."""
        made: list[SecretStores] = []

        def make(definition: dict[str, Any] | None = None, **options: Any) -> SecretStores:
            store = dict(definition or harness.definition(), name=self.STORE, **options)
            cache = SecretCache(tmp_path / f"cache{len(made)}", key_file=tmp_path / "cache.key")
            stores = SecretStores.from_dict({"stores": [store], "defaultStores": False},
                                            cache=cache)
            made.append(stores)
            return stores

        yield make
        for stores in made:
            stores.close()

    @pytest.fixture
    def stores(self, make_stores: Any) -> SecretStores:
        return make_stores()  # type: ignore[no-any-return]

    @pytest.fixture
    def writer(self, harness: StoreHarness, make_stores: Any) -> SecretStores:
        """The store, allowed to write (skips for read-only types)."""
        if not harness.writable:
            pytest.skip("read-only store type")
        return make_stores(readOnly=False)  # type: ignore[no-any-return]

    # -- discovery --------------------------------------------------------------

    def test_store_type_is_registered(self, harness: StoreHarness) -> None:
        plugins = get_plugins()
        assert harness.type in plugins.store_types(), (
            f"no loaded plugin declares '{harness.type}'; plugins that failed to load: "
            f"{[(f.name, f.error) for f in plugins.failed]}")
        store_type = plugins.store_types()[harness.type][0]
        assert store_type.capabilities & {Capability.READ, Capability.BATCH_READ}
        assert store_type.writable is harness.writable

    # -- reading ----------------------------------------------------------------

    def test_fetch_found(self, harness: StoreHarness, stores: SecretStores) -> None:
        name, value = _unique(), f"value-{uuid.uuid4().hex}"
        harness.seed(name, value)
        assert stores.get(self.STORE, name) == value

    def test_fetch_not_found(self, harness: StoreHarness, stores: SecretStores) -> None:
        missing = harness.missing_identifier()
        result = stores.fetch(self.STORE, [missing])[missing]
        assert result.status is Status.NOT_FOUND
        with pytest.raises(SecretNotFoundError):
            stores.get(self.STORE, missing)
        template = f"{{{{ secrets.{self.STORE}.[{missing}] | default('fallback') }}}}"
        assert stores.render_string(template) == "fallback"

    def test_fetch_denied(self, harness: StoreHarness, stores: SecretStores) -> None:
        denied = harness.denied_identifier()
        if denied is None:
            pytest.skip("this store type has no way to deny one secret")
        assert stores.fetch(self.STORE, [denied])[denied].status is Status.DENIED
        with pytest.raises(AccessDeniedError):
            stores.get(self.STORE, denied)
        # `default` covers "not found" only, never "denied"
        with pytest.raises(TemplateError, match="denied"):
            stores.render_string(f"{{{{ secrets.{self.STORE}.[{denied}] | default('x') }}}}")

    def test_batch_is_one_fetch_per_render(self, harness: StoreHarness,
                                           stores: SecretStores) -> None:
        names = [_unique() for _ in range(5)]
        for i, name in enumerate(names):
            harness.seed(name, f"v{i}")
        missing = harness.missing_identifier()
        template = "\n".join(
            f"{{{{ secrets.{self.STORE}.[{n}] }}}}" for n in [*names, names[0]]
        ) + f"\n{{{{ secrets.{self.STORE}.[{missing}] | default('none') }}}}"
        with record_events(stores.plugins) as recorder:
            rendered = stores.render_string(template)
        assert rendered.splitlines() == ["v0", "v1", "v2", "v3", "v4", "v0", "none"]
        assert len(recorder.calls) == 1
        assert sorted(recorder.calls[0][1]) == sorted([*names, missing])
        [event] = [e for e in recorder.events if e.operation == "fetch"]
        assert event.outcomes[missing] is Status.NOT_FOUND
        assert all(event.outcomes[n] is Status.FOUND for n in names)
        store_type = stores.runtime(self.STORE).store_type
        if not store_type.can(Capability.BATCH_READ):
            assert event.calls == len(names) + 1  # fanned out: one read per identifier

    def test_json_drill_down(self, harness: StoreHarness, stores: SecretStores) -> None:
        name = _unique()
        harness.seed(name, json.dumps({"username": "admin", "password": "pw-1", "port": 5432}))
        out = stores.render_string(
            f"{{{{ secrets.{self.STORE}.[{name}].username }}}}:"
            f"{{{{ secrets.{self.STORE}.[{name}]['password'] }}}}:"
            f"{{{{ secrets.{self.STORE}.[{name}].port }}}}"
        )
        assert out == "admin:pw-1:5432"

    def test_mapping(self, harness: StoreHarness, make_stores: Any) -> None:
        name = _unique()
        harness.seed(name, "mapped-value")
        stores = make_stores(
            mappings=[{"name": "friendly", "secretIdentifier": name}], allowDirectAccess=False
        )
        assert stores.render_string(f"{{{{ secrets.{self.STORE}.friendly }}}}") == "mapped-value"
        with pytest.raises(TemplateError, match="not a mapping"):
            stores.render_string(f"{{{{ secrets.{self.STORE}.[{name}] }}}}")

    def test_cached_within_ttl(self, harness: StoreHarness, make_stores: Any) -> None:
        name = _unique()
        harness.seed(name, "cached")
        stores = make_stores()
        with count_fetch_calls(stores.plugins) as calls:
            assert stores.get(self.STORE, name) == "cached"
            assert stores.get(self.STORE, name) == "cached"
        assert len(calls) == 1
        uncached = make_stores(cacheTtl=0)
        with count_fetch_calls(uncached.plugins) as calls:
            uncached.get(self.STORE, name)
            uncached.get(self.STORE, name)
        assert len(calls) == 2

    def test_reauthenticates(self, harness: StoreHarness, stores: SecretStores) -> None:
        name = _unique()
        harness.seed(name, "before")
        assert stores.get(self.STORE, name) == "before"
        if not harness.expire_credentials():
            pytest.skip("this store type has no credentials that expire")
        stores.invalidate(self.STORE)
        assert stores.get(self.STORE, name) == "before"

    def test_list_names(self, harness: StoreHarness, stores: SecretStores) -> None:
        if not stores.runtime(self.STORE).store_type.can(Capability.LIST):
            with pytest.raises(UnsupportedOperationError, match="'list' capability"):
                stores.list_names(self.STORE)
            return
        names = {_unique() for _ in range(3)}
        for name in names:
            harness.seed(name, "listed")
        assert names <= set(stores.list_names(self.STORE))

    def test_forked_child_reads(self, harness: StoreHarness, stores: SecretStores) -> None:
        """A child forked after the parent used the store authenticates again and reads."""
        name = _unique()
        harness.seed(name, "from-the-child")
        assert stores.get(self.STORE, name) == "from-the-child"
        stores.invalidate()
        assert run_in_fork(lambda: stores.get(self.STORE, name)) == "from-the-child"

    # -- failures -----------------------------------------------------------------

    def test_check_passes(self, stores: SecretStores) -> None:
        assert isinstance(stores.check(self.STORE), str)

    def test_unresponsive_store_fails_within_its_deadline(
        self, harness: StoreHarness, make_stores: Any
    ) -> None:
        with BlackHole() as hole:
            definition = harness.unresponsive_definition(hole.address)
            if definition is None:
                pytest.skip("this store type has no address")
            stores = make_stores(definition, timeout=0.5, deadline=1.5)
            missing = harness.missing_identifier()
            started = time.monotonic()
            result = stores.fetch(self.STORE, [missing])[missing]
            elapsed = time.monotonic() - started
            with pytest.raises(StoreError):
                stores.check(self.STORE)
        assert result.status is Status.UNAVAILABLE
        assert "timed out" in result.message or "timeout" in result.message.lower()
        # The deadline holds whatever the SDK's own timeouts are (30 s and more by default).
        assert elapsed < 1.5 + 3.0, f"took {elapsed:.1f} s against a 1.5 s deadline"
        # ... and the provider gave its SDK the store's timeout: the hung requests end
        # soon after (a provider ignoring it leaves threads blocked for the SDK's default).
        lane = stores.runtime(self.STORE).lane
        waited = time.monotonic()
        while lane.running and time.monotonic() - waited < 0.5 + 5.0:
            time.sleep(0.05)
        assert lane.running == 0, (
            "requests to an unresponsive store were still running 5 s after their 0.5 s "
            "timeout: give store.timeout to the SDK (connect and read)")
        with pytest.raises(TemplateError, match="unavailable"):
            stores.render_string(f"{{{{ secrets.{self.STORE}.[{missing}] | default('x') }}}}")

    def test_unreachable_store_fails_check(self, harness: StoreHarness, make_stores: Any) -> None:
        definition = harness.unresponsive_definition(f"127.0.0.1:{closed_port()}")
        if definition is None:
            pytest.skip("this store type has no address")
        stores = make_stores(definition, retries=1)
        with pytest.raises(StoreError) as info:
            stores.check(self.STORE)
        assert CANARY not in str(info.value)
        missing = harness.missing_identifier()
        assert stores.fetch(self.STORE, [missing])[missing].status is Status.UNAVAILABLE

    def test_transient_failures_are_retried(self, harness: StoreHarness,
                                            stores: SecretStores) -> None:
        name = _unique()
        harness.seed(name, "after-retries")
        stores.check(self.STORE)  # logged in: the failures hit the read
        if not harness.fail_next(2):
            pytest.skip("the harness cannot make the store fail transiently")
        with record_events(stores.plugins) as recorder:
            assert stores.get(self.STORE, name) == "after-retries"
        [event] = [e for e in recorder.events if e.operation == "fetch"]
        assert event.retries == 2

    def test_throttling_is_retried(self, harness: StoreHarness, stores: SecretStores) -> None:
        name = _unique()
        harness.seed(name, "after-throttling")
        stores.check(self.STORE)
        if not harness.fail_next(1, throttle=True):
            pytest.skip("the harness cannot make the store throttle")
        with record_events(stores.plugins) as recorder:
            assert stores.get(self.STORE, name) == "after-throttling"
        [event] = [e for e in recorder.events if e.operation == "fetch"]
        assert event.retries == 1

    def test_retries_are_bounded(self, harness: StoreHarness, make_stores: Any) -> None:
        name = _unique()
        harness.seed(name, "never-seen")
        stores = make_stores(retries=2)
        stores.check(self.STORE)
        if not harness.fail_next(50):
            pytest.skip("the harness cannot make the store fail transiently")
        with record_events(stores.plugins) as recorder:
            result = stores.fetch(self.STORE, [name])[name]
        assert result.status is Status.UNAVAILABLE and "after 2 retries" in result.message
        [event] = [e for e in recorder.events if e.operation == "fetch"]
        assert event.retries == 2
        with pytest.raises(TemplateError, match="unavailable"):
            stores.render_string(f"{{{{ secrets.{self.STORE}.[{name}] | default('x') }}}}")

    def test_misconfiguration_is_not_not_found(self, harness: StoreHarness,
                                               make_stores: Any) -> None:
        definitions = harness.misconfigured_definitions()
        if not definitions:
            pytest.skip("the harness has no misconfigured definitions")
        for label, definition in definitions.items():
            stores = make_stores(definition, retries=0)
            missing = harness.missing_identifier()
            result = stores.fetch(self.STORE, [missing])[missing]
            assert result.status is Status.UNAVAILABLE, label
            assert result.message.startswith("misconfigured"), (label, result.message)
            with pytest.raises(TemplateError, match="misconfigured"):
                stores.render_string(
                    f"{{{{ secrets.{self.STORE}.[{missing}] | default('hidden') }}}}")
            with pytest.raises(StoreError):
                stores.check(self.STORE)

    def test_rejected_credentials(self, harness: StoreHarness, make_stores: Any) -> None:
        definition = harness.rejected_credentials_definition()
        if definition is None:
            pytest.skip("the harness has no credentials the store rejects")
        stores = make_stores(definition, retries=0)
        with pytest.raises(StoreError) as info:
            stores.check(self.STORE)
        assert CANARY not in str(info.value)
        missing = harness.missing_identifier()
        assert stores.fetch(self.STORE, [missing])[missing].status is not Status.NOT_FOUND

    # -- writing ----------------------------------------------------------------

    def test_store_and_read_back(self, writer: SecretStores) -> None:
        name = _unique()
        writer.put(self.STORE, name, "first")
        assert writer.get(self.STORE, name) == "first"
        writer.put(self.STORE, name, "second")  # the cached "first" must not survive
        assert writer.get(self.STORE, name) == "second"

    def test_delete(self, writer: SecretStores) -> None:
        store_type = writer.runtime(self.STORE).store_type
        name = _unique()
        writer.put(self.STORE, name, "to-delete")
        if not store_type.can(Capability.DELETE):
            with pytest.raises(UnsupportedOperationError, match="'delete' capability"):
                writer.delete(self.STORE, name)
            return
        assert writer.get(self.STORE, name) == "to-delete"
        assert writer.delete(self.STORE, name) is True
        with pytest.raises(SecretNotFoundError):
            writer.get(self.STORE, name)
        assert writer.delete(self.STORE, name) is False
        # (A listing may still name it: Vault's soft delete keeps the metadata.)

    def test_read_only_by_default(self, harness: StoreHarness, stores: SecretStores) -> None:
        """A store in the gateway document's shape is a read-only source (but ``db``)."""
        store_type = stores.runtime(self.STORE).store_type
        if store_type.writable and not store_type.read_only_by_default:
            name = _unique()
            stores.put(self.STORE, name, "written")
            assert stores.get(self.STORE, name) == "written"
            return
        with pytest.raises(ReadOnlyStoreError) as info:
            stores.put(self.STORE, _unique(), CANARY)
        assert CANARY not in str(info.value)
        if harness.writable:
            assert '"readOnly": false' in str(info.value)

    def test_read_only_true_refuses(self, harness: StoreHarness, make_stores: Any) -> None:
        if not harness.writable:
            pytest.skip("read-only store type")
        stores = make_stores(readOnly=True)
        with pytest.raises(ReadOnlyStoreError) as info:
            stores.put(self.STORE, _unique(), CANARY)
        assert CANARY not in str(info.value)

    # -- secrecy ----------------------------------------------------------------

    def test_template_errors_never_hold_values(self, harness: StoreHarness,
                                               stores: SecretStores) -> None:
        """Every template of :data:`~secretstores.testing.leaks.ERROR_TEMPLATES` fails,
        and its error holds no value: whole, drilled into or transformed."""
        plain, obj = _unique(), _unique()
        harness.seed(plain, CANARY)
        harness.seed(obj, json.dumps(INNER_CANARIES))
        canaries = [CANARY, INNER_CANARIES["pw"], INNER_CANARIES["n"], *INNER_CANARIES["list"]]
        for template in error_templates(self.STORE, plain, obj):
            with pytest.raises(SecretStoresError) as info:
                stores.render_string(template)
            for text in exception_texts(info.value):
                assert not leaked_forms(text, canaries), (template, text)

    def test_no_value_in_errors_or_reprs(
        self, harness: StoreHarness, stores: SecretStores, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("DEBUG")
        plain, nested = _unique(), _unique()
        harness.seed(plain, CANARY)
        harness.seed(nested, json.dumps({"inner": CANARY}))
        messages: list[str] = []
        for template in (
            f"{{{{ secrets.{self.STORE}.[{plain}].key }}}}",
            f"{{{{ secrets.{self.STORE}.[{nested}].missing }}}}",
            f"{{{{ secrets.{self.STORE}.[{plain}] + 1 }}}}",
            f"{{{{ secrets.{self.STORE}.[{plain}] ~ no_such_variable }}}}",
            f"{{{{ secrets.{self.STORE}.[{plain}] }}}}{{{{ secrets.nowhere.x }}}}",
        ):
            with pytest.raises(SecretStoresError) as info:
                stores.render_string(template)
            messages.append(str(info.value))
        printed = stores.render_string(f"{{{{ secrets.{self.STORE}.[{plain}] | pprint }}}}")
        messages.append(printed)
        with record_events(stores.plugins) as recorder:
            stores.invalidate()
            result = stores.fetch(self.STORE, [plain])[plain]
        messages += [repr(result), repr(stores), repr(stores.stores[self.STORE])]
        messages += [repr(event) for event in recorder.events]
        messages.append(caplog.text)
        for message in messages:
            assert CANARY not in message


def run_in_fork(work: Any, timeout: float = 60.0) -> Any:
    """Run ``work()`` in a forked child; return what it returned (JSON), or fail.

    The child writes its result to a pipe and ends with ``os._exit``, so nothing
    of the parent's test run happens twice.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        try:
            payload = json.dumps({"ok": work()})
        except BaseException as exc:  # reported to the parent, never raised here
            payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        with os.fdopen(write_end, "w") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    with os.fdopen(read_end) as pipe:
        ready, _, _ = select.select([pipe], [], [], timeout)
        data = pipe.read() if ready else ""
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail(f"the forked child did not finish within {timeout:g} s (it hung)")
    if not data:
        pytest.fail("the forked child gave no answer (it hung or crashed)")
    answer = json.loads(data)
    if "error" in answer:
        pytest.fail(f"the forked child failed: {answer['error']}")
    return answer["ok"]
