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

    Without a terminal (CI logs) every tenth step is printed as a line instead.
    """
    from mcptrain.training.progress import describe

    interactive = output.err_console.is_terminal
    with output.progress("training", total or None) as advance:
        def on_progress(event: Any) -> None:
            if event.kind == "step":
                advance(1, describe(event))
                if not interactive and (event.step % 10 == 0 or event.step == event.total_steps):
                    output.info(f"  {describe(event)}")
            elif event.kind == "resume":
                advance(event.step, "")
                output.info(f"  {describe(event)}")
            elif event.kind != "done":
                output.info(f"  {describe(event)}")

        yield on_progress


def run(root: Path, *, out: Path | None = None, run_name: str | None = None, inline: bool = False,
        force: bool = False) -> int:
    from mcptrain.reconciler.stages import train_stage
    from mcptrain.specs.loader import load_project

    project, diags = load_project(root)
    if diags:
        output.diagnostics(diags)
        return 1
    total = project.training.max_steps if project.backend == "lora" else 0
    with training_progress(total) as on_progress:
        result = train_stage(root, project, out=out, run_name=run_name,
                             runner="inline" if inline else "ray", on_progress=on_progress, force=force)
    show_training(result)
    return 0


def show_training(result: Any) -> None:
    s = result.summary
    where = result.artifact
    if result.reused:
        output.info(f"mcptrain: training is up to date ({where}); nothing to do")
        return
    if result.backend == "lora":
        early = f", stopped early at best step {s['best_step']}" if s.get("stopped_early") else ""
        resumed = f", resumed from step {s['resumed_from'][-1]}" if s.get("resumed_from") else ""
        output.info(f"mcptrain: trained {s['steps']} steps in {s['train_seconds']:.0f}s "
                    f"({s['tokens_per_s']:.0f} tokens/s, {s.get('precision')}){early}{resumed}; "
                    f"train loss {_f(s['train_loss_final'])}, validation loss {_f(s['val_loss_final'])}")
    elif result.backend == "openai":
        output.info(f"mcptrain: fine-tuning job {s['job_id']} {s['status']}: model {s['fine_tuned_model']}")
    else:
        output.info(f"mcptrain: prompt artifact {s['version']} with {s['examples']} few-shot examples")
    output.info(f"mcptrain: artifact in {where}; next: mcptrain eval")


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
