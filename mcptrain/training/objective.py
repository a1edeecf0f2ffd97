"""The training objective: summed next-token loss on a batch's scored tokens.

Two savings over `model(input_ids, labels=...)`:

* a shared prefix runs once with batch size 1, and the rows after it attend to its
  keys/values. Autograd sums the rows' gradients back into the prefix, so the result
  equals running every row in full. For Llama-family models the rows' attention is our
  own (`shared_prefix_attention`): the queries of every row meet the prefix's keys in
  one matrix product per key/value head, where expanding the cache over the batch made
  the stock attention copy the prefix once per row and per query head, forward and
  backward (profiled on the demo: the stock attention's backward was a third of a step;
  side by side a whole step is ~1.1x faster, `benchmarks/step_bench.py`). Other
  architectures expand the cache (a view) and use stock attention;
* the vocabulary projection (~20% of a small model's FLOPs) runs only on the hidden
  states whose next token is scored (~5% of them), not on every position, and in chunks
  fused with the cross-entropy (`linear_cross_entropy`), so the logits are never whole.

With `prefix_gradients=False` (`training.prefix_gradients: false`) the prefix runs without
autograd: its keys/values are constants for the step (computed with the current LoRA
weights), so backward covers only the rows' own tokens. That is an approximation: the
LoRA matrices lose the gradient that flows through the tool block's keys and values, and
keep everything the rows' tokens give them.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from mcptrain.training.batches import Batch
from mcptrain.training.prompt import IGNORE_INDEX


def unwrap(model: Any) -> Any:
    """The causal LM inside a peft wrapper (LoRA layers stay injected in it)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@cache
def _cache_keyword(forward: Any) -> str:
    # transformers 5 renamed `past_key_values` to `cache` (the old name still warns).
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _decoder_call(decoder: Any, cache: Any, **kwargs: Any) -> Any:
    kwargs[_cache_keyword(type(decoder).forward)] = cache
    return decoder(**kwargs)


def full_cache() -> Any:
    """An empty cache that keeps every key/value of every layer. A cache built from the
    config would give sliding-window layers (Gemma 3) a window-sized buffer that drops a
    long shared prefix's early keys, which the rows after it still need: here the model's
    own sliding-window mask decides what each position sees."""
    from transformers import DynamicCache

    return DynamicCache()


def expand_cache(cache: Any, size: int) -> Any:
    """A cache whose keys/values are `cache`'s repeated `size` times along the batch (views)."""
    from transformers import DynamicCache

    layers: list[Any] = list(cache.layers)
    return DynamicCache(ddp_cache_data=[
        (layer.keys.expand(size, -1, -1, -1), layer.values.expand(size, -1, -1, -1))
        for layer in layers])


SHARED_PREFIX_ATTENTION = "mcptrain_shared_prefix"
# Architectures whose attention is plain causal softmax attention (with grouped-query heads)
# once rotary embeddings are applied: no sliding window, logit soft-capping or sinks.
_PLAIN_ATTENTION = frozenset({"llama", "qwen2", "qwen3", "smollm3"})


def shared_prefix_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                            scaling: float, dropout: float = 0.0, mcptrain_prefix: Any = None,
                            **kwargs: Any) -> tuple[Any, None]:
    """Causal attention of a batch of rows that all continue one shared prefix.

    `query` [B, H, T, D], `key`/`value` [B, KV, T, D] are the rows' own (right-padded:
    a real position never sees a pad, so no mask is needed beyond causality);
    `mcptrain_prefix[layer]` holds the prefix's keys/values [1, KV, P, D]. One softmax over
    [prefix | causal rows], as if each row had been run in full.
    """
    return _prefix_attention(module, query, key, value, scaling, mcptrain_prefix, None)


DECODE_PREFIX_ATTENTION = "mcptrain_decode_prefix"


def decode_prefix_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                            scaling: float, dropout: float = 0.0, mcptrain_prefix: Any = None,
                            mcptrain_own_mask: Any = None, **kwargs: Any) -> tuple[Any, None]:
    """`shared_prefix_attention` for decoding: the rows' own keys/values are a growing
    cache [B, KV, S, D] (left-padded prompt, then generated tokens) and the `T` queries are
    its last `T` positions. `mcptrain_own_mask` [B, S] marks the rows' real keys. The
    prefix's keys are never copied per row (an expanded cache made every decode step
    concatenate, and grouped-query attention repeat, B copies of the ~650-token tool
    block: `benchmarks/eval_bench.py`)."""
    return _prefix_attention(module, query, key, value, scaling, mcptrain_prefix, mcptrain_own_mask)


