"""An example secretstores provider plugin."""
