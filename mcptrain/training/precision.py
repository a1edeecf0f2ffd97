"""Which precision a run really uses, decided by measuring, not assuming.

bf16 autocast is a large win on CPUs with native bf16 (AVX512-BF16/AMX: 4-9x faster
matmuls measured on a 2-core Xeon, 1.8x faster SmolLM2 LoRA steps at the same loss) and a
disaster without it (AVX2-only hosts run bf16 matmuls 30-100x *slower* than fp32:
measured 1-3 GFLOP/s vs 95-120 GFLOP/s on a 2-core AMD EPYC). So `precision: bf16` means "bf16 where it is
faster": a quick matmul probe decides, and the summary records what was used and why.
Only a clear win (at least `MARGIN` times fp32) switches to bf16: near a tie the probe's
noise would flip the choice from run to run, and fp32 is the exact reference. A resumed
run keeps the precision it started with (`loop.py`).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

MARGIN = 1.25


@dataclass(frozen=True)
class Precision:
    requested: str
    used: str  # "bf16" | "fp16" | "fp32"
    reason: str
    device: str = "cpu"

    def autocast(self) -> AbstractContextManager[Any]:
        import torch

        if self.used == "fp32":
            return nullcontext()
        return torch.autocast(self.device, dtype=self.dtype)

    @property
    def dtype(self) -> Any:
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.used, torch.float32)

    def store_frozen_weights(self, model: Any) -> int:
        """Keep the frozen linear layers' weights in the compute dtype; returns how many.

        Under autocast every matmul casts its fp32 weight to bf16, on every call, forward
        and backward. The cast result is the same either way, so storing the frozen
        weights in bf16 once changes no number and halves their memory (the step-time
        gain is within this VM's noise, `benchmarks/step_bench.py`). The
        trainable (LoRA) weights stay fp32, and so do embeddings and norms (the residual
        stream stays fp32 under autocast).
        """
        import torch

        if self.used == "fp32":
            return 0
        output = model.get_output_embeddings()
        tied = {id(output.weight)} if output is not None else set()
        count = 0
        for module in model.modules():
            if (isinstance(module, torch.nn.Linear) and not module.weight.requires_grad
                    and id(module.weight) not in tied):
                module.to(self.dtype)
                count += 1
        return count

    def cast_block_inputs(self, model: Any) -> int:
        """Cast each attention and MLP block's input to the compute dtype once; returns how
        many blocks. Under autocast every linear layer casts its fp32 input on its own: the
        normed hidden state went to bf16 five times a layer for the frozen q/k/v and
        gate/up projections and five more for their LoRA matrices, and peft cast the bf16
        inputs of o_proj and down_proj up to fp32 (its LoRA weights' dtype) for autocast to
        cast them straight back. The casts' results are the ones each layer made for itself,
        so the forward pass is unchanged; backward adds the projections' input gradients in
        bf16 before the one cast back, where each was cast to fp32 first (rounding only).
        `benchmarks/step_bench.py` measures it. Blocks are the `self_attn` and `mlp`
        modules of the decoder's layers; a model without them is left as it is."""
        import torch

        if self.used == "fp32":
            return 0
        for module in model.modules():
            if hasattr(module, "cast_input_dtype_enabled"):  # a peft LoRA layer
                module.cast_input_dtype_enabled = False
        device, dtype = self.device, self.dtype

        def cast(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not torch.is_autocast_enabled(device):
                return None
            if args and isinstance(args[0], torch.Tensor) and args[0].is_floating_point():
                return (args[0].to(dtype), *args[1:]), kwargs
            hidden = kwargs.get("hidden_states")
            if isinstance(hidden, torch.Tensor) and hidden.is_floating_point():
                return args, {**kwargs, "hidden_states": hidden.to(dtype)}
            return None

        count = 0
        hooked: set[int] = getattr(model, "_mcptrain_cast_blocks", set())
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
        for layer in getattr(decoder, "layers", None) or []:
            for name in ("self_attn", "mlp"):
                block = getattr(layer, name, None)
                if isinstance(block, torch.nn.Module) and id(block) not in hooked:
                    block.register_forward_pre_hook(cast, with_kwargs=True)
                    hooked.add(id(block))
                    count += 1
        model._mcptrain_cast_blocks = hooked
        return count

    def store_output_head(self, model: Any) -> bool:
        """For decoding only: give a tied output projection its own copy in the compute dtype.

        `store_frozen_weights` leaves a projection tied to the input embeddings in fp32 (the
        embedding is looked up in fp32, and training needs the two to stay one tensor), so
        under autocast every decode step cast the whole [vocabulary x hidden] matrix to bf16
        again: 45 ms a step for SmolLM2's 49,152 x 576, a quarter of a decode step of 16 rows
        on 2 CPU cores (`benchmarks/eval_bench.py`). The copy is that same cast, made once, so
        no logit changes; it costs the matrix once more in bf16. Returns whether it stored one.
        """
        import torch

        output = model.get_output_embeddings()
        inputs = model.get_input_embeddings()
        if (self.used == "fp32" or output is None or inputs is None or output.weight.requires_grad
                or output.weight is not inputs.weight):
            return False
        output.weight = torch.nn.Parameter(output.weight.detach().to(self.dtype), requires_grad=False)
        return True


def matmul_flops(dtype: Any, *, n: int = 512, seconds: float = 0.15, device: str = "cpu") -> float:
    """Measured matmul throughput (FLOP/s) for square `n` x `n` matrices in `dtype`."""
    import torch

    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b  # warm-up: first calls pay for kernel selection
    reps, start = 0, time.perf_counter()
    while True:
        a @ b
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or reps >= 1000:
            return 2 * n**3 * reps / elapsed


def choose_precision(requested: str, device: str = "cpu") -> Precision:
    import torch

    if requested == "fp32":
        return Precision(requested, "fp32", "requested", device)
    if device != "cpu":
        return Precision(requested, requested, "accelerator", device)
    dtype = torch.bfloat16 if requested == "bf16" else torch.float16
    # A short probe first: on hosts without native bf16 a full-size probe takes seconds.
    # It only rules out the hopeless case (emulated bf16 runs 30-100x slower); 20 ms at
    # n=128 is too noisy to decide anything closer (an AMX host once measured 0.9x there
    # and 9x at full size).
    low = matmul_flops(dtype, n=128, seconds=0.02)
    fp32 = matmul_flops(torch.float32, n=128, seconds=0.02)
    if low < fp32 / 4:
        return Precision(requested, "fp32", f"{requested} matmuls measured slower than fp32 on "
                         f"this CPU ({low / 1e9:.1f} vs {fp32 / 1e9:.1f} GFLOP/s)", device)
    low, fp32 = matmul_flops(dtype), matmul_flops(torch.float32)
    if low < fp32 * MARGIN:
        return Precision(requested, "fp32", f"{requested} matmuls not clearly faster than fp32 on "
                         f"this CPU ({low / 1e9:.1f} vs {fp32 / 1e9:.1f} GFLOP/s; needs {MARGIN}x)", device)
    return Precision(requested, requested, f"{requested} matmuls {low / fp32:.1f}x faster than fp32", device)
