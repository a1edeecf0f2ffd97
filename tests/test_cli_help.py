"""Meta-test: every command, group, argument and option of the CLI has help text.

Walks the click tree typer builds, so commands added later are checked too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from mcptrain.cli import app


def _walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    # Duck-typed: typer builds on its own vendored copy of click's classes.
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _walk(sub, f"{path} {name}")


COMMANDS = list(_walk(typer.main.get_command(app), "mcptrain"))


def test_the_tree_is_walked() -> None:
    names = [path for path, _ in COMMANDS]
    assert "mcptrain validate" in names
    assert "mcptrain import seed" in names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help(path: str, command: Any) -> None:
    assert (command.help or command.short_help or "").strip(), f"{path}: no help text"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_parameter_has_help(path: str, command: Any) -> None:
    missing = [
        param.name
        for param in command.params
        if not (getattr(param, "help", None) or "").strip() and not getattr(param, "hidden", False)
    ]
    assert missing == [], f"{path}: parameters without help: {missing}"
