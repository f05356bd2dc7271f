"""The built-in stores, registered through the same hooks as third-party plugins."""
