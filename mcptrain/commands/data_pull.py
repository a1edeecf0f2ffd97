from __future__ import annotations

from pathlib import Path

from mcptrain import output


def run(root: Path) -> int:
    from mcptrain.dataset.store import pull_dataset
    from mcptrain.specs.loader import load_project

    project, diags = load_project(root)
    if diags:
        output.diagnostics(diags)
        return 1
    if not project.dvc.enabled:
        output.error("DVC is disabled (dvc.enabled: false in mcptrain.yaml)")
        return 1
    md5 = pull_dataset(root, project.dvc)
    output.info(f"mcptrain: pulled datasets/ (md5 {md5}) from remote '{project.dvc.remote.name}'; "
                "next: mcptrain train")
    return 0
