from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcptrain.errors import SpecError
from mcptrain.promotion.registry import (
    empty_registry,
    metrics_of,
    parse_registry,
    production_summary,
    read_registry,
)

PERSON_WROTE = """\
# Acme's models. Ask #ml-platform before editing by hand.
apiVersion: mcptrain/v1
kind: ModelRegistry
models:
  acme-assistant:   # the assistant
    - version: 1.0.0
      status: production   # shipped in March
      created_at: '2026-03-01T10:00:00+00:00'
      backend: lora
      base_model: embedded:smollm2-135m-instruct
      dataset: {md5: 0123abcd.dir, content_hash: aaa}
      fingerprints: {specs: s1}
      metrics:
        overall: {accuracy: 0.75, correct: 3, n: 4}
        category: {simple: {accuracy: 1.0, correct: 2, n: 2}}
      gate: {decision: full, reason: every gate passes}
      bump: {level: major, reasons: [the first version of this model]}
"""


def entry(version: str, status: str = "candidate") -> dict[str, Any]:
    return {"version": version, "status": status, "created_at": "2026-04-01T10:00:00+00:00",
            "base_model": "embedded:smollm2-135m-instruct", "backend": "lora",
            "dataset": {"md5": None, "content_hash": "bbb"}, "fingerprints": {"specs": "s2", "tools": {}},
            "metrics": metrics_of({"overall": {"accuracy": 0.5, "correct": 1, "n": 2}, "by": {}}),
            "gate": {"decision": "blocked", "reason": "blocked: 1 checks fail", "failed_checks": ["x"]},
            "bump": {"level": "patch", "previous": "1.0.0", "reasons": ["payment-service: examples changed"]}}


def test_edits_keep_the_comments_order_and_formatting_a_person_wrote() -> None:
    registry = parse_registry(PERSON_WROTE)
    registry.put_candidate("acme-assistant", entry("1.0.1"))
    text = registry.text()
    assert text.startswith(PERSON_WROTE)  # every byte the person wrote, then the new entry
    assert "    - version: 1.0.1\n      status: candidate\n" in text
    registry.release("acme-assistant", "1.0.1", "2026-04-02T00:00:00+00:00")
    released = registry.text()
    assert "      status: deprecated   # shipped in March\n" in released
    assert released.replace("status: deprecated", "status: production").startswith(PERSON_WROTE)
    again = parse_registry(released)
    assert again.production("acme-assistant").version == "1.0.1"  # type: ignore[union-attr]
    assert [v.status for v in again.versions("acme-assistant")] == ["deprecated", "production"]


def test_a_new_candidate_replaces_the_unreleased_one() -> None:
    registry = parse_registry(PERSON_WROTE)
    assert registry.put_candidate("acme-assistant", entry("1.0.1")) == []
    assert registry.put_candidate("acme-assistant", entry("1.1.0")) == ["1.0.1"]
    assert [v.version for v in registry.versions("acme-assistant")] == ["1.0.0", "1.1.0"]


def test_an_empty_registry_takes_a_first_model_in_block_style() -> None:
    registry = empty_registry()
    registry.put_candidate("m", entry("1.0.0"))
    assert "models:\n  m:\n    - version: 1.0.0\n" in registry.text()
    assert read_registry(Path("/nonexistent")).spec.models == {}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("status: production", "status: live"),
     "models/registry.yaml:7:15: models.acme-assistant[0].status: expected 'candidate', 'production', "
     "'deprecated' or 'rejected' (got 'live')"),
    (lambda t: t.replace("      backend: lora\n", "      backend: lora\n      owner: me\n"),
     "models/registry.yaml:10:7: models.acme-assistant[0].owner: unknown key"),
    (lambda t: t + t[t.index("    - version"):],
     "models/registry.yaml:18:16: models.acme-assistant[1].version: version 1.0.0 is listed twice"),
    (lambda t: t + t[t.index("    - version"):].replace("1.0.0", "1.0.1", 1),
     "models/registry.yaml:19:15: models.acme-assistant[1].status: a second production version (1.0.0 is production)"),
    (lambda t: t.replace("version: 1.0.0", "version: v1.0.0"),
     "models/registry.yaml:6:16: models.acme-assistant[0].version: must match"),
])
def test_a_registry_broken_by_hand_is_reported_at_its_line(edit: Any, message: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_registry(edit(PERSON_WROTE))
    assert message in str(e.value), str(e.value)


def test_production_metrics_in_the_shape_the_gates_read() -> None:
    registry = parse_registry(PERSON_WROTE)
    summary = production_summary(registry.production("acme-assistant"))  # type: ignore[arg-type]
    assert summary["overall"] == {"accuracy": 0.75, "correct": 3, "n": 4}
    assert summary["by"]["category"]["simple"]["accuracy"] == 1.0
