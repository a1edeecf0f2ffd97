"""The command tree. Each verb lives in `mcptrain/commands/<verb>.py` and is
imported only when run, so `mcptrain validate` starts fast."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

from mcptrain import __version__
from mcptrain.errors import MCPTrainError

app = typer.Typer(
    name="mcptrain",
    help="Teach language models to call your organisation's own MCP tools, GitOps-style.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
import_app = typer.Typer(help="Convert other formats into spec files (never overwrites).", no_args_is_help=True)
data_app = typer.Typer(help="The DVC-versioned dataset: status and pull.", no_args_is_help=True)
app.add_typer(import_app, name="import")
holdout_app = typer.Typer(help="The holdout's lifecycle: read only by `eval --holdout`, refreshed quarterly.",
                          no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(holdout_app, name="holdout")
# promotion (issue 14)
pr_app = typer.Typer(help="Pull requests on the project's forge (local: .mcptrain/forge/; or GitHub).",
                     no_args_is_help=True)
registry_app = typer.Typer(help="The model registry (models/registry.yaml): versions, statuses, promotions.",
                           no_args_is_help=True)
app.add_typer(pr_app, name="pr")
app.add_typer(registry_app, name="registry")

RootArg = Annotated[Path, typer.Argument(help="Repository root (holds mcptrain.yaml, specs/, policies/).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mcptrain {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
    show_traceback: Annotated[bool, typer.Option("--traceback", help="Show the full traceback of an internal error.")] = False,
) -> None:
    """Teach language models to call your organisation's own MCP tools, GitOps-style."""
    if show_traceback:
        os.environ["MCPTRAIN_TRACEBACK"] = "1"


@app.command()
def validate(
    path: RootArg = Path("."),
    json_out: Annotated[bool, typer.Option("--json", help="Print the diagnostics as JSON.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Check every file again; neither read nor write .mcptrain/cache/validate/.")] = False,
) -> None:
    """Validate every spec file; report all errors as path:line:col."""
    from mcptrain.commands.validate import run

    raise typer.Exit(run(path, json_out=json_out, strict=strict, use_cache=not no_cache))


@app.command()
def schema(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write <Kind>.json files into.")] = Path("schemas"),
) -> None:
    """Write the JSON Schema of every spec kind and of models/registry.yaml (for editors)."""
    from mcptrain.commands.schema import run

    raise typer.Exit(run(out))


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Directory to scaffold (created if missing).")] = Path("."),
    name: Annotated[str | None, typer.Option("--name", help="Model name (default: the directory name).")] = None,
) -> None:
    """Scaffold a new mcptrain repository; never overwrites existing files."""
    from mcptrain.commands.init import run

    raise typer.Exit(run(path, name))


@import_app.command("seed")
def import_seed(
    files: Annotated[list[Path], typer.Argument(help="Seed JSON documents (per-tool, training-dataset, test-dataset, discovery).")],
    root: Annotated[Path, typer.Option("--root", help="Repository root to write specs into.")] = Path("."),
) -> None:
    """Convert the seed's JSON documents into spec files."""
    from mcptrain.commands.import_seed import run

    raise typer.Exit(run(files, root))


@app.command()
def build(
    path: RootArg = Path("."),
    push: Annotated[bool, typer.Option("--push", help="Also push the dataset to the DVC remote (dvc.remote in mcptrain.yaml).")] = False,
    no_dvc: Annotated[bool, typer.Option("--no-dvc", help="Only write datasets/; do not run DVC (same as dvc.enabled: false).")] = False,
    pull_sources: Annotated[bool, typer.Option("--pull", help="First pull the sources: in mcptrain.yaml (a source that fails is skipped).")] = False,
) -> None:
    """Validate, then compile the dataset into datasets/ (splits, OpenAI and HF exports, manifest) and track it with DVC."""
    from mcptrain.commands.build import run

    if pull_sources:
        from mcptrain.commands.pull import pull as do_pull

        do_pull(path)
    raise typer.Exit(run(path, push=push, no_dvc=no_dvc))


