"""`mcptrain plan`: actions with reasons, fingerprints, --json, --detailed-exitcode, --out,
and `mcptrain reconcile FILE` applying exactly a saved plan or refusing it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mcptrain import __version__
from mcptrain.reconciler.records import read_record
from mcptrain.workspace import Workspace
from tests.cli import mcptrain

CHARGES = Path("specs") / "payment" / "examples" / "charges.yaml"


def plan_json(root: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, err = mcptrain("plan", str(root), "--json", *args)
    assert code in (0, 2), err
    return code, json.loads(out)


def test_plan_names_every_action_its_reason_and_every_input(tiny_project: Path) -> None:
    code, out, err = mcptrain("plan", str(tiny_project))
    assert code == 0, err
    assert re.search(r"build\s*│\s*run\s*│\s*never built: the dataset becomes [0-9a-f]{12}", out)
    assert re.search(r"train\s*│\s*run\s*│\s*never trained", out)
    assert re.search(r"specs/payment/\s*│\s*[0-9a-f]{12}", out) and "policies/default.yaml" in out
    assert "mcptrain: plan: 4 to run (build, train, eval, gate), 0 up to date, promote skipped" in out
    assert re.search(r"promote\s*│\s*skip\s*│\s*not a git repository", out)
    assert "next: mcptrain reconcile" in out
    assert "data quality" not in out  # the refresh's build tables are not the plan
    # plan writes no stage record but the build's (a cache of what the dataset is), no DVC pointer
    ws = Workspace(tiny_project)
    assert [read_record(ws, s) for s in ("train", "eval", "gate")] == [None, None, None]
    assert not (tiny_project / "datasets.dvc").exists()


def test_plan_json_is_the_plan_document(tiny_project: Path) -> None:
    code, doc = plan_json(tiny_project)
    assert code == 0
    assert doc["format"] == 1 and doc["mcptrain_version"] == __version__ and doc["changes"] is True
    assert [(a["stage"], a["action"]) for a in doc["actions"]] == [
        ("build", "run"), ("train", "run"), ("eval", "run"), ("gate", "run"), ("promote", "skip")]
    files = doc["inputs"]["files"]
    assert set(files) >= {"mcptrain.yaml", "policies/default.yaml", CHARGES.as_posix()}
    import hashlib

    assert files["mcptrain.yaml"] == hashlib.sha256((tiny_project / "mcptrain.yaml").read_bytes()).hexdigest()
    manifest = json.loads((tiny_project / "datasets" / "manifest.json").read_text())
    assert doc["inputs"]["dataset"] == manifest["content_hash"]
    assert doc["repository"] == {"project": "good-model", "root_commit": None, "path": str(tiny_project.resolve())}
    assert doc["recorded"] == {"train": None, "eval": None, "gate": None, "promote": None}


def test_detailed_exitcode_2_on_changes_1_on_errors(tiny_project: Path) -> None:
    code, _, _ = mcptrain("plan", str(tiny_project), "--detailed-exitcode")
    assert code == 2
    tools = tiny_project / "specs" / "payment" / "tools.yaml"
    tools.write_text(tools.read_text().replace("inputSchema", "input_schema", 1))
    code, _, err = mcptrain("plan", str(tiny_project), "--detailed-exitcode")
    assert code == 1
    assert "tools.yaml:" in err and "the dataset was not built" in err


def test_a_second_plan_skips_the_build_and_names_a_changed_file(tiny_project: Path) -> None:
    mcptrain("plan", str(tiny_project))
    _, doc = plan_json(tiny_project)
    assert doc["actions"][0] == {"stage": "build", "action": "up to date",
                                 "reason": f"{len(doc['inputs']['files'])} spec files unchanged since the last build"}
    charges = tiny_project / CHARGES
    charges.write_text(charges.read_text().replace("Charge customer", "Please charge customer", 1))
    _, doc = plan_json(tiny_project)
    assert doc["actions"][0]["action"] == "run"
    assert doc["actions"][0]["reason"].startswith(f"{CHARGES.as_posix()} changed: the dataset becomes ")


def test_a_comment_only_edit_builds_the_same_dataset(tiny_project: Path) -> None:
    _, first = plan_json(tiny_project)
    charges = tiny_project / CHARGES
    charges.write_text("# reviewed by the payments team\n" + charges.read_text())
    _, doc = plan_json(tiny_project)
    assert doc["actions"][0] == {"stage": "build", "action": "up to date", "reason":
                                 f"{CHARGES.as_posix()} changed; the dataset they compile to is unchanged"}
    assert doc["inputs"]["dataset"] == first["inputs"]["dataset"]
    assert doc["inputs"]["train"] == first["inputs"]["train"]


def test_a_plan_after_mcptrain_build_says_the_built_dataset_is_current(tiny_project: Path) -> None:
    """`mcptrain build` writes datasets/ but no stage record; the next plan finds the specs
    compile to that dataset and says so (it had said "never built; ... unchanged")."""
    code, _, err = mcptrain("build", str(tiny_project), "--no-dvc")
    assert code == 0, err
    manifest = json.loads((tiny_project / "datasets" / "manifest.json").read_text())
    _, doc = plan_json(tiny_project)
    assert doc["actions"][0] == {"stage": "build", "action": "up to date", "reason":
                                 f"datasets/ ({manifest['content_hash'][:12]}) is what the specs compile to; "
                                 "its build is recorded now"}
    _, doc = plan_json(tiny_project)
    assert doc["actions"][0]["reason"] == f"{len(doc['inputs']['files'])} spec files unchanged since the last build"


def test_a_new_synonym_rebuilds_and_re_evaluates_without_retraining(tiny_project: Path) -> None:
    """The rows carry the vocabulary's terms for the decoder only (`canonical_values`):
    training's inputs stay the same, evaluation's move."""
    _, first = plan_json(tiny_project)
    vocabulary = tiny_project / "specs" / "payment" / "vocabulary.yaml"
    vocabulary.write_text(vocabulary.read_text().replace("went through]", "went through, cleared]"))
    _, doc = plan_json(tiny_project)
    assert doc["actions"][0]["action"] == "run"
    assert doc["inputs"]["dataset"] != first["inputs"]["dataset"]
    assert doc["inputs"]["train"] == first["inputs"]["train"]
    # A word training does read (a tool's description) retrains.
    tools = tiny_project / "specs" / "payment" / "tools.yaml"
    tools.write_text(tools.read_text().replace("Charge a customer.", "Charge one customer.", 1))
    _, doc = plan_json(tiny_project)
    assert doc["inputs"]["train"] != first["inputs"]["train"]


def test_a_saved_plan_is_refused_naming_the_file_that_moved(tiny_project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    code, out, err = mcptrain("plan", str(tiny_project), "--out", str(saved))
    assert code == 0, err
    assert f"apply exactly this plan with mcptrain reconcile {saved}" in out
    policy = tiny_project / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("min_overall_accuracy: 0.5", "min_overall_accuracy: 0.6"))
    code, _, err = mcptrain("reconcile", str(saved), "--root", str(tiny_project))
    assert code == 1
    assert f"{saved} is stale: policies/default.yaml changed since the plan was made" in err
    assert "hint: make a new one: mcptrain plan --out FILE" in err
    assert read_record(Workspace(tiny_project), "train") is None


def test_a_saved_plan_is_refused_when_the_recorded_state_moved(tiny_project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    mcptrain("plan", str(tiny_project), "--out", str(saved))
    doc = json.loads(saved.read_text())
    doc["recorded"]["gate"] = "0" * 64  # as if another reconcile had gated since
    saved.write_text(json.dumps(doc))
    code, _, err = mcptrain("reconcile", str(saved), "--root", str(tiny_project))
    assert code == 1
    assert "the recorded state of gate changed since the plan was made (.mcptrain/stages; another reconcile ran)" in err


def test_a_plan_from_another_repository_or_version_is_refused(tiny_project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    mcptrain("plan", str(tiny_project), "--out", str(saved))
    other = tmp_path / "other"
    shutil.copytree(tiny_project, other)
    code, _, err = mcptrain("reconcile", str(saved), "--root", str(other))
    assert code == 1
    assert (f"{saved} was made for project 'good-model' in the folder {tiny_project.resolve()}; "
            f"this is project 'good-model' in the folder {other.resolve()}") in err
    doc = json.loads(saved.read_text())
    saved.write_text(json.dumps({**doc, "mcptrain_version": "0.0.1"}))
    code, _, err = mcptrain("reconcile", str(saved), "--root", str(tiny_project))
    assert code == 1
    assert f"{saved} was made by mcptrain 0.0.1; this is mcptrain {__version__}" in err
    saved.write_text("{not json")
    code, _, err = mcptrain("reconcile", str(saved), "--root", str(tiny_project))
    assert code == 1 and f"{saved}: not a saved plan (not JSON:" in err


def test_a_clone_of_the_same_repository_accepts_the_plan(tiny_project: Path, tmp_path: Path) -> None:
    """CI plans on one runner and applies on another: the repository is its first commit."""
    subprocess.run(["git", "init", "-q"], cwd=tiny_project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tiny_project, check=True)
    subprocess.run(["git", "commit", "-qm", "specs"], cwd=tiny_project, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(tiny_project), str(clone)], check=True)
    saved = tmp_path / "plan.json"
    _, doc = plan_json(tiny_project, "--out", str(saved))
    assert doc["repository"]["root_commit"] and doc["repository"]["path"] is None
    code, out, err = mcptrain("reconcile", str(saved), "--root", str(clone), "--dry-run")
    assert code == 0, err
    assert f"applying the saved plan {saved}" in out and "dry run" in out


def test_plan_errors_are_github_annotations_in_actions(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    tools = tiny_project / "specs" / "payment" / "tools.yaml"
    tools.write_text(tools.read_text().replace("inputSchema", "input_schema", 1))
    code, out, err = mcptrain("plan", str(tiny_project), "--detailed-exitcode")
    assert code == 1
    assert "::error file=specs/payment/tools.yaml,line=" in out
    assert "specs/payment/tools.yaml:" in err
