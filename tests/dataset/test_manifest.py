from __future__ import annotations

from mcptrain.dataset.manifest import count_rows, quality_report, quality_table


def row(row_id: str, split: str, tools: list[str], *, kind: str = "example", query: str = "a b c",
        category: str = "simple", service: str = "svc", **kw: object) -> dict:
    return {"id": row_id, "source_id": row_id, "split": split, "target_tools": tools, "kind": kind, "category": category,
            "service": service, "source": kw.get("source", "human"), "quality": kw.get("quality", "gold"),
            "expected_action": kw.get("action"),
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": query}]}


ROWS = [
    row("e1", "train", ["t_get"], query="Get order O-1"),
    row("e2", "test", ["t_get"], query="get order o-1!", source="synthetic", quality="silver"),
    row("e3", "train", ["t_list", "t_get"], query="List orders then get one", category="parallel_multiple"),
    row("e4", "zero_shot", ["t_new"], query="Make a new thing"),
    row("c1", "validation", ["t_get"], kind="edge_case", category="edge_case", action="clarify", query="Get it"),
    row("s1", "scenarios", ["t_get"], kind="scenario", query="Scenario words here"),
]
TOOLS = {"svc": ["t_get", "t_list", "t_new", "t_unused"], "empty": []}


def test_counts_per_split_service_tool_and_category() -> None:
    counts = count_rows(ROWS)
    assert counts["splits"] == {"train": 2, "validation": 1, "test": 1, "holdout": 0, "zero_shot": 1,
                                "orchestration": 0, "scenarios": 1}
    assert counts["services"] == {"svc": {"scenarios": 1, "test": 1, "train": 2, "validation": 1, "zero_shot": 1}}
    assert counts["tools"]["t_get"] == {"scenarios": 1, "test": 1, "train": 2, "validation": 1}
    assert counts["categories"]["parallel_multiple"] == {"train": 1}


def test_quality_report() -> None:
    q = quality_report(ROWS, TOOLS, zero_shot={("svc", "t_new")})
    assert q["tools"] == 4 and q["tools_covered"] == 3
    assert q["tools_uncovered"] == ["t_unused"]
    assert q["tools_without_train_rows"] == []
    assert q["examples_per_tool"] == {"t_get": 3, "t_list": 1, "t_new": 1, "t_unused": 0}
    assert q["balance"] == {"min": 0, "max": 3, "mean": 1.25, "min_over_max": 0.0}
    assert q["queries"] == {"total": 5, "unique": 4}  # the scenario is not training data
    assert q["diversity"] == {"distinct_word_ratio": 0.6842, "distinct_words": 13, "words": 19}
    assert q["source_mix"] == {"human": 4, "synthetic": 1}
    assert q["quality_mix"] == {"gold": 4, "silver": 1}
    assert q["edge_case_coverage"] == {
        "empty": {"edge_cases": 0, "by_action": {}, "tools_with_edge_cases": 0, "tools": 0},
        "svc": {"edge_cases": 1, "by_action": {"clarify": 1}, "tools_with_edge_cases": 1, "tools": 4}}
    assert quality_table(q) == [
        ("tools covered", "3/4"),
        ("example rows per tool (min/mean/max)", "0/1.25/3"),
        ("balance (min/max)", "0.00"),
        ("unique queries", "4/5"),
        ("diversity (distinct-word ratio)", "0.684"),
        ("source mix", "human 80%, synthetic 20%"),
        ("quality mix", "gold 80%, silver 20%"),
        ("services with edge cases", "1/2"),
        ("edge cases per service (min/max)", "0/1"),
    ]


def test_a_tool_with_examples_but_none_in_train_is_named() -> None:
    rows = [row("e1", "holdout", ["t_get"]), row("e2", "train", ["t_list"])]
    assert quality_report(rows, TOOLS, zero_shot=set())["tools_without_train_rows"] == ["t_get"]


def test_behaviour_shares_count_train_and_scored_rows_and_flag_thin_ones() -> None:
    from mcptrain.dataset.manifest import behaviour_shares

    rows = [row(f"c{i}", "train", ["t_get"]) for i in range(40)]
    rows += [row(f"p{i}", "train", ["t_get", "t_get"], category="parallel") for i in range(12)]
    rows += [row(f"n{i}", "train", [], kind="edge_case", category="relevance", action="no_tool") for i in range(3)]
    rows += [row("n-t", "test", [], kind="edge_case", category="relevance", action="no_tool"),
             row("r-t", "holdout", [], kind="edge_case", category="edge_case", action="refuse"),
             row("s-t", "orchestration", ["t_get"], category="multi_turn"),
             row("p-t", "test", ["t_get", "t_get"], category="parallel")]
    shares = behaviour_shares(rows)
    assert shares["train"] == {"call": 40, "parallel": 12, "sequence": 0, "no_tool": 3, "clarify": 0,
                               "ask_for_details": 0, "refuse": 0}
    assert shares["scored"]["refuse"] == 1 and shares["scored"]["call"] == 0
    assert shares["share"]["call"] == round(40 / 55, 4)
    # scored and thin: no_tool (3 < 10), sequence and refuse (none); parallel has 12 rows and 22%
    assert shares["thin"] == ["sequence", "no_tool", "refuse"]
    # Per category: relevance (3 rows) and multi_turn and edge_case (none) are scored and thin;
    # parallel (12 rows, 22%) is not; simple has no scored row here.
    assert shares["thin_categories"] == {"relevance": 3, "multi_turn": 0, "edge_case": 0}
    assert quality_report(rows, TOOLS, set())["behaviours"] == shares
    # Scored, and under 3 validation rows: every scored behaviour here (no validation rows).
    assert shares["unseen"] == ["parallel", "sequence", "no_tool", "refuse"]
    rows += [row(f"v{i}", "validation", [], kind="edge_case", category="edge_case", action="refuse") for i in range(3)]
    rows += [row("nv", "validation", [], kind="edge_case", category="relevance", action="no_tool")]
    shares = behaviour_shares(rows)
    assert shares["validation"]["refuse"] == 3 and shares["validation"]["no_tool"] == 1
    assert shares["unseen"] == ["parallel", "sequence", "no_tool"]
    # parallel_multiple, which the behaviours count as parallel: scored, 2 training rows of 59
    rows += [row(f"pm{i}", "train", ["t_get", "t_list"], category="parallel_multiple") for i in range(2)]
    rows += [row("pm-t", "test", ["t_get", "t_list"], category="parallel_multiple")]
    shares = behaviour_shares(rows)
    assert "parallel" not in shares["thin"] and shares["thin_categories"]["parallel_multiple"] == 2


def test_volume_against_the_chapters_figures() -> None:
    from mcptrain.dataset.manifest import volume

    rows = [row(f"a{i}", "train", ["t_a"]) for i in range(12)] + [row("b1", "train", ["t_b"]),
                                                                  row("b2", "test", ["t_b"]),
                                                                  row("z1", "zero_shot", ["t_z"])]
    v = volume(rows, zero_shot={("svc", "t_z")})
    assert v["train_rows"] == 13 and v["min_train_rows"] == 1000
    assert v["examples_per_tool"] == {"t_a": 12, "t_b": 2}  # zero-shot tools are never trained on
    assert v["tools_under_start"] == ["t_b"] and v["tools_under_production"] == ["t_a", "t_b"]
    assert v["imbalanced_tools"] == {"t_b": 1} and v["mean_train_rows_per_tool"] == 6.5
