from __future__ import annotations

from pathlib import Path

from mcptrain.dataset.build import build_dataset
from mcptrain.specs.loader import load_project
from tests.builders import add_example, all_rows, write_service
from tests.cli import mcptrain

PROJECT = """\
apiVersion: mcptrain/v1
kind: Project
name: tiny   # the model's name
splits:
  seed: 42            # never change it
  time_holdout_after: 2025-01-01
dvc: {enabled: false}
"""


def repo(tmp_path: Path) -> Path:
    (tmp_path / "mcptrain.yaml").write_text(PROJECT, encoding="utf-8")
    write_service(tmp_path, "alpha", tools=5, examples_per_tool=4)
    queries = {1: "fetch record R-1 for me", 2: "I need whatever you have on R-2 by tonight",
               3: "could you look up reference R-3, the one from the audit"}
    for day, n in (("2025-02-10", 1), ("2025-05-20", 2), ("2025-06-30", 3)):
        add_example(tmp_path, "alpha", {"id": f"dated-{n}", "query": queries[n],
                                        "call": {"alpha_get": {"ref": f"R-{n}"}}, "created_at": day})
    return tmp_path


def test_refresh_shows_the_next_window_and_rotation_and_writes_nothing(tmp_path: Path) -> None:
    root = repo(tmp_path)
    code, out, err = mcptrain("holdout", "refresh", str(root), "--today", "2025-07-15")
    assert code == 0, err
    assert (root / "mcptrain.yaml").read_text() == PROJECT
    # the last 90 days: examples of February leave the holdout, May and June stay
    assert "-  time_holdout_after: 2025-01-01\n+  time_holdout_after: 2025-04-16\n+  zero_shot_rotation: 1" in out
    assert "leave the holdout for training (1): dated-1" in out
    assert "zero-shot tools back in training (1)" in out and "tools held out as zero-shot next (1)" in out
    assert "nothing written; apply with `mcptrain holdout refresh --write`" in out


def test_refresh_write_edits_the_project_file_keeping_comments(tmp_path: Path) -> None:
    root = repo(tmp_path)
    before = build_dataset(root).manifest["zero_shot_tools"]["alpha"]
    code, out, err = mcptrain("holdout", "refresh", str(root), "--today", "2025-07-15", "--write")
    assert code == 0, err
    text = (root / "mcptrain.yaml").read_text()
    assert "# the model's name" in text and "# never change it" in text
    project, diags = load_project(root)
    assert not diags
    assert str(project.splits.time_holdout_after) == "2025-04-16" and project.splits.zero_shot_rotation == 1
    assert "review `git diff mcptrain.yaml` and commit it" in out
    report = build_dataset(root)
    assert report.manifest["zero_shot_tools"]["alpha"] != before
    splits = {r["id"]: r["split"] for r in all_rows(root / "datasets")}
    assert splits["dated-2"] == splits["dated-3"] == "holdout" and splits["dated-1"] != "holdout"

    code, out, err = mcptrain("holdout", "refresh", str(root), "--today", "2025-07-15", "--keep-tools")
    assert code == 0 and "are current; nothing to change" in out


def test_refresh_never_moves_the_window_back(tmp_path: Path) -> None:
    root = repo(tmp_path)
    code, out, err = mcptrain("holdout", "refresh", str(root), "--today", "2025-02-01", "--keep-tools")
    assert code == 0 and "nothing to change" in out
    code, _, err = mcptrain("holdout", "refresh", str(root), "--today", "July")
    assert code == 2 and "expected YYYY-MM-DD" in err
