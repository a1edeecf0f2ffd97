"""Gate policies name categories and services; a misspelt name would only surface at gate
time as "no evaluation items". Checked against the specs, with did-you-mean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mcptrain.specs import models as s
from mcptrain.specs.loader import Loaded, Specs
from mcptrain.suggestions import did_you_mean

Report = Callable[..., None]  # (loaded, loc, message, *, key=..., hint=...)


def known_names(specs: Specs) -> dict[str, set[str]]:
    """What a policy may name: categories, services, scenario tags and priorities."""
    categories = set(s.CATEGORIES)
    tags: set[str] = set()
    for bundle in specs.services.values():
        for tests in bundle.tests:
            for sc in tests.spec.scenarios:
                tags.update(sc.tags)
                if sc.category:
                    categories.add(sc.category)
    return {"category": categories, "service": set(specs.services), "tag": tags,
            "priority": set(s.PRIORITIES), "category or tag": categories | tags}


# field -> (what it names, whether the names are the field's keys). A policy field added
# later that names categories, services, tags or priorities is checked by adding it here.
POLICY_NAMES: dict[str, tuple[str, bool]] = {
    "thresholds": ("category", True),
    "critical_categories": ("category or tag", False),  # scenario tags cut across services
    "critical_services": ("service", False),
}


def check_policies(specs: Specs, report: Report) -> None:
    known = known_names(specs)
    for policy in specs.policies:
        for field, (what, keys) in POLICY_NAMES.items():
            value = getattr(policy.spec, field, None)
            if not value:
                continue
            names: Iterable[tuple[Any, str]] = (
                ((k, k) for k in value) if keys else ((i, v) for i, v in enumerate(value)))
            for where, name in names:
                if name in known[what]:
                    continue
                options = sorted(known[what])
                hint = did_you_mean(str(name), options) or (
                    f"known {what} names: {', '.join(options)}" if options else None)
                report(policy, (field, where), f"unknown {what} {name!r}", key=keys, hint=hint)


def check_scenario_category(loaded: Loaded[Any], loc: tuple[Any, ...], category: str | None,
                            report: Report) -> None:
    """A category of one's own is allowed (reports group by it), but is warned about."""
    if category is not None and category not in s.CATEGORIES:
        report(loaded, loc, f"category {category!r} is none of BFCL's ({', '.join(s.CATEGORIES)})",
               severity="warning", hint=did_you_mean(category, s.CATEGORIES))
