"""The per-worker training loop (what Ray Train runs on each worker).

Our own loop rather than HF Trainer: shared-prefix batches (`batches.py`), the loss
only where it is scored (`objective.py`), autocast where it is measured to help
(`precision.py`). Seeds, LR warmup + linear decay, gradient clipping, validation every
`eval_every` steps with early stopping, and checkpoints every `checkpoint_every` steps
that hold everything needed to continue (adapter, best adapter, optimizer, RNG, step).
Which examples a step sees is a function of (seed, step), so a resumed run replays
exactly the batches it would have seen.

The loop talks to the outside through a `Session`: Ray Train's (`ray_runner.py`) or
`InlineSession` (same process; tests and debugging).
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from mcptrain.training import checkpoint as ckpt
from mcptrain.training.batches import Batch, iterate_steps, plan_epoch
from mcptrain.training.progress import OnProgress, ProgressEvent
from mcptrain.training.prompt import Encoded


class Session(Protocol):
    world_rank: int
    world_size: int

    def latest_checkpoint(self) -> AbstractContextManager[Path | None]: ...

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None, step: int) -> None: ...

    def emit(self, event: ProgressEvent) -> None: ...


class InlineSession:
    """Runs the loop in this process; checkpoints go to `run_dir/checkpoint_NNNNNN`."""

    world_rank = 0
    world_size = 1

    def __init__(self, run_dir: Path, on_progress: OnProgress | None = None, keep: int = 2) -> None:
        self.run_dir = run_dir
        self.on_progress = on_progress
        self.keep = keep

    @contextmanager
    def latest_checkpoint(self) -> Iterator[Path | None]:
        yield ckpt.latest_checkpoint(run_dir=self.run_dir)

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None, step: int) -> None:
        if checkpoint_dir is None:
            return
        target = self.run_dir / ckpt.checkpoint_name(step)
        tmp = self.run_dir / f".{target.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(checkpoint_dir, tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        for _, old in ckpt.find_checkpoints(self.run_dir)[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    def emit(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)


def decode_examples(raw: list[list[Any]]) -> list[Encoded]:
    return [Encoded(list(ids), list(labels), int(shared)) for ids, labels, shared in raw]


def learning_rate(step: int, total: int, peak: float, warmup_ratio: float) -> float:
    """Linear warmup to `peak`, then linear decay to 0 at `total` steps."""
    warmup = int(math.ceil(warmup_ratio * total))
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (total - step) / max(1, total - warmup))


def train_loop(config: dict[str, Any], session: Session) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from mcptrain.training.model import load_model
    from mcptrain.training.objective import batch_loss
    from mcptrain.training.precision import Precision, choose_precision

    t = config["training"]
    rank, world = session.world_rank, session.world_size
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    random.seed(t["seed"])
    torch.manual_seed(t["seed"])
    train = decode_examples(config["train"])
    val = decode_examples(config["validation"])
    total = t["max_steps"]

    device = "cuda" if config.get("use_gpu") and torch.cuda.is_available() else "cpu"
    model = load_model(config["base_model"]).to(device)
    lora = t["lora"]
    model = get_peft_model(model, LoraConfig(
        r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
        target_modules=list(lora["target_modules"]), task_type="CAUSAL_LM"))
    if t["neftune_alpha"]:
        add_embedding_noise(model, float(t["neftune_alpha"]))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=t["learning_rate"], weight_decay=0.0)
    precision = choose_precision(t["precision"], device)

    work = Path(tempfile.mkdtemp(prefix="mcptrain-worker-"))
    best_dir = work / ckpt.BEST
    state: dict[str, Any] = {
        "step": 0, "fingerprint": config["fingerprint"], "best_val_loss": None, "best_step": None,
        "bad_evals": 0, "history": [], "train_seconds": 0.0, "real_tokens": 0,
        "computed_tokens": 0, "finished": False, "stopped_early": False, "resumed_from": [],
    }
    with session.latest_checkpoint() as found:
        if found is not None:
            saved = ckpt.read_state(found) or {}
            if saved.get("fingerprint") != config["fingerprint"]:
                raise RuntimeError(
                    f"the checkpoint at {found} belongs to a run with other inputs "
                    "(data, base model or hyperparameters); use another run name")
            state = ckpt.restore_checkpoint(found, model, optimizer, device)
            if (found / ckpt.BEST).is_dir():
                shutil.copytree(found / ckpt.BEST, best_dir, dirs_exist_ok=True)
            state["resumed_from"] = [*state.get("resumed_from", []), state["step"]]
            if state.get("precision") not in (None, precision.used):
                # A resumed run keeps the precision it started with, whatever a new probe says.
                precision = Precision(t["precision"], str(state["precision"]),
                                      "kept from the run's first start", device)
            session.emit(ProgressEvent("resume", state["step"], total))
    if state["finished"]:
        session.report({"step": state["step"], "finished": True}, None, state["step"])
        shutil.rmtree(work, ignore_errors=True)
        return
    precision.store_frozen_weights(model)  # once the precision is final (a resume may change it)
    precision.cast_block_inputs(model)
    if state["step"] == 0:
        session.emit(ProgressEvent("start", 0, total, metrics={
            "examples": float(len(train)), "validation_examples": float(len(val))},
            message=f"precision {precision.used} ({precision.reason})"))

    def evaluate() -> float:
        model.eval()
        loss_sum, count = 0.0, 0
        plan = plan_epoch(val, t["batch_size"] * 2, t["seed"], 0, packing=t["packing"])
        with torch.no_grad(), precision.autocast():
            for b in plan[rank::world]:
                loss, n = batch_loss(model, b)
                loss_sum += float(loss.detach())
                count += n
        loss_sum, count = _all_reduce(loss_sum, count, world)
        model.train()
        return loss_sum / max(1, count)

    def save(step: int, metrics: dict[str, Any]) -> None:
        folder = work / ckpt.checkpoint_name(step)
        if rank == 0:
            ckpt.save_checkpoint(folder, model, optimizer, {**state, "precision": precision.used},
                                 best_dir if best_dir.is_dir() else None)
        session.report(metrics, folder if rank == 0 else None, step)
        shutil.rmtree(folder, ignore_errors=True)

    model.train()
    losses: list[float] = []
    steps = iterate_steps(train, t["batch_size"], t["gradient_accumulation"] * world, t["seed"],
                          packing=t["packing"], start_step=state["step"])
    for step, epoch, micro in steps:
        if step >= total:
            break
        started = time.perf_counter()
        lr = learning_rate(step, total, t["learning_rate"], t["warmup_ratio"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        scored = sum(b.scored_tokens for b in micro)
        loss_sum = 0.0
        mine: list[Batch] = micro[rank::world]
        for b in mine:
            with precision.autocast():
                loss, _ = batch_loss(model, b, t["prefix_gradients"], t["decision_weight"])
            (loss / scored).backward()
            loss_sum += float(loss.detach())
        if world > 1:
            _all_reduce_grads(params)
            loss_sum, _ = _all_reduce(loss_sum, 0, world)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - started
        real = sum(b.real_tokens for b in micro)
        computed = sum(b.computed_tokens for b in micro)
        state["step"] = step + 1
        state["epoch"] = epoch
        state["train_seconds"] += seconds
        state["real_tokens"] += real
        state["computed_tokens"] += computed
        losses.append(loss_sum / scored)
        state["history"].append({"step": step + 1, "loss": round(loss_sum / scored, 6)})
        session.emit(ProgressEvent("step", step + 1, total, metrics={
            "loss": loss_sum / scored, "lr": lr, "seconds": seconds,
            "tokens_per_s": real / seconds, "computed_tokens_per_s": computed / seconds}))

        done = step + 1 >= total
        stop = False
        metrics: dict[str, Any] = {"step": step + 1, "loss": loss_sum / scored}
        if val and ((step + 1) % t["eval_every"] == 0 or done):
            val_loss = evaluate()
            metrics["val_loss"] = val_loss
            state["history"][-1]["val_loss"] = round(val_loss, 6)
            if state["best_val_loss"] is None or val_loss < state["best_val_loss"] - 1e-4:
                state.update(best_val_loss=val_loss, best_step=step + 1, bad_evals=0)
                if rank == 0:
                    model.save_pretrained(str(best_dir))
            else:
                state["bad_evals"] += 1
            session.emit(ProgressEvent("eval", step + 1, total, metrics={
                "val_loss": val_loss, "best_val_loss": state["best_val_loss"]}))
            patience = t["early_stopping_patience"]
            if patience and state["bad_evals"] >= patience and not done:
                stop = True
                state["stopped_early"] = True
                session.emit(ProgressEvent("early_stop", step + 1, total, message=(
                    f"validation loss has not improved for {patience} evaluations "
                    f"(best {state['best_val_loss']:.4f} at step {state['best_step']})")))
        if done or stop:
            state["finished"] = True
            state["train_loss_final"] = sum(losses[-5:]) / len(losses[-5:])
            state["val_loss_final"] = state["best_val_loss"]
            save(step + 1, {**metrics, "finished": True})
            session.emit(ProgressEvent("checkpoint", step + 1, total))
            break
        if (step + 1) % t["checkpoint_every"] == 0:
            save(step + 1, metrics)
            session.emit(ProgressEvent("checkpoint", step + 1, total))
        elif "val_loss" in metrics:
            session.report(metrics, None, step + 1)
    shutil.rmtree(work, ignore_errors=True)


def add_embedding_noise(model: Any, alpha: float) -> None:
    """NEFTune (Jain et al. 2023, as transformers' Trainer does it): while the model is in
    training mode, input embeddings get uniform noise of scale alpha / sqrt(length * width)."""
    import torch

    def noisy(module: Any, inputs: Any, output: Any) -> Any:
        if not module.training:
            return output
        scale = alpha / math.sqrt(output.size(-2) * output.size(-1))
        return output + torch.empty_like(output).uniform_(-scale, scale)

    model.get_input_embeddings().register_forward_hook(noisy)


def _all_reduce(value: float, count: int, world: int) -> tuple[float, int]:
    if world == 1:
        return value, count
    import torch
    import torch.distributed as dist

    t = torch.tensor([value, float(count)], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t[0]), int(t[1])


def _all_reduce_grads(params: list[Any]) -> None:
    """Sum LoRA gradients over workers (each already divided by the global token count)."""
    import torch
    import torch.distributed as dist

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)