def _prefix_attention(module: Any, query: Any, key: Any, value: Any, scaling: float, prefix: Any,
                      own_mask: Any) -> tuple[Any, None]:
    """One softmax over [the shared prefix's keys | the rows' own keys]: the `T` queries
    are the last `T` of the rows' `S` own positions, causal among them; `own_mask` [B, S]
    (None: every own key is real) hides the rows' padding."""
    import torch

    prefix_keys, prefix_values = prefix[module.layer_idx]
    b, h, t, d = query.shape
    kv, s = key.shape[1], key.shape[2]
    g = h // kv  # query heads per key/value head
    p = prefix_keys.shape[2]
    dtype = query.dtype
    if query.requires_grad and b * h * t * (p + s) > MATERIALISED_SCORES:
        return _flash_prefix_attention(query, key, value, scaling, prefix_keys, prefix_values, own_mask)
    if SPLIT_ATTENTION and own_mask is None and t == s and query.device.type == "cpu":
        out = _split_prefix_attention_function().apply(query, key.to(dtype), value.to(dtype),
                                                       prefix_keys.to(dtype), prefix_values.to(dtype), scaling)
        return out.transpose(1, 2), None
    if SPLIT_ATTENTION and own_mask is not None and not query.requires_grad and query.device.type == "cpu":
        return _split_padded_attention(query, key.to(dtype), value.to(dtype), prefix_keys.to(dtype),
                                       prefix_values.to(dtype), scaling, own_mask), None
    q = (query * scaling).reshape(b, kv, g * t, d).transpose(0, 1)  # [KV, B, G*T, D]
    to_prefix = torch.matmul(q.reshape(kv, b * g * t, d), prefix_keys[0].to(dtype).transpose(-1, -2))
    to_rows = torch.matmul(q, key.to(dtype).transpose(0, 1).transpose(-1, -2))  # [KV, B, G*T, S]
    allowed = _own_keys_allowed(s, t, own_mask, query.device)
    allowed = allowed.repeat(*([1] * (allowed.dim() - 2)), g, 1)  # [(B,) G*T, S]
    to_rows = to_rows.masked_fill(~allowed, float("-inf"))
    scores = torch.cat([to_prefix.view(kv, b, g * t, p), to_rows], -1)
    probs = torch.softmax(scores, dim=-1, dtype=torch.promote_types(dtype, torch.float32)).to(dtype)
    out = torch.matmul(probs[..., :p].reshape(kv, b * g * t, p), prefix_values[0].to(dtype))
    out = out.view(kv, b, g * t, d) + torch.matmul(probs[..., p:], value.to(dtype).transpose(0, 1))
    return out.view(kv, b, g, t, d).permute(1, 3, 0, 2, 4).reshape(b, t, h, d), None


