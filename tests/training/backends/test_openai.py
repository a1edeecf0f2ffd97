from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.errors import ConfigError, StageError
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.backends.openai import JOB_FILE, job_suffix, train_openai
from mcptrain.training.progress import ProgressEvent, describe
from tests.training.openai_emulator import running

KEY = "sk-test-0123456789abcdef"


def project(base_url: str, **openai: Any) -> ProjectSpec:
    return ProjectSpec.model_validate({
        "apiVersion": "mcptrain/v1", "kind": "Project", "name": "acme-assistant",
        "backend": "openai", "openai": {"base_url": base_url, **openai}})


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    return path


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


def test_upload_create_and_watch_until_the_model_exists(jsonl: Path, tmp_path: Path, key: str) -> None:
    events: list[ProgressEvent] = []
    sleeps: list[float] = []
    with running() as (emu, url):
        job = train_openai(project(url, n_epochs=3), jsonl, tmp_path / "out", "1.2.0",
                           on_progress=events.append, sleep=sleeps.append)
    assert job.status == "succeeded" and not job.resumed
    assert job.fine_tuned_model == f"ft:gpt-4.1-mini-2025-04-14:acme:acme-assistant-1-2-0:{job.job_id[-6:]}"
    (uploaded,) = emu.files.values()
    assert uploaded["purpose"] == "fine-tune" and uploaded["content"] == jsonl.read_text()
    (created,) = emu.jobs.values()
    assert created["suffix"] == "acme-assistant-1-2-0" and created["hyperparameters"] == {"n_epochs": 3}
    assert all(auth == f"Bearer {key}" for _, _, auth in emu.requests)
    record = json.loads((tmp_path / "out" / JOB_FILE).read_text())
    assert record["job_id"] == job.job_id and record["fine_tuned_model"] == job.fine_tuned_model
    assert sleeps == [5.0, 7.5]  # backoff between polls
    text = "\n".join(describe(e) for e in events) + (tmp_path / "out" / JOB_FILE).read_text()
    assert key not in text
    assert "fine-tuning job ftjob-000001: succeeded" in text


def test_rerun_watches_the_same_job(jsonl: Path, tmp_path: Path, key: str) -> None:
    with running() as (emu, url):
        with pytest.raises(StageError, match="re-run the same command to keep watching it"):
            train_openai(project(url), jsonl, tmp_path / "out", "1.0.0", max_wait_s=0, sleep=lambda s: None)
        job = train_openai(project(url), jsonl, tmp_path / "out", "1.0.0", sleep=lambda s: None)
    assert job.resumed and job.status == "succeeded"
    assert len(emu.jobs) == 1 and len(emu.files) == 1


def test_a_job_created_but_not_recorded_is_found_not_duplicated(jsonl: Path, tmp_path: Path, key: str) -> None:
    with running() as (emu, url):
        train_openai(project(url), jsonl, tmp_path / "out", "1.0.0", sleep=lambda s: None)
        record_path = tmp_path / "out" / JOB_FILE
        record = json.loads(record_path.read_text())
        del record["job_id"]  # as if killed between creating the job and writing it down
        record_path.write_text(json.dumps(record))
        job = train_openai(project(url), jsonl, tmp_path / "out", "1.0.0", sleep=lambda s: None)
    assert len(emu.jobs) == 1 and job.job_id == "ftjob-000001"


def test_failed_job(jsonl: Path, tmp_path: Path, key: str) -> None:
    with running() as (emu, url):
        emu.fail_jobs = True
        with pytest.raises(StageError, match="ftjob-000001 failed: line 3 is not valid JSON"):
            train_openai(project(url), jsonl, tmp_path / "out", "1.0.0", sleep=lambda s: None)


def test_api_errors_never_show_the_key(jsonl: Path, tmp_path: Path, key: str) -> None:
    from openai import OpenAI

    with running() as (emu, url):
        client = OpenAI(api_key=key, base_url=url.replace("/v1", "/v2"), max_retries=0)
        with pytest.raises(StageError) as e:
            train_openai(project(url), jsonl, tmp_path / "out", "1.0.0", client=client)
    assert str(e.value).startswith("train: the OpenAI API failed: NotFoundError: ")
    assert key not in str(e.value) and e.value.__cause__ is None


def test_key_only_from_the_environment(jsonl: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs OPENAI_API_KEY in the environment"):
        train_openai(project("http://127.0.0.1:9/v1"), jsonl, tmp_path / "out", "1.0.0")


def test_job_suffix() -> None:
    assert job_suffix("Acme_Assistant", "1.2.0-rc.1") == "acme-assistant-1-2-0-rc-1"
    assert len(job_suffix("x" * 80, "1.0.0")) == 64
