"""Pydantic models of every spec kind a repository commits.

`*Spec` = read from YAML: `extra="forbid"`, frozen, keys equal field names (MCP's own
`inputSchema` and the Kubernetes-style `apiVersion` header are kept as spelled).
Field documentation lives in `Field(description=...)` so it reaches `mcptrain schema`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mcptrain.specs.dialogue import ContextSpec, TurnSpec, check_dialogue

API_VERSION = "mcptrain/v1"
Priority = Literal["critical", "high", "normal"]
PRIORITIES = ("critical", "high", "normal")
# use_tool: any call of an offered tool is right (BFCL's relevance); test scenarios only.
Action = Literal["clarify", "ask_for_details", "refuse", "no_tool", "use_tool"]
# BFCL's categories as reports and gate policies name them (`zero_shot`: tools never trained on).
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "relevance", "multi_turn",
              "edge_case", "zero_shot")
# The role `mcptrain serve` requires for the training and test payloads (the seed's name).
ORCHESTRATOR_ROLE = "ml_orchestrator"
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", max_length=128)]
# Vocabulary units whose meaning mcptrain checks: the parameter types each fits.
CHECKED_UNITS: dict[str, tuple[str, ...]] = {
    "cents": ("integer",), "seconds": ("integer", "number"), "minutes": ("integer", "number"),
    "days": ("integer", "number"), "iso_date": ("string",), "iso_datetime": ("string",)}


DEFAULT_CONTEXT_TEMPLATE = (
    "{% if date %}Today is {{ weekday }}, {{ date }}{% if time %}, {{ time }}{% endif %}"
    "{% if timezone %} ({{ timezone }}){% endif %}.{% elif timezone %}Time zone: {{ timezone }}.{% endif %}"
    "{% for key, value in user | dictsort %}\nThe user's {{ key | replace('_', ' ') }}: {{ value }}.{% endfor %}")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Header(_Spec):
    api_version: Literal["mcptrain/v1"] = Field(
        alias="apiVersion", description="Spec format version; always `mcptrain/v1`."
    )


class ToolSpec(_Spec):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=128)
    title: str | None = None
    description: str = Field(min_length=1)
    inputSchema: dict[str, Any] = Field(description="JSON Schema of the arguments (MCP).")
    outputSchema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


# ---------------------------------------------------------------- calls


def _one_call(value: Any) -> Any:
    if isinstance(value, dict) and len(value) != 1:
        raise ValueError(
            f"a call is a mapping with exactly one key, the tool name (got {len(value)} keys)"
        )
    if isinstance(value, dict):
        (args,) = value.values()
        if args is None:
            return {next(iter(value)): {}}
        if not isinstance(args, dict):
            raise ValueError("the arguments of a call must be a mapping of parameter to value")
    return value


Call = Annotated[
    dict[str, dict[str, Any]],
    Field(description="One tool call: `{tool_name: {argument: value, ...}}`."),
]


class CallField(_Spec):
    """Mixin validators shared by everything that holds calls."""

    @field_validator("call", "calls", mode="before", check_fields=False)
    @classmethod
    def _check_calls(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [_one_call(c) for c in v]
        return _one_call(v)


class StepSpec(CallField):
    call: Call
    result: Any = Field(
        default=None, description="What the tool returned; later steps may use these values."
    )


class MistakeSpec(CallField):
    wrong: Call = Field(description="A call a model typically gets wrong.")
    reason: str = Field(description="Why it is wrong.")

    @field_validator("wrong", mode="before")
    @classmethod
    def _check_wrong(cls, v: Any) -> Any:
        return _one_call(v)


OFFERED_TOOLS = (
    "The tools this item offers the model (`[]`: none): names of its service's tools (a subset), and/or "
    "inline tool definitions (for imported benchmarks, where one name has several schemas). "
    "Its expected calls are checked against exactly these, and its prompt lists only these. "
    "Default: all of the service's tools."
)


class _Behaviour(CallField):
    """A behaviour instead of a call, and the text the assistant answers with."""

    action: Action | None = Field(
        default=None, description="A behaviour instead of a call: clarify, ask_for_details, refuse, no_tool.")
    question: str | None = Field(default=None, description="For clarify / ask_for_details: what to ask.")
    required_fields: list[str] | None = Field(
        default=None, description="For ask_for_details: what is missing.")
    reason: str | None = Field(default=None, description="For refuse: why.")
    response: str | None = Field(
        default=None, description="The assistant's reply; on its own (no `action`), an answer "
                                  "without a tool (`no_tool`).")

    def _check_behaviour(self) -> None:
        if self.action == "ask_for_details" and not self.required_fields:
            raise ValueError("action 'ask_for_details' needs 'required_fields'")
        if self.action is None and (self.question or self.required_fields or self.reason):
            given = [n for n in ("question", "required_fields", "reason") if getattr(self, n)]
            raise ValueError(f"{', '.join(repr(n) for n in given)} only go with an 'action'")


def _answer_shapes(spec: Any, names: tuple[str, ...]) -> list[str]:
    shapes = [n for n in names if getattr(spec, n) is not None]
    if "response" in names and spec.action is not None and "response" in shapes:
        shapes.remove("response")  # the text of the action, not a shape of its own
    return shapes


def _one_answer_shape(spec: Any, what: str, names: tuple[str, ...]) -> None:
    """`spec` has exactly one of the answer shapes `names`, or a ValueError names them."""
    shapes = _answer_shapes(spec, names)
    if len(shapes) != 1:
        listed = ", ".join(repr(n) for n in names[:-1]) + f" or {names[-1]!r}"
        raise ValueError(f"{what} needs exactly one of {listed}" + (f" (got {', '.join(shapes)})" if shapes else ""))


class ExampleSpec(_Behaviour):
    id: Identifier = Field(description="Unique across the whole repository.")
    query: str | None = Field(default=None, min_length=1, description="What the user says.")
    template: str | None = Field(
        default=None, description="A jinja2 template for the query; expanded over `vars`."
    )
    vars: dict[str, list[Any]] | None = Field(
        default=None, description="Template variables: the cross product of these lists."
    )
    messages: list[TurnSpec] | None = Field(
        default=None, description="A dialogue instead of a query: user and assistant turns, calls and "
                                   "results, ending where the answer (call, calls, sequence, response "
                                   "or action) comes. Every assistant turn is trained.")
    services: list[Identifier] = Field(
        default_factory=list, description="Other services whose tools this row offers (besides its own "
                                          "and its service's `uses`); services of called tools are added.")
    context: ContextSpec | None = Field(default=None, description="Date, time zone, user attributes.")
    call: Call | None = Field(default=None, description="The single correct call.")
    calls: list[Call] | None = Field(
        default=None, description="Parallel calls, order-free.", min_length=2
    )
    sequence: list[StepSpec] | None = Field(
        default=None, description="Multi-step calls; each step's `result` feeds later steps."
    )
    tools: list[str | ToolSpec] | None = Field(default=None, description=OFFERED_TOOLS)
    explanation: str | None = Field(default=None, description="Why this call is right.")
    common_mistakes: list[MistakeSpec] = Field(default_factory=list)
    source: Literal["human", "production", "production_correction", "synthetic", "imported"] = Field(
        default="human",
        description="Where the example came from (`production_correction`: a production failure "
                    "a person corrected, the chapter's most valuable kind).")
    quality: Literal["gold", "silver", "bronze"] = Field(
        default="gold", description="How much it was reviewed."
    )
    created_at: dt.date | None = Field(
        default=None, description="When it was written; used by the time-based holdout."
    )

    @model_validator(mode="after")
    def _one_shape(self) -> ExampleSpec:
        _one_answer_shape(self, "an example", ("call", "calls", "sequence", "response", "action"))
        self._check_behaviour()
        if self.action == "use_tool":
            raise ValueError("action 'use_tool' is for test scenarios (training needs the call itself)")
        asked = [n for n in ("query", "template", "messages") if getattr(self, n) is not None]
        if len(asked) != 1:
            raise ValueError("an example needs exactly one of 'query', 'template' or 'messages'"
                             + (f" (got {', '.join(asked)})" if asked else ""))
        if self.template is not None and not self.vars:
            raise ValueError("a 'template' needs 'vars' to expand over")
        if self.vars is not None and self.template is None:
            raise ValueError("'vars' is only meaningful with 'template'")
        if self.messages is not None:
            check_dialogue(self.messages)
        return self


class AnswerSpec(_Behaviour):
    """One acceptable answer: call(s), a sequence, or a behaviour."""

    call: Call | None = None
    calls: list[Call] | None = Field(default=None, min_length=2)
    sequence: list[StepSpec] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> AnswerSpec:
        _one_answer_shape(self, "an answer", ("call", "calls", "sequence", "action"))
        self._check_behaviour()
        return self


class ExpectSpec(_Behaviour):
    """What a model should do: call(s), a sequence, a behaviour, or any one of several."""

    call: Call | None = None
    calls: list[Call] | None = Field(default=None, min_length=2)
    sequence: list[StepSpec] | None = None
    one_of: list[AnswerSpec] | None = Field(
        default=None, min_length=2,
        description="Several acceptable answers (calls, sequences or actions); any one is correct. "
                    "The first is the reference answer.")

    @model_validator(mode="after")
    def _one_shape(self) -> ExpectSpec:
        _one_answer_shape(self, "expect", ("call", "calls", "sequence", "action", "one_of"))
        self._check_behaviour()
        return self

    def options(self) -> list[AnswerSpec | ExpectSpec]:
        """The acceptable answers, the reference answer first."""
        return list(self.one_of) if self.one_of is not None else [self]


# ---------------------------------------------------------------- kinds


class ServiceTrainingSpec(_Spec):
    allow_cloud: bool = Field(
        default=True,
        description="false: this service's data must not leave the organisation (the chapter's consent "
                    "restrictions); a cloud backend (openai) refuses to train, local backends proceed.")


class ConsentSpec(_Spec):
    public_discovery: bool = Field(
        default=False,
        description="true: `mcptrain serve` answers /.well-known/mcp-training-data.json without a token "
                    "(the seed's public discovery); false: only authenticated callers see it.")
    public_model_training: bool = Field(
        default=False, description="The service consents to its data improving public foundation models.")
    opt_in: str | None = Field(default=None, description="The consent in words, as published.")
    restrictions: list[str] = Field(default_factory=list, description="Conditions on any use of the data.")


class ContactSpec(_Spec):
    team: str | None = Field(default=None, description="Who to ask about this service's data (an address).")
    documentation: str | None = Field(default=None, description="Where its training data is documented.")


class ServiceSpec(_Header):
    kind: Literal["Service"]
    name: Identifier
    version: str = Field(default="0.1.0", pattern=r"^\d+\.\d+\.\d+([-+].*)?$")
    owners: list[str] = Field(default_factory=list, description="CODEOWNERS-style owners.")
    critical: bool = Field(
        default=False, description="Its scenarios gate at the critical threshold."
    )
    min_threshold: float | None = Field(
        default=None, ge=0, le=1,
        description="The accuracy this service needs to ship: it counts as failing below the higher "
                    "of this and the gate policy's `deployment.service_min_threshold`.")
    training: ServiceTrainingSpec = Field(default_factory=lambda: ServiceTrainingSpec())
    description: str = ""
    uses: list[Identifier] = Field(
        default_factory=list, description="Other services whose tools every row of this service "
                                          "also offers (cross-service workflows).")
    instructions: str | None = Field(
        default=None, min_length=1, description="Added to the system prompt of every row that "
                                                "offers this service's tools.")
    context: ContextSpec | None = Field(
        default=None, description="Context of every row of this service (over the project's).")
    consent: ConsentSpec = Field(
        default_factory=lambda: ConsentSpec(),
        description="What the published discovery document says about using this data (`mcptrain export`).")
    contact: ContactSpec | None = Field(default=None, description="Published with the discovery document.")


class ToolSetSpec(_Header):
    kind: Literal["ToolSet"]
    service: Identifier
    tools: list[ToolSpec]


class ExamplesSpec(_Header):
    kind: Literal["Examples"]
    service: Identifier
    examples: list[ExampleSpec]


class EdgeCaseSpec(_Spec):
    id: Identifier
    scenario: str | None = None
    query: str | None = Field(default=None, min_length=1, description="What the user says.")
    template: str | None = Field(
        default=None, description="A jinja2 template for the query (and the reply); expanded over `vars`.")
    vars: dict[str, list[Any]] | None = Field(
        default=None, description="Template variables: the cross product of these lists.")
    tool: str | None = Field(default=None, description="The tool the case is about, if any.")
    tools: list[str | ToolSpec] | None = Field(default=None, description=OFFERED_TOOLS)
    services: list[Identifier] = Field(
        default_factory=list, description="Other services whose tools this row offers.")
    context: ContextSpec | None = Field(default=None, description="Date, time zone, user attributes.")
    expect: ExpectSpec
    created_at: dt.date | None = None

    @model_validator(mode="after")
    def _behaviour_only(self) -> EdgeCaseSpec:
        if self.expect.action is None:
            raise ValueError("an edge case expects an 'action' (put calls in Examples)")
        if self.expect.action == "use_tool":
            raise ValueError("action 'use_tool' is for test scenarios (training needs the call itself)")
        if (self.query is None) == (self.template is None):
            raise ValueError("an edge case needs exactly one of 'query' or 'template'")
        if self.template is not None and not self.vars:
            raise ValueError("a 'template' needs 'vars' to expand over")
        if self.vars is not None and self.template is None:
            raise ValueError("'vars' is only meaningful with 'template'")
        return self


class EdgeCasesSpec(_Header):
    kind: Literal["EdgeCases"]
    service: Identifier
    edge_cases: list[EdgeCaseSpec]


class TermSpec(_Spec):
    parameter: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*\.[A-Za-z_][A-Za-z0-9_]*$",
        description="`tool.parameter` the canonical values belong to.",
    )
    values: dict[str, list[str]] = Field(
        description="Canonical value -> what users might say instead."
    )


class RuleSpec(_Spec):
    parameter: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*\.[A-Za-z_][A-Za-z0-9_]*$")
    unit: str | None = Field(
        default=None, pattern=r"^[A-Za-z][A-Za-z0-9_ /%.-]*$", max_length=64,
        description="The unit of the parameter's value. Any name is accepted; the known units "
                    f"({', '.join(CHECKED_UNITS)}) are checked against the parameter's schema, "
                    "others (grams, bytes, percent, basis_points, ...) are descriptive only.")
    rule: str | None = Field(default=None, description="The rule in words.")
    examples: list[dict[str, Any]] = Field(
        default_factory=list, description="`{user_says: ..., value: ...}` pairs."
    )


class VocabularySpec(_Header):
    kind: Literal["Vocabulary"]
    service: Identifier
    terms: list[TermSpec] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(default_factory=list)


class ScenarioSpec(_Spec):
    id: Identifier
    priority: Priority = "normal"
    query: str | None = Field(default=None, min_length=1, description="What the user says.")
    tools: list[str | ToolSpec] | None = Field(default=None, description=OFFERED_TOOLS)
    messages: list[TurnSpec] | None = Field(
        default=None, description="A dialogue instead of a query; the model answers its last turn.")
    services: list[Identifier] = Field(
        default_factory=list, description="Other services whose tools this scenario offers.")
    context: ContextSpec | None = Field(default=None, description="Date, time zone, user attributes.")
    expect: ExpectSpec
    min_accuracy_required: float | None = Field(default=None, ge=0, le=1)
    category: str | None = Field(default=None, description="Overrides the derived category.")
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _asked(self) -> ScenarioSpec:
        if (self.query is None) == (self.messages is None):
            raise ValueError("a scenario needs exactly one of 'query' or 'messages'")
        if self.messages is not None:
            check_dialogue(self.messages)
        return self


class TestScenariosSpec(_Header):
    kind: Literal["TestScenarios"]
    service: Identifier
    scenarios: list[ScenarioSpec]


class DeploymentSpec(_Spec):
    """The chapter's deployment tiers, by the share of services that fail."""

    service_min_threshold: float = Field(
        default=0.0, ge=0, le=1,
        description="A service scoring under it fails (its Service's own `min_threshold` may raise it).")
    partial_below: float = Field(
        default=0.20, ge=0, le=1,
        description="Under this share of failing services, the passing ones ship alone (partial).")
    catastrophic_from: float = Field(
        default=0.50, ge=0, le=1,
        description="From this share of failing services on: catastrophic (alert, nothing ships, "
                    "fall back to per-service adapters). Between the two: retry, else blocked.")

    @model_validator(mode="after")
    def _ordered(self) -> DeploymentSpec:
        if self.partial_below > self.catastrophic_from:
            raise ValueError("partial_below must not exceed catastrophic_from")
        return self


