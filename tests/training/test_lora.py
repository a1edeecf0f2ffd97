from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.errors import StageError
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.loop import learning_rate
from mcptrain.training.lora import SUMMARY, rows_sha256, train_lora
from mcptrain.training.progress import ProgressEvent, describe
from mcptrain.training.prompt import HERMES
from tests.training.tiny import make_row, multi_turn_row

TRAIN = [make_row(i) for i in range(12)] + [multi_turn_row()]
VAL = [make_row(i) for i in range(100, 104)]


def project(model: Path, **training: Any) -> ProjectSpec:
    settings = {"max_steps": 6, "batch_size": 4, "eval_every": 2, "checkpoint_every": 2,
                "learning_rate": 0.01, "warmup_ratio": 0.0,
                "precision": "fp32", **training}  # no timing probe: runs compare exactly
    return ProjectSpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "Project", "name": "t",
                                       "base_model": str(model), "training": settings})


class Crash(Exception):
    pass


def adapter(out: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(out / "adapter_model.safetensors"))


def test_train_writes_adapter_tokenizer_template_and_summary(tiny_model: Path, tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    result = train_lora(project(tiny_model), TRAIN, VAL, tmp_path / "out", "run", runner="inline",
                        on_progress=events.append)
    out = tmp_path / "out"
    assert not result.reused
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json",
                 "chat_template.jinja", SUMMARY):
        assert (out / name).is_file(), name
    assert (out / "chat_template.jinja").read_text(encoding="utf-8") == HERMES
    config = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == str(tiny_model)
    assert config["r"] == 16 and config["lora_alpha"] == 32  # the defaults
    summary = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    assert summary == result.summary
    assert summary["steps"] == 6 and summary["examples"] == {
        "train": 13, "validation": 4, "dropped_too_long": 0}
    assert summary["template"] == "hermes" and summary["precision"] in {"fp32", "bf16"}
    assert [h["step"] for h in summary["history"] if "val_loss" in h] == [2, 4, 6]
    assert summary["tokens_per_s"] > summary["computed_tokens_per_s"] > 0
    best = min(h["val_loss"] for h in summary["history"] if "val_loss" in h)
    assert summary["val_loss_final"] == pytest.approx(best, abs=1e-5)
    kinds = [e.kind for e in events if e.kind != "info"]
    assert kinds[0] == "start" and kinds[-1] == "done"
    # the default masks a share of the training rows' tool names, and says how many
    assert any(e.kind == "info" and "under made-up names" in (e.message or "") for e in events)
    assert kinds.count("step") == 6 and kinds.count("eval") == 3
    assert all(describe(e) for e in events)
    assert describe(next(e for e in events if e.kind == "step")).startswith("step 1/6  loss ")


def test_rerun_of_a_finished_run_does_nothing(tiny_model: Path, tmp_path: Path) -> None:
    p = project(tiny_model, max_steps=2)
    train_lora(p, TRAIN, VAL, tmp_path / "out", "run", runner="inline")
    events: list[ProgressEvent] = []
    again = train_lora(p, TRAIN, VAL, tmp_path / "out", "run", runner="inline", on_progress=events.append)
    assert again.reused and events == []


def test_a_finished_run_whose_decision_is_stale_is_calibrated_again_not_retrained(
        tiny_model: Path, tmp_path: Path) -> None:
    from mcptrain.training.decision import DECISION_FILE, Decision, stale_decision

    p = project(tiny_model, max_steps=2)
    out = tmp_path / "out"
    first = train_lora(p, TRAIN, VAL, out, "run", runner="inline")
    weights = (out / "adapter_model.safetensors").read_bytes()
    Decision("<tool_call>", 0.99).save(out, {"turns": 1})
    data = json.loads((out / DECISION_FILE).read_text(encoding="utf-8"))
    del data["prompt_revision"]  # calibrated before the prompt revisions
    (out / DECISION_FILE).write_text(json.dumps(data), encoding="utf-8")
    assert stale_decision(out)
    events: list[ProgressEvent] = []
    again = train_lora(p, TRAIN, VAL, out, "run", runner="inline", on_progress=events.append)
    assert not again.reused and not stale_decision(out)
    assert not [e for e in events if e.kind in ("start", "step", "resume")]  # nothing trained
    assert any("calibrating it again" in (e.message or "") for e in events)
    assert (out / "adapter_model.safetensors").read_bytes() == weights
    assert again.summary["history"] == first.summary["history"]
    assert again.summary["decision"] is not None and again.summary == json.loads((out / SUMMARY).read_text())
    assert train_lora(p, TRAIN, VAL, out, "run", runner="inline").reused  # and now it is up to date


def test_a_finished_run_without_its_outputs_is_exported_again(tiny_model: Path, tmp_path: Path) -> None:
    p = project(tiny_model, max_steps=2)
    first = train_lora(p, TRAIN, VAL, tmp_path / "out", "run", runner="inline")
    (tmp_path / "out" / SUMMARY).unlink()
    (tmp_path / "out" / "adapter_model.safetensors").unlink()
    events: list[ProgressEvent] = []
    again = train_lora(p, TRAIN, VAL, tmp_path / "out", "run", runner="inline", on_progress=events.append)
    assert not again.reused and [e.kind for e in events if e.kind != "info"] == ["resume", "done"]
    assert again.summary["history"] == first.summary["history"]
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()


