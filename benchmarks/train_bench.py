"""mcptrain's LoRA training loop against a plain transformers `Trainer` + peft baseline.

Same model (the embedded SmolLM2-135M by default), same rows (the demo dataset), same
tokenisation and loss mask, same LoRA, optimiser settings, batch size and number of
steps, and the same rows in every step: the baseline's data loader replays mcptrain's
batch plan (rows of one service, grouped by length), so the losses compare the loops,
not two draws of batches. The baseline is what one writes first: fp32, every row in
full, padded to the longest in its batch. Reported, in one run:

* real tokens/s: non-pad tokens of the rows trained on, per second of training steps
  (mcptrain runs a shared system turn once per batch, so it computes far fewer tokens
  than the rows contain; this counts what the rows contain, for both);
* final validation loss, measured for both by the same token-weighted function;
* model FLOPs utilisation: FLOPs actually executed per second (padding excluded) over
  the measured matmul peak of this machine, in fp32 and in bf16.

    .venv/bin/python benchmarks/train_bench.py [--steps 3] [--batch-size 8] [--val-rows 24]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not on sys.path: the repository's `datasets/` folder would shadow the `datasets`
# package that transformers' Trainer probes for (mcptrain is installed in the venv).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]

from mcptrain.specs.models import ProjectSpec  # noqa: E402
from mcptrain.training import model as base_model  # noqa: E402
from mcptrain.training.batches import iterate_steps, plan_epoch  # noqa: E402
from mcptrain.training.precision import matmul_flops  # noqa: E402
from mcptrain.training.prompt import IGNORE_INDEX, Encoded, choose_template, encode_row  # noqa: E402


def model_shape(config: Any) -> tuple[float, float, int, int]:
    """(linear params per token in the decoder, vocabulary projection params, layers, width)."""
    d, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * f
    return float(per_layer * layers), float(d * config.vocab_size), layers, d


def executed_flops(shape: tuple[float, float, int, int], prefix: int, rows: list[int], scored: int,
                   *, all_logits: bool, prefix_backward: bool = True) -> float:
    """Forward + backward FLOPs of one batch (frozen weights: backward is input gradients only,
    1x the forward matmuls; attention backward is 2x its forward). Without `prefix_backward`
    the shared prefix runs forward only."""
    linear, vocab, layers, d = shape
    prefix_linear = 2 * linear * prefix
    rows_linear = 2 * linear * sum(rows) + 2 * vocab * ((prefix + sum(rows)) if all_logits else scored)
    prefix_attention = 2 * layers * d * prefix * prefix  # causal half of QK^T and AV
    rows_attention = 4 * layers * d * sum(r * (prefix + r / 2) for r in rows)
    if prefix_backward:
        return 2 * (prefix_linear + rows_linear) + 3 * (prefix_attention + rows_attention)
    return prefix_linear + prefix_attention + 2 * rows_linear + 3 * rows_attention


def shaped_matmul_flops(dtype: Any, seconds: float = 1.0) -> float:
    """Throughput of the model's own largest matmul: 2048 tokens x 576 -> 1536 (SmolLM2's MLP)."""
    import torch

    a, b = torch.randn(2048, 576).to(dtype), torch.randn(576, 1536).to(dtype)
    a @ b
    reps, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or reps == 0:
        a @ b
        reps += 1
    return 2 * 2048 * 576 * 1536 * reps / elapsed


def val_loss(model: Any, val: list[Encoded]) -> float:
    import torch

    from mcptrain.training.objective import batch_loss

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for b in plan_epoch(val, 8, 0, 0, packing=False):
            loss, n = batch_loss(model, b)
            total, count = total + float(loss), count + n
    return total / count


def run_mcptrain(project: ProjectSpec, train_rows: list[dict[str, Any]], val_rows: list[dict[str, Any]],
                 train: list[Encoded], val: list[Encoded], shape: Any, out: Path) -> dict[str, Any]:
    from peft import PeftModel

    from mcptrain.training.lora import train_lora

    result = train_lora(project, train_rows, val_rows, out, "bench", runner="inline")
    s = result.summary
    t = project.training
    flops = 0.0
    for step, _, micro in iterate_steps(train, t.batch_size, 1, t.seed, packing=True):
        if step >= t.max_steps:
            break
        for b in micro:
            flops += executed_flops(shape, len(b.prefix), [len(r) for r in b.rows], b.scored_tokens,
                                    all_logits=False, prefix_backward=t.prefix_gradients)
    model = PeftModel.from_pretrained(base_model.load_model(project.base_model), out)
    return {"seconds": s["train_seconds"], "real_tokens_per_s": s["tokens_per_s"],
            "computed_tokens_per_s": s["computed_tokens_per_s"], "flops": flops,
            "val_loss": val_loss(model, val), "precision": s["precision"],
            "train_loss_last": s["history"][-1]["loss"]}


def planned_batches(train: list[Encoded], project: ProjectSpec) -> list[list[int]]:
    """mcptrain's batches for the run's steps, as indices into `train`."""
    t = project.training
    where: dict[tuple[int, ...], list[int]] = {}
    for i, e in enumerate(train):
        where.setdefault(tuple(e.input_ids), []).append(i)
    batches: list[list[int]] = []
    for step, _, micro in iterate_steps(train, t.batch_size, 1, t.seed, packing=True):
        if step >= t.max_steps:
            break
        batches.append([where[b.prefix + row][0] for b in micro for row in b.rows])
    return batches


def run_baseline(project: ProjectSpec, train: list[Encoded], val: list[Encoded], shape: Any,
                 out: Path) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from torch.utils.data import DataLoader
    from transformers import Trainer, TrainingArguments

    t = project.training
    tokenizer = base_model.load_tokenizer(project.base_model)
    pad = tokenizer.pad_token_id
    seen = {"real": 0, "padded": 0, "flops": 0.0}

    def collate(features: list[dict[str, Any]]) -> dict[str, Any]:
        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), pad, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(f["input_ids"]), torch.tensor(f["labels"]), 1
        real = int(mask.sum())
        seen["real"] += real
        seen["padded"] += width * len(features) - real
        rows = [len(f["input_ids"]) for f in features]
        scored = int((labels[:, 1:] != IGNORE_INDEX).sum())
        seen["flops"] += executed_flops(shape, 0, rows, scored, all_logits=True)
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    torch.manual_seed(t.seed)  # as the loop does: the same LoRA initialisation
    model = get_peft_model(base_model.load_model(project.base_model), LoraConfig(
        r=t.lora.r, lora_alpha=t.lora.alpha, lora_dropout=t.lora.dropout,
        target_modules=list(t.lora.target_modules), task_type="CAUSAL_LM"))
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=t.batch_size, max_steps=t.max_steps,
        learning_rate=t.learning_rate, warmup_steps=t.warmup_ratio, lr_scheduler_type="linear",
        weight_decay=0.0, max_grad_norm=1.0, seed=t.seed, use_cpu=True, bf16=False, fp16=False,
        save_strategy="no", report_to=[], disable_tqdm=True, logging_steps=1,
        remove_unused_columns=False, dataloader_num_workers=0)
    dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in train]
    plan = planned_batches(train, project)

    class SameBatches(Trainer):
        def get_train_dataloader(self) -> DataLoader:  # type: ignore[type-arg]
            return DataLoader(dataset, batch_sampler=plan, collate_fn=collate)  # type: ignore[arg-type]

    trainer = SameBatches(model=model, args=args, train_dataset=dataset, data_collator=collate)
    started = time.perf_counter()
    metrics = trainer.train().metrics
    seconds = time.perf_counter() - started
    last = [h["loss"] for h in trainer.state.log_history if "loss" in h][-1]
    return {"seconds": seconds, "real_tokens_per_s": seen["real"] / seconds,
            "computed_tokens_per_s": (seen["real"] + seen["padded"]) / seconds,
            "pad_share": seen["padded"] / (seen["real"] + seen["padded"]), "flops": seen["flops"],
            "val_loss": val_loss(trainer.model, val), "precision": "fp32", "train_loss_last": last,
            "hf_train_runtime": metrics.get("train_runtime")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--val-rows", type=int, default=24)
    ap.add_argument("--train", type=Path, default=ROOT / "datasets" / "train.jsonl")
    ap.add_argument("--validation", type=Path, default=ROOT / "datasets" / "validation.jsonl")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    import torch
    import yaml

    spec = yaml.safe_load((ROOT / "mcptrain.yaml").read_text(encoding="utf-8"))
    spec["training"] = {**spec.get("training", {}), "max_steps": args.steps, "batch_size": args.batch_size,
                        "eval_every": args.steps, "checkpoint_every": args.steps,
                        "early_stopping_patience": 0,
                        # No warmup: transformers starts warmup at lr 0, mcptrain at lr/warmup,
                        # which over a few steps would be a difference in schedules, not loops.
                        "warmup_ratio": 0.0}
    project = ProjectSpec.model_validate(spec)
    train_rows = [json.loads(line) for line in args.train.read_text(encoding="utf-8").splitlines()]
    val_rows = [json.loads(line) for line in args.validation.read_text(encoding="utf-8").splitlines()]
    val_rows = val_rows[: args.val_rows]
    tokenizer = base_model.load_tokenizer(project.base_model)
    template = choose_template(tokenizer)
    train = [encode_row(tokenizer, template, r) for r in train_rows]
    val = [encode_row(tokenizer, template, r) for r in val_rows]
    shape = model_shape(base_model.load_model(project.base_model).config)

    peak_fp32 = max(matmul_flops(torch.float32, n=n, seconds=1.0) for n in (512, 1024, 2048))
    peak_fp32 = max(peak_fp32, shaped_matmul_flops(torch.float32))
    peak_bf16 = max(matmul_flops(torch.bfloat16, n=512, seconds=2.0), shaped_matmul_flops(torch.bfloat16))
    def variant(**training: Any) -> ProjectSpec:
        return project.model_copy(update={"training": project.training.model_copy(update=training)})

    with tempfile.TemporaryDirectory() as tmp:
        # The default (exact) loop; the same in fp32, which separates the precision lever
        # from not computing padding or the shared tool block more than once; and the
        # approximate `prefix_gradients: false` the demo uses.
        ours = run_mcptrain(variant(prefix_gradients=True), train_rows, val_rows, train, val, shape,
                            Path(tmp) / "mcptrain")
        ours32 = (ours if ours["precision"] == "fp32" else
                  run_mcptrain(variant(prefix_gradients=True, precision="fp32"), train_rows, val_rows,
                               train, val, shape, Path(tmp) / "fp32"))
        nograd = run_mcptrain(variant(prefix_gradients=False), train_rows, val_rows, train, val, shape,
                              Path(tmp) / "nograd")
        base = run_baseline(project, train, val, shape, Path(tmp) / "baseline")
    for r in (ours, ours32, nograd, base):
        r["executed_gflops_per_s"] = r["flops"] / r["seconds"] / 1e9
        r["mfu_vs_fp32_peak"] = r["flops"] / r["seconds"] / peak_fp32
        r["mfu_vs_bf16_peak"] = r["flops"] / r["seconds"] / peak_bf16
    result = {
        "steps": args.steps, "batch_size": args.batch_size, "train_rows": len(train),
        "mean_row_tokens": sum(map(len, train)) / len(train), "val_rows": len(val),
        "peak_fp32_gflops": peak_fp32 / 1e9, "peak_bf16_gflops": peak_bf16 / 1e9,
        "threads": torch.get_num_threads(), "mcptrain": ours, "mcptrain_fp32": ours32,
        "mcptrain_no_prefix_gradients": nograd, "baseline": base,
        "real_tokens_per_s_ratio": ours["real_tokens_per_s"] / base["real_tokens_per_s"],
        "fp32_real_tokens_per_s_ratio": ours32["real_tokens_per_s"] / base["real_tokens_per_s"],
    }
    lines = [
        f"{args.steps} steps x batch {args.batch_size}, {len(train)} rows of "
        f"{result['mean_row_tokens']:.0f} tokens on average, {torch.get_num_threads()} threads",
        f"matmul peak: fp32 {peak_fp32 / 1e9:.1f} GFLOP/s, bf16 {peak_bf16 / 1e9:.1f} GFLOP/s",
        f"{'':22}{'mcptrain':>12}{'mcptrain fp32':>15}{'no prefix grad':>16}{'HF Trainer':>12}",
    ]
    for label, key, fmt in [
        ("seconds", "seconds", "{:.1f}"), ("real tokens/s", "real_tokens_per_s", "{:.0f}"),
        ("computed tokens/s", "computed_tokens_per_s", "{:.0f}"),
        ("executed GFLOP/s", "executed_gflops_per_s", "{:.1f}"),
        ("MFU vs fp32 peak", "mfu_vs_fp32_peak", "{:.0%}"), ("MFU vs bf16 peak", "mfu_vs_bf16_peak", "{:.0%}"),
        ("last train loss", "train_loss_last", "{:.4f}"), ("validation loss", "val_loss", "{:.4f}"),
        ("precision", "precision", "{}"),
    ]:
        lines.append(f"{label:22}{fmt.format(ours[key]):>12}{fmt.format(ours32[key]):>15}"
                     f"{fmt.format(nograd[key]):>16}{fmt.format(base[key]):>12}")
    lines.append(f"real tokens/s ratio (mcptrain / baseline): {result['real_tokens_per_s_ratio']:.2f}x "
                 f"(fp32 alone: {result['fp32_real_tokens_per_s_ratio']:.2f}x); "
                 f"baseline padding share {base['pad_share']:.0%}")
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
