"""Rows longer than max_seq_len: found by build and validate --strict, refused (with a
count) by evaluation — never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcptrain.errors import PROMPT_TOO_LONG
from mcptrain.evaluation.parsing import parse_output
from mcptrain.specs import models as s
from mcptrain.training.lengths import FastTokenizer, long_rows
from mcptrain.training.prompt import choose_template, encode_row
from tests.cli import mcptrain
from tests.org import write_org
from tests.training.tiny import make_row, multi_turn_row


def project(limit: int, model: Path) -> s.ProjectSpec:
    return s.ProjectSpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "Project", "name": "x",
                                         "base_model": str(model), "training": {"max_seq_len": limit}})


def test_lengths_are_counted_as_training_counts_them(tiny_model: Path, tiny_tokenizer: Any) -> None:
    rows = [make_row(i) for i in range(6)] + [multi_turn_row()]
    exact = {r["id"]: len(encode_row(tiny_tokenizer, choose_template(tiny_tokenizer), r)) for r in rows}
    limit = sorted(exact.values())[3]
    for tokenizer in (tiny_tokenizer, FastTokenizer(tiny_model)):
        report = long_rows(project(limit, tiny_model), rows, tokenizer)
        assert {r.id: r.tokens for r in report.rows} == {i: n for i, n in exact.items() if n > limit}
    assert report.by_tool()[0][0] == "demo" and "raise training.max_seq_len" in report.hint()


def tiny_org(tmp_path: Path, model: Path, limit: int) -> Path:
    return write_org(tmp_path, ("cross_service",), base_model=str(model), training={"max_seq_len": limit})


def test_build_lists_long_rows_per_service_and_tool(tmp_path: Path, tiny_model: Path) -> None:
    root = tiny_org(tmp_path, tiny_model, 64)
    code, out, err = mcptrain("build", str(root))
    assert code == 0, err
    assert "rows longer than training.max_seq_len (64 tokens)" in out
    assert "find_pet" in out and "refill_prescription" in out
    assert "which training leaves out); raise training.max_seq_len in mcptrain.yaml" in err


def test_validate_strict_fails_on_long_rows_at_the_spec(tmp_path: Path, tiny_model: Path) -> None:
    root = tiny_org(tmp_path, tiny_model, 64)
    assert mcptrain("validate", str(root))[0] == 0
    code, out, err = mcptrain("validate", str(root), "--strict")
    assert code == 1
    assert "specs/pets/examples/main.yaml:7:10: warning: examples[0]: it is longer than training.max_seq_len=64" in err
    assert "specs/pharmacy/examples/main.yaml:7:10: warning: examples[0]: 9 of its rows are longer" in err
    roomy = tiny_org(tmp_path / "roomy", tiny_model, 8192)
    assert "longer than" not in mcptrain("validate", str(roomy), "--strict")[2]


def test_evaluation_refuses_over_long_prompts_with_a_count(tiny_model: Path, capsys: Any) -> None:
    from mcptrain.training.predictor import LocalPredictor

    rows = [make_row(i) for i in range(3)]
    predictor = LocalPredictor(str(tiny_model), max_new_tokens=4, precision="fp32", max_prompt_tokens=10)
    outputs = predictor.predict(rows)
    assert all(o.startswith(PROMPT_TOO_LONG) for o in outputs)
    assert "3 prompts longer than max_seq_len=10 tokens were not generated" in capsys.readouterr().err
    parsed = parse_output(outputs[0])
    assert parsed.malformed is not None and parsed.malformed.startswith("not generated: the prompt is")
    assert json.dumps(outputs)  # plain text: saved predictions re-score the same way


def test_the_fast_tokenizer_chooses_the_template_transformers_would(tiny_model: Path, tiny_tokenizer: Any) -> None:
    fast = FastTokenizer(tiny_model)
    assert choose_template(fast) == choose_template(tiny_tokenizer)
    assert fast.get_vocab() == tiny_tokenizer.get_vocab()