def test_crash_then_rerun_continues_from_the_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
    p = project(tiny_model)
    straight = train_lora(p, TRAIN, VAL, tmp_path / "straight", "run", runner="inline")

    def crash_at_step_5(event: ProgressEvent) -> None:
        if event.kind == "step" and event.step == 5:
            raise Crash
    with pytest.raises(Crash):
        train_lora(p, TRAIN, VAL, tmp_path / "out", "run", runner="inline", on_progress=crash_at_step_5)
    assert not (tmp_path / "out" / SUMMARY).exists()

    events: list[ProgressEvent] = []
    resumed = train_lora(p, TRAIN, VAL, tmp_path / "out", "run", runner="inline", on_progress=events.append)
    first = next(e for e in events if e.kind != "info")
    assert first.kind == "resume" and first.step == 4
    assert [e.step for e in events if e.kind == "step"] == [5, 6]
    assert resumed.summary["resumed_from"] == [4]
    assert resumed.summary["history"] == straight.summary["history"]
    # Same batches, optimizer state and RNG: the resumed adapter is the uninterrupted one.
    a, b = adapter(tmp_path / "straight"), adapter(tmp_path / "out")
    import torch

    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6)


def test_a_run_folder_with_other_inputs_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    def crash(event: ProgressEvent) -> None:
        if event.kind == "step" and event.step == 3:
            raise Crash
    with pytest.raises(Crash):
        train_lora(project(tiny_model), TRAIN, VAL, tmp_path / "out", "run", runner="inline", on_progress=crash)
    with pytest.raises(StageError, match="other data, base model or hyperparameters") as e:
        train_lora(project(tiny_model, learning_rate=0.02), TRAIN, VAL, tmp_path / "out", "run",
                   runner="inline")
    assert "hint: use a new run name" in str(e.value)


def test_early_stopping(tiny_model: Path, tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    result = train_lora(project(tiny_model, learning_rate=1e-12, eval_every=1, early_stopping_patience=2),
                        TRAIN, VAL, tmp_path / "out", "run", runner="inline", on_progress=events.append)
    assert result.summary["stopped_early"] and result.summary["steps"] == 3
    assert result.summary["best_step"] == 1 and result.summary["adapter"] == "best"
    stop = next(e for e in events if e.kind == "early_stop")
    assert describe(stop).startswith("step 3/6  early stop: validation loss has not improved for 2")


def test_rows_longer_than_max_seq_len_are_left_out(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(StageError, match="every training row is longer than max_seq_len=32"):
        train_lora(project(tiny_model, max_seq_len=32), TRAIN, VAL, tmp_path / "out", "run", runner="inline")
    with pytest.raises(StageError, match="the training split is empty"):
        train_lora(project(tiny_model), [], VAL, tmp_path / "out", "run", runner="inline")


def test_a_behaviour_floor_repeats_the_thin_behaviours_rows(tiny_model: Path, tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    result = train_lora(project(tiny_model, max_steps=1, behaviour_floor=0.2, calibrate_decision=False),
                        TRAIN, VAL, tmp_path / "out", "run", runner="inline", on_progress=events.append)
    # 12 calls and one dialogue: the dialogue is repeated to 3 rows, 3 of 15 (3 / (12 + 3) >= 0.2)
    assert result.summary["examples"]["train"] == 15
    assert any("behaviour_floor repeats 2 sequence rows (15 training rows in all)" in (e.message or "")
               for e in events)


def test_merged_export(tiny_model: Path, tmp_path: Path) -> None:
    train_lora(project(tiny_model, max_steps=1, merge_adapter=True), TRAIN, [], tmp_path / "out", "run",
               runner="inline")
    merged = tmp_path / "out" / "merged"
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()


def test_learning_rate_schedule() -> None:
    assert [round(learning_rate(s, 10, 1.0, 0.2), 2) for s in range(10)] == [
        0.5, 1.0, 1.0, 0.88, 0.75, 0.62, 0.5, 0.38, 0.25, 0.12]
    assert learning_rate(0, 5, 2.0, 0.0) == 2.0


def test_the_call_or_answer_threshold_is_chosen_on_validation(tiny_model: Path, tmp_path: Path) -> None:
    from mcptrain.training.decision import DECISION_FILE, Decision
    from tests.training.test_decision import answer_row

    val = VAL + [answer_row(i) for i in range(200, 203)]
    result = train_lora(project(tiny_model, max_steps=2), TRAIN, val, tmp_path / "on", "run", runner="inline")
    decision = result.summary["decision"]
    assert decision["turns"] == 7 and decision["answer_turns"] == 3
    saved = Decision.load(tmp_path / "on")
    assert saved is not None and saved.threshold == decision["threshold"]
    off = train_lora(project(tiny_model, max_steps=2, calibrate_decision=False), TRAIN, val,
                     tmp_path / "off", "run", runner="inline")
    assert off.summary["decision"] is None and not (tmp_path / "off" / DECISION_FILE).exists()


def test_a_run_is_keyed_by_what_training_reads_not_by_the_decoders_vocabulary() -> None:
    rows = [make_row(i) for i in range(3)]
    said = [{**r, "canonical_values": {"get_weather": {"units": {"metric": ["celsius"]}}}} for r in rows]
    assert rows_sha256(said, rows[:1]) == rows_sha256(rows, rows[:1])
    reworded = [rows[0], {**rows[1], "messages": [*rows[1]["messages"][:1], {"role": "user", "content": "hi"},
                                                    *rows[1]["messages"][2:]]}, rows[2]]
    assert rows_sha256(reworded, rows[:1]) != rows_sha256(rows, rows[:1])
