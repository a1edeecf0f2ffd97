from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mcptrain.cli import app


def mcptrain(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    err = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err += str(result.exception)  # what `main` prints for an MCPTrainError
    return result.exit_code, result.stdout, err


def test_eval_before_build_says_what_to_do(tiny_project: Path) -> None:
    code, _, err = mcptrain("eval", str(tiny_project))
    assert code == 1
    assert "the dataset has not been built" in err and "mcptrain build" in err


def test_train_eval_and_rescoring_the_saved_predictions_agree(tiny_project: Path, tmp_path: Path) -> None:
    root = str(tiny_project)
    assert mcptrain("build", root)[0] == 0
    code, out, err = mcptrain("eval", root)
    assert code == 1 and "run `mcptrain train` first" in err
    code, out, err = mcptrain("train", root, "--inline")
    assert code == 0, err
    assert "mcptrain: trained 4 steps" in out and "next: mcptrain eval" in out
    code, out, err = mcptrain("train", root, "--inline")
    assert code == 0 and "training is up to date" in out

    out_dir = tmp_path / "report"
    code, out, err = mcptrain("eval", root, "--out", str(out_dir), "--split", "holdout", "--split", "scenarios")
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    assert report["baseline"] is not None
    assert {i["split"] for i in report["items"]} == {"holdout", "scenarios"}
    assert (out_dir / "report.md").is_file() and (out_dir / "accuracy.png").is_file()
    assert "accuracy by category" in out

    code, out, err = mcptrain("eval", root, "--out", str(out_dir), "--split", "holdout", "--split", "scenarios")
    assert code == 0 and "evaluation is up to date" in out

    # The saved raw outputs, scored without a model, give the same numbers.
    again = tmp_path / "again"
    code, out, err = mcptrain("eval", root, "--out", str(again), "--split", "holdout", "--split", "scenarios",
                              "--predictions", str(out_dir / "predictions.jsonl"),
                              "--baseline-predictions", str(out_dir / "baseline_predictions.jsonl"))
    assert code == 0, err
    rescored = json.loads((again / "report.json").read_text())
    assert rescored["candidate"] == report["candidate"]
    assert rescored["baseline"] == report["baseline"]


def test_eval_rejects_unknown_splits(tiny_project: Path) -> None:
    code, _, err = mcptrain("eval", str(tiny_project), "--split", "nonsense")
    assert code == 1 and "unknown split nonsense" in err
