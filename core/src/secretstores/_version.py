"""The version of the ``secretstores`` distribution (read by its build, too)."""

__version__ = "0.1.0"
