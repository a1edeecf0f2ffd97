"""Every command given an option it does not have, and an unknown command: a usage error
(exit 2, click's "No such option" with the command's usage), never an internal error."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from mcptrain import cli
from tests.test_cli_help import COMMANDS

LEAVES = [(path, command) for path, command in COMMANDS if not getattr(command, "commands", None)]


def run_main(argv: list[str], monkeypatch: Any, capsys: Any) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["mcptrain", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


@pytest.mark.parametrize("path", [p for p, _ in LEAVES])
def test_a_bogus_option_is_a_usage_error(path: str, monkeypatch: Any, capsys: Any) -> None:
    words = path.split()[1:]
    code, text = run_main([*words, "--no-such-option"], monkeypatch, capsys)
    assert code == 2, text
    assert "No such option: --no-such-option" in text
    assert f"Try 'mcptrain {' '.join(words)} --help' for help." in text
    assert "internal error" not in text


def test_an_unknown_command_is_a_usage_error(monkeypatch: Any, capsys: Any) -> None:
    code, text = run_main(["reconcil"], monkeypatch, capsys)
    assert code == 2
    assert "No such command 'reconcil'" in text
    assert "internal error" not in text


def test_the_reported_crash_is_a_usage_error(monkeypatch: Any, capsys: Any) -> None:
    code, text = run_main(["reconcile", "--no-dvc"], monkeypatch, capsys)
    assert (code, "No such option: --no-dvc" in text) == (2, True)
