"""Scenario 1: start-up time, and no provider SDK loaded until a store is used."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile

from _util import PYTHON, process_time, report

SDKS = ("boto3", "botocore", "hvac", "google.cloud", "azure", "infisical_client")
CHECK = """
import json, sys, os
import secretstores
after_import = [m for m in {sdks!r} if m in sys.modules]
from secretstores import SecretStores
stores = SecretStores.from_dict(None)
stores.put("local", "k", "v")
stores.render_string("{{{{ secrets.local.k }}}}")
after_render = [m for m in {sdks!r} if m in sys.modules]
print(json.dumps([after_import, after_render]))
"""


def run(rounds: int = 15) -> None:
    script = os.path.join(os.path.dirname(PYTHON), "secretstores")
    ours_import, base_import, ours_version = [], [], []
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        ours_import.append(process_time([PYTHON, "-c", "import secretstores"]))
        base_import.append(process_time([PYTHON, "-c", "import jinja2, pluggy, attrs, diskcache"]))
        ours_version.append(process_time([script, "--version"]))
    ours, base = statistics.median(ours_import), statistics.median(base_import)
    report("start-up", "python -c 'import secretstores'", ours * 1000, base * 1000, "ms",
           comparison="import jinja2, pluggy, attrs, diskcache", target="<= 1.3x",
           met=ours / base <= 1.3)
    version = statistics.median(ours_version)
    report("start-up", "secretstores --version", version * 1000, base * 1000, "ms",
           comparison="import jinja2, pluggy, attrs, diskcache", target="<= 1.3x",
           met=version / base <= 1.3)
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run([PYTHON, "-c", CHECK.format(sdks=SDKS)], capture_output=True,
                             text=True, check=True, env={**os.environ, "SECRETSTORES_HOME": home})
    after_import, after_render = json.loads(out.stdout)
    loaded = sorted(set(after_import) | set(after_render))
    report("start-up", "provider SDKs in sys.modules (import+render)", len(loaded), None,
           "count", comparison=", ".join(loaded) or "none", target="0", met=not loaded)


if __name__ == "__main__":
    run()
