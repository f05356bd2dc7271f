"""Configuration: the store model, file loading, and stores from environment variables."""

from secretstores.config.fields import optional_field, required_field
from secretstores.config.load import find_config_file, load_config_file
from secretstores.config.model import CacheSettings, Config, build_config

__all__ = [
    "CacheSettings",
    "Config",
    "build_config",
    "find_config_file",
    "load_config_file",
    "optional_field",
    "required_field",
]
