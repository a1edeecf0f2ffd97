"""e2e: a BFCL data set through the CLI — import, build, score a predictions file keyed by
BFCL id (BFCL's Python-call syntax, dotted function names) without loading a model."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import mcptrain
from tests.conftest import HERE

FIXTURES = HERE / "fixtures" / "bfcl"


def test_import_build_and_score_bfcl_predictions(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert mcptrain("init", str(root), "--name", "bfcl")[0] == 0
    code, out, err = mcptrain("import", "bfcl", str(FIXTURES / "BFCL_v3_simple.json"),
                              str(FIXTURES / "possible_answer" / "BFCL_v3_simple.json"),
                              "--service", "bfcl-simple", "--root", str(root))
    assert code == 0, err
    assert (root / "specs" / "bfcl-simple" / "bfcl_answers.json").is_file()
    code, out, err = mcptrain("validate", str(root))
    assert code == 0, out + err
    code, out, err = mcptrain("build", str(root), "--no-dvc")
    assert code == 0, err

    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(p) + "\n" for p in [
        {"id": "simple_0", "output": "[geometry.triangle_area(base=10, height=5)]"},
        {"id": "simple_1", "output": "[finance.compound_interest(principal=1500, rate=0.05, years=7)]"},
    ]), encoding="utf-8")
    out_dir = tmp_path / "report"
    code, out, err = mcptrain("eval", str(root), "--predictions", str(preds), "--split", "scenarios",
                              "--service", "bfcl-simple", "--out", str(out_dir), "--no-chart")
    assert code == 0, err
    items = {i["id"]: i["candidate"] for i in json.loads((out_dir / "report.json").read_text())["items"]}
    assert set(items) == {"simple_0", "simple_1", "simple_2"}
    # An omitted optional argument whose acceptable values include "" is fine (BFCL's rule).
    assert items["simple_0"]["outcome"] == "correct"
    assert items["simple_1"]["outcome"] == "wrong_arguments" and "rate" in items["simple_1"]["reason"]
    assert items["simple_2"]["reason"] == "no output for this item"