@data_app.command("status")
def data_status(
    path: RootArg = Path("."),
    json_out: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Is datasets/ what datasets.dvc records, and is that pushed to the remote?"""
    from mcptrain.commands.data_status import run

    raise typer.Exit(run(path, json_out=json_out))


@data_app.command("pull")
def data_pull(path: RootArg = Path(".")) -> None:
    """Fetch the dataset datasets.dvc records from the DVC remote into datasets/."""
    from mcptrain.commands.data_pull import run

    raise typer.Exit(run(path))


@holdout_app.command("refresh")
def holdout_refresh(
    path: RootArg = Path("."),
    today: Annotated[str | None, typer.Option("--today", help="Refresh as of this date (YYYY-MM-DD; default: today).")] = None,
    rotate_tools: Annotated[bool, typer.Option("--rotate-tools/--keep-tools", help="Also hold out the next zero-shot tools (the chapter rotates them every 6 months).")] = True,
    write: Annotated[bool, typer.Option("--write", help="Apply the change to mcptrain.yaml (comments kept) for a person to commit.")] = False,
) -> None:
    """Propose the next holdout window (the last 90 days) and zero-shot rotation as a diff of mcptrain.yaml."""
    import datetime as dt

    from mcptrain.commands.holdout import refresh

    try:
        day = dt.date.fromisoformat(today) if today is not None else None
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD (got {today!r})", param_hint="--today") from None
    raise typer.Exit(refresh(path, today=day, rotate_tools=rotate_tools, write=write))


@import_app.command("bfcl")
def import_bfcl(
    data_file: Annotated[Path, typer.Argument(help="A BFCL data file (JSON Lines: id, question, function).")],
    answer_file: Annotated[Path | None, typer.Argument(help="Its answer file (id, ground_truth); none for irrelevance sets.")] = None,
    service: Annotated[str | None, typer.Option("--service", help="Service name (default: bfcl-<category>, e.g. bfcl-simple-python).")] = None,
    root: Annotated[Path, typer.Option("--root", help="Repository root; files go to specs/<service>/.")] = Path("."),
) -> None:
    """Convert Berkeley Function Calling Leaderboard files into tools and test scenarios."""
    from mcptrain.commands.import_bfcl import run

    raise typer.Exit(run(data_file, answer_file, service, root))


@app.command()
def train(
    path: RootArg = Path("."),
    out: Annotated[Path | None, typer.Option("--out", help="Artifact directory (default: .mcptrain/artifacts/<backend>-<inputs hash>).")] = None,
    run_name: Annotated[str | None, typer.Option("--run-name", help="Ray run name (default: <model>-<inputs hash>; the same name resumes).")] = None,
    inline: Annotated[bool, typer.Option("--inline", help="Run the training loop in this process instead of on Ray.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Run even when the recorded training is up to date.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Accept a paid job's cost estimate (backend openai) without asking.")] = False,
) -> None:
    """Train the project's backend (lora, openai or prompt) on the built dataset; re-running resumes."""
    from mcptrain.commands.train import run

    raise typer.Exit(run(path, out=out, run_name=run_name, inline=inline, force=force, yes=yes))


@app.command("eval")
def eval_(
    path: RootArg = Path("."),
    artifact: Annotated[Path | None, typer.Option("--artifact", help="What `train` produced (default: the last training).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Report directory (report.json, report.md, accuracy.png; default: eval, or eval-holdout with --holdout).")] = None,
    split: Annotated[list[str] | None, typer.Option("--split", help="Split to score (repeatable; default: test, zero_shot, orchestration, scenarios, the gated splits).")] = None,
    holdout: Annotated[bool, typer.Option("--holdout", help="Score the holdout alone, reported apart and never gated (the quarterly review).")] = False,
    service: Annotated[list[str] | None, typer.Option("--service", help="With --predictions: only this service's rows (repeatable).")] = None,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Also run the base model, for base vs candidate.")] = True,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many rows per split (an even sample).")] = None,
    predictions: Annotated[Path | None, typer.Option("--predictions", help="Score this JSONL of {id, output} instead of running a model.")] = None,
    baseline_predictions: Annotated[Path | None, typer.Option("--baseline-predictions", help="With --predictions: the baseline's outputs.")] = None,
    answers: Annotated[list[Path] | None, typer.Option("--answers", help="bfcl_answers.json sidecar (default: specs/*/bfcl_answers.json).")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Evaluate an OpenAI-compatible server (base URL) instead of the artifact.")] = None,
    endpoint_model: Annotated[str | None, typer.Option("--endpoint-model", help="The model name that server serves.")] = None,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Write accuracy.png (needs matplotlib).")] = True,
    force: Annotated[bool, typer.Option("--force", help="Run even when the recorded evaluation is up to date.")] = False,
    unconstrained: Annotated[bool, typer.Option("--unconstrained", help="Decode local models without the tool-call grammar (evaluation.constrained: false).")] = False,
    rules: Annotated[str, typer.Option("--rules", help="Checker rules: mcptrain (fixed), bfcl (BFCL's own verdicts, flaws included), or both (lists where they disagree).")] = "mcptrain",
) -> None:
    """Evaluate with the AST checker: accuracy by category, service, split and priority; base vs candidate."""
    from mcptrain.commands.eval import run

    raise typer.Exit(run(path, artifact=artifact, out=out, splits=split or [], services=service or [],
                         baseline=baseline, limit=limit, predictions=predictions,
                         baseline_predictions=baseline_predictions, answers=answers or [], endpoint=endpoint,
                         endpoint_model=endpoint_model, chart=chart, force=force, unconstrained=unconstrained,
                         holdout=holdout, rules=rules))


