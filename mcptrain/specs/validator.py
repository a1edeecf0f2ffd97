"""Checks beyond the schema: calls against tools, templates, sequences, ids,
vocabulary, contamination, ownership and balance.

Every check appends Diagnostics and carries on, so one run reports everything.
"""

from __future__ import annotations

import gc
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import jsonschema_rs
from rapidfuzz import fuzz, process

from mcptrain.errors import Diagnostic
from mcptrain.locations import dotted
from mcptrain.replies import reply_problem, written_reply_field
from mcptrain.specs import models as s
from mcptrain.specs.dialogue import alternatives_of, is_alternatives, merge_contexts
from mcptrain.specs.loader import Loaded, Specs, load_specs
from mcptrain.specs.policy_check import check_policies, check_scenario_category
from mcptrain.specs.project_check import check_project
from mcptrain.specs.schema_walk import subschemas
from mcptrain.specs.scope import Scope, ScopeError, ToolIndex
from mcptrain.specs.summary import Claim, RowSummary
from mcptrain.specs.templates import (
    TemplateExpansionError,
    context_values,
    expand_queries,
    fill_text,
    fill_value,
    mentions_today,
    render_context,
)
from mcptrain.suggestions import did_you_mean

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, SchemaError

    from mcptrain.specs.validate_cache import ValidateCache

_TYPE_WORDS = {"string", "integer", "number", "boolean", "array", "object", "null"}


@dataclass(frozen=True)
class ToolRef:
    service: str
    spec: s.ToolSpec
    loaded: Loaded[s.ToolSetSpec]
    index: int
    fast: Any = None  # jsonschema-rs validator (None: the schema is unusable, calls are not checked)

    @cached_property
    def validator(self) -> Draft202012Validator:
        """The Python validator, which explains a failure the fast one found (jsonschema is
        imported only then: most runs never need it)."""
        from jsonschema import Draft202012Validator, FormatChecker

        return Draft202012Validator(self.spec.inputSchema, format_checker=FormatChecker())


@dataclass(frozen=True)
class Result:
    specs: Specs
    diagnostics: list[Diagnostic]
    tools: dict[tuple[str, str], ToolRef]  # (service, tool name) -> its definition
    ids: dict[str, Claim]  # example / edge case / scenario id -> where

    @property
    def tool_count(self) -> int:
        return len(self.tools)

    def position_of(self, ident: str) -> tuple[str, int, int, str] | None:
        """(path, line, col, dotted location) of the spec item with id `ident`."""
        claim = self.ids.get(ident)
        if claim is None:
            return None
        return claim.path, claim.line, claim.col, claim.item

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def normalize_query(text: str) -> str:
    """Lower case, punctuation dropped (a `.` only when it is not inside a number)."""
    return " ".join(_SENTENCE_DOT.sub(" ", re.sub(r"[^\w$%.@-]+", " ", text.lower())).split())


_SENTENCE_DOT = re.compile(r"\.(?!\d)|(?<!\d)\.")


def validate_repository(root: Any, loaded: tuple[Specs, list[Diagnostic]] | None = None,
                        cache: ValidateCache | None = None) -> Result:
    """Load (unless `loaded` holds the loaded specs) and check every spec. With a `cache`
    (`mcptrain validate`), Examples and EdgeCases files whose bytes and inputs are unchanged
    are not parsed: their summaries come from it, and those checked now go into it."""
    # The node trees of thousands of files are millions of young objects that are
    # never cyclic garbage; the cyclic collector re-scanning them tripled run time.
    paused = gc.isenabled()
    gc.disable()
    try:
        if cache is not None:
            specs, diags = cache.load_specs(root)
        else:
            specs, diags = loaded if loaded is not None else load_specs(root)
        checker = _Checker(specs, diags, cache.store if cache is not None else None)
        checker.run()
    finally:
        if paused:
            gc.enable()
    diags.sort(key=lambda d: (d.path, d.line, d.col))
    return Result(specs, diags, checker.tools, checker.ids)


