"""The Jinja2 side: the ``secrets`` namespace, reference collection, escaping filters."""

from secretstores.templating.references import Reference, collect_references
from secretstores.templating.syntax import rewrite_raw_identifiers

__all__ = ["Reference", "collect_references", "rewrite_raw_identifiers"]
