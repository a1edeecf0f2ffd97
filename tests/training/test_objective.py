from __future__ import annotations

from pathlib import Path

import pytest

from mcptrain.training.batches import plan_epoch
from mcptrain.training.prompt import Encoded


def test_decision_weights_mark_the_first_token_of_every_assistant_turn() -> None:
    import torch

    from mcptrain.training.objective import decision_weights

    scored = torch.tensor([[False, True, True, False, True, True, True],
                           [True, True, False, False, False, False, False]])
    weights = decision_weights(scored, 4.0)
    # in the order tensor[scored] lists them: row 0's two turns, then row 1's one
    assert weights.tolist() == [4.0, 1.0, 4.0, 1.0, 1.0, 4.0, 1.0]


def test_weighted_loss_is_the_plain_loss_plus_the_extra_weight_on_decision_tokens(
        tiny_model: Path, encoded: list[Encoded]) -> None:
    import torch

    from mcptrain.training.model import load_model
    from mcptrain.training.objective import batch_loss, decision_weights, hidden_states

    model = load_model(str(tiny_model), dtype=torch.float64).eval()
    batch = plan_epoch(encoded, 4, seed=1, epoch=0)[0]
    with torch.no_grad():
        plain, n = batch_loss(model, batch)
        weighted, m = batch_loss(model, batch, decision_weight=3.0)
        hidden, targets = hidden_states(model, batch)
        scored = targets != -100
        logits = model.get_output_embeddings()(hidden[scored])
        losses = torch.nn.functional.cross_entropy(logits, targets[scored], reduction="none")
        first = decision_weights(scored, 3.0) != 1.0
    assert n == m and int(first.sum()) >= batch.size  # one per assistant turn, a row has one or more
    assert float(weighted) == pytest.approx(float(plain) + 2.0 * float(losses[first].sum()), rel=1e-9)


def test_neftune_noise_only_while_training(tiny_model: Path) -> None:
    import torch

    from mcptrain.training.loop import add_embedding_noise
    from mcptrain.training.model import load_model

    model = load_model(str(tiny_model))
    ids = torch.tensor([[5, 6, 7, 8]])
    clean = model.get_input_embeddings()(ids)
    add_embedding_noise(model, 5.0)
    model.eval()
    assert torch.equal(model.get_input_embeddings()(ids), clean)
    model.train()
    noisy = model.get_input_embeddings()(ids)
    bound = 5.0 / (4 * clean.shape[-1]) ** 0.5
    assert not torch.equal(noisy, clean)
    assert float((noisy - clean).abs().max()) <= bound + 1e-6