LockTimeout = Annotated[str, typer.Option("--lock-timeout", help="Wait this long for another run's lock on the repository (30s, 5m, 1h; default 0: fail at once, naming the holder).")]


def _seconds(text: str) -> float:
    from mcptrain.reconciler.lock import parse_duration

    try:
        return parse_duration(text)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--lock-timeout") from None


@app.command()
def reconcile(
    path: Annotated[Path, typer.Argument(help="Repository root, or a plan saved by `mcptrain plan --out FILE` (applied exactly, or refused if stale).")] = Path("."),
    root: Annotated[Path, typer.Option("--root", help="With a saved plan: the repository root it applies to.")] = Path("."),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply the plan without asking (CI).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Build and show the plan; train and evaluate nothing.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the dataset to the DVC remote.")] = False,
    inline: Annotated[bool, typer.Option("--inline", help="Train in this process instead of on Ray.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Evaluate at most this many rows per split.")] = None,
    fail_on_block: Annotated[bool, typer.Option("--fail-on-block", help="Exit 4 when the gates block the model.")] = False,
    lock_timeout: LockTimeout = "0",
) -> None:
    """Validate, build, train, evaluate and gate; stages whose inputs are unchanged are skipped."""
    from mcptrain.commands.reconcile import run

    saved = path if path.is_file() else None
    if saved is not None and limit is not None:
        raise typer.BadParameter("a saved plan keeps the --limit it was made with", param_hint="--limit")
    raise typer.Exit(run(root if saved else path, yes=yes, dry_run=dry_run, push=push, inline=inline, limit=limit,
                         fail_on_block=fail_on_block, saved=saved, lock_timeout=_seconds(lock_timeout)))


