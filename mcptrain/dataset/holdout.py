"""The holdout's lifecycle: what the next quarterly refresh changes.

The chapter keeps a time-based holdout ("Last 90 days", refreshed quarterly; the previous
holdout "can now be used for training") and rotates the zero-shot tools ("every 6
months"). `propose_refresh` says what the next refresh would set in `mcptrain.yaml`
(`splits.time_holdout_after`, `splits.zero_shot_rotation`) and what that moves: the
examples that leave the holdout for the phrasing split, the ones that enter it, the tools
that return to training and the ones held out next. `commands/holdout.py` shows it as a
diff a person commits; nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mcptrain.dataset.splits import choose_zero_shot_tools
from mcptrain.specs.loader import Specs

WINDOW_DAYS = 90  # the chapter's "holdout_period: Last 90 days"


@dataclass(frozen=True)
class Refresh:
    cutoff: dt.date | None  # splits.time_holdout_after now
    next_cutoff: dt.date
    rotation: int  # splits.zero_shot_rotation now
    next_rotation: int
    released: list[str] = field(default_factory=list)  # example ids leaving the holdout for training
    held: list[str] = field(default_factory=list)  # example ids entering the holdout
    tools_back: list[str] = field(default_factory=list)  # zero-shot tools returning to training
    tools_out: list[str] = field(default_factory=list)  # tools held out next

    @property
    def changes(self) -> bool:
        return self.cutoff != self.next_cutoff or self.rotation != self.next_rotation


def propose_refresh(specs: Specs, today: dt.date, *, rotate_tools: bool = True,
                    window_days: int = WINDOW_DAYS) -> Refresh:
    """The next window (examples created in the last `window_days` days are held out) and,
    with `rotate_tools`, the next rotation of zero-shot tools."""
    config = specs.project_spec.splits
    next_cutoff = today - dt.timedelta(days=window_days)
    if config.time_holdout_after is not None and next_cutoff < config.time_holdout_after:
        next_cutoff = config.time_holdout_after  # a window only moves forward
    next_rotation = config.zero_shot_rotation + (1 if rotate_tools else 0)
    released, held = [], []
    for item_id, created in _dated_items(specs):
        before = config.time_holdout_after is not None and created > config.time_holdout_after
        after = created > next_cutoff
        if before and not after:
            released.append(item_id)
        elif after and not before:
            held.append(item_id)
    tools = {name: [t.name for ts in b.toolsets for t in ts.spec.tools] for name, b in specs.services.items()}
    critical = [n for n, b in specs.services.items() if b.service and b.service.spec.critical]
    now = choose_zero_shot_tools(tools, config, critical)
    later = choose_zero_shot_tools(tools, config.model_copy(update={"zero_shot_rotation": next_rotation}),
                                   critical)
    return Refresh(config.time_holdout_after, next_cutoff, config.zero_shot_rotation, next_rotation,
                   sorted(released), sorted(held), _named(now - later), _named(later - now))


def _named(pairs: set[tuple[str, str]]) -> list[str]:
    return [f"{service}/{tool}" for service, tool in sorted(pairs)]


def _dated_items(specs: Specs) -> list[tuple[str, dt.date]]:
    """Every example and edge case with a `created_at`: what the time-based holdout sorts."""
    out: list[tuple[str, dt.date]] = []
    for bundle in specs.services.values():
        for ex_file in bundle.examples:
            out += [(ex.id, ex.created_at) for ex in ex_file.spec.examples if ex.created_at is not None]
        for ec_file in bundle.edge_cases:
            out += [(ec.id, ec.created_at) for ec in ec_file.spec.edge_cases if ec.created_at is not None]
    return out
