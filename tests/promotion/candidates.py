"""Gated candidates built in memory, as the reconciler's records would describe them.

`candidate(...)` gives a `Candidate` for services with tools, a verdict and scores, without
training anything: promotion's tests (and the GitHub forge's) propose and promote these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcptrain.promotion.promote import Candidate

MODEL = "acme-assistant"
PARAMS = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


def surface(services: dict[str, list[str]], *, examples: int = 2, steps: int = 4) -> dict[str, Any]:
    """A surface (promotion.surface.capture_surface's shape): each service with its tools."""
    return {"format": 1, "base_model": "embedded:smollm2-135m-instruct", "backend": "lora",
            "training": {"max_steps": steps, "learning_rate": 0.01},
            "services": {name: {
                "owners": [f"@acme/{name.removesuffix('-service')}"],
                "tools": {t: {"description": f"{t} does it", "inputSchema": PARAMS} for t in sorted(tools)},
                "ids": {"examples": [f"{name}-{i}" for i in range(examples)], "edge_cases": [],
                        "scenarios": [f"{name}-s1"]},
                "content": {"examples": f"e{examples}", "edge_cases": "-", "vocabulary": "-", "scenarios": "-",
                            "service": "-"}}
                for name, tools in sorted(services.items())}}


def score(correct: int, n: int) -> dict[str, Any]:
    return {"accuracy": correct / n, "correct": correct, "n": n}


def verdict(decision: str, failing: list[str], services: list[str]) -> dict[str, Any]:
    checks = [{"policy": "default", "check": f"service {s}", "passed": s not in failing, "required": 0.8,
               "actual": 0.5 if s in failing else 0.9, "detail": "", "service": s} for s in services]
    ships = [s for s in services if s not in failing] if decision in ("full", "partial") else []
    return {"decision": decision, "reason": f"{decision}: {len(failing)} of {len(services)} services fail",
            "checks": checks, "deployable_services": ships, "failing_services": failing}


def candidate(tmp: Path, services: dict[str, list[str]], *, decision: str = "full",
              failing: tuple[str, ...] = (), examples: int = 2, report: str = "# report\n") -> Candidate:
    """A candidate for `services` (name -> tools) with the gate `decision`; its report files
    are written under `tmp/report/`."""
    report_dir = tmp / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "report.md").write_text(report)
    (report_dir / "report.json").write_text('{"candidate": {}}\n')
    names = sorted(services)
    summary = {"overall": score(3 * len(names) - len(failing), 4 * len(names)),
               "by": {"category": {"simple": score(3, 4)},
                      "service": {s: score(2 if s in failing else 4, 4) for s in names}, "priority": {}}}
    return Candidate(model=MODEL, surface=surface(services, examples=examples), summary=summary, baseline=None,
                     verdict=verdict(decision, list(failing), names), report_dir=report_dir,
                     created_at="2026-12-03T10:00:00+00:00", dataset={"md5": None, "content_hash": "c0ffee"},
                     adapter={"path": ".mcptrain/artifacts/lora-1", "uri": None, "inputs": "i1"},
                     platform_owners=["@acme/ml-platform"])