class GatePolicySpec(_Header):
    kind: Literal["GatePolicy"]
    name: Identifier
    description: str = ""
    min_overall_accuracy: float = Field(default=0.0, ge=0, le=1)
    overall_vs_production: Literal["improve", "not_worse", "ignore"] = Field(
        default="improve",
        description="Overall accuracy against the production model: `improve` (the chapter's "
                    "rule), `not_worse`, or `ignore`. Skipped while nothing is in production.")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="BFCL category (or `zero_shot`) -> minimum accuracy."
    )
    critical_min_accuracy: float = Field(default=1.0, ge=0, le=1)
    critical_categories: list[str] = Field(
        default_factory=list,
        description="Categories or scenario `tags` (across services: payment, security, data_deletion) "
                    "held to `critical_min_accuracy`.")
    critical_services: list[str] = Field(default_factory=list)
    max_regression: float = Field(
        default=0.05, ge=0, le=1, description="Largest drop vs production, per category."
    )
    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)
    max_retries: int = Field(
        default=0, ge=0, le=10,
        description="How many times a `retry` verdict retrains (each with the next `retry_with`).")
    retry_with: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The recipe adjustments of retry 1, 2, ...: `training:` settings of mcptrain.yaml "
                    "(`{learning_rate: 0.001, max_steps: 120}`); a retry with unchanged settings "
                    "would train the same model again.")

    @model_validator(mode="after")
    def _retries(self) -> GatePolicySpec:
        if self.max_retries > len(self.retry_with):
            raise ValueError(f"max_retries is {self.max_retries} but retry_with names "
                             f"{len(self.retry_with)} adjustments: give one per retry (the same "
                             "settings would train the same model again)")
        for i, overrides in enumerate(self.retry_with):
            try:
                TrainingSpec.model_validate(overrides)
            except ValidationError as e:
                first = e.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"retry_with[{i}].{where}: {first['msg']} (a key of `training:` "
                                 "in mcptrain.yaml)") from None
        return self


