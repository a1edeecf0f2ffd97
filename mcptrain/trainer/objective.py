"""The training objective: summed next-token loss on a batch's scored tokens.

Two savings over `model(input_ids, labels=...)`:

* a shared prefix runs once with batch size 1, and its key/value cache is expanded over
  the batch (a view, no copy) before the rows after it run. Autograd sums the rows'
  gradients back into the prefix, so the result equals running every row in full;
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
from functools import cache
from typing import Any

from mcptrain.trainer.batches import Batch
from mcptrain.trainer.prompt import IGNORE_INDEX


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


def expand_cache(cache: Any, size: int) -> Any:
    """A cache whose keys/values are `cache`'s repeated `size` times along the batch (views)."""
    from transformers import DynamicCache

    layers: list[Any] = list(cache.layers)
    return DynamicCache(ddp_cache_data=[
        (layer.keys.expand(size, -1, -1, -1), layer.values.expand(size, -1, -1, -1))
        for layer in layers])


def hidden_states(model: Any, batch: Batch, prefix_gradients: bool = True) -> tuple[Any, Any]:
    """(last hidden states [B, W, H], targets [B, W]) for the rows after the prefix."""
    import torch
    from transformers import DynamicCache

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
        cache = DynamicCache(config=lm.config)
        with torch.set_grad_enabled(prefix_gradients and torch.is_grad_enabled()):
            _decoder_call(decoder, cache, input_ids=torch.tensor([batch.prefix], device=device),
                          use_cache=True)
        out = _decoder_call(
            decoder, expand_cache(cache, size), input_ids=ids,
            attention_mask=torch.cat([torch.ones((size, n), dtype=torch.long, device=device), mask], 1),
            position_ids=torch.arange(n, n + width, device=device).expand(size, width),
            use_cache=True)
    else:
        out = _decoder_call(decoder, None, input_ids=ids, attention_mask=mask,
                            position_ids=torch.arange(width, device=device).expand(size, width),
                            use_cache=False)
    return out.last_hidden_state, targets


def batch_loss(model: Any, batch: Batch, prefix_gradients: bool = True) -> tuple[Any, int]:
    """(summed cross-entropy over scored tokens, number of scored tokens)."""
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
    loss = torch.nn.functional.cross_entropy(logits, targets[scored], reduction="sum")
    return loss, int(scored.sum())
