"""``python -m secretstores``: the same as the ``secretstores`` command."""

from secretstores.cli import main

main(prog_name="secretstores")
