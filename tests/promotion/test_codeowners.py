from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli import mcptrain
from tests.conftest import PROJECTS

PERSON = "# a person's line\n*   @acme/everyone\n"


def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(PROJECTS / "good", root)
    project = root / "mcptrain.yaml"
    project.write_text(project.read_text() + "owners: ['@acme/ml-platform']\n")
    (root / ".github").mkdir()
    (root / ".github" / "CODEOWNERS").write_text(PERSON)
    return root


def test_codeowners_keeps_a_person_s_lines_and_writes_the_owners_of_the_specs(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, out, err = mcptrain("codeowners", str(root))
    assert code == 0, err
    text = (root / ".github" / "CODEOWNERS").read_text()
    assert text.startswith(PERSON)
    assert "/policies/              @acme/ml-platform\n" in text
    assert "/specs/payment/         @acme/payments\n" in text
    assert mcptrain("codeowners", str(root), "--check") == (0, "mcptrain: .github/CODEOWNERS is up to date\n", "")
    assert mcptrain("codeowners", str(root))[1] == "mcptrain: .github/CODEOWNERS is up to date\n"


def test_validate_reports_a_stale_codeowners(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert mcptrain("codeowners", str(root))[0] == 0
    service = root / "specs" / "payment" / "service.yaml"
    service.write_text(service.read_text().replace("@acme/payments", "@acme/billing"))
    code, out, err = mcptrain("validate", str(root))
    assert code == 0
    assert ".github/CODEOWNERS:4:1: warning: out of date with the services' and the project's owners" in err
    assert "hint: mcptrain codeowners" in err
    assert mcptrain("validate", str(root), "--strict")[0] == 1
    code, _, err = mcptrain("codeowners", str(root), "--check")
    assert code == 1 and "out of date" in err


def test_validate_reports_a_broken_registry_at_its_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "models").mkdir()
    (root / "models" / "registry.yaml").write_text(
        "apiVersion: mcptrain/v1\nkind: ModelRegistry\nmodels:\n  m:\n    - version: 1.0.0\n      status: live\n")
    code, _, err = mcptrain("validate", str(root))
    assert code == 1
    assert "models/registry.yaml:6:15: models.m[0].status: expected 'candidate', 'production', 'deprecated' or " \
           "'rejected' (got 'live')" in err
