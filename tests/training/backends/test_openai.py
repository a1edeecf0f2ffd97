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


def openai_repo(tmp_path: Path, url: str, backend: str = "openai") -> Path:
    import shutil

    from tests.conftest import PROJECTS

    root = tmp_path / "repo"
    shutil.copytree(PROJECTS / "good", root)
    (root / "mcptrain.yaml").write_text(
        "apiVersion: mcptrain/v1\nkind: Project\nname: good-model\n"
        f"backend: {backend}\ndvc: {{enabled: false}}\n"
        f"openai: {{base_url: '{url}', n_epochs: 2, price_per_million_tokens: 8.0}}\n", encoding="utf-8")
    return root


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    from mcptrain.training.backends import openai as backend

    monkeypatch.setattr(backend, "train_openai", functools.partial(backend.train_openai, sleep=lambda s: None))


def test_a_paid_job_shows_its_estimate_and_starts_only_with_yes(tmp_path: Path, key: str, no_waiting: None) -> None:
    from mcptrain.dataset.openai_checks import FormatChecker
    from mcptrain.reconciler.records import read_record
    from mcptrain.workspace import Workspace
    from tests.cli import mcptrain

    with running() as (emu, url):
        root = openai_repo(tmp_path, url)
        assert mcptrain("build", str(root))[0] == 0
        checker = FormatChecker()
        lines = (root / "datasets" / "openai" / "train.jsonl").read_text().splitlines()
        for line in lines:
            checker.check(json.loads(line))
        per_epoch = checker.report.total_tokens
        billed = 2 * per_epoch
        expected = (f"~{billed:,} billed tokens ({per_epoch:,} x 2 epochs) at 8 per 1M = "
                    f"{billed * 8 / 1e6:,.2f} ({len(lines)} examples, gpt-4.1-mini-2025-04-14)")

        code, out, err = mcptrain("train", str(root))
        assert code == 1
        assert f"mcptrain: paid training job: {expected}" in out
        assert "not confirmed, nothing was uploaded" in err and "pass --yes" in err
        assert emu.requests == [] and read_record(Workspace(root), "train") is None

        code, out, err = mcptrain("train", str(root), "--yes")
        assert code == 0, err
        (job,) = emu.jobs.values()
        summary = read_record(Workspace(root), "train")["outputs"]["summary"]
        assert summary["estimate"]["billed_tokens"] == billed and summary["estimate"]["cost"] == round(billed * 8 / 1e6, 2)
        assert summary["usage"] == {"trained_tokens": emu.billed(job)}
        assert f"billed {emu.billed(job):,} trained tokens" in out


def test_without_n_epochs_or_a_price_the_estimate_says_what_is_missing() -> None:
    from mcptrain.training.backends.openai import describe_estimate

    e = {"examples": 3, "tokens_per_epoch": 1200, "epochs": "auto", "billed_tokens": None,
         "price_per_million_tokens": None, "cost": None, "model": "m"}
    assert describe_estimate(e) == ("1,200 tokens per epoch x epochs OpenAI chooses (set openai.n_epochs for a "
                                    "full estimate); no price: set openai.price_per_million_tokens in mcptrain.yaml")


def test_a_service_that_keeps_its_data_home_stops_a_cloud_backend_only(tmp_path: Path, key: str) -> None:
    from tests.cli import mcptrain

    with running() as (emu, url):
        root = openai_repo(tmp_path, url)
        service = root / "specs" / "payment" / "service.yaml"
        service.write_text(service.read_text() + "training: {allow_cloud: false}\n")
        assert mcptrain("build", str(root))[0] == 0
        code, out, err = mcptrain("train", str(root), "--yes")
        assert code == 1 and emu.requests == []
        assert ("backend 'openai' sends the data to a cloud service, and payment-service keeps its data in the "
                "organisation (training.allow_cloud: false)") in err
        assert "use a local backend (lora or prompt)" in err
        code, out, err = mcptrain("reconcile", str(root), "--dry-run")
        assert code == 1 and "payment-service keeps its data" in err
        local = root / "mcptrain.yaml"
        local.write_text(local.read_text().replace("backend: openai", "backend: prompt"))
        code, out, err = mcptrain("train", str(root))
        assert code == 0, err
