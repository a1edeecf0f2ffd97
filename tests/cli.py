"""Running the CLI in-process, as `mcptrain` would print it."""

from __future__ import annotations

from typer.testing import CliRunner

from mcptrain.cli import app


def mcptrain(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); an MCPTrainError's message is appended to stderr, as
    the `main` entry point prints it."""
    result = CliRunner().invoke(app, list(args))
    err = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err += str(result.exception)
    return result.exit_code, result.stdout, err
