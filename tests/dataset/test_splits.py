from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from mcptrain.dataset.build import build_dataset
from mcptrain.dataset.splits import (
    EVAL_SPLITS,
    SPLITS,
    assign_splits,
    balance,
    choose_zero_shot_tools,
    fixed_split,
    unit_hash,
    withhold_tools,
)
from mcptrain.specs import models as s
from tests.builders import add_example, all_rows, write_project, write_service


def config(**kw: object) -> s.SplitsSpec:
    return s.SplitsSpec.model_validate(kw)


def row(source_id: str = "x-1", **kw: object) -> dict:
    return {"kind": "example", "category": "simple", "target_tools": ["t_get"], "created_at": None,
            "source_id": source_id, "service": "svc", **kw}


def split_of(one: dict, cfg: s.SplitsSpec, zero_shot: set[tuple[str, str]]) -> str:
    assign_splits([one], cfg, zero_shot)
    return str(one["split"])


@pytest.fixture
def org(tmp_path: Path) -> Path:
    write_project(tmp_path)
    write_service(tmp_path, "alpha", tools=5, examples_per_tool=8)
    write_service(tmp_path, "beta", tools=5, examples_per_tool=8)
    write_service(tmp_path, "gamma", tools=5, examples_per_tool=8, critical=True)
    return tmp_path


def splits_by_id(root: Path) -> dict[str, str]:
    return {r["id"]: r["split"] for r in all_rows(root / "datasets")}


def test_the_hash_is_pinned() -> None:
    # Changing it re-splits every user's dataset: a deliberate, announced change only.
    assert unit_hash(42, "pay-001") == 0.37692370358840516
    assert unit_hash(42, "tool:create_payment") == 0.516830343829195


def test_balance_follows_the_shares_by_rows() -> None:
    cfg = config()
    groups = {f"id-{i}": 1 + i % 5 for i in range(1000)}
    chosen = balance(groups, cfg)
    rows = Counter()
    for key, split in chosen.items():
        rows[split] += groups[key]
    total = sum(groups.values())
    assert {k: round(v / total, 2) for k, v in rows.items()} == {
        "train": 0.6, "validation": 0.1, "test": 0.1, "holdout": 0.2}


def test_balance_trains_first_and_keeps_big_templates_whole() -> None:
    cfg = config()
    # One template of 18 expansions and four single examples: wherever the template lands,
    # the tool keeps rows in train, and no example is split.
    for seed in range(30):
        chosen = balance({"tpl": 18, "a": 1, "b": 1, "c": 1, "d": 1}, config(seed=seed))
        assert "train" in chosen.values(), seed
    assert balance({"only": 7}, cfg) == {"only": "train"}


def test_every_trainable_tool_is_trained_on_and_follows_the_shares() -> None:
    cfg = config()
    rows = [row(f"{t}-{i}", target_tools=[t]) for t in ("a", "b", "c") for i in range(20)]
    rows += [row(f"tpl-{t}", target_tools=[t]) for t in ("a", "b", "c") for _ in range(18)]
    assign_splits(rows, cfg, set())
    for tool in ("a", "b", "c"):
        mine = Counter(r["split"] for r in rows if r["target_tools"] == [tool])
        assert mine["train"] / 38 >= 0.5, (tool, mine)
        assert mine["train"] + mine["validation"] + mine["test"] + mine["holdout"] == 38
    assert len({r["split"] for r in rows if r["source_id"] == "tpl-a"}) == 1


def test_adding_an_example_moves_no_other_row(org: Path) -> None:
    build_dataset(org)
    before = splits_by_id(org)
    add_example(org, "beta", {"id": "beta-new", "query": "an entirely new request about nothing else",
                              "call": {"beta_get": {"ref": "R-new"}}})
    build_dataset(org)
    after = splits_by_id(org)
    assert set(after) - set(before) == {"beta-new"}
    # Only rows of the tool that got the example (beta_get) may rebalance; every other tool and
    # every other service keeps its split.
    assert {k: after[k] for k in before if not k.startswith("beta-1-")} == {
        k: v for k, v in before.items() if not k.startswith("beta-1-")}


