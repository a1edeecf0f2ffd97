"""Models with sliding-window layers (Gemma 3, the embedded `embedded:gemma3-270m`): the
shared-prefix training loss and the prefix-cached generation stay exact when the shared
system turn is longer than the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcptrain.training.batches import plan_epoch
from mcptrain.training.prompt import IGNORE_INDEX, choose_template, encode_row, end_of_turn
from tests.training.tiny import make_row, reference_generation


@pytest.fixture(scope="module")
def rows() -> list[dict]:  # type: ignore[type-arg]
    return [make_row(i) for i in range(6)]


def test_shared_prefix_loss_equals_full_rows_past_the_window(tiny_gemma3: Path, rows: list[dict]) -> None:  # type: ignore[type-arg]
    import torch

    from mcptrain.training.model import load_model, load_tokenizer
    from mcptrain.training.objective import batch_loss

    tokenizer = load_tokenizer(str(tiny_gemma3))
    template = choose_template(tokenizer)
    assert end_of_turn(template) == "<end_of_turn>"
    encoded = [encode_row(tokenizer, template, r) for r in rows]
    assert encoded[0].input_ids[0] == tokenizer.bos_token_id
    model = load_model(str(tiny_gemma3), dtype=torch.float64)
    assert model.config.sliding_window < encoded[0].shared  # the prefix outgrows the window
    shared = plan_epoch(encoded, 8, 0, 0)[0]
    whole = plan_epoch(encoded, 8, 0, 0, packing=False)[0]
    assert shared.prefix and not whole.prefix
    with torch.no_grad():
        a, n_a = batch_loss(model, shared)
        b, n_b = batch_loss(model, whole)
        ref, count = torch.zeros((), dtype=torch.float64), 0
        for e in encoded:
            labels = torch.tensor(e.labels[1:])
            logits = model(input_ids=torch.tensor([e.input_ids])).logits[0, :-1]
            ref += torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
            count += int((labels != IGNORE_INDEX).sum())
    assert n_a == n_b == count
    assert torch.allclose(a, ref, rtol=1e-9) and torch.allclose(b, ref, rtol=1e-9)


def test_prefix_cached_generation_equals_generate_past_the_window(tiny_gemma3: Path, rows: list[dict]) -> None:  # type: ignore[type-arg]
    from mcptrain.training.predictor import LocalPredictor

    predictor = LocalPredictor(str(tiny_gemma3), batch_size=3, max_new_tokens=10, precision="fp32",
                               constrained=False)
    predictor.stop_loops = False
    assert predictor.stop_id == predictor.tokenizer.convert_tokens_to_ids("<end_of_turn>")
    outputs = predictor.predict(rows)
    assert len(set(outputs)) > 1  # outputs differ per prompt: the comparison has teeth
    for row, got in zip(rows, outputs, strict=True):
        assert got == reference_generation(predictor, row, 10)
