from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcptrain.cli import app
from tests.conftest import PROJECTS


def mcptrain(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, re.sub(r"in \d+\.\d+s", "in Xs", result.stdout), result.stderr


def test_build_without_dvc(good_project: Path) -> None:
    code, out, err = mcptrain("build", str(good_project), "--no-dvc")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{good_project / 'datasets'} (content ")
    assert " train         │   18 │   95% " in lines  # every tool's first examples train
    assert " multiple          │    1 │        1 " in lines
    assert " tools covered                        │        5/5 " in lines
    assert lines[-2:] == [
        "services: 1 (payment-service) compiled, 0 reused from the build cache",
        f"mcptrain: built {good_project / 'datasets'} (19 rows) in Xs; DVC skipped; next: mcptrain train",
    ]
    assert err.splitlines() == [
        "mcptrain: warning: the specs have 3 warnings (see mcptrain validate)",
        "mcptrain: warning: validation, test, holdout are empty: each tool's examples are dealt to the splits "
        "whole (a template and its expansions are one example), so tools with few examples leave the small "
        "splits empty; write more examples per tool (README, The dataset)",
        "mcptrain: warning: scored behaviours with fewer than 3 validation rows: call (0); "
        "what is chosen on validation (the call-or-answer threshold, a recipe) cannot see them: add examples "
        "or edge cases of that kind",
        "mcptrain: warning: train holds 18 rows; the design chapter names 1,000 as the minimum for LoRA "
        "(10,000 recommended): expect memorising, not generalising",
        "mcptrain: warning: 5 tools with fewer than 10 examples: create_payment, get_customer_by_name, "
        "get_latest_order, get_payment_status, get_payments (the chapter: start with 10-20 hand-curated "
        "examples per tool, 100-200 in production)",
        "mcptrain: warning: imbalanced tools, under 50% of the mean 3.6 train rows per tool: "
        "get_customer_by_name (1), get_latest_order (1), get_payment_status (1), get_payments (1)",
    ]
    code, out, _ = mcptrain("build", str(good_project), "--no-dvc")
    assert "services: 0 compiled, 1 (payment-service) reused from the build cache" in out.splitlines()


def test_an_empty_split_is_warned_about_only_when_it_has_a_share(good_project: Path) -> None:
    (good_project / "mcptrain.yaml").write_text((good_project / "mcptrain.yaml").read_text()
                                                + "splits: {train: 0.9, validation: 0.1, test: 0, holdout: 0}\n")
    code, _, err = mcptrain("build", str(good_project), "--no-dvc")
    assert code == 0, err
    assert [line for line in err.splitlines() if " empty: " in line] == [
        "mcptrain: warning: validation is empty: each tool's examples are dealt to the splits whole (a template "
        "and its expansions are one example), so tools with few examples leave the small splits empty; write "
        "more examples per tool (README, The dataset)"]


def test_build_refuses_invalid_specs(tmp_path: Path) -> None:
    shutil.copytree(PROJECTS / "broken_calls", tmp_path / "broken")
    code, out, err = mcptrain("build", str(tmp_path / "broken"), "--no-dvc")
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (
        "specs/pay/examples/charges.yaml:7:43: examples[0].call.create_payment.invoice: unknown argument 'invoice'")
    assert err.splitlines()[-1] == (
        "mcptrain: 8 errors in the specs; the dataset was not built (the previous one, if any, is untouched)")
    assert not (tmp_path / "broken" / "datasets").exists()


def test_push_needs_dvc(good_project: Path) -> None:
    assert mcptrain("build", str(good_project), "--no-dvc", "--push") == (
        2, "", "mcptrain: --push needs DVC; drop --no-dvc\n")
    (good_project / "mcptrain.yaml").write_text(
        "apiVersion: mcptrain/v1\nkind: Project\nname: good-model\ndvc: {enabled: false}\n")
    code, out, err = mcptrain("build", str(good_project), "--push")
    assert code == 1
    assert err.splitlines()[-1] == "mcptrain: --push needs DVC, and dvc.enabled is false in mcptrain.yaml"
    code, out, err = mcptrain("data", "status", str(good_project))
    assert (code, err) == (1, "mcptrain: DVC is disabled (dvc.enabled: false in mcptrain.yaml)\n")


@pytest.mark.slow
def test_build_push_then_data_status_and_pull(good_project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(good_project)], check=True)
    code, out, err = mcptrain("build", str(good_project), "--push")
    assert code == 0, err
    md5 = re.search(r"datasets.dvc md5 (\S+), ", out)
    assert md5 is not None
    assert out.splitlines()[-1] == (
        f"mcptrain: built {good_project / 'datasets'} (19 rows) in Xs; datasets.dvc md5 {md5[1]}, "
        "pushed to remote 'storage'; next: commit datasets.dvc, then mcptrain train")
    assert (good_project / ".mcptrain" / "dvc-remote").is_dir()  # the embedded default remote
    assert mcptrain("data", "status", str(good_project)) == (0, (
        f"dataset    {md5[1]} (datasets.dvc)\n"
        "workspace  clean\n"
        "remote     storage: in sync\n"), "")
    shutil.rmtree(good_project / "datasets")
    code, out, err = mcptrain("data", "status", str(good_project), "--json")
    assert '"workspace": "missing"' in out
    assert mcptrain("data", "pull", str(good_project)) == (0, (
        f"mcptrain: pulled datasets/ (md5 {md5[1]}) from remote 'storage'; next: mcptrain train\n"), "")
    assert (good_project / "datasets" / "manifest.json").is_file()


def test_build_warns_of_a_floor_the_split_cannot_hold(capsys: pytest.CaptureFixture[str]) -> None:
    from mcptrain.commands.build import _check_floor

    seven = {"call": 40, "parallel": 9, "sequence": 8, "no_tool": 7, "clarify": 5, "ask_for_details": 4, "refuse": 3}
    _check_floor(0.15, seven)  # 7 x 0.15 > 1
    assert capsys.readouterr().err.splitlines() == [
        "mcptrain: warning: mcptrain.yaml: training.behaviour_floor: a behaviour floor of 0.15 cannot hold "
        "for 7 behaviours (at most 0.143 each); `mcptrain train` will refuse it"]
    _check_floor(0.15, {**seven, "refuse": 0, "clarify": 0})  # five held: 0.75
    _check_floor(0.0, seven)
    assert capsys.readouterr().err == ""
