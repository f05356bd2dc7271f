"""KV v2 behaviour against a real OpenBao: identifiers, versions, mounts, namespaces, CAS, lists."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from vaulttest_aws import VaultFront
from vaulttest_bao import BaoServer

from secretstores import AccessDeniedError, SecretNotFoundError, Status, WriteConflictError
from secretstores.testing.contract import CANARY, count_fetch_calls
from secretstores_vault import kv
from secretstores_vault.auth import new_client
from secretstores_vault.client import VaultClient
from secretstores_vault.config import VaultConfig


def app_token(bao: BaoServer) -> str:
    """A token with the ``app`` policy (read and write secret/ and kv2/)."""
    return str(bao.root().auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"])


def store(bao: BaoServer, address: str | None = None, **configuration: Any) -> dict[str, Any]:
    """A read-write ``v`` store definition with a token of the ``app`` policy."""
    return {"name": "v", "type": "hashicorp_vault", "cacheTtl": 0, "readOnly": False,
            "configuration": {"address": address or bao.address, "token": app_token(bao),
                              **configuration}}


def test_json_object_and_drill_down(bao: BaoServer, make_stores: Any, prefix: str) -> None:
    bao.seed(f"{prefix}/db", {"username": "admin", "password": "pw-1", "port": 5432})
    stores = make_stores({**store(bao), "mappings": [
        {"name": "db", "secretIdentifier": f"{prefix}/db"}]})
    assert json.loads(stores.get("v", f"{prefix}/db")) == {
        "username": "admin", "password": "pw-1", "port": 5432}
    template = (f"{{{{ secrets.v.[{prefix}/db].password }}}} {{{{ secrets.v.db.username }}}} "
                f"{{{{ secrets.v.[{prefix}/db#password] }}}} "
                f"{{{{ secrets.v.[{prefix}/db#port] }}}}")
    assert stores.render_string(template) == "pw-1 admin pw-1 5432"
    missing_key = stores.fetch("v", [f"{prefix}/db#nope"])[f"{prefix}/db#nope"]
    assert missing_key.status is Status.NOT_FOUND and "nope" in missing_key.message


def test_single_value_key_reads_as_plain_text(bao: BaoServer, make_stores: Any,
                                              prefix: str) -> None:
    bao.seed(f"{prefix}/plain", {"value": "just-text"})
    bao.seed(f"{prefix}/two", {"value": "a", "other": "b"})
    stores = make_stores(store(bao))
    assert stores.get("v", f"{prefix}/plain") == "just-text"
    assert json.loads(stores.get("v", f"{prefix}/two")) == {"value": "a", "other": "b"}


def test_put_stores_value_key(bao: BaoServer, make_stores: Any, prefix: str) -> None:
    stores = make_stores(store(bao, pathPrefix=prefix))
    stores.put("v", "api_key", "k-123")
    stored = bao.root().secrets.kv.v2.read_secret_version(path=f"{prefix}/api_key",
                                                          raise_on_deleted_version=True)
    assert stored["data"]["data"] == {"value": "k-123"}
    assert stores.get("v", "api_key") == "k-123"


def test_version_pinning(bao: BaoServer, make_stores: Any, prefix: str) -> None:
    for n in (1, 2, 3):
        bao.seed(f"{prefix}/cfg", {"value": f"v{n}"})
    stores = make_stores(store(bao))
    path = f"{prefix}/cfg"
    assert stores.get("v", f"{path}?version=1") == "v1"
    assert stores.get("v", f"{path}?version=2") == "v2"
    assert stores.get("v", path) == "v3"
    assert stores.render_string(f"{{{{ secrets.v.[{path}?version=2] }}}}") == "v2"
    with pytest.raises(SecretNotFoundError, match="version 9"):
        stores.get("v", f"{path}?version=9")
    bad = stores.fetch("v", [f"{path}?version=x"])[f"{path}?version=x"]
    assert bad.status is Status.UNAVAILABLE and "?version=N" in bad.message


def test_keys_and_versions_of_one_path(bao: BaoServer, front: VaultFront,
                                       make_stores: Any, prefix: str) -> None:
    bao.seed(f"{prefix}/cfg", {"user": "u", "password": "p"})
    bao.seed(f"{prefix}/cfg", {"user": "u2", "password": "p2"})
    stores = make_stores(store(bao, address=front.address))
    path = f"{prefix}/cfg"
    identifiers = [path, f"{path}#user", f"{path}#password", f"{path}?version=1",
                   f"{path}?version=1#user"]
    before = len(front.requests)
    with count_fetch_calls(stores.plugins) as calls:
        results = stores.fetch("v", identifiers)
    reads = [r for r in front.requests[before:] if "/secret/data/" in r[1]]
    assert len(calls) == 1
    # KV v2 has no batch read: at most one read per identifier (reads of one path that
    # overlap in time share a request, so often fewer)
    assert 2 <= len(reads) <= len(identifiers)
    assert json.loads(results[path].value or "") == {"user": "u2", "password": "p2"}
    assert results[f"{path}#user"].value == "u2"
    assert results[f"{path}#password"].value == "p2"
    assert json.loads(results[f"{path}?version=1"].value or "") == {"user": "u", "password": "p"}
    assert results[f"{path}?version=1#user"].value == "u"


def test_mount_path(bao: BaoServer, make_stores: Any, prefix: str) -> None:
    bao.seed(f"{prefix}/only-in-kv2", {"value": "from-kv2"}, mount="kv2")
    kv2 = make_stores(store(bao, mountPath="kv2", pathPrefix=prefix))
    assert kv2.get("v", "only-in-kv2") == "from-kv2"
    kv2.put("v", "written", "w")
    assert bao.root().secrets.kv.v2.read_secret_version(
        path=f"{prefix}/written", mount_point="kv2", raise_on_deleted_version=True,
    )["data"]["data"] == {"value": "w"}
    default = make_stores(store(bao, pathPrefix=prefix))
    assert default.fetch("v", ["only-in-kv2"])["only-in-kv2"].status is Status.NOT_FOUND


def test_namespace(bao: BaoServer, front: VaultFront, make_stores: Any) -> None:
    namespace = f"team{uuid.uuid4().hex[:8]}"
    root = bao.root()
    root.sys.create_namespace(path=namespace)
    inside = bao.root(namespace=namespace)
    inside.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    inside.secrets.kv.v2.create_or_update_secret(path="myapp/config", secret={"value": "ns"})
    stores = make_stores({"name": "v", "type": "hashicorp_vault", "configuration": {
        "address": front.address, "token": bao.root_token, "namespace": namespace}})
    before = len(front.namespaces)
    assert stores.get("v", "myapp/config") == "ns"
    assert front.namespaces[before:] == [namespace]  # the header reached the server
    outside = make_stores({"name": "v", "type": "hashicorp_vault", "configuration": {
        "address": bao.address, "token": bao.root_token}})
    assert outside.fetch("v", ["myapp/config"])["myapp/config"].status is Status.NOT_FOUND


def test_cas_stale_writer_conflicts(bao: BaoServer, prefix: str) -> None:
    # the constructor takes the JSON field names (attrs aliases)
    config = VaultConfig(**{"address": bao.address, "token": app_token(bao), "pathPrefix": prefix})
    first = VaultClient(new_client(config, config.token), config)
    second = VaultClient(new_client(config, config.token), config)
    kv.store(first, "shared", "v1")
    path = config.path_of("shared")
    seen = kv.current_version(first, path)  # writer 1 reads version 1 ...
    kv.store(second, "shared", "from-writer-2")  # ... writer 2 writes version 2
    with pytest.raises(WriteConflictError, match="check-and-set") as info:
        kv.write(first, path, {"value": "from-writer-1"}, cas=seen)
    assert "from-writer-1" not in str(info.value)
    assert kv.read(first, "shared").value == "from-writer-2"  # nothing was overwritten


def test_cas_concurrent_writers_lose_nothing(bao: BaoServer, make_stores: Any,
                                            prefix: str) -> None:
    writers = [make_stores(store(bao, pathPrefix=prefix)) for _ in range(6)]
    writers[0].put("v", "race", "initial")
    barrier = threading.Barrier(len(writers))
    won: list[str] = []
    conflicts: list[WriteConflictError] = []
    lock = threading.Lock()

    def write(index: int) -> None:
        barrier.wait()
        try:
            writers[index].put("v", "race", f"writer-{index}")
        except WriteConflictError as exc:
            with lock:
                conflicts.append(exc)
        else:
            with lock:
                won.append(f"writer-{index}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) + len(conflicts) == len(writers) and won
    metadata = bao.root().secrets.kv.v2.read_secret_metadata(path=f"{prefix}/race")["data"]
    assert metadata["current_version"] == 1 + len(won)  # every accepted write is a version
    assert writers[0].get("v", "race") in won
    for exc in conflicts:
        assert "write conflict" in str(exc) and "writer-" not in str(exc)


def test_list_and_delete(bao: BaoServer, make_stores: Any, prefix: str) -> None:
    stores = make_stores(store(bao, pathPrefix=prefix))
    for name in ("a", "b/c", "b/d/e"):
        stores.put("v", name, f"value of {name}")
    bao.seed("outside-the-prefix", {"value": "x"})
    assert stores.list_names("v") == ["a", "b/c", "b/d/e"]
    assert stores.get("v", "b/d/e") == "value of b/d/e"
    assert stores.delete("v", "a") is True
    assert stores.delete("v", "a") is False
    assert stores.delete("v", "never-existed") is False
    with pytest.raises(SecretNotFoundError):
        stores.get("v", "a")
    stores.put("v", "a", "again")  # check-and-set against the deleted version
    assert stores.get("v", "a") == "again"
    empty = make_stores(store(bao, pathPrefix=f"{prefix}/nothing-here"))
    assert empty.list_names("v") == []


def test_mount_with_cas_required(bao: BaoServer, make_stores: Any, prefix: str) -> None:
    mount = f"kvcas{uuid.uuid4().hex[:6]}"
    root = bao.root()
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    root.secrets.kv.v2.configure(cas_required=True, mount_point=mount)
    stores = make_stores(store(bao, mountPath=mount, pathPrefix=prefix))
    stores.put("v", "k", "one")
    stores.put("v", "k", "two")
    assert stores.get("v", "k") == "two"


def test_policy_denied_writes_and_lists(bao: BaoServer, make_stores: Any, prefix: str) -> None:
    root = bao.root()
    root.sys.create_or_update_policy("read-only", 'path "secret/data/*" '
                                     '{ capabilities = ["read"] }')
    token = root.auth.token.create(policies=["read-only"], ttl="1h")["auth"]["client_token"]
    bao.seed(f"{prefix}/existing", {"value": "old"})
    stores = make_stores({"name": "v", "type": "hashicorp_vault", "readOnly": False,
                          "configuration": {"address": bao.address, "token": token,
                                            "pathPrefix": prefix}})
    assert stores.get("v", "existing") == "old"
    with pytest.raises(AccessDeniedError, match="permission denied: cannot write") as info:
        stores.put("v", "existing", CANARY)
    assert CANARY not in str(info.value)
    with pytest.raises(AccessDeniedError, match="cannot list secret/metadata/"):
        stores.list_names("v")
    with pytest.raises(AccessDeniedError, match="cannot delete"):
        stores.delete("v", "existing")
    assert stores.get("v", "existing") == "old"
