"""The mechanics the core owns for every provider: fan-out over shared workers with
per-store limits, batches split by size, retries with backoff and retry-after, deadlines,
single-flight logins with back-off, and fork safety.

The stores here are small plugins whose hooks block, fail or count on purpose; the
core under test is the real one. Waits on events carry generous upper bounds only so a
broken build fails instead of hanging; nothing here measures speed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest

from secretstores import (
    AuthenticationError,
    FetchResult,
    Session,
    Status,
    StoreType,
    StoreUnavailableError,
    TemplateError,
    ThrottledError,
    TransientError,
    Unauthorized,
    hookimpl,
)
from secretstores.api import SecretStores
from secretstores.config import required_field
from secretstores.plugins import Plugins
from secretstores.testing import record_events
from secretstores.testing.contract import run_in_fork

#: The most any wait below may take before the test is declared hung.
HANG = 30.0


@attrs.frozen
class NoConfig:
    """A store type without configuration fields."""


class Scripted:
    """A store type whose hooks do what the test says, and count what happens."""

    def __init__(self, *, capabilities: set[str] | None = None, batch_size: int | None = None,
                 read: Callable[[str], FetchResult] | None = None,
                 fetch: Callable[[list[str]], dict[str, FetchResult]] | None = None,
                 login: Callable[[], Session] | None = None,
                 write: Callable[[str, str, str], bool] | None = None) -> None:
        self.type = f"scripted_{uuid.uuid4().hex[:8]}"
        self.capabilities = capabilities or {"read"}
        self.batch_size = batch_size
        self._read = read or (lambda identifier: FetchResult.found(f"value of {identifier}"))
        self._fetch = fetch
        self._login = login or (lambda: Session(client=object()))
        self._write = write or (lambda name, value, request_id: True)
        self.lock = threading.Lock()
        self.logins = 0
        self.reads: list[str] = []
        self.batches: list[list[str]] = []
        self.writes: list[tuple[str, str]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def _enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    @hookimpl
    def secretstores_store_types(self) -> list[StoreType]:
        return [StoreType(self.type, NoConfig, capabilities=self.capabilities,
                          batch_size=self.batch_size)]

    @hookimpl
    def secretstores_authenticate(self, store: Any) -> Session:
        with self.lock:
            self.logins += 1
        return self._login()

    @hookimpl
    def secretstores_read(self, store: Any, identifier: str) -> FetchResult:
        with self.lock:
            self.reads.append(identifier)
        self._enter()
        try:
            return self._read(identifier)
        finally:
            self._leave()

    @hookimpl
    def secretstores_fetch(self, store: Any, identifiers: Any) -> dict[str, FetchResult]:
        with self.lock:
            self.batches.append(list(identifiers))
        assert self._fetch is not None
        self._enter()
        try:
            return self._fetch(list(identifiers))
        finally:
            self._leave()

    @hookimpl
    def secretstores_store(self, store: Any, name: str, value: str, request_id: str) -> bool:
        with self.lock:
            self.writes.append((name, request_id))
        return self._write(name, value, request_id)


@pytest.fixture
def plugins() -> Plugins:
    return Plugins()


@pytest.fixture
def scripted(plugins: Plugins, make_stores: Any) -> Callable[..., tuple[Scripted, SecretStores]]:
    """``scripted(store_fields={}, others=[], **behaviour)``: one scripted store ``s``
    (plus the default stores), in a SecretStores of its own."""

    def make(store: dict[str, Any] | None = None, **behaviour: Any) -> tuple[Scripted,
                                                                            SecretStores]:
        plugin = Scripted(**behaviour)
        plugins.register(plugin)
        stores = make_stores({"defaultStores": True, "stores": [
            {"name": "s", "type": plugin.type, "cacheTtl": 0, **(store or {})}]},
            plugins=plugins)
        return plugin, stores

    return make


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event hung hooks wait on; set when the test ends, so no thread stays stuck."""
    event = threading.Event()
    yield event
    event.set()


