"""Scenario 2: a warm render of 100 references over 5 stores, against plain Jinja2."""

from __future__ import annotations

import tempfile

import jinja2
from _util import report, side_by_side

STORES, PER_STORE = 5, 20


def make_stores(home: str):  # type: ignore[no-untyped-def]
    from secretstores import SecretStores

    config = {"defaultStores": False, "stores": [
        {"name": f"s{i}", "type": "db", "configuration": {"url": f"sqlite:///{home}/s{i}.db"}}
        for i in range(STORES)]}
    stores = SecretStores.from_dict(config)
    for i in range(STORES):
        for j in range(PER_STORE):
            stores.put(f"s{i}", f"k{j}", f"value-{i}-{j}")
    return stores


def template() -> str:
    return "\n".join(f"h{i}_{j}: {{{{ secrets.s{i}.k{j} }}}}"
                     for i in range(STORES) for j in range(PER_STORE))


def run(number: int = 2000) -> None:
    import os

    with tempfile.TemporaryDirectory() as home:
        os.environ["SECRETSTORES_HOME"] = home
        stores = make_stores(home)
        source = template()
        stores.render_string(source)  # warm the cache
        plain_source = "\n".join(f"h{i}_{j}: {{{{ v{i * PER_STORE + j} }}}}"
                                 for i in range(STORES) for j in range(PER_STORE))
        plain = jinja2.Environment().from_string(plain_source)
        context = {f"v{i * PER_STORE + j}": f"value-{i}-{j}"
                   for i in range(STORES) for j in range(PER_STORE)}
        inline = jinja2.Environment().from_string("\n".join(
            f"h{i}_{j}: value-{i}-{j}" for i in range(STORES) for j in range(PER_STORE)))
        ours, theirs = side_by_side(lambda: stores.render_string(source),
                                    lambda: plain.render(context), number=number)
        report("warm", "render 100 refs / 5 stores, all cached", ours * 1e6, theirs * 1e6, "us",
               comparison="plain Jinja2, 100 context variables", target="<= 2x",
               met=ours / theirs <= 2)
        _, inline_time = side_by_side(lambda: None, lambda: inline.render(), number=number)
        report("warm", "  (for reference: values written in as text)", inline_time * 1e6, None,
               "us")
        per_lookup = (ours - theirs) / (STORES * PER_STORE)
        report("warm", "cost per cached reference in a render", max(per_lookup, 0) * 1e6, None,
               "us")
        get_time, _ = side_by_side(lambda: stores.get("s1", "k3"), lambda: None, number=number * 10)
        report("warm", "SecretStores.get(), cached", get_time * 1e6, None, "us")
        stores.close()


if __name__ == "__main__":
    run()
