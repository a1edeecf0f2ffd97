"""A tiny random-weight Llama and a tiny BPE tokenizer, built in-process (no downloads,
no GGUF), plus canonical rows of a 3-tool synthetic task."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

SYSTEM = "You call tools."
TOOLS = [
    {"type": "function", "function": {"name": name, "description": desc, "parameters": {
        "type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]}}}
    for name, desc, arg in (
        ("get_weather", "Weather for a city.", "city"),
        ("find_user", "Find a user by email.", "email"),
        ("cancel_order", "Cancel an order.", "order_id"),
    )
]
SMOL_TEMPLATE = (  # SmolLM2's own template: no tools
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")
CITIES = ["Paris", "Oslo", "Lima", "Cairo", "Quito", "Dakar", "Hanoi", "Sofia"]
NAMES = ["ana", "bo", "cy", "di", "ed", "fay", "gus", "hal"]


def make_row(i: int, kind: int | None = None, service: str = "demo") -> dict[str, Any]:
    kind = i % 3 if kind is None else kind
    if kind == 0:
        city = CITIES[i % len(CITIES)]
        query, call = f"What is the weather in {city}?", ("get_weather", {"city": city})
    elif kind == 1:
        email = f"{NAMES[i % len(NAMES)]}@acme.io"
        query, call = f"Look up {email}", ("find_user", {"email": email})
    else:
        order = f"ORD-{100 + i}"
        query, call = f"Cancel order {order} please", ("cancel_order", {"order_id": order})
    return {
        "id": f"r-{i}", "source_id": f"r-{i}", "service": service, "kind": "example",
        "category": "simple", "split": "train", "target_tools": [call[0]], "tools": TOOLS,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": query},
            {"role": "assistant", "content": None, "tool_calls": [
                {"type": "function", "function": {"name": call[0], "arguments": call[1]}}]},
        ],
    }


def multi_turn_row() -> dict[str, Any]:
    row = make_row(1, kind=1)
    row["id"] = row["source_id"] = "mt-1"
    row["category"] = "multi_turn"
    row["messages"] += [
        {"role": "tool", "name": "find_user", "content": json.dumps({"user_id": "U-1"})},
        {"role": "assistant", "content": "Found user U-1."},
    ]
    return row


def _tiny_tokenizer(template: str, specials: list[str]) -> Any:
    """A byte-level BPE trained on the synthetic rows rendered with `template`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from mcptrain.training.prompt import render

    corpus = [render(template, r["messages"], r["tools"]) for r in [*map(make_row, range(60)), multi_turn_row()]]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return bpe


def build_tiny_gemma3(folder: Path, *, seed: int = 0, sliding_window: int = 8) -> Path:
    """A 2-layer Gemma 3 (one sliding-window layer of `sliding_window` tokens, one global)
    whose vocabulary has Gemma's turn markers and no ChatML ones, like the embedded
    Gemma 3 270M: the prompts are far longer than the window."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    from mcptrain.training.prompt import hermes

    specials = ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"]
    bpe = _tiny_tokenizer(hermes("<start_of_turn>", "<end_of_turn>", "<bos>"), specials)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>",
                                        pad_token="<pad>", unk_token="<pad>")
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=16, sliding_window=sliding_window,
        layer_types=["sliding_attention", "full_attention"], max_position_embeddings=4096,
        # untied: random tied embeddings make the argmax echo the last input token forever
        tie_word_embeddings=False, initializer_range=0.3, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    Gemma3ForCausalLM(config).save_pretrained(folder)
    return folder


def build_tiny_model(folder: Path, *, seed: int = 0) -> Path:
    """A 2-layer Llama (hidden 64) with a byte-level BPE trained on the synthetic rows."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from mcptrain.training.prompt import HERMES

    bpe = _tiny_tokenizer(HERMES, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
        unk_token="<|endoftext|>", pad_token="<|im_end|>")
    tokenizer.chat_template = SMOL_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        tie_word_embeddings=True, initializer_range=0.3, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    random.seed(seed)
    return folder


def reference_generation(predictor: Any, row: dict[str, Any], max_new_tokens: int) -> str:
    """transformers' own greedy `generate()` on `row`'s whole prompt, cut at the stop token:
    what a LocalPredictor's batched, prefix-cached decoding must reproduce."""
    import torch

    from mcptrain.training.prompt import encode_prompt, prompt_messages

    ids = encode_prompt(predictor.tokenizer, predictor.template, prompt_messages(row), row["tools"])
    out = predictor.model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                   eos_token_id=predictor.stop_id, pad_token_id=predictor.pad_id)
    seq = out[0, len(ids):].tolist()
    if predictor.stop_id in seq:
        seq = seq[: seq.index(predictor.stop_id)]
    return str(predictor.tokenizer.decode(seq))
