"""Checks beyond the schema: calls against tools, templates, sequences, ids,
vocabulary, contamination, ownership and balance.

Every check appends Diagnostics and carries on, so one run reports everything.
"""

from __future__ import annotations

import gc
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, SchemaError
from rapidfuzz import fuzz, process

from mcptrain.errors import Diagnostic
from mcptrain.locations import dotted
from mcptrain.specs import models as s
from mcptrain.specs.loader import Loaded, Specs, load_specs
from mcptrain.specs.templates import TemplateExpansionError, expand_queries, render_value
from mcptrain.suggestions import did_you_mean

_FORMATS = FormatChecker()
_TYPE_WORDS = {"string", "integer", "number", "boolean", "array", "object", "null"}


@dataclass(frozen=True)
class ToolRef:
    service: str
    spec: s.ToolSpec
    loaded: Loaded[s.ToolSetSpec]
    index: int
    validator: Draft202012Validator | None
    fast: Any = None  # jsonschema-rs validator: the happy path; jsonschema explains failures


@dataclass(frozen=True)
class Result:
    specs: Specs
    diagnostics: list[Diagnostic]
    tools: dict[str, dict[str, ToolRef]]  # service -> tool name -> tool

    @property
    def tool_count(self) -> int:
        return sum(len(own) for own in self.tools.values())

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


def validate_repository(root: Any, loaded: tuple[Specs, list[Diagnostic]] | None = None) -> Result:
    """Load (unless `loaded` holds the loaded specs) and check every spec."""
    # The node trees of thousands of files are millions of young objects that are
    # never cyclic garbage; the cyclic collector re-scanning them tripled run time.
    paused = gc.isenabled()
    gc.disable()
    try:
        specs, diags = loaded if loaded is not None else load_specs(root)
        checker = _Checker(specs, diags)
        checker.run()
    finally:
        if paused:
            gc.enable()
    diags.sort(key=lambda d: (d.path, d.line, d.col))
    return Result(specs, diags, checker.tools)


