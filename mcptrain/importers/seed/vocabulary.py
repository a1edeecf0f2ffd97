"""The per-tool document's `domain_vocabulary`: rules (`rule`, `examples`) and terms
(`our_values`, `user_might_say`) for the parameters of the tools it names.

An entry is matched to parameters by its name (`amount`, `create_payment.amount`, or the
seed's plural topic `amounts` -> every `amount` parameter of the document's tools), by its
values (`payment_states`' `our_values` -> the parameter whose `enum` holds them, in any of
the service's tools), or, for identification guidance (`acceptable`, `never_use_alone`,
`reason`), to rules on the acceptable parameters. An entry that fits no known parameter is
not imported: it rides along in vocabulary.yaml as a comment, with a warning naming where
it could go.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from mcptrain.importers.json_document import JsonDocument, describe
from mcptrain.importers.seed import shapes
from mcptrain.importers.seed.conversion import Conversion, Draft, rule_key
from mcptrain.importers.seed.shapes import SeedItemError
from mcptrain.locations import Loc, dotted
from mcptrain.specs import models as s


def read_vocabulary(conv: Conversion, doc: JsonDocument, svc: str | None, tools: list[str]) -> None:
    """The document's `domain_vocabulary` (an object or an array), an entry at a time."""
    raw = doc.data["domain_vocabulary"]
    entries: list[tuple[Any, Any, Loc]]
    if isinstance(raw, dict):
        entries = [(k, v, ("domain_vocabulary", k)) for k, v in raw.items()]
    elif isinstance(raw, list):
        entries = []
        for i, v in enumerate(raw):
            name = next((v[k] for k in ("parameter", "param", "term", "name", "field") if k in v), None) \
                if isinstance(v, dict) else None
            if name is None:
                raise SeedItemError(("domain_vocabulary", i), "a vocabulary entry in a list needs 'parameter' (or 'term')")
            entries.append((name, v, ("domain_vocabulary", i)))
    else:
        raise SeedItemError(("domain_vocabulary",), f"expected an object or an array (got {describe(raw)})")
    service = conv.service_for(("domain_vocabulary",), svc, tools)
    draft = conv.draft(service)
    own = [t for t, (owner, _, _) in conv.tools.items() if owner == service]
    scope = tools or own
    for key, entry, loc in entries:
        conv.attempt(doc, loc, partial(_entry, conv, doc, loc, str(key), entry, scope, draft, own))


def _entry(conv: Conversion, doc: JsonDocument, loc: Loc, key: str, entry: Any, tools: list[str],
           draft: Draft, service_tools: list[str]) -> None:
    if isinstance(entry, str):
        entry = {"rule": entry}
    if not isinstance(entry, dict):
        raise SeedItemError(loc, f"expected an object (got {describe(entry)})")
    conv.keys(doc, loc, entry, {"rule", "examples", "our_values", "user_might_say", "parameter", "param",
                                "term", "name", "field", "description", "acceptable", "never_use_alone",
                                "reason"})
    if "acceptable" in entry or "never_use_alone" in entry:
        return _identification(conv, doc, loc, key, entry, [*tools, *service_tools], draft)
    param = str(entry.get("parameter", entry.get("param", key)))
    targets = _parameters(conv, param, tools) or _by_values(conv, entry, list(dict.fromkeys([*tools, *service_tools])))
    if not targets:
        draft.unmapped.append(f"{Path(doc.path).name} {dotted(loc)}: {json.dumps(entry, ensure_ascii=False)}")
        near = _overlapping(conv, entry, list(dict.fromkeys([*tools, *service_tools])))
        conv.diags.append(doc.diagnostic(loc, f"not imported: {param!r} is not a parameter of "
                          f"{', '.join(tools) or 'any known tool'}"
                          + (f" (the enum of {near} holds some of its values, not all)" if near else ""),
                          severity="warning",
                          hint="name the parameter as 'tool.parameter' to import it as a rule or term; "
                               "it is kept as a comment in vocabulary.yaml"))
        return
    for target in targets:
        schema = _param_schema(conv, target)
        if "rule" in entry or "examples" in entry:
            rule: dict[str, Any] = {"parameter": target}
            text = str(entry.get("rule") or "")
            unit = shapes.unit_of(text, schema)
            if unit:
                rule["unit"] = unit
            if text:
                rule["rule"] = text
            examples = shapes.rule_examples(entry.get("examples"))
            if examples:
                rule["examples"] = examples
            shapes.check_item(s.RuleSpec, rule, loc)
            if rule_key(rule) in conv.vocab:
                conv.counts[doc.path]["already present"] += 1
            else:
                conv.vocab.add(rule_key(rule))
                draft.add("rules", rule, doc)
                conv.counts[doc.path]["vocabulary rule"] += 1
        if "our_values" in entry or "user_might_say" in entry:
            values = shapes.term_values(entry, loc)
            shapes.check_item(s.TermSpec, {"parameter": target, "values": values}, loc)
            values = conv.new_values(target, values)
            term = {"parameter": target, "values": values}
            if not values:
                conv.counts[doc.path]["already present"] += 1
            else:
                draft.add("terms", term, doc)
                conv.counts[doc.path]["vocabulary term"] += 1


