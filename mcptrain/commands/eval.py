"""`mcptrain eval`: run a model over the scored splits and report base vs candidate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcptrain import output
from mcptrain.errors import ConfigError

HOLDOUT_OUT = Path("eval-holdout")


def run(root: Path, *, artifact: Path | None, out: Path | None, splits: Sequence[str], services: Sequence[str],
        baseline: bool, limit: int | None, predictions: Path | None, baseline_predictions: Path | None,
        answers: Sequence[Path], endpoint: str | None, endpoint_model: str | None, chart: bool,
        force: bool, unconstrained: bool = False, holdout: bool = False, rules: str = "mcptrain") -> int:
    from mcptrain.dataset.handle import open_dataset
    from mcptrain.dataset.splits import DIAGNOSTIC_SPLITS, GATED_SPLITS, HOLDOUT
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    project, diags = ws.load_project()
    if diags:
        output.diagnostics(diags)
        return 1
    if unconstrained:
        project = project.model_copy(update={"evaluation": project.evaluation.model_copy(
            update={"constrained": False, "report_raw": False})})
    if HOLDOUT in splits:
        raise ConfigError("the holdout is read only by the holdout review, and alone",
                          hint="mcptrain eval --holdout (quarterly; README, \"Evaluation protocol\")")
    unknown = sorted(set(splits) - set(GATED_SPLITS) - set(DIAGNOSTIC_SPLITS))
    if unknown:
        raise ConfigError(f"unknown split {', '.join(unknown)}; choose from {', '.join(GATED_SPLITS)}")
    if holdout and splits:
        raise ConfigError("--holdout scores the holdout alone; drop --split")
    splits_given = bool(splits)  # diagnostics go with the default (gated) run only
    splits = [HOLDOUT] if holdout else list(splits) or list(GATED_SPLITS)
    out = out or (HOLDOUT_OUT if holdout else Path("eval"))
    out = out if out.is_absolute() else root / out
    from mcptrain.evaluation.rules import RULES

    if rules not in RULES:
        raise ConfigError(f"unknown --rules {rules!r}; choose from {', '.join(RULES)}")
    if predictions is not None:
        return _score_file(root, splits, services, predictions, baseline_predictions, answers, out, chart, rules)
    if baseline_predictions is not None:
        raise ConfigError("--baseline-predictions needs --predictions")
    if services:
        raise ConfigError("--service filters a --predictions run; a model run covers every service")
    open_dataset(root)  # a clear error before any model is loaded
    from mcptrain.reconciler.records import read_record
    from mcptrain.reconciler.stages import eval_stage, latest_artifact

    candidate = None
    artifact_inputs: str | None = None
    if endpoint is not None:
        if not endpoint_model:
            raise ConfigError("--endpoint needs --endpoint-model (the model name the server serves)")
        from mcptrain.training.predictor import OpenAIPredictor

        def candidate() -> Any:
            return OpenAIPredictor(endpoint_model, base_url=endpoint,
                                   max_tokens=project.evaluation.max_new_tokens)

        label = f"{endpoint_model} at {endpoint}"
        artifact = None
    elif artifact is None:
        artifact = latest_artifact(ws)
        if artifact is None:
            raise ConfigError("no trained artifact: run `mcptrain train` first, or pass --artifact DIR")
        record = read_record(ws, "train") or {}
        artifact_inputs = record.get("inputs")
        label = str(artifact)
    else:
        label = str(artifact)
    result = eval_stage(ws, project, artifact, artifact_inputs=artifact_inputs, out_dir=out, splits=splits,
                        baseline=baseline, limit=limit, chart=chart, force=force, candidate=candidate,
                        candidate_label=label, diagnostics=not holdout and not splits_given,
                        notify=lambda m: output.info(f"mcptrain: {m}"))
    if result.reused:
        output.info(f"mcptrain: evaluation is up to date ({out / 'report.json'}); nothing to run")
    show_report(result.summary, result.baseline, result.raw, result.diagnostics, result.gain)
    if holdout:
        output.info("mcptrain: the holdout number is reported apart and gates nothing; "
                    "record it in the quarterly review")
    timing = ", ".join(f"{k} {v:.0f}s" for k, v in result.seconds.items())
    output.info(f"mcptrain: scored {result.items} items of {label}"
                + (f" ({timing})" if timing and not result.reused else "")
                + f"; report in {out}/report.md")
    if rules != "mcptrain":  # the same outputs, judged again by BFCL's rules (or both)
        base = out / "baseline_predictions.jsonl"
        _score_file(root, splits, [], out / "predictions.jsonl", base if base.exists() else None, answers,
                    out / f"rules-{rules}", chart, rules)
    return 0


def _score_file(root: Path, splits: Sequence[str], services: Sequence[str], predictions: Path,
                baseline_predictions: Path | None, answers: Sequence[Path], out: Path, chart: bool,
                rules: str = "mcptrain") -> int:
    from mcptrain.dataset.handle import open_dataset
    from mcptrain.evaluation.scoring import score_predictions_file

    dataset = open_dataset(root)
    found = sorted((root / "specs").glob("*/bfcl_answers.json")) if not answers else list(answers)
    paths = [dataset.path(s) for s in splits]
    if services:
        paths = [_filtered(p, set(services), out) for p in paths]
    report = score_predictions_file(paths, predictions, out, baseline_jsonl=baseline_predictions,
                                    answers_files=found, chart=chart, rules=rules)
    if rules == "bfcl":
        output.info("mcptrain: scored by BFCL's own rules (flaws included); --rules both lists where they differ")
    show_report(report.written.summary, _baseline_of(report), gain=report.written.gain)
    if report.comparison is not None:
        show_comparison(report.comparison)
    if report.missing:
        output.warn(f"{len(report.missing)} items have no prediction and count as failures "
                    f"(first: {', '.join(report.missing[:3])})")
    output.info(f"mcptrain: scored {len(report.candidate)} items from {predictions}; report in {out}/report.md")
    return 0


def _baseline_of(report: Any) -> dict[str, Any] | None:
    from mcptrain.evaluation.report import summarize

    return summarize(report.baseline) if report.baseline is not None else None


def _filtered(path: Path, services: set[str], out: Path) -> Path:
    """The rows of `path` that belong to `services`, as a file under `out`."""
    import json

    from mcptrain.files import replace_file

    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line).get("service") in services]
    target = out / ".rows" / path.name
    replace_file(target, "".join(line + "\n" for line in lines))
    return target


def show_comparison(data: dict[str, Any]) -> None:
    """`--rules both`: both accuracies per category, and the first disagreements."""
    def pct(score: dict[str, Any]) -> str:
        return f"{100 * score['accuracy']:.1f}%"

    rows = [(k, str(v["mcptrain"]["n"]), pct(v["mcptrain"]), pct(v["bfcl"]),
             str(sum(d["category"] == k for d in data["disagreements"]))) for k, v in data["by_category"].items()]
    o = data["overall"]
    rows.append(("overall", str(o["mcptrain"]["n"]), pct(o["mcptrain"]), pct(o["bfcl"]), str(len(data["disagreements"]))))
    output.table("mcptrain's rules and BFCL's", ["category", "items", "mcptrain", "BFCL", "disagree"], rows)
    for d in data["disagreements"][:10]:
        side = "mcptrain" if d["mcptrain"]["correct"] else "bfcl"
        other = "bfcl" if side == "mcptrain" else "mcptrain"
        output.info(f"  {d['id']}: right by {side} rules; {other}: {d[other]['reason']}")
    if len(data["disagreements"]) > 10:
        output.info(f"  ... and {len(data['disagreements']) - 10} more in report.json (rules_comparison)")


def show_report(candidate: dict[str, Any], baseline: dict[str, Any] | None,
                raw: dict[str, Any] | None = None, diagnostics: dict[str, Any] | None = None,
                gain: dict[str, Any] | None = None) -> None:
    """Accuracy by category (base vs candidate, the gain's 95% interval over source rows when
    the report has one, and the candidate without the grammar when it was scored), then by
    service and priority."""
    def pct(score: dict[str, Any] | None) -> str:
        return "-" if not score or not score["n"] else f"{100 * score['accuracy']:.1f}%"

    def interval(found: dict[str, Any] | None) -> tuple[str, ...]:
        if gain is None:
            return ()
        return (f"{100 * found['low']:+.1f} to {100 * found['high']:+.1f}" if found else "",)

    def rows(dim: str) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for key, score in candidate["by"][dim].items():
            base = (baseline or {}).get("by", {}).get(dim, {}).get(key)
            delta = "" if not base else f"{100 * (score['accuracy'] - base['accuracy']):+.1f}"
            spread = interval((gain or {}).get("by_category", {}).get(key)) if dim == "category" else ()
            unconstrained = (pct((raw or {}).get("by", {}).get(dim, {}).get(key)),) if raw is not None else ()
            out.append((key, str(score["n"]), pct(base), pct(score), delta, *spread, *unconstrained))
        return out

    columns = ["", "items", "base", "candidate", "Δ pts", *(["unconstrained"] if raw is not None else [])]
    overall = ("overall", str(candidate["overall"]["n"]), pct((baseline or {}).get("overall")),
               pct(candidate["overall"]), "" if not baseline else
               f"{100 * (candidate['overall']['accuracy'] - baseline['overall']['accuracy']):+.1f}",
               *interval((gain or {}).get("overall")), *((pct(raw["overall"]),) if raw is not None else ()))
    by_category = [*columns[:5], *(["95% interval"] if gain is not None else []), *columns[5:]]
    output.table("accuracy by category", ["category", *by_category[1:]], [*rows("category"), overall])
    if gain is not None and gain.get("overall"):
        from mcptrain.evaluation.uncertainty import describe

        output.info(f"gain over the base model: {describe(gain['overall'])}; the interval resamples "
                    "source rows (a template's paraphrases and a dialogue's steps are drawn together)")
    output.table("by service", ["service", *columns[1:]], rows("service"))
    output.table("by priority", ["priority", *columns[1:]], rows("priority"))
    if candidate["by"].get("tag"):
        output.table("by tag", ["tag", *columns[1:]], rows("tag"))
    if diagnostics:
        from mcptrain.evaluation.report import DIAGNOSTIC_NAMES

        output.table("diagnostics (not gated)", ["slice", "items", "candidate"],
                     [(DIAGNOSTIC_NAMES.get(k, k), str(v["overall"]["n"]), pct(v["overall"]))
                      for k, v in diagnostics.items()])
    failing = [s for s in candidate.get("scenario_checks", []) if not s["passed"]]
    checked = len(candidate.get("scenario_checks", []))
    if checked:
        output.info(f"scenarios with min_accuracy_required: {checked - len(failing)}/{checked} pass"
                    + (f"; failing: {', '.join(s['scenario'] for s in failing[:8])}"
                       + (" ..." if len(failing) > 8 else "") if failing else ""))