class _Checker:
    def __init__(self, specs: Specs, diags: list[Diagnostic],
                 store: Callable[[str, RowSummary], None] | None = None) -> None:
        self.specs = specs
        self.diags = diags
        self.store = store  # keeps the summary of an Examples / EdgeCases file checked now
        self.row: RowSummary | None = None  # the summary of the file being checked
        self.sink = diags  # where `add` reports: the file's own list while a row file is checked
        self.tools: dict[tuple[str, str], ToolRef] = {}
        self.index = ToolIndex()
        # (service, tool) -> param -> synonym -> canonical
        self.vocab: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        self.ids: dict[str, Claim] = {}
        self.limit = specs.project_spec.max_template_expansions
        # service -> normalized training query -> (path, line, col) of its first occurrence
        self.train_queries: dict[str, dict[str, tuple[str, int, int]]] = defaultdict(dict)
        self.any_train_query: dict[str, tuple[str, int, int]] = {}
        self.calls_per_tool: Counter[tuple[str, str]] = Counter()
        self.rendered_contexts: set[str] = set()
        self.bad_template: set[str] = set()

    def add(self, loaded: Loaded[Any], loc: tuple[Any, ...], message: str, *, key: bool = False,
            severity: str = "error", hint: str | None = None) -> None:
        """One diagnostic at `loc` of `loaded` (the key itself when `key`)."""
        line, col = loaded.doc.position(loc, key=key)
        self.sink.append(Diagnostic(loaded.path, line, col, dotted(loc), message,
                                    severity=severity, hint=hint))  # type: ignore[arg-type]

    def run(self) -> None:
        for bundle in self.specs.services.values():
            self.check_service(bundle)
            for ts in bundle.toolsets:
                self.index_tools(bundle.name, ts)
        self.index = ToolIndex.build(
            {b.name: [t for ts in b.toolsets for t in ts.spec.tools] for b in self.specs.services.values()},
            {b.name: b.service.spec.uses for b in self.specs.services.values() if b.service})
        for bundle in self.specs.services.values():
            self.check_uses(bundle)
            for voc in bundle.vocabularies:
                self.index_vocabulary(voc)
        for bundle in self.specs.services.values():
            for path, summary in self.row_summaries(bundle):
                self.apply(path, summary)
        # Every service's training queries in one map (first service by name wins): a
        # scenario repeating any of them is contamination, since build would drop that row.
        for name in sorted(self.train_queries):
            for query, where in self.train_queries[name].items():
                self.any_train_query.setdefault(query, where)
        for bundle in self.specs.services.values():
            for scenarios in bundle.tests:
                self.check_scenarios(bundle.name, scenarios)
        self.check_balance()
        check_policies(self.specs, self.add)
        check_project(self.specs, self.add)

    # ------------------------------------------------------------ services and tools

    def check_service(self, bundle: Any) -> None:
        if bundle.service is None:
            if ("Service", bundle.name) in self.specs.unloaded:
                return  # its service.yaml is there; its own errors say what is wrong with it
            first = bundle.files()[0]
            self.add(first, ("service",), f"service {bundle.name!r} has no Service spec",
                     hint=f"add specs/<dir>/service.yaml with 'kind: Service' and 'name: {bundle.name}'")
            return
        if not bundle.service.spec.owners:
            self.add(bundle.service, ("name",), "service has no owners",
                     hint="add 'owners: [\"@org/team\"]' (CODEOWNERS reviews its changes)")

    def index_tools(self, service: str, ts: Loaded[s.ToolSetSpec]) -> None:
        for i, tool in enumerate(ts.spec.tools):
            ref = self.tool_ref(service, tool, ts, ("tools", i), i)
            if (service, tool.name) in self.tools:
                other = self.tools[(service, tool.name)]
                self.add(ts, ("tools", i, "name"),
                         f"tool {tool.name!r} is already defined in {other.loaded.path} (service {other.service})",
                         hint="tool names are unique within a service; another service may reuse the name")
                continue
            self.tools[(service, tool.name)] = ref

    def tool_ref(self, service: str, tool: s.ToolSpec, loaded: Loaded[Any], base: tuple[Any, ...],
                 index: int) -> ToolRef:
        """A tool with its schema checked and its argument validators built (`index` -1: an
        item's inline definition)."""
        loc = (*base, "inputSchema")
        schema = tool.inputSchema
        fast = None
        # jsonschema-rs answers "valid?" ~100x faster; the Python validator runs only to
        # explain a failure with a path and a message.
        error = _schema_error(schema) if not jsonschema_rs.meta.is_valid(schema) else None
        if error is None and schema.get("type") != "object":
            self.add(loaded, (*loc, "type") if "type" in schema else loc,
                     f"an MCP inputSchema must have type 'object' (got {schema.get('type')!r})")
        elif error is None:
            try:
                fast = jsonschema_rs.validator_for(schema, validate_formats=True)
            except jsonschema_rs.ValidationError as e:  # a `pattern` that is no regex, a `$ref` to nowhere
                error = _schema_error(schema)
                if error is None:
                    self.add(loaded, (*loc, *e.instance_path), str(e).split("\n", 1)[0])
        if error is not None:
            where = (*loc, *error.path)
            got = error.instance
            msg = error.message
            if error.validator in ("anyOf", "enum") and isinstance(got, str) and where[-1] == "type":
                msg = f"expected one of {', '.join(repr(t) for t in sorted(_TYPE_WORDS))} (got {got!r})"
            self.add(loaded, where, msg)
        else:
            for path, node in subschemas(schema, loc):
                for key, value in node.items():
                    # Legal JSON Schema (unknown keywords are ignored), but YAML's doing:
                    # `{description: Title, author or subject}` ends the text at the comma.
                    if value is None and key not in ("default", "const"):
                        self.add(loaded, (*path, key), f"{key!r} is not a JSON Schema keyword and has no value",
                                 key=True, hint='a comma inside a YAML flow mapping ends the text before it: quote the '
                                      'text ({description: "a, b"})', severity="warning")
        return ToolRef(service, tool, loaded, index, fast)

    def check_uses(self, bundle: Any) -> None:
        if bundle.service is None:
            return
        for i, used in enumerate(bundle.service.spec.uses):
            self.check_service_name(bundle.service, ("uses", i), used)

    def check_service_name(self, loaded: Loaded[Any], loc: tuple[Any, ...], name: str) -> bool:
        if name in self.specs.services:
            return True
        self.add(loaded, loc, f"unknown service {name!r}", hint=did_you_mean(name, list(self.specs.services)))
        return False

    def scope_of(self, loaded: Loaded[Any], loc: tuple[Any, ...], service: str, row: Any,
                 called: list[str]) -> Scope:
        """The row's scope; unknown names in its `services:` are reported and left out. An
        item with its own `tools:` offers exactly those (`offered`)."""
        own_tools = getattr(row, "tools", None)
        if own_tools is not None:
            scope = self.index.restricted(service, own_tools)
            scope.refs = self.offered(service, loaded, loc, own_tools)
            return scope
        declared = [name for i, name in enumerate(getattr(row, "services", []))
                    if self.check_service_name(loaded, (*loc, "services", i), name)]
        return self.index.scope(service, declared, called)

    def offered(self, service: str, loaded: Loaded[Any], base: tuple[Any, ...],
                tools: list[str | s.ToolSpec]) -> dict[str, ToolRef]:
        """An item's own `tools:` (names of its service's tools or inline definitions), checked."""
        out: dict[str, ToolRef] = {}
        for k, entry in enumerate(tools):
            loc = (*base, "tools", k)
            if isinstance(entry, str):
                ref = self.tools.get((service, entry))
                if ref is None:
                    own = [name for svc, name in self.tools if svc == service]
                    self.add(loaded, loc, f"unknown tool {entry!r} in service {service!r}; define it inline "
                             "to offer another schema", hint=did_you_mean(entry, own))
                    continue
            else:
                ref = self.tool_ref(service, entry, loaded, loc, -1)
            if ref.spec.name in out:
                self.add(loaded, loc, f"tool {ref.spec.name!r} is offered twice", hint="an item offers each name once")
                continue
            out[ref.spec.name] = ref
        return out

    def resolve(self, scope: Scope, loaded: Loaded[Any], loc: tuple[Any, ...], name: str,
                *, key: bool = True) -> ToolRef | None:
        try:
            tool = scope.resolve(name)
        except ScopeError as e:
            self.add(loaded, loc, e.message, key=key, hint=e.hint)
            return None
        if scope.restricted:
            ref: ToolRef | None = scope.refs.get(tool.name)
            return ref
        return self.tools.get((tool.service, tool.name))

    def index_vocabulary(self, voc: Loaded[s.VocabularySpec]) -> None:
        scope = self.index.scope(voc.spec.service)
        for i, term in enumerate(voc.spec.terms):
            tool_name, param = term.parameter.rsplit(".", 1)
            found = self.param_schema(voc, ("terms", i, "parameter"), scope, tool_name, param)
            if found is None:
                continue
            ref, schema = found
            legal = schema.get("enum")
            mapping = self.vocab.setdefault((ref.service, ref.spec.name), {}).setdefault(param, {})
            for canonical, synonyms in term.values.items():
                if legal is not None and canonical not in legal:
                    self.add(voc, ("terms", i, "values", canonical),
                             f"{canonical!r} is not a legal value of {term.parameter} "
                             f"(expected one of {', '.join(repr(v) for v in legal)})", key=True,
                             hint=did_you_mean(canonical, [str(v) for v in legal]))
                for word in synonyms:
                    mapping[word.lower()] = canonical
        for i, rule in enumerate(voc.spec.rules):
            tool_name, param = rule.parameter.rsplit(".", 1)
            found = self.param_schema(voc, ("rules", i, "parameter"), scope, tool_name, param)
            kind = found[1].get("type") if found is not None else None
            legal_types = s.CHECKED_UNITS.get(rule.unit or "")
            if found is not None and legal_types and kind not in (*legal_types, None):
                self.add(voc, ("rules", i, "unit"),
                         f"unit {rule.unit!r} needs {' or '.join(_a(t) for t in legal_types)} parameter "
                         f"({rule.parameter} is {kind!r})")

    def param_schema(self, loaded: Loaded[Any], loc: tuple[Any, ...], scope: Scope, tool_name: str,
                     param: str) -> tuple[ToolRef, dict[str, Any]] | None:
        ref = self.resolve(scope, loaded, loc, tool_name, key=False)
        if ref is None:
            return None
        props = ref.spec.inputSchema.get("properties", {})
        if param not in props:
            self.add(loaded, loc, f"tool {tool_name!r} has no parameter {param!r}",
                     hint=did_you_mean(param, list(props)))
            return None
        return ref, (props[param] if isinstance(props[param], dict) else {})

    def claim_id(self, ident: str, loaded: Loaded[Any], loc: tuple[Any, ...]) -> None:
        line, col = loaded.doc.position(loc)
        if self.row is not None:  # checked across files once every file is summarised
            self.row.ids.append((ident, line, col, dotted(loc)))
        else:
            self.claim(Claim(ident, loaded.path, line, col, dotted(loc)))

    def claim(self, claim: Claim) -> None:
        first = self.ids.get(claim.ident)
        if first is None:
            self.ids[claim.ident] = claim
            return
        self.diags.append(Diagnostic(claim.path, claim.line, claim.col, claim.where,
                                     f"duplicate id {claim.ident!r} (first used at {first.path}:{first.line}:{first.col})"))

    # ------------------------------------------------------------ row files, one at a time

    def row_summaries(self, bundle: Any) -> Iterator[tuple[str, RowSummary]]:
        """The service's Examples files, then its EdgeCases files (each kind in the order the
        files were found): checked now, or as the cache kept them."""
        for kind, live in (("Examples", bundle.examples), ("EdgeCases", bundle.edge_cases)):
            files: list[tuple[str, Loaded[Any] | RowSummary]] = [(f.path, f) for f in live]
            if bundle.cached:  # merged back into the order the files were found in
                files += [(path, summary) for k, path, summary in bundle.cached if k == kind]
                files.sort(key=lambda item: self.specs.order.get(item[0], len(self.specs.order)))
            for path, item in files:
                yield path, item if isinstance(item, RowSummary) else self.summarise(bundle.name, item)

    def summarise(self, service: str, loaded: Loaded[Any]) -> RowSummary:
        """Check one Examples or EdgeCases file on its own: nothing here depends on another
        row file, so the summary can be reused while the file and its inputs are unchanged."""
        self.row, self.sink = RowSummary(service), []
        summary = self.row
        try:
            if isinstance(loaded.spec, s.ExamplesSpec):
                self.check_examples(loaded)
            else:
                for i, case in enumerate(loaded.spec.edge_cases):
                    self.check_edge_case(service, loaded, i, case)
            for d in self.sink:
                if d.path == loaded.path:
                    summary.findings.append((d.line, d.col, d.where, d.message, d.severity, d.hint, d.extra))
                else:  # about another file: report it, and check this file again next time
                    self.diags.append(d)
                    summary.cacheable = False
        finally:
            self.row, self.sink = None, self.diags
        if self.store is not None and summary.cacheable:
            self.store(loaded.path, summary)
        return summary

    def apply(self, path: str, summary: RowSummary) -> None:
        """A row file's findings and what it adds to the checks across files."""
        self.diags.extend(summary.diagnostics(path))
        ids = self.ids
        for claim in summary.claims(path):
            if claim.ident in ids:
                self.claim(claim)
            else:
                ids[claim.ident] = claim
        queries = self.train_queries[summary.service]
        for query, (line, col) in summary.queries.items():
            queries.setdefault(query, (path, line, col))
        self.calls_per_tool.update(summary.calls)
        if summary.context_error is not None:
            self.report_context_template(summary.context_error)

    # ------------------------------------------------------------ rows

    def context_of(self, service: str, row_context: Any) -> dict[str, Any]:
        """The template variables a row's context gives its calls and replies."""
        bundle = self.specs.services.get(service)
        own = bundle.service.spec.context if bundle is not None and bundle.service else None
        merged = merge_contexts(self.specs.project_spec.context, own, row_context)
        self.check_context_template(merged)
        return context_values(merged.date if merged is not None else None)

    def check_context_template(self, context: Any) -> None:
        """The project's `context_template` renders every distinct context a row has."""
        key = context.model_dump_json() if context is not None else ""
        rendered = self.row.contexts if self.row is not None else self.rendered_contexts
        if key in rendered:
            return
        rendered.add(key)
        try:
            render_context(self.specs.project_spec.context_template, context)
        except TemplateExpansionError as e:
            if self.row is None:
                self.report_context_template(e.message)
            elif self.row.context_error is None:
                self.row.context_error = e.message

    def report_context_template(self, message: str) -> None:
        """Once per run, at the project's `context_template`."""
        if self.specs.project is not None and "context_template" not in self.bad_template:
            self.bad_template.add("context_template")
            self.diags.append(self.at(self.specs.project, ("context_template",), message))

    @staticmethod
    def at(loaded: Loaded[Any], loc: tuple[Any, ...], message: str) -> Diagnostic:
        line, col = loaded.doc.position(loc)
        return Diagnostic(loaded.path, line, col, dotted(loc), message)

    def check_examples(self, ex: Loaded[s.ExamplesSpec]) -> None:
        service = ex.spec.service
        for i, example in enumerate(ex.spec.examples):
            base = ("examples", i)
            self.claim_id(example.id, ex, (*base, "id"))
            calls = list(self.iter_calls(example, base))
            scope = self.scope_of(ex, base, service, example, [name for _, name, _ in calls])
            values = self.context_of(service, example.context)
            seen: set[tuple[Any, ...]] = set()
            said: set[tuple[Any, ...]] = set()
            if example.template is not None and example.vars is not None:
                try:
                    expansions = expand_queries(example.template, example.vars, self.limit)
                except TemplateExpansionError as e:
                    self.add(ex, (*base, *e.loc), e.message)
                    continue
                for exp in expansions:
                    self.remember_query(service, exp.query, ex, (*base, "template"))
                    bound = {**values, **exp.values}
                    self.check_texts(ex, base, example, bound, seen)
                    self.check_reply_kind(ex, base, example, bound, said)
                    for loc, name, args in calls:
                        self.check_rendered_call(ex, scope, loc, name, args, bound, seen,
                                                 context=f" (in expansion {exp.index}: {exp.query!r})")
            else:
                where = (*base, "query" if example.query is not None else "messages")
                self.remember_query(service, asked_text(example), ex, where)
                self.check_reply_kind(ex, base, example, values, said)
                for loc, name, args in calls:
                    self.check_rendered_call(ex, scope, loc, name, args, values, seen)
            if example.sequence is not None:
                self.check_sequence(ex, base, example)
            for j, mistake in enumerate(example.common_mistakes):
                (name,) = mistake.wrong
                self.resolve(scope, ex, (*base, "common_mistakes", j, "wrong", name), name)

    def check_edge_case(self, service: str, ec: Loaded[s.EdgeCasesSpec], i: int, case: s.EdgeCaseSpec) -> None:
        base = ("edge_cases", i)
        self.claim_id(case.id, ec, (*base, "id"))
        scope = self.scope_of(ec, base, service, case, [case.tool] if case.tool else [])
        if case.tool is not None:
            self.resolve(scope, ec, (*base, "tool"), case.tool, key=False)
        values = self.context_of(service, case.context)
        said: set[tuple[Any, ...]] = set()  # each reply's warning once, whatever the expansions
        if case.template is None or case.vars is None:
            assert case.query is not None
            self.remember_query(service, case.query, ec, (*base, "query"))
            self.check_reply_kind(ec, (*base, "expect"), case.expect, values, said)
            return
        try:
            expansions = expand_queries(case.template, case.vars, self.limit)
        except TemplateExpansionError as e:
            self.add(ec, (*base, *e.loc), e.message)
            return
        seen: set[tuple[Any, ...]] = set()
        for exp in expansions:
            self.remember_query(service, exp.query, ec, (*base, "template"))
            bound = {**values, **exp.values}
            self.check_texts(ec, (*base, "expect"), case.expect, bound, seen)
            self.check_reply_kind(ec, (*base, "expect"), case.expect, bound, said)

    def check_reply_kind(self, loaded: Loaded[Any], base: tuple[Any, ...], answer: Any, values: dict[str, Any],
                         said: set[tuple[Any, ...]]) -> None:
        """A written reply (an edge case's `expect`, an example's own `action`) must be of the
        kind its action is scored by: the training row teaches it as that kind, and the
        checker would fail it (mcptrain/replies.py). Read as the build writes it, with its
        template filled in (`behaviour_reply`: `question` before `response`, a refusal's
        `response`); a reply the build writes itself is of the right kind already."""
        action = getattr(answer, "action", None)
        name = written_reply_field(action, answer.question, answer.response)
        if name is None or action not in ("clarify", "ask_for_details", "refuse"):
            return
        text = getattr(answer, name)
        loc = (*base, name)
        if loc in said:
            return
        try:
            text = fill_text(text, values, loc)
        except TemplateExpansionError:
            return  # check_texts names it
        problem = reply_problem(action, text, answer.required_fields or ())
        if problem is not None:
            said.add(loc)
            hint = ("say no in so many words (\"I can't ...\", \"I won't ...\", \"Sorry, I can't ...\")"
                    if action == "refuse" else "ask with a question mark, naming a missing field")
            self.add(loaded, loc, f"the checker would not accept this {name} as {action}: {problem.message}",
                     severity="warning", hint=hint)

    def check_texts(self, loaded: Loaded[Any], base: tuple[Any, ...], answer: Any, values: dict[str, Any],
                    seen: set[tuple[Any, ...]]) -> None:
        """A templated reply (`response`, `question`, `reason`) renders for every expansion."""
        for name in ("response", "question", "reason"):
            text = getattr(answer, name, None)
            if not text:
                continue
            try:
                fill_text(text, values, (*base, name))
            except TemplateExpansionError as e:
                if e.loc not in seen:
                    seen.add(e.loc)
                    self.add(loaded, e.loc, e.message)

    def remember_query(self, service: str, query: str, loaded: Loaded[Any], loc: tuple[Any, ...]) -> None:
        assert self.row is not None, "training queries come from Examples and EdgeCases files"
        norm = normalize_query(query)
        if norm not in self.row.queries:
            self.row.queries[norm] = loaded.doc.position(loc)

    @staticmethod
    def iter_calls(example: Any, base: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str, dict[str, Any]]]:
        """Every call of a row: its dialogue's, then its answer's."""
        for j, turn in enumerate(getattr(example, "messages", None) or []):
            for name, args in (turn.call or {}).items():
                yield (*base, "messages", j, "call"), name, args
            for k, call in enumerate(turn.calls or []):
                for name, args in call.items():
                    yield (*base, "messages", j, "calls", k), name, args
        if hasattr(example, "call"):
            yield from _answer_calls(example, base)

    def check_rendered_call(self, loaded: Loaded[Any], scope: Scope, loc: tuple[Any, ...], name: str,
                            args: dict[str, Any], values: dict[str, Any], seen: set[tuple[Any, ...]],
                            context: str = "") -> None:
        if not values and mentions_today(args):
            key = next(k for k, v in args.items() if mentions_today(v))
            if (*loc, name, key) not in seen:
                seen.add((*loc, name, key))
                self.add(loaded, (*loc, name, key), "'today' is the row's date, and the row has none",
                         hint="set 'context: {date: YYYY-MM-DD}' on the row, its service or the project")
            return
        try:
            rendered = fill_value(args, values, (*loc, name))
        except TemplateExpansionError as e:
            if e.loc not in seen:
                seen.add(e.loc)
                hint = ("set 'context: {date: YYYY-MM-DD}' on the row, its service or the project"
                        if "'today' is undefined" in e.message else None)
                self.add(loaded, e.loc, e.message, hint=hint)
            return
        self.check_call(loaded, scope, loc, name, rendered, seen=seen, context=context)

    def check_call(self, loaded: Loaded[Any], scope: Scope, loc: tuple[Any, ...], name: str,
                   args: dict[str, Any], *, seen: set[tuple[Any, ...]] | None = None, context: str = "") -> None:
        if seen is None or (*loc, name) not in seen:
            ref = self.resolve(scope, loaded, (*loc, name), name)
        else:
            ref = None
        if ref is None:
            if seen is not None:
                seen.add((*loc, name))
            return
        if ref.index >= 0:  # an inline definition is the item's own, not a tool of the service
            (self.row.calls if self.row is not None else self.calls_per_tool)[(ref.service, ref.spec.name)] += 1
        if ref.fast is None:
            return
        props = ref.spec.inputSchema.get("properties", {})
        where = (*loc, name)
        reported: set[str] = set()
        for arg in args:
            if arg not in props:
                reported.add(arg)
                self._once(seen, loaded, (*where, arg), f"unknown argument {arg!r}{context}", key=True,
                           hint=did_you_mean(arg, list(props)))
        for param, mapping in self.vocab.get((ref.service, ref.spec.name), {}).items():
            value = args.get(param)
            if isinstance(value, str) and value.lower() in mapping and value != mapping[value.lower()]:
                reported.add(param)
                self._once(seen, loaded, (*where, param),
                           f"{value!r} is what users say; the canonical value of {name}.{param} is "
                           f"{mapping[value.lower()]!r}{context}",
                           hint=f"use {param}: {mapping[value.lower()]}")
        if ref.fast.is_valid(args):
            return
        for err in ref.validator.iter_errors(args):
            path = tuple(err.absolute_path)
            if path and path[0] in reported:
                continue
            if err.validator == "required":
                missing = err.message.split("'")[1] if "'" in err.message else err.message
                if path:  # inside an object argument: said where that object is
                    self._once(seen, loaded, (*where, *path), f"missing required key {missing!r}{context}")
                else:
                    self._once(seen, loaded, where, f"missing required argument {missing!r}{context}")
            elif err.validator == "additionalProperties":
                if path:  # an object argument's unknown keys (the arguments' own are reported above)
                    self._unknown_keys(seen, loaded, (*where, *path), err, context)
            else:
                self._once(seen, loaded, (*where, *path),
                           f"{_schema_message(err)}{context}")

    def _unknown_keys(self, seen: set[tuple[Any, ...]] | None, loaded: Loaded[Any], loc: tuple[Any, ...],
                      err: Any, context: str) -> None:
        schema = err.schema if isinstance(err.schema, dict) else {}
        known = list(schema.get("properties") or {})
        patterns = list(schema.get("patternProperties") or {})
        for key in err.instance if isinstance(err.instance, dict) else {}:
            if key not in known and not any(re.search(p, key) for p in patterns):
                self._once(seen, loaded, (*loc, key), f"unknown key {key!r}{context}", key=True,
                           hint=did_you_mean(key, known))

    def _once(self, seen: set[tuple[Any, ...]] | None, loaded: Loaded[Any], loc: tuple[Any, ...], message: str,
              *, key: bool = False, hint: str | None = None) -> None:
        marker = (*loc, message.split(" (in expansion")[0].split(" (with ")[0])
        if seen is not None:
            if marker in seen:
                return
            seen.add(marker)
        self.add(loaded, loc, message, key=key, hint=hint)

    def check_sequence(self, ex: Loaded[s.ExamplesSpec], base: tuple[Any, ...], example: s.ExampleSpec) -> None:
        assert example.sequence is not None
        query = (example.query or example.template or asked_text(example)).lower()
        produced_by: dict[str, int] = {}
        for j, step in enumerate(example.sequence):
            for value in _leaves(step.result):
                produced_by.setdefault(_key(value), j)
        for j, step in enumerate(example.sequence):
            for name, args in step.call.items():
                for path, value in _leaf_paths(args):
                    k = _key(value)
                    src = produced_by.get(k)
                    if src is not None and src >= j and str(value).lower() not in query:
                        what = "its own" if src == j else f"step {src}'s"
                        self.add(ex, (*base, "sequence", j, "call", name, *path),
                                 f"uses {value!r}, which only {what} result provides; a step may use only earlier results")

    # ------------------------------------------------------------ scenarios

    def check_scenarios(self, service: str, ts: Loaded[s.TestScenariosSpec]) -> None:
        train = self.train_queries.get(service, {})
        choices = list(train)
        threshold = self.specs.project_spec.splits.near_duplicate_threshold * 100
        for i, sc in enumerate(ts.spec.scenarios):
            base = ("scenarios", i)
            self.claim_id(sc.id, ts, (*base, "id"))
            check_scenario_category(ts, (*base, "category"), sc.category, self.add)
            calls = list(self.iter_calls(sc, base))
            for k, option in enumerate(sc.expect.one_of or []):
                calls += _answer_calls(option, (*base, "expect", "one_of", k))
            if sc.expect.one_of is None:
                calls += _answer_calls(sc.expect, (*base, "expect"))
            scope = self.scope_of(ts, base, service, sc, [name for _, name, _ in calls])
            values = self.context_of(service, sc.context)
            seen: set[tuple[Any, ...]] = set()
            for loc, name, args in calls:
                for variant, context in self.arg_variants(ts, (*loc, name), args):
                    self.check_rendered_call(ts, scope, loc, name, variant, values, seen, context=context)
            norm = normalize_query(asked_text(sc))
            exact = train.get(norm) or self.any_train_query.get(norm)
            if exact is not None:
                path, line, col = exact
                self.add(ts, (*base, "query" if sc.query is not None else "messages"),
                         f"query equals a training query at {path}:{line}:{col} (contamination)",
                         hint="phrase test scenarios unlike the training data")
                continue
            if choices:
                best = process.extractOne(norm, choices, scorer=fuzz.ratio, score_cutoff=threshold)
                if best:
                    path, line, col = train[best[0]]
                    self.add(ts, (*base, "query" if sc.query is not None else "messages"),
                             f"query is a near-duplicate ({best[1]:.0f}% similar) of a training query at "
                             f"{path}:{line}:{col}", severity="warning")

    def arg_variants(self, loaded: Loaded[Any], where: tuple[Any, ...],
                     args: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        """The call with each acceptable value of every `{any_of: [...]}` / `optional` argument
        in turn (the others at their first value), and with each optional one left out."""
        if not any(is_alternatives(v) for v in args.values()):
            return [(args, "")]
        first: dict[str, Any] = {}
        for key, value in args.items():
            if is_alternatives(value) and "any_of" in value and (
                    not isinstance(value["any_of"], list) or not value["any_of"]):
                self.add(loaded, (*where, key, "any_of"), "'any_of' needs a non-empty list of values")
                return []
            if is_alternatives(value) and not isinstance(value.get("optional", False), bool):
                self.add(loaded, (*where, key, "optional"), "'optional' is true or false")
                return []
            first[key] = alternatives_of(value)[0][0]
        out = [(first, "")]
        for key, value in args.items():
            values, optional = alternatives_of(value)
            out += [({**first, key: v}, f" (with {key}={v!r})") for v in values[1:]]
            if optional:
                out.append(({k: v for k, v in first.items() if k != key}, f" (with {key} left out)"))
        return out


    def check_balance(self) -> None:
        if not self.tools or any(kind == "Examples" for kind, _ in self.specs.unloaded):
            return  # an Examples file that failed to load would make every count wrong
        counts = {key: self.calls_per_tool.get(key, 0) for key in self.tools}
        average = sum(counts.values()) / len(counts)
        for key, n in counts.items():
            ref = self.tools[key]
            name = ref.spec.name
            loc = ("tools", ref.index, "name")
            if n == 0:
                self.add(ref.loaded, loc, f"tool {name!r} has no examples", severity="warning",
                         hint="add examples for it, or it can only be learnt zero-shot")
            elif n < average / 2:
                self.add(ref.loaded, loc,
                         f"tool {name!r} has {n} example calls, under half the average ({average:.1f})",
                         severity="warning")


def _schema_error(schema: dict[str, Any]) -> SchemaError | None:
    """What jsonschema says is wrong with a schema jsonschema-rs rejected (None: nothing)."""
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        return e
    return None


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def asked_text(row: Any) -> str:
    """What the user says in a row: its query, or every user turn of its dialogue."""
    if getattr(row, "query", None) is not None:
        return str(row.query)
    return "\n".join(t.user for t in getattr(row, "messages", None) or [] if t.user is not None)


def _answer_calls(answer: Any, base: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str, dict[str, Any]]]:
    if answer.call is not None:
        for name, args in answer.call.items():
            yield (*base, "call"), name, args
    if answer.calls is not None:
        for j, call in enumerate(answer.calls):
            for name, args in call.items():
                yield (*base, "calls", j), name, args
    if answer.sequence is not None:
        for j, step in enumerate(answer.sequence):
            for name, args in step.call.items():
                yield (*base, "sequence", j, "call"), name, args


def _schema_message(err: Any) -> str:
    v = err.validator
    inst = err.instance
    if v == "type":
        want = err.validator_value
        want_s = " or ".join(want) if isinstance(want, list) else want
        return f"expected {want_s} (got {type(inst).__name__.replace('str', 'string').replace('int', 'integer').replace('dict', 'object').replace('list', 'array').replace('float', 'number').replace('bool', 'boolean')} {inst!r})"
    if v == "enum":
        return f"expected one of {', '.join(repr(x) for x in err.validator_value)} (got {inst!r})"
    if v == "pattern":
        return f"{inst!r} does not match {err.validator_value!r}"
    if v == "format":
        return f"{inst!r} is not a valid {err.validator_value}"
    return str(err.message)  # bounds (minimum, maxLength, ...) and the rest: jsonschema's own


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, str) and len(value) >= 3:
        yield value  # ids and names; small numbers recur too often to tell where they came from


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, (*path, i))
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield path, value


def _key(value: Any) -> str:
    return str(value).strip().lower()
