"""The only module that prints. Quiet, precise output; Rich for tables and progress."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from mcptrain.errors import Diagnostic, MCPTrainError

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def quiet() -> Iterator[None]:
    """Inside the block, what would go to stdout is dropped (errors and warnings still go
    to stderr): `plan` refreshes the dataset without the build's tables, and `--json`
    keeps stdout for the JSON alone."""
    global console
    kept = console
    console = Console(file=open(os.devnull, "w", encoding="utf-8"), highlight=False)  # noqa: SIM115
    try:
        yield
    finally:
        console.file.close()
        console = kept


def info(message: str) -> None:
    console.print(message, markup=False)


def note(message: str) -> None:
    """Styled one-liner (markup allowed)."""
    console.print(message)


def note_err(message: str) -> None:
    """A plain line on stderr: what a command did beside its output (`plan --json --comment`)."""
    err_console.print(message, markup=False)


def warn(message: str) -> None:
    err_console.print(f"mcptrain: warning: {message}", markup=False)


def error(message: str) -> None:
    err_console.print(f"mcptrain: {message}", markup=False)


def failure(e: MCPTrainError) -> None:
    """A user-fixable error: its message, then its hint (the one place errors are printed)."""
    error(e.format())


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def diagnostics(items: Sequence[Diagnostic]) -> None:
    """Compiler-style lines; also GitHub Actions annotations when running there."""
    gha = os.environ.get("GITHUB_ACTIONS") == "true"
    for d in items:
        err_console.print(d.format(), markup=False)
        if gha:
            sys.stdout.write(d.annotation() + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, show_edge=False, header_style="bold")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*(str(x) for x in r))
    console.print(t)


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A progress bar on stderr; yields `advance(n=1, **fields)`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=total, status="")

        def advance(n: int = 1, status: str = "") -> None:
            bar.update(task, advance=n, status=status)

        yield advance
