"""Files the commands read and write: templates (UTF-8, '-' for stdin) and rendered
output (readable by its owner only)."""

from __future__ import annotations

import os
import sys

import click

from secretstores.errors import SecretStoresError


def read_template(path: str) -> tuple[str, str]:
    """The text of template ``path`` ('-': stdin) and the name errors give it."""
    if path == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            with open(path, "rb") as handle:
                data, name = handle.read(), path
        except OSError as exc:
            raise SecretStoresError(f"cannot read template {path}: "
                                    f"{exc.strerror or type(exc).__name__}") from None
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.start})"
    raise SecretStoresError(f"cannot read template {name}: {reason}")


def write_output(text: str, output: str) -> None:
    """Write rendered ``text`` to ``output`` ('-': stdout)."""
    if output == "-":
        click.echo(text, nl=False)
        return
    # the rendered file holds secrets: create it readable by its owner only
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    else:
        return
    raise SecretStoresError(f"cannot write {output}: {reason}")