@cache
def _split_prefix_attention_function() -> Any:
    """`_prefix_attention` of rows that are their own keys (training and loss passes: no
    padding mask, as many queries as keys), in two parts merged by their log-sum-exp: the
    rows' queries against the prefix (every row's queries as one sequence, no mask) and
    against their own keys (causal), each through torch's CPU flash-attention kernel, which
    returns the log-sum-exp with the output. Backward is written out here: the CPU kernel's
    own backward measured slower than the explicit softmax's, so the probabilities are
    recomputed from the saved log-sum-exp, part by part, in the compute dtype's matmuls with
    fp32 elementwise arithmetic, and never concatenated (the explicit softmax's
    concatenation and the zero-filled gradients of its slices were a third of its cost:
    `benchmarks/step_bench.py`). Exact up to rounding (tests hold it to the explicit
    softmax in float64)."""
    import torch

    class SplitPrefixAttention(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, q: Any, k: Any, v: Any, pk: Any, pv: Any, scale: float) -> Any:
            out, lse = _split_forward(q, k, v, pk, pv, scale)
            ctx.save_for_backward(q, k, v, pk, pv, out, lse)
            ctx.scale = scale
            return out

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            q, k, v, pk, pv, out, lse = ctx.saved_tensors
            scale = ctx.scale
            b, h, t, d = q.shape
            kv = k.shape[1]
            g = h // kv
            dtype = q.dtype
            acc = torch.promote_types(dtype, torch.float32)  # elementwise arithmetic in fp32 at least
            grad = grad.to(dtype)
            delta = (grad.to(acc) * out.to(acc)).sum(-1)  # rowsum(dO * O) [B, H, T]
            # Grouped-query layout: a key/value head's G query heads as one [G*T] block.
            qg, gg = q.reshape(b, kv, g * t, d), grad.reshape(b, kv, g * t, d)
            lse_g, delta_g = lse.reshape(b, kv, g * t, 1), delta.reshape(b, kv, g * t, 1)

            def rows_as_one(x: Any) -> Any:  # [B, KV, G*T, X] -> [KV, B*G*T, X]
                return x.transpose(0, 1).reshape(kv, b * g * t, x.shape[-1])

            # The prefix part: P = exp(q.K^T * scale - lse), dS = P * (dO.V^T - delta).
            q1, g1 = rows_as_one(qg), rows_as_one(gg)
            probs = torch.matmul(q1, pk[0].transpose(-1, -2)).to(acc).mul_(scale).sub_(rows_as_one(lse_g)).exp_()
            dscores = torch.matmul(g1, pv[0].transpose(-1, -2)).to(acc).sub_(rows_as_one(delta_g)).mul_(probs)
            dscores_c = dscores.to(dtype)
            dq = torch.matmul(dscores_c, pk[0]).view(kv, b, g * t, d).transpose(0, 1)
            dpk = dpv = None
            if ctx.needs_input_grad[3]:
                dpk = (torch.matmul(dscores_c.transpose(-1, -2), q1) * scale).unsqueeze(0)
            if ctx.needs_input_grad[4]:
                dpv = torch.matmul(probs.to(dtype).transpose(-1, -2), g1).unsqueeze(0)
            del probs, dscores, dscores_c
            # The rows' own part, causal: [B, KV, G*T, T].
            causal = torch.ones(t, t, dtype=torch.bool, device=q.device).tril_().repeat(g, 1)
            probs = (torch.matmul(qg, k.transpose(-1, -2)).to(acc).mul_(scale).sub_(lse_g).exp_()
                     .masked_fill_(~causal, 0.0))
            dv = torch.matmul(probs.to(dtype).transpose(-1, -2), gg)
            dscores = torch.matmul(gg, v.transpose(-1, -2)).to(acc).sub_(delta_g).mul_(probs).to(dtype)
            dq = (dq + torch.matmul(dscores, k)).mul_(scale).reshape(b, h, t, d)
            dk = torch.matmul(dscores.transpose(-1, -2), qg) * scale
            return dq, dk, dv, dpk, dpv, None

    return SplitPrefixAttention


def _split_padded_attention(q: Any, k: Any, v: Any, pk: Any, pv: Any, scale: float, own_mask: Any) -> Any:
    """`_prefix_attention` without gradients for the last `T` queries of left-padded rows
    (a decoding batch's prompts, then each decoding step; teacher-forced passes):
    `_split_forward` with the rows' own part masked by `own_mask` [B, S] and causality.
    The explicit softmax over [prefix | rows] in fp32 was the largest cost of the prompt
    passes (profiled: 35 s of the 129 s calibrating the demo's decisions), and decoding
    steps ran 11-18% faster without it (`benchmarks/eval_bench.py`)."""
    return _split_forward(q, k, v, pk, pv, scale, own_mask)[0].transpose(1, 2)


def _split_forward(q: Any, k: Any, v: Any, pk: Any, pv: Any, scale: float,
                   own_mask: Any = None) -> tuple[Any, Any]:
    """(output [B, H, T, D], log-sum-exp [B, H, T] in fp32) of the `T` queries against
    [the prefix's keys | the rows' own keys], as two flash-kernel calls merged by their
    log-sum-exp: the rows' queries against the prefix (all rows as one sequence, no mask)
    and against their own `S` keys — causal when `own_mask` is None (rows that are their
    own keys, `T` = `S`), else masked by `own_mask` [B, S] and causality, where a query
    that sees no own key (a pad) keeps the prefix's output alone."""
    import torch

    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    b, h, t, d = q.shape
    as_one = q.transpose(0, 1).reshape(1, h, b * t, d)
    out_p, lse_p = flash(as_one, pk, pv, 0.0, False, scale=scale)
    if own_mask is None:
        out_o, lse_o = flash(q, k, v, 0.0, True, scale=scale)
    else:
        allowed = _own_keys_allowed(k.shape[2], t, own_mask, q.device)  # [B, T, S]
        bias = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, float("-inf"))
        out_o, lse_o = flash(q, k, v, 0.0, False, attn_mask=bias[:, None], scale=scale)
        seen = allowed.any(-1)[:, None, :]  # [B, 1, T]: the query sees an own key
        lse_o = torch.where(seen, lse_o, float("-inf"))
        out_o = torch.where(seen[..., None], out_o, 0.0)
    out_p = out_p.view(h, b, t, d).transpose(0, 1)
    lse_p = lse_p.view(h, b, t).transpose(0, 1)
    lse = torch.logaddexp(lse_p, lse_o)
    out = (out_p * torch.exp(lse_p - lse).unsqueeze(-1) + out_o * torch.exp(lse_o - lse).unsqueeze(-1)).to(q.dtype)
    return out, lse


