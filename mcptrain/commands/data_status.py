from __future__ import annotations

from pathlib import Path

from mcptrain import output

_NEXT = {
    "modified": "datasets/ differs from datasets.dvc: run `mcptrain build`",
    "missing": "datasets/ is missing: run `mcptrain data pull`",
    "untracked": "no datasets.dvc: run `mcptrain build`",
}


def run(root: Path, *, json_out: bool = False) -> int:
    from mcptrain.dataset.store import dataset_status
    from mcptrain.specs.loader import load_project

    project, diags = load_project(root)
    if diags:
        output.diagnostics(diags)
        return 1
    if not project.dvc.enabled:
        output.error("DVC is disabled (dvc.enabled: false in mcptrain.yaml)")
        return 1
    status = dataset_status(root, project.dvc)
    if json_out:
        output.emit_json({"tracked": status.tracked, "md5": status.md5, "workspace": status.workspace,
                          "remote": status.remote, "remote_name": status.remote_name, "details": status.details})
        return 0
    output.info(f"dataset    {status.md5 or '-'} (datasets.dvc)")
    output.info(f"workspace  {status.workspace}")
    output.info(f"remote     {status.remote_name}: {status.remote}")
    if status.workspace in _NEXT:
        output.info(f"next: {_NEXT[status.workspace]}")
    elif status.remote == "not pushed":
        output.info("next: mcptrain build --push")
    return 0
