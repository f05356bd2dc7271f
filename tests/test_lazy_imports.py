"""``import secretstores`` stays light; provider SDKs are never imported for other stores."""

from __future__ import annotations

import json

PROVIDER_SDKS = ("boto3", "botocore", "hvac", "google.cloud", "azure", "infisical_client",
                 "infisical_sdk", "psycopg")

REPORT = """
import json, sys
def loaded(name):
    return any(m == name or m.startswith(name + ".") for m in sys.modules)
print(json.dumps({name: loaded(name) for name in %r}))
"""


def _loaded(run_python, code: str) -> dict[str, bool]:
    names = (*PROVIDER_SDKS, "jinja2", "cryptography", "diskcache", "sqlite3",
             "secretstores.api", "secretstores.cli")
    result = run_python(code + REPORT % (names,))
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_bare_import_is_light(run_python) -> None:
    loaded = _loaded(run_python, "import secretstores\nfrom secretstores import hookimpl\n")
    assert [name for name, is_loaded in loaded.items() if is_loaded] == []


def test_rendering_with_the_local_store_imports_no_sdk(run_python) -> None:
    loaded = _loaded(run_python, """
import secretstores
stores = secretstores.SecretStores.from_dict(None)
stores.put("local", "k", "v")
assert stores.render_string("{{ secrets.local.k }} {{ secrets.env.PATH | length > 0 }}") \\
    == "v True"
""")
    # every installed plugin was loaded (entry points), yet no provider SDK
    assert [name for name in PROVIDER_SDKS if loaded[name]] == []
    assert loaded["jinja2"] and loaded["cryptography"] and loaded["diskcache"]


def test_plugins_are_loaded_but_sdks_are_not(run_python) -> None:
    loaded = _loaded(run_python, """
from secretstores.plugins import get_plugins
plugins = get_plugins()
assert plugins.failed == [], plugins.failed
assert "toy" in plugins.store_types()
""")
    assert [name for name in PROVIDER_SDKS if loaded[name]] == []


def test_the_cli_starts_without_templates_or_configuration(run_python) -> None:
    # `secretstores --version` and `--help` load the commands, not what they use
    loaded = _loaded(run_python, "from secretstores.cli import main\n")
    heavy = [name for name in ("jinja2", "cryptography", "diskcache", "sqlite3",
                               "secretstores.api", *PROVIDER_SDKS) if loaded[name]]
    assert heavy == []
