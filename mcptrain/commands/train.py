"""`mcptrain train`: train the project's backend on the built dataset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcptrain import output


@contextmanager
def training_progress(total: int) -> Iterator[Callable[[Any], None]]:
    """A progress bar with loss and tokens/s; evaluations, checkpoints and notes as lines.

    Without a terminal (CI logs) every tenth step is printed as a line instead, with the
    mean loss and the speed of those ten steps.
    """
    from mcptrain.training.progress import describe, window

    interactive = output.err_console.is_terminal
    pending: list[Any] = []
    with output.progress("training", total or None) as advance:
        def on_progress(event: Any) -> None:
            if event.kind == "step":
                advance(1, describe(event))
                pending.append(event)
                if not interactive and (event.step % 10 == 0 or event.step == event.total_steps):
                    output.info(f"  {describe(window(pending))}")
                    pending.clear()
            elif event.kind == "resume":
                advance(event.step, "")
                output.info(f"  {describe(event)}")
            elif event.kind != "done":
                output.info(f"  {describe(event)}")

        yield on_progress


def confirm_paid_job(yes: bool) -> Callable[[dict[str, Any]], bool]:
    """Show a paid job's estimate; go on with `--yes`, or when a person at a terminal agrees."""
    def confirm(estimate: dict[str, Any]) -> bool:
        import sys

        import typer

        output.info(f"mcptrain: paid training job: {estimate['description']}")
        if yes:
            return True
        return sys.stdin.isatty() and typer.confirm("Start it?", default=False)

    return confirm


def run(root: Path, *, out: Path | None = None, run_name: str | None = None, inline: bool = False,
        force: bool = False, yes: bool = False) -> int:
    from mcptrain.reconciler.stages import train_stage
    from mcptrain.training.backends import get_backend
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    project, diags = ws.load_project()
    if diags:
        output.diagnostics(diags)
        return 1

    total = get_backend(project.backend).progress_total(project)
    with training_progress(total) as on_progress:
        result = train_stage(ws, project, out=out, run_name=run_name,
                             runner="inline" if inline else "ray", on_progress=on_progress, force=force,
                             confirm=confirm_paid_job(yes))
    show_training(result)
    return 0


def show_training(result: Any) -> None:
    s = result.summary
    where = result.artifact
    if result.reused:
        output.info(f"mcptrain: training is up to date ({where}); nothing to do")
        return
    from mcptrain.training.backends import get_backend

    output.info(get_backend(result.backend).describe(s))
    output.info(f"mcptrain: artifact in {where}; next: mcptrain eval")

