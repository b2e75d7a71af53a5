"""``sov watch add|list|remove``: the old spelling of ``sov drift add|list|remove``, kept
as a hidden alias for one release."""

from __future__ import annotations

import typer

from verifier.cli.drift import register_watch_commands

app = typer.Typer(help="Old spelling of sov drift add|list|remove.", no_args_is_help=True, hidden=True)
register_watch_commands(app)
