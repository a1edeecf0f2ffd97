from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import PROJECTS
from tests.training.conftest import tiny_model, tiny_tokenizer  # noqa: F401  (fixtures)

PROJECT_YAML = """\
apiVersion: mcptrain/v1
kind: Project
name: good-model
base_model: {model}
training: {{max_steps: 4, batch_size: 2, eval_every: 2, checkpoint_every: 2, learning_rate: 0.01,
           warmup_ratio: 0.0, max_seq_len: 2048}}
evaluation: {{batch_size: 8, max_new_tokens: 12}}
dvc: {{enabled: false}}
"""


@pytest.fixture
def tiny_project(tmp_path: Path, tiny_model: Path) -> Path:  # noqa: F811
    """tests/projects/good trained on the tiny in-process model, without DVC."""
    root = tmp_path / "repo"
    shutil.copytree(PROJECTS / "good", root)
    (root / "mcptrain.yaml").write_text(PROJECT_YAML.format(model=tiny_model), encoding="utf-8")
    return root
