"""Release a merged promotion: the candidate becomes production, tagged in GTO's grammar.

`release_version` marks the version production and the previous production deprecated in
`models/registry.yaml` (round-trip), commits that one file as the bot, and creates two
annotated tags on the commit: `<model>@v<version>` (GTO's version registration) and
`<model>#prod#<n>` (GTO's stage assignment, n counting this model's promotions to prod),
so `gto show` and `gto history` read this registry's history too. Run twice, it changes
nothing: a version already production only gets the tags it is missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from mcptrain import git
from mcptrain.errors import ConfigError
from mcptrain.files import replace_file
from mcptrain.forge import BOT
from mcptrain.promotion.registry import REGISTRY_FILE, read_registry

STAGE = "prod"


def version_tag(model: str, version: str) -> str:
    return f"{model}@v{version}"


def stage_tag(model: str, number: int) -> str:
    return f"{model}#{STAGE}#{number}"


@dataclass(frozen=True)
class Released:
    model: str
    version: str
    previous: str | None
    commit: str | None  # None: the registry already said so
    tags: list[str]  # the tags created now


def release_version(root: Path, model: str, version: str | None = None) -> Released:
    registry = read_registry(root)
    entry = registry.find(model, version) if version else next(
        (v for v in reversed(registry.versions(model)) if v.status == "candidate"), None)
    live = registry.production(model)
    if entry is None and version is None:
        if live is None:
            raise ConfigError(f"{REGISTRY_FILE}: {model} has no candidate to release",
                              hint="merge the promotion pull request first (mcptrain pr list)")
        entry = live
    if entry is None:
        raise ConfigError(f"{REGISTRY_FILE}: {model} has no version {version}",
                          hint=f"versions: {', '.join(v.version for v in registry.versions(model)) or 'none'}")
    if entry.status in ("rejected", "deprecated"):
        raise ConfigError(f"{model} v{entry.version} is {entry.status}"
                          + (f" (gate verdict {entry.gate.decision}: {entry.gate.reason})" if entry.status == "rejected" else "")
                          + "; only a candidate is released")
    commit = None
    previous = live.version if live and live.version != entry.version else None
    if entry.status == "candidate":
        if not git.is_clean(root, REGISTRY_FILE):
            raise ConfigError(f"{REGISTRY_FILE} has uncommitted changes; release commits it",
                              hint=f"commit or stash them first (git diff {REGISTRY_FILE})")
        registry.release(model, entry.version, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        replace_file(root / REGISTRY_FILE, registry.text())
        commit = git.commit_paths(root, [REGISTRY_FILE],
                                  f"mcptrain: release {model} v{entry.version}"
                                  + (f" (v{previous} deprecated)" if previous else ""), BOT)
    target = commit or git.resolve(root, "HEAD")
    assert target is not None
    created = []
    name = version_tag(model, entry.version)
    if not git.tags(root, name):
        git.tag(root, name, target, f"Registering model {model} version v{entry.version}", BOT)
        created.append(name)
    mine = [t for t in git.tags(root, f"{model}#{STAGE}#*")
            if git.tag_message(root, t).endswith(f"v{entry.version}")]
    if not mine:
        number = len(git.tags(root, f"{model}#{STAGE}#*")) + 1
        stage = stage_tag(model, number)
        git.tag(root, stage, target, f"Assigning stage {STAGE} to model {model} version v{entry.version}", BOT)
        created.append(stage)
    return Released(model, entry.version, previous, commit, created)
