"""The render command: a template to stdout or a file."""

from __future__ import annotations

import click

from secretstores.cli import Options, main, pass_options
from secretstores.cli.files import read_template, write_output


@main.command()
@click.argument("template")
@click.option("-o", "--output", default="-", metavar="OUT",
              help="Write here (mode 0600) instead of stdout ('-').")
@pass_options
def render(options: Options, template: str, output: str) -> None:
    """Render TEMPLATE ('-' for stdin) with its secrets."""
    source, name = read_template(template)
    write_output(options.stores().render_string(source, name=name), output)
