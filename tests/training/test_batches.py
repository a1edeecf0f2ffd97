from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcptrain.training.batches import Batch, iterate_steps, plan_epoch, shareable, split_example
from mcptrain.training.prompt import IGNORE_INDEX, Encoded


def test_rows_sharing_a_system_turn_share_a_batch_prefix(encoded: list[Encoded]) -> None:
    assert all(shareable(e) for e in encoded)
    plan = plan_epoch(encoded, 4, seed=1, epoch=0)
    assert sum(b.size for b in plan) == len(encoded)
    prefixes = {b.prefix for b in plan}
    assert len(prefixes) == 2  # one per distinct system turn
    for b in plan:
        assert len(b.prefix) > 0
        assert b.computed_tokens < b.real_tokens or b.size == 1
    lone = [b for b in plan if b.size == 1]
    assert len(lone) == 1 and lone[0].prefix == tuple(encoded[-1].input_ids[: encoded[-1].shared])


def test_without_packing_rows_are_whole(encoded: list[Encoded]) -> None:
    plan = plan_epoch(encoded, 4, seed=1, epoch=0, packing=False)
    assert all(b.prefix == () for b in plan)
    assert sum(b.real_tokens for b in plan) == sum(len(e) for e in encoded)


def test_split_example_shifts_targets(encoded: list[Encoded]) -> None:
    e = encoded[0]
    prefix, rest, targets = split_example(e, share=True)
    assert prefix + rest == tuple(e.input_ids)
    whole = list(e.labels[1:]) + [IGNORE_INDEX]
    assert targets == tuple(whole[len(prefix):])


def test_plan_is_deterministic_and_resumable(encoded: list[Encoded]) -> None:
    assert plan_epoch(encoded, 3, 7, 2) == plan_epoch(encoded, 3, 7, 2)
    assert plan_epoch(encoded, 3, 7, 1) != plan_epoch(encoded, 3, 7, 2)
    full = [(s, e, b) for (s, e, b), _ in zip(iterate_steps(encoded, 3, 1, 7), range(12), strict=False)]
    resumed = [(s, e, b) for (s, e, b), _ in zip(iterate_steps(encoded, 3, 1, 7, start_step=5), range(7), strict=False)]
    assert resumed == full[5:]


def test_padding_is_small_after_length_grouping(encoded: list[Encoded]) -> None:
    plan = plan_epoch(encoded * 4, 4, seed=3, epoch=0)
    pad = sum(b.width * b.size - sum(len(r) for r in b.rows) for b in plan)
    assert pad <= 0.1 * sum(len(r) for b in plan for r in b.rows)


def _grads(model: Any) -> dict[str, Any]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(("own_attention", "fused_above"), [(True, None), (True, 0), (False, None)],
                         ids=["shared-prefix-attention", "shared-prefix-fused-kernel", "expanded-cache"])
def test_shared_prefix_loss_and_gradients_equal_full_rows(
        tiny_model: Path, encoded: list[Encoded], own_attention: bool, fused_above: int | None,
        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Running the prefix once is exact, not an approximation: with mcptrain's own attention
    over the prefix (Llama-family models; its explicit softmax, or torch's fused kernel for
    batches whose scores are large) and with the stock attention over an expanded cache."""
    import torch
    from peft import LoraConfig, get_peft_model

    from mcptrain.training import objective
    from mcptrain.training.model import load_model
    from mcptrain.training.objective import batch_loss

    calls: list[int] = []
    own = objective.shared_prefix_attention

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return own(*args, **kwargs)

    monkeypatch.setattr(objective, "shared_prefix_attention", counted)
    objective._register_attention.cache_clear()
    # Afterwards the next use registers the real function again, not this counting wrapper.
    request.addfinalizer(objective._register_attention.cache_clear)
    monkeypatch.setattr(objective, "_own_attention_fits", lambda config: own_attention)
    if fused_above is not None:
        monkeypatch.setattr(objective, "MATERIALISED_SCORES", fused_above)

    torch.manual_seed(0)
    # float64: what is left of a difference is the arithmetic, not float32 rounding.
    model = get_peft_model(load_model(str(tiny_model), dtype=torch.float64), LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=False))  # non-zero B: gradients reach every LoRA matrix
    model.train()
    rows = encoded[:5]
    shared = plan_epoch(rows, 8, 0, 0)[0]
    assert shared.size == 5 and shared.prefix
    whole = plan_epoch(rows, 8, 0, 0, packing=False)[0]
    assert whole.prefix == ()

    loss_a, n_a = batch_loss(model, shared)
    loss_a.backward()
    grads_a = _grads(model)
    model.zero_grad()
    loss_b, n_b = batch_loss(model, whole)
    loss_b.backward()
    grads_b = _grads(model)
    model.zero_grad()
    # The reference: every row in full through the model's own forward, all logits.
    ref, count = torch.zeros((), dtype=torch.float64), 0
    for e in rows:
        labels = torch.tensor(e.labels[1:])
        logits = model(input_ids=torch.tensor([e.input_ids])).logits[0, :-1]
        ref = ref + torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
        count += int((labels != IGNORE_INDEX).sum())
    ref.backward()
    grads_ref = _grads(model)

    assert n_a == n_b == count
    assert bool(calls) == own_attention
    torch.testing.assert_close(loss_a, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(loss_b, ref, rtol=1e-10, atol=1e-10)
    # Llama's RMSNorm computes in float32 even in a float64 model, so gradients agree to
    # float32 rounding (summed in another order over the shared prefix), not to float64.
    # Dropping the prefix's share of the gradient (a detached cache) is off by ~100%.
    for name, ref_grad in grads_ref.items():
        scale = float(ref_grad.abs().max())
        assert scale > 0, name
        assert float((grads_a[name] - ref_grad).abs().max()) <= 1e-6 * scale, name
        assert float((grads_b[name] - ref_grad).abs().max()) <= 1e-12 * scale, name


def test_batch_accounting() -> None:
    b = Batch((1, 2, 3), ((4, 5), (6,)), ((5, IGNORE_INDEX), (IGNORE_INDEX,)))
    assert (b.size, b.width, b.real_tokens, b.computed_tokens, b.scored_tokens) == (2, 2, 9, 7, 1)


def test_without_prefix_gradients_the_loss_is_the_same_and_every_lora_matrix_still_learns(
        tiny_model: Path, encoded: list[Encoded]) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from mcptrain.training.model import load_model
    from mcptrain.training.objective import batch_loss

    torch.manual_seed(0)
    model = get_peft_model(load_model(str(tiny_model), dtype=torch.float64), LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=False))
    model.train()
    shared = plan_epoch(encoded[:5], 8, 0, 0)[0]
    exact, _ = batch_loss(model, shared)
    exact.backward()
    grads_exact = _grads(model)
    model.zero_grad()
    cheap, _ = batch_loss(model, shared, prefix_gradients=False)
    cheap.backward()
    grads_cheap = _grads(model)
    torch.testing.assert_close(cheap, exact, rtol=1e-12, atol=1e-12)  # same forward
    assert all(float(g.abs().sum()) > 0 for g in grads_cheap.values())
    assert any(not torch.allclose(grads_cheap[n], grads_exact[n]) for n in grads_exact)  # an approximation
