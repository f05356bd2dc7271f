"""What a parsed template does with ``secrets``, found before rendering.

:func:`analyze` walks the syntax tree with Jinja2's scoping in mind. Only the
global ``secrets`` is bound to the stores: where a template binds the name
itself (a macro or call-block parameter, a loop variable, ``{% set %}``,
``{% with %}``, an import, a macro called ``secrets``), the scope that binds it
is left alone and resolved by Jinja2 at run time. A ``secrets.STORE.KEY``
written out where the global is meant is a static :class:`Reference`; a bare
or partial ``secrets`` (``{% set s = secrets %}``, ``secrets.aws[name]``) makes
the template *dynamic*: those lookups happen when reached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import attrs
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

#: Nodes that open a scope of their own in Jinja2: names bound inside stay inside.
_SCOPES = (nodes.Macro, nodes.CallBlock, nodes.For, nodes.With, nodes.Block, nodes.Scope,
           nodes.OverlayScope, nodes.FilterBlock)


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


@attrs.frozen
class Analysis:
    """What :func:`analyze` found.

    ``references`` are the static references in template order; ``nodes`` maps
    each one's ``secrets.STORE.KEY`` node (by ``id``) to its (store, key), for
    :func:`bind_references`; ``dynamic`` says lookups through the ``secrets``
    namespace may happen at run time; ``literals`` holds every name and constant
    the source spells out (error messages may show these, nothing else).
    """

    references: tuple[Reference, ...]
    nodes: dict[int, tuple[str, str]]
    dynamic: bool
    literals: frozenset[object]


def _unwind(node: nodes.Node) -> tuple[nodes.Node, list[str | None], list[nodes.Node]]:
    """For a Getattr/Getitem chain: its root, its parts (None where computed), and the
    chain's node for each part (outermost last)."""
    parts: list[str | None] = []
    chain: list[nodes.Node] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        chain.append(node)
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.append(None)
        node = node.node
    parts.reverse()
    chain.reverse()
    return node, parts, chain


def _names(target: nodes.Node) -> Iterable[str]:
    """The names a binding target binds (``a``, ``a, b``, ``(a, (b, c))``)."""
    if isinstance(target, nodes.Name):
        yield target.name
    elif isinstance(target, nodes.Tuple):
        for item in target.items:
            yield from _names(item)


def _own_bindings(scope: nodes.Node) -> Iterable[str]:
    """The names a scope node binds for its own body (parameters, loop targets)."""
    if isinstance(scope, nodes.For):
        yield from _names(scope.target)
    elif isinstance(scope, nodes.Macro | nodes.CallBlock):
        for arg in scope.args:
            yield arg.name
    elif isinstance(scope, nodes.With):
        for target in scope.targets:
            yield from _names(target)


