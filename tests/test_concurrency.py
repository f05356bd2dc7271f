"""One SecretStores shared by many threads renders correctly."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from secretstores.testing import count_fetch_calls

THREADS = 8


@pytest.mark.parametrize("ttl", [0, 60])
def test_eight_threads_share_one_instance(make_stores, tmp_path: Path, toy_file,
                                          monkeypatch: pytest.MonkeyPatch, ttl: int) -> None:
    monkeypatch.setenv("SHARED_ENV", "env-value")
    stores = make_stores({"cache": {"ttl": ttl}, "stores": [
        {"name": "db", "type": "db", "configuration": {"url": f"sqlite:///{tmp_path}/t.db"}},
        {"name": "toy", "type": "toy",
         "configuration": {"path": toy_file({f"t/{i}": f"toy-{i}" for i in range(THREADS)})}},
        {"name": "env", "type": "env"},
    ]})
    for i in range(THREADS):
        stores.put("db", f"k{i}", json.dumps({"user": f"u{i}", "n": i}))
    stores.invalidate()
    start = threading.Barrier(THREADS, timeout=30)

    def work(i: int) -> list[str]:
        start.wait()
        rendered = []
        for round_ in range(20):
            rendered.append(stores.render_string(
                "{{ i }}:{{ secrets.db['k' ~ i].user }}:{{ secrets.db.[k" + str(i) + "].n }}:"
                "{{ secrets.toy.[t/" + str(i) + "] }}:{{ secrets.env.SHARED_ENV }}:{{ r }}",
                context={"i": i, "r": round_}))
            rendered.append(stores.get("db", f"k{(i + round_) % THREADS}"))
        return rendered

    with count_fetch_calls(stores.plugins) as calls, ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    for i, rendered in enumerate(results):
        for round_ in range(20):
            assert rendered[2 * round_] == f"{i}:u{i}:{i}:toy-{i}:env-value:{round_}"
            j = (i + round_) % THREADS
            assert json.loads(rendered[2 * round_ + 1]) == {"user": f"u{j}", "n": j}
    if ttl:  # cached: far fewer fetches than renders
        assert len(calls) < THREADS * 20
