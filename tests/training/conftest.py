from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mcptrain.training.prompt import HERMES, Encoded, encode_row
from tests.conftest import REPO
from tests.training.tiny import build_tiny_model, make_row, multi_turn_row


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local model directory: 2-layer Llama (hidden 64) + a tiny BPE tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dequantised SmolLM2 per test session (~40 s), shared by the slow tests."""
    return tmp_path_factory.mktemp("mcptrain-cache")


@pytest.fixture
def smollm2(smollm2_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from mcptrain.training.model import EMBEDDED, resolve_base_model

    monkeypatch.setenv("MCPTRAIN_CACHE", str(smollm2_cache))
    return resolve_base_model(EMBEDDED)


@pytest.fixture
def encoded(tiny_tokenizer) -> list[Encoded]:  # type: ignore[no-untyped-def]
    """Ten one-call rows and a multi-turn row of one service, one row of another."""
    rows = [make_row(i) for i in range(10)] + [multi_turn_row()]
    other = make_row(50)
    other["messages"][0] = {"role": "system", "content": "Another service."}
    return [encode_row(tiny_tokenizer, HERMES, r) for r in [*rows, other]]


@pytest.fixture(scope="session")
def tiny_gemma3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local model directory: 2-layer Gemma 3, sliding window of 8 tokens."""
    from tests.training.tiny import build_tiny_gemma3

    return build_tiny_gemma3(tmp_path_factory.mktemp("tiny-gemma3") / "model")


@pytest.fixture(scope="session")
def demo_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every row of every split of the demo organisation's freshly built dataset."""
    from mcptrain.dataset.build import build_dataset

    root = tmp_path_factory.mktemp("demo")
    for name in ("mcptrain.yaml", "specs", "policies"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    build_dataset(root)
    rows = []
    for path in sorted((root / "datasets").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows
