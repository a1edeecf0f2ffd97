"""The repository a command works on: where things live, and its specs loaded once.

Every path mcptrain writes inside a user's repository is spelled here: the state folder
(stage records, artifacts, reports, caches) and the dataset folder. A command builds
one `Workspace` and hands it to the stages, so a run of `reconcile` reads the specs once.
"""

from __future__ import annotations

from pathlib import Path

from mcptrain.errors import Diagnostic
from mcptrain.specs.loader import Specs, load_project, load_specs
from mcptrain.specs.models import ProjectSpec

STATE_DIR = ".mcptrain"  # git-ignored: records, artifacts, reports, caches
DATASET_DIR = "datasets"  # the compiled dataset (DVC-tracked)
SOURCES_LOCK = "sources.lock.json"  # committed: what `mcptrain pull` fetched (URL, version, content hash)


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._specs: tuple[Specs, list[Diagnostic]] | None = None
        self._project: tuple[ProjectSpec, list[Diagnostic]] | None = None

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def dataset_dir(self) -> Path:
        return self.root / DATASET_DIR

    @property
    def stages_dir(self) -> Path:
        return self.state_dir / "stages"

    @property
    def lock_path(self) -> Path:
        """Held while `reconcile` or `plan` runs (`reconciler/lock.py`)."""
        return self.state_dir / "lock"

    @property
    def artifacts_dir(self) -> Path:
        return self.state_dir / "artifacts"

    @property
    def eval_dir(self) -> Path:
        return self.state_dir / "eval"

    def export_dir(self, service: str) -> Path:
        """Where `mcptrain export` writes a service's published documents by default."""
        return self.state_dir / "export" / service

    def cache_dir(self, name: str) -> Path:
        """`.mcptrain/cache/<name>`: kept between runs, safe to delete."""
        return self.state_dir / "cache" / name

    def relative(self, path: Path) -> str:
        """`path` relative to the root when it is inside it (how records name files)."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path.resolve())

    def load_specs(self) -> tuple[Specs, list[Diagnostic]]:
        """Every spec and the diagnostics found loading them; read on first use only."""
        if self._specs is None:
            self._specs = load_specs(self.root)
        specs, diags = self._specs
        return specs, list(diags)

    def load_project(self) -> tuple[ProjectSpec, list[Diagnostic]]:
        """Only mcptrain.yaml (see `load_project`); read on first use only."""
        if self._project is None:
            self._project = load_project(self.root)
        project, diags = self._project
        return project, list(diags)

    @property
    def project(self) -> ProjectSpec:
        return self.load_project()[0]
