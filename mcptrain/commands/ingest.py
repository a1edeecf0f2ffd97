"""`mcptrain ingest FILE`: production failures and corrections into new example files.

Writes one new file per service (`examples/production-<date>-<hash>.yaml`, never over an
existing one) and the pull request's summary (`.mcptrain/ingest/<stamp>.md`: what was
added per service and tool, what was left out and why, how much PII was scrubbed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcptrain import output

if TYPE_CHECKING:
    from mcptrain.workspace import Workspace


def review(report_path: Path, root: Path, out: Path) -> int:
    """`--from-report`: the evaluation's failures into a review file (JSONL) to correct."""
    import json

    from mcptrain.dataset.handle import open_dataset
    from mcptrain.feedback.ingest import review_records
    from mcptrain.files import write_new_file

    report = _read_report(report_path)
    if report is None:
        return 1
    dataset = open_dataset(root)
    rows = {r["id"]: r for split in dataset.manifest["counts"]["splits"] for r in dataset.rows(split)}
    records = review_records(report, rows)
    try:
        write_new_file(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    except FileExistsError:
        output.error(f"{out} exists; pass another --out (a review file may hold a person's corrections)")
        return 1
    output.info(f"mcptrain: {len(records)} failure{'' if len(records) == 1 else 's'} written to {out}; next: write a "
                f"new phrasing into each 'query', confirm the correction, then `mcptrain ingest {out}`")
    return 0


def _read_report(path: Path) -> dict[str, Any] | None:
    """`mcptrain eval`'s report.json, or None with the problem printed at its line."""
    import json

    from mcptrain.errors import Diagnostic

    try:
        report = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        output.error(f"cannot read {path}: {e.strerror}")
        return None
    except UnicodeDecodeError as e:
        output.diagnostics([Diagnostic(str(path), 1, 1, "", f"not valid UTF-8 (byte at offset {e.start})")])
        return None
    except json.JSONDecodeError as e:
        output.diagnostics([Diagnostic(str(path), e.lineno, e.colno, "", f"invalid JSON: {e.msg}")])
        return None
    except (RecursionError, ValueError):
        output.diagnostics([Diagnostic(str(path), 1, 1, "", "invalid JSON: nesting is too deep or a number too long")])
        return None
    if not isinstance(report, dict) or not isinstance(report.get("items"), list):
        output.diagnostics([Diagnostic(str(path), 1, 1, "", "expected `mcptrain eval`'s report.json (an object "
                                                            "with 'items')")])
        return None
    return report


def run(file: Path, root: Path, *, service: str | None, name_fields: list[str], pr: bool = True) -> int:
    from mcptrain.errors import Diagnostic
    from mcptrain.feedback.ingest import plan_ingest, read_records, stamp_of, summary_markdown
    from mcptrain.files import replace_file, write_new_file
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    specs, diags = ws.load_specs()
    if any(d.severity == "error" for d in diags):
        output.diagnostics([d for d in diags if d.severity == "error"])
        output.error("fix these first (`mcptrain validate`); nothing written")
        return 1
    bad: list[Diagnostic] = []
    try:
        records = read_records(file, bad)
    except OSError as e:
        output.error(f"cannot read {file}: {e.strerror}")
        return 1
    output.diagnostics(bad)
    stamp = stamp_of(records)
    result = plan_ingest(specs, diags, records, name_fields=frozenset(name_fields), default_service=service,
                         stamp=stamp)
    for o in result.outcomes:
        if o.status != "added":
            output.warn(f"{file}:{o.line}: {o.status}: {o.detail}")
    written = []
    for rel, text in result.files.items():
        try:
            write_new_file(root / rel, text)
        except FileExistsError:
            output.warn(f"{rel} exists (this file was ingested before); kept as it is")
            continue
        written.append(rel)
    summary = ws.state_dir / "ingest" / f"{stamp}.md"
    replace_file(summary, summary_markdown(result, file.name))
    scrubbed = ", ".join(f"{n} {k}" for k, n in sorted(result.pii.items())) or "none"
    added = len(result.added())
    output.info(f"mcptrain: {added} of {len(records)} record{'' if len(records) == 1 else 's'} added "
                f"(PII scrubbed: {scrubbed}); wrote {', '.join(written) or 'nothing'}; summary in "
                f"{ws.relative(summary)}")
    if written and pr:
        _propose(ws, {rel: result.files[rel] for rel in written}, summary.read_text(encoding="utf-8"), stamp)
    elif written:
        output.info("next: review the files, `mcptrain validate`, then commit them")
    return 1 if bad else 0


def _propose(ws: Workspace, files: dict[str, str], body: str, stamp: str) -> None:
    """The new files as a pull request through the project's forge (`forge:` in mcptrain.yaml)."""
    from mcptrain import git
    from mcptrain.forge import get_forge, marker, sync_pull_request

    if not git.is_repository(ws.root):
        output.info("next: not a git repository, so no pull request: review the files, `mcptrain validate`, "
                    "then commit them")
        return
    spec = ws.project.forge
    forge = get_forge(ws.root, spec, ws.state_dir)
    branch = f"mcptrain/ingest/{stamp}"
    mark = marker("ingest", stamp)
    push = forge.push_files(branch, spec.base_branch, {rel: text.encode("utf-8") for rel, text in files.items()},
                            f"Production feedback: {len(files)} new example file{'' if len(files) == 1 else 's'}")
    if push.blocked_by is not None:
        output.warn(f"{branch} has a commit by a person ({push.blocked_by}); nothing pushed over it")
        return
    pull, how = sync_pull_request(forge, head=branch, base=spec.base_branch,
                                  title="Production feedback: new training examples", body=f"{body}\n{mark}\n",
                                  mark=mark)
    output.info(f"mcptrain: pull request #{pull.number} {how} ({branch} -> {spec.base_branch}); "
                "next: review it, then merge")
