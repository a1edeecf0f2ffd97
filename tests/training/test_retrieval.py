from __future__ import annotations

import math
import random
from typing import Any

import pytest

from mcptrain.training.grounding import user_text
from mcptrain.training.retrieval import name_token_bonus, tool_document, tool_scores


def tool(name: str, description: str, **params: str) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": {k: {"type": "string", "description": v}
                                                        for k, v in params.items()}}}}


TOOLS = [
    tool("list_orders", "List a customer's orders, optionally by status.", customer_id="The customer."),
    tool("createOrder", "Place a new order for a customer.", customer_id="The customer.", sku="The product."),
    tool("check_stock", "How many units of a product are in the warehouse.", sku="The product."),
]


def test_a_tools_document_holds_its_name_as_words_and_its_parameters() -> None:
    text = tool_document(TOOLS[1])
    assert "create Order" in text and "Place a new order" in text and "customer id" in text and "The product." in text
    assert tool_document({"name": "bare.tool-name", "description": "x"}).startswith("bare tool name")


def test_a_tools_document_holds_its_parameters_enum_values() -> None:
    callback = {"name": "schedule_callback", "description": "Book a phone callback for a customer.",
                "inputSchema": {"type": "object", "properties": {
                    "customer_id": {"type": "string"}, "slot": {"type": "string", "enum": ["morning", "late_evening"]},
                    "urgent": {"type": "boolean", "enum": [True, False]}}}}
    text = tool_document(callback)
    assert "morning" in text and "late evening" in text and "True" not in text
    notify = {"name": "send_notification", "description": "Send a customer a message.",
              "inputSchema": {"type": "object", "properties": {"customer_id": {"type": "string"}}}}
    scores = tool_scores([notify, callback], "Could someone ring C-66 in the late evening?")
    assert scores == {"schedule_callback": 1.0, "send_notification": 0.0}


def test_the_tool_sharing_the_requests_rarer_words_scores_best() -> None:
    scores = tool_scores(TOOLS, "Please place an order for customer C-88: two units of SKU-1")
    assert scores["createOrder"] == 1.0
    assert all(0.0 <= v < 1.0 for n, v in scores.items() if n != "createOrder")
    stock = tool_scores(TOOLS, "are there units left in the warehouses?")  # stemmed: warehouses -> warehous
    assert max(stock, key=lambda n: stock[n]) == "check_stock"


def test_nothing_to_choose_or_nothing_shared_scores_zero() -> None:
    assert tool_scores(TOOLS, "hello there") == dict.fromkeys(["list_orders", "createOrder", "check_stock"], 0.0)
    assert tool_scores(TOOLS[:1], "list my orders") == {"list_orders": 0.0}
    assert tool_scores([], "anything") == {}
    assert tool_scores(TOOLS, "") == dict.fromkeys(["list_orders", "createOrder", "check_stock"], 0.0)


@pytest.mark.parametrize("seed", range(20))
def test_name_token_bonuses_add_up_to_each_names_log_prior(seed: int) -> None:
    """Property: over random spellings that share prefixes, the bonuses along a name's
    tokens sum to log softmax(weights)[name], and the bonuses of the next tokens after any
    prefix are a log distribution over them (they exponentiate to 1)."""
    rng = random.Random(seed)
    spelled: dict[str, tuple[int, ...]] = {}
    while len(spelled) < rng.randint(2, 7):
        own = tuple(rng.randint(0, 4) for _ in range(rng.randint(1, 4))) + (99,)  # 99: the closing quote
        if own not in spelled.values():
            spelled[f"t{len(spelled)}"] = own
    weights = {n: rng.uniform(-3, 3) for n in spelled}
    bonus = name_token_bonus(spelled, weights)
    total = math.log(sum(math.exp(w) for w in weights.values()))
    for name, own in spelled.items():
        assert sum(bonus[own[:k]][own[k]] for k in range(len(own))) == pytest.approx(weights[name] - total)
    for nexts in bonus.values():
        assert sum(math.exp(v) for v in nexts.values()) == pytest.approx(1.0)


def test_on_the_demos_training_rows_the_retriever_beats_chance(demo_rows: list[dict[str, Any]]) -> None:
    """The property the prior relies on, on rows a person wrote: the retriever alone puts the
    expected tool strictly first far more often than picking one of the offered tools at
    random would (the demo's train and validation rows; the scored splits are not read)."""
    hits, chance, n = 0, 0.0, 0
    for row in demo_rows:
        first = next((m for m in row["messages"] if m["role"] == "assistant"), None)
        if row["split"] not in ("train", "validation") or not first or not first.get("tool_calls") \
                or len(row["tools"]) < 2:
            continue
        expected = first["tool_calls"][0]["function"]["name"]
        scores = tool_scores(row["tools"], user_text(row))
        hits += [name for name, v in scores.items() if v == 1.0] == [expected]
        chance += 1 / len(row["tools"])
        n += 1
    assert n > 100
    assert hits > 2 * chance
