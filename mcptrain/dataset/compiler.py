"""Turn one service's specs into canonical rows (docs/rows.md).

Rows come out without `split` (chosen later, by `splits`). Each row carries the tools it
offers (`tools`: its own service's, plus those of the services it spans, qualified where
names clash; or exactly the item's own `tools:`, a subset of its service's or inline
definitions such as an imported BFCL item's functions; `specs/scope.py`) and the services
they come from (`services`); rows with the same services share one tools list. Everything here is a pure function of the
service's own files, the tool and service files of the services its rows span
(`CompiledService.depends_on`) and the project settings in `row_settings`, which is what
makes the per-service build cache sound.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mcptrain.dataset.directory import Directory, function_tool
from mcptrain.dataset.knowledge import row_mistakes
from mcptrain.errors import StageError
from mcptrain.replies import written_reply_field
from mcptrain.specs import models as s
from mcptrain.specs.dialogue import TurnSpec, alternatives_of, is_alternatives
from mcptrain.specs.loader import ServiceBundle
from mcptrain.specs.scope import Scope
from mcptrain.specs.templates import (
    TemplateExpansionError,
    context_values,
    expand_queries,
    fill_text,
    fill_value,
)

# Bump when the rows compiled from unchanged specs change: it invalidates the build cache.
ROWS_FORMAT = 3  # 2: rows carry `common_mistakes`; 3: rows carry their own `tools` and `services`

Row = dict[str, Any]
__all__ = ["CompiledService", "Row", "behaviour_reply", "category_of", "compile_service", "function_tool",
           "row_settings", "verb_of"]


@dataclass(frozen=True)
class CompiledService:
    name: str
    tools: list[dict[str, Any]]  # the service's own OpenAI-style function tools, in toolset order
    rows: list[Row]
    depends_on: list[str] = field(default_factory=list)  # other services its rows offer tools of


def row_settings(project: s.ProjectSpec) -> dict[str, Any]:
    """The project settings that change compiled rows (part of each cache key)."""
    return {
        "rows_format": ROWS_FORMAT,
        "system_prompt": project.system_prompt,
        "max_template_expansions": project.max_template_expansions,
        "context": project.context.model_dump(mode="json") if project.context else None,
        "context_template": project.context_template,
        "domain_knowledge": project.prompt.domain_knowledge,
    }


def compile_service(bundle: ServiceBundle, project: s.ProjectSpec,
                    directory: Directory | None = None) -> CompiledService:
    """`directory` knows every service (for rows that span several); without it, only this one."""
    directory = directory or Directory.of({bundle.name: bundle})
    tools = [function_tool(t) for ts in bundle.toolsets for t in ts.spec.tools]
    compiler = _Compiler(bundle.name, project, directory)
    try:
        for ex_file in bundle.examples:
            for ex in ex_file.spec.examples:
                compiler.example(ex)
        for ec_file in bundle.edge_cases:
            for case in ec_file.spec.edge_cases:
                compiler.edge_case(case)
        for sc_file in bundle.tests:
            for sc in sc_file.spec.scenarios:
                compiler.scenario(sc)
    except TemplateExpansionError as e:  # validate passed, so this is a bug
        raise StageError(f"{bundle.name}: {compiler.current!r}: {e.message}") from e
    return CompiledService(bundle.name, tools, compiler.rows, sorted(compiler.spanned - {bundle.name}))


def category_of(calls: list[tuple[str, dict[str, Any]]], *, sequence: bool, shared_verbs: set[str]) -> str:
    """The BFCL category of an expected answer.

    Every row lists all of its offered tools, so by BFCL's letter (several functions
    offered) every single call would be `multiple`. A single call is `multiple` when
    the row offers another tool with the same verb (create_payment next to
    create_invoice): the model must choose between look-alikes. Otherwise `simple`.
    """
    if sequence:
        return "multi_turn"
    if len(calls) > 1:
        return "parallel" if len({name for name, _ in calls}) == 1 else "parallel_multiple"
    return "multiple" if verb_of(calls[0][0]) in shared_verbs else "simple"


def verb_of(tool_name: str) -> str:
    return tool_name.rsplit("__", 1)[-1].replace(".", "_").replace("-", "_").split("_", 1)[0].lower()


def behaviour_reply(expect: Any) -> str:
    """The assistant's text turn for a behaviour (clarify, ask_for_details, refuse, no_tool):
    the written one (`written_reply_field`, which `validate` reads too), else the build's own."""
    written = written_reply_field(expect.action, expect.question, expect.response)
    if written is not None:
        return str(getattr(expect, written))
    if expect.action == "clarify":
        return "Could you tell me a bit more about what you need?"
    if expect.action == "ask_for_details":
        fields = [f.replace("_", " ") for f in expect.required_fields or []]
        listed = fields[0] if len(fields) == 1 else ", ".join(fields[:-1]) + f" and {fields[-1]}"
        return f"I can do that, but I need a few more details first: the {listed}. Could you provide them?"
    if expect.action == "refuse":
        return f"I can't help with that: {expect.reason}" if expect.reason else "I can't help with that request."
    if expect.action == "use_tool":
        return "I'll use one of the available tools for that."
    return "I can answer that directly; it doesn't need any of the tools."