def test_zero_shot_tools_never_reach_train(org: Path) -> None:
    report = build_dataset(org)
    chosen = report.manifest["zero_shot_tools"]
    assert {k: len(v) for k, v in chosen.items()} == {"alpha": 1, "beta": 1, "gamma": 0}
    zero = {t for names in chosen.values() for t in names}
    rows = all_rows(org / "datasets")
    assert all(not zero & set(r["target_tools"]) for r in rows if r["split"] in ("train", "validation"))
    assert {r["split"] for r in rows if zero & set(r["target_tools"])} == {"zero_shot"}
    assert len([r for r in rows if r["split"] == "zero_shot"]) == 16


def test_rows_trained_on_do_not_offer_the_zero_shot_tools(org: Path) -> None:
    report = build_dataset(org)
    zero = {(svc, t) for svc, names in report.manifest["zero_shot_tools"].items() for t in names}
    rows = all_rows(org / "datasets")

    def offered(r: dict) -> set[str]:
        return {t["function"]["name"] for t in r["tools"]}

    trained = [r for r in rows if r["split"] in ("train", "validation")]
    scored = [r for r in rows if r["split"] not in ("train", "validation")]
    held = {t for _, t in zero}
    assert trained and all(not offered(r) & held for r in trained)
    assert report.manifest["zero_shot_withheld_rows"] == sum(
        1 for r in trained if r["service"] in {svc for svc, _ in zero})
    # The scored splits offer every tool of the service, the held-out ones included.
    for r in scored:
        assert {t for svc, t in zero if svc == r["service"]} <= offered(r)


def test_withholding_keeps_shared_lists_shared_and_spares_the_other_services_tool() -> None:
    def tool(name: str) -> dict:
        return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}

    own = [tool("get_status"), tool("a1")]
    both = [tool("a__get_status"), tool("b__get_status"), tool("a1")]
    rows = [{"service": "a", "services": ["a"], "split": "train", "tools": own},
            {"service": "a", "services": ["a"], "split": "validation", "tools": own},
            {"service": "a", "services": ["a"], "split": "test", "tools": own},
            {"service": "a", "services": ["a", "b"], "split": "train", "tools": both},
            {"service": "b", "services": ["b"], "split": "train", "tools": [tool("get_status")]}]
    assert withhold_tools(rows, {("a", "get_status")}) == 3
    assert [t["function"]["name"] for t in rows[0]["tools"]] == ["a1"]
    assert rows[0]["tools"] is rows[1]["tools"]  # still one shared tool block
    assert rows[2]["tools"] is own and len(own) == 2  # scored rows and the original list untouched
    assert [t["function"]["name"] for t in rows[3]["tools"]] == ["b__get_status", "a1"]
    assert [t["function"]["name"] for t in rows[4]["tools"]] == ["get_status"]  # b's own tool stays
    assert withhold_tools(rows, set()) == 0


def test_zero_shot_share_is_per_service_and_keeps_one_tool() -> None:
    tools = {"a": [f"a{i}" for i in range(10)], "b": ["b0"], "c": ["c0", "c1"]}
    assert len(choose_zero_shot_tools(tools, config(zero_shot_tools=0.2))) == 2
    assert choose_zero_shot_tools(tools, config(zero_shot_tools=0.2), critical=["a"]) == set()
    every = choose_zero_shot_tools(tools, config(zero_shot_tools=0.99))
    assert len(every) == 9 + 0 + 1
    assert len(choose_zero_shot_tools(tools, config(zero_shot_tools=1.0))) == 13
    assert choose_zero_shot_tools(tools, config(zero_shot_tools=0.0)) == set()


def test_a_zero_shot_tool_is_one_services_tool_not_every_tool_of_that_name() -> None:
    from mcptrain.dataset.splits import fixed_split

    tools = {"a": ["get_status", "a1", "a2", "a3"], "b": ["get_status", "b1", "b2", "b3"]}
    cfg = config(zero_shot_tools=0.25)
    chosen = choose_zero_shot_tools(tools, cfg)
    held = {svc for svc, name in chosen if name == "get_status"}
    assert len(held) <= 1  # the hash ranks names, so one service may hold it out and the other not
    a_row = {"kind": "example", "service": "a", "services": ["a"], "target_tools": ["get_status"], "created_at": None}
    b_row = {**a_row, "service": "b", "services": ["b"]}
    zero = {("a", "get_status")}
    assert fixed_split(a_row, cfg, zero) == "zero_shot"
    assert fixed_split(b_row, cfg, zero) is None  # b's get_status is trained on
    both = {**a_row, "services": ["b", "a"]}  # a row offering both services' tools
    assert fixed_split(both, cfg, zero) == "zero_shot"


