"""The promotion pull request's title and body (jinja2), rendered from a `Proposal`'s data.

The body starts with the hidden marker that identifies the pull request, then says: the
version and why, the data changed since production, base vs candidate vs production by
category and by service, the gate verdict with every failed check, a partial deployment's
per-service map, the chart, who reviews, and what happens on merge.
"""

from __future__ import annotations

from typing import Any

TITLE = "mcptrain: promote {model} v{version} ({verdict})"

BODY = """\
{{ marker }}
## {{ model }} v{{ version }}{% if previous %} ({{ level }} over v{{ previous }}){% else %} (the first version){% endif %}

**Gate verdict: {{ verdict.decision }}** — {{ verdict.reason }}
{% if verdict.decision not in ("full", "partial") %}
> This candidate is **blocked**: the `mcptrain/gates` status fails, so where branch protection
> requires it this pull request cannot be merged. The failed checks below say why (manual review:
> fix the specs or the policy, and `mcptrain reconcile` updates this pull request in place).
{% endif %}
### Why v{{ version }}
{% for r in reasons %}- **{{ r.level }}**: {{ r.text }}
{% endfor %}
### Data since {% if previous %}production (v{{ previous }}){% else %}nothing (first version){% endif %}

{% if data_diff %}| service | what | added | removed |
| --- | --- | --- | --- |
{% for service, kinds in data_diff.items() %}{% for kind in ("examples", "edge_cases", "scenarios") %}{% set a = kinds.get(kind ~ " added", []) %}{% set r = kinds.get(kind ~ " removed", []) %}{% if a or r %}| {{ service }} | {{ kind | replace("_", " ") }} | {{ a | length }}{% if a %} ({{ a[:5] | join(", ") }}{% if a | length > 5 %}, …{% endif %}){% endif %} | {{ r | length }}{% if r %} ({{ r[:5] | join(", ") }}{% if r | length > 5 %}, …{% endif %}){% endif %} |
{% endif %}{% endfor %}{% endfor %}{% else %}No examples, edge cases or scenarios added or removed.
{% endif %}
### Accuracy: base vs candidate vs production
{% for dim, rows in tables.items() %}
| {{ dim }} | base | candidate | production | items |
| --- | ---: | ---: | ---: | ---: |
{% for row in rows %}| {{ row[0] }} | {{ row[1] }} | **{{ row[2] }}** | {{ row[3] }} | {{ row[4] }} |
{% endfor %}{% endfor %}
### Gate checks: {{ failed | length }} of {{ checks }} failed
{% if failed %}
| policy | check | required | actual | detail |
| --- | --- | ---: | ---: | --- |
{% for c in failed %}| {{ c.policy }} | {{ c.check }} | {{ "%.2f" | format(c.required) }} | {{ "-" if c.actual is none else "%.3f" | format(c.actual) }} | {{ c.detail }} |
{% endfor %}{% else %}Every gate passes.
{% endif %}{% if deployment %}
### Partial deployment
| service | served by | owners |
| --- | --- | --- |
{% for service, d in deployment.items() %}| {{ service }} | {{ "v" ~ d.version if d.version else "nothing yet (keeps its current setup)" }} | {{ d.owners | join(" ") }} |
{% endfor %}{% endif %}
### Files on this branch
- `{{ registry_file }}`: the v{{ version }} entry (status `{{ status }}`)
- `{{ folder }}/report.md`, `{{ folder }}/report.json`{% if chart %}, `{{ folder }}/accuracy.png` (the chart){% endif %}
- `{{ folder }}/surfaces/v{{ version }}.json`: the tools and data this version was trained on (the next version is compared with it)
- The adapter is not committed: {{ adapter }}

### Review
{% if owners %}Owners: {{ owners | join(" ") }}{% else %}No owners are declared (Service `owners`, Project `owners`).{% endif %}

On merge, `mcptrain release` (the release workflow) marks v{{ version }} production{% if previous %} and v{{ previous }} deprecated{% endif %}, and tags `{{ model }}@v{{ version }}` and `{{ model }}#prod#<n>`.

<sub>Opened and updated in place by `mcptrain promote`; a commit you push to `{{ branch }}` is never overwritten.</sub>
"""


def render_body(context: dict[str, Any]) -> str:
    from jinja2 import Environment, StrictUndefined

    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(BODY).render(**context)


def accuracy_tables(candidate: dict[str, Any], baseline: dict[str, Any] | None,
                    production: dict[str, Any] | None) -> dict[str, list[tuple[str, ...]]]:
    """Rows of (name, base, candidate, production, items) for overall, category and service."""
    def cell(summary: dict[str, Any] | None, dim: str, key: str) -> str:
        if summary is None:
            return "-"
        score = summary["overall"] if dim == "overall" else summary.get("by", {}).get(dim, {}).get(key)
        return "-" if not score or not score.get("n") else f"{score['accuracy']:.1%}"

    out: dict[str, list[tuple[str, ...]]] = {}
    for dim in ("category", "service"):
        keys = list(candidate.get("by", {}).get(dim, {}))
        rows: list[tuple[str, ...]] = [(str(k), cell(baseline, dim, k), cell(candidate, dim, k), cell(production, dim, k),
                 str(candidate["by"][dim][k]["n"])) for k in keys]
        if dim == "category":
            rows.insert(0, ("**overall**", cell(baseline, "overall", ""), cell(candidate, "overall", ""),
                            cell(production, "overall", ""), str(candidate["overall"]["n"])))
        out[dim] = rows
    return out
