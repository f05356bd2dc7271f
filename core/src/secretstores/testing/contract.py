"""Test classes that hold every store type to one behaviour."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from secretstores import (
    AccessDeniedError,
    ReadOnlyStoreError,
    SecretNotFoundError,
    SecretStoresError,
    Status,
    TemplateError,
    hookimpl,
)
from secretstores.api import SecretStores
from secretstores.cache import SecretCache
from secretstores.plugins import Plugins, get_plugins

#: A value no message, repr or log line may ever contain.
CANARY = "canary-5ecret-Zq8w-do-not-leak"


class StoreHarness:
    """What a provider's tests give the contract suite about one running store.

    Subclasses set :attr:`type` and :attr:`writable` and implement the methods
    marked below; identifiers given to :meth:`seed` are made of letters,
    digits and underscores, so every store type can hold them.
    """

    #: The store type under test.
    type: str = ""
    #: Whether the store type can write (``secretstores_store``).
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
        """An identifier the store holds but refuses to these credentials (None: untestable)."""
        return None

    def expire_credentials(self) -> bool:
        """Make the current session's credentials stop working at the server.

        Return False when the store type has nothing that expires.
        """
        return False


class _FetchCounter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    @hookimpl(wrapper=True)
    def secretstores_fetch(self, store: Any, identifiers: Any) -> Any:
        self.calls.append((store.name, list(identifiers)))
        return (yield)


@contextmanager
def count_fetch_calls(plugins: Plugins | None = None) -> Iterator[list[tuple[str, list[str]]]]:
    """Record every ``secretstores_fetch`` call as ``(store name, identifiers)``."""
    plugins = plugins or get_plugins()
    counter = _FetchCounter()
    plugins.pm.register(counter)
    try:
        yield counter.calls
    finally:
        plugins.pm.unregister(counter)


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
        made: list[SecretStores] = []

        def make(**options: Any) -> SecretStores:
            definition = dict(harness.definition(), name=self.STORE, **options)
            cache = SecretCache(tmp_path / f"cache{len(made)}", key_file=tmp_path / "cache.key")
            stores = SecretStores.from_dict(
                {"stores": [definition], "defaultStores": False}, cache=cache
            )
            made.append(stores)
            return stores

        yield make
        for stores in made:
            stores.close()

    @pytest.fixture
    def stores(self, make_stores: Any) -> SecretStores:
        return make_stores()  # type: ignore[no-any-return]

    # -- discovery --------------------------------------------------------------

    def test_store_type_is_registered(self, harness: StoreHarness) -> None:
        assert harness.type in get_plugins().store_types()

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

    def test_batch_fetch_is_one_call(self, harness: StoreHarness, stores: SecretStores) -> None:
        names = [_unique() for _ in range(5)]
        for i, name in enumerate(names):
            harness.seed(name, f"v{i}")
        missing = harness.missing_identifier()
        template = "\n".join(
            f"{{{{ secrets.{self.STORE}.[{n}] }}}}" for n in [*names, names[0]]
        ) + f"\n{{{{ secrets.{self.STORE}.[{missing}] | default('none') }}}}"
        with count_fetch_calls(stores.plugins) as calls:
            rendered = stores.render_string(template)
        assert rendered.splitlines() == ["v0", "v1", "v2", "v3", "v4", "v0", "none"]
        assert len(calls) == 1
        assert sorted(calls[0][1]) == sorted([*names, missing])

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

    # -- writing ----------------------------------------------------------------

    def test_store_and_read_back(self, harness: StoreHarness, stores: SecretStores) -> None:
        if not harness.writable:
            pytest.skip("read-only store type")
        name = _unique()
        stores.put(self.STORE, name, "first")
        assert stores.get(self.STORE, name) == "first"
        stores.put(self.STORE, name, "second")  # the cached "first" must not survive
        assert stores.get(self.STORE, name) == "second"
        assert name in stores.list_names(self.STORE)
        assert stores.delete(self.STORE, name) is True
        with pytest.raises(SecretNotFoundError):
            stores.get(self.STORE, name)

    def test_read_only_refuses(self, harness: StoreHarness, make_stores: Any) -> None:
        stores = make_stores(readOnly=True) if harness.writable else make_stores()
        with pytest.raises(ReadOnlyStoreError) as info:
            stores.put(self.STORE, _unique(), CANARY)
        assert CANARY not in str(info.value)

    # -- secrecy ----------------------------------------------------------------

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
        result = stores.fetch(self.STORE, [plain])[plain]
        messages += [repr(result), repr(stores), repr(stores.stores[self.STORE])]
        messages.append(caplog.text)
        for message in messages:
            assert CANARY not in message