def test_rotations_hold_out_each_tool_in_turn() -> None:
    tools = {"a": [f"a{i}" for i in range(10)]}
    rotations = [choose_zero_shot_tools(tools, config(zero_shot_tools=0.2, zero_shot_rotation=r))
                 for r in range(5)]
    assert all(len(r) == 2 for r in rotations)
    assert set().union(*rotations) == {("a", t) for t in tools["a"]}  # five rotations of two: every tool once
    assert rotations[0] == choose_zero_shot_tools(tools, config(zero_shot_tools=0.2))  # 0 = before rotations
    assert rotations[5 % 5] == choose_zero_shot_tools(tools, config(zero_shot_tools=0.2, zero_shot_rotation=5))


def test_rotating_tools_moves_only_the_rotated_tools_rows(org: Path) -> None:
    report = build_dataset(org)
    before, was = splits_by_id(org), report.manifest["zero_shot_tools"]
    write_project(org, splits={"zero_shot_rotation": 1})
    report = build_dataset(org)
    after, now = splits_by_id(org), report.manifest["zero_shot_tools"]
    moved_tools = {t for names in (*was.values(), *now.values()) for t in names} - (
        {t for n in was.values() for t in n} & {t for n in now.values() for t in n})
    assert moved_tools and now != was
    tool_of = {r["id"]: r["target_tools"] for r in all_rows(org / "datasets")}
    changed = {k for k in before if before[k] != after[k]}
    assert changed and all(set(tool_of[k]) & moved_tools for k in changed)


def test_first_matching_rule_wins() -> None:
    cfg = config(time_holdout_after=dt.date(2025, 6, 30))
    assert split_of(row(kind="scenario", target_tools=["z"]), cfg, {("svc", "z")}) == "scenarios"
    assert split_of(row(target_tools=["z"], created_at="2026-01-01"), cfg, {("svc", "z")}) == "zero_shot"
    assert split_of(row(created_at="2025-07-01"), cfg, set()) == "holdout"
    assert split_of(row(created_at="2025-07-01", category="multi_turn"), cfg, set()) == "orchestration"
    assert fixed_split(row(created_at="2025-06-30"), cfg, set()) is None
    assert split_of(row(created_at="2025-06-30"), cfg, set()) == "train"  # alone in its stratum


def test_sequences_are_scored_only_in_orchestration() -> None:
    cfg = config()
    rows = [row(f"seq-{i}", category="multi_turn", target_tools=["a", "b"]) for i in range(200)]
    assign_splits(rows, cfg, set())
    assert Counter(r["split"] for r in rows) == {"train": 120, "validation": 20, "orchestration": 60}


def test_time_holdout_in_a_build(tmp_path: Path) -> None:
    write_project(tmp_path, splits={"time_holdout_after": "2025-01-31", "zero_shot_tools": 0})
    write_service(tmp_path, "alpha", tools=2, examples_per_tool=3, extra_examples=[
        {"id": "late", "query": "late example for the holdout", "created_at": "2025-02-01",
         "call": {"alpha_get": {"ref": "R-9"}}}])
    build_dataset(tmp_path)
    assert splits_by_id(tmp_path)["late"] == "holdout"


def test_every_split_file_exists_even_when_empty(org: Path) -> None:
    build_dataset(org)
    for split in SPLITS:
        assert (org / "datasets" / f"{split}.jsonl").is_file()
    assert set(EVAL_SPLITS) < set(SPLITS)


def test_behaviour_rows_split_among_themselves_even_when_they_name_a_tool() -> None:
    """A one-row edge case naming a tool no longer competes with that tool's big templates."""
    from mcptrain.dataset.splits import stratum

    edge = row("e-x", kind="edge_case", category="edge_case", expected_action="clarify", target_tools=["t_get"])
    assert stratum(edge) == ("svc", "category:edge_case:clarify")
    assert stratum(row("x-2")) == ("svc", "tool:t_get")
    cfg = s.SplitsSpec()
    rows = [row("big", id=f"big-{i}") for i in range(18)]  # one template, 18 rows
    rows += [row(f"e-{i}", kind="edge_case", category="edge_case",
                 expected_action="refuse", target_tools=["t_get"]) for i in range(10)]
    assign_splits(rows, cfg, set())
    edges = Counter(r["split"] for r in rows if r["kind"] == "edge_case")
    assert edges["train"] == 6  # 60% of the edge cases train, whatever the template did


