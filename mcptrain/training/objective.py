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
  states whose next token is scored (~5% of them), not on every position.

With `prefix_gradients=False` (`training.prefix_gradients: false`) the prefix runs without
autograd: its keys/values are constants for the step (computed with the current LoRA
weights), so backward covers only the rows' own tokens. That is an approximation: the
LoRA matrices lose the gradient that flows through the tool block's keys and values, and
keep everything the rows' tokens give them.
"""

from __future__ import annotations

import inspect
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
    q = (query * scaling).reshape(b, kv, g * t, d).transpose(0, 1)  # [KV, B, G*T, D]
    to_prefix = torch.matmul(q.reshape(kv, b * g * t, d), prefix_keys[0].to(dtype).transpose(-1, -2))
    to_rows = torch.matmul(q, key.to(dtype).transpose(0, 1).transpose(-1, -2))  # [KV, B, G*T, S]
    slots = torch.arange(s, device=query.device)
    allowed = slots[None, :] <= (s - t + torch.arange(t, device=query.device))[:, None]  # [T, S] causal
    if own_mask is not None:
        allowed = own_mask.bool()[:, None, :] & allowed[None]  # [B, T, S]
    allowed = allowed.repeat(*([1] * (allowed.dim() - 2)), g, 1)  # [(B,) G*T, S]
    to_rows = to_rows.masked_fill(~allowed, float("-inf"))
    scores = torch.cat([to_prefix.view(kv, b, g * t, p), to_rows], -1)
    probs = torch.softmax(scores, dim=-1, dtype=torch.promote_types(dtype, torch.float32)).to(dtype)
    out = torch.matmul(probs[..., :p].reshape(kv, b * g * t, p), prefix_values[0].to(dtype))
    out = out.view(kv, b, g * t, d) + torch.matmul(probs[..., p:], value.to(dtype).transpose(0, 1))
    return out.view(kv, b, g, t, d).permute(1, 3, 0, 2, 4).reshape(b, t, h, d), None


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
               decision_weight: float = 1.0) -> tuple[Any, int]:
    """(summed cross-entropy over scored tokens, number of scored tokens).

    `decision_weight` multiplies the loss of each assistant turn's first token: the token
    that decides between calling a tool (`<`) and answering in text. It is one token of
    dozens in a turn, so at weight 1 a model can fit every call and still open a
    `<tool_call>` for chit-chat (measured: README, "Training recipe").
    """
    import torch

    lm = unwrap(model)
    hidden, targets = hidden_states(model, batch, prefix_gradients)
    scored = targets != IGNORE_INDEX
    logits = lm.get_output_embeddings()(hidden[scored])
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the softmax in full precision
    cap = getattr(lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    if decision_weight == 1.0:
        loss = torch.nn.functional.cross_entropy(logits, targets[scored], reduction="sum")
        return loss, int(scored.sum())
    losses = torch.nn.functional.cross_entropy(logits, targets[scored], reduction="none")
    return (losses * decision_weights(scored, decision_weight)).sum(), int(scored.sum())


def decision_weights(scored: Any, weight: float) -> Any:
    """Per scored token: `weight` where a run of scored tokens starts (a turn's first
    token), else 1; in the order `tensor[scored]` lists them."""
    import torch

    before = torch.cat([torch.zeros_like(scored[:, :1]), scored[:, :-1]], 1)
    first = scored & ~before
    return torch.where(first[scored], weight, 1.0)
