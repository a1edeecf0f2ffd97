"""State from git: the registry's production entry as the record of the train, eval and gate
stages when the local cache (`.mcptrain/stages/`) is cold.

The stage records are a cache; the truth is `models/registry.yaml` (and `datasets.dvc`). A
production entry records the inputs its train and eval stages ran on and the gate policies
it passed (`fingerprints.stages`), so a fresh runner whose specs, policies and project file
compute the same inputs plans nothing. The adapter is needed only by a stage that runs
after training: when one must run, the plan says so and trains again, unless the adapter
is at hand (the registry names where it lives).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcptrain.reconciler.records import inputs_hash
from mcptrain.reconciler.sources import Facts
from mcptrain.specs.models import ModelVersionSpec


@dataclass(frozen=True)
class Production:
    version: str
    decision: str  # the gate verdict it was promoted with
    adapter: str  # where the registry says the adapter lives
    trained: bool  # trained on exactly the current train inputs
    matches: bool  # trained, evaluated and gated on exactly the current inputs

    def reason(self, stage: str) -> str:
        return {
            "train": f"production v{self.version} was trained on exactly these inputs (its adapter, "
                     f"{self.adapter}, is fetched only when a later stage needs it)",
            "eval": f"production v{self.version} was evaluated on exactly these inputs",
            "gate": f"production v{self.version} passed these gate policies ({self.decision})",
            "promote": f"v{self.version} is production",
        }[stage]

    def missing_adapter(self) -> str:
        return (f"production v{self.version} was trained on these inputs, but its adapter ({self.adapter}) is "
                "not here for the stages after training: trained again")


def policies_hash(facts: Facts) -> str:
    """The gate's policies and each service's threshold and criticality: what a verdict depends
    on beside the evaluation."""
    return inputs_hash({"policies": [p.model_dump(mode="json") for p in facts.policies],
                        "services": {n: [facts.thresholds[n], n in facts.critical] for n in sorted(facts.thresholds)}})


def production_state(live: ModelVersionSpec | None, *, train: str, evaluate: str, policies: str) -> Production | None:
    """What the production entry says about the current inputs (None: no production, or one
    promoted before entries recorded their stage inputs)."""
    if live is None or not live.fingerprints.stages:
        return None
    stages = live.fingerprints.stages
    trained = stages.get("train") == train
    return Production(live.version, live.gate.decision, live.adapter.uri or live.adapter.path or "not recorded",
                      trained, trained and stages.get("eval") == evaluate and stages.get("policies") == policies)