def _body_binds(node: nodes.Node, root: str) -> bool:
    """Whether statements directly in ``node``'s scope (nested scopes aside) bind ``root``."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Macro) and child.name == root:
            return True
        if isinstance(child, nodes.Assign | nodes.AssignBlock) and root in _names(child.target):
            return True
        if isinstance(child, nodes.Import) and child.target == root:
            return True
        if isinstance(child, nodes.FromImport) and any(
                (item[1] if isinstance(item, tuple) else item) == root for item in child.names):
            return True
        if not isinstance(child, _SCOPES) and _body_binds(child, root):
            return True
    return False


def _shadows(scope: nodes.Node, root: str) -> bool:
    """Whether a scope (the template, a macro, a loop...) binds ``root`` anywhere in it."""
    return root in _own_bindings(scope) or _body_binds(scope, root)


class _Walker:
    def __init__(self, root: str) -> None:
        self.root = root
        self.references: list[Reference] = []
        self.nodes: dict[int, tuple[str, str]] = {}
        self.dynamic = False
        self.literals: set[object] = set()

    def walk(self, node: nodes.Node, shadowed: bool) -> None:
        if isinstance(node, _SCOPES) and not shadowed:
            shadowed = _shadows(node, self.root)
        self._literal(node)
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            base, parts, chain = _unwind(node)
            if isinstance(base, nodes.Name) and base.name == self.root and base.ctx == "load":
                self._chain(parts, chain, base, shadowed)
            elif chain:
                self.walk(base, shadowed)
            for link in chain:  # each link once: a long chain costs its length
                self._literal(link)
                if isinstance(link, nodes.Getitem):
                    self.walk(link.arg, shadowed)
            return
        for child in node.iter_child_nodes():
            self.walk(child, shadowed)

    def _chain(self, parts: list[str | None], chain: list[nodes.Node], base: nodes.Name,
               shadowed: bool) -> None:
        if shadowed or not parts or parts[0] is None or len(parts) < 2 or parts[1] is None:
            # a local ``secrets``, or the global used whole or with a computed part:
            # resolved through the namespace when reached
            self.dynamic = True
            if not shadowed and parts and parts[0] is not None and len(parts) >= 2:
                self.references.append(Reference(parts[0], None, (), base.lineno))
            return
        static: list[str] = []
        for item in parts:
            if item is None:
                break
            static.append(item)
        store, key = static[0], static[1]
        self.references.append(Reference(store, key, tuple(static[2:]), base.lineno))
        self.nodes[id(chain[1])] = (store, key)

    def _literal(self, node: nodes.Node) -> None:
        """Names and keys the source spells out where a name or a key is expected: a
        variable, ``.attr``, ``[\"key\"]``, ``| attr("name")``, ``attribute="name"``.
        (Other constants are not: a key computed to equal one would show its text.)"""
        if isinstance(node, nodes.Name):
            self.literals.add(node.name)
        elif isinstance(node, nodes.Getattr):
            self.literals.add(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            if isinstance(node.arg.value, str | int) and not isinstance(node.arg.value, bool):
                self.literals.add(node.arg.value)
        elif isinstance(node, nodes.Keyword):
            self.literals.add(node.key)
            if node.key == "attribute" and isinstance(node.value, nodes.Const):
                self.literals.add(node.value.value)
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args \
                and isinstance(node.args[0], nodes.Const):
            self.literals.add(node.args[0].value)


def analyze(ast: nodes.Template, root: str = "secrets") -> Analysis:
    """Find the static references, whether the template is dynamic, and its literals."""
    walker = _Walker(root)
    walker.walk(ast, _shadows(ast, root))
    return Analysis(tuple(walker.references), walker.nodes, walker.dynamic,
                    frozenset(walker.literals))


def collect_references(ast: nodes.Template, root: str = "secrets") -> list[Reference]:
    """Every static reference under the global ``root`` in a parsed template, in order."""
    return list(analyze(ast, root).references)


#: The prefix of the variables references compile into: templates may not use it.
RESERVED_PREFIX = "__secretstores_"


def slot_variable(store: str, key: str) -> str:
    """The template variable a static ``secrets.STORE.KEY`` is compiled into."""
    digest = hashlib.blake2b(f"{store}\0{key}".encode(), digest_size=8).hexdigest()
    return f"{RESERVED_PREFIX}{digest}"


class _Binder(NodeTransformer):
    """Replaces each static ``secrets.STORE.KEY`` node with a plain variable lookup."""

    def __init__(self, targets: dict[int, str]) -> None:
        self.targets = targets

    def _visit_chain(self, node: nodes.Getattr | nodes.Getitem) -> nodes.Node:
        variable = self.targets.get(id(node))
        if variable is not None:
            return nodes.Name(variable, "load", lineno=node.lineno)
        return self.generic_visit(node)  # type: ignore[no-any-return]

    visit_Getattr = _visit_chain
    visit_Getitem = _visit_chain


def bind_references(ast: nodes.Template, analysis: Analysis,
                    variable: Callable[[str, str], str | None]) -> nodes.Template:
    """Compile static references into variables, in place.

    Rendering then reads each secret as fast as a plain variable; the values are
    filled in beforehand, in one batch per store. ``variable(store, key)`` names
    the variable of each reference (None leaves it to the namespace).
    """
    targets = {}
    for node_id, (store, key) in analysis.nodes.items():
        name = variable(store, key)
        if name is not None:
            targets[node_id] = name
    return _Binder(targets).visit(ast)  # type: ignore[no-any-return]
