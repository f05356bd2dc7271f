"""The docs follow the code: every hook has a section whose signature matches its spec."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from secretstores import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"
HOOKS = sorted(
    name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("secretstores_")
)


def _signature(name: str) -> str:
    signature = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
        for p in signature.parameters.values()
    )
    return f"{name}({params}) -> {signature.return_annotation}"


def _sections() -> dict[str, str]:
    text = (DOCS / "hooks.md").read_text()
    return {m.group(1): m.group(0).removeprefix("### ").strip()
            for m in re.finditer(r"^### (secretstores_\w+)\(.*$", text, re.M)}


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 6


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_with_its_signature(hook: str) -> None:
    sections = _sections()
    assert hook in sections, f"docs/hooks.md has no section for {hook}"
    assert sections[hook] == _signature(hook)


def test_no_section_for_a_hook_that_does_not_exist() -> None:
    assert set(_sections()) <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_spec_documents_every_parameter(hook: str) -> None:
    function = getattr(hookspecs, hook)
    doc = inspect.getdoc(function) or ""
    for parameter in inspect.signature(function).parameters:
        assert f":param {parameter}:" in doc, f"{hook} does not document {parameter}"
    assert ":return:" in doc


def test_every_cli_command_is_documented() -> None:
    from secretstores.cli import main

    text = (DOCS / "cli.md").read_text()
    for name in main.commands:
        assert f"secretstores {name}" in text, f"docs/cli.md does not describe '{name}'"
