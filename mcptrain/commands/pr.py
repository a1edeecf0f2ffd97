"""`mcptrain pr list` / `mcptrain pr show N`: the pull requests on the project's forge
(the local forge's records under .mcptrain/forge/, or GitHub's)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from mcptrain import output


def _forge(root: Path):  # type: ignore[no-untyped-def]
    from mcptrain.forge import get_forge
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    return get_forge(root, ws.project.forge, ws.state_dir)


def list_(root: Path, *, state: str = "open", json_out: bool = False) -> int:
    pulls = _forge(root).pull_requests(state)
    if json_out:
        output.emit_json([asdict(p) for p in pulls])
        return 0
    if not pulls:
        output.info(f"mcptrain: no {state if state != 'all' else ''} pull requests".replace("  ", " "))
        return 0
    output.table("pull requests", ["#", "state", "title", "labels", "mcptrain/gates"],
                 [(p.number, p.state, p.title, ", ".join(p.labels) or "-", p.statuses.get("mcptrain/gates", "-"))
                  for p in pulls])
    output.info(f"mcptrain: next: mcptrain pr show {pulls[-1].number}")
    return 0


def show(root: Path, number: int, *, json_out: bool = False) -> int:
    forge = _forge(root)
    pr = forge.pull_request(number)
    if json_out:
        output.emit_json({**asdict(pr), "comments": [asdict(c) for c in forge.comments(number)]})
        return 0
    output.info(f"#{pr.number} {pr.title}")
    output.info(f"state: {pr.state}; {pr.head} -> {pr.base}; head {(pr.head_sha or '-')[:12]}")
    output.info(f"labels: {', '.join(pr.labels) or '-'}")
    output.info("statuses: " + (", ".join(f"{c}: {s}" for c, s in pr.statuses.items()) or "-"))
    output.info("")
    output.info(pr.body)
    for c in forge.comments(number):
        output.info(f"--- comment {c.id}")
        output.info(c.body)
    return 0
