from __future__ import annotations

import pytest

from mcptrain.training import precision as p


def probe(bf16: float, fp32: float):  # type: ignore[no-untyped-def]
    import torch

    return lambda dtype, **_: bf16 if dtype == torch.bfloat16 else fp32


def test_fp32_is_used_as_asked_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(p, "matmul_flops", lambda *a, **k: pytest.fail("probed"))
    assert p.choose_precision("fp32").used == "fp32"


@pytest.mark.parametrize(("bf16", "fp32", "used", "reason"), [
    (2e9, 95e9, "fp32", "measured slower than fp32"),          # AVX2-only host
    (100e9, 95e9, "fp32", "not clearly faster than fp32"),     # a near tie: no flip-flopping
    (400e9, 100e9, "bf16", "4.0x faster than fp32"),           # native bf16
])
def test_bf16_only_when_clearly_faster(monkeypatch: pytest.MonkeyPatch, bf16: float, fp32: float,
                                       used: str, reason: str) -> None:
    monkeypatch.setattr(p, "matmul_flops", probe(bf16, fp32))
    chosen = p.choose_precision("bf16")
    assert chosen.used == used and reason in chosen.reason


def test_autocast_only_for_low_precision() -> None:
    import torch

    with p.Precision("bf16", "bf16", "x").autocast():
        assert torch.is_autocast_enabled("cpu")
    with p.Precision("bf16", "fp32", "x").autocast():
        assert not torch.is_autocast_enabled("cpu")


def _bf16_loss_and_grads(tiny_model, encoded, prepare, targets):  # type: ignore[no-untyped-def]
    """(loss, LoRA gradients) of one bf16-autocast batch, after `prepare(model)`."""
    import torch
    from peft import LoraConfig, get_peft_model

    from mcptrain.training.batches import plan_epoch
    from mcptrain.training.model import load_model
    from mcptrain.training.objective import batch_loss

    torch.manual_seed(0)
    model = get_peft_model(load_model(str(tiny_model)), LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=targets, init_lora_weights=False))
    prepare(model)
    with p.Precision("bf16", "bf16", "test").autocast():
        loss, _ = batch_loss(model, plan_epoch(encoded[:4], 8, 0, 0)[0])
    loss.backward()
    return loss.detach(), {n: prm.grad.clone() for n, prm in model.named_parameters() if prm.requires_grad}


def test_frozen_weights_stored_in_bf16_change_no_number(tiny_model, encoded) -> None:  # type: ignore[no-untyped-def]
    """Storing frozen linear weights in bf16 is what autocast does to them anyway: the loss and
    the LoRA gradients are bit-identical; LoRA weights, embeddings and norms stay fp32."""
    import torch

    bf16 = p.Precision("bf16", "bf16", "test")

    def store(model):  # type: ignore[no-untyped-def]
        assert bf16.store_frozen_weights(model) == 2 * 7  # q k v o gate up down, per layer
        dtypes = {n: prm.dtype for n, prm in model.named_parameters()}
        assert all(d == torch.float32 for n, d in dtypes.items() if "lora_" in n or "norm" in n
                   or "embed" in n)
        assert dtypes["base_model.model.model.layers.0.mlp.up_proj.weight"] == torch.bfloat16

    targets = ["q_proj", "k_proj", "v_proj", "o_proj"]
    loss_a, grads_a = _bf16_loss_and_grads(tiny_model, encoded, lambda model: None, targets)
    loss_b, grads_b = _bf16_loss_and_grads(tiny_model, encoded, store, targets)
    assert torch.equal(loss_a, loss_b)
    assert all(torch.equal(grads_a[n], grads_b[n]) for n in grads_a)


def test_block_inputs_cast_once_change_no_forward_number(tiny_model, encoded) -> None:  # type: ignore[no-untyped-def]
    """Casting each attention/MLP block's input to bf16 once is the cast each of its linear
    layers (and peft's LoRA matrices) made for itself: the loss is bit-identical; only the
    order in which backward adds the input gradients changes, so they agree to bf16 rounding.
    fp32 runs are left alone."""
    import torch

    from mcptrain.training.model import load_model

    bf16 = p.Precision("bf16", "bf16", "test")

    def cast_once(model):  # type: ignore[no-untyped-def]
        bf16.store_frozen_weights(model)
        assert bf16.cast_block_inputs(model) == 2 * len(model.get_base_model().get_decoder().layers)
        assert bf16.cast_block_inputs(model) == 0  # hooked once

    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    loss_a, grads_a = _bf16_loss_and_grads(tiny_model, encoded, bf16.store_frozen_weights, targets)
    loss_b, grads_b = _bf16_loss_and_grads(tiny_model, encoded, cast_once, targets)
    assert torch.equal(loss_a, loss_b)
    for n in grads_a:  # bf16 keeps ~3 significant digits; the difference is that rounding's
        error = float((grads_a[n] - grads_b[n]).norm() / grads_a[n].norm())
        assert error < 0.02, (n, error)
    assert p.Precision("fp32", "fp32", "test").cast_block_inputs(load_model(str(tiny_model))) == 0


def test_fp32_stores_nothing() -> None:
    assert p.Precision("fp32", "fp32", "test").store_frozen_weights(object()) == 0


def test_output_head_stored_for_decoding_changes_no_logit(tiny_model) -> None:  # type: ignore[no-untyped-def]
    """A tied output projection gets its own bf16 copy for decoding (autocast cast the whole
    matrix at every step): the logits are bit-identical, the input embedding stays fp32 and
    is no longer the same tensor; fp32 and untied heads are left alone."""
    import torch

    from mcptrain.training.model import load_model

    bf16 = p.Precision("bf16", "bf16", "test")
    ids = torch.tensor([[3, 5, 7, 11, 13, 2]])
    logits = []
    for store in (False, True):
        model = load_model(str(tiny_model)).eval().requires_grad_(False)
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # tied
        bf16.store_frozen_weights(model)
        if store:
            assert bf16.store_output_head(model)
            assert model.get_output_embeddings().weight.dtype == torch.bfloat16
            assert model.get_input_embeddings().weight.dtype == torch.float32
            assert not bf16.store_output_head(model)  # untied now: nothing more to store
        with torch.no_grad(), bf16.autocast():
            logits.append(model(input_ids=ids).logits)
    assert torch.equal(logits[0], logits[1])
    trainable = load_model(str(tiny_model))  # a head that trains is never replaced
    assert not bf16.store_output_head(trainable)
    assert not p.Precision("fp32", "fp32", "test").store_output_head(load_model(str(tiny_model)))