@dataclass
class _Answer:
    """An answer with its values filled in: calls as (spec name, arguments), or a behaviour."""

    calls: list[tuple[str, Any]] | None = None
    sequence: list[tuple[str, Any, Any]] | None = None  # (name, arguments, result)
    action: str | None = None
    reply: str = ""
    required_fields: list[str] | None = None


class _Compiler:
    def __init__(self, service: str, project: s.ProjectSpec, directory: Directory) -> None:
        self.service = service
        self.project = project
        self.directory = directory
        self.limit = project.max_template_expansions
        self.rows: list[Row] = []
        self.spanned: set[str] = set()
        self.current = ""

    # ------------------------------------------------------------ spec kinds

    def example(self, ex: s.ExampleSpec) -> None:
        self.current = ex.id
        meta = {"kind": "example", "source": ex.source, "quality": ex.quality, "created_at": _date(ex.created_at)}
        scope, system, values = self.setting(ex, ex.context, _spec_calls(ex))
        if ex.template is None:  # a template's expansions have no documented mistakes of their own
            self.add_row(ex.id, ex.id, scope, system, self.history(ex, values), self.answer(ex, values),
                         documented=ex.common_mistakes, **meta)
            return
        assert ex.vars is not None
        for exp in expand_queries(ex.template, ex.vars, self.limit):
            bound = {**values, **exp.values}
            self.add_row(f"{ex.id}#{exp.index}", ex.id, scope, system, [_user(exp.query)],
                         self.answer(ex, bound), **meta)

    def edge_case(self, case: s.EdgeCaseSpec) -> None:
        self.current = case.id
        scope, system, values = self.setting(case, case.context, [case.tool] if case.tool else [])
        target = [scope.resolve(case.tool).name] if case.tool else []
        meta = {"kind": "edge_case", "target_tools": target, "created_at": _date(case.created_at)}
        if case.template is None:
            assert case.query is not None
            self.add_row(case.id, case.id, scope, system, [_user(case.query)],
                         self.answer(case.expect, values), **meta)
            return
        assert case.vars is not None
        for exp in expand_queries(case.template, case.vars, self.limit):
            self.add_row(f"{case.id}#{exp.index}", case.id, scope, system, [_user(exp.query)],
                         self.answer(case.expect, {**values, **exp.values}), **meta)

    def scenario(self, sc: s.ScenarioSpec) -> None:
        self.current = sc.id
        options = sc.expect.options()
        called = [n for o in options for n in _spec_calls(o)] + _spec_calls(sc)
        scope, system, values = self.setting(sc, sc.context, called)
        answers = [self.answer(o, values) for o in options]
        meta: dict[str, Any] = {"kind": "scenario", "priority": sc.priority, "tags": list(sc.tags),
                                "min_accuracy_required": sc.min_accuracy_required}
        if sc.category:
            meta["category"] = sc.category
        if len(options) > 1 or any(_has_alternatives(a) for a in answers):
            meta["accept"] = [self.acceptable(a, scope) for a in answers]
            later = self.later_steps(answers, scope)
            if later:
                meta["accept_steps"] = later
        reference = _reference(answers[0])
        self.add_row(sc.id, sc.id, scope, system, self.history(sc, values), reference, **meta)

    # ------------------------------------------------------------ pieces of a row

    def setting(self, row: Any, context: Any, called: list[str]) -> tuple[Scope, str, dict[str, Any]]:
        """The row's scope, its system prompt, and the template values of its context."""
        own_tools = getattr(row, "tools", None)
        scope = (self.directory.index.restricted(self.service, own_tools) if own_tools is not None
                 else self.directory.index.scope(self.service, getattr(row, "services", []), called))
        self.spanned.update(scope.services)
        system = self.directory.system_prompt(self.project, scope, self.service, context)
        from mcptrain.specs.dialogue import merge_contexts

        merged = merge_contexts(self.project.context, self.directory.contexts.get(self.service), context)
        return scope, system, context_values(merged.date if merged is not None else None)

    def history(self, row: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages before the answer: the query, or the dialogue's turns."""
        if row.messages is None:
            return [_user(row.query)]
        out: list[dict[str, Any]] = []
        unanswered: list[str] = []
        for turn in row.messages:
            out += self.turn(turn, values, unanswered)
        return out

    def turn(self, turn: TurnSpec, values: dict[str, Any], unanswered: list[str]) -> list[dict[str, Any]]:
        if turn.user is not None:
            return [_user(turn.user)]
        if turn.assistant is not None:
            return [{"role": "assistant", "content": turn.assistant}]
        if turn.kind == "result":
            return [{"role": "tool", "name": unanswered.pop(0), "content": _result_text(turn.result)}]
        calls = [next(iter(c.items())) for c in (turn.calls or [turn.call or {}])]
        rendered = [(n, fill_value(a, values, (n,))) for n, a in calls]
        unanswered += [n for n, _ in rendered]  # resolved to offered names in add_row
        return [{"role": "assistant", "content": None, "_calls": rendered}]

    def answer(self, spec: Any, values: dict[str, Any]) -> _Answer:
        if spec.call is not None or spec.calls is not None:
            calls = [next(iter(c.items())) for c in (spec.calls or [spec.call])]
            return _Answer(calls=[(n, fill_value(a, values, (n,))) for n, a in calls])
        if spec.sequence is not None:
            return _Answer(sequence=[(n, fill_value(a, values, (n,)), fill_value(st.result, values, ("result",)))
                                     for st in spec.sequence for n, a in st.call.items()])
        texts = {n: fill_text(getattr(spec, n), values, (n,)) if getattr(spec, n) else getattr(spec, n)
                 for n in ("question", "response", "reason")}
        filled = spec.model_copy(update=texts)
        return _Answer(action=spec.action or "no_tool", reply=behaviour_reply(filled),
                       required_fields=list(spec.required_fields) if spec.required_fields else None)

    def acceptable(self, answer: _Answer, scope: Scope, step: int = 0) -> dict[str, Any]:
        """One acceptable answer for scored turn `step` (0: the first), in BFCL's ground-truth form."""
        if answer.action is not None:
            return {"action": answer.action, "required_fields": answer.required_fields or []}
        calls = (answer.calls if answer.calls is not None
                 else [(n, a) for n, a, _ in (answer.sequence or [])[step:step + 1]])
        truth = []
        for name, args in calls:
            params = {}
            for key, value in args.items():
                values, optional = alternatives_of(value)
                params[key] = [_bfcl(v) for v in values] + ([""] if optional else [])
            truth.append({scope.resolve(name).offered: params})
        return {"ground_truth": truth}

    def later_steps(self, answers: list[_Answer], scope: Scope) -> dict[str, list[dict[str, Any]]]:
        """What each later step of a multi-step reference answer (the first) may answer: the
        step of every option that took the same calls, with the same results, before it (the
        row's history is the reference's), with their argument alternatives. Keyed by the step
        number as `eval_items` counts them (\"2\", \"3\", ...)."""
        reference = answers[0].sequence
        if reference is None or len(reference) < 2:
            return {}
        out: dict[str, list[dict[str, Any]]] = {}
        for k in range(1, len(reference)):
            same = [a for a in answers if a.sequence is not None and len(a.sequence) > k
                    and a.sequence[:k] == reference[:k]]
            out[str(k + 1)] = [self.acceptable(a, scope, k) for a in same]
        return out

    # ------------------------------------------------------------ rows

    def add_row(self, row_id: str, source_id: str, scope: Scope, system: str, history: list[dict[str, Any]],
                answer: _Answer, documented: Any = (), **meta: Any) -> None:
        names = {n: scope.resolve(n) for n in _names(history, answer)}
        offered = {n: t.offered for n, t in names.items()}
        messages = [{"role": "system", "content": system}]
        for m in history:
            if "_calls" in m:
                messages.append(_assistant_calls([(offered[n], a) for n, a in m["_calls"]]))
            elif m["role"] == "tool":
                messages.append({**m, "name": offered[m["name"]]})
            else:
                messages.append(m)
        scored_from = len(messages)
        dialogue = len(history) > 1
        fields: dict[str, Any] = {}
        if answer.action is not None:
            messages.append({"role": "assistant", "content": answer.reply})
            fields.update(expected_action=answer.action, required_fields=answer.required_fields,
                          category="relevance" if answer.action == "no_tool" else "edge_case")
        else:
            calls = self.answer_turns(answer, offered, messages)
            verbs = Counter(verb_of(t.offered) for t in scope.tools)
            category = "multi_turn" if dialogue else category_of(
                calls, sequence=answer.sequence is not None, shared_verbs={v for v, n in verbs.items() if n > 1})
            fields.update(category=category, target_tools=sorted({names[n].name for n, _ in calls}))
            if answer.sequence is None and not dialogue:
                rules = [r for name in scope.services for v in self.directory.vocabularies.get(name, [])
                         for r in v.rules]
                fields["common_mistakes"] = row_mistakes([(names[n].name, a) for n, a in calls], documented, rules)
        fields.update(meta)
        row: Row = {
            "id": row_id, "source_id": source_id, "service": self.service,
            "kind": "example", "category": "simple", "priority": "normal",
            "min_accuracy_required": None, "expected_action": None, "required_fields": None,
            "source": "human", "quality": "gold", "created_at": None, "tags": [], "target_tools": [],
            "common_mistakes": [], "services": list(scope.services), "messages": messages,
        }
        row.update(fields)
        if dialogue:
            row["scored_from"] = scored_from
        row["tools"] = self.directory.tools(scope)
        row["canonical_values"] = self.directory.said(scope)
        self.rows.append(row)

    @staticmethod
    def answer_turns(answer: _Answer, offered: dict[str, str], messages: list[dict[str, Any]]) -> list[
            tuple[str, Any]]:
        if answer.sequence is None:
            calls = answer.calls or []
            messages.append(_assistant_calls([(offered[n], a) for n, a in calls]))
            return calls
        last = len(answer.sequence) - 1
        for j, (name, args, result) in enumerate(answer.sequence):
            messages.append(_assistant_calls([(offered[name], args)]))
            if j < last:  # the final result has nothing after it to inform
                messages.append({"role": "tool", "name": offered[name], "content": _result_text(result)})
        return [(n, a) for n, a, _ in answer.sequence]


def _spec_calls(spec: Any) -> list[str]:
    """The tool names a spec row calls (its dialogue's and its answer's)."""
    names = []
    for turn in getattr(spec, "messages", None) or []:
        for call in [turn.call] if turn.call else turn.calls or []:
            names += list(call)
    for call in ([spec.call] if getattr(spec, "call", None) else getattr(spec, "calls", None) or []):
        names += list(call)
    for step in getattr(spec, "sequence", None) or []:
        names += list(step.call)
    return names


def _names(history: list[dict[str, Any]], answer: _Answer) -> list[str]:
    names = [n for m in history for n, _ in m.get("_calls", [])]
    names += [n for n, _ in answer.calls or []] + [n for n, _, _ in answer.sequence or []]
    return names


def _has_alternatives(answer: _Answer) -> bool:
    calls = list(answer.calls or []) + [(n, a) for n, a, _ in answer.sequence or []]
    return any(is_alternatives(v) for _, args in calls for v in args.values())


def _reference(answer: _Answer) -> _Answer:
    """The answer with every argument at its first acceptable value (what rows show)."""
    def plain(args: dict[str, Any]) -> dict[str, Any]:
        return {k: alternatives_of(v)[0][0] for k, v in args.items()}

    if answer.calls is not None:
        return _Answer(calls=[(n, plain(a)) for n, a in answer.calls])
    if answer.sequence is not None:
        return _Answer(sequence=[(n, plain(a), r) for n, a, r in answer.sequence])
    return answer


def _bfcl(value: Any) -> Any:
    """A plain value as one of BFCL's acceptable values (inside objects: lists of them)."""
    if isinstance(value, dict):
        return {k: [_bfcl(v)] for k, v in value.items()}
    if isinstance(value, list):
        return [_bfcl(v) for v in value]
    return value


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _assistant_calls(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"type": "function", "function": {"name": n, "arguments": a}} for n, a in calls],
    }


def _result_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    return json.dumps(result, sort_keys=True, ensure_ascii=False)


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