def _own_keys_allowed(s: int, t: int, own_mask: Any, device: Any) -> Any:
    """Which of the rows' `s` own keys each of their last `t` positions may see: causal
    [T, S], and with `own_mask` [B, S] (the rows' real keys) [B, T, S]."""
    import torch

    slots = torch.arange(s, device=device)
    allowed = slots[None, :] <= (s - t + torch.arange(t, device=device))[:, None]
    return allowed if own_mask is None else own_mask.bool()[:, None, :] & allowed[None]


# Training: above this many attention scores per layer (~32 MB in fp32) the rows' attention
# goes to torch's fused kernel instead of `_prefix_attention`'s explicit softmax: the
# scores, their softmax, and in backward its gradient and the zero-filled gradients of the
# slices, are then each larger than what glibc reuses, so every layer page-faults fresh
# memory (profiled: a batch of 8 rows 226 tokens wide after a 713-token tool block took 18 s
# forward + backward, 8.8 s fused; 6 rows up to 346 wide 33 s, 9.4 s). Below it the explicit
# softmax is the faster (2.6 s against 2.9 s for 8 rows 54 wide), and it never copies the
# prefix per row. Decoding keeps the explicit softmax: without autograd, the fused kernel
# over the expanded prefix measured slower there (README, "Benchmarks").
MATERIALISED_SCORES = 1 << 23
# Below it, rows that are their own keys (training, loss passes) take `_split_prefix_attention_function`;
# False keeps the explicit softmax there (`benchmarks/step_bench.py` compares the two).
SPLIT_ATTENTION = True


def _flash_prefix_attention(query: Any, key: Any, value: Any, scaling: float, prefix_keys: Any,
                            prefix_values: Any, own_mask: Any) -> tuple[Any, None]:
    """`_prefix_attention` through `scaled_dot_product_attention`: the prefix's keys/values
    expanded over the rows (a copy of [B, KV, P, D], small next to the scores it avoids),
    a boolean mask [prefix: all | own: causal, and `own_mask`], grouped-query heads as they
    are (`enable_gqa`)."""
    import torch

    b, _, t, _ = query.shape
    s, p = key.shape[2], prefix_keys.shape[2]
    dtype = query.dtype
    keys = torch.cat([prefix_keys.to(dtype).expand(b, -1, -1, -1), key.to(dtype)], 2)
    values = torch.cat([prefix_values.to(dtype).expand(b, -1, -1, -1), value.to(dtype)], 2)
    allowed = _own_keys_allowed(s, t, own_mask, query.device)
    if own_mask is not None:
        allowed = allowed[:, None]  # [B, 1, T, S]: one mask for every head
    seen = torch.ones((*allowed.shape[:-1], p), dtype=torch.bool, device=query.device)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, keys, values, attn_mask=torch.cat([seen, allowed], -1), scale=scaling, enable_gqa=True)
    return out.transpose(1, 2), None


@cache
def _register_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(SHARED_PREFIX_ATTENTION, shared_prefix_attention)
    AttentionInterface.register(DECODE_PREFIX_ATTENTION, decode_prefix_attention)


def _own_attention_fits(config: Any) -> bool:
    return (getattr(config, "model_type", None) in _PLAIN_ATTENTION
            and not getattr(config, "use_sliding_window", False)
            and not getattr(config, "attn_logit_softcapping", None)
            and not getattr(config, "attention_dropout", 0.0))


@contextmanager
def _attention(config: Any, name: str) -> Iterator[None]:
    saved = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = saved