def test_every_behaviour_reaches_validation_in_its_share() -> None:
    """Split as one stratum, a service's 30 edge cases could leave its refusals out of
    validation altogether (the demo had 1 of 28); split per behaviour, each of the four
    behaviours with 7 or more examples puts one in validation and one in test."""
    cfg = s.SplitsSpec()
    rows = [row(f"{action}-{i}", kind="edge_case", category="edge_case", expected_action=action,
                target_tools=[]) for action in ("clarify", "ask_for_details", "refuse", "no_tool")
            for i in range(7)]
    assign_splits(rows, cfg, set())
    for action in ("clarify", "ask_for_details", "refuse", "no_tool"):
        mine = Counter(r["split"] for r in rows if r["expected_action"] == action)
        assert mine == {"train": 4, "validation": 1, "test": 1, "holdout": 1}, (action, mine)


def test_an_example_dated_after_the_others_moves_none_of_them() -> None:
    """Oldest first: a group's split depends only on the groups before it, so a row written
    today leaves every older row where it was; a backdated one may move those after it."""
    cfg = config()
    before = {f"edge-{i}": 1 + i % 3 for i in range(40)}
    dates = {k: f"2025-{1 + i % 12:02d}-01" for i, k in enumerate(before)}
    first = balance(before, cfg, dates)
    after = {**before, **{f"new-{i}": 3 for i in range(12)}}
    later = {**dates, **{f"new-{i}": "2026-12-05" for i in range(12)}}
    assert {k: balance(after, cfg, later)[k] for k in before} == first
    backdated = {**dates, **{f"new-{i}": "2024-01-01" for i in range(12)}}
    assert {k: balance(after, cfg, backdated)[k] for k in before} != first
    # Same-day rows take the seeded hash order; undated rows come before every dated one.
    assert balance({"a": 1}, cfg, {"a": ""}) == balance({"a": 1}, cfg) == {"a": "train"}


def test_adding_dated_edge_cases_to_a_build_moves_no_existing_row(tmp_path: Path) -> None:
    def case(i: int, created: str) -> dict:
        words = ["wipe", "erase", "leak", "forge", "bypass", "dump", "export", "disable", "transfer",
                 "delete", "share", "copy", "sell", "hide", "fake", "drop", "steal"]
        return {"id": f"alpha-edge-{created}-{i}", "query": f"{words[i]} {words[-1 - i]} everything {created}",
                "expect": {"action": "refuse", "reason": "irreversible",
                           "response": "I can't delete records permanently."}, "created_at": created}

    old = [case(i, f"2025-0{1 + i % 9}-01") for i in range(12)]
    write_project(tmp_path)
    write_service(tmp_path, "alpha", tools=3, examples_per_tool=6, edge_cases=old)
    build_dataset(tmp_path)
    before = splits_by_id(tmp_path)
    write_service(tmp_path, "alpha", tools=3, examples_per_tool=6,
                  edge_cases=old + [case(12 + i, "2026-12-05") for i in range(5)])
    build_dataset(tmp_path)
    after = splits_by_id(tmp_path)
    assert len(after) == len(before) + 5
    assert {k: after[k] for k in before} == before
    assert "validation" in {after[k] for k in after if "edge" in k}


def test_hashed_assignment_moves_no_group_when_groups_are_added() -> None:
    """The twelve edge cases the demo once gained moved 14 existing ones between splits under
    `balanced` (README); under `hashed` a group's split is its own hash's alone."""
    hashed = config().model_copy(update={"assignment": "hashed"})
    before = {f"edge-{i}": 1 for i in range(40)}
    after = {**before, **{f"new-{i}": 3 for i in range(12)}}
    first, second = balance(before, hashed), balance(after, hashed)
    assert {k: second[k] for k in before} == first
    assert {k: balance(after, config())[k] for k in before} != balance(before, config())  # what it avoids
    # Over many groups the shares hold.
    many = Counter(balance({f"id-{i}": 1 for i in range(20000)}, hashed).values())
    assert {k: round(v / 20000, 2) for k, v in many.items()} == {
        "train": 0.6, "validation": 0.1, "test": 0.1, "holdout": 0.2}
