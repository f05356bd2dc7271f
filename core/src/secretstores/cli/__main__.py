"""``python -m secretstores.cli``: the same as the ``secretstores`` command."""

from secretstores.cli import main

main(prog_name="secretstores")