class _Checker:
    def __init__(self, specs: Specs, diags: list[Diagnostic]) -> None:
        self.specs = specs
        self.diags = diags
        self.tools: dict[str, dict[str, ToolRef]] = {}  # service -> name -> tool (MCP namespaces by server)
        self.vocab: dict[tuple[str, str], dict[str, dict[str, str]]] = {}  # (service, tool) -> param -> synonym -> canonical
        self.ids: dict[str, tuple[Loaded[Any], tuple[Any, ...]]] = {}
        self.limit = specs.project_spec.max_template_expansions
        self.train_queries: dict[str, dict[str, tuple[Loaded[Any], tuple[Any, ...]]]] = defaultdict(dict)
        self.any_train_query: dict[str, tuple[Loaded[Any], tuple[Any, ...]]] = {}
        self.calls_per_tool: Counter[tuple[str, str]] = Counter()

    def add(self, loaded: Loaded[Any], loc: tuple[Any, ...], message: str, *, key: bool = False,
            severity: str = "error", hint: str | None = None) -> None:
        line, col = loaded.doc.position(loc, key=key)
        self.diags.append(Diagnostic(loaded.path, line, col, dotted(loc), message,
                                     severity=severity, hint=hint))  # type: ignore[arg-type]

    def run(self) -> None:
        for bundle in self.specs.services.values():
            self.check_service(bundle)
            self.tools.setdefault(bundle.name, {})
            for ts in bundle.toolsets:
                self.index_tools(bundle.name, ts)
        for bundle in self.specs.services.values():
            for voc in bundle.vocabularies:
                self.index_vocabulary(voc)
        for bundle in self.specs.services.values():
            for ex in bundle.examples:
                self.check_examples(ex)
            for ec in bundle.edge_cases:
                for i, case in enumerate(ec.spec.edge_cases):
                    self.claim_id(case.id, ec, ("edge_cases", i, "id"))
                    offered = self.offered(bundle.name, ec, ("edge_cases", i), case.tools)
                    if case.tool is not None and case.tool not in offered:
                        self.unknown_tool(ec, ("edge_cases", i, "tool"), case.tool, offered, key=False)
                    self.train_queries[bundle.name].setdefault(normalize_query(case.query), (ec, ("edge_cases", i, "query")))
        # Every service's training queries in one map (first service by name wins): a
        # scenario repeating any of them is contamination, since build would drop that row.
        for name in sorted(self.train_queries):
            for query, where in self.train_queries[name].items():
                self.any_train_query.setdefault(query, where)
        for bundle in self.specs.services.values():
            for scenarios in bundle.tests:
                self.check_scenarios(bundle.name, scenarios)
        self.check_balance()

    # ------------------------------------------------------------ services and tools

    def check_service(self, bundle: Any) -> None:
        if bundle.service is None:
            first = bundle.files()[0]
            self.add(first, ("service",), f"service {bundle.name!r} has no Service spec",
                     hint=f"add specs/<dir>/service.yaml with 'kind: Service' and 'name: {bundle.name}'")
            return
        if not bundle.service.spec.owners:
            self.add(bundle.service, ("name",), "service has no owners",
                     hint="add 'owners: [\"@org/team\"]' (CODEOWNERS reviews its changes)")

    def index_tools(self, service: str, ts: Loaded[s.ToolSetSpec]) -> None:
        own = self.tools[service]
        for i, tool in enumerate(ts.spec.tools):
            ref = self.tool_ref(service, tool, ts, ("tools", i), i)
            if tool.name in own:
                other = own[tool.name]
                self.add(ts, ("tools", i, "name"),
                         f"tool {tool.name!r} is already defined in {other.loaded.path} (service {other.service})",
                         hint="tool names are unique within a service; another service may reuse the name")
                continue
            own[tool.name] = ref

    def tool_ref(self, service: str, tool: s.ToolSpec, loaded: Loaded[Any], base: tuple[Any, ...],
                 index: int) -> ToolRef:
        """A tool with its schema checked and its argument validators built."""
        loc = (*base, "inputSchema")
        validator: Draft202012Validator | None = None
        schema = tool.inputSchema
        fast = None
        try:
            # jsonschema-rs answers "valid?" ~100x faster; the Python validator
            # runs only to explain a failure with a path and a message.
            if not jsonschema_rs.meta.is_valid(schema):
                Draft202012Validator.check_schema(schema)
            if schema.get("type") != "object":
                self.add(loaded, (*loc, "type") if "type" in schema else loc,
                         f"an MCP inputSchema must have type 'object' (got {schema.get('type')!r})")
            else:
                validator = Draft202012Validator(schema, format_checker=_FORMATS)
                fast = jsonschema_rs.validator_for(schema, validate_formats=True)
        except SchemaError as e:
            where = (*loc, *e.path)
            got = e.instance
            msg = e.message
            if e.validator in ("anyOf", "enum") and isinstance(got, str) and where[-1] == "type":
                msg = f"expected one of {', '.join(repr(t) for t in sorted(_TYPE_WORDS))} (got {got!r})"
            self.add(loaded, where, msg)
        return ToolRef(service, tool, loaded, index, validator, fast)

    def offered(self, service: str, loaded: Loaded[Any], base: tuple[Any, ...],
                tools: list[str | s.ToolSpec] | None) -> dict[str, ToolRef]:
        """The tools an item offers: its own `tools` (names of its service's tools or inline
        definitions), else all of its service's tools."""
        own = self.tools.get(service, {})
        if tools is None:
            return own
        out: dict[str, ToolRef] = {}
        for k, entry in enumerate(tools):
            loc = (*base, "tools", k)
            if isinstance(entry, str):
                if entry not in own:
                    self.unknown_tool(loaded, loc, entry, own, key=False,
                                      also=f" in service {service!r}; define it inline to offer another schema")
                    continue
                ref = own[entry]
            else:
                ref = self.tool_ref(service, entry, loaded, loc, -1)
            name = ref.spec.name
            if name in out:
                self.add(loaded, loc, f"tool {name!r} is offered twice", hint="an item offers each name once")
                continue
            out[name] = ref
        return out

    def index_vocabulary(self, voc: Loaded[s.VocabularySpec]) -> None:
        for i, term in enumerate(voc.spec.terms):
            tool_name, param = term.parameter.rsplit(".", 1)
            schema = self.param_schema(voc, ("terms", i, "parameter"), tool_name, param)
            if schema is None:
                continue
            legal = schema.get("enum")
            mapping = self.vocab.setdefault((voc.spec.service, tool_name), {}).setdefault(param, {})
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
            schema = self.param_schema(voc, ("rules", i, "parameter"), tool_name, param)
            legal_types = s.CHECKED_UNITS.get(rule.unit or "")
            if schema is not None and legal_types and schema.get("type") not in (*legal_types, None):
                self.add(voc, ("rules", i, "unit"),
                         f"unit {rule.unit!r} needs {' or '.join(_a(t) for t in legal_types)} parameter "
                         f"({rule.parameter} is {schema.get('type')!r})")

    def param_schema(self, loaded: Loaded[Any], loc: tuple[Any, ...], tool_name: str, param: str) -> dict[str, Any] | None:
        own = self.tools.get(loaded.spec.service, {})
        ref = own.get(tool_name)
        if ref is None:
            self.unknown_tool(loaded, loc, tool_name, own, key=False)
            return None
        props = ref.spec.inputSchema.get("properties", {})
        if param not in props:
            self.add(loaded, loc, f"tool {tool_name!r} has no parameter {param!r}",
                     hint=did_you_mean(param, list(props)))
            return None
        return props[param] if isinstance(props[param], dict) else {}

    def unknown_tool(self, loaded: Loaded[Any], loc: tuple[Any, ...], name: str, known: dict[str, ToolRef], *,
                     key: bool = True, also: str = "") -> None:
        self.add(loaded, loc, f"unknown tool {name!r}{also}", key=key, hint=did_you_mean(name, list(known)))

    def claim_id(self, ident: str, loaded: Loaded[Any], loc: tuple[Any, ...]) -> None:
        if ident in self.ids:
            first, _ = self.ids[ident]
            line, col = first.doc.position(self.ids[ident][1])
            self.add(loaded, loc, f"duplicate id {ident!r} (first used at {first.path}:{line}:{col})")
        else:
            self.ids[ident] = (loaded, loc)

    # ------------------------------------------------------------ examples

    def check_examples(self, ex: Loaded[s.ExamplesSpec]) -> None:
        service = ex.spec.service
        for i, example in enumerate(ex.spec.examples):
            base = ("examples", i)
            self.claim_id(example.id, ex, (*base, "id"))
            offered = self.offered(service, ex, base, example.tools)
            if example.template is not None and example.vars is not None:
                try:
                    expansions = expand_queries(example.template, example.vars, self.limit)
                except TemplateExpansionError as e:
                    self.add(ex, (*base, *e.loc), e.message)
                    continue
                seen_errors: set[tuple[Any, ...]] = set()
                for exp in expansions:
                    self.remember_query(service, exp.query, ex, (*base, "template"))
                    for loc, name, args in self.iter_calls(example, base):
                        try:
                            rendered = render_value(args, exp.values, (*loc, name))
                        except TemplateExpansionError as e:
                            if e.loc not in seen_errors:
                                seen_errors.add(e.loc)
                                self.add(ex, e.loc, e.message)
                            continue
                        self.check_call(ex, loc, name, rendered, offered, seen=seen_errors,
                                        context=f" (in expansion {exp.index}: {exp.query!r})")
            else:
                assert example.query is not None
                self.remember_query(service, example.query, ex, (*base, "query"))
                for loc, name, args in self.iter_calls(example, base):
                    self.check_call(ex, loc, name, args, offered)
            if example.sequence is not None:
                self.check_sequence(ex, base, example)
            for j, mistake in enumerate(example.common_mistakes):
                (name,) = mistake.wrong
                if name not in offered:
                    self.unknown_tool(ex, (*base, "common_mistakes", j, "wrong", name), name, offered)

    def remember_query(self, service: str, query: str, loaded: Loaded[Any], loc: tuple[Any, ...]) -> None:
        self.train_queries[service].setdefault(normalize_query(query), (loaded, loc))

    @staticmethod
    def iter_calls(example: Any, base: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str, dict[str, Any]]]:
        if example.call is not None:
            for name, args in example.call.items():
                yield (*base, "call"), name, args
        if example.calls is not None:
            for j, call in enumerate(example.calls):
                for name, args in call.items():
                    yield (*base, "calls", j), name, args
        if example.sequence is not None:
            for j, step in enumerate(example.sequence):
                for name, args in step.call.items():
                    yield (*base, "sequence", j, "call"), name, args

    def check_call(self, loaded: Loaded[Any], loc: tuple[Any, ...], name: str, args: dict[str, Any],
                   offered: dict[str, ToolRef], *, seen: set[tuple[Any, ...]] | None = None,
                   context: str = "") -> None:
        """`args` against the schema of `name` among the tools the item `offered`."""
        ref = offered.get(name)
        if ref is None:
            if seen is None or (*loc, name) not in seen:
                self.unknown_tool(loaded, (*loc, name), name, offered,
                                  also=" (not among the tools this item offers)"
                                  if offered is not self.tools.get(loaded.spec.service) else "")
                if seen is not None:
                    seen.add((*loc, name))
            return
        if ref.index >= 0:
            self.calls_per_tool[ref.service, name] += 1
        if ref.validator is None:
            return
        props = ref.spec.inputSchema.get("properties", {})
        where = (*loc, name)
        reported: set[str] = set()
        for arg in args:
            if arg not in props:
                reported.add(arg)
                self._once(seen, loaded, (*where, arg), f"unknown argument {arg!r}{context}", key=True,
                           hint=did_you_mean(arg, list(props)))
        for param, mapping in self.vocab.get((ref.service, name), {}).items():
            value = args.get(param)
            if isinstance(value, str) and value.lower() in mapping and value != mapping[value.lower()]:
                reported.add(param)
                self._once(seen, loaded, (*where, param),
                           f"{value!r} is what users say; the canonical value of {name}.{param} is "
                           f"{mapping[value.lower()]!r}{context}",
                           hint=f"use {param}: {mapping[value.lower()]}")
        if ref.fast is not None and ref.fast.is_valid(args):
            return
        for err in ref.validator.iter_errors(args):
            path = tuple(err.absolute_path)
            if path and path[0] in reported:
                continue
            if err.validator == "required":
                missing = err.message.split("'")[1] if "'" in err.message else err.message
                self._once(seen, loaded, where, f"missing required argument {missing!r}{context}")
            elif err.validator == "additionalProperties":
                continue  # reported above as unknown arguments, with a suggestion
            else:
                self._once(seen, loaded, (*where, *path),
                           f"{_schema_message(err)}{context}")

    def _once(self, seen: set[tuple[Any, ...]] | None, loaded: Loaded[Any], loc: tuple[Any, ...], message: str,
              *, key: bool = False, hint: str | None = None) -> None:
        marker = (*loc, message.split(" (in expansion")[0])
        if seen is not None:
            if marker in seen:
                return
            seen.add(marker)
        self.add(loaded, loc, message, key=key, hint=hint)

    def check_sequence(self, ex: Loaded[s.ExamplesSpec], base: tuple[Any, ...], example: s.ExampleSpec) -> None:
        assert example.sequence is not None
        query = (example.query or example.template or "").lower()
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
            offered = self.offered(service, ts, base, sc.tools)
            for loc, name, args in self.iter_calls(sc.expect, (*base, "expect")):
                self.check_call(ts, loc, name, args, offered)
            norm = normalize_query(sc.query)
            exact = train.get(norm) or self.any_train_query.get(norm)
            if exact is not None:
                other, loc = exact
                line, col = other.doc.position(loc)
                self.add(ts, (*base, "query"),
                         f"query equals a training query at {other.path}:{line}:{col} (contamination)",
                         hint="phrase test scenarios unlike the training data")
                continue
            if choices:
                best = process.extractOne(norm, choices, scorer=fuzz.ratio, score_cutoff=threshold)
                if best:
                    other, loc = train[best[0]]
                    line, col = other.doc.position(loc)
                    self.add(ts, (*base, "query"),
                             f"query is a near-duplicate ({best[1]:.0f}% similar) of a training query at "
                             f"{other.path}:{line}:{col}", severity="warning")

    def check_balance(self) -> None:
        refs = [ref for own in self.tools.values() for ref in own.values()]
        if not refs:
            return
        counts = {(ref.service, ref.spec.name): self.calls_per_tool.get((ref.service, ref.spec.name), 0)
                  for ref in refs}
        average = sum(counts.values()) / len(counts)
        for ref in refs:
            name = ref.spec.name
            n = counts[ref.service, name]
            loc = ("tools", ref.index, "name")
            if n == 0:
                self.add(ref.loaded, loc, f"tool {name!r} has no examples", severity="warning",
                         hint="add examples for it, or it can only be learnt zero-shot")
            elif n < average / 2:
                self.add(ref.loaded, loc,
                         f"tool {name!r} has {n} example calls, under half the average ({average:.1f})",
                         severity="warning")


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


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