@app.command()
def plan(
    path: RootArg = Path("."),
    json_out: Annotated[bool, typer.Option("--json", help="Print the plan document as JSON (what --out saves).")] = False,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode", help="Exit 0 when there is nothing to do, 2 when there are changes, 1 on an error (Terraform's).")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Save the plan; `mcptrain reconcile FILE` applies exactly it, or refuses it when an input moved.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Plan to evaluate at most this many rows per split.")] = None,
    lock_timeout: LockTimeout = "0",
    comment: Annotated[bool, typer.Option("--comment", help="Post the plan (or the validation errors) as the pull request's plan comment through the forge, edited in place on every push.")] = False,
    pr: Annotated[int | None, typer.Option("--pr", min=1, help="With --comment: the pull request (default: GITHUB_REF's in GitHub Actions).")] = None,
) -> None:
    """Show what reconcile would build, train, evaluate and gate, why, and every input's fingerprint."""
    from mcptrain.commands.plan import run

    raise typer.Exit(run(path, json_out=json_out, detailed_exitcode=detailed_exitcode, out=out,
                         lock_timeout=_seconds(lock_timeout), limit=limit, comment=comment, pr=pr))


# ---- promotion (issue 14): promote, version, release, codeowners, pr, registry
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@app.command()
def promote(path: RootArg = Path(".")) -> None:
    """Open or update the promotion pull request of the gated candidate (one per model)."""
    from mcptrain.commands.promote import run

    raise typer.Exit(run(path))


@app.command("version")
def version_(path: RootArg = Path("."), json_out: JsonOpt = False) -> None:
    """The model's next semantic version over production, and every reason for it."""
    from mcptrain.commands.version import run

    raise typer.Exit(run(path, json_out=json_out))


@app.command()
def release(
    path: RootArg = Path("."),
    version: Annotated[str | None, typer.Option("--version", help="The version to release (default: the merged candidate).")] = None,
) -> None:
    """Mark the merged candidate production (the previous one deprecated) and tag it in GTO's grammar."""
    from mcptrain.commands.release import run

    raise typer.Exit(run(path, version=version))


@app.command()
def codeowners(
    path: RootArg = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if .github/CODEOWNERS is out of date; write nothing.")] = False,
) -> None:
    """Write .github/CODEOWNERS's mcptrain block from the services' and the project's owners."""
    from mcptrain.commands.codeowners import run

    raise typer.Exit(run(path, check=check))


@pr_app.command("list")
def pr_list(
    path: RootArg = Path("."),
    state: Annotated[str, typer.Option("--state", help="open, closed, merged or all.")] = "open",
    json_out: JsonOpt = False,
) -> None:
    """List the forge's pull requests."""
    from mcptrain.commands.pr import list_

    raise typer.Exit(list_(path, state=state, json_out=json_out))


@pr_app.command("show")
def pr_show(
    number: Annotated[int, typer.Argument(help="The pull request's number.")],
    path: RootArg = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Show one pull request: title, state, labels, statuses, body and comments."""
    from mcptrain.commands.pr import show

    raise typer.Exit(show(path, number, json_out=json_out))


@registry_app.command("show")
def registry_show(path: RootArg = Path("."), json_out: JsonOpt = False) -> None:
    """Each model's production version and its latest candidate."""
    from mcptrain.commands.registry import show

    raise typer.Exit(show(path, json_out=json_out))


@registry_app.command("history")
def registry_history(path: RootArg = Path("."), json_out: JsonOpt = False) -> None:
    """Every version, oldest first: status, verdict, accuracy, bump, dates."""
    from mcptrain.commands.registry import history

    raise typer.Exit(history(path, json_out=json_out))


# ---- live MCP servers, publishing, pulling and the feedback loop (issue 16)

@import_app.command("mcp")
def import_mcp(
    service: Annotated[str, typer.Argument(help="The service whose MCP server to list (mcp_servers in mcptrain.yaml).")],
    root: Annotated[Path, typer.Option("--root", help="Repository root (holds mcptrain.yaml).")] = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the change to the ToolSet; write nothing.")] = False,
) -> None:
    """Write a live MCP server's tools (tools/list) into its service's ToolSet, comments kept."""
    from mcptrain.commands.import_mcp import run

    raise typer.Exit(run(service, root, dry_run=dry_run))


@app.command()
def drift(
    path: RootArg = Path("."),
    service: Annotated[list[str] | None, typer.Option("--service", help="Only this service (repeatable; default: every mcp_servers entry).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare every ToolSet with its live MCP server: semver impact and invalidated rows; exit 2 on drift."""
    from mcptrain.commands.drift import run

    raise typer.Exit(run(path, services=service or [], json_out=json_out))


@app.command()
def export(
    service: Annotated[str, typer.Argument(help="The service to publish (its service.yaml name).")],
    root: Annotated[Path, typer.Option("--root", help="Repository root (holds mcptrain.yaml).")] = Path("."),
    out: Annotated[Path | None, typer.Option("--out", help="Folder to write into (default: .mcptrain/export/<service>).")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Public address the endpoints are published at (publish.base_url).")] = None,
) -> None:
    """Write the service's discovery document and training and test payloads (the seed's JSON shapes)."""
    from mcptrain.commands.export import run

    raise typer.Exit(run(service, root, out=out, base_url=base_url))


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="The service whose documents to serve.")],
    root: Annotated[Path, typer.Option("--root", help="Repository root (holds mcptrain.yaml).")] = Path("."),
    address: Annotated[str, typer.Option("--address", help="HOST:PORT to listen on.")] = "127.0.0.1:8080",
) -> None:
    """Serve the service's discovery document and payloads: bearer tokens, role ml_orchestrator, audit log, rate limit."""
    from mcptrain.commands.serve import run

    raise typer.Exit(run(service, root, address=address))


@app.command()
def pull(path: RootArg = Path(".")) -> None:
    """Fetch every `sources:` entry (discovery, training and test payloads) into its own spec folder; a failed source is skipped."""
    from mcptrain.commands.pull import run

    raise typer.Exit(run(path))


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="JSONL of production failures and corrections (query, model_tool, correct_tool, ...).")],
    root: Annotated[Path, typer.Option("--root", help="Repository root (holds mcptrain.yaml).")] = Path("."),
    service: Annotated[str | None, typer.Option("--service", help="Service of records that name none.")] = None,
    name_field: Annotated[list[str] | None, typer.Option("--name-field", help="An argument that holds a person's name (scrubbed; repeatable).")] = None,
    from_report: Annotated[bool, typer.Option("--from-report", help="FILE is `mcptrain eval`'s report.json: write its failures to a review file instead.")] = False,
    out: Annotated[Path, typer.Option("--out", help="With --from-report: the review file to write.")] = Path("review.jsonl"),
    pr: Annotated[bool, typer.Option("--pr/--no-pr", help="Propose the new files as a pull request through the forge (in a git repository).")] = True,
) -> None:
    """Turn production failures into new example files (source: production): PII scrubbed, deduplicated, contamination rejected."""
    from mcptrain.commands.ingest import review, run

    if from_report:
        raise typer.Exit(review(file, root, out))
    raise typer.Exit(run(file, root, service=service, name_fields=name_field or [], pr=pr))


