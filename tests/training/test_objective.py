from __future__ import annotations

from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize("softcap", [None, 30.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("trained_head", [False, True])
@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16-autocast"])
def test_linear_cross_entropy_equals_the_stock_loss_and_gradients(
        softcap: float | None, weighted: bool, trained_head: bool, autocast: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunked, fused loss is the stock one: the same sum, the same gradients for the
    hidden states and (when it trains) the output weight, over several chunks."""
    import torch

    from mcptrain.training import objective

    monkeypatch.setattr(objective, "_chunk_rows", lambda vocabulary: 7)  # 40 rows: six chunks
    torch.manual_seed(0)
    hidden = torch.randn(40, 16, requires_grad=True)
    weight = (torch.randn(300, 16) * 0.3).requires_grad_(trained_head)
    targets = torch.randint(0, 300, (40,))
    weights = torch.rand(40) + 0.5 if weighted else None

    def run(fused: bool) -> tuple[Any, Any, Any]:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            if fused:
                loss = objective.linear_cross_entropy(hidden, weight, targets, weights, softcap)
            else:
                logits = torch.nn.functional.linear(hidden, weight).float()
                if softcap:
                    logits = torch.tanh(logits / softcap) * softcap
                each = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
                loss = (each if weights is None else each * weights).sum()
        (loss * 0.5).backward()  # a non-unit upstream gradient
        got = (loss.detach(), hidden.grad.clone(), None if weight.grad is None else weight.grad.clone())
        hidden.grad = weight.grad = None
        return got

    fused, stock = run(True), run(False)
    tol = 2e-2 if autocast else 1e-5  # bf16: the same roundings in another order
    torch.testing.assert_close(fused[0], stock[0], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(fused[1], stock[1], rtol=tol, atol=tol * float(stock[1].abs().max()))
    if trained_head:
        torch.testing.assert_close(fused[2], stock[2], rtol=tol, atol=tol * float(stock[2].abs().max()))
    else:
        assert fused[2] is None


def test_the_cast_of_a_frozen_head_is_kept_only_while_the_weight_is_unchanged() -> None:
    import torch

    from mcptrain.training.objective import _lowered

    weight = torch.randn(5, 3)
    first = _lowered(weight, torch.bfloat16)
    assert _lowered(weight, torch.bfloat16) is first
    with torch.no_grad():
        weight.mul_(2)  # an in-place change: a new version
    again = _lowered(weight, torch.bfloat16)
    assert again is not first and torch.equal(again, weight.to(torch.bfloat16))
    other = weight.clone()  # another tensor: never served the first one's cast
    assert _lowered(other, torch.bfloat16) is not again


@pytest.mark.parametrize("prefix_grad", [False, True], ids=["prefix-constant", "prefix-trained"])
@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 2), (3, 3)], ids=["grouped-query", "multi-head"])
def test_split_prefix_attention_equals_the_explicit_softmax(prefix_grad: bool, heads: int, kv_heads: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The split attention (flash forward over the prefix and the rows apart, merged by
    log-sum-exp; a hand-written backward) gives the explicit softmax's output and the
    gradients of the queries, the rows' keys/values and, when it trains, the prefix's, in
    float64 to rounding."""
    import torch

    from mcptrain.training import objective

    class Layer:
        layer_idx = 0

    torch.manual_seed(0)
    b, t, p, d = 3, 7, 11, 8

    def leaf(*shape: int, grad: bool = True) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.float64, requires_grad=grad)

    q, k, v = leaf(b, heads, t, d), leaf(b, kv_heads, t, d), leaf(b, kv_heads, t, d)
    pk, pv = leaf(1, kv_heads, p, d, grad=prefix_grad), leaf(1, kv_heads, p, d, grad=prefix_grad)
    weight = torch.randn(b, t, heads, d, dtype=torch.float64)
    results = []
    real = objective._split_prefix_attention_function
    called: list[bool] = []
    monkeypatch.setattr(objective, "_split_prefix_attention_function",
                        lambda: called.append(True) or real())
    for split in (False, True):
        monkeypatch.setattr(objective, "SPLIT_ATTENTION", split)
        called.clear()
        for x in (q, k, v, pk, pv):
            x.grad = None
        out, _ = objective._prefix_attention(Layer(), q, k, v, 0.3, [(pk, pv)], None)
        (out * weight).sum().backward()
        assert bool(called) == split
        grads = [x.grad for x in (q, k, v, pk, pv)]
        assert all((g is not None) == (i < 3 or prefix_grad) for i, g in enumerate(grads))
        results.append([out.detach(), *[g for g in grads if g is not None]])
    for explicit, split_result in zip(*results, strict=True):
        assert torch.allclose(explicit, split_result, rtol=1e-9, atol=1e-11), float((explicit - split_result).abs().max())


@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 2), (3, 3)], ids=["grouped-query", "multi-head"])
def test_padded_split_attention_equals_the_explicit_softmax(heads: int, kv_heads: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Without gradients, the last `T` queries of left-padded rows (a decoding batch's
    prompts, or one decoding step) take the split flash attention: the explicit softmax's
    output in float64 to rounding, for a row with no padding, a padded row, and a row whose
    first queries are pads (they see no own key: their output is the prefix's alone)."""
    import torch

    from mcptrain.training import objective

    class Layer:
        layer_idx = 0

    torch.manual_seed(1)
    b, s, p, d = 3, 9, 5, 8
    q = torch.randn(b, heads, 6, d, dtype=torch.float64)
    k, v = torch.randn(b, kv_heads, s, d, dtype=torch.float64), torch.randn(b, kv_heads, s, d, dtype=torch.float64)
    pk, pv = torch.randn(1, kv_heads, p, d, dtype=torch.float64), torch.randn(1, kv_heads, p, d, dtype=torch.float64)
    own = torch.ones(b, s, dtype=torch.long)
    own[1, :2] = 0
    own[2, :5] = 0  # its first two of the six queries are pads
    called: list[bool] = []
    real = objective._split_padded_attention
    monkeypatch.setattr(objective, "_split_padded_attention", lambda *a: called.append(True) or real(*a))
    for queries in (q, q[:, :, -1:]):
        results = []
        for split in (False, True):
            monkeypatch.setattr(objective, "SPLIT_ATTENTION", split)
            called.clear()
            out, _ = objective._prefix_attention(Layer(), queries, k, v, 0.3, [(pk, pv)], own)
            assert bool(called) == split
            results.append(out)
        assert torch.isfinite(results[1]).all()
        assert torch.allclose(*results, rtol=1e-9, atol=1e-11), float((results[0] - results[1]).abs().max())