class LoraSpec(_Spec):
    r: int = Field(default=16, ge=1, le=512,
                   description="LoRA rank (16 chosen on the demo's validation split over 8, README).")
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Linear layers that get LoRA matrices: attention and MLP (all linear layers of a "
                    "Llama-family block; chosen on the demo's validation split over attention only).")


class TrainingSpec(_Spec):
    max_steps: int = Field(default=60, ge=1)
    epochs: float = Field(default=1.0, gt=0)
    learning_rate: float = Field(default=2e-3, gt=0)
    batch_size: int = Field(default=8, ge=1)
    gradient_accumulation: int = Field(default=1, ge=1)
    max_seq_len: int = Field(default=1024, ge=32)
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    eval_every: int = Field(default=20, ge=1)
    early_stopping_patience: int = Field(default=3, ge=0)
    checkpoint_every: int = Field(default=20, ge=1)
    precision: Literal["bf16", "fp32", "fp16"] = "bf16"
    packing: bool = True
    prefix_gradients: bool = Field(
        default=True,
        description="Backpropagate through the shared tool block (exact). false: the block runs "
                    "without gradients, ~1.5x faster steps on CPU, rows still train every LoRA matrix.")
    decision_weight: float = Field(
        default=1.0, ge=0,
        description="Loss weight of each assistant turn's first token, the one that decides "
                    "between calling a tool and answering in text.")
    neftune_alpha: float = Field(
        default=0.0, ge=0,
        description="NEFTune: uniform noise of this scale on the input embeddings while training "
                    "(0: off; the paper uses 5).")
    mask_tool_names: float = Field(
        default=0.25, ge=0, le=1,
        description="Share of training rows whose offered tools get made-up names (Hammer's function "
                    "masking): the model must pick a tool by its description, as it must for a tool "
                    "it was never trained on. 0: off; 0.25 chosen on the held-out-tools stand-in and "
                    "the validation split (README).")
    behaviour_floor: float = Field(
        default=0.0, ge=0, lt=0.25,
        description="Repeat the training rows of every behaviour (call, parallel, sequence, no_tool, "
                    "clarify, ask_for_details, refuse) that holds less than this share of the training "
                    "split until it holds it; the steps stay the same, so the thin behaviours get "
                    "more of them. 0: off.")
    calibrate_decision: bool = Field(
        default=True,
        description="After training, choose on the validation split the probability of opening "
                    "a tool call above which the model calls (decision.json next to the adapter); "
                    "below it the turn is answered in text. Likewise after each call: another call, "
                    "or the end of the turn.")
    decision_head: bool = Field(
        default=False,
        description="With calibrate_decision: also fit a logistic regression on the final hidden state "
                    "at the start of every training turn (call or answer), and use it instead of the "
                    "call token's probability when it classifies more validation turns right. Off by "
                    "default: on the held-out-tools stand-in it answered in text where the token's "
                    "threshold called tools never trained on (53 against 72 of 102 items; README).")
    another_call_head: bool = Field(
        default=True,
        description="With calibrate_decision: also fit a logistic regression on the final hidden state "
                    "after each call of the training turns (another call or the end), and use it "
                    "instead of the newline token's probability when it classifies more validation "
                    "call ends right.")
    decision_head_inputs: list[Literal["adapter", "base"]] = Field(
        default=["adapter", "base"], min_length=1, max_length=2, json_schema_extra={"uniqueItems": True},
        description="What the decision head reads at a turn's start: the trained model's final hidden "
                    "state (adapter) and the base model's (base). The base model never trained on the "
                    "tools, so its state does not tell trained tools from new ones; chosen on the "
                    "held-out-tools stand-in (README).")
    seed: int = 1234
    lora: LoraSpec = Field(default_factory=LoraSpec)
    merge_adapter: bool = Field(default=False, description="Also export a merged model.")

    @field_validator("decision_head_inputs")
    @classmethod
    def _distinct_inputs(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each input may be listed once (adapter, base)")
        return v


class SplitsSpec(_Spec):
    seed: int = 42
    train: float = Field(default=0.6, ge=0, le=1)
    validation: float = Field(default=0.1, ge=0, le=1)
    test: float = Field(default=0.1, ge=0, le=1)
    holdout: float = Field(default=0.2, ge=0, le=1)
    zero_shot_tools: float = Field(
        default=0.2, ge=0, le=1, description="Share of tools never seen in training."
    )
    zero_shot_rotation: int = Field(
        default=0, ge=0,
        description="Which window of each service's seeded tool order is held out as zero-shot; "
                    "`mcptrain holdout refresh` proposes the next one. Moves only the rotated "
                    "tools' rows: the phrasing split of every other tool stays as it is.")
    time_holdout_after: dt.date | None = Field(
        default=None, description="Examples created after this date go to holdout "
                                  "(`mcptrain holdout refresh` proposes the next window).")
    near_duplicate_threshold: float = Field(default=0.9, gt=0, le=1)
    assignment: Literal["balanced", "hashed"] = Field(
        default="balanced",
        description="balanced: each stratum's groups, in seeded-hash order, go to the split furthest "
                    "below its share (small strata follow the shares, but an added group can move the "
                    "ones after it); hashed: each group by its own seeded hash against the shares "
                    "(adding rows moves no other row; small strata follow the shares only on average).")

    @model_validator(mode="after")
    def _sum(self) -> SplitsSpec:
        total = self.train + self.validation + self.test + self.holdout
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test + holdout must be 1.0 (got {total:g})")
        return self


class DataSpec(_Spec):
    resample_values: bool = Field(
        default=False,
        description="Re-sample the literal values of training rows (ids with a pattern, counts "
                    "written as numbers) into fresh ones that satisfy the schema, so the model "
                    "learns to copy them from the query instead of memorising them.")


class RaySpec(_Spec):
    address: str | None = Field(default=None, description="Existing cluster; else local.")
    num_workers: int = Field(default=1, ge=1)
    use_gpu: bool = False
    cpus_per_worker: float = Field(default=2, gt=0)
    resources_per_worker: dict[str, float] = Field(default_factory=dict)
    storage_path: str | None = Field(default=None, description="Checkpoint storage (URI).")


class DvcRemoteSpec(_Spec):
    name: str = "storage"
    url: str = Field(default=".mcptrain/dvc-remote", description="Any DVC remote URL.")


class DvcSpec(_Spec):
    enabled: bool = True
    remote: DvcRemoteSpec = Field(default_factory=DvcRemoteSpec)


class OpenAISpec(_Spec):
    model: str = "gpt-4.1-mini-2025-04-14"
    base_url: str | None = None
    n_epochs: int | None = None
    price_per_million_tokens: float | None = Field(
        default=None, ge=0,
        description="Your price per 1M billed training tokens (tokens x epochs), from your price list: "
                    "`train` shows the estimated cost before a paid job starts. No default: prices "
                    "change (the design chapter itself quotes both $8 per 1M and $8 per 1K).")


class PromptSpec(_Spec):
    domain_knowledge: bool = Field(
        default=False,
        description="Put each service's vocabulary rules and canonical values into the system prompt "
                    "of its rows: every backend, training and evaluation alike. Off until measured on "
                    "the validation split (README, \"Domain knowledge\").")


class EvaluationSpec(_Spec):
    batch_size: int = Field(
        default=64, ge=1,
        description="Rows decoded together. Rows of one tool block attend to its one shared cache, "
                    "so a row costs only its own tokens: 64 decodes ~2x faster than 16 on 2 CPU "
                    "cores (benchmarks/eval_bench.py).")
    max_new_tokens: int = Field(
        default=160, ge=8,
        description="Tokens a reply may take. Under the grammar a row still inside a call at the "
                    "limit gets up to 96 more to close it (training/predictor.py, CALL_GRACE).")
    constrained: bool = Field(
        default=True,
        description="Local models decode under the offered tools' grammar: free text stays "
                    "possible, an opened <tool_call> must be a schema-valid call of an offered tool.")
    ground_identifiers: bool = Field(
        default=True,
        description="Under the grammar, a string parameter whose pattern requires a digit (an id) "
                    "takes only ids the conversation holds, and a tool needing an id it does not "
                    "hold cannot be called: the model answers in text (training/grounding.py).")
    stated_values: bool = Field(
        default=True,
        description="Under the grammar, an optional string parameter with an enum becomes required "
                    "when the user states one of its values in words (\"send it express\"), and an "
                    "optional id parameter when the user states an id it takes that no required "
                    "parameter of the tool could (\"Pay INV-123\"): the model may not leave it out "
                    "(training/grounding.py).")
    vocabulary_values: bool = Field(
        default=True,
        description="Under the grammar, a parameter the vocabulary gives canonical values takes only "
                    "the values the user says, as themselves or as a synonym (\"by text message\": "
                    "sms), and must be given; an optional one the user says nothing of is left out "
                    "(training/grounding.py).")
    unsaid_required: bool = Field(
        default=False,
        description="With vocabulary_values: a tool whose required parameter has canonical values in "
                    "the vocabulary, none of which the conversation says (\"Change U-6311's access "
                    "level\" and role: admin / viewer / ...), is not offered: the model answers in "
                    "text, where the question for it belongs (training/grounding.py).")
    invented_values: bool = Field(
        default=True,
        description="Under the grammar, a call giving a free-text value that shares no word "
                    "with the conversation (\"Ship ORD-2301 to 10 Main Street\" with city \"New York\") "
                    "is decoded again as a text answer, where the question for it belongs; enums, "
                    "formats, ids, codes of up to four characters and values without a letter are "
                    "left alone. So is a call giving a number, date or time when the conversation "
                    "gives none at all (no digit, no word for one), unless the parameter's schema "
                    "writes it (training/grounding.py).")
    fresh_calls: bool = Field(
        default=True,
        description="Under the grammar, a call repeating one already made (the same tool with the "
                    "same arguments, earlier in the turn or in the conversation's history) is written "
                    "again from just before it, offered only calls that repeat none: a tool already "
                    "called must give an enum, boolean or id parameter another value than each of its "
                    "earlier calls did (training/predictor.py, `_unrepeat`; README, \"Fresh calls\").")
    named_ids: bool = Field(
        default=True,
        description="Under the grammar, when a call closes while the user's last message names an id "
                    "(a value of an offered tool's id parameter) that no call of the turn or of the "
                    "history has taken, the turn goes on with another call, whatever the calibrated "
                    "another-call decision says (\"Reset U-1450 and U-6021\" gets two calls; "
                    "training/predictor.py).")
    named_values: bool = Field(
        default=True,
        description="Under the grammar, the same for an enum parameter's values: when a call closes "
                    "having set a string-enum parameter to a value the user's last message states, "
                    "and the message states other values of it that no call has taken, the turn goes "
                    "on with another call (\"the pending, the failed and the refunded payments\": "
                    "three listings; training/grounding.py, `Named`).")
    take_named: bool = Field(
        default=True,
        description="Under the grammar, with `named_ids` or `named_values`: a call written after "
                    "another while something the user's last message names is untaken must take some "
                    "of it (\"Create accounts for nadia@x.io and luca@x.io\": the second call's email is "
                    "luca@x.io); a call written once nothing named is untaken is free again "
                    "(training/grounding.py, `taking_tools`).")
    name_calibration: float = Field(
        default=0.0, ge=0.0, le=2.0,
        description="Under the grammar, each token of a tool's name is scored log p - this x its log "
                    "probability after a user turn that says only \"N/A\": a fine-tuned model's pull "
                    "towards the names it was trained on, taken out (0: off; README, \"Constrained "
                    "decoding\").")
    tool_retrieval: float = Field(
        default=4.0, ge=0.0, le=10.0,
        description="Under the grammar, each offered tool's BM25 score against what the user said "
                    "(divided by the best tool's) times this is a prior in nats over the tool names, "
                    "added to the model's log probabilities while it writes a name (0: off; the "
                    "default 4 was chosen on validation data only; README, \"Constrained decoding\").")
    report_raw: bool = Field(
        default=True,
        description="Also score the candidate without the grammar, side by side (a second pass).")
    diagnostics: bool = Field(
        default=True,
        description="Also score the candidate on the validation split and on `seen_sample` training "
                    "rows (seen phrasings), reported apart and never gated: memorising vs failing to "
                    "learn, and the failures the prompt backend may learn from.")
    seen_sample: int = Field(
        default=50, ge=0,
        description="How many training rows (an even sample) the seen-phrasings diagnostic scores.")


class ForgeSpec(_Spec):
    kind: Literal["local", "github"] = Field(
        default="local", description="Where promotion pull requests are opened: `local` records them "
                                     "under .mcptrain/forge/ (the default), `github` through the API.")
    repository: str | None = Field(
        default=None, description="owner/name on GitHub (default: $GITHUB_REPOSITORY).")
    api_url: str | None = Field(
        default=None, description="The GitHub API (default: $GITHUB_API_URL, else https://api.github.com; "
                                  "GitHub Enterprise Server: https://HOST/api/v3).")
    base_branch: str = Field(default="main", description="The branch promotion pull requests target.")


class McpServerSpec(_Spec):
    """Where a service's live MCP server answers `tools/list` (`mcptrain import mcp`, `drift`)."""

    command: list[str] | None = Field(
        default=None, min_length=1,
        description="Start the server and talk to it over stdio: the program and its arguments.")
    url: str | None = Field(
        default=None, pattern=r"^https?://", description="The server's streamable HTTP endpoint.")
    env: list[str] = Field(
        default_factory=list,
        description="Names of environment variables passed on to the stdio command (its credentials; "
                    "values are never written in mcptrain.yaml).")
    token_env: str | None = Field(
        default=None, description="Environment variable holding a bearer token sent to `url`.")
    timeout: float = Field(default=30.0, gt=0, le=3600, description="Seconds to wait for the server.")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of 'command' (stdio) and 'url' (streamable HTTP)")
        return self


class SourceSpec(_Spec):
    """A remote service whose training data `mcptrain pull` fetches (the seed's discovery protocol)."""

    name: Identifier = Field(description="The service the source publishes (its specs/<name>/ folder).")
    url: str = Field(pattern=r"^https?://", description="Its /.well-known/mcp-training-data.json URL.")
    token_env: str | None = Field(
        default="MCPTRAIN_SOURCE_TOKEN",
        description="Environment variable holding the bearer token (role ml_orchestrator); null: none.")
    timeout: float = Field(default=10.0, gt=0, le=600, description="Seconds per request.")
    retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed request (with backoff).")
    max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Largest payload accepted.")


class PublishClientSpec(_Spec):
    name: Identifier = Field(description="Who the caller is, as the audit log names it.")
    roles: list[str] = Field(default_factory=list, description="`ml_orchestrator` may read the datasets.")
    token_env: str = Field(description="Environment variable holding this caller's bearer token.")


class PublishSpec(_Spec):
    """How `mcptrain serve` publishes this repository's services."""

    clients: list[PublishClientSpec] = Field(default_factory=list, description="Who may call, and as what.")
    rate_limit: int = Field(default=60, ge=1, description="Requests per minute per caller (then 429).")
    audit_log: str | None = Field(
        default=None, description="File that gets one JSON line per access (default: audit.log in the state folder).")
    base_url: str | None = Field(
        default=None, description="The public address the endpoints are reached at (default: the served one).")


class ProjectSpec(_Header):
    kind: Literal["Project"]
    name: Identifier = Field(description="The model's name in the registry.")
    owners: list[str] = Field(
        default_factory=list,
        description="The ML platform team (CODEOWNERS-style): owners of policies/, models/ and "
                    "mcptrain.yaml in the CODEOWNERS `mcptrain codeowners` writes, and reviewers of "
                    "promotion pull requests.")
    base_model: str = Field(
        default="embedded:smollm2-135m-instruct",
        description="`embedded:smollm2-135m-instruct`, a Hugging Face id, or a local path.",
    )
    backend: Literal["lora", "openai", "prompt"] = "lora"
    system_prompt: str = "You are a helpful assistant that calls the organisation's tools."
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    context: ContextSpec | None = Field(
        default=None, description="Context of every row (date, time zone, user attributes); services "
                                  "and rows override it.")
    context_template: str = Field(
        default=DEFAULT_CONTEXT_TEMPLATE, min_length=1,
        description="jinja2 template that renders a row's context into its system prompt; it sees "
                    "`date`, `weekday`, `time`, `timezone` and `user`.")
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    splits: SplitsSpec = Field(default_factory=SplitsSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    ray: RaySpec = Field(default_factory=RaySpec)
    dvc: DvcSpec = Field(default_factory=DvcSpec)
    openai: OpenAISpec = Field(default_factory=OpenAISpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    forge: ForgeSpec = Field(default_factory=ForgeSpec)
    mcp_servers: dict[Identifier, McpServerSpec] = Field(
        default_factory=dict, description="Each service's live MCP server, by service name.")
    sources: list[SourceSpec] = Field(
        default_factory=list, description="Remote services whose published training data is pulled.")
    publish: PublishSpec = Field(default_factory=PublishSpec)
    max_template_expansions: int = Field(default=1000, ge=1, le=100000)


KINDS: dict[str, type[_Header]] = {
    "Project": ProjectSpec,
    "Service": ServiceSpec,
    "ToolSet": ToolSetSpec,
    "Examples": ExamplesSpec,
    "EdgeCases": EdgeCasesSpec,
    "Vocabulary": VocabularySpec,
    "TestScenarios": TestScenariosSpec,
    "GatePolicy": GatePolicySpec,
}


# ---------------------------------------------------------------- the model registry

VERSION_STATUSES = ("candidate", "production", "deprecated", "rejected")
SemVer = Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$", description="MAJOR.MINOR.PATCH")]


class ScoreSpec(_Spec):
    accuracy: float = Field(ge=0, le=1)
    correct: int = Field(ge=0)
    n: int = Field(ge=0)


class MetricsSpec(_Spec):
    overall: ScoreSpec
    category: dict[str, ScoreSpec] = Field(default_factory=dict)
    service: dict[str, ScoreSpec] = Field(default_factory=dict)
    priority: dict[str, ScoreSpec] = Field(default_factory=dict)


class DatasetRefSpec(_Spec):
    md5: str | None = Field(default=None, description="`outs[0].md5` of datasets.dvc (None without DVC).")
    content_hash: str = Field(description="The dataset manifest's content hash.")


class FingerprintsSpec(_Spec):
    specs: str = Field(description="sha256 of the whole surface (tools, data, settings).")
    tools: dict[str, str] = Field(default_factory=dict, description="`service/tool` -> sha256 of its schema.")
    stages: dict[str, str] = Field(
        default_factory=dict,
        description="The inputs hash of the train and eval stages and of the gate's policies it passed "
                    "(what `mcptrain plan` compares with when the local cache is cold).")


class GateRecordSpec(_Spec):
    decision: Literal["full", "partial", "retry", "blocked", "catastrophic"]
    reason: str
    failed_checks: list[str] = Field(default_factory=list)


class AdapterSpec(_Spec):
    path: str | None = Field(default=None, description="Where the adapter lives (never committed to git).")
    uri: str | None = Field(default=None, description="A remote location (an OpenAI model id, s3://...).")
    inputs: str | None = Field(default=None, description="The train stage's inputs hash.")


class BumpSpec(_Spec):
    level: Literal["major", "minor", "patch"]
    previous: SemVer | None = Field(default=None, description="The production version compared with.")
    reasons: list[str] = Field(default_factory=list)


class ServiceDeploymentSpec(_Spec):
    version: SemVer | None = Field(
        description="The model version that serves this service (null: none yet; it keeps its current setup).")
    owners: list[str] = Field(default_factory=list)


class ModelVersionSpec(_Spec):
    version: SemVer
    status: Literal["candidate", "production", "deprecated", "rejected"]
    created_at: str = Field(description="ISO 8601 time the candidate was evaluated.")
    base_model: str
    backend: str
    dataset: DatasetRefSpec
    fingerprints: FingerprintsSpec
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: MetricsSpec
    baseline: MetricsSpec | None = Field(default=None, description="The base model on the same items.")
    gate: GateRecordSpec
    adapter: AdapterSpec = Field(default_factory=AdapterSpec)
    bump: BumpSpec
    deployment: dict[str, ServiceDeploymentSpec] | None = Field(
        default=None, description="A partial deployment: each service and the version serving it.")
    released_at: str | None = None


class ModelRegistrySpec(_Header):
    kind: Literal["ModelRegistry"]
    models: dict[Identifier, list[ModelVersionSpec]] = Field(default_factory=dict)
