from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import mcptrain
from tests.reconciler.conftest import add_a_holdout_row, reword_a_training_row


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
    code, out, err = mcptrain("eval", root, "--out", str(out_dir), "--split", "scenarios")
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    assert report["baseline"] is not None
    assert {i["split"] for i in report["items"]} == {"scenarios"}
    assert (out_dir / "report.md").is_file() and (out_dir / "accuracy.png").is_file()
    assert "accuracy by category" in out
    # constrained by default, and the candidate also scored without the grammar, side by side
    assert report["candidate_raw"]["overall"]["n"] == report["candidate"]["overall"]["n"]
    assert all("candidate_raw" in i for i in report["items"])
    assert (out_dir / "predictions_unconstrained.jsonl").is_file()
    assert "unconstrained" in out and "| base | candidate | Δ | unconstrained | n |" in (out_dir / "report.md").read_text()
    # the grammar serving must enforce lies next to the adapter
    artifact = next((tiny_project / ".mcptrain" / "artifacts").iterdir())
    assert sorted(p.name for p in (artifact / "grammars").iterdir()) == sorted(
        f"{s}{suffix}" for s in {json.loads(line)["service"] for line in
                                 (tiny_project / "datasets" / "train.jsonl").read_text().splitlines()}
        for suffix in (".structural_tag.json", ".tool_call.schema.json"))
    # ... and covers every tool a scored row offers, zero-shot tools (withheld from the rows
    # trained on) included
    exported = {b["properties"]["name"]["const"] for p in (artifact / "grammars").glob("*.tool_call.schema.json")
                for b in json.loads(p.read_text())["anyOf"]}
    offered = {t["function"]["name"] for f in (tiny_project / "datasets").glob("*.jsonl")
               for line in f.read_text().splitlines() for t in json.loads(line)["tools"]}
    assert offered and exported == offered

    code, out, err = mcptrain("eval", root, "--out", str(out_dir), "--split", "scenarios")
    assert code == 0 and "evaluation is up to date" in out

    # The saved raw outputs, scored without a model, give the same numbers.
    again = tmp_path / "again"
    code, out, err = mcptrain("eval", root, "--out", str(again), "--split", "scenarios",
                              "--predictions", str(out_dir / "predictions.jsonl"),
                              "--baseline-predictions", str(out_dir / "baseline_predictions.jsonl"))
    assert code == 0, err
    rescored = json.loads((again / "report.json").read_text())
    assert rescored["candidate"] == report["candidate"]
    assert rescored["baseline"] == report["baseline"]


def test_eval_unconstrained_scores_one_pass_without_the_grammar(tiny_project: Path, tmp_path: Path) -> None:
    add_a_holdout_row(tiny_project)
    root = str(tiny_project)
    assert mcptrain("build", root)[0] == 0
    assert mcptrain("train", root, "--inline")[0] == 0
    out_dir = tmp_path / "raw"
    code, out, err = mcptrain("eval", root, "--out", str(out_dir), "--holdout", "--unconstrained",
                              "--no-baseline")
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    assert "candidate_raw" not in report and not (out_dir / "predictions_unconstrained.jsonl").exists()


def test_eval_rejects_unknown_splits(tiny_project: Path) -> None:
    code, _, err = mcptrain("eval", str(tiny_project), "--split", "nonsense")
    assert code == 1 and "unknown split nonsense" in err


MORE_CHARGES = "".join(f"""
  - id: pay-more-{n}
    query: Please charge {n} dollars on invoice INV-{700 + n} right away
    call: {{create_payment: {{amount: {n * 100}, currency: USD, invoice_id: INV-{700 + n}}}}}
""" for n in range(2, 14))


def test_prompt_backend_shows_the_rows_closest_to_last_validation_failures(tiny_project: Path) -> None:
    from mcptrain.reconciler.records import read_record
    from mcptrain.workspace import Workspace

    yaml_path = tiny_project / "mcptrain.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("kind: Project", "kind: Project\nbackend: prompt"))
    examples = tiny_project / "specs" / "payment" / "examples" / "charges.yaml"
    examples.write_text(examples.read_text() + MORE_CHARGES)
    root = str(tiny_project)
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert "diagnostics (not gated)" in out
    first = json.loads((tiny_project / read_record(Workspace(tiny_project), "train")["outputs"]["artifact"]
                        / "prompt.json").read_text())
    assert first["failures_addressed"] == {}  # nothing evaluated before the first prompt
    report = json.loads((tiny_project / read_record(Workspace(tiny_project), "eval")["outputs"]["report"]).read_text())
    assert set(report["diagnostics"]) == {"validation", "train"}
    # what the candidate wrote on them, beside the verdicts: the outputs of the split a recipe
    # is chosen on, in the format `--predictions` reads back
    out_dir = tiny_project / read_record(Workspace(tiny_project), "eval")["outputs"]["report"]
    written = [json.loads(line) for line in
               (out_dir.parent / "diagnostic_predictions.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in written) == sorted(i["id"] for i in report["diagnostic_items"])
    assert all(isinstance(r["output"], str) for r in written)
    wrong = {i["row_id"] for i in report["diagnostic_items"]
             if i["split"] == "validation" and not i["candidate"]["correct"]}
    assert wrong  # a random-weight model gets things wrong
    scored_wrong = {i["row_id"] for i in report["items"] if not i["candidate"]["correct"]}

    reword_a_training_row(tiny_project)
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    second = json.loads((tiny_project / read_record(Workspace(tiny_project), "train")["outputs"]["artifact"]
                         / "prompt.json").read_text())
    addressed = second["failures_addressed"]
    assert addressed and set(addressed) <= wrong
    assert set(addressed) | set(second["failures_unaddressed"]) == wrong
    assert not set(addressed) & scored_wrong  # a scored item never chose an example
    shown = {i for ids in second["examples"].values() for i in ids}
    assert set(addressed.values()) <= shown and not wrong & shown


def test_reconcile_never_reads_the_holdout_and_eval_holdout_does(
        tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcptrain.dataset.handle import Dataset
    from mcptrain.reconciler.records import read_record
    from mcptrain.workspace import Workspace

    add_a_holdout_row(tiny_project)
    opened: list[str] = []
    rows, path = Dataset.rows, Dataset.path

    def spy_rows(self: Dataset, split: str) -> list[dict[str, Any]]:
        opened.append(split)
        return rows(self, split)

    def spy_path(self: Dataset, split: str, form: str = "") -> Path:
        opened.append(split)
        return path(self, split, form)

    monkeypatch.setattr(Dataset, "rows", spy_rows)
    monkeypatch.setattr(Dataset, "path", spy_path)
    root = str(tiny_project)
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert opened and "holdout" not in opened
    report = json.loads((tiny_project / read_record(Workspace(tiny_project), "eval")["outputs"]["report"]).read_text())
    assert "holdout" not in {i["split"] for i in report["items"]}
    assert (tiny_project / "datasets" / "holdout.jsonl").read_text().strip()  # there was one to read

    code, out, err = mcptrain("eval", root, "--split", "holdout")
    assert code == 1 and "mcptrain eval --holdout" in err
    code, out, err = mcptrain("eval", root, "--holdout", "--no-baseline")
    assert code == 0, err
    assert "holdout" in opened and "reported apart and gates nothing" in out
    held = json.loads((tiny_project / "eval-holdout" / "report.json").read_text())
    assert {i["split"] for i in held["items"]} == {"holdout"} and "diagnostics" not in held
    assert read_record(Workspace(tiny_project), "holdout") is not None
    # the review has its own record: reconcile's evaluation is still up to date
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0 and "nothing to do" in out
