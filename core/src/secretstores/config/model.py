"""The configuration model: stores, mappings, cache settings, and their validation."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from secretstores.cache.entry import DEFAULT_REFRESH_AHEAD
from secretstores.config.fields import (
    is_finite_number,
    kind_of,
    shown_number,
    structure,
    unknown_fields,
)
from secretstores.config.interpolate import interpolate
from secretstores.errors import ConfigError, PluginNotInstalledError
from secretstores.model import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DEADLINE,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    StoreSpec,
)
from secretstores.plugins import KNOWN_TYPES, unknown_type_problem

if TYPE_CHECKING:
    from secretstores.plugins import Plugins

#: The cache TTL in seconds when neither the file nor the store sets one
#: (the seed's "cached for 1 minute").
DEFAULT_CACHE_TTL = 60.0

#: Store names usable as ``secrets.NAME`` in a template (the sandbox refuses names
#: starting with ``_``).
STORE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

_STORE_KEYS = (
    "name",
    "type",
    "configuration",
    "mappings",
    "cacheTtl",
    "allowDirectAccess",
    "readOnly",
    "timeout",
    "deadline",
    "retries",
    "concurrency",
    "staleIfError",
    "negativeCacheTtl",
)
_TOP_KEYS = ("stores", "cache", "defaultStores")
_CACHE_KEYS = ("ttl", "directory", "keyFile", "enabled", "staleIfError", "negativeTtl",
               "refreshAhead", "memoryEntries")

#: Seconds past its TTL a value may be served while its store is unavailable, unless
#: ``staleIfError`` says otherwise: long enough to ride out a restart or a failover,
#: short enough that a rotated secret's old value does not linger.
DEFAULT_STALE_IF_ERROR = 300.0
#: Seconds a "not found" stays cached, unless ``negativeTtl`` says otherwise.
DEFAULT_NEGATIVE_TTL = 10.0
#: Entries the memory tier keeps at most, unless ``memoryEntries`` says otherwise.
DEFAULT_MEMORY_ENTRIES = 10_000


class Problems(list[str]):
    """The problems found so far; remembers whether a plugin is missing."""

    not_installed = False


@attrs.frozen
class CacheSettings:
    """The ``cache`` section: default TTLs, stale window, refresh-ahead, where entries live."""

    ttl: float = DEFAULT_CACHE_TTL
    directory: str | None = None
    key_file: str | None = None
    enabled: bool = True
    stale_if_error: float = DEFAULT_STALE_IF_ERROR
    negative_ttl: float = DEFAULT_NEGATIVE_TTL
    refresh_ahead: float = DEFAULT_REFRESH_AHEAD
    memory_entries: int = DEFAULT_MEMORY_ENTRIES


@attrs.frozen
class Config:
    """A whole validated configuration: its stores by name and the cache settings."""

    stores: Mapping[str, StoreSpec]
    cache: CacheSettings = CacheSettings()
    source: str | None = None


def build_config(
    data: Mapping[str, Any] | None,
    *,
    plugins: Plugins,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = "SECRETSTORES",
    strict_manager: bool | None = None,
) -> Config:
    """Validate a configuration document and return it, or raise one error listing every problem.

    :param data: the parsed file (``{"stores": [...], "cache": {...}}``), or None.
    :param plugins: the plugin set that knows the store types.
    :param source: where ``data`` came from, for messages.
    :param environ: for ``${VAR}`` references and ``<PREFIX>_SECRETS_MANAGER``.
    :param env_prefix: the host application's variable prefix.
    :param strict_manager: refuse (rather than fall back) when the manager's
        variables are incomplete; None reads ``<PREFIX>_SECRETS_MANAGER_STRICT``.
    """
    try:
        return _build_config(data, plugins=plugins, source=source, environ=environ,
                             env_prefix=env_prefix, strict_manager=strict_manager)
    except RecursionError:
        problem = "the configuration nests too deeply"
    raise ConfigError([problem], source=source)


def _build_config(
    data: Mapping[str, Any] | None,
    *,
    plugins: Plugins,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = "SECRETSTORES",
    strict_manager: bool | None = None,
) -> Config:
    environ = os.environ if environ is None else environ
    explicit = data is not None
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError([f"the configuration must be an object with a 'stores' array, got "
                           f"{kind_of(data)}"], source=source)
    data = dict(data or {})
    problems = Problems()

    unknown_fields(data, list(_TOP_KEYS), "top level", problems)
    cache = _cache_settings(data.get("cache", {}), environ, problems)

    raw_stores = data.get("stores", [])
    if not isinstance(raw_stores, list):
        problems.append(f"'stores': expected an array of stores, got {kind_of(raw_stores)}")
        raw_stores = []
    specs: dict[str, StoreSpec] = {}
    for index, raw in enumerate(raw_stores):
        spec = build_store(raw, index=index, plugins=plugins, environ=environ,
                           problems=problems, taken=specs)
        if spec is not None:
            specs[spec.name] = spec

    wanted = _wanted_defaults(data.get("defaultStores"), explicit, problems)
    if wanted and not problems:
        configured = list(specs.values())
        for name, definition in _default_definitions(specs, env_prefix, environ,
                                                     plugins, strict_manager):
            if name not in specs and name in wanted:
                spec = build_store(dict(definition, name=name), index=None, plugins=plugins,
                                   environ=environ, problems=problems, taken=specs)
                if spec is not None:
                    specs[name] = spec
                    problems.extend(_bypasses(spec, configured))

    if problems:
        error_class = PluginNotInstalledError if problems.not_installed else ConfigError
        raise error_class(problems, source=source)
    return Config(stores=specs, cache=cache, source=source)


#: The stores ``defaultStores`` adds.
DEFAULT_STORES = ("local", "env", "manager")


def _wanted_defaults(value: Any, explicit: bool, problems: list[str]) -> frozenset[str]:
    """Which default stores to add: all of them without a configuration, none with one,
    unless ``defaultStores`` says (``true``, ``false``, or a list of their names)."""
    if value is None:
        return frozenset() if explicit else frozenset(DEFAULT_STORES)
    if value is True or value is False:
        return frozenset(DEFAULT_STORES) if value else frozenset()
    if isinstance(value, list) and all(v in DEFAULT_STORES for v in value):
        return frozenset(value)
    problems.append(f"'defaultStores': expected true, false, or an array of some of "
                    f"{', '.join(DEFAULT_STORES)}, got {kind_of(value)}")
    return frozenset()


def _restricted(spec: StoreSpec) -> bool:
    """Whether a store limits what templates may read (an allow-list)."""
    if not spec.allow_direct_access:
        return True
    config = spec.config
    return spec.type == "env" and (tuple(getattr(config, "allow", ("*",))) != ("*",)
                                   or bool(getattr(config, "prefix", "")))


def _bypasses(default: StoreSpec, configured: list[StoreSpec]) -> list[str]:
    """A default store reading the backend of a configured store that restricts access
    would bypass that restriction: each such pair is a problem."""
    problems = []
    for spec in configured:
        same = default.type == spec.type and (spec.type == "env" or default.config == spec.config)
        if same and _restricted(spec):
            backend = "the environment" if spec.type == "env" else "the same backend"
            problems.append(
                f"default store '{default.name}' reads {backend} as store '{spec.name}', "
                f"which restricts what templates may read (allowDirectAccess or allow): it "
                f"would bypass that; leave '{default.name}' out of defaultStores or define it "
                f"yourself")
    return problems


def _default_definitions(
    specs: Mapping[str, StoreSpec],
    env_prefix: str,
    environ: Mapping[str, str],
    plugins: Plugins,
    strict_manager: bool | None,
) -> list[tuple[str, dict[str, Any]]]:
    from secretstores.config.environ import manager_definition

    local: dict[str, Any] = {"type": "db", "configuration": {}}
    if "local" in specs and specs["local"].type == "db":
        local = {"type": "db", "configuration": _aliased(specs["local"].config)}
    defaults = [("local", local), ("env", {"type": "env", "configuration": {}})]
    if "manager" not in specs:
        defaults.append(("manager", manager_definition(
            env_prefix, environ, plugins, local=local, strict=strict_manager)))
    return defaults


def _aliased(config: Any) -> dict[str, Any]:
    """An attrs config instance back as its JSON object (field aliases as keys)."""
    return {
        f.alias: getattr(config, f.name)
        for f in attrs.fields(type(config))
        if getattr(config, f.name) != f.default
    }


def _cache_settings(
    raw: Any, environ: Mapping[str, str], problems: list[str]
) -> CacheSettings:
    if not isinstance(raw, Mapping):
        problems.append(f"'cache': expected an object, got {kind_of(raw)}")
        return CacheSettings()
    raw = interpolate(dict(raw), environ, "cache", problems)
    unknown_fields(raw, list(_CACHE_KEYS), "cache", problems)
    ttl = _ttl(raw.get("ttl", DEFAULT_CACHE_TTL), "cache.ttl", problems)
    stale = _ttl(raw.get("staleIfError", DEFAULT_STALE_IF_ERROR), "cache.staleIfError",
                 problems, zero="0 never serves a stale value")
    negative = _ttl(raw.get("negativeTtl", DEFAULT_NEGATIVE_TTL), "cache.negativeTtl",
                    problems, zero="0 never caches a not found")
    refresh = raw.get("refreshAhead", DEFAULT_REFRESH_AHEAD)
    if not is_finite_number(refresh) or not 0 <= refresh < 1:
        problems.append("cache.refreshAhead: expected the fraction of a TTL at its end during "
                        "which a read refreshes the value, from 0 (never) to below 1, got "
                        f"{kind_of(refresh)}")
        refresh = DEFAULT_REFRESH_AHEAD
    entries = raw.get("memoryEntries", DEFAULT_MEMORY_ENTRIES)
    if isinstance(entries, bool) or not isinstance(entries, int) \
            or not 1 <= entries <= 100_000_000:
        problems.append("cache.memoryEntries: expected a whole number of entries from 1 to "
                        f"100000000, got {kind_of(entries)}{shown_number(entries)}")
        entries = DEFAULT_MEMORY_ENTRIES
    directory = raw.get("directory")
    key_file = raw.get("keyFile")
    enabled = raw.get("enabled", True)
    for name, value in (("directory", directory), ("keyFile", key_file)):
        if value is not None and not isinstance(value, str):
            problems.append(f"cache.{name}: expected a path string, got {kind_of(value)}")
    if not isinstance(enabled, bool):
        problems.append(f"cache.enabled: expected true or false, got {kind_of(enabled)}")
        enabled = True
    return CacheSettings(
        ttl=ttl if ttl is not None else DEFAULT_CACHE_TTL,
        directory=directory if isinstance(directory, str) else None,
        key_file=key_file if isinstance(key_file, str) else None,
        enabled=enabled,
        stale_if_error=stale if stale is not None else DEFAULT_STALE_IF_ERROR,
        negative_ttl=negative if negative is not None else DEFAULT_NEGATIVE_TTL,
        refresh_ahead=float(refresh),
        memory_entries=entries,
    )


#: The longest TTL accepted, in seconds (a year): a larger one is a mistake.
_MAX_TTL = 365 * 24 * 3600.0


def _ttl(value: Any, where: str, problems: list[str],
         zero: str = "0 disables caching") -> float | None:
    if not is_finite_number(value) or not 0 <= value <= _MAX_TTL:
        problems.append(f"{where}: expected a finite number of seconds from 0 to "
                        f"{_MAX_TTL:.0f} ({zero}), got {kind_of(value)}{shown_number(value)}")
        return None
    return float(value)


def build_store(
    raw: Any,
    *,
    index: int | None,
    plugins: Plugins,
    environ: Mapping[str, str],
    problems: list[str],
    taken: Mapping[str, StoreSpec] | None = None,
) -> StoreSpec | None:
    """Validate one store definition, appending its problems; None when it is invalid."""
    label = f"stores[{index}]" if index is not None else "store"
    if not isinstance(raw, Mapping):
        problems.append(f"{label}: expected an object, got {kind_of(raw)}")
        return None
    meant = unknown_fields(raw, list(_STORE_KEYS), "{where}", [])
    name = raw.get("name")
    if isinstance(name, str) and name:
        where = f"store '{name}'"
        if not STORE_NAME.match(name):
            problems.append(f"{where}: the name must start with a letter and hold only "
                            "letters, digits and underscores (it is used as secrets.NAME)")
        if taken and name in taken:
            problems.append(f"{where}: the name is used by another store")
    else:
        where = label
        if "name" not in meant:
            problems.append(f"{label}: missing required field 'name' (a non-empty string)")
    start = len(problems)
    unknown_fields(raw, list(_STORE_KEYS), where, problems)
    type_name = raw.get("type")
    store_type = None
    if not isinstance(type_name, str) or not type_name:
        if "type" not in meant:
            problems.append(f"{where}: missing required field 'type' (a store type name)")
    else:
        types = plugins.store_types()
        if type_name in types:
            store_type = types[type_name][0]
        else:
            problems.append(unknown_type_problem(type_name, where, types, plugins.failed))
            if type_name in KNOWN_TYPES and isinstance(problems, Problems):
                problems.not_installed = True

    config = None
    configuration = raw.get("configuration", {})
    configuration = interpolate(configuration, environ, f"{where}: configuration", problems)
    if store_type is not None:
        config, config_problems = structure(
            store_type.config_class, configuration, f"{where}: configuration"
        )
        problems.extend(config_problems)

    mappings: dict[str, str] = {}
    raw_mappings = raw.get("mappings", [])
    if not isinstance(raw_mappings, list):
        problems.append(f"{where}: 'mappings' must be an array of "
                        '{"name", "secretIdentifier"} objects')
        raw_mappings = []
    for i, mapping in enumerate(raw_mappings):
        mwhere = f"{where}: mappings[{i}]"
        if not isinstance(mapping, Mapping):
            problems.append(f"{mwhere}: expected an object, got {kind_of(mapping)}")
            continue
        mname, ident = mapping.get("name"), mapping.get("secretIdentifier")
        meant_here = unknown_fields(mapping, ["name", "secretIdentifier"], mwhere, problems)
        if (not isinstance(mname, str) or not mname) and "name" not in meant_here:
            problems.append(f"{mwhere}: missing required field 'name' (a non-empty string)")
        elif isinstance(mname, str) and mname in mappings:
            problems.append(f"{mwhere}: mapping name '{mname}' is used twice")
        if (not isinstance(ident, str) or not ident) and "secretIdentifier" not in meant_here:
            problems.append(f"{mwhere}: missing required field 'secretIdentifier' "
                            "(a non-empty string)")
        if isinstance(mname, str) and isinstance(ident, str) and mname and ident:
            mappings[mname] = ident

    ttl = None
    if "cacheTtl" in raw:
        ttl = _ttl(raw["cacheTtl"], f"{where}: cacheTtl", problems)
    stale = None
    if "staleIfError" in raw:
        stale = _ttl(raw["staleIfError"], f"{where}: staleIfError", problems,
                     zero="0 never serves a stale value")
    negative = None
    if "negativeCacheTtl" in raw:
        negative = _ttl(raw["negativeCacheTtl"], f"{where}: negativeCacheTtl", problems,
                        zero="0 never caches a not found")
    flags = {}
    read_only_default = store_type.read_only_by_default if store_type is not None else True
    for key, default in (("allowDirectAccess", True), ("readOnly", read_only_default)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            problems.append(f"{where}: {key}: expected true or false, got {kind_of(value)}")
        flags[key] = bool(value)
    if not flags["allowDirectAccess"] and not mappings:
        problems.append(f"{where}: allowDirectAccess is false but there are no mappings, "
                        "so no secret could be used")
    if store_type is not None and raw.get("readOnly") is False and not store_type.writable:
        problems.append(f"{where}: readOnly is false, but stores of type '{type_name}' "
                        "cannot write")
    timeout = _seconds(raw, "timeout", DEFAULT_TIMEOUT, where, problems)
    deadline = _seconds(raw, "deadline", DEFAULT_DEADLINE, where, problems)
    retries = _count(raw, "retries", DEFAULT_RETRIES, where, problems, minimum=0)
    concurrency = _count(raw, "concurrency", DEFAULT_CONCURRENCY, where, problems, minimum=1)

    if len(problems) > start or not isinstance(name, str) or store_type is None:
        return None
    return StoreSpec(
        name=name,
        type=type_name,  # type: ignore[arg-type]
        config=config,
        mappings=mappings,
        cache_ttl=ttl,
        allow_direct_access=flags["allowDirectAccess"],
        read_only=flags["readOnly"] or not store_type.writable,
        timeout=timeout,
        deadline=deadline,
        retries=retries,
        concurrency=concurrency,
        stale_if_error=stale,
        negative_cache_ttl=negative,
    )


#: The longest ``timeout`` or ``deadline`` accepted, in seconds (an hour).
_MAX_SECONDS = 3600.0


def _seconds(raw: Mapping[str, Any], key: str, default: float, where: str,
             problems: list[str]) -> float:
    value = raw.get(key, default)
    if not is_finite_number(value) or not 0 < value <= _MAX_SECONDS:
        problems.append(f"{where}: {key}: expected a number of seconds greater than 0 and at "
                        f"most {_MAX_SECONDS:g}, got {kind_of(value)}{shown_number(value)}")
        return default
    return float(value)


def _count(raw: Mapping[str, Any], key: str, default: int, where: str, problems: list[str],
           *, minimum: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 1000:
        problems.append(f"{where}: {key}: expected a whole number from {minimum} to 1000, "
                        f"got {kind_of(value)}{shown_number(value)}")
        return default
    return int(value)
