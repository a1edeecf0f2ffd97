from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from mcptrain.cli import app
from mcptrain.commands.schema import DOCUMENTS, write_schemas
from mcptrain.specs.loader import find_spec_files
from mcptrain.specs.models import KINDS
from mcptrain.specs.yaml import load_document
from tests.conftest import PROJECTS, REPO

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)


def _spec_files() -> list[Path]:
    """Every spec file that ships: the demo organisation and the good example project."""
    return find_spec_files(REPO) + find_spec_files(PROJECTS / "good")


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    out = tmp_path_factory.mktemp("schemas")
    write_schemas(out)
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def test_one_schema_per_kind_and_one_for_the_registry(schemas: dict[str, dict[str, object]]) -> None:
    assert sorted(schemas) == sorted([*KINDS, "ModelRegistry"]) == sorted(DOCUMENTS)


@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_schema_is_valid_json_schema(schemas: dict[str, dict[str, object]], kind: str) -> None:
    Draft202012Validator.check_schema(schemas[kind])
    assert schemas[kind]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schemas[kind]["title"] == f"mcptrain {kind}"
    assert schemas[kind]["additionalProperties"] is False  # unknown keys are errors in editors too


def test_schema_keeps_field_descriptions(schemas: dict[str, dict[str, object]]) -> None:
    props = schemas["Service"]["properties"]
    assert props["critical"]["description"] == "Its scenarios gate at the critical threshold."  # type: ignore[index]
    assert "apiVersion" in props  # type: ignore[operator]


@pytest.mark.parametrize("path", _spec_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_specs_validate_against_their_schema(schemas: dict[str, dict[str, object]], path: Path) -> None:
    doc = load_document(path)
    kind = doc.data["kind"]
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in Draft202012Validator(schemas[kind]).iter_errors(doc.data)]
    assert errors == []


@pytest.mark.parametrize("path", _spec_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_modelines_point_at_the_schema_of_the_files_kind(path: Path) -> None:
    text = path.read_text()
    match = MODELINE.search(text)
    if match is None:
        pytest.skip("no modeline")
    kind = load_document(path).data["kind"]
    root = PROJECTS / "good" if path.is_relative_to(PROJECTS) else REPO
    assert (path.parent / match.group(1)).resolve() == (root / "schemas" / f"{kind}.json").resolve()


def test_cli_writes_and_replaces(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    out.mkdir()
    (out / "Service.json").write_text("stale")
    result = CliRunner().invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"wrote 9 JSON Schemas to {out}/ (Project.json, Service.json, ToolSet.json, Examples.json, "
        "EdgeCases.json, Vocabulary.json, TestScenarios.json, GatePolicy.json, ModelRegistry.json)",
        f"next: start each spec file with a modeline such as '# yaml-language-server: $schema={out}/Service.json' "
        "(relative to the file)",
    ]
    assert json.loads((out / "Service.json").read_text())["title"] == "mcptrain Service"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{k}.json" for k in DOCUMENTS)  # no temp files left


def test_cli_refuses_a_file_as_out_dir(tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    target.write_text("")
    result = CliRunner().invoke(app, ["schema", "--out", str(target)])
    assert result.exit_code == 1
    assert result.stderr == f"mcptrain: {target} exists and is not a directory\n"


def test_the_committed_schemas_are_current(schemas: dict[str, dict[str, object]]) -> None:
    """`schemas/` is committed so the demo specs' modelines work on a fresh clone; after a
    spec model changes, regenerate it with `mcptrain schema`."""
    import json

    for kind, schema in schemas.items():
        committed = json.loads((REPO / "schemas" / f"{kind}.json").read_text(encoding="utf-8"))
        assert committed == schema, f"schemas/{kind}.json is stale: run `mcptrain schema`"


def test_a_registry_promote_writes_validates_against_its_schema(
        schemas: dict[str, dict[str, object]], tmp_path: Path) -> None:
    from mcptrain.promotion.promote import Proposal, propose
    from mcptrain.promotion.registry import empty_registry
    from mcptrain.specs.yaml import parse_document
    from tests.promotion.candidates import candidate

    found = propose(tmp_path, empty_registry(), candidate(tmp_path, {"a-service": ["t"], "b-service": ["u"]},
                                                          decision="partial", failing=("b-service",)))
    assert isinstance(found, Proposal)
    data = parse_document(found.registry.text().encode(), "models/registry.yaml").data
    validator = Draft202012Validator(schemas["ModelRegistry"])
    assert [e.message for e in validator.iter_errors(data)] == []
    data["models"]["acme-assistant"][0]["status"] = "shipped"  # the schema catches what validate catches
    assert [e.message for e in validator.iter_errors(data)] == \
        ["'shipped' is not one of ['candidate', 'production', 'deprecated', 'rejected']"]


def test_a_new_registry_points_at_its_schema() -> None:
    from mcptrain.promotion.registry import REGISTRY_FILE, empty_registry

    match = MODELINE.search(empty_registry().text())
    assert match is not None
    assert ((REPO / REGISTRY_FILE).parent / match.group(1)).resolve() == REPO / "schemas" / "ModelRegistry.json"