def _parameters(conv: Conversion, param: str, tools: list[str]) -> list[str]:
    if "." in param:
        tool, name = param.rsplit(".", 1)
        return [param] if name in _props(conv, tool) else []
    exact = [f"{t}.{param}" for t in tools if param in _props(conv, t)]
    stem = param.lower().removesuffix("s")  # the seed's topics are plural: `amounts`
    return exact or [f"{t}.{p}" for t in tools for p in _props(conv, t) if p.lower() == stem]


def _by_values(conv: Conversion, entry: dict[str, Any], tools: list[str]) -> list[str]:
    """The parameters whose `enum` holds every canonical value of a term entry."""
    ours = entry.get("our_values")
    values = {str(v) for v in (ours if isinstance(ours, (list, dict)) else [])}
    if not values:
        return []
    return [f"{t}.{p}" for t in tools for p, sch in _props(conv, t).items()
            if isinstance(sch, dict) and isinstance(sch.get("enum"), list) and values <= {str(v) for v in sch["enum"]}]


def _overlapping(conv: Conversion, entry: dict[str, Any], tools: list[str]) -> str | None:
    """The first parameter whose `enum` shares a canonical value with a term entry."""
    ours = entry.get("our_values")
    values = {str(v) for v in (ours if isinstance(ours, (list, dict)) else [])}
    return next((f"{t}.{p}" for t in tools for p, sch in _props(conv, t).items()
                 if isinstance(sch, dict) and isinstance(sch.get("enum"), list)
                 and values & {str(v) for v in sch["enum"]}), None)


def _identification(conv: Conversion, doc: JsonDocument, loc: Loc, key: str, entry: dict[str, Any],
                    tools: list[str], draft: Draft) -> None:
    """`{acceptable: [customer_id, email], never_use_alone: [name], reason}` -> a rule on each
    acceptable parameter the tools have (the guidance in words, for prompts and reviewers)."""
    def names(k: str) -> list[str]:
        raw = entry.get(k) or []
        return [str(x) for x in (raw if isinstance(raw, list) else [raw])]

    acceptable, never = names("acceptable"), names("never_use_alone")
    text = (f"{key.replace('_', ' ').capitalize()}: use {' or '.join(acceptable) or 'an identifier'}"
            + (f"; never {' or '.join(never)} alone" if never else "") + "."
            + (f" {entry['reason']}" if isinstance(entry.get("reason"), str) else ""))
    targets = list(dict.fromkeys(t for field in acceptable for t in _parameters(conv, field, list(dict.fromkeys(tools)))))
    if not targets:
        draft.unmapped.append(f"{Path(doc.path).name} {dotted(loc)}: {json.dumps(entry, ensure_ascii=False)}")
        conv.diags.append(doc.diagnostic(loc, f"not imported: none of {', '.join(acceptable)} is a parameter of "
                          f"{', '.join(dict.fromkeys(tools)) or 'any known tool'}", severity="warning",
                          hint=f"it could go in vocabulary.yaml as a rule: {{parameter: <tool>.<parameter>, rule: {text!r}}}"))
        return
    for target in targets:
        rule = {"parameter": target, "rule": text}
        shapes.check_item(s.RuleSpec, rule, loc)
        if rule_key(rule) in conv.vocab:
            conv.counts[doc.path]["already present"] += 1
            continue
        conv.vocab.add(rule_key(rule))
        draft.add("rules", rule, doc)
        conv.counts[doc.path]["vocabulary rule"] += 1


def _props(conv: Conversion, tool: str) -> dict[str, Any]:
    schema = conv.tools.get(tool, ("", {}, ""))[1]
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def _param_schema(conv: Conversion, target: str) -> dict[str, Any]:
    tool, name = target.rsplit(".", 1)
    value = _props(conv, tool).get(name)
    return value if isinstance(value, dict) else {}
