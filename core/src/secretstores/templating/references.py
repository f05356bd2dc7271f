"""Collecting a template's ``secrets`` references from its syntax tree, before rendering."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import attrs
from jinja2 import nodes
from jinja2.visitor import NodeTransformer


@attrs.frozen
class Reference:
    """One static ``secrets.STORE.KEY[.drill...]`` use in a template.

    ``key`` is a mapping name or a raw identifier; ``path`` holds the JSON keys
    drilled into after it; ``lineno`` is the template line.
    """

    store: str
    key: str | None
    path: tuple[str, ...] = ()
    lineno: int = 0

    def __str__(self) -> str:
        text = f"secrets.{self.store}"
        if self.key is not None:
            text += f".{self.key}" if self.key.isidentifier() else f".[{self.key}]"
        for part in self.path:
            text += f".{part}" if part.isidentifier() else f"[{part!r}]"
        return text


def _unwind(node: nodes.Node) -> tuple[str | None, list[str | None]]:
    """For a Getattr/Getitem chain, its root name and its parts (None where dynamic)."""
    parts: list[str | None] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.append(None)
        node = node.node
    parts.reverse()
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return node.name, parts
    return None, parts


def _walk(node: nodes.Node, root: str) -> Iterator[Reference]:
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        name, parts = _unwind(node)
        if name == root and parts and parts[0] is not None:
            static: list[str] = []
            for part in parts:
                if part is None:
                    break
                static.append(part)
            key = static[1] if len(static) > 1 else None
            yield Reference(static[0], key, tuple(static[2:]), node.lineno)
            # dynamic subscripts inside the chain may hold references too
            inner: nodes.Node = node
            while isinstance(inner, nodes.Getattr | nodes.Getitem):
                if isinstance(inner, nodes.Getitem):
                    yield from _walk(inner.arg, root)
                inner = inner.node
            return
    for child in node.iter_child_nodes():
        yield from _walk(child, root)


def collect_references(ast: nodes.Template, root: str = "secrets") -> list[Reference]:
    """Every static reference under the global ``root`` in a parsed template, in order."""
    return list(_walk(ast, root))


def slot_variable(store: str, key: str) -> str:
    """The template variable a static ``secrets.STORE.KEY`` is compiled into."""
    digest = hashlib.blake2b(f"{store}\0{key}".encode(), digest_size=8).hexdigest()
    return f"__secretstores_{digest}"


class _Binder(NodeTransformer):
    """Replaces each static ``secrets.STORE.KEY`` with a plain variable lookup."""

    def __init__(self, root: str, accept: Callable[[str, str], bool]) -> None:
        self.root = root
        self.accept = accept

    def _visit_chain(self, node: nodes.Getattr | nodes.Getitem) -> nodes.Node:
        name, parts = _unwind(node)
        if (name == self.root and len(parts) == 2 and parts[0] is not None
                and parts[1] is not None and self.accept(parts[0], parts[1])):
            return nodes.Name(slot_variable(parts[0], parts[1]), "load", lineno=node.lineno)
        return self.generic_visit(node)  # type: ignore[no-any-return]

    visit_Getattr = _visit_chain
    visit_Getitem = _visit_chain


def bind_references(ast: nodes.Template, accept: Callable[[str, str], bool],
                    root: str = "secrets") -> nodes.Template:
    """Compile static references into variables (see :func:`slot_variable`), in place.

    Rendering then reads each secret as fast as a plain variable; the values
    are fetched beforehand, in one batch per store. ``accept(store, key)``
    says which references to bind (those that resolve).
    """
    return _Binder(root, accept).visit(ast)  # type: ignore[no-any-return]
