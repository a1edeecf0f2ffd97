"""Rows longer than `training.max_seq_len`: the table `build` prints and the diagnostics
`validate --strict` fails on (`training/lengths.py` counts the tokens)."""

from __future__ import annotations

from typing import Any

from mcptrain import output
from mcptrain.errors import Diagnostic, MCPTrainError
from mcptrain.specs.models import ProjectSpec


def measure(project: ProjectSpec, rows: list[dict[str, Any]]) -> Any:
    """The LengthReport, None when the backend has no `max_seq_len`, or a warning and None
    when the tokenizer cannot be had (the build goes on; training would say the same)."""
    from mcptrain.training.lengths import checks_lengths, long_rows

    if not checks_lengths(project):
        return None
    try:
        return long_rows(project, as_written(rows))
    except MCPTrainError as e:
        output.warn(f"row lengths not checked: {e.message}")
        return None


def as_written(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as training reads them from datasets/ (keys sorted at every level, which
    changes the rendered tool block); each distinct tools list converted once."""
    import json

    tools: dict[int, Any] = {}
    out = []
    for row in rows:
        key = id(row.get("tools"))
        if key not in tools:
            tools[key] = json.loads(json.dumps(row.get("tools"), sort_keys=True))
        out.append({**json.loads(json.dumps({k: v for k, v in row.items() if k != "tools"}, sort_keys=True)),
                    "tools": tools[key]})
    return out


def print_report(report: Any) -> None:
    if report is None or not report.rows:
        return
    output.table(f"rows longer than training.max_seq_len ({report.limit} tokens)",
                 ["service", "tool", "rows", "longest"],
                 [(svc, tool, str(n), str(longest)) for svc, tool, n, longest in report.by_tool()])
    trained = sum(r.split in ("train", "validation") for r in report.rows)
    output.warn(f"{len(report.rows)} rows are longer than training.max_seq_len={report.limit} tokens "
                f"({trained} of them in train/validation, which training leaves out); {report.hint()}")


def diagnostics(report: Any, result: Any) -> list[Diagnostic]:
    """One warning per spec item whose rows are too long, at the item."""
    from mcptrain.training.lengths import longest_per_source

    if report is None:
        return []
    out = []
    for source, (n, longest) in sorted(longest_per_source(report).items()):
        where = result.position_of(source)
        if where is None:
            continue
        path, line, col, dotted = where
        rows = f"{n} of its rows are" if n > 1 else "it is"
        out.append(Diagnostic(path, line, col, dotted,
                              f"{rows} longer than training.max_seq_len={report.limit} tokens "
                              f"(longest {longest}); training leaves such rows out",
                              severity="warning", hint=report.hint()))
    return out
