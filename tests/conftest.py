"""Fixtures for the core's behaviour tests (the repository's conftest isolates each test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from secretstores.api import SecretStores


@pytest.fixture
def make_stores() -> Iterator[Callable[..., SecretStores]]:
    """``make_stores(data, **options)``: SecretStores.from_dict, closed after the test."""
    made: list[SecretStores] = []

    def make(data: Any = None, **options: Any) -> SecretStores:
        stores = SecretStores.from_dict(data, **options)
        made.append(stores)
        return stores

    yield make
    for stores in made:
        stores.close()


@pytest.fixture
def toy_file(tmp_path: Path) -> Callable[..., str]:
    """``toy_file(data, name=...)``: write the JSON file a ``toy`` store reads; its path."""

    def write(data: dict[str, Any], name: str = "toy.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(code, env=None)``: run code in a fresh interpreter; fail on error."""

    def run(code: str, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env={**os.environ, **(env or {})},
            capture_output=True, text=True, timeout=120,
        )
        if check and result.returncode != 0:
            pytest.fail(f"subprocess failed ({result.returncode}):\n{result.stderr}")
        return result

    return run


@pytest.fixture
def install_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``install_distribution(dist, entries, modules)``: a distribution with entry points in
    the ``secretstores`` group, written the way pip installs one (modules and a
    ``*.dist-info``) on a ``sys.path`` entry of this test only."""
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
        site.mkdir(parents=True, exist_ok=True)
        info = site / f"{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entries.items())
        (info / "entry_points.txt").write_text(f"[secretstores]\n{lines}\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(source)

    return install