@import_app.command("openai")
def import_openai(
    file: Annotated[Path, typer.Argument(help="An OpenAI fine-tuning JSONL file (messages, tools) .")],
    service: Annotated[str, typer.Option("--service", help="The service the rows and tools belong to.")],
    root: Annotated[Path, typer.Option("--root", help="Repository root; files go to specs/<service>/.")] = Path("."),
) -> None:
    """Convert an OpenAI fine-tuning JSONL with tools into spec files (never overwrites)."""
    from mcptrain.commands.import_openai import run

    raise typer.Exit(run(file, service, root))

@app.command()
def status(
    path: RootArg = Path("."),
    json_out: Annotated[bool, typer.Option("--json", help="Print the statuses as JSON.")] = False,
) -> None:
    """Sync (specs vs the production version) and Health (production vs today's gates), per model and service."""
    from mcptrain.commands.status import run

    raise typer.Exit(run(path, json_out=json_out))


def main() -> None:
    """Entry point: maps exceptions to exit codes (1 user error, 2 usage, 3 bug, 4 gates block
    with --fail-on-block, 130 Ctrl-C)."""
    from mcptrain import output

    try:
        code = app(standalone_mode=False, prog_name="mcptrain")
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(130)
    except MCPTrainError as e:
        output.failure(e)
        sys.exit(1)
    except Exception as e:  # click's usage errors
        if _is_click(e, "Abort"):
            output.error("aborted")
            sys.exit(130)
        if _is_click(e, "ClickException"):
            e.show()  # type: ignore[attr-defined]  # "Usage: ...", "Try '... --help' for help.", "Error: ..."
            sys.exit(2)
        from mcptrain.workspace import STATE_DIR

        log = Path(os.environ.get("MCPTRAIN_LOG_DIR", STATE_DIR)) / "crash.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(traceback.format_exc(), encoding="utf-8")
            where = f"traceback saved to {log}"
        except OSError:
            where = "traceback could not be saved"
        if os.environ.get("MCPTRAIN_TRACEBACK"):
            traceback.print_exc()
        output.error(f"internal error: {type(e).__name__}: {e} ({where}; rerun with --traceback to see it)")
        sys.exit(3)


def _is_click(error: BaseException, name: str) -> bool:
    """`error` is click's `name` exception: typer raises those of its own vendored copy of
    click (`typer._click`), which are not the installed click's classes."""
    import click

    return any(isinstance(error, getattr(module, name)) for module in (click.exceptions, _typer_click())
               if module is not None and hasattr(module, name))


def _typer_click() -> Any:
    try:
        from typer._click import exceptions
    except ImportError:  # a typer that uses click itself
        return None
    return exceptions
