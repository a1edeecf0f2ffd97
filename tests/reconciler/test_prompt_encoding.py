from __future__ import annotations

from mcptrain.reconciler.stages import prompt_encoding
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.prompt import PROMPT_REVISION


def project(backend: str) -> ProjectSpec:
    return ProjectSpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "Project", "name": "t",
                                       "backend": backend})


def test_the_prompt_revision_keys_the_outputs_of_models_that_run_here_only() -> None:
    # A local model's prompts are tokenised here, so a new encoding is new outputs; an endpoint
    # takes the messages, and its (paid) outputs are not made again for it.
    assert prompt_encoding(project("lora")) == {"prompt": PROMPT_REVISION}
    assert prompt_encoding(project("prompt")) == {"prompt": PROMPT_REVISION}
    assert prompt_encoding(project("openai")) == {}