def hidden_states(model: Any, batch: Batch, prefix_gradients: bool = True) -> tuple[Any, Any]:
    """(last hidden states [B, W, H], targets [B, W]) for the rows after the prefix."""
    import torch

    lm = unwrap(model)
    decoder = lm.get_decoder()
    device = lm.get_output_embeddings().weight.device
    size, width = batch.size, batch.width
    ids = torch.zeros((size, width), dtype=torch.long)
    mask = torch.zeros((size, width), dtype=torch.long)
    targets = torch.full((size, width), IGNORE_INDEX, dtype=torch.long)
    for i, (row, tgt) in enumerate(zip(batch.rows, batch.targets, strict=True)):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        targets[i, : len(tgt)] = torch.tensor(tgt)
    ids, mask, targets = ids.to(device), mask.to(device), targets.to(device)
    n = len(batch.prefix)
    if n:
        cache = full_cache()
        with torch.set_grad_enabled(prefix_gradients and torch.is_grad_enabled()):
            _decoder_call(decoder, cache, input_ids=torch.tensor([batch.prefix], device=device),
                          use_cache=True)
        positions = torch.arange(n, n + width, device=device).expand(size, width)
        if _own_attention_fits(lm.config):
            _register_attention()
            layers: list[Any] = list(cache.layers)
            with _attention(lm.config, SHARED_PREFIX_ATTENTION):
                out = _decoder_call(decoder, None, input_ids=ids, position_ids=positions, use_cache=False,
                                    mcptrain_prefix=[(layer.keys, layer.values) for layer in layers])
            return out.last_hidden_state, targets
        out = _decoder_call(
            decoder, expand_cache(cache, size), input_ids=ids,
            attention_mask=torch.cat([torch.ones((size, n), dtype=torch.long, device=device), mask], 1),
            position_ids=positions, use_cache=True)
    else:
        out = _decoder_call(decoder, None, input_ids=ids, attention_mask=mask,
                            position_ids=torch.arange(width, device=device).expand(size, width),
                            use_cache=False)
    return out.last_hidden_state, targets


def batch_loss(model: Any, batch: Batch, prefix_gradients: bool = True,
               decision_weight: float = 1.0, fused: bool = True) -> tuple[Any, int]:
    """(summed cross-entropy over scored tokens, number of scored tokens).

    `fused` computes it with `linear_cross_entropy` (the default; `False` is the stock
    output layer and cross-entropy, kept for `benchmarks/step_bench.py` and as the reference
    the tests hold it to). `decision_weight` multiplies the loss of each assistant turn's first token: the token
    that decides between calling a tool (`<`) and answering in text. It is one token of
    dozens in a turn, so at weight 1 a model can fit every call and still open a
    `<tool_call>` for chit-chat (measured: README, "Training recipe").
    """
    import torch

    lm = unwrap(model)
    hidden, targets = hidden_states(model, batch, prefix_gradients)
    scored = targets != IGNORE_INDEX
    head = lm.get_output_embeddings()
    weights = None if decision_weight == 1.0 else decision_weights(scored, decision_weight)
    if not fused or getattr(head, "bias", None) is not None or type(head) is not torch.nn.Linear:
        return _stock_loss(lm, head, hidden[scored], targets[scored], weights), int(scored.sum())
    loss = linear_cross_entropy(hidden[scored], head.weight, targets[scored], weights,
                                softcap=getattr(lm.config, "final_logit_softcapping", None))
    return loss, int(scored.sum())