# -- a dead store does not hold up the others ---------------------------------------------


def test_a_hung_store_never_takes_the_workers_other_stores_need(
    scripted: Any, release: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 threads render templates using a store that never answers; a template using only
    ``local`` and ``env`` still renders at once (it took 29 s with one shared pool)."""
    monkeypatch.setenv("HEALTHY", "env-ok")

    def hang(identifier: str) -> FetchResult:
        release.wait(HANG)
        return FetchResult.found("late")

    plugin, stores = scripted({"deadline": HANG, "concurrency": 2}, read=hang)
    stores.put("local", "healthy", "local-ok")
    stuck = ThreadPoolExecutor(4)
    hung = [stuck.submit(stores.render_string,
                         f"{{{{ secrets.s.x{i} }}}}{{{{ secrets.env.HEALTHY }}}}")
            for i in range(4)]
    deadline = time.monotonic() + HANG
    while plugin.in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert plugin.in_flight == 2  # the store's own limit: two hung reads, the rest queued
    with ThreadPoolExecutor(1) as pool:
        healthy = pool.submit(stores.render_string,
                              "{{ secrets.local.healthy }} {{ secrets.env.HEALTHY }}")
        assert healthy.result(timeout=HANG) == "local-ok env-ok"
    assert not any(future.done() for future in hung)  # they were still stuck meanwhile
    assert plugin.most_in_flight == 2
    release.set()
    assert [f.result(timeout=HANG) for f in hung] == ["lateenv-ok"] * 4
    stuck.shutdown()


def test_a_store_that_never_answers_fails_within_its_deadline(
    scripted: Any, release: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTHER", "renders")

    def hang(identifier: str) -> FetchResult:
        release.wait(HANG)
        return FetchResult.found("too late")

    plugin, stores = scripted({"deadline": 0.5}, read=hang)
    result = stores.fetch("s", ["a"])["a"]
    assert plugin.in_flight == 1  # answered while the hung read still hangs
    assert result.status is Status.UNAVAILABLE
    assert result.message.startswith("timed out: no answer within the store's deadline of "
                                     "0.5 s (timeout 5 s per request; 1 request to it still "
                                     "in flight)")
    with pytest.raises(TemplateError, match=r"secrets\.s\.a: store unavailable: timed out"):
        stores.render_string("{{ secrets.s.a | default('hidden') }} {{ secrets.env.OTHER }}")
    assert stores.render_string("{{ secrets.env.OTHER }}") == "renders"


# -- fan-out and batches ------------------------------------------------------------------


def test_a_store_without_batches_is_read_in_parallel_one_identifier_per_call(
    scripted: Any, release: threading.Event
) -> None:
    gate = threading.Barrier(5, timeout=HANG)

    def together(identifier: str) -> FetchResult:
        gate.wait()  # only passes when five reads run at the same time
        return FetchResult.found(identifier.upper())

    plugin, stores = scripted(read=together)
    with record_events(stores.plugins) as recorder:
        out = stores.render_string("{{ secrets.s.a }}{{ secrets.s.b }}{{ secrets.s.c }}"
                                   "{{ secrets.s.d }}{{ secrets.s.e }}{{ secrets.s.a }}")
    assert out == "ABCDEA"
    assert sorted(plugin.reads) == ["a", "b", "c", "d", "e"]
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert event.calls == 5 and len(recorder.calls) == 1


def test_concurrency_limits_one_store(scripted: Any) -> None:
    def slow(identifier: str) -> FetchResult:
        time.sleep(0.02)
        return FetchResult.found(identifier)

    plugin, stores = scripted({"concurrency": 3}, read=slow)
    results = stores.fetch("s", [f"k{i}" for i in range(12)])
    assert all(r.status is Status.FOUND for r in results.values())
    assert plugin.most_in_flight == 3


def test_batches_are_split_by_the_types_batch_size(scripted: Any) -> None:
    plugin, stores = scripted(capabilities={"batch_read"}, batch_size=3,
                              fetch=lambda ids: {i: FetchResult.found(i * 2) for i in ids})
    results = stores.fetch("s", list("abcdefg"))
    assert {i: r.value for i, r in results.items()} == {i: i * 2 for i in "abcdefg"}
    assert sorted(len(batch) for batch in plugin.batches) == [1, 3, 3]
    assert sorted(i for batch in plugin.batches for i in batch) == list("abcdefg")


def test_identifiers_a_batch_leaves_out_are_read_alone(scripted: Any) -> None:
    plugin, stores = scripted(
        capabilities={"batch_read", "read"},
        fetch=lambda ids: {i: FetchResult.found(f"batch {i}") for i in ids if "@" not in i},
        read=lambda identifier: FetchResult.found(f"single {identifier}"))
    results = stores.fetch("s", ["a", "b@2", "c"])
    assert {i: r.value for i, r in results.items()} == {
        "a": "batch a", "b@2": "single b@2", "c": "batch c"}
    assert plugin.reads == ["b@2"]


def test_a_batch_type_without_read_reports_what_it_left_out(scripted: Any) -> None:
    _plugin, stores = scripted(capabilities={"batch_read"},
                              fetch=lambda ids: {i: FetchResult.found(i) for i in ids[:1]})
    results = stores.fetch("s", ["a", "b"])
    assert results["a"].status is Status.FOUND
    assert results["b"].status is Status.UNAVAILABLE
    assert "gave no answer" in results["b"].message


# -- retries ------------------------------------------------------------------------------


def _failing(times: int, error: Callable[[], Exception] | None = None,
             result: FetchResult | None = None) -> Callable[[str], FetchResult]:
    left = {"n": times}
    lock = threading.Lock()

    def read(identifier: str) -> FetchResult:
        with lock:
            failing = left["n"] > 0
            left["n"] -= 1
        if failing:
            if error is not None:
                raise error()
            assert result is not None
            return result
        return FetchResult.found("finally")

    return read


@pytest.mark.parametrize("failure", [
    {"error": lambda: TransientError("connection reset")},
    {"error": lambda: ThrottledError("slow down")},
    {"result": FetchResult.transient("503")},
    {"result": FetchResult.throttled("429")},
])
def test_transient_failures_are_retried(scripted: Any, failure: dict[str, Any]) -> None:
    plugin, stores = scripted(read=_failing(2, **failure))
    with record_events(stores.plugins) as recorder:
        assert stores.get("s", "x") == "finally"
    assert len(plugin.reads) == 3
    [event] = [e for e in recorder.events if e.operation == "fetch"]
    assert (event.calls, event.retries) == (3, 2)


def test_retries_are_bounded_and_reported(scripted: Any) -> None:
    plugin, stores = scripted({"retries": 2},
                              read=_failing(10, lambda: TransientError("connection reset")))
    result = stores.fetch("s", ["x"])["x"]
    assert result.status is Status.UNAVAILABLE
    assert result.message == "connection reset (after 2 retries)"
    assert len(plugin.reads) == 3


def test_other_failures_are_not_retried(scripted: Any) -> None:
    plugin, stores = scripted(read=lambda identifier: FetchResult.unavailable("bad request"))
    assert stores.fetch("s", ["x"])["x"].message == "bad request"
    assert len(plugin.reads) == 1


def test_retry_after_is_honoured(scripted: Any) -> None:
    _plugin, stores = scripted(
        read=_failing(1, result=FetchResult.throttled("429", retry_after=0.4)))
    started = time.monotonic()
    assert stores.get("s", "x") == "finally"
    assert time.monotonic() - started >= 0.4  # waited at least what the store asked


def test_a_retry_after_past_the_deadline_fails_at_once(scripted: Any) -> None:
    plugin, stores = scripted({"deadline": 30},
                              read=_failing(1, lambda: ThrottledError("429", retry_after=60)))
    result = stores.fetch("s", ["x"])["x"]
    assert result.status is Status.UNAVAILABLE and "429" in result.message
    assert len(plugin.reads) == 1  # no second attempt: the wait asked for is past the deadline


def test_batch_identifiers_answered_transient_are_retried_alone(scripted: Any) -> None:
    calls: list[list[str]] = []

    def fetch(ids: list[str]) -> dict[str, FetchResult]:
        calls.append(ids)
        if len(calls) == 1:
            return {"a": FetchResult.found("A"), "b": FetchResult.throttled("busy")}
        return {i: FetchResult.found(i.upper()) for i in ids}

    _plugin, stores = scripted(capabilities={"batch_read"}, fetch=fetch)
    results = stores.fetch("s", ["a", "b"])
    assert {i: r.value for i, r in results.items()} == {"a": "A", "b": "B"}
    assert calls == [["a", "b"], ["b"]]


def test_writes_are_retried_with_the_same_request_id(scripted: Any) -> None:
    attempts = {"n": 0}

    def write(name: str, value: str, request_id: str) -> bool:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise TransientError("the answer was lost")
        return True

    plugin, stores = scripted({"readOnly": False}, capabilities={"read", "write"}, write=write)
    stores.put("s", "k", "v")
    stores.put("s", "k", "v2")
    (first, id1), (again, id2), (second, id3) = plugin.writes
    assert first == again == second == "k"
    assert id1 == id2 != id3  # one id per write, the same on its retry


# -- logins -------------------------------------------------------------------------------


def test_concurrent_first_use_logs_in_once(scripted: Any) -> None:
    def slow_login() -> Session:
        time.sleep(0.2)
        return Session(client=object())

    plugin, stores = scripted(login=slow_login)
    start = threading.Barrier(8, timeout=HANG)

    def use(i: int) -> str:
        start.wait()
        return stores.get("s", f"k{i}")

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(use, range(8))) == [f"value of k{i}" for i in range(8)]
    assert plugin.logins == 1


def test_a_failing_login_is_tried_once_per_backoff_window(scripted: Any) -> None:
    """8 threads waiting on a login that takes 0.3 s and fails cause one attempt, and
    all 8 fail together; until the window ends, no other attempt is made."""

    def failing_login() -> Session:
        time.sleep(0.3)
        raise AuthenticationError("role 'app' was refused")

    plugin, stores = scripted(login=failing_login)
    start = threading.Barrier(8, timeout=HANG)

    def use(i: int) -> FetchResult:
        start.wait()
        return stores.fetch("s", [f"k{i}"])[f"k{i}"]

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(use, range(8)))
    assert plugin.logins == 1  # one attempt for all eight: nobody tried again in turn
    for result in outcomes:
        assert result.status is Status.UNAVAILABLE
        assert "role 'app' was refused" in result.message
    again = stores.fetch("s", ["k"])["k"]  # within the window: remembered, not retried
    assert plugin.logins == 1
    assert "the next attempt is allowed in" in again.message
    time.sleep(1.1)  # the first window is 1 s
    stores.fetch("s", ["k"])
    assert plugin.logins == 2


def test_unauthorized_logs_in_again_and_retries_once(scripted: Any) -> None:
    calls = {"n": 0}

    def read(identifier: str) -> FetchResult:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Unauthorized("token expired")
        return FetchResult.found("fresh")

    plugin, stores = scripted(read=read)
    assert stores.get("s", "x") == "fresh"
    assert plugin.logins == 2


def test_a_failed_renewal_keeps_the_session_that_still_works(scripted: Any) -> None:
    outcomes = iter([Session(client="first", expires_at=time.time() + 10, renew_before=30)])

    def login() -> Session:
        try:
            return next(outcomes)
        except StopIteration:
            raise AuthenticationError("the identity provider is down") from None

    plugin, stores = scripted(login=login)
    assert stores.get("s", "a") == "value of a"
    assert stores.get("s", "b") == "value of b"  # a 10 s token is not renewed at once ...
    assert plugin.logins == 1
    time.sleep(5.05)  # ... but after half its life
    assert stores.get("s", "c") == "value of c"  # renewal fails, the session still works
    assert plugin.logins == 2
    assert stores.get("s", "d") == "value of d"  # the failure is remembered: no new attempt
    assert plugin.logins == 2


def test_threads_keep_the_current_session_while_it_is_renewed(
    scripted: Any, release: threading.Event
) -> None:
    """Only the thread that renews waits; the others use the session that still works,
    and a renewal that fails fails none of them."""
    sessions = iter([Session(client="first", expires_at=time.time() + 10, renew_before=30)])
    renewing = threading.Event()

    def login() -> Session:
        try:
            return next(sessions)
        except StopIteration:
            renewing.set()
            release.wait(HANG)
            raise AuthenticationError("the identity provider is down") from None

    plugin, stores = scripted(login=login)
    assert stores.get("s", "warm") == "value of warm"
    time.sleep(5.05)  # due for renewal
    with ThreadPoolExecutor(1) as renewer:
        renewal = renewer.submit(stores.fetch, "s", ["x"])
        assert renewing.wait(HANG)
        results = stores.fetch("s", [f"k{i}" for i in range(8)])  # during the renewal
        assert all(r.status is Status.FOUND for r in results.values())
        release.set()
        assert renewal.result(timeout=HANG)["x"].status is Status.FOUND
    assert plugin.logins == 2


def test_a_store_refusing_even_a_fresh_session_is_not_logged_into_per_read(
    scripted: Any
) -> None:
    plugin, stores = scripted(read=lambda identifier: (_ for _ in ()).throw(
        Unauthorized("the token is not valid for this namespace")))
    results = stores.fetch("s", [f"k{i}" for i in range(20)])
    assert all(r.status is Status.UNAVAILABLE for r in results.values())
    assert "unauthorized even after authenticating again" in results["k0"].message
    assert plugin.logins <= 3  # not one per read (21 before)
    again = stores.fetch("s", ["k"])["k"]
    assert "the next attempt is allowed in" in again.message


def test_a_throttled_login_waits_as_long_as_the_store_asked(scripted: Any) -> None:
    def throttled() -> Session:
        raise ThrottledError("login rate limit", retry_after=60)

    plugin, stores = scripted({"retries": 0}, login=throttled)
    first = stores.fetch("s", ["a"])["a"]
    assert "login rate limit" in first.message
    for _ in range(3):
        stores.fetch("s", ["a"])
    assert plugin.logins == 1  # remembered for the 60 s asked, not 1 s


# -- writes that outlive their deadline ------------------------------------------------------


def test_a_write_finishing_after_its_deadline_drops_the_cache_again(
    scripted: Any, release: threading.Event
) -> None:
    values = {"k": "old"}

    def write(name: str, value: str, request_id: str) -> bool:
        release.wait(HANG)
        values[name] = value
        return True

    _plugin, stores = scripted(
        {"readOnly": False, "deadline": 0.3, "cacheTtl": 60, "retries": 0},
        capabilities={"read", "write"}, write=write,
        read=lambda identifier: FetchResult.found(values[identifier]))
    with pytest.raises(Exception, match="timed out"):
        stores.put("s", "k", "new")
    assert stores.get("s", "k") == "old"  # read (and cached) while the write is in flight
    release.set()
    deadline = time.monotonic() + HANG
    while values["k"] != "new" and time.monotonic() < deadline:
        time.sleep(0.01)
    deadline = time.monotonic() + HANG
    while stores.get("s", "k") != "new" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stores.get("s", "k") == "new"  # not the cached "old" for a whole TTL


# -- fork safety ----------------------------------------------------------------------------


def test_a_forked_child_renders_after_the_parent_did(
    make_stores: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """gunicorn --preload, celery prefork: the parent rendered with several stores (so
    worker threads and sessions exist); the child renders with none of them."""
    monkeypatch.setenv("FORKED", "env-value")
    stores = make_stores({"defaultStores": True, "stores": [
        {"name": "d", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/f.db"}}]})
    stores.put("d", "k", "db-value")
    template = ("{{ secrets.d.k }} {{ secrets.env.FORKED }} "
                "{{ secrets.local.missing | default('-') }}")
    for _ in range(3):
        stores.invalidate()
        assert stores.render_string(template) == "db-value env-value -"
    stores.invalidate()

    def child() -> list[str]:
        return [stores.render_string(template) for _ in range(2)]

    assert run_in_fork(child) == ["db-value env-value -"] * 2
    assert stores.render_string(template) == "db-value env-value -"  # the parent is fine


def test_a_child_forked_during_a_login_does_not_inherit_its_lock(
    scripted: Any, release: threading.Event
) -> None:
    entered = threading.Event()

    def login() -> Session:
        entered.set()
        release.wait(HANG)  # the parent's login is in progress while it forks
        return Session(client="parent")

    plugin, stores = scripted(login=login)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(stores.get, "s", "a")
        assert entered.wait(HANG)
        plugin._login = lambda: Session(client="child")  # the child's own login answers
        assert run_in_fork(lambda: stores.get("s", "b")) == "value of b"
        release.set()
        assert pending.result(timeout=HANG) == "value of a"


def test_sqlite_store_opened_by_many_stores_at_once(make_stores: Any, tmp_path: Path) -> None:
    """Several stores opening one new SQLite file at the same moment (``local`` and a DB
    ``manager`` do) all succeed: a busy file is retried, not reported."""
    url = f"sqlite:///{tmp_path}/shared.db"
    for _ in range(5):
        stores = make_stores({"defaultStores": False, "stores": [
            {"name": f"d{i}", "type": "db", "configuration": {"url": url}} for i in range(6)]})
        with ThreadPoolExecutor(6) as pool:
            notes = list(pool.map(stores.check, [f"d{i}" for i in range(6)]))
        assert all("table secretstores_secrets is readable" in n for n in notes)
        (tmp_path / "shared.db").unlink()
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"shared.db{suffix}").unlink(missing_ok=True)


# -- findings of the hostile review ------------------------------------------------------


def test_the_pool_starts_a_thread_for_work_after_hung_workers_took_the_bound() -> None:
    """A worker that idled out must not leave a stale promise behind: with the bound
    reached by hung tasks and one idle worker gone, new work still gets a thread."""
    from secretstores.runtime.workers import WorkerPool

    pool = WorkerPool(idle_timeout=0.2, min_workers=2)
    hang, ran = threading.Event(), threading.Event()
    try:
        pool.submit(lambda: hang.wait(HANG))  # one hung worker
        quick = threading.Event()
        pool.submit(quick.set)  # a second worker, idle afterwards, ending after 0.2 s
        assert quick.wait(HANG)
        deadline = time.monotonic() + HANG
        while pool.threads > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.threads == 1
        pool.submit(ran.set)
        assert ran.wait(HANG), "a task submitted below the bound never ran"
    finally:
        hang.set()


def test_every_store_keeps_its_share_when_many_stores_hang(
    scripted: Any, plugins: Plugins, make_stores: Any, release: threading.Event
) -> None:
    """More hung requests than the old fixed bound of threads, spread over many stores:
    a healthy store is still served at once (the bound grows with the lanes' limits)."""
    from secretstores.runtime.workers import MIN_WORKERS

    def hang(identifier: str) -> FetchResult:
        release.wait(HANG)
        return FetchResult.found("late")

    dead = [Scripted(read=hang) for _ in range(3)]
    for plugin in dead:
        plugins.register(plugin)
    per_store = MIN_WORKERS  # each dead store alone fills what the pool used to allow
    stores = make_stores({"defaultStores": False, "stores": [
        {"name": f"dead{i}", "type": p.type, "deadline": HANG, "concurrency": per_store,
         "cacheTtl": 0} for i, p in enumerate(dead)]}, plugins=plugins)
    hung = ThreadPoolExecutor(3)
    for i in range(3):
        hung.submit(stores.fetch, f"dead{i}", [f"k{j}" for j in range(per_store)])
    deadline = time.monotonic() + HANG
    while sum(p.in_flight for p in dead) < 3 * per_store and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sum(p.in_flight for p in dead) == 3 * per_store
    _, healthy_stores = scripted()
    assert healthy_stores.get("s", "x") == "value of x"
    release.set()
    hung.shutdown()


def test_provider_errors_of_any_kind_are_contained_and_redacted(
    plugins: Plugins, make_stores: Any
) -> None:
    """A ConfigError, or an error subclass with its own constructor, raised by a hook:
    every identifier is unavailable, the credential is redacted, nothing escapes raw."""
    from secretstores import ConfigError

    token = "s3cr3t-t0ken-value-123"
    secret = f"{token}-with-a-longer-refresh-part"

    class OddError(TransientError):
        def __init__(self, url: str, status: int) -> None:  # not (message, store=)
            self.url = url
            super().__init__(f"{url} answered {status}")

    @attrs.frozen
    class TokenConfig:
        token: str = required_field("token", secret=True)
        refresh: str = required_field("refresh", secret=True)

    outcomes: list[Callable[[], Any]] = [
        lambda: (_ for _ in ()).throw(ConfigError([f"token {token} malformed"])),
        lambda: (_ for _ in ()).throw(OddError(f"https://x/?t={token}", 503)),
        lambda: (_ for _ in ()).throw(RuntimeError(f"refresh {secret} refused")),
    ]
    for outcome in outcomes:
        plugin = Scripted(read=lambda identifier, outcome=outcome: outcome())
        original = plugin.secretstores_store_types

        @hookimpl
        def types(original: Any = original, plugin: Scripted = plugin) -> list[StoreType]:
            return [attrs.evolve(original()[0], config_class=TokenConfig)]

        plugin.secretstores_store_types = types  # type: ignore[method-assign]
        plugins.register(plugin)
        stores = make_stores({"defaultStores": False, "stores": [{
            "name": "s", "type": plugin.type, "retries": 1,
            "configuration": {"token": token, "refresh": secret}}]}, plugins=plugins)
        with record_events(plugins) as recorder:
            results = stores.fetch("s", ["a", "b"])
        for result in results.values():
            assert result.status is Status.UNAVAILABLE
            assert token not in result.message and "refresh-part" not in result.message
        assert all(token not in repr(e) for e in recorder.events)


def test_an_unhashable_observer_breaks_nothing(make_stores: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    @dataclasses.dataclass  # eq=True makes it unhashable
    class Audit:
        seen: list[str] = dataclasses.field(default_factory=list)

        @hookimpl
        def secretstores_event(self, event: Any) -> None:
            self.seen.append(event.operation)

    monkeypatch.setenv("HASHED", "ok")
    audit = Audit()
    stores = make_stores(None)
    stores.plugins.register(audit)
    try:
        assert stores.render_string("{{ secrets.env.HASHED }}") == "ok"
    finally:
        stores.plugins.unregister(audit)
    assert "fetch" in audit.seen


def test_one_failing_observer_does_not_hide_events_from_the_others(
    make_stores: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        @hookimpl
        def secretstores_event(self, event: Any) -> None:
            raise ValueError("observer bug")

    monkeypatch.setenv("OBSERVED", "ok")
    stores = make_stores(None)
    broken = Broken()
    with record_events(stores.plugins) as recorder:
        stores.plugins.register(broken)  # registered last: pluggy would call it first
        try:
            assert stores.render_string("{{ secrets.env.OBSERVED }}") == "ok"
        finally:
            stores.plugins.unregister(broken)
    assert [e.operation for e in recorder.events if e.store == "env"] == [
        "authenticate", "fetch"]


def test_a_read_begun_before_a_write_never_caches_the_old_value(scripted: Any) -> None:
    values = {"k": "old"}
    answered = threading.Event()
    written = threading.Event()

    def read(identifier: str) -> FetchResult:
        seen = values[identifier]  # the store answers with what it had then ...
        answered.set()
        written.wait(HANG)  # ... and the answer arrives after the write
        return FetchResult.found(seen)

    def write(name: str, value: str, request_id: str) -> bool:
        values[name] = value
        return True

    _, stores = scripted({"readOnly": False, "cacheTtl": 60},
                         capabilities={"read", "write"}, read=read, write=write)
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(stores.fetch, "s", ["k"])
        assert answered.wait(HANG)
        stores.put("s", "k", "new")
        written.set()
        assert reading.result(timeout=HANG)["k"].value == "old"  # it began before
    assert stores.get("s", "k") == "new"  # but "old" was not cached after the write


def test_closing_during_a_login_closes_the_session_it_makes(
    scripted: Any, release: threading.Event
) -> None:
    closed: list[str] = []
    entered = threading.Event()

    def login() -> Session:
        entered.set()
        release.wait(HANG)
        return Session(client="late", close=lambda: closed.append("late"))

    _, stores = scripted(login=login)
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(stores.fetch, "s", ["a"])
        assert entered.wait(HANG)
        stores.close()
        release.set()
        result = reading.result(timeout=HANG)["a"]
    assert result.status is Status.UNAVAILABLE and "closed during its login" in result.message
    assert closed == ["late"]
    assert stores.runtime("s").sessions.current is None


def test_a_check_that_returns_nothing_passes_and_one_that_fails_fails(scripted: Any,
                                                                       plugins: Plugins,
                                                                       make_stores: Any
                                                                       ) -> None:
    class Checked(Scripted):
        def __init__(self, outcome: Callable[[], str | None]) -> None:
            super().__init__(capabilities={"read", "check"})
            self.outcome = outcome

        @hookimpl
        def secretstores_check(self, store: Any) -> str | None:
            return self.outcome()

    def unhealthy() -> str:
        raise StoreUnavailableError("the health endpoint returned nothing (HTTP 502)")

    for outcome, expected in ((lambda: None, "ok"), (lambda: "fine", "fine")):
        plugin = Checked(outcome)
        plugins.register(plugin)
        stores = make_stores({"defaultStores": False,
                              "stores": [{"name": "c", "type": plugin.type}]}, plugins=plugins)
        assert stores.check("c") == expected
    plugin = Checked(unhealthy)
    plugins.register(plugin)
    stores = make_stores({"defaultStores": False, "stores": [{"name": "c", "type": plugin.type}]},
                         plugins=plugins)
    with pytest.raises(StoreUnavailableError, match=r"returned nothing \(HTTP 502\)"):
        stores.check("c")


def test_a_child_forked_while_another_thread_held_the_plugin_lock(
    make_stores: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKED", "ok")
    stores = make_stores(None)
    held, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with stores.plugins._lock, stores.cache._lock:
            held.set()
            leave.wait(HANG)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(HANG)
        assert run_in_fork(lambda: stores.render_string("{{ secrets.env.LOCKED }}")) == "ok"
    finally:
        leave.set()
        holder.join()


@pytest.mark.parametrize("quoting", ["json", "base64", "upper"])
def test_a_write_error_quoting_the_value_in_any_form_is_redacted(scripted: Any,
                                                                 quoting: str) -> None:
    """A provider whose error quotes the value being written, escaped or encoded: the
    same forms are hidden as in template errors (one redaction for both)."""
    import base64
    import json

    value = 'pa"ss\nword-7f3c9a'
    shown = {"json": json.dumps(value)[1:-1], "base64": base64.b64encode(value.encode()).decode(),
             "upper": value.upper()}[quoting]

    def write(name: str, written: str, request_id: str) -> bool:
        raise StoreUnavailableError(f"the store refused the body {shown}")

    _, stores = scripted(capabilities={"read", "write"}, store={"readOnly": False}, write=write)
    with pytest.raises(StoreUnavailableError) as info:
        stores.put("s", "k", value)
    assert shown not in str(info.value) and "<redacted>" in str(info.value)
