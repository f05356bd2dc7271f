"""Scenario 7: peak RSS rendering 1,000 references, against the same render with inline values."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

from _util import PYTHON, report

REFS = 1000
CHILD = """
import json, os, sys


def hwm():
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


mode, home, refs = sys.argv[1], sys.argv[2], int(sys.argv[3])
import jinja2
if mode == "ours":
    from secretstores import SecretStores
    stores = SecretStores.from_dict({"defaultStores": False, "stores": [
        {"name": "s", "type": "db", "configuration": {"url": f"sqlite:///{home}/s.db"}}]})
    for i in range(refs):
        stores.put("s", f"k{i}", f"value-{i:06d}-" + "x" * 40)
    source = "\\n".join(f"{{{{ secrets.s.k{i} }}}}" for i in range(refs))
    before = hwm()
    out = stores.render_string(source)
elif mode == "variables":
    context = {f"v{i}": f"value-{i:06d}-" + "x" * 40 for i in range(refs)}
    before = hwm()
    source = "\\n".join(f"{{{{ v{i} }}}}" for i in range(refs))
    out = jinja2.Environment().from_string(source).render(context)
else:
    before = hwm()
    source = "\\n".join(f"value-{i:06d}-" + "x" * 40 for i in range(refs))
    out = jinja2.Environment().from_string(source).render()
peak = hwm()
print(json.dumps({"peak_kib": peak, "growth_kib": peak - before, "chars": len(out)}))
"""


def _peak(mode: str) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run([PYTHON, "-c", CHILD, mode, home, str(REFS)], capture_output=True,
                             text=True, check=True,
                             env={**os.environ, "SECRETSTORES_HOME": home})
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def run() -> None:
    ours, inline = _peak("ours"), _peak("inline")
    report("memory", f"peak RSS of the process, {REFS} refs", ours["peak_kib"] / 1024,
           inline["peak_kib"] / 1024, "MiB",
           comparison="plain Jinja2, values inline (imports jinja2 only)")
    report("memory", "  of which the render itself added", ours["growth_kib"] / 1024,
           inline["growth_kib"] / 1024, "MiB", comparison="the same for the inline render")
    variables = _peak("variables")
    report("memory", "  (plain Jinja2, 1000 context variables, added)",
           variables["growth_kib"] / 1024, None, "MiB")


if __name__ == "__main__":
    run()