def _stock_loss(lm: Any, head: Any, hidden: Any, targets: Any, weights: Any) -> Any:
    """The loss through the output layer as it is (a head with a bias, or not a Linear)."""
    import torch

    logits = head(hidden)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the softmax in full precision
    cap = getattr(lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    return (losses if weights is None else losses * weights).sum()


def linear_cross_entropy(hidden: Any, weight: Any, targets: Any, token_weights: Any = None,
                         softcap: float | None = None) -> Any:
    """sum_i w_i * cross_entropy(hidden_i @ weight.T, target_i), never holding the logits.

    The scored positions' logits are [N x vocabulary] (the demo: ~350 x 49,152 a step, 69 MB
    in fp32); made whole, they and their gradient were copied, filled and cast several
    times a step, and glibc serves allocations that large with fresh pages each time
    (profiled: ~1.3 s of a ~4 s step went to the loss). Here the vocabulary projection runs
    in chunks of rows small enough for the allocator to reuse, in the autocast dtype as the
    stock `Linear` would (softmax in fp32), and the gradient with respect to `hidden`
    (and `weight`, if it is trained) is computed in the same pass, as Liger Kernel's fused
    linear cross-entropy does: the loss is a sum, so backward only scales it.
    """
    import torch

    dtype = torch.get_autocast_dtype(hidden.device.type) if torch.is_autocast_enabled(hidden.device.type) \
        else hidden.dtype
    return _linear_cross_entropy_function().apply(hidden, weight, targets, token_weights, dtype, softcap)


def _chunk_rows(vocabulary: int) -> int:
    return max(8, (1 << 22) // max(1, vocabulary))  # ~16 MB of fp32 logits per chunk


def _lowered(weight: Any, dtype: Any) -> Any:
    """`weight` in `dtype`: a frozen weight is cast once and kept while it is unchanged
    (the tied embedding of a LoRA run is cast 1x per step otherwise: 56 MB for SmolLM2)."""
    if weight.dtype == dtype:
        return weight
    if weight.requires_grad:
        return weight.to(dtype)
    cached = _LOWERED.get("weight")
    if cached is None or cached[0]() is not weight or cached[1] != (weight._version, dtype):
        cached = (weakref.ref(weight), (weight._version, dtype), weight.detach().to(dtype))
        _LOWERED["weight"] = cached
    return cached[2]


_LOWERED: dict[str, Any] = {}  # one entry: (the weight, by weak reference; its version; the cast)


@cache
def _linear_cross_entropy_function() -> Any:
    """The autograd Function, made on first use (importing this module does not import torch)."""
    import torch

    class LinearCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, hidden: Any, weight: Any, targets: Any, token_weights: Any, dtype: Any,
                    softcap: float | None) -> Any:
            want_hidden, want_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
            w = _lowered(weight, dtype)
            exact = torch.promote_types(dtype, torch.float32)  # the softmax: fp32 at least
            total = torch.zeros((), dtype=exact, device=hidden.device)
            grad_hidden = torch.empty_like(hidden) if want_hidden else None
            grad_weight = torch.zeros(weight.shape, dtype=torch.promote_types(weight.dtype, torch.float32),
                                      device=weight.device) if want_weight else None
            step = _chunk_rows(weight.shape[0])
            with torch.autocast(hidden.device.type, enabled=False):
                for start in range(0, hidden.shape[0], step):
                    h = hidden[start:start + step].to(dtype)
                    logits = (h @ w.t()).to(exact)
                    if softcap:
                        capped = torch.tanh(logits / softcap)
                        logits = capped * softcap
                    lse = torch.logsumexp(logits, dim=-1)
                    tgt = targets[start:start + step]
                    losses = lse - logits.gather(1, tgt[:, None]).squeeze(1)
                    tw = None if token_weights is None else token_weights[start:start + step].to(exact)
                    total += (losses if tw is None else losses * tw).sum()
                    if not (want_hidden or want_weight):
                        continue
                    grad = logits.sub_(lse[:, None]).exp_()  # softmax, in place
                    grad[torch.arange(len(tgt), device=grad.device), tgt] -= 1.0
                    if softcap:
                        grad.mul_(1.0 - capped * capped)
                    if tw is not None:
                        grad.mul_(tw[:, None])
                    grad = grad.to(dtype)
                    if grad_hidden is not None:
                        grad_hidden[start:start + step] = grad @ w
                    if grad_weight is not None:
                        grad_weight += (grad.t() @ h).to(grad_weight.dtype)
            ctx.weight_dtype = weight.dtype
            ctx.save_for_backward(grad_hidden, grad_weight)
            return total

        @staticmethod
        def backward(ctx: Any, grad_total: Any) -> Any:
            grad_hidden, grad_weight = ctx.saved_tensors
            gh = None if grad_hidden is None else grad_hidden * grad_total
            gw = None if grad_weight is None else (grad_weight * grad_total).to(ctx.weight_dtype)
            return gh, gw, None, None, None, None

    return LinearCrossEntropy


def decision_weights(scored: Any, weight: float) -> Any:
    """Per scored token: `weight` where a run of scored tokens starts (a turn's first
    token), else 1; in the order `tensor[scored]` lists them."""
    import torch

    before = torch.cat([torch.zeros_like(scored[:, :1]), scored[:, :-1]], 1)
    first = scored & ~before
    return torch.where(first[scored], weight, 1.0)
