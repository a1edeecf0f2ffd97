from __future__ import annotations

import pytest

from mcptrain.trainer import precision as p


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
